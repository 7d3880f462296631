import Foundation
import LeaderboardCore
import Testing

private func json(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

private func code(_ body: () throws -> Void) -> LeaderboardError.Code? {
    do {
        try body()
        return nil
    } catch let error as LeaderboardError {
        return error.code
    } catch {
        return nil
    }
}

@Suite struct ScoreCommandParsingTests {
    @Test func aFullEventParses() throws {
        let command = try ScoreCommand.parse(
            json(
                #"{"player_id": "p1", "score": 1500, "game_id": "g1", "username": "ann", "metadata": {"level": 3}, "timestamp": "2026-01-02T03:04:05Z"}"#
            )
        )
        #expect(command.leaderboardID == "g1")
        #expect(command.playerID == "p1")
        #expect(command.value == 1500)
        #expect(command.username == "ann")
        #expect(command.metadataJSON == #"{"level":3}"#)
        #expect(command.timestamp == Date(timeIntervalSince1970: 1_767_323_045))
    }

    @Test func leaderboardIDIsAcceptedForGameID() throws {
        #expect(try ScoreCommand.parse(json(#"{"player_id": "p", "score": 1, "leaderboard_id": "b"}"#)).leaderboardID == "b")
        #expect(code { _ = try ScoreCommand.parse(json(#"{"player_id": "p", "score": 1, "leaderboard_id": "b", "game_id": "c"}"#)) } == .invalidRequest)
    }

    @Test(arguments: [
        (#"{"score": 1, "game_id": "g"}"#, LeaderboardError.Code.invalidRequest),
        (#"{"player_id": "", "score": 1, "game_id": "g"}"#, .invalidRequest),
        (#"{"player_id": "a b", "score": 1, "game_id": "g"}"#, .invalidRequest),
        (#"{"player_id": 7, "score": 1, "game_id": "g"}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g/h"}"#, .invalidRequest),
        (#"{"player_id": "p", "game_id": "g"}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1.5, "game_id": "g"}"#, .invalidScore),
        (#"{"player_id": "p", "score": "10", "game_id": "g"}"#, .invalidScore),
        (#"{"player_id": "p", "score": 9007199254740992, "game_id": "g"}"#, .invalidScore),
        (#"{"player_id": "p", "score": -9007199254740992, "game_id": "g"}"#, .invalidScore),
        (#"{"player_id": "p", "score": 1e300, "game_id": "g"}"#, .invalidScore),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "metadata": [1]}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "metadata": {"a": "\u0000"}}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "username": ""}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "username": "a\nb"}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "timestamp": "yesterday"}"#, .invalidRequest),
        (#"{"player_id": "p", "score": 1, "game_id": "g", "extra": 1}"#, .invalidRequest),
        (#"[1, 2]"#, .invalidRequest),
    ])
    func badEventsAreRejectedWithTheContractCode(body: String, expected: LeaderboardError.Code) throws {
        let value = try json(body)
        #expect(code { _ = try ScoreCommand.parse(value) } == expected)
    }

    @Test func theLargestScoresAreAccepted() throws {
        #expect(try ScoreCommand.parse(json(#"{"player_id": "p", "score": 9007199254740991, "game_id": "g"}"#)).value == ScoreRange.maximum)
        #expect(try ScoreCommand.parse(json(#"{"player_id": "p", "score": -9007199254740991, "game_id": "g"}"#)).value == ScoreRange.minimum)
    }

    @Test func timestampsWithFractionsAndOffsets() {
        #expect(Timestamp.parse("2026-01-02T03:04:05.250Z") != nil)
        #expect(Timestamp.parse("2026-01-02T04:04:05+01:00") == Timestamp.parse("2026-01-02T03:04:05Z"))
        #expect(Timestamp.parse("2026-01-02") == nil)
    }
}

@Suite struct LeaderboardConfigParsingTests {
    @Test func defaultsAreTheSeeds() throws {
        let config = try LeaderboardConfig.parse(json(#"{"id": "weekly"}"#))
        #expect(config == LeaderboardConfig(id: "weekly", name: "weekly", sortOrder: .desc, resetPeriod: .never, maxEntries: 10_000, updateMode: .replace))
        #expect(config.layout == .single)
    }

    @Test func everyFieldParses() throws {
        let config = try LeaderboardConfig.parse(
            json(
                #"{"id": "b", "name": "Best", "sort_order": "asc", "reset_period": "weekly", "max_entries": 0, "update_mode": "best", "layout": {"strategy": "hash", "shards": 8}}"#
            )
        )
        #expect(config.sortOrder == .asc)
        #expect(config.resetPeriod == .weekly)
        #expect(config.maxEntries == 0)
        #expect(config.updateMode == .best)
        #expect(config.layout == .hash(shards: 8))
        #expect(try LeaderboardConfig.parse(json(#"{"id": "b", "layout": {"strategy": "band", "bounds": [-5, 0, 100]}}"#)).layout == .band(bounds: [-5, 0, 100]))
    }

    @Test(arguments: [
        #"{"name": "x"}"#,
        #"{"id": "a b"}"#,
        #"{"id": "b", "sort_order": "up"}"#,
        #"{"id": "b", "reset_period": "hourly"}"#,
        #"{"id": "b", "update_mode": "max"}"#,
        #"{"id": "b", "max_entries": -1}"#,
        #"{"id": "b", "max_entries": "10"}"#,
        #"{"id": "b", "name": ""}"#,
        #"{"id": "b", "layout": {"strategy": "ring"}}"#,
        #"{"id": "b", "layout": {"strategy": "hash", "shards": 0}}"#,
        #"{"id": "b", "layout": {"strategy": "band", "bounds": [5, 5]}}"#,
        #"{"id": "b", "layout": {"strategy": "band", "bounds": []}}"#,
        #"{"id": "b", "layout": {"strategy": "band", "bounds": [0], "shards": 257}}"#,
        #"{"id": "b", "layout": {"strategy": "single", "shards": 2}}"#,
        #"{"id": "b", "layout": {"strategy": "hash", "shards": 2, "bounds": [1]}}"#,
        #"{"id": "b", "color": "red"}"#,
        #""board""#,
    ])
    func badConfigsAreInvalidRequests(body: String) throws {
        let value = try json(body)
        #expect(code { _ = try LeaderboardConfig.parse(value) } == .invalidRequest)
    }

    @Test func configEncodesInTheContractShape() throws {
        let data = try JSONEncoder().encode(LeaderboardConfig(id: "b", layout: .band(bounds: [10])))
        let object = try JSONDecoder().decode(JSONValue.self, from: data).object
        #expect(object?["sort_order"] == .string("desc"))
        #expect(object?["max_entries"] == .integer(10_000))
        #expect(object?["layout"] == .object(["strategy": .string("band"), "bounds": .array([.integer(10)])]))
    }
}

@Suite struct ReadLimitsTests {
    let limits = ReadLimits(defaultLimit: 10, maxLimit: 100, defaultRadius: 5)

    @Test func limitParsing() throws {
        #expect(try limits.limit(nil) == 10)
        #expect(try limits.limit("100") == 100)
        for bad in ["0", "-1", "101", "ten", "1.5", "99999999999999999999"] {
            #expect(code { _ = try limits.limit(bad) } == .invalidRequest)
        }
    }

    @Test func radius() throws {
        #expect(try limits.radius(nil) == 5)
        #expect(try limits.radius("0") == 0)
        #expect(try limits.radius("49") == 49)
        #expect(code { _ = try limits.radius("50") } == .invalidRequest)
    }

    @Test func windows() throws {
        #expect(try limits.window(start: "1", end: "1") == (1, 1))
        #expect(try limits.window(start: "500000", end: "500099") == (500_000, 500_099))
        #expect(code { _ = try limits.window(start: "500000", end: "500100") } == .invalidRequest)
        #expect(code { _ = try limits.window(start: "0", end: "5") } == .invalidRequest)
        #expect(code { _ = try limits.window(start: "6", end: "5") } == .invalidRequest)
        #expect(code { _ = try limits.window(start: nil, end: "5") } == .invalidRequest)
    }
}
