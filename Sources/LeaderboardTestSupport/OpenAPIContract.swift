import Foundation
import LeaderboardCore
import OpenAPIKit30
import Yams

/// The contract's OpenAPI 3.0 document as OpenAPIKit reads it: decoded, validated (OpenAPIKit's
/// document validation: references resolve, operations have responses, paths are well formed…)
/// and dereferenced. Answers of the running server are checked against its typed schemas:
/// `check` returns the problems found, empty when the answer is one the document allows.
public struct OpenAPIContract: @unchecked Sendable {  // immutable after init
    public let document: OpenAPI.Document
    public let dereferenced: DereferencedDocument

    public init(yaml: String) throws {
        document = try YAMLDecoder().decode(OpenAPI.Document.self, from: yaml)
        _ = try document.validate()
        dereferenced = try document.locallyDereferenced()
    }

    /// The document in the repository.
    public static func shipped() throws -> OpenAPIContract {
        try OpenAPIContract(yaml: try String(contentsOfFile: shippedPath, encoding: .utf8))
    }

    public static var shippedPath: String {
        FileManager.default.currentDirectoryPath + "/Sources/LeaderboardHTTP/Resources/openapi.yaml"
    }

    /// Every documented operation, as "METHOD /path/template".
    public var operations: Set<String> {
        var all: Set<String> = []
        for (path, item) in dereferenced.paths {
            for endpoint in item.endpoints { all.insert("\(endpoint.method.rawValue.uppercased()) \(path.rawValue)") }
        }
        return all
    }

    public func operation(_ method: String, _ template: String) -> DereferencedOperation? {
        guard let verb = OpenAPI.BuiltinHttpMethod(rawValue: method.uppercased()) ?? OpenAPI.BuiltinHttpMethod(rawValue: method.lowercased()) else {
            return nil
        }
        return dereferenced.paths[OpenAPI.Path(stringLiteral: template)]?[verb]
    }

    /// The problems of an answer to `method template`: an undocumented operation or status, a
    /// body where none is documented, another content type, or JSON that does not fit the schema.
    public func check(_ method: String, _ template: String, status: Int, contentType: String, body: String) -> [String] {
        let name = "\(method.uppercased()) \(template)"
        guard let operation = operation(method, template) else { return ["\(name): not documented"] }
        guard let response = operation.responses[.status(code: status)] ?? operation.responses[.default] else {
            return ["\(name): status \(status) is not documented (\(body.prefix(200)))"]
        }
        guard let documentedType = response.content.keys.first else {
            return body.isEmpty ? [] : ["\(name): \(status) should have no body"]
        }
        if !contentType.hasPrefix("application/json"), response.content.keys.contains(where: { $0 != .json && contentType.hasPrefix($0.rawValue) }) {
            return []  // another documented type (e.g. the planner's image/svg+xml)
        }
        guard let json = response.content[.json] else {
            return contentType.hasPrefix(documentedType.rawValue) ? [] : ["\(name): \(status) answered \(contentType), documented \(documentedType.rawValue)"]
        }
        guard contentType.hasPrefix("application/json") else { return ["\(name): \(status) answered \(contentType), not JSON"] }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)) else { return ["\(name): \(status) body is not JSON"] }
        guard let schema = json.schema else { return [] }
        return validate(value, against: schema).map { "\(name) \(status): \($0)" }
    }

    /// The problems of `value` against `schema` (empty when it fits).
    public func validate(_ value: JSONValue, against schema: DereferencedJSONSchema, at path: String = "$") -> [String] {
        if value == .null { return schema.nullable ? [] : ["\(path): null is not allowed"] }
        var problems: [String] = []
        if let allowed = schema.allowedValues {
            let texts = allowed.map { "\($0.value)" }
            let text: String? =
                switch value {
                case .string(let string): string
                case .integer(let number): String(number)
                case .bool(let flag): String(flag)
                default: nil
                }
            if text.map({ !texts.contains($0) }) ?? true { problems.append("\(path): \(value) is not one of \(texts)") }
        }
        switch schema {
        case .one(of: let choices, core: _):
            let fitting = choices.filter { validate(value, against: $0, at: path).isEmpty }.count
            if fitting != 1 { problems.append("\(path): fits \(fitting) of the oneOf schemas, not exactly one") }
        case .any(of: let choices, core: _):
            if !choices.contains(where: { validate(value, against: $0, at: path).isEmpty }) { problems.append("\(path): fits none of the anyOf schemas") }
        case .all(of: let parts, core: _):
            for part in parts { problems += validate(value, against: part, at: path) }
        case .not(let excluded, core: _):
            if validate(value, against: excluded, at: path).isEmpty { problems.append("\(path): fits the schema it must not") }
        case .object(_, let object):
            guard case .object(let members) = value else { return problems + ["\(path): expected an object, got \(value)"] }
            for name in object.requiredProperties where members[name] == nil { problems.append("\(path): missing required '\(name)'") }
            for (name, member) in members {
                if let property = object.properties[name] {
                    problems += validate(member, against: property, at: "\(path).\(name)")
                } else {
                    switch object.additionalProperties {
                    case .a(false): problems.append("\(path): unexpected '\(name)'")
                    case .b(let extra): problems += validate(member, against: extra, at: "\(path).\(name)")
                    default: break
                    }
                }
            }
        case .array(_, let array):
            guard case .array(let items) = value else { return problems + ["\(path): expected an array, got \(value)"] }
            if items.count < array.minItems { problems.append("\(path): fewer than \(array.minItems) items") }
            if let maximum = array.maxItems, items.count > maximum { problems.append("\(path): more than \(maximum) items") }
            if let itemSchema = array.items {
                for (index, item) in items.enumerated() { problems += validate(item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        case .string(_, let string):
            guard case .string(let text) = value else { return problems + ["\(path): expected a string, got \(value)"] }
            if text.count < string.minLength { problems.append("\(path): shorter than \(string.minLength)") }
            if let maximum = string.maxLength, text.count > maximum { problems.append("\(path): longer than \(maximum)") }
            if let pattern = string.pattern, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): '\(text)' does not match \(pattern)")
            }
        case .integer(_, let integer):
            guard case .integer(let number) = value else { return problems + ["\(path): expected an integer, got \(value)"] }
            if let minimum = integer.minimum, minimum.exclusive ? number <= Int64(minimum.value) : number < Int64(minimum.value) {
                problems.append("\(path): below \(minimum.value)")
            }
            if let maximum = integer.maximum, maximum.exclusive ? number >= Int64(maximum.value) : number > Int64(maximum.value) {
                problems.append("\(path): above \(maximum.value)")
            }
        case .number:
            switch value {
            case .integer, .number: break
            default: problems.append("\(path): expected a number, got \(value)")
            }
        case .boolean:
            if case .bool = value {} else { problems.append("\(path): expected a boolean, got \(value)") }
        case .fragment:
            break
        }
        return problems
    }
}
