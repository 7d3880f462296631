import Foundation
import LeaderboardCore
@testable import LeaderboardHTTP
import LeaderboardService
import LeaderboardTestSupport
import Testing

/// The reads' answers are written by ``JSONWriter`` instead of Foundation's encoder: for random
/// answers (usernames with quotes, backslashes, control characters and non-ASCII), both give the
/// same JSON, and the same bytes where no escape is involved (so keys keep their sorted order).
@Suite struct JSONAnswerTests {
    private static func encoded(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value))
    }

    private static func written(_ value: some JSONAnswer) -> [UInt8] {
        var json = JSONWriter()
        value.write(to: &json)
        return json.bytes
    }

    private static let plainNames = ["Nell", "Ada Lovelace", "ÆØÅ 名前 🎮", "a/b"]
    private static let awkwardNames = ["quote \" here", "back\\slash", "tab\tnew\nline\r", "bell\u{7}nul\u{1}esc\u{1B}\u{1F}", "\u{8}\u{C}"]

    private static func entries(_ random: inout SeededRandom, awkward: Bool) -> [LeaderboardEntry] {
        (0..<Int.random(in: 0...5, using: &random)).map { index in
            let names = awkward ? plainNames + awkwardNames : plainNames
            let username: String? = Bool.random(using: &random) ? names.randomElement(using: &random) : nil
            return LeaderboardEntry(
                rank: index + Int.random(in: 1...1_000_000, using: &random), playerID: "p\(Int.random(in: 0...99_999, using: &random))",
                score: Int64.random(in: -9_007_199_254_740_991...9_007_199_254_740_991, using: &random), username: username
            )
        }
    }

    private static func info(_ random: inout SeededRandom) -> LeaderboardService.SourceInfo? {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: nil
        case 1: .init(asOf: "2026-12-02T15:04:05.123Z", period: nil)
        default: .init(asOf: "2026-11-30T00:00:00.000Z", period: Int.random(in: 1...400, using: &random))
        }
    }

    @Test(arguments: [false, true]) func theWriterGivesTheEncodersJSON(awkward: Bool) throws {
        var random = SeededRandom(seed: awkward ? 7 : 3)
        var compared = 0
        for _ in 0..<300 {
            let entries = Self.entries(&random, awkward: awkward)
            let total = Int.random(in: 1...2_000_000, using: &random)
            let info = Self.info(&random)
            let player = LeaderboardEntry(rank: Int.random(in: 1...total, using: &random), playerID: "p1", score: 42, username: entries.first?.username)
            let missing = (0..<Int.random(in: 0...3, using: &random)).map { "m\($0)" }
            let pairs: [([UInt8], [UInt8])] = [
                (try Self.encoded(Responses.Page(leaderboardID: "b-1", page: LeaderboardPage(total: total, entries: entries), info: info)),
                 Self.written(Responses.Page(leaderboardID: "b-1", page: LeaderboardPage(total: total, entries: entries), info: info))),
                (try Self.encoded(Responses.PlayerEntry(standing: PlayerStanding(entry: player, total: total), leaderboardID: "b", info: info)),
                 Self.written(Responses.PlayerEntry(standing: PlayerStanding(entry: player, total: total), leaderboardID: "b", info: info))),
                (try Self.encoded(Responses.Players(leaderboardID: "b", page: LeaderboardPage(total: total, entries: entries), missing: missing, info: info)),
                 Self.written(Responses.Players(leaderboardID: "b", page: LeaderboardPage(total: total, entries: entries), missing: missing, info: info))),
                (try Self.encoded(Responses.Cutoff(leaderboardID: "b", cutoff: RankCutoff(total: total, rank: 7, entry: entries.first), info: info)),
                 Self.written(Responses.Cutoff(leaderboardID: "b", cutoff: RankCutoff(total: total, rank: 7, entry: entries.first), info: info))),
                (try Self.encoded(Responses.Batch(accepted: 2, results: [.init(leaderboardID: "b", playerID: "x", score: -3), .init(leaderboardID: "c", playerID: "y", score: 0)])),
                 Self.written(Responses.Batch(accepted: 2, results: [.init(leaderboardID: "b", playerID: "x", score: -3), .init(leaderboardID: "c", playerID: "y", score: 0)]))),
            ]
            for (encoder, writer) in pairs {
                #expect(try JSONParser.parse(writer) == JSONParser.parse(encoder), "\(String(decoding: writer, as: UTF8.self))")
                if !awkward {
                    #expect(writer == encoder, "\(String(decoding: writer, as: UTF8.self)) vs \(String(decoding: encoder, as: UTF8.self))")
                }
                compared += 1
            }
        }
        #expect(compared == 1500)
    }

    @Test func percentsAreWrittenAsTheShortestExactDecimal() {
        for (hundredths, text) in [(1235, "12.35"), (1250, "12.5"), (10000, "100"), (5, "0.05"), (50, "0.5"), (1, "0.01"), (0, "0"), (-150, "-1.5")] {
            var json = JSONWriter()
            json.hundredths(Int64(hundredths))
            #expect(String(decoding: json.bytes, as: UTF8.self) == text)
        }
    }
}
