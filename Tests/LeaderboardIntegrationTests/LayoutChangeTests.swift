import Foundation
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import RedisClient
import Testing

/// Online layout changes (DESIGN.md, "Changing a board's layout online") in one process: the
/// contract of PUT and GET .../layout, and a board that reads exactly the same before and after.
/// One test at a time: each opens its own pools, beside every other suite's.
@Suite(.serialized) struct LayoutChangeTests {
    /// Waits until GET .../layout says stable at `epoch` (at most `limit`); its last answer.
    static func waitForStable(_ api: TestAPI, _ id: String, epoch: Int64, limit: Duration = .seconds(60)) async throws -> APIResponse {
        let deadline = ContinuousClock.now + limit
        var last: APIResponse?
        while ContinuousClock.now < deadline {
            let answer = try await api.get("/api/v1/leaderboards/\(id)/layout")
            last = answer
            if answer.integer("epoch") == epoch, answer["state"] == .string("stable") { return answer }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the layout of \(id) never became stable at epoch \(epoch): \(last?.json ?? .null)")
    }

    /// Every key of the board in Redis, on every node of the test topology.
    static func keys(of id: String, _ system: LeaderboardSystemKeys) async throws -> [String] {
        var keys: [String] = []
        for pool in system.pools {
            let reply = try await pool.command("KEYS", "leaderboard:\(id)[:#]*")
            keys += (reply.array ?? []).compactMap(\.string)
        }
        return keys.sorted()
    }

    @Test func aHashBoardDoublesItsShardsAndReadsTheSame() async throws {
        let id = TestEnvironment.uniqueID("layout-basic")
        try await withTestApp { api, system in
            try await api.createBoard(id, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
            var model = ReferenceBoard(order: .desc, mode: .replace)
            let scores = (0..<500).map { ("p\($0)", Int64(($0 * 37) % 200)) }
            for (player, score) in scores { model.submit(player, score) }
            try await api.submit(id, scores)
            let before = try await api.get("/api/v1/leaderboards/\(id)/layout")
            #expect(before.integer("epoch") == 1)
            #expect(before["state"] == .string("stable"))
            #expect(before["migration"] == .null)

            let started = try await api.request(.put, "/api/v1/leaderboards/\(id)/layout", body: #"{"layout": {"strategy": "hash", "shards": 8}}"#)
            #expect(started.status == .accepted, "\(started.json)")
            #expect(started.integer("epoch") == 2)
            #expect(started["state"] == .string("migrating"))
            let again = try await api.request(.put, "/api/v1/leaderboards/\(id)/layout", body: #"{"layout": {"strategy": "single"}}"#)
            // Either the first change still runs (409), or it already switched and this one starts.
            #expect(again.status == .conflict || again.status == .accepted, "\(again.json)")
            let expectedEpoch: Int64 = again.status == .accepted ? 3 : 2
            if again.status == .conflict { #expect(again.errorCode == "migration_in_progress") }
            let after = try await Self.waitForStable(api, id, epoch: expectedEpoch)
            let shards = after["shards"].flatMap { value -> [JSONValue]? in if case .array(let items) = value { return items } else { return nil } } ?? []
            #expect(shards.count == (expectedEpoch == 2 ? 8 : 1))
            let members = shards.compactMap { $0.object?["members"] }.compactMap { value -> Int64? in if case .integer(let n) = value { return n } else { return nil } }
            #expect(members.reduce(0, +) == 500, "\(after.json)")

            let top = try await api.get("/api/v1/leaderboards/\(id)/top?limit=1000")
            #expect(top.total == 500)
            #expect(top.entries == model.ranked(), "the board reads differently after the change")
            let unchanged = try await api.request(
                .put, "/api/v1/leaderboards/\(id)/layout",
                body: expectedEpoch == 2 ? #"{"layout": {"strategy": "hash", "shards": 8}}"# : #"{"layout": {"strategy": "single"}}"#
            )
            #expect(unchanged.status == .ok, "\(unchanged.json)")
            #expect(unchanged["state"] == .string("stable"))

            // The old epochs' keys go once no process can still read them (here: 2 × 1 s + 1 s).
            let nodes = LeaderboardSystemKeys(pools: Array(system.redisNodes.values))
            let deadline = ContinuousClock.now + .seconds(30)
            var left: [String] = []
            repeat {
                try await Task.sleep(for: .milliseconds(250))
                left = try await Self.keys(of: id, nodes).filter { !$0.hasPrefix("leaderboard:\(id)#e\(expectedEpoch):") }
            } while !left.isEmpty && ContinuousClock.now < deadline
            #expect(left.isEmpty, "keys of an old epoch remain: \(left.prefix(5))")
        }
    }

    /// The planner on a skewed board (log-normal scores rounded to 50: heavy ties): bands within
    /// ±5 % of equal where the ties allow, the picture as SVG, and a hash plan whose members per
    /// shard are exactly what the board then holds on that layout.
    @Test(.timeLimit(.minutes(3))) func thePlannerBalancesASkewedBoard() async throws {
        let id = TestEnvironment.uniqueID("layout-plan")
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
        let scores = (0..<20_000).map { index -> (String, Int64) in
            let u1 = max(Double(random.next() % 1_000_000) / 1_000_000, 1e-6)
            let u2 = Double(random.next() % 1_000_000) / 1_000_000
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return ("p\(index)", Int64((exp(8 + 0.8 * normal) / 50).rounded()) * 50)
        }
        try await withTestApp { api, _ in
            try await api.createBoard(id, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 2}"#)
            try await api.submit(id, scores)
            let ties = Dictionary(grouping: scores, by: \.1).mapValues(\.count)
            let plan = try await api.get("/api/v1/leaderboards/\(id)/layout/plan?strategy=band&shards=8")
            #expect(plan.status == .ok, "\(plan.json)")
            #expect(plan["strategy"] == .string("band"))
            guard case .array(let bounds)? = plan["bounds"], case .array(let members)? = plan["members"] else {
                throw TestFailure("no bounds or members: \(plan.json)")
            }
            let sizes = members.compactMap { value -> Int? in if case .integer(let n) = value { return Int(n) } else { return nil } }
            let cuts = bounds.compactMap { value -> Int64? in if case .integer(let n) = value { return n } else { return nil } }
            #expect(cuts.count == 7 && sizes.count == 8 && sizes.reduce(0, +) == 20_000, "\(plan.json)")
            let share = 20_000.0 / 8
            for (index, size) in sizes.enumerated() {
                // A band may differ from its share by more than 5 % only by a tie at one of its bounds.
                let edges = [index > 0 ? cuts[index - 1] : nil, index < cuts.count ? cuts[index] : nil].compactMap { $0 }
                let tieAllowance = edges.map { ties[$0] ?? 0 }.max() ?? 0
                #expect(abs(Double(size) - share) <= max(share * 0.05, Double(tieAllowance)), "band \(index): \(size) players, bounds \(cuts)")
            }
            print("planner: 8 bands of a skewed board: \(sizes), imbalance \(plan["imbalance"] ?? .null)")

            let picture = try await api.get("/api/v1/leaderboards/\(id)/layout/plan?strategy=band&shards=8&format=svg")
            #expect(picture.status == .ok)
            #expect(picture.headers[.contentType]?.hasPrefix("image/svg+xml") == true)
            if case .string(let svg) = picture.json {
                #expect(svg.hasPrefix("<?xml") && svg.contains("Score distribution") && cuts.allSatisfy { svg.contains(">\($0)</text>") })
            } else {
                Issue.record("the picture is not text: \(picture.json)")
            }

            let hashPlan = try await api.get("/api/v1/leaderboards/\(id)/layout/plan?strategy=hash&shards=5")
            guard case .array(let planned)? = hashPlan["members"] else { throw TestFailure("\(hashPlan.json)") }
            let change = try await api.request(.put, "/api/v1/leaderboards/\(id)/layout", body: #"{"layout": {"strategy": "hash", "shards": 5}}"#)
            #expect(change.status == .accepted)
            let after = try await Self.waitForStable(api, id, epoch: 2)
            guard case .array(let shards)? = after["shards"] else { throw TestFailure("\(after.json)") }
            #expect(shards.compactMap { $0.object?["members"] } == planned, "the hash plan's counts differ from the shards': \(after.json)")
        }
    }

    /// The worst moments of a switch, with faults injected on purpose: the old epoch's marks set
    /// but their reply lost (twice), so the switch rolls back; and marks left by a switch whose
    /// process died before its rollback. Reads of the board stay right throughout (never stuck on
    /// a retired epoch), the change still completes, and the board equals the model afterwards.
    @Test(.timeLimit(.minutes(2))) func aSwitchThatFailsAfterRetiringRollsBackCleanly() async throws {
        let id = TestEnvironment.uniqueID("layout-fault")
        try await withTestApp { api, system in
            try await api.createBoard(id, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 2}"#)
            var model = ReferenceBoard(order: .desc, mode: .replace)
            let scores = (0..<300).map { ("p\($0)", Int64(($0 * 53) % 400)) }
            for (player, score) in scores { model.submit(player, score) }
            try await api.submit(id, scores)

            // A second service over the same stores whose real-time store fails on purpose.
            let real = system.service
            let faulty = FaultyRealtimeStore(base: real.realtime)
            let stale = StaleBoards()
            let service = LeaderboardService(
                configuration: real.configuration, repository: real.repository, realtime: faulty, writer: real.writer,
                directory: BoardDirectory(repository: real.repository, ttl: .seconds(1)), stale: stale,
                sequencer: ViewSequencer(repository: real.repository, realtime: faulty, stale: stale, logger: TestEnvironment.logger),
                topology: real.topology, logger: TestEnvironment.logger
            )
            let migrator = LayoutMigrator(service: service, logger: TestEnvironment.logger)

            // 1. Marks a dead switch left on the board's current epoch: reads wait, then 503 —
            // never an answer from a retired epoch — until the next attempt takes them back.
            let board = try #require(try await real.repository.leaderboard(id))
            try await faulty.base.retire(board, true)
            await #expect(throws: LeaderboardError.self) { _ = try await real.top(board: id, limit: 10) }

            // 2. The change, whose first two switches lose the reply of their marks.
            faulty.failingRetires.withLockedValue { $0 = 2 }
            guard case .migrating(let epoch) = try await migrator.change(board: id, to: .hash(shards: 4), runHere: false) else {
                throw TestFailure("the change did not start")
            }
            let want = model.ranked()
            let reading = Task {
                var tally = ReadTally()
                let check = PageCheck(order: .desc)
                for _ in 0..<400 {
                    do {
                        let page = try await real.range(board: id, start: 1, end: 300)
                        tally.record("top 300", check.problems(page.entries, total: page.total, start: 1, count: 300) + (page.entries == want ? [] : ["not the model's board"]))
                    } catch let error as LeaderboardError where error.code == .unavailable {
                        tally.unavailable += 1
                    } catch {
                        tally.record("top 300", ["\(error)"])
                    }
                    try? await Task.sleep(for: .milliseconds(5))
                }
                return tally
            }
            let switched = try await migrator.migrate(board: id, epoch: epoch)
            #expect(switched)
            let tally = await reading.value
            print("layout-fault: \(tally); retire calls \(faulty.retires.withLockedValue { $0 })")
            #expect(tally.wrong == 0, "\(tally.examples)")
            let calls = faulty.retires.withLockedValue { $0 }
            // The attempt began by taking back the dead switch's marks; each failed switch took its own back.
            #expect(calls.first.map { $0.epoch == 1 && !$0.retired } == true, "\(calls)")
            let failed = calls.indices.filter { calls[$0].failed }
            #expect(failed.count == 2, "\(calls)")
            for index in failed { #expect(index + 1 < calls.count && calls[index + 1].epoch == 1 && !calls[index + 1].retired, "\(calls)") }
            #expect(calls.last.map { $0.epoch == 1 && $0.retired && !$0.failed } == true, "the last switch marked and committed: \(calls)")

            let after = try await api.get("/api/v1/leaderboards/\(id)/top?limit=300")
            #expect(after.entries == model.ranked())
            let layout = try await api.get("/api/v1/leaderboards/\(id)/layout")
            #expect(layout.integer("epoch") == Int64(epoch) && layout["state"] == .string("stable"), "\(layout.json)")
        }
    }

    @Test func badLayoutRequestsChangeNothing() async throws {
        let id = TestEnvironment.uniqueID("layout-bad")
        try await withTestApp { api, _ in
            try await api.createBoard(id, #""layout": {"strategy": "hash", "shards": 2}"#)
            for body in [
                #"{"layout": {"strategy": "hash", "shards": 0}}"#, #"{"layout": {"strategy": "band", "bounds": [5, 5]}}"#,
                #"{"layout": {"strategy": "cube"}}"#, #"{"shards": 4}"#, #"{"layout": {"strategy": "single"}, "now": true}"#, "[]",
            ] {
                let answer = try await api.request(.put, "/api/v1/leaderboards/\(id)/layout", body: body)
                #expect(answer.status == .badRequest, "\(body): \(answer.status) \(answer.json)")
            }
            let missing = try await api.request(.put, "/api/v1/leaderboards/no-such-\(id)/layout", body: #"{"layout": {"strategy": "single"}}"#)
            #expect(missing.status == .notFound)
            let layout = try await api.get("/api/v1/leaderboards/\(id)/layout")
            #expect(layout.integer("epoch") == 1)
            #expect(layout["state"] == .string("stable"))
            for query in ["", "?strategy=cube&shards=4", "?strategy=band&shards=1", "?strategy=hash&shards=999", "?strategy=hash&shards=4&format=png"] {
                let plan = try await api.get("/api/v1/leaderboards/\(id)/layout/plan\(query)")
                #expect(plan.status == .badRequest, "\(query): \(plan.status)")
            }
        }
    }
}

/// The Redis pools of a system, for looking at keys.
struct LeaderboardSystemKeys {
    let pools: [RedisConnectionPool]
}
