import AsyncHTTPClient
import Foundation
import HTTPTypes
import LeaderboardCore
import NIOHTTP1
import PostgresClient

#if canImport(Glibc)
import Glibc
#endif

// Checks of read answers that hold of one sorted set at any moment, whatever writes run
// meanwhile (DESIGN.md, "Guarantees" 5): no player twice, ranks contiguous from the first one
// asked for, entries in the board's total order, as many entries as the board's total allows.

/// The invariants of page answers (top, range, around) of a board with order `order`.
///
/// On a `player_id` board consecutive entries must be in the board's total order, (score,
/// player id). On a board that breaks ties by commit time (`earliest`, `latest`) the order of
/// equal scores depends on when each was committed, which a check of answers read under
/// concurrent writes cannot know: there only the score order is checked (equal scores may come in
/// any order), unless `tiedBefore` tells the exact order of two entries with equal scores (for a
/// board no write changes while it is read, e.g. from ``ReferenceBoard/precedes(_:_:)``).
public struct PageCheck: Sendable {
    public let order: LeaderboardCore.SortOrder
    public let tieBreak: TieBreak
    /// On a board ordered by time: whether the first of two entries with equal scores must come
    /// before the second; nil when that is not known.
    public let tiedBefore: (@Sendable (LeaderboardEntry, LeaderboardEntry) -> Bool)?

    public init(order: LeaderboardCore.SortOrder, tieBreak: TieBreak = .playerID, tiedBefore: (@Sendable (LeaderboardEntry, LeaderboardEntry) -> Bool)? = nil) {
        self.order = order
        self.tieBreak = tieBreak
        self.tiedBefore = tiedBefore
    }

    /// The check of a board no write changes while it is read: consecutive entries in the model's
    /// total order, equal scores included, whatever the board's tie rule.
    public init(exactly model: ReferenceBoard) {
        self.init(order: model.order, tieBreak: model.tieBreak, tiedBefore: { model.precedes($0.playerID, $1.playerID) })
    }

    /// Whether `a` may be listed right before `b`.
    public func inOrder(_ a: LeaderboardEntry, _ b: LeaderboardEntry) -> Bool {
        guard tieBreak.ordersByTime else { return order.precedes((a.score, a.playerID), (b.score, b.playerID)) }
        if a.score != b.score { return order.isBetter(a.score, than: b.score) }
        return a.playerID != b.playerID && (tiedBefore?(a, b) ?? true)
    }

    /// Problems of a page asked for ranks `start ... start + count - 1` (top: start 1), empty when
    /// one sorted set of `total` members could have answered it.
    public func problems(_ entries: [LeaderboardEntry], total: Int?, start: Int, count: Int) -> [String] {
        guard let total else { return ["no total"] }
        var problems: [String] = []
        if total < 0 { problems.append("total \(total) < 0") }
        var seen = Set<String>()
        for entry in entries where !seen.insert(entry.playerID).inserted {
            problems.append("\(entry.playerID) twice")
        }
        for (index, entry) in entries.enumerated() where entry.rank != start + index {
            problems.append("entry \(index) has rank \(entry.rank), expected \(start + index)")
            break
        }
        for (a, b) in zip(entries, entries.dropFirst()) where !inOrder(a, b) {
            problems.append("\(a.playerID) (\(a.score)) listed before \(b.playerID) (\(b.score))")
            break
        }
        let expectedCount = max(0, min(count, total - start + 1))
        if entries.count != expectedCount {
            problems.append("\(entries.count) entries for ranks \(start)–\(start + count - 1) of a board of \(total) (expected \(expectedCount))")
        }
        return problems
    }

    /// Problems of an around answer for `player` with radius `radius`: a valid page from
    /// max(1, r − radius) to min(total, r + radius) that holds the player at its rank r.
    public func aroundProblems(_ entries: [LeaderboardEntry], total: Int?, player: String, radius: Int) -> [String] {
        guard let center = entries.first(where: { $0.playerID == player }) else { return ["\(player) is not in its own around window"] }
        let start = max(1, center.rank - radius)
        return problems(entries, total: total, start: start, count: center.rank + radius - start + 1)
    }

    /// Problems of a whole-board read when the board's player set is known: exactly `players`,
    /// and `total` equal to their number.
    public func fullBoardProblems(_ entries: [LeaderboardEntry], total: Int?, players: Set<String>) -> [String] {
        var problems = self.problems(entries, total: total, start: 1, count: max(players.count, entries.count))
        if total != players.count { problems.append("total \(total.map(String.init) ?? "nil"), the board has \(players.count) players") }
        let got = Set(entries.map(\.playerID))
        let missing = players.subtracting(got)
        let extra = got.subtracting(players)
        if !missing.isEmpty { problems.append("\(missing.count) players missing, e.g. \(missing.sorted().prefix(3))") }
        if !extra.isEmpty { problems.append("\(extra.count) unknown players, e.g. \(extra.sorted().prefix(3))") }
        return problems
    }
}

extension ReferenceBoard {
    /// The model's board as the real-time view must show it: the best `maxEntries` (0: all).
    public func ranked(maxEntries: Int) -> [LeaderboardEntry] {
        let all = ranked()
        return maxEntries > 0 ? Array(all.prefix(maxEntries)) : all
    }
}

/// Counts of reads checked under concurrent writes, shared by the reader tasks of a test.
public struct ReadTally: Sendable, CustomStringConvertible {
    public var checked = 0
    public var unavailable = 0
    public var wrong = 0
    /// The first few wrong answers, described.
    public var examples: [String] = []

    public init() {}

    public mutating func record(_ what: String, _ problems: [String]) {
        checked += 1
        guard !problems.isEmpty else { return }
        wrong += 1
        if examples.count < 8 { examples.append("\(what): \(problems.prefix(3).joined(separator: "; "))") }
    }

    public var description: String { "\(checked) reads checked, \(wrong) wrong, \(unavailable) answered 503" }
}

extension APIResponse {
    /// An answer received over real HTTP (from a ``ServerProcess``), decoded as the in-process
    /// test client decodes it.
    public init(status: Int, body: String) {
        let json: JSONValue =
            body.isEmpty ? .null : (try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))) ?? .string(body)
        self.init(status: HTTPResponse.Status(code: status), headers: [:], json: json)
    }

    /// `total` of a page answer.
    public var total: Int? { integer("total").map(Int.init) }
}

extension ServerProcess {
    /// One request, decoded as an API answer.
    public func call(_ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: String? = nil, idempotencyKey: String? = nil) async throws -> APIResponse {
        let (status, text) = try await request(client, method, path, body: body, idempotencyKey: idempotencyKey)
        return APIResponse(status: status, body: text)
    }

    public func get(_ client: HTTPClient, _ path: String) async throws -> APIResponse {
        try await call(client, .GET, path)
    }

    /// Submits `(player, score)` pairs to `board` in one POST /scores/batch; throws unless 200.
    public func submitBatch(_ client: HTTPClient, board: String, _ scores: [(String, Int64)]) async throws {
        let answer = try await call(client, .POST, "/api/v1/scores/batch", body: Self.batchBody(board: board, scores))
        guard answer.status == .ok else { throw TestFailure("batch on \(board): \(answer.status) \(answer.json)") }
    }

    public static func batchBody(board: String, _ scores: [(String, Int64)]) -> String {
        let items = scores.map { #"{"player_id": "\#($0.0)", "score": \#($0.1), "game_id": "\#(board)"}"# }
        return #"{"scores": [\#(items.joined(separator: ","))]}"#
    }

    public static func scoreBody(board: String, _ player: String, _ score: Int64) -> String {
        #"{"player_id": "\#(player)", "score": \#(score), "game_id": "\#(board)"}"#
    }

    /// Whether the process died or is dying: a Swift runtime trap prints "Fatal error" and the
    /// backtracer then takes seconds before the process exits.
    public var crashed: Bool { !process.isRunning || log.contains("Fatal error") }

    /// After a crash, waits (at most `limit`) for the backtracer to finish and the process to exit:
    /// killing a process while the backtracer holds it leaves a zombie nobody can wait for.
    public func waitForCrashReport(limit: Duration = .seconds(40)) async {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// Stops the server for good (for `defer`): after a crash it first lets the backtracer finish
    /// (at most 40 s), then kills what still runs.
    public func stop() {
        if log.contains("Fatal error") {
            let deadline = ContinuousClock.now + .seconds(40)
            while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.1) }
        }
        if process.isRunning { kill() }
    }

    /// Why the process stopped: the runtime's fatal error and the first frames in the project's
    /// sources, from the log.
    public var crashReport: String {
        let lines = log.split(separator: "\n")
        let fatal = lines.filter { $0.contains("Fatal error") }.prefix(1)
        let frames = lines.filter { $0.contains("/Sources/Leaderboard") }.prefix(3).map { $0.split(separator: " in leaderboard-server at ").last.map(String.init) ?? String($0) }
        return fatal.isEmpty ? "no fatal error in the log; it ends: \(log.suffix(1000))" : (fatal.map(String.init) + frames).joined(separator: " | ")
    }

    /// The last lines of the server's log.
    public func logTail(_ characters: Int = 3000) -> String { String(log.suffix(characters)) }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestFailure("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// PostgreSQL's current scores of a board (the source of truth), by player.
public func postgresScores(_ postgres: PGConnectionPool, board: String) async throws -> [String: Int64] {
    var scores: [String: Int64] = [:]
    for row in try await postgres.query("SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1", [board]).rows {
        scores[try row.text(0)] = try row.int64(1)
    }
    return scores
}
