/// Reads the rows of a bulk-import file (DESIGN.md, "Bulk import"), one line at a time, so a
/// file of millions of rows is never held whole: CSV with the header `player_id,score` or
/// `player_id,score,username`, or NDJSON of ScoreEvents. Every row is validated as a submission
/// would be (``ScoreCommand/parse(_:)``); a bad row throws an ``ImportRows/RowError`` that names
/// its line, so the caller can write nothing.
public struct ImportRows: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case csv
        case ndjson

        /// The format a file name says (`.csv`; `.ndjson`, `.jsonl`); nil when it says neither.
        public init?(fileName: String) {
            let lower = fileName.lowercased()
            if lower.hasSuffix(".csv") {
                self = .csv
            } else if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") {
                self = .ndjson
            } else {
                return nil
            }
        }
    }

    /// A row that is not a valid submission, with its 1-based line number.
    public struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    public let format: Format
    public let board: String
    /// Whether the CSV header has been read (it must be the first non-empty line).
    private var sawHeader = false
    private var csvHasUsername = false

    public init(format: Format, board: String) {
        self.format = format
        self.board = board
    }

    /// The submission on line `number` (1-based); nil for a line that holds none (the CSV
    /// header, an empty line). A trailing `\r` (CRLF files) is ignored.
    public mutating func row(_ line: Substring, number: Int) throws(RowError) -> ScoreCommand? {
        var text = line.last == "\r" ? line.dropLast() : line
        // A byte order mark some programs write at the start of a file.
        if number == 1, text.unicodeScalars.first == "\u{FEFF}" { text = Substring(text.unicodeScalars.dropFirst()) }
        if text.allSatisfy({ $0 == " " || $0 == "\t" }) { return nil }
        switch format {
        case .csv: return try csvRow(text, number: number)
        case .ndjson: return try ndjsonRow(text, number: number)
        }
    }

    /// At the end of the file: a CSV file must have had its header (an empty file is refused).
    public func finish(lines: Int) throws(RowError) {
        if format == .csv, !sawHeader {
            throw RowError(line: lines + 1, message: "the file has no header: the first line must be player_id,score or player_id,score,username")
        }
    }

    private mutating func csvRow(_ text: Substring, number: Int) throws(RowError) -> ScoreCommand? {
        let fields: [String]
        do { fields = try Self.csvFields(text) } catch { throw RowError(line: number, message: error.message) }
        if !sawHeader {
            let header = fields.map { $0.trimmingSpaces.lowercased() }
            switch header {
            case ["player_id", "score"]: csvHasUsername = false
            case ["player_id", "score", "username"]: csvHasUsername = true
            default:
                throw RowError(line: number, message: "the first line must be the header player_id,score or player_id,score,username")
            }
            sawHeader = true
            return nil
        }
        let expected = csvHasUsername ? 3 : 2
        // A row may leave the username out even when the header names it.
        guard fields.count == expected || (csvHasUsername && fields.count == 2) else {
            throw RowError(line: number, message: "expected \(expected) fields, found \(fields.count)")
        }
        let score = fields[1].trimmingSpaces
        guard let value = Int64(score) else {
            if score.isEmpty { throw RowError(line: number, message: "score is required") }
            // Digits that do not fit in 64 bits are an integer, just far out of range.
            let digits = score.first == "-" || score.first == "+" ? score.dropFirst() : Substring(score)
            if !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                throw RowError(line: number, message: "score \(score.prefix(40)) is outside ±\(ScoreRange.maximum)")
            }
            throw RowError(line: number, message: "score '\(score.prefix(40))' is not an integer")
        }
        var object: [String: JSONValue] = ["player_id": .string(fields[0]), "score": .integer(value), "game_id": .string(board)]
        if fields.count == 3, !fields[2].isEmpty { object["username"] = .string(fields[2]) }
        do { return try ScoreCommand.parse(.object(object)) } catch { throw RowError(line: number, message: error.message) }
    }

    private func ndjsonRow(_ text: Substring, number: Int) throws(RowError) -> ScoreCommand? {
        let json: JSONValue
        do { json = try JSONParser.parse(text.utf8) } catch { throw RowError(line: number, message: "not JSON: \(error)") }
        guard var object = json.object else { throw RowError(line: number, message: "score event must be a JSON object") }
        // The file is for one board: an event may leave it out, and must not name another.
        for field in ["game_id", "leaderboard_id"] {
            if let named = object[field] {
                guard named == .string(board) else {
                    throw RowError(line: number, message: "\(field) must be '\(board)' (the board being imported) when given")
                }
            }
        }
        if object["game_id"] == nil, object["leaderboard_id"] == nil { object["game_id"] = .string(board) }
        do { return try ScoreCommand.parse(.object(object)) } catch { throw RowError(line: number, message: error.message) }
    }

    struct FieldError: Error { let message: String }

    /// The fields of one CSV line (RFC 4180: a field in double quotes may hold commas, and `""`
    /// stands for one quote; a quoted field cannot span lines here). Scanned as UTF-8 bytes: the
    /// delimiters are ASCII, and a comma followed by a combining mark is still a comma.
    static func csvFields(_ line: Substring) throws(FieldError) -> [String] {
        let bytes = Array(line.utf8)
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        var fields: [String] = []
        var current: [UInt8] = []
        var index = 0
        var quoted = false
        var fieldStart = true
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if quoted {
                guard byte == quote else {
                    current.append(byte)
                    continue
                }
                if index < bytes.count, bytes[index] == quote {
                    current.append(quote)
                    index += 1
                    continue
                }
                quoted = false
                // Only a comma or the end may follow a closing quote.
                guard index == bytes.count || bytes[index] == comma else { throw FieldError(message: "text after a closing quote") }
            } else if byte == comma {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
                fieldStart = true
                continue
            } else if byte == quote {
                guard fieldStart else { throw FieldError(message: "a quote inside an unquoted field") }
                quoted = true
            } else {
                current.append(byte)
            }
            fieldStart = false
        }
        guard !quoted else { throw FieldError(message: "a quoted field is not closed") }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
