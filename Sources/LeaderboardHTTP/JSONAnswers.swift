import LeaderboardCore
import LeaderboardService

/// An answer written straight into JSON bytes (``JSONWriter``) instead of through Foundation's
/// encoder: the reads' answers, which are most of the traffic. Each writes its keys in sorted
/// order, so the bytes are those of the `Encodable` form with `.sortedKeys` (a test compares them).
protocol JSONAnswer: Encodable {
    func write(to json: inout JSONWriter)
}

extension JSONWriter {
    /// An entry's members in sorted order, without the braces (so a player answer can add its own).
    mutating func entryMembers(_ entry: LeaderboardEntry) {
        key("player_id")
        string(entry.playerID)
        key("rank")
        integer(entry.rank)
        key("score")
        integer(entry.score)
    }

    mutating func entry(_ entry: LeaderboardEntry) {
        beginObject()
        entryMembers(entry)
        if let username = entry.username {
            key("username")
            string(username)
        }
        endObject()
    }

    mutating func entries(_ entries: [LeaderboardEntry]) {
        beginArray()
        for item in entries { entry(item) }
        endArray()
    }
}

/// The source members (`as_of`, `period`, `source`) are merged among the others in sorted order.
private extension Responses.Source {
    func writeAsOf(_ json: inout JSONWriter) {
        if let asOf {
            json.key("as_of")
            json.string(asOf)
        }
    }

    func writePeriod(_ json: inout JSONWriter) {
        if let period {
            json.key("period")
            json.integer(period)
        }
    }

    func writeSource(_ json: inout JSONWriter) {
        json.key("source")
        json.string(source)
    }
}

extension Responses.Page: JSONAnswer {
    func write(to json: inout JSONWriter) {
        let source = Responses.Source(info)
        json.beginObject()
        source.writeAsOf(&json)
        json.key("entries")
        json.entries(page.entries)
        json.key("leaderboard_id")
        json.string(leaderboardID)
        source.writePeriod(&json)
        source.writeSource(&json)
        json.key("total")
        json.integer(page.total)
        json.endObject()
    }
}

extension Responses.PlayerEntry: JSONAnswer {
    func write(to json: inout JSONWriter) {
        let source = Responses.Source(info)
        json.beginObject()
        source.writeAsOf(&json)
        json.key("leaderboard_id")
        json.string(leaderboardID)
        source.writePeriod(&json)
        json.entryMembers(standing.entry)
        source.writeSource(&json)
        json.key("top_percent")
        json.hundredths(Int64(standing.topPercentHundredths))
        if let username = standing.entry.username {
            json.key("username")
            json.string(username)
        }
        json.endObject()
    }
}

extension Responses.Players: JSONAnswer {
    func write(to json: inout JSONWriter) {
        let source = Responses.Source(info)
        json.beginObject()
        source.writeAsOf(&json)
        json.key("entries")
        json.entries(page.entries)
        json.key("leaderboard_id")
        json.string(leaderboardID)
        json.key("missing")
        json.beginArray()
        for id in missing { json.string(id) }
        json.endArray()
        source.writePeriod(&json)
        source.writeSource(&json)
        json.key("total")
        json.integer(page.total)
        json.endObject()
    }
}

extension Responses.Cutoff: JSONAnswer {
    func write(to json: inout JSONWriter) {
        let source = Responses.Source(info)
        json.beginObject()
        source.writeAsOf(&json)
        json.key("entry")
        if let entry = cutoff.entry { json.entry(entry) } else { json.null() }
        json.key("leaderboard_id")
        json.string(leaderboardID)
        source.writePeriod(&json)
        json.key("rank")
        json.integer(cutoff.rank)
        source.writeSource(&json)
        json.key("total")
        json.integer(cutoff.total)
        json.endObject()
    }
}

extension Responses.Score: JSONAnswer {
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("leaderboard_id")
        json.string(leaderboardID)
        json.key("player_id")
        json.string(playerID)
        json.key("score")
        json.integer(score)
        json.endObject()
    }
}

extension Responses.Batch: JSONAnswer {
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("accepted")
        json.integer(accepted)
        json.key("results")
        json.beginArray()
        for result in results { result.write(to: &json) }
        json.endArray()
        json.endObject()
    }
}
