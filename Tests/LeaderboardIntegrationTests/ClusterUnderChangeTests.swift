import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardStore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import RedisClient
import Testing

/// A busy board on the Redis Cluster of Topology/cluster.yaml while the cluster changes
/// (DESIGN.md, "Redis Cluster as the shard substrate"): writers and readers run while the slots of
/// the board's shards move to other masters and back, or while a master is killed (kill -9), its
/// replica promoted and the killed node restarted as a replica. Every read answers 200 with a
/// valid page of one sorted set, or 503; every acknowledged score is in PostgreSQL; and once the
/// changes end, Redis converges to PostgreSQL (every player's rank and the whole board).
@Suite(.serialized, .timeLimit(.minutes(4))) struct ClusterUnderChangeTests {
    static let shards = 4
    static let seeded = 2_000
    static let writers = 2
    static let writesPerWriter = 400

    struct Load: Sendable {
        var reads = ReadTally()
        var acknowledged: [String: Int64] = [:]
        var refused = 0
        var failed: [String] = []
    }

    /// Runs writers and readers on `board` until `change` ends (and at least a few seconds), then
    /// checks what DESIGN.md promises.
    static func underLoad(
        _ name: String, tieBreak: TieBreak, band: Bool = false, change: @escaping @Sendable (LeaderboardSystem, String) async throws -> Void
    ) async throws {
        try await withTestApp(config: TestEnvironment.clusterConfig) { api, system in
            let board = TestEnvironment.uniqueID(name)
            try await api.createBoard(
                board,
                #""max_entries": 0, "tie_break": "\#(tieBreak.rawValue)", "layout": \#(band ? #"{"strategy": "band", "bounds": [125, 250, 375]}"# : #"{"strategy": "hash", "shards": \#(shards)}"#)"#
            )
            try await api.submit(board, (0..<seeded).map { ("s\($0)", Int64(($0 * 7919) % 500)) })
            let load = NIOLockedValueBox(Load())
            let done = NIOLockedValueBox(false)
            let check = PageCheck(order: .desc, tieBreak: tieBreak)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var random = SystemRandomNumberGenerator()
                        for step in 0..<writesPerWriter {
                            if done.withLockedValue({ $0 }) && step > 50 { break }
                            // Each player has one writer, so its last acknowledged score is its score.
                            let player = "w\(writer)-\(Int.random(in: 0..<150, using: &random))"
                            let score = Int64.random(in: 0..<500, using: &random)
                            let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(score), "game_id": "\#(board)"}"#)
                            load.withLockedValue { load in
                                switch answer.status.code {
                                case 200: load.acknowledged[player] = score
                                case 503: load.refused += 1
                                default: load.failed.append("POST \(player): \(answer.status) \(answer.json)")
                                }
                            }
                        }
                    }
                }
                for reader in 0..<2 {
                    group.addTask {
                        var step = 0
                        while !done.withLockedValue({ $0 }), step < 3000 {
                            step += 1
                            let start = reader == 0 ? 1 : Int.random(in: 1...seeded)
                            let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + 24)")
                            load.withLockedValue { load in
                                switch page.status.code {
                                case 200:
                                    let problems = check.problems(page.entries, total: page.integer("total").map(Int.init), start: start, count: 25)
                                    load.reads.checked += 1
                                    if !problems.isEmpty {
                                        load.reads.wrong += 1
                                        load.failed.append("range \(start): \(problems.prefix(3))")
                                    }
                                case 503: load.reads.unavailable += 1
                                default: load.failed.append("range \(start): \(page.status) \(page.json)")
                                }
                            }
                        }
                    }
                }
                group.addTask {
                    defer { done.withLockedValue { $0 = true } }
                    try await Task.sleep(for: .seconds(1))
                    try await change(system, board)
                    try await Task.sleep(for: .seconds(2))
                }
                try await group.waitForAll()
            }
            let result = load.withLockedValue { $0 }
            print("\(name): \(result.reads), \(result.acknowledged.count) players acknowledged, \(result.refused) writes refused (503)")
            #expect(result.failed.isEmpty, "\(result.failed.count) wrong answers: \(result.failed.prefix(5))")
            #expect(result.reads.checked > 20, "too few reads answered: \(result.reads)")
            // Every acknowledged score is PostgreSQL's.
            let rows = try await system.postgres.query(
                "SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1 ORDER BY score DESC, tie_key DESC, player_id DESC", [board]
            )
            let stored = try rows.rows.map { (try $0.text(0), try $0.int64(1)) }
            let byPlayer = Dictionary(uniqueKeysWithValues: stored)
            for (player, score) in result.acknowledged { #expect(byPlayer[player] == score, "acknowledged \(player) = \(score), stored \(String(describing: byPlayer[player]))") }
            // Redis converges to PostgreSQL: the whole board, and a player's rank.
            var last = ""
            let deadline = ContinuousClock.now + .seconds(30)
            var converged = false
            while ContinuousClock.now < deadline {
                // (A range is at most 1,000 ranks.)
                var shown: [String] = []
                var statuses: [String] = []
                for start in stride(from: 1, through: stored.count, by: 1000) {
                    let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + 999)")
                    statuses.append("\(page.status.code)")
                    shown += page.entries.map { "\($0.playerID)=\($0.score)" }
                }
                if shown == stored.map({ "\($0.0)=\($0.1)" }) {
                    converged = true
                    break
                }
                last = "\(statuses): \(shown.count) shown of \(stored.count)"
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(converged, "Redis did not converge to PostgreSQL within 30 s: \(last)")
            for index in [0, stored.count / 2, stored.count - 1] {
                let player = try await api.get("/api/v1/leaderboards/\(board)/player/\(stored[index].0)")
                #expect(player.entry?.rank == index + 1, "\(player.json)")
            }
            try await api.delete("/api/v1/leaderboards/\(board)")
        }
    }

    /// The slot of shard `shard` of `board` (every key of a shard shares it).
    static func slot(_ board: String, shard: Int) -> Int { ClusterSlot.of(RedisKeys.clusterMeta(board, shard: shard, epoch: 1)) }

    /// A band board (players move between bands, so a read mixing two states would show one
    /// twice or not at all) whose keys move one at a time, 300 ms apart; and an earliest hash board
    /// (thousands of tie-map keys a shard) moved 50 keys at a time.
    @Test(arguments: [(TieBreak.playerID, true, 1, 300), (.earliest, false, 50, 20)])
    func theBoardsSlotsMoveToOtherMastersAndBack(tieBreak: TieBreak, band: Bool, batch: Int, pauseMilliseconds: Int) async throws {
        try await Self.underLoad("slots-move", tieBreak: tieBreak, band: band) { system, board in
            let client = try #require(system.redisCluster)
            let mover = RedisClusterClient(configuration: client.configuration)
            defer { Task { await mover.shutdown() } }
            let map = try await mover.refreshSlots()
            var homes: [Int: ClusterAddress] = [:]
            for shard in 0..<Self.shards {
                let slot = Self.slot(board, shard: shard)
                let home = try #require(map.master(of: slot))
                homes[slot] = home
                let target = try #require(map.masters.first { $0 != home })
                try await ClusterClientTests.move(slot: slot, to: target, mover, batch: batch, pause: .milliseconds(pauseMilliseconds))
                try await Task.sleep(for: .milliseconds(300))
            }
            for (slot, home) in homes.sorted(by: { $0.key < $1.key }) {
                try await ClusterClientTests.move(slot: slot, to: home, mover, batch: batch, pause: .milliseconds(pauseMilliseconds))
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    @Test func aMasterKilledIsReplacedByItsReplicaAndComesBackAsOne() async throws {
        try await Self.underLoad("failover", tieBreak: .playerID) { system, board in
            let client = try #require(system.redisCluster)
            let watcher = RedisClusterClient(configuration: client.configuration)
            defer { Task { await watcher.shutdown() } }
            let map = try await watcher.refreshSlots()
            let victim = try #require(map.master(of: Self.slot(board, shard: 0)))
            let pidfile = try #require(try await watcher.pool(victim).command("CONFIG", "GET", "pidfile").array?.last?.string)
            let folder = try #require(try await watcher.pool(victim).command("CONFIG", "GET", "dir").array?.last?.string)
            let pid = try #require(Int32(try String(contentsOfFile: pidfile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(pid, SIGKILL) == 0)
            // The cluster promotes the replica (cluster-node-timeout 3 s).
            let deadline = ContinuousClock.now + .seconds(40)
            var promoted: ClusterAddress?
            while ContinuousClock.now < deadline {
                if let fresh = try? await watcher.refreshSlots(), let master = fresh.master(of: Self.slot(board, shard: 0)), master != victim,
                    (try? await watcher.checkHealth()) != nil
                {
                    promoted = master
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(promoted != nil, "no replica took over from \(victim)")
            // The killed node comes back (empty, as after a crash: no persistence) with its cluster
            // configuration (nodes.conf in its folder) and rejoins as a replica of the new master.
            let restart = Process()
            restart.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
            restart.arguments = [
                "--bind", "127.0.0.1", "--port", String(victim.port), "--daemonize", "yes", "--dir", folder, "--pidfile", pidfile,
                "--logfile", folder + "/redis.log", "--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000",
            ]
            restart.standardOutput = FileHandle.nullDevice
            restart.standardError = FileHandle.nullDevice
            try restart.run()
            // (Not waitUntilExit: it can miss the exit of a child that daemonizes.)
            var role: String?
            let rejoin = ContinuousClock.now + .seconds(40)
            while ContinuousClock.now < rejoin {
                role = try? await watcher.pool(victim).command("ROLE").array?.first?.string
                if role == "slave" { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(role == "slave", "the restarted node is \(String(describing: role))")
        }
    }
}
