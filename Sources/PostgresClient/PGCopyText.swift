/// Rows in the text format of `COPY … FROM STDIN` (PostgreSQL's default): fields separated by
/// tabs, one row per line, `\N` for NULL, and backslash, tab, newline and carriage return
/// escaped, so any text (NUL aside, which PostgreSQL text cannot hold) arrives unchanged.
public enum PGCopyText {
    /// One row, with its trailing newline, appended to `buffer`.
    public static func append(_ fields: [String?], to buffer: inout [UInt8]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: "\t")) }
            guard let field else {
                buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                continue
            }
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\t"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case UInt8(ascii: "\n"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    /// One row as a string (for tests and small inputs).
    public static func line(_ fields: [String?]) -> String {
        var buffer: [UInt8] = []
        append(fields, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
