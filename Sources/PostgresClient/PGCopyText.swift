/// Rows in the text format of `COPY` (PostgreSQL's default): fields separated by tabs, one row
/// per line, `\N` for NULL, and backslash, tab, newline and carriage return escaped, so any text
/// (NUL aside, which PostgreSQL text cannot hold) arrives unchanged; written for `COPY … FROM
/// STDIN`, read from `COPY … TO STDOUT`.
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

    /// The fields of one row as `COPY … TO STDOUT` sends it (text format; a trailing newline is
    /// ignored): `\N` alone is NULL, and PostgreSQL's backslash escapes are undone.
    public static func fields(of line: UnsafeBufferPointer<UInt8>) -> [String?] {
        var end = line.count
        if end > 0, line[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        var fields: [String?] = []
        var start = 0
        while true {
            var stop = start
            while stop < end, line[stop] != UInt8(ascii: "\t") { stop += 1 }
            fields.append(field(UnsafeBufferPointer(rebasing: line[start..<stop])))
            if stop >= end { break }
            start = stop + 1
        }
        return fields
    }

    private static func field(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let backslash = UInt8(ascii: "\\")
        if bytes.count == 2, bytes[0] == backslash, bytes[1] == UInt8(ascii: "N") { return nil }
        guard bytes.contains(backslash) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == backslash, index < bytes.count else {
                out.append(byte)
                continue
            }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                // Up to three octal digits.
                var value = Int(escaped - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[index]) {
                    value = value * 8 + Int(bytes[index] - UInt8(ascii: "0"))
                    index += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                // Up to two hex digits.
                var value = 0
                var digits = 0
                while digits < 2, index < bytes.count, let digit = hexValue(bytes[index]) {
                    value = value * 16 + digit
                    index += 1
                    digits += 1
                }
                if digits == 0 { out.append(escaped) } else { out.append(UInt8(truncatingIfNeeded: value)) }
            default: out.append(escaped)  // the backslash, the delimiter, anything else: itself
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// One row as a string (for tests and small inputs).
    public static func line(_ fields: [String?]) -> String {
        var buffer: [UInt8] = []
        append(fields, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
