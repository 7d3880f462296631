import PostgresClient
import Testing

@Suite struct PGArrayTests {
    @Test func textArraysEscapeQuotesAndBackslashes() {
        #expect(PGArray.text(["a", "b c", #"q"uote"#, #"back\slash"#, nil]) == #"{"a","b c","q\"uote","back\\slash",NULL}"#)
        #expect(PGArray.text([String]()) == "{}")
        // Escaped byte by byte: characters of several bytes pass through whole.
        #expect(Array(PGArray.text(["ünï €", #"🏆"x\"#]).utf8) == Array(#"{"ünï €","🏆\"x\\"}"#.utf8))
        // (Bytes, not String ==, which would take another normalization of "é" as equal.)
        let decomposed = "e\u{301}"
        #expect(Array(PGArray.text([decomposed]).utf8) == [UInt8(ascii: "{"), UInt8(ascii: "\"")] + Array(decomposed.utf8) + [UInt8(ascii: "\""), UInt8(ascii: "}")])
    }

    @Test func integerArrays() {
        #expect(PGArray.int64([1, -2, nil]) == "{1,-2,NULL}")
    }

    @Test func parseRoundTrips() {
        let values: [String?] = ["a", "b c", #"q"uote"#, #"back\slash"#, nil, "{}", ",", "ünï €", #"🏆"\"#, ""]
        #expect(PGArray.parse(PGArray.text(values)) == values)
        #expect(PGArray.parse("{1,2,NULL}") == ["1", "2", nil])
    }
}

@Suite struct PGCopyTextTests {
    @Test func fieldsAreTabSeparatedWithNullsAndEscapes() {
        #expect(PGCopyText.line(["p1", "10", nil]) == "p1\t10\t\\N\n")
        #expect(PGCopyText.line(["a\\b", "tab\there", "two\nlines", "cr\rx", "ünï €"]) == "a\\\\b\ttab\\there\ttwo\\nlines\tcr\\rx\tünï €\n")
        #expect(PGCopyText.line([""]) == "\n")
        #expect(PGCopyText.line(["\\N"]) == "\\\\N\n")
    }

    static func fields(_ line: String) -> [String?] {
        Array(line.utf8).withUnsafeBufferPointer { PGCopyText.fields(of: $0) }
    }

    @Test func rowsReadBackAsTheyWereWritten() {
        let rows: [[String?]] = [
            ["p1", "10", nil], ["a\\b", "tab\there", "two\nlines", "cr\rx", "ünï €"], [""], ["\\N"], ["", nil, ""], ["\\."], ["x\\"],
        ]
        for row in rows { #expect(Self.fields(PGCopyText.line(row)) == row, "\(row)") }
        // Without the trailing newline too.
        #expect(Self.fields("a\tb") == ["a", "b"])
    }

    @Test func everyEscapeOfTheTextFormatIsUndone() {
        #expect(Self.fields("\\b\\f\\v\t\\101\\7\t\\x41\\x4a\\xz\t\\q\\\\") == ["\u{8}\u{C}\u{B}", "A\u{7}", "AJxz", "q\\"])
        #expect(Self.fields("\\N\t\\Nx") == [nil, "Nx"])
    }
}
