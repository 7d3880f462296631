import AsyncHTTPClient
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import PostgresClient
import RedisClient
import Testing

/// `tie_break` earliest/latest across two server processes on the same Redis nodes and
/// PostgreSQL (docs/design/tie-break.md, "Interleavings to test" 1): equal scores submitted
/// alternately through process A and process B, each request sent only after the previous one
/// was acknowledged, so acknowledgement order is PostgreSQL's commit order. The boards' ranks —
/// top, player and around, read through either process — must follow that order exactly, on
/// hash and band layouts, `desc` and `asc`, under `replace`, `increment` (an increment of 0 takes
/// a new time) and `best` (a submission that does not improve keeps the old time); batches take
/// their items' order, a removed player that comes back takes a new time. LEADERBOARD_TEST_SEED
/// replays a run's writes.
@Suite(.serialized) struct TieBreakAcrossProcessesTests {
    struct Spec: Sendable {
        let name: String
        let tieBreak: TieBreak
        let order: LeaderboardCore.SortOrder
        let mode: UpdateMode
        let layout: String
        /// The values submitted (few: most of the board ties).
        let values: [Int64]
    }

    static let specs = [
        Spec(name: "earliest-hash", tieBreak: .earliest, order: .desc, mode: .replace, layout: #"{"strategy": "hash", "shards": 4}"#, values: [10, 20, 30]),
        // Bands (−∞, 15), [15, 35), [35, ∞): equal scores in one band, 20 and 30 tied in another,
        // and a new score moves the player to another band with its new time.
        Spec(name: "earliest-band", tieBreak: .earliest, order: .desc, mode: .replace, layout: #"{"strategy": "band", "bounds": [15, 35]}"#, values: [10, 20, 30, 40]),
        Spec(name: "latest-hash-asc", tieBreak: .latest, order: .asc, mode: .increment, layout: #"{"strategy": "hash", "shards": 4}"#, values: [0, 0, 1]),
        Spec(name: "latest-band-best", tieBreak: .latest, order: .desc, mode: .best, layout: #"{"strategy": "band", "bounds": [15, 35]}"#, values: [10, 20, 30, 40]),
    ]
    static let players = 30
    static let steps = 200
    /// Steps between two checks of the whole board through both processes.
    static let checkEvery = 10

    @Test(.timeLimit(.minutes(3))) func ranksFollowAcknowledgementOrderAcrossTwoProcesses() async throws {
        let client = HTTPClient.shared
        let seed = ProcessInfo.processInfo.environment["LEADERBOARD_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max / 2)
        print("tie-break across processes: seed \(seed)")
        let (first, second) = try await ServerProcess.startTwo(client: client)
        defer {
            first.stop()
            second.stop()
        }
        let servers = [first, second]

        let started = ContinuousClock.now
        // The boards run side by side (each strictly sequential: per board, commit order is
        // acknowledgement order; across boards it does not matter).
        let results = try await withThrowingTaskGroup(of: (Spec, String, ReferenceBoard, Report).self) { group in
            for (index, spec) in Self.specs.enumerated() {
                group.addTask {
                    let board = TestEnvironment.uniqueID("tie2-\(spec.name)")
                    let (model, report) = try await Self.run(spec, board: board, servers, client, seed: seed &+ UInt64(index) &* 7919)
                    return (spec, board, model, report)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        print("tie-break across processes: \(Self.specs.count) boards × \(Self.steps) writes took \(ContinuousClock.now - started)")

        // PostgreSQL's current scores and its order (score, tie key) equal the acknowledged writes'.
        let postgres = PGConnectionPool(configuration: TestEnvironment.config.postgresPool)
        for (spec, board, model, report) in results {
            print("tie-break across processes, \(spec.name): \(report)")
            #expect(report.problems.isEmpty, "\(spec.name) (seed \(seed)): \(report.problems.prefix(4).joined(separator: "\n"))")
            #expect(report.checks >= Self.steps / Self.checkEvery, "\(spec.name): too few checks")
            let stored = try await postgresScores(postgres, board: board)
            #expect(stored == model.scores, "\(spec.name): PostgreSQL's scores differ from the acknowledged writes")
            let direction = spec.order == .desc ? "DESC" : "ASC"
            let order = try await postgres.query(
                "SELECT player_id FROM player_scores WHERE leaderboard_id = $1 ORDER BY score \(direction), tie_key \(direction), player_id \(direction)", [board]
            ).rows.map { try $0.text(0) }
            #expect(order == model.ranked().map(\.playerID), "\(spec.name): PostgreSQL's order is not the acknowledgement order")
        }
        await postgres.shutdown()

        // Deleted through the other process: no key of the boards (tie maps included) is left.
        let config = TestEnvironment.config
        let pools = try config.loadTopology().nodes.map { RedisConnectionPool(configuration: config.redisPool(for: $0)) }
        for (spec, board, _, _) in results {
            let deleted = try await second.call(client, .DELETE, "/api/v1/leaderboards/\(board)")
            #expect(deleted.status == .noContent, "\(spec.name): DELETE answered \(deleted.status) \(deleted.json)")
        }
        var left: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            left = []
            for pool in pools {
                for (_, board, _, _) in results { left += try await TieBreakRepairTests.keys(of: board, pool) }
            }
            if !left.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        } while !left.isEmpty && ContinuousClock.now < deadline
        #expect(left.isEmpty, "\(left.count) keys of the deleted boards remain, e.g. \(left.sorted().prefix(5))")
        for pool in pools { await pool.shutdown() }

        for server in servers {
            #expect(!server.crashed, "the server on :\(server.port) died: \(server.crashReport)")
        }
    }

    /// What one board's run found.
    struct Report: Sendable, CustomStringConvertible {
        var problems: [String] = []
        var checks = 0
        var playerReads = 0
        /// Whole-board reads that showed an earlier acknowledged state, then the current one.
        var lagging = 0
        /// Requests sent again (no answer, or 503).
        var retries = 0
        var description: String {
            "\(checks) checks, \(playerReads) player reads, \(lagging) lagging board reads, \(retries) requests sent again, \(problems.count) problems"
        }
    }

    /// Creates the board and writes to it through both processes in turn, checking it every
    /// `checkEvery` steps and at the end; returns the model of the acknowledged writes.
    static func run(_ spec: Spec, board: String, _ servers: [ServerProcess], _ client: HTTPClient, seed: UInt64) async throws -> (ReferenceBoard, Report) {
        var random = SeededRandom(seed: seed)
        var report = Report()
        let created = try await servers[0].call(
            client, .POST, "/api/v1/leaderboards",
            body: #"{"id": "\#(board)", "sort_order": "\#(spec.order.rawValue)", "update_mode": "\#(spec.mode.rawValue)", "tie_break": "\#(spec.tieBreak.rawValue)", "max_entries": 0, "layout": \#(spec.layout)}"#
        )
        guard created.status == .created else { throw TestFailure("creating \(spec.name): \(created.status) \(created.json)") }
        var model = ReferenceBoard(order: spec.order, mode: spec.mode, tieBreak: spec.tieBreak)
        // Every state the acknowledged writes produced since the last check (a read may lag one
        // behind an acknowledgement whose change another process applies), the current one last.
        var history: [[LeaderboardEntry]] = [[]]
        let players = (0..<Self.players).map { "q\(($0 * 7) % Self.players)-\(String(UInt32(truncatingIfNeeded: random.next()), radix: 36))" }
        func value() -> Int64 { spec.values[Int(random.next() % UInt64(spec.values.count))] }
        func player() -> String { players[Int(random.next() % UInt64(players.count))] }
        let keyBase = "tb\(UInt32.random(in: .min ... .max))"

        for step in 0..<Self.steps {
            let server = servers[step % 2]
            let where_ = "\(spec.name) step \(step) via :\(server.port)"
            if step % 12 == 11, model.scores.count >= 5 {
                // A removal (the player comes back later with a new time).
                let gone = model.scores.keys.sorted()[Int(random.next() % UInt64(model.scores.count))]
                let (answer, retried) = try await send(server, client, .DELETE, "/api/v1/leaderboards/\(board)/player/\(gone)", body: nil, key: nil)
                report.retries += retried
                // (After a lost answer the retry finds the player gone: 404.)
                if answer.status != .noContent, !(retried > 0 && answer.status == .notFound) {
                    report.problems.append("\(where_): DELETE \(gone) answered \(answer.status) \(answer.json)")
                }
                model.remove(gone)
            } else if step % 6 == 5 {
                // A batch of three items, a player possibly twice (its last item's time counts).
                var items = (0..<3).map { _ in (player(), value()) }
                if random.next() % 2 == 0 { items[2].0 = items[0].0 }
                let (answer, retried) = try await send(
                    server, client, .POST, "/api/v1/scores/batch", body: ServerProcess.batchBody(board: board, items), key: "\(keyBase)-\(spec.name)-\(step)"
                )
                report.retries += retried
                if answer.status != .ok { report.problems.append("\(where_): batch \(items) answered \(answer.status) \(answer.json)") }
                for (player, value) in items { model.submit(player, value) }
            } else {
                let (who, what) = (player(), value())
                let (answer, retried) = try await send(
                    server, client, .POST, "/api/v1/scores", body: ServerProcess.scoreBody(board: board, who, what), key: "\(keyBase)-\(spec.name)-\(step)"
                )
                report.retries += retried
                let expected = model.submit(who, what)
                if answer.status != .ok || answer.integer("score") != expected {
                    report.problems.append("\(where_): POST /scores \(who) \(what) answered \(answer.status) \(answer.json), expected score \(expected)")
                }
            }
            history.append(model.ranked())
            if !report.problems.isEmpty { return (model, report) }
            let last = step == Self.steps - 1
            if step % Self.checkEvery == Self.checkEvery - 1 || last {
                try await check(spec, board, model, history: history, servers, client, full: last, &random, &report)
                history = [model.ranked()]
                if !report.problems.isEmpty { return (model, report) }
            }
        }
        return (model, report)
    }

    /// Sends a request, again while it gets no answer or 503 (which changes nothing), at most 40
    /// times; submissions carry an idempotency key, so a request whose answer was lost is not
    /// applied twice. Returns the answer and how many times it was sent again.
    enum Verb: String { case GET, POST, DELETE }

    static func send(
        _ server: ServerProcess, _ client: HTTPClient, _ method: Verb, _ path: String, body: String?, key: String?
    ) async throws -> (APIResponse, Int) {
        var lastError = ""
        for attempt in 0..<40 {
            do {
                let answer: APIResponse
                switch method {
                case .GET: answer = try await server.call(client, .GET, path, body: body, idempotencyKey: key)
                case .POST: answer = try await server.call(client, .POST, path, body: body, idempotencyKey: key)
                case .DELETE: answer = try await server.call(client, .DELETE, path, body: body, idempotencyKey: key)
                }
                if answer.status != .serviceUnavailable { return (answer, attempt) }
                lastError = "503 \(answer.json)"
            } catch {
                lastError = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("\(method) \(path) through :\(server.port) got no answer but 503 or errors 40 times: \(lastError)")
    }

    /// The board read through both processes equals the model: the whole board by top (an
    /// earlier acknowledged state is waited out, any other answer is wrong), then player reads
    /// (every player at the end, a few on the way) and, at the end, around reads.
    static func check(
        _ spec: Spec, _ board: String, _ model: ReferenceBoard, history: [[LeaderboardEntry]], _ servers: [ServerProcess], _ client: HTTPClient,
        full: Bool, _ random: inout SeededRandom, _ report: inout Report
    ) async throws {
        report.checks += 1
        let want = model.ranked()
        let path = "/api/v1/leaderboards/\(board)"
        for server in servers {
            let where_ = "\(spec.name) after \(model.clock) commits, read through :\(server.port)"
            let deadline = ContinuousClock.now + .seconds(10)
            var matched = false
            var lastAnswer = ""
            while !matched, ContinuousClock.now < deadline {
                guard let top = try? await server.get(client, "\(path)/top?limit=100"), top.status != .serviceUnavailable else {
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                guard top.status == .ok else {
                    report.problems.append("\(where_): top answered \(top.status) \(top.json)")
                    return
                }
                if top.entries == want, top.total == want.count {
                    matched = true
                } else if history.dropLast().contains(top.entries), top.total == top.entries.count {
                    report.lagging += 1
                    lastAnswer = "\(top.entries.map { "\($0.playerID):\($0.score)" })"
                    try await Task.sleep(for: .milliseconds(50))
                } else {
                    report.problems.append(
                        "\(where_): top is no acknowledged state:\n  got  \(top.entries.map { "\($0.rank) \($0.playerID):\($0.score)" })\n  want \(want.map { "\($0.rank) \($0.playerID):\($0.score)" })"
                    )
                    return
                }
            }
            if !matched {
                report.problems.append("\(where_): top never showed the acknowledged writes within 10 s; last: \(lastAnswer)")
                return
            }
            // No write runs now: every read must answer the current state.
            var sample = want
            if !full {
                sample = (0..<min(6, want.count)).map { _ in want[Int(random.next() % UInt64(want.count))] }
            }
            for entry in sample {
                let answer = try await read(server, client, "\(path)/player/\(entry.playerID)")
                report.playerReads += 1
                if answer.entry != entry { report.problems.append("\(where_): player \(entry.playerID): got \(answer.json), want \(entry)") }
            }
            if full {
                for entry in want.prefix(1) + want.suffix(1) + [want[want.count / 2]] {
                    let around = try await read(server, client, "\(path)/around/\(entry.playerID)?range=3")
                    let expected = Array(want[max(0, entry.rank - 4)..<min(want.count, entry.rank + 3)])
                    if around.entries != expected {
                        report.problems.append("\(where_): around \(entry.playerID): got \(around.entries.map(\.playerID)), want \(expected.map(\.playerID))")
                    }
                }
                let ids = want.map(\.playerID).shuffled(using: &random).prefix(10)
                let friends = try await read(server, client, "\(path)/players?ids=\(ids.joined(separator: ","))")
                let expected = want.filter { ids.contains($0.playerID) }
                if friends.entries != expected { report.problems.append("\(where_): players \(ids): got \(friends.entries), want \(expected)") }
            }
            // Removed players are not found.
            for gone in Set(history.joined().map(\.playerID)).subtracting(model.scores.keys).sorted().prefix(2) {
                let answer = try await read(server, client, "\(path)/player/\(gone)")
                if answer.errorCode != "player_not_found" { report.problems.append("\(where_): removed player \(gone): \(answer.json)") }
            }
        }
    }

    /// A read, again while it gets no answer or 503 (at most 40 times).
    static func read(_ server: ServerProcess, _ client: HTTPClient, _ path: String) async throws -> APIResponse {
        try await send(server, client, .GET, path, body: nil, key: nil).0
    }
}
