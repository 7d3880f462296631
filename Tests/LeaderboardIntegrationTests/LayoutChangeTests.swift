import Foundation
import LeaderboardCore
import LeaderboardStore
import LeaderboardTestSupport
import RedisClient
import Testing

/// Online layout changes (DESIGN.md, "Changing a board's layout online") in one process: the
/// contract of PUT and GET .../layout, and a board that reads exactly the same before and after.
@Suite struct LayoutChangeTests {
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
            let reply = try await pool.command("KEYS", "leaderboard:\(id):*")
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
                left = try await Self.keys(of: id, nodes).filter { !$0.hasPrefix("leaderboard:\(id):e\(expectedEpoch):") }
            } while !left.isEmpty && ContinuousClock.now < deadline
            #expect(left.isEmpty, "keys of an old epoch remain: \(left.prefix(5))")
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
