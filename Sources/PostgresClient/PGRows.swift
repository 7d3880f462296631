/// The rows of a result, copied out of libpq in text format.
public struct PGRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE (PQcmdTuples), 0 otherwise.
    public let affected: Int

    public init(columns: [String], rows: [[String?]], affected: Int) {
        self.columns = columns
        self.rows = rows
        self.affected = affected
    }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }
}

extension Array where Element == String? {
    /// The text of column `index`, or a decoding error when it is NULL.
    public func text(_ index: Int) throws -> String {
        guard index < count, let value = self[index] else {
            throw PGError(.decoding, "column \(index) is NULL")
        }
        return value
    }

    /// Column `index` as an integer.
    public func int64(_ index: Int) throws -> Int64 {
        let raw = try text(index)
        guard let value = Int64(raw) else { throw PGError(.decoding, "column \(index) is not an integer") }
        return value
    }

    /// Column `index` as a boolean (`t`/`f`).
    public func bool(_ index: Int) throws -> Bool { try text(index) == "t" }
}

/// Text encoding of PostgreSQL array literals for parameters such as `$1::text[]`.
public enum PGArray {
    /// `{"a","b",NULL}` with quotes and backslashes escaped.
    public static func text(_ values: [String?]) -> String { literal(values) { $0 } }

    public static func text(_ values: [String]) -> String { literal(values) { $0 } }

    private static func literal<Values: Collection>(_ values: Values, _ string: (Values.Element) -> String?) -> String {
        var capacity = 2
        for value in values { capacity += (string(value)?.utf8.count ?? 4) + 3 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if let value = string(value) { appendQuoted(value, to: &bytes) } else { bytes.append(contentsOf: "NULL".utf8) }
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `"value"` with `"` and `\` escaped, byte by byte: in UTF-8 neither byte occurs inside
    /// another character's encoding. (Built as bytes: appending scalar by scalar to a String
    /// took a fifth of a busy server's CPU in its group commits.)
    private static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `{1,2,NULL}`.
    public static func int64(_ values: [Int64?]) -> String {
        "{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
    }

    public static func int64(_ values: [Int64]) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }

    /// Parses a one-dimensional text array literal as PostgreSQL prints it.
    public static func parse(_ literal: String) -> [String?] {
        var result: [String?] = []
        var scalars = Array(literal.unicodeScalars)
        guard scalars.first == "{", scalars.last == "}" else { return [] }
        scalars.removeFirst()
        scalars.removeLast()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\"" {
                var value = String.UnicodeScalarView()
                index += 1
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count { index += 1 }
                    value.append(scalars[index])
                    index += 1
                }
                index += 1
                result.append(String(value))
            } else {
                var value = String.UnicodeScalarView()
                while index < scalars.count, scalars[index] != "," {
                    value.append(scalars[index])
                    index += 1
                }
                let text = String(value)
                result.append(text == "NULL" ? nil : text)
            }
            if index < scalars.count, scalars[index] == "," { index += 1 }
        }
        return result
    }
}
