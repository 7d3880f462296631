import Foundation
import LeaderboardCore

/// Checks JSON answers against the schemas of an OpenAPI 3.0 document (as loaded from YAML):
/// the subset the contract's document uses — `$ref`, `type`, `properties`, `required`,
/// `additionalProperties`, `items`, `enum`, `nullable`, `oneOf`, numeric and length bounds,
/// `pattern`, `minItems`. Returns the problems found, empty when the value fits.
public struct SchemaValidator: @unchecked Sendable {  // the document is never mutated after init
    public let document: [String: Any]

    public init(document: [String: Any]) {
        self.document = document
    }

    /// The operation object of `method` on the path `template`, if documented.
    public func operation(_ method: String, _ template: String) -> [String: Any]? {
        ((document["paths"] as? [String: Any])?[template] as? [String: Any])?[method.lowercased()] as? [String: Any]
    }

    /// Follows a `#/…` reference.
    public func resolve(_ value: Any) -> [String: Any]? {
        guard let object = value as? [String: Any] else { return nil }
        guard let reference = object["$ref"] as? String else { return object }
        var node: Any = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (node as? [String: Any])?[String(part)] else { return nil }
            node = next
        }
        return resolve(node)
    }

    public func validate(_ value: JSONValue, against schemaValue: Any, at path: String = "$") -> [String] {
        guard let schema = resolve(schemaValue) else { return ["\(path): unresolvable schema"] }
        if value == .null { return schema["nullable"] as? Bool == true ? [] : ["\(path): null is not allowed"] }
        if let choices = schema["oneOf"] as? [Any] {
            let fitting = choices.filter { validate(value, against: $0, at: path).isEmpty }
            return fitting.count == 1 ? [] : ["\(path): fits \(fitting.count) of the oneOf schemas, not exactly one"]
        }
        var problems: [String] = []
        if let allowed = schema["enum"] as? [Any] {
            let texts = allowed.map { "\($0)" }
            let text: String? =
                switch value {
                case .string(let string): string
                case .integer(let number): String(number)
                default: nil
                }
            if text.map({ !texts.contains($0) }) ?? true { problems.append("\(path): \(value) is not one of \(texts)") }
        }
        switch schema["type"] as? String {
        case "object":
            guard case .object(let members) = value else { return problems + ["\(path): expected an object, got \(value)"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in schema["required"] as? [String] ?? [] where members[name] == nil {
                problems.append("\(path): missing required '\(name)'")
            }
            for (name, member) in members {
                if let property = properties[name] {
                    problems += validate(member, against: property, at: "\(path).\(name)")
                } else if let extra = schema["additionalProperties"] {
                    if let allowed = extra as? Bool {
                        if !allowed { problems.append("\(path): unexpected '\(name)'") }
                    } else {
                        problems += validate(member, against: extra, at: "\(path).\(name)")
                    }
                }
            }
        case "array":
            guard case .array(let items) = value else { return problems + ["\(path): expected an array, got \(value)"] }
            if let minimum = schema["minItems"] as? Int, items.count < minimum { problems.append("\(path): fewer than \(minimum) items") }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { problems += validate(item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        case "string":
            guard case .string(let text) = value else { return problems + ["\(path): expected a string, got \(value)"] }
            if let minimum = schema["minLength"] as? Int, text.count < minimum { problems.append("\(path): shorter than \(minimum)") }
            if let maximum = schema["maxLength"] as? Int, text.count > maximum { problems.append("\(path): longer than \(maximum)") }
            if let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): '\(text)' does not match \(pattern)")
            }
        case "integer":
            guard case .integer(let number) = value else { return problems + ["\(path): expected an integer, got \(value)"] }
            if let minimum = (schema["minimum"] as? Int).map(Int64.init), number < minimum { problems.append("\(path): below \(minimum)") }
            if let maximum = (schema["maximum"] as? Int).map(Int64.init), number > maximum { problems.append("\(path): above \(maximum)") }
        case "number":
            switch value {
            case .integer, .number: break
            default: problems.append("\(path): expected a number, got \(value)")
            }
        case "boolean":
            if case .bool = value {} else { problems.append("\(path): expected a boolean, got \(value)") }
        default:
            break
        }
        return problems
    }
}
