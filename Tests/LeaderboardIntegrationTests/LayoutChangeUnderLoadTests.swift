import AsyncHTTPClient
import Foundation
import LeaderboardCore
import LeaderboardStore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import PostgresClient
import RedisClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every kind of layout change on live boards served by two server processes (DESIGN.md,
/// "Changing a board's layout online"): writers on both move players across bands and shards,
/// add and remove players; readers on both read whole boards, ranks and around. Every read is
/// 200 or 503, every 200 one sorted set's answer with no player missing; afterwards the board
/// equals PostgreSQL on both processes, the old epoch left no key, and the layout is the new one.
@Suite(.serialized) struct LayoutChangeUnderLoadTests {
    static let fixedPlayers = 300
    static let removablePlayers = 40
    /// Load before the changes start, and after the last one switched.
    static let lead: Duration = .seconds(2)
    static let tail: Duration = .seconds(2)
    /// A server reads a board's row again after this (the old epoch's keys go 2 × this + 1 s after the switch).
    static let cacheTTL = "1s"

    /// One board of the test: its change, and what the test saw.
    final class Board: Sendable {
        let name: String
        let id: String
        let from: String
        /// The new layout as JSON; nil: the planner's band proposal (asked for during the load).
        let to: String?
        let random: NIOLockedValueBox<SeededRandom>
        let state = NIOLockedValueBox(State())
        let check = PageCheck(order: .desc)

        struct State {
            var reads = ReadTally()
            /// When each 503 of a read came, with its message.
            var unavailable: [(at: ContinuousClock.Instant, message: String)] = []
            /// Acknowledged scores of the players (nil: removed), per player the last one.
            var acknowledged: [String: Int64?] = [:]
            /// Players whose last write got no clear answer (PostgreSQL decides).
            var uncertain: Set<String> = []
            var writes = 0
            var writesUnavailable = 0
            var changeSent: ContinuousClock.Instant?
            var switchedSeen: ContinuousClock.Instant?
            var newLayout: JSONValue?
        }

        init(_ name: String, from: String, to: String?, seed: UInt64) {
            self.name = name
            id = TestEnvironment.uniqueID("relayout-\(name)")
            self.from = from
            self.to = to
            random = NIOLockedValueBox(SeededRandom(seed: seed))
        }

        func next(_ bound: Int) -> Int { random.withLockedValue { Int($0.next() % UInt64(bound)) } }
    }

    @Test(.timeLimit(.minutes(4))) func everyKindOfChangeUnderLoadOnTwoProcesses() async throws {
        let client = HTTPClient.shared
        let seed = ProcessInfo.processInfo.environment["LEADERBOARD_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max / 2)
        print("layout-change: seed \(seed)")
        let boards = [
            Board("hash4-hash8", from: #"{"strategy": "hash", "shards": 4}"#, to: #"{"strategy": "hash", "shards": 8}"#, seed: seed &+ 1),
            Board("hash8-hash2", from: #"{"strategy": "hash", "shards": 8}"#, to: #"{"strategy": "hash", "shards": 2}"#, seed: seed &+ 2),
            Board("single-hash8", from: #"{"strategy": "single"}"#, to: #"{"strategy": "hash", "shards": 8}"#, seed: seed &+ 3),
            Board("hash4-planned-band", from: #"{"strategy": "hash", "shards": 4}"#, to: nil, seed: seed &+ 4),
            Board("band-band", from: #"{"strategy": "band", "bounds": [250, 500, 750]}"#, to: #"{"strategy": "band", "bounds": [100, 300, 600, 900]}"#, seed: seed &+ 5),
            Board("band-single", from: #"{"strategy": "band", "bounds": [250, 500, 750]}"#, to: #"{"strategy": "single"}"#, seed: seed &+ 6),
        ]
        let environment = ["LEADERBOARD_LEADERBOARD_CONFIG_CACHE_TTL": Self.cacheTTL]
        let firstPort = try freeLoopbackPort()
        var secondPort = try freeLoopbackPort()
        while secondPort == firstPort { secondPort = try freeLoopbackPort() }
        let first = try await ServerProcess.start(port: firstPort, extraEnvironment: environment, client: client)
        defer { first.stop() }
        let second = try await ServerProcess.start(port: secondPort, extraEnvironment: environment, client: client)
        defer { second.stop() }
        let servers = [first, second]

        for board in boards {
            let created = try await first.call(
                client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board.id)", "max_entries": 0, "layout": \#(board.from)}"#
            )
            #expect(created.status == .created, "\(board.name): \(created.json)")
            // Scores skewed toward the low end, with ties, so the planner has something to balance.
            let seeded = (0..<Self.fixedPlayers).map { index -> (String, Int64) in
                let draw = Double(board.next(1000)) / 1000
                return ("f\(index)", Int64(draw * draw * 999))
            }
            try await first.submitBatch(client, board: board.id, seeded)
            board.state.withLockedValue { state in for (player, score) in seeded { state.acknowledged[player] = score } }
        }

        let started = ContinuousClock.now
        let done = NIOLockedValueBox(false)
        await withTaskGroup(of: Void.self) { group in
            for (index, server) in servers.enumerated() {
                for board in boards {
                    group.addTask { await Self.writer(board, server, client, writer: index, done: done) }
                    group.addTask { await Self.reader(board, server, client, done: done) }
                }
            }
            // The changes, half through each process, once the load runs.
            group.addTask {
                try? await Task.sleep(for: Self.lead)
                await withTaskGroup(of: Void.self) { changes in
                    for (index, board) in boards.enumerated() {
                        changes.addTask { await Self.change(board, servers[index % 2], servers[(index + 1) % 2], client) }
                    }
                }
                try? await Task.sleep(for: Self.tail)
                done.withLockedValue { $0 = true }
            }
            // A bound on the whole load, whatever happens.
            group.addTask {
                while !done.withLockedValue({ $0 }) {
                    if ContinuousClock.now - started > .seconds(120) { done.withLockedValue { $0 = true } }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }

        let postgres = PGConnectionPool(configuration: TestEnvironment.config.postgresPool)
        defer { Task { await postgres.shutdown() } }
        for board in boards {
            let state = board.state.withLockedValue { $0 }
            let stored = try await postgresScores(postgres, board: board.id)
            // No acknowledged write lost: PostgreSQL holds every player's last acknowledged score.
            for (player, score) in state.acknowledged where !state.uncertain.contains(player) {
                #expect(stored[player] == score, "\(board.name): \(player) acknowledged \(String(describing: score)), PostgreSQL has \(String(describing: stored[player]))")
            }
            let switching = state.unavailable.filter { $0.message.contains("switching") }
            let span = switching.isEmpty ? Duration.zero : switching.map(\.at).max()! - switching.map(\.at).min()!
            print(
                "layout-change \(board.name): \(state.reads); writes \(state.writes) sent, \(state.writesUnavailable) answered 503; "
                    + "\(switching.count) reads answered 503 in the switch (over \(span)); change sent at "
                    + "\(state.changeSent.map { "\($0 - started)" } ?? "never"), seen switched at \(state.switchedSeen.map { "\($0 - started)" } ?? "never")"
            )
            if !state.reads.examples.isEmpty { print("layout-change \(board.name) wrong answers, e.g.:\n  " + state.reads.examples.joined(separator: "\n  ")) }
            #expect(state.reads.wrong == 0, "\(board.name): \(state.reads.wrong) of \(state.reads.checked) reads wrong, e.g. \(state.reads.examples.prefix(3))")
            #expect(state.reads.checked >= 20, "\(board.name): too few reads checked")
            #expect(state.switchedSeen != nil, "\(board.name): the change never switched")
            // 503s only around the switch: after the change was sent and before a second past the
            // moment the test saw it switched.
            if let sent = state.changeSent, let switched = state.switchedSeen {
                let outside = state.unavailable.filter { $0.at < sent || $0.at > switched + .seconds(1) }
                #expect(outside.isEmpty, "\(board.name): \(outside.count) reads answered 503 outside the change, e.g. \(outside.first?.message ?? "")")
            }
            #expect(state.unavailable.count * 10 <= state.reads.checked + state.unavailable.count, "\(board.name): too many 503s (\(state.unavailable.count))")
        }

        // Afterwards: on both processes the board equals PostgreSQL, and its layout is the new one.
        for board in boards {
            let stored = try await postgresScores(postgres, board: board.id)
            let want = stored.map { LeaderboardEntry(rank: 0, playerID: $0.key, score: $0.value) }
                .sorted { SortOrder.desc.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
                .enumerated().map { LeaderboardEntry(rank: $0.offset + 1, playerID: $0.element.playerID, score: $0.element.score) }
            for server in servers {
                var matched = false
                var last = ""
                for _ in 0..<40 where !matched {
                    let page = try await server.get(client, "/api/v1/leaderboards/\(board.id)/range?start=1&end=1000")
                    matched = page.status == .ok && page.entries.map { LeaderboardEntry(rank: $0.rank, playerID: $0.playerID, score: $0.score) } == want
                    last = "\(page.status) total \(page.total ?? -1)"
                    if !matched { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(matched, "\(board.name) on :\(server.port) never equalled PostgreSQL (\(want.count) players): \(last)")
                for entry in want.enumerated().filter({ $0.offset % 29 == 0 }).map(\.element) {
                    let answer = try await server.get(client, "/api/v1/leaderboards/\(board.id)/player/\(entry.playerID)")
                    #expect(answer.entry.map { LeaderboardEntry(rank: $0.rank, playerID: $0.playerID, score: $0.score) } == entry, "\(board.name): \(entry.playerID): \(answer.status) \(answer.json)")
                    let around = try await server.get(client, "/api/v1/leaderboards/\(board.id)/around/\(entry.playerID)?range=2")
                    #expect(
                        around.entries.map { LeaderboardEntry(rank: $0.rank, playerID: $0.playerID, score: $0.score) }
                            == Array(want[max(0, entry.rank - 3)..<min(want.count, entry.rank + 2)]),
                        "\(board.name): around \(entry.playerID): \(around.status) \(around.json)"
                    )
                }
            }
            let layout = try await first.get(client, "/api/v1/leaderboards/\(board.id)/layout")
            #expect(layout.integer("epoch") == 2, "\(board.name): \(layout.json)")
            #expect(layout["state"] == .string("stable"))
            if let newLayout = board.state.withLockedValue({ $0.newLayout }) { #expect(layout["layout"] == newLayout, "\(board.name): \(layout.json)") }
        }

        // The old epoch's keys are removed once no process can read them (2 × 1 s + 1 s after the switch).
        let config = TestEnvironment.config
        let redis = try config.loadTopology().nodes.map { RedisConnectionPool(configuration: config.redisPool(for: $0)) }
        defer { Task { for pool in redis { await pool.shutdown() } } }
        for board in boards {
            var left: [String] = []
            let deadline = ContinuousClock.now + .seconds(20)
            repeat {
                left = []
                for pool in redis {
                    let reply = try await pool.command("KEYS", "leaderboard:\(board.id)[:#]*")
                    left += (reply.array ?? []).compactMap(\.string).filter { !$0.hasPrefix("leaderboard:\(board.id)#e2:") }
                }
                if !left.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
            } while !left.isEmpty && ContinuousClock.now < deadline
            #expect(left.isEmpty, "\(board.name): keys of the old epoch remain: \(left.sorted().prefix(4))")
        }
        for server in servers { #expect(!server.crashed, "the server on :\(server.port) died: \(server.crashReport)") }
    }

    /// kill -9 of the process running a change, mid-build: another process (started after the
    /// kill) takes the change over once its lease runs out and completes it. Meanwhile that
    /// process serves the board from the old epoch (every read right or 503) and acknowledges
    /// writes; afterwards the board equals PostgreSQL on the new layout, nothing half-switched.
    @Test(.timeLimit(.minutes(4))) func aKilledMigrationIsTakenOverAndCompleted() async throws {
        let client = HTTPClient.shared
        let environment = ["LEADERBOARD_LEADERBOARD_CONFIG_CACHE_TTL": Self.cacheTTL]
        let id = TestEnvironment.uniqueID("relayout-kill")
        let postgres = PGConnectionPool(configuration: TestEnvironment.config.postgresPool)
        defer { Task { await postgres.shutdown() } }
        let first = try await ServerProcess.start(port: try freeLoopbackPort(), extraEnvironment: environment, client: client)
        defer { first.stop() }
        let created = try await first.call(
            client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(id)", "max_entries": 0, "layout": {"strategy": "hash", "shards": 4}}"#
        )
        #expect(created.status == .created)
        // A board big enough that its build takes a while: 150,000 players straight into
        // PostgreSQL, then the real-time view rebuilt from it; 200 more through the API.
        _ = try await postgres.query(
            "INSERT INTO player_scores (leaderboard_id, player_id, score) SELECT $1, 'm' || g, (g * 7919) % 100000 FROM generate_series(1, 150000) g",
            [id]
        )
        let (rebuilt, output) = try await ServerProcess.runCommand(["rebuild", "--board", id], timeout: .seconds(120))
        #expect(rebuilt == 0, "\(output.suffix(1000))")
        var acknowledged: [String: Int64] = [:]
        let tracked = (0..<200).map { ("t\($0)", Int64(($0 * 331) % 100_000)) }
        try await first.submitBatch(client, board: id, tracked)
        for (player, score) in tracked { acknowledged[player] = score }

        let started = try await first.call(client, .PUT, "/api/v1/leaderboards/\(id)/layout", body: #"{"layout": {"strategy": "hash", "shards": 8}}"#)
        #expect(started.status == .accepted, "\(started.json)")
        try await Task.sleep(for: .milliseconds(300))
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let state = try await postgres.query("SELECT state FROM board_migrations WHERE leaderboard_id = $1 AND epoch = 2", [id]).rows.first?[0]
        #expect(state == "migrating", "the change was not mid-way when the process was killed (\(state ?? "no row")): the board is too small to test this")
        let target = try await postgres.query("SELECT migration_target IS NOT NULL, layout_epoch FROM leaderboards WHERE id = $1", [id]).rows.first
        #expect(target?[0] == "t" && target?[1] == "1", "half-switched: \(String(describing: target))")

        let second = try await ServerProcess.start(port: try freeLoopbackPort(), extraEnvironment: environment, client: client)
        defer { second.stop() }
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
        var reads = ReadTally()
        let check = PageCheck(order: .desc)
        var switched = false
        let deadline = ContinuousClock.now + .seconds(90)
        while !switched, ContinuousClock.now < deadline {
            // Writes through the new process, and reads of it, while the change is taken over.
            let (player, _) = tracked[Int(random.next() % UInt64(tracked.count))]
            let score = Int64(random.next() % 100_000)
            let write = try await second.call(client, .POST, "/api/v1/scores", body: ServerProcess.scoreBody(board: id, player, score))
            if write.status == .ok { acknowledged[player] = score } else { #expect(write.status.code == 503, "\(write.status) \(write.json)") }
            let page = try await second.get(client, "/api/v1/leaderboards/\(id)/range?start=1&end=200")
            if page.status == .ok {
                var problems = check.problems(page.entries, total: page.total, start: 1, count: 200)
                if page.total != 150_200 { problems.append("total \(page.total ?? -1), expected 150200") }
                reads.record("top 200", problems)
            } else {
                #expect(page.status.code == 503, "\(page.status) \(page.json)")
                reads.unavailable += 1
            }
            let layout = try await second.get(client, "/api/v1/leaderboards/\(id)/layout")
            switched = layout.integer("epoch") == 2 && layout["state"] == .string("stable")
        }
        print("layout-change kill -9: \(reads) while the change was taken over")
        #expect(switched, "the change was never completed after the kill: \(second.logTail())")
        #expect(second.log.contains("taking over an abandoned layout change"), "the second process did not take the change over")
        #expect(reads.wrong == 0, "\(reads.examples.prefix(3))")

        // Afterwards: the board equals PostgreSQL, with every acknowledged write.
        let stored = try await postgresScores(postgres, board: id)
        for (player, score) in acknowledged { #expect(stored[player] == score, "\(player): acknowledged \(score), PostgreSQL has \(String(describing: stored[player]))") }
        let want = stored.map { LeaderboardEntry(rank: 0, playerID: $0.key, score: $0.value) }
            .sorted { SortOrder.desc.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
        let top = try await second.get(client, "/api/v1/leaderboards/\(id)/range?start=1&end=1000")
        #expect(top.total == 150_200)
        #expect(top.entries.map(\.playerID) == want.prefix(1000).map(\.playerID))
        let deep = try await second.get(client, "/api/v1/leaderboards/\(id)/range?start=100000&end=100050")
        #expect(deep.entries.map(\.playerID) == want[99_999..<100_050].map(\.playerID))
        for (player, _) in tracked.prefix(20) {
            let entry = try await second.get(client, "/api/v1/leaderboards/\(id)/player/\(player)").entry
            let rank = want.firstIndex { $0.playerID == player }.map { $0 + 1 }
            #expect(entry?.rank == rank && entry?.score == stored[player], "\(player): \(String(describing: entry))")
        }
        #expect(!second.crashed, "\(second.crashReport)")
    }

    /// Sends the board's change through `server` and watches it through `other` until it switched.
    static func change(_ board: Board, _ server: ServerProcess, _ other: ServerProcess, _ client: HTTPClient) async {
        var layout = board.to
        if layout == nil {
            // The planner's bounds for 4 bands, from PostgreSQL's scores as they are now.
            if let plan = try? await other.get(client, "/api/v1/leaderboards/\(board.id)/layout/plan?strategy=band&shards=4"),
                let proposed = plan["layout"], let data = try? JSONEncoder().encode(proposed)
            {
                layout = String(decoding: data, as: UTF8.self)
            }
        }
        guard let layout else {
            board.state.withLockedValue { $0.reads.record("plan", ["the planner gave no layout"]) }
            return
        }
        board.state.withLockedValue {
            $0.changeSent = .now
            $0.newLayout = try? JSONDecoder().decode(JSONValue.self, from: Data(layout.utf8))
        }
        let answer = try? await server.call(client, .PUT, "/api/v1/leaderboards/\(board.id)/layout", body: #"{"layout": \#(layout)}"#)
        guard answer?.status == .accepted, answer?.integer("epoch") == 2 else {
            board.state.withLockedValue { $0.reads.record("PUT layout", ["answered \(answer.map { "\($0.status) \($0.json)" } ?? "nothing")"]) }
            return
        }
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let status = try? await other.get(client, "/api/v1/leaderboards/\(board.id)/layout"), status.integer("epoch") == 2,
                status["state"] == .string("stable")
            {
                board.state.withLockedValue { $0.switchedSeen = .now }
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Replace-mode writes over 0…999 (most cross a band) of the players this writer owns (every
    /// other one), single and batched, and additions and removals of its removable players.
    static func writer(_ board: Board, _ server: ServerProcess, _ client: HTTPClient, writer: Int, done: NIOLockedValueBox<Bool>) async {
        let fixed = (0..<fixedPlayers).filter { $0 % 2 == writer }.map { "f\($0)" }
        let removable = (0..<removablePlayers).filter { $0 % 2 == writer }.map { "r\($0)" }
        var steps = 0
        while !done.withLockedValue({ $0 }), steps < 3000 {
            steps += 1
            let roll = board.next(100)
            let changes: [(String, Int64?)]
            let answer: APIResponse?
            if roll < 50 {
                let player = fixed[board.next(fixed.count)]
                let score = Int64(board.next(1000))
                changes = [(player, score)]
                answer = try? await server.call(client, .POST, "/api/v1/scores", body: ServerProcess.scoreBody(board: board.id, player, score))
            } else if roll < 75 {
                let batch = (0..<5).map { _ in (fixed[board.next(fixed.count)], Int64(board.next(1000))) }
                // One player twice in a batch: the last item wins, as the model takes them in order.
                changes = batch.map { ($0.0, Optional($0.1)) }
                answer = try? await server.call(client, .POST, "/api/v1/scores/batch", body: ServerProcess.batchBody(board: board.id, batch))
            } else if roll < 88 {
                let player = removable[board.next(removable.count)]
                let score = Int64(board.next(1000))
                changes = [(player, score)]
                answer = try? await server.call(client, .POST, "/api/v1/scores", body: ServerProcess.scoreBody(board: board.id, player, score))
            } else {
                let player = removable[board.next(removable.count)]
                changes = [(player, nil)]
                answer = try? await server.call(client, .DELETE, "/api/v1/leaderboards/\(board.id)/player/\(player)")
            }
            board.state.withLockedValue { state in
                state.writes += 1
                switch answer?.status.code {
                case 200, 204:
                    for (player, score) in changes { state.acknowledged[player] = score }
                case 404 where changes.count == 1 && changes[0].1 == nil:
                    state.acknowledged[changes[0].0] = .some(nil)  // removing an absent player
                case 503:
                    state.writesUnavailable += 1
                default:
                    for (player, _) in changes { state.uncertain.insert(player) }
                }
            }
        }
    }

    /// Whole-board reads (all fixed players present, exact totals), ranks and around of fixed players.
    static func reader(_ board: Board, _ server: ServerProcess, _ client: HTTPClient, done: NIOLockedValueBox<Bool>) async {
        let fixed = Set((0..<fixedPlayers).map { "f\($0)" })
        var steps = 0
        while !done.withLockedValue({ $0 }), steps < 6000 {
            steps += 1
            let roll = board.next(3)
            let path: String
            let player = "f\(board.next(fixedPlayers))"
            switch roll {
            case 0: path = "/api/v1/leaderboards/\(board.id)/range?start=1&end=1000"
            case 1: path = "/api/v1/leaderboards/\(board.id)/player/\(player)"
            default: path = "/api/v1/leaderboards/\(board.id)/around/\(player)?range=3"
            }
            guard let answer = try? await server.get(client, path) else { continue }
            if answer.status.code == 503 {
                board.state.withLockedValue { $0.unavailable.append((.now, answer.errorMessage)) }
                continue
            }
            var problems: [String] = []
            if answer.status != .ok {
                problems = ["answered \(answer.status) \(answer.json)"]
            } else {
                switch roll {
                case 0:
                    let entries = answer.entries
                    problems = board.check.problems(entries, total: answer.total, start: 1, count: 1000)
                    let missing = fixed.subtracting(entries.map(\.playerID))
                    if !missing.isEmpty { problems.append("\(missing.count) fixed players missing, e.g. \(missing.sorted().prefix(3))") }
                    if let total = answer.total, total > fixedPlayers + removablePlayers { problems.append("total \(total)") }
                case 1:
                    if let entry = answer.entry, entry.playerID == player, (1...(fixedPlayers + removablePlayers)).contains(entry.rank) {} else {
                        problems = ["player \(player): \(answer.json)"]
                    }
                default:
                    problems = board.check.aroundProblems(answer.entries, total: answer.total, player: player, radius: 3)
                }
            }
            board.state.withLockedValue { $0.reads.record("\(path)", problems) }
        }
    }
}
