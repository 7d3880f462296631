import PostgresClient
import Testing

@Suite struct PGArrayTests {
    @Test func textArraysEscapeQuotesAndBackslashes() {
        #expect(PGArray.text(["a", "b c", #"q"uote"#, #"back\slash"#, nil]) == #"{"a","b c","q\"uote","back\\slash",NULL}"#)
        #expect(PGArray.text([String]()) == "{}")
    }

    @Test func integerArrays() {
        #expect(PGArray.int64([1, -2, nil]) == "{1,-2,NULL}")
    }

    @Test func parseRoundTrips() {
        let values: [String?] = ["a", "b c", #"q"uote"#, #"back\slash"#, nil, "{}", ","]
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
}
