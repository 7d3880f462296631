import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import Testing

/// Recovery per board: a hung Redis node delays only the boards on it; a board deleted while
/// its node hangs leaves no keys once the node answers; the rebuild command ends; reads of the
/// official snapshot follow a reset; long PostgreSQL reads do not take the writers' connections.
/// Runs alone (it hangs a Redis node of its own and times what must not wait).
@Suite(.serialized) struct RecoveryTests {
    /// A topology of the shared node and one the test can hang (SIGSTOP).
    static func withHangableNode<T: Sendable>(
        redisTimeout: Duration? = nil, syncLease: Duration? = nil, _ body: @Sendable (TestAPI, LeaderboardSystem, RedisProcess) async throws -> T
    ) async throws -> T {
        let redis = RedisProcess(port: try freeLoopbackPort())
        try await redis.start()
        defer { redis.kill() }
        let topology = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(redis.port).yaml").path
        try """
        nodes:
          - id: steady
            address: 127.0.0.1:\(TestEnvironment.config.redis.port)
          - id: hangs
            address: 127.0.0.1:\(redis.port)
        """.write(toFile: topology, atomically: true, encoding: .utf8)
        var config = TestEnvironment.config
        config.topology = topology
        if let redisTimeout { config.redis.timeout = redisTimeout }
        if let syncLease { config.sync.lease = syncLease }
        return try await withTestApp(config: config) { api, system in try await body(api, system, redis) }
    }

    /// A new board id whose single shard the topology places on `node`.
    static func boardID(on node: String, _ system: LeaderboardSystem, prefix: String) -> String {
        while true {
            let id = TestEnvironment.uniqueID(prefix)
            if system.topology.placement(board: id, shards: 1) == [node] { return id }
        }
    }

    static func score(_ board: String, _ player: String, _ value: Int64) -> String {
        #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#
    }

    /// While one node hangs (longer than the Redis timeout would let a write wait), writes to a
    /// board on the other node go on at once; the hung board's writes are durable and arrive in
    /// Redis once the node answers again.
    @Test(.timeLimit(.minutes(2))) func aHungNodeDelaysOnlyItsBoards() async throws {
        try await Self.withHangableNode(redisTimeout: .seconds(8)) { api, system, redis in
            let hung = Self.boardID(on: "hangs", system, prefix: "hung")
            let steady = Self.boardID(on: "steady", system, prefix: "steady")
            try await api.createBoard(hung, #""update_mode": "increment""#)
            try await api.createBoard(steady, #""update_mode": "increment""#)
            try await api.submit(hung, [("h", 1)])
            #expect(try await system.service.directory.board(hung).placement == ["hangs"])

            redis.pause()
            let resumed = NIOLockedValueBox(false)
            let answeredWhileHung = NIOLockedValueBox(0)
            let hungWrites = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<5 {
                        group.addTask {
                            let status = Int(try await api.post("/api/v1/scores", Self.score(hung, "h", 1)).status.code)
                            if !resumed.withLockedValue({ $0 }) { answeredWhileHung.withLockedValue { $0 += 1 } }
                            return status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            // The hung board's group has committed and waits on its node; the other board's
            // writes must not wait behind it (before per-board applies they waited the 8 s timeout).
            let started = ContinuousClock.now
            for index in 0..<10 {
                let answer = try await api.post("/api/v1/scores", Self.score(steady, "s\(index % 3)", 1))
                #expect(answer.status == .ok)
            }
            let took = ContinuousClock.now - started
            #expect(took < .seconds(3), "writes to a board on a healthy node waited \(took) behind a hung node")
            #expect(try await api.get("/api/v1/leaderboards/\(steady)/player/s0").integer("score") == 4)
            // The hung board's writes are still waiting for their node (read-after-write).
            resumed.withLockedValue { $0 = true }
            redis.resume()
            #expect(answeredWhileHung.withLockedValue { $0 } == 0, "the hung board's writes did not wait for their node")

            let hungStatuses = try await hungWrites.value
            #expect(hungStatuses.allSatisfy { $0 == 200 }, "a durable write to the hung board failed: \(hungStatuses)")
            #expect(try await postgresScores(system.service.repository.pool, board: hung) == ["h": 6])
            var seen: Int64?
            for _ in 0..<100 {
                seen = try await api.get("/api/v1/leaderboards/\(hung)/player/h").integer("score")
                if seen == 6 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen == 6, "the hung board did not catch up once its node answered")
        }
    }

    /// DELETE while one of the board's nodes hangs: 204, and once the node answers the keys are
    /// dropped there too; the board created again starts empty.
    @Test(.timeLimit(.minutes(2))) func aBoardDeletedWhileItsNodeHangsLeavesNoKeys() async throws {
        try await Self.withHangableNode(redisTimeout: .seconds(1)) { api, system, redis in
            let board = TestEnvironment.uniqueID("gone")
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 4}"#)
            #expect(Set(try await system.service.directory.board(board).placement) == ["steady", "hangs"])
            try await api.submit(board, (0..<200).map { ("p\($0)", Int64($0)) })
            let database = TestEnvironment.config.redis.db
            #expect(try redis.cli(["--scan", "--pattern", "leaderboard:\(board):*"], database: database).isEmpty == false)

            redis.pause()
            #expect(try await api.delete("/api/v1/leaderboards/\(board)").status == .noContent)
            let pending = try await system.service.repository.pendingRemovals().map(\.config.id)
            #expect(pending.contains(board), "the delete did not record that keys remain")
            redis.resume()

            var left = "?"
            for _ in 0..<100 {
                left = try redis.cli(["--scan", "--pattern", "leaderboard:\(board):*"], database: database)
                if left.isEmpty, try await !system.service.repository.pendingRemovals().map(\.config.id).contains(board) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(left.isEmpty, "keys of the deleted board remain: \(left)")
            #expect(try await !system.service.repository.pendingRemovals().map(\.config.id).contains(board))
            let steadyLeft = try await system.redisNodes["steady"]!.command("KEYS", "leaderboard:\(board):*")
            #expect(steadyLeft.array?.isEmpty == true)

            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 4}"#)
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=10")
            #expect(top.status == .ok)
            #expect(top.integer("total") == 0)
        }
    }

    /// `leaderboard-server rebuild --board ID` ends (it used to wait forever on the writers'
    /// lock, with no writer running in the command).
    @Test(.timeLimit(.minutes(2))) func theRebuildCommandFinishes() async throws {
        let board = TestEnvironment.uniqueID("cli-rebuild")
        try await withTestApp { api, _ in
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 4}"#)
            try await api.submit(board, (0..<500).map { ("p\($0)", Int64($0)) })
        }
        let (status, output) = try await ServerProcess.runCommand(["rebuild", "--board", board], timeout: .seconds(60))
        #expect(status == 0, "rebuild did not finish with 0: \(output.suffix(2000))")
        try await withTestApp { api, _ in
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=3")
            #expect(top.integer("total") == 500)
            #expect(top.entries.map(\.playerID) == ["p499", "p498", "p497"])
        }
    }

    /// After a reset, `source=batch` reads the new period (its snapshot is empty until the next
    /// pass), not the archived standings.
    @Test func batchReadsAfterAResetShowTheNewPeriod() async throws {
        let board = TestEnvironment.uniqueID("batch-reset")
        try await withTestApp { api, _ in
            try await api.createBoard(board)
            try await api.submit(board, [("a", 3), ("b", 2), ("c", 1)])
            #expect(try await api.post("/api/v1/leaderboards/\(board)/sync", "").status == .ok)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top?source=batch").integer("total") == 3)
            #expect(try await api.post("/api/v1/leaderboards/\(board)/reset", "").status == .ok)
            let after = try await api.get("/api/v1/leaderboards/\(board)/top?source=batch")
            #expect(after.status == .ok)
            #expect(after.integer("total") == 0)
            #expect(after.entries.isEmpty)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/a?source=batch").status == .notFound)
            try await api.submit(board, [("d", 9)])
            #expect(try await api.post("/api/v1/leaderboards/\(board)/sync", "").status == .ok)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top?source=batch").entries.map(\.playerID) == ["d"])
        }
    }

    /// Many `source=batch` reads of a big board without a snapshot (the first takes it) while
    /// writes go on: with two writer connections and a 1 s wait for one, no write is refused,
    /// since long reads have a pool of their own.
    @Test(.timeLimit(.minutes(3))) func snapshotReadsDoNotTakeTheWritersConnections() async throws {
        let big = TestEnvironment.uniqueID("batch-big")
        let other = TestEnvironment.uniqueID("batch-w")
        var config = TestEnvironment.config
        config.postgres.maxConnections = 2
        config.postgres.readConnections = 2
        config.postgres.acquireTimeout = .seconds(1)
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(big, #""max_entries": 0"#)
            try await api.createBoard(other, #""update_mode": "increment""#)
            try await api.submit(big, (0..<30_000).map { ("p\($0)", Int64($0 % 5000)) })
            let reads = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for reader in 0..<8 {
                        group.addTask {
                            var served = 0
                            for round in 0..<6 {
                                let start = 1 + ((reader * 7_919 + round * 3_571) % 29_000)
                                let page = try await api.get("/api/v1/leaderboards/\(big)/range?start=\(start)&end=\(start + 99)&source=batch")
                                if page.status == .ok { served += 1 }
                            }
                            return served
                        }
                    }
                    return try await group.reduce(0, +)
                }
            }
            var statuses: [Int] = []
            for index in 0..<40 {
                statuses.append(Int(try await api.post("/api/v1/scores", Self.score(other, "w\(index % 4)", 1)).status.code))
            }
            #expect(statuses.allSatisfy { $0 == 200 }, "writes refused while batch reads ran: \(statuses)")
            // Reads wait for the read pool (and may get 503 when it stays busy): writes never do.
            #expect(try await reads.value > 0)
            #expect(try await postgresScores(system.service.repository.pool, board: other).values.reduce(0, +) == 40)
        }
    }

    /// A pass that outlasts its lease (its node hangs longer than the lease) keeps it, renewed:
    /// no other holder takes the board meanwhile, and a second pass, requested now, is skipped.
    @Test(.timeLimit(.minutes(2))) func aLongSyncPassRenewsItsLeaseAndHoldsItAlone() async throws {
        try await Self.withHangableNode(redisTimeout: .seconds(5), syncLease: .seconds(1)) { api, system, redis in
            let board = Self.boardID(on: "hangs", system, prefix: "lease")
            try await api.createBoard(board)
            try await api.submit(board, (0..<50).map { ("p\($0)", Int64($0)) })
            redis.pause()
            let pass = Task { try await system.sync.sync(board) }
            try await Task.sleep(for: .milliseconds(2_500))
            // Without renewal the 1 s lease would have lapsed by now.
            let intruder = try await system.service.repository.acquireSyncLease(board: board, holder: "intruder", seconds: 1)
            #expect(!intruder, "the lease of a running pass lapsed")
            let second = try await system.sync.sync(board)
            #expect(second.status.hasPrefix("skipped"), "a second pass ran beside the first: \(second.status)")
            redis.resume()
            let report = try await pass.value
            #expect(report.status == "ok", "\(report.status)")
            // Released at the end: the next pass runs.
            #expect(try await system.sync.sync(board).status == "ok")
        }
    }
}
