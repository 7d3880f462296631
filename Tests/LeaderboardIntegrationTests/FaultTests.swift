import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import Testing

/// A Redis node killed with SIGKILL under a steady stream of submissions and reads, then started
/// again empty: no read gives a wrong answer meanwhile (only right answers or 503), every
/// acknowledged score is in PostgreSQL, and the shards are rebuilt within seconds.
/// Runs on the isolated database, with a topology of one shared node and one of its own.
@Suite(.serialized) struct FaultTests {
    struct Tally: Sendable {
        var acknowledged: [String: Int] = [:]
        var acknowledgedWhileDown = 0
        var reads = 0
        var unavailable = 0
        var wrong: [String] = []
    }

    @Test(.timeLimit(.minutes(2))) func aRedisNodeKilledUnderLoadAndRestartedEmpty() async throws {
        let redis = RedisProcess(port: Int.random(in: 26_000..<27_000))
        try await redis.start()
        defer { redis.kill() }
        let topology = FileManager.default.temporaryDirectory.appendingPathComponent("fault-\(redis.port).yaml").path
        try """
        nodes:
          - id: steady
            address: 127.0.0.1:\(TestEnvironment.config.redis.port)
          - id: faulty
            address: 127.0.0.1:\(redis.port)
        """.write(toFile: topology, atomically: true, encoding: .utf8)
        var config = TestEnvironment.isolatedConfig
        config.topology = topology

        let written = TestEnvironment.uniqueID("fault-w")
        let read = TestEnvironment.uniqueID("fault-r")
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(written, #""update_mode": "increment", "layout": {"strategy": "hash", "shards": 4}"#)
            try await api.createBoard(read, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
            #expect(Set(try await system.service.directory.board(read).placement) == ["steady", "faulty"])
            var model = ReferenceBoard(order: .desc, mode: .replace)
            var scores: [(String, Int64)] = []
            for index in 0..<600 {
                scores.append(("r\(index)", Int64((index * 37) % 250)))
                _ = model.submit("r\(index)", scores[index].1)
            }
            try await api.submit(read, scores)
            let expected = model.ranked()

            let tally = NIOLockedValueBox(Tally())
            let stop = NIOLockedValueBox(false)
            let down = NIOLockedValueBox(false)
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<6 {
                        group.addTask {
                            var step = 0
                            while !stop.withLockedValue({ $0 }), step < 20_000 {
                                let player = "w\(worker)-\(step % 4)"
                                let answer = try? await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": 1, "game_id": "\#(written)"}"#)
                                if answer?.status == .ok {
                                    let wasDown = down.withLockedValue { $0 }
                                    tally.withLockedValue {
                                        $0.acknowledged[player, default: 0] += 1
                                        if wasDown { $0.acknowledgedWhileDown += 1 }
                                    }
                                }
                                step += 1
                            }
                        }
                    }
                    for reader in 0..<4 {
                        group.addTask {
                            var step = 0
                            while !stop.withLockedValue({ $0 }), step < 20_000 {
                                let outcome = await Self.readAndCheck(api, read, expected, step: step * 4 + reader)
                                tally.withLockedValue { tally in
                                    tally.reads += 1
                                    switch outcome {
                                    case .right: break
                                    case .unavailable: tally.unavailable += 1
                                    case .wrong(let what): tally.wrong.append(what)
                                    }
                                }
                                step += 1
                            }
                        }
                    }
                }
            }

            try await Task.sleep(for: .seconds(1))
            down.withLockedValue { $0 = true }
            redis.kill()
            try await Task.sleep(for: .milliseconds(1500))
            try await redis.start()
            let restarted = ContinuousClock.now
            down.withLockedValue { $0 = false }
            try await Task.sleep(for: .seconds(1))
            stop.withLockedValue { $0 = true }
            await load.value

            // Both boards answer from Redis again, within seconds of the restart.
            var caughtUp: Duration?
            for _ in 0..<300 where caughtUp == nil {
                let readOK = try await api.get("/api/v1/leaderboards/\(read)/top?limit=5").status == .ok
                let writtenOK = try await api.get("/api/v1/leaderboards/\(written)/top?limit=5").status == .ok
                if readOK, writtenOK { caughtUp = ContinuousClock.now - restarted } else { try await Task.sleep(for: .milliseconds(50)) }
            }
            let result = tally.withLockedValue { $0 }
            print("fault run: \(result.reads) reads, \(result.unavailable) answered 503, \(result.wrong.count) wrong; \(result.acknowledged.values.reduce(0, +)) scores acknowledged, \(result.acknowledgedWhileDown) while the node was down; caught up \(caughtUp.map { "\($0)" } ?? "never") after the restart")
            #expect(caughtUp != nil, "the boards were not rebuilt after the node came back")
            #expect(result.wrong.isEmpty, "wrong answers: \(result.wrong.prefix(5))")
            #expect(result.unavailable > 0, "reads needing the killed node must have answered 503")
            #expect(result.acknowledgedWhileDown > 0, "writes commit to PostgreSQL while a shard is down")

            // Every acknowledged increment is in PostgreSQL, and Redis holds exactly PostgreSQL's scores.
            let rows = try await system.postgres.query("SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1", [written]).rows
            var stored: [String: Int64] = [:]
            for row in rows { stored[try row.text(0)] = try row.int64(1) }
            for (player, count) in result.acknowledged {
                #expect(stored[player, default: 0] >= Int64(count), "\(player): \(count) acknowledged, \(stored[player, default: 0]) stored")
            }
            let top = try await api.get("/api/v1/leaderboards/\(written)/top?limit=100")
            #expect(Dictionary(uniqueKeysWithValues: top.entries.map { ($0.playerID, $0.score) }) == stored)
            #expect(await Self.readAndCheck(api, read, expected, step: 7) == .right)
            let full = try await api.get("/api/v1/leaderboards/\(read)/range?start=1&end=600")
            #expect(full.entries == expected)
        }
    }

    enum Outcome: Equatable, Sendable {
        case right
        case unavailable
        case wrong(String)
    }

    /// One read of the static board (a rank, a deep range, around a player), checked against the model.
    static func readAndCheck(_ api: TestAPI, _ board: String, _ expected: [LeaderboardEntry], step: Int) async -> Outcome {
        let index = (step * 7919) % expected.count
        let entry = expected[index]
        let path: String
        let want: [LeaderboardEntry]
        switch step % 3 {
        case 0:
            path = "/api/v1/leaderboards/\(board)/player/\(entry.playerID)"
            want = [entry]
        case 1:
            let end = min(expected.count, index + 10)
            path = "/api/v1/leaderboards/\(board)/range?start=\(index + 1)&end=\(end)"
            want = Array(expected[index..<end])
        default:
            path = "/api/v1/leaderboards/\(board)/around/\(entry.playerID)?range=3"
            want = Array(expected[max(0, index - 3)..<min(expected.count, index + 4)])
        }
        guard let answer = try? await api.get(path) else { return .wrong("\(path): no answer") }
        switch answer.status {
        case .ok:
            let got = step % 3 == 0 ? answer.entry.map { [$0] } ?? [] : answer.entries
            return got == want ? .right : .wrong("\(path): \(got.prefix(3)) instead of \(want.prefix(3))")
        case .serviceUnavailable:
            return answer.errorCode == "unavailable" ? .unavailable : .wrong("\(path): 503 with \(answer.json)")
        default:
            return .wrong("\(path): \(answer.status) \(answer.json)")
        }
    }
}
