import Foundation
import LeaderboardCore
import Testing

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test(arguments: [
        #"{"player_id": "p1", "score": 1500, "game_id": "g", "metadata": {"a": [1, 2.5, -3e2, true, false, null, "x"]}}"#,
        #"[]"#, #"{}"#, #" [ { } , [ ] ] "#, #""plain""#, #"0"#, #"-0"#, #"123456789012345678"#, #"-9223372036854775808"#,
        #"9223372036854775808"#, #"1.5"#, #"1E3"#, #"1e-7"#, #""\u00e9\u4e2d\ud83d\ude00 \n\t\\ \/ \"""#, #""naïve ✓""#,
    ])
    func agreesWithFoundation(text: String) throws {
        let ours = try parse(text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == foundation)
    }

    @Test func integersStayExactAndLargeOnesBecomeNumbers() throws {
        #expect(try parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(try parse("-9223372036854775808") == .integer(.min))
        #expect(try parse("9223372036854775808") == .number(9_223_372_036_854_775_808))
        #expect(try parse("10.0") == .integer(10))
        #expect(try parse("-3e2") == .integer(-300))
        #expect(try parse("1e300") == .number(1e300))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "[1 2]", #"{"a" 1}"#, #"{"a":}"#, #"{a: 1}"#, "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        #""unterminated"#, "\"raw\ncontrol\"", #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#, "[1] x", "1e999", "NaN", #"{"dup": 1, "dup": 2}"#,
    ])
    func rejectsInvalidDocuments(text: String) {
        #expect(throws: JSONParser.Error.self) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
    }

    @Test func limitsNesting() throws {
        let fine = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        #expect(throws: Never.self) { try parse(fine) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try parse(deep) }
        let deepObject = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(throws: JSONParser.Error.self) { try parse(deepObject) }
    }

    /// Random documents printed by Foundation must parse back to the same value.
    @Test func randomDocumentsRoundTrip() throws {
        var random = SplitMix(seed: 42)
        func make(_ depth: Int) -> JSONValue {
            switch random.next() % (depth > 3 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(random.next() % 2 == 0)
            case 2: return .integer(Int64(bitPattern: random.next()) >> Int64(random.next() % 63))
            case 3: return .number(Double(2 * (Int64(bitPattern: random.next()) % 1_000_000) + 1) / 128)  // never integral
            case 4: return .string(String((0..<Int(random.next() % 8)).map { _ in "aZ\"\\\n é😀/"[Int(random.next() % 9)] }))
            case 5: return .array((0..<Int(random.next() % 4)).map { _ in make(depth + 1) })
            default:
                return .object(Dictionary((0..<Int(random.next() % 4)).map { _ in ("k\(random.next() % 5)", make(depth + 1)) }, uniquingKeysWith: { $1 }))
            }
        }
        for _ in 0..<300 {
            let value = make(0)
            let data = try JSONEncoder().encode(value)
            #expect(try JSONParser.parse(data) == value)
        }
    }
}

extension String {
    fileprivate subscript(_ offset: Int) -> Character { self[index(startIndex, offsetBy: offset)] }
}
