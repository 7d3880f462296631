import Foundation
import LeaderboardApp
import LeaderboardClient
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import RedisClient
import Testing

/// The client library against the real server over HTTP: every call, every error type, retries.
@Suite struct ClientTests {
    let adminKey = "client-admin-\(UInt64.random(in: .min ... .max))"
    let writerKey = "client-writer-\(UInt64.random(in: .min ... .max))"

    var config: AppConfig {
        var config = TestEnvironment.config
        config.auth.adminKeys = [adminKey]
        config.auth.writerKeys = [writerKey]
        return config
    }

    /// The code of the API error `body` throws, nil when it throws none (or another kind).
    func code<T>(_ body: () async throws -> T) async -> LeaderboardAPIError.Code? {
        do {
            _ = try await body()
            return nil
        } catch let error as LeaderboardAPIError {
            return error.code
        } catch {
            return .other("\(error)")
        }
    }

    @Test func theSeedsFlowThroughEveryCall() async throws {
        let board = TestEnvironment.uniqueID("client")
        // Usernames belong to players across boards: this test's named player is its own.
        let ann = "ann-\(UInt32.random(in: .min ... .max))"
        try await withLiveTestApp(config: config) { url, _ in
            let admin = LeaderboardClient(baseURL: url, apiKey: adminKey)
            let game = LeaderboardClient(baseURL: url, apiKey: writerKey)
            let created = try await admin.createLeaderboard(
                LeaderboardConfig(id: board, name: "Client Cup", updateMode: .best, layout: .hash(shards: 4))
            )
            #expect(created.name == "Client Cup")
            #expect(created.sortOrder == .desc)
            #expect(created.maxEntries == 10_000)
            #expect(created.layout == .hash(shards: 4))
            #expect(try await admin.listLeaderboards().contains { $0.id == board })

            let submitted = try await game.submitScore(ScoreEvent(leaderboardID: board, playerID: ann, score: 1500, username: "Ann", metadata: ["level": "3"]))
            #expect(submitted == ScoreResult(leaderboardID: board, playerID: ann, score: 1500))
            // `best` keeps the better score.
            #expect(try await game.submitScore(ScoreEvent(leaderboardID: board, playerID: ann, score: 900, timestamp: Date())).score == 1500)
            let batch = try await game.submitBatch((1...20).map { ScoreEvent(leaderboardID: board, playerID: "p\($0)", score: Int64($0 * 50)) })
            #expect(batch.accepted == 20)
            #expect(batch.results.map(\.score) == (1...20).map { Int64($0 * 50) })

            let top = try await game.top(board, limit: 3)
            #expect(top.entries == [Entry(rank: 1, playerID: ann, score: 1500, username: "Ann"), Entry(rank: 2, playerID: "p20", score: 1000), Entry(rank: 3, playerID: "p19", score: 950)])
            #expect(top.total == 21)
            #expect(top.source == "realtime")
            let rank = try await game.rank(board, player: "p10")
            #expect(rank.entry == Entry(rank: 12, playerID: "p10", score: 500))
            #expect(try await game.around(board, player: "p10", range: 1).entries.map(\.rank) == [11, 12, 13])
            #expect(try await game.range(board, start: 20, end: 25).entries.map(\.playerID) == ["p2", "p1"])
            #expect(rank.topPercent == 57.15, "12 of 21, rounded up")
            let friends = try await game.players(board, ids: ["p10", ann, "nobody"])
            #expect(friends.entries.map(\.playerID) == [ann, "p10"])
            #expect(friends.entries.map(\.rank) == [1, 12])
            #expect(friends.missing == ["nobody"])
            #expect(try await game.cutoff(board, topPercent: "10").entry == Entry(rank: 2, playerID: "p20", score: 1000))
            #expect(try await game.cutoff(board, rank: 22).entry == nil)
            #expect(try await game.range(board, start: 1, end: 3, numbering: .competition).entries.map(\.rank) == [1, 2, 3])
            #expect(try await game.rank(board, player: "p10", numbering: .competition).entry.rank == 12)

            let report = try await admin.sync(board)
            #expect(report.status == "ok")
            #expect(report.shards?.count == 4)
            #expect(report.snapshotPlayers == 21)
            let batchFriends = try await game.players(board, ids: ["p10", ann, "nobody"], numbering: .competition, source: .batch)
            #expect(batchFriends.entries == friends.entries && batchFriends.missing == ["nobody"] && batchFriends.source == "batch")
            #expect(try await game.cutoff(board, topPercent: "10", source: .batch).entry == Entry(rank: 2, playerID: "p20", score: 1000))
            #expect(try await game.rank(board, player: "p10", source: .batch).topPercent == 57.15)
            #expect(try await admin.lastSyncReport(board).snapshotAsOf == report.snapshotAsOf)
            let batchTop = try await game.top(board, limit: 1, source: .batch)
            #expect(batchTop.source == "batch")
            #expect(batchTop.asOf == report.snapshotAsOf)

            try await admin.removePlayer(board, player: "p1")
            #expect(await code { try await game.rank(board, player: "p1") } == .playerNotFound)
            let reset = try await admin.resetLeaderboard(board)
            #expect(reset == ResetResult(leaderboardID: board, period: 2, archivedPeriod: 1))
            #expect(try await game.periods(board).map(\.playerCount) == [20])
            #expect(try await game.top(board, limit: 1, period: 1).entries.first?.playerID == ann)
            #expect(try await game.top(board).total == 0)
            try await admin.deleteLeaderboard(board)
            #expect(await code { try await game.top(board) } == .leaderboardNotFound)
        }
    }

    @Test func everyErrorIsTyped() async throws {
        let board = TestEnvironment.uniqueID("client-errors")
        var limited = config
        // Two writes per key (the admin's go to the invalid score and the oversized batch).
        limited.rateLimit = RateLimiter.Configuration(write: .init(rate: 0.05, burst: 2))
        try await withLiveTestApp(config: limited) { url, system in
            let admin = LeaderboardClient(baseURL: url, apiKey: adminKey)
            let game = LeaderboardClient(baseURL: url, apiKey: writerKey)
            let anonymous = LeaderboardClient(baseURL: url)
            _ = try await admin.createLeaderboard(LeaderboardConfig(id: board, maxEntries: 0, layout: .hash(shards: 2)))

            #expect(await code { try await admin.createLeaderboard(LeaderboardConfig(id: "bad id")) } == .invalidRequest)
            #expect(await code { try await admin.createLeaderboard(LeaderboardConfig(id: board)) } == .leaderboardExists)
            #expect(await code { try await anonymous.createLeaderboard(LeaderboardConfig(id: "x")) } == .unauthorized)
            #expect(await code { try await game.createLeaderboard(LeaderboardConfig(id: "x")) } == .forbidden)
            #expect(await code { try await game.top("no-such-board-\(UInt32.random(in: 0...UInt32.max))") } == .leaderboardNotFound)
            #expect(await code { try await game.rank(board, player: "nobody") } == .playerNotFound)
            #expect(await code { try await admin.submitScore(ScoreEvent(leaderboardID: board, playerID: "p", score: 1 << 53)) } == .invalidScore)
            let tooMany = (0...1000).map { ScoreEvent(leaderboardID: board, playerID: "p\($0)", score: 1) }
            #expect(await code { try await admin.submitBatch(tooMany) } == .payloadTooLarge)

            // Writes: two tokens, then 429 at once (with retries off: a keyed submission is retried).
            _ = try await game.submitScore(ScoreEvent(leaderboardID: board, playerID: "w", score: 1))
            _ = try await game.submitScore(ScoreEvent(leaderboardID: board, playerID: "v", score: 0))
            do {
                _ = try await LeaderboardClient(baseURL: url, apiKey: writerKey, retry: .none)
                    .submitScore(ScoreEvent(leaderboardID: board, playerID: "w", score: 2))
                Issue.record("the second write should be rate limited")
            } catch let error as LeaderboardAPIError {
                #expect(error.code == .rateLimited)
                #expect(error.status == 429)
                #expect((error.retryAfter ?? 0) >= 1)
            }
            #expect(try await game.rank(board, player: "w").entry.score == 1, "the refused write changed nothing")

            // A shard that lost its data answers 503 until it is rebuilt: without retries the error
            // is `unavailable`; with them the read waits for the rebuild.
            let stored = try await system.service.directory.board(board)
            for shard in 0..<2 {
                _ = try await system.redis(board: board, shard: shard).command("DEL", RedisKeys.meta(board, shard: shard, of: 2))
            }
            _ = stored
            let once = LeaderboardClient(baseURL: url, apiKey: writerKey, retry: .none)
            #expect(await code { try await once.top(board) } == .unavailable)
            let patient = LeaderboardClient(baseURL: url, apiKey: writerKey, retry: .init(maxAttempts: 20, initialBackoff: .milliseconds(200)))
            #expect(try await patient.top(board).entries.map(\.playerID) == ["w", "v"])
        }
    }

    @Test func idempotentReadsAreRetriedOn429() async throws {
        let board = TestEnvironment.uniqueID("client-retry")
        let readerKey = "client-reader-\(UInt64.random(in: .min ... .max))"
        var limited = config
        limited.auth.readerKeys = [readerKey]
        limited.rateLimit = RateLimiter.Configuration(read: .init(rate: 0.2, burst: 1))
        try await withLiveTestApp(config: limited) { url, _ in
            _ = try await LeaderboardClient(baseURL: url, apiKey: adminKey).createLeaderboard(LeaderboardConfig(id: board))
            let impatient = LeaderboardClient(baseURL: url, apiKey: readerKey, retry: .none)
            let patient = LeaderboardClient(baseURL: url, apiKey: readerKey)
            // One token, refilled every 5 s: of a few reads in a row, one is refused (on a loaded
            // machine a read can take seconds, so a refill may fall between two of them).
            var codes: [LeaderboardAPIError.Code?] = []
            for _ in 0..<5 where codes.last != .rateLimited {
                codes.append(await code { try await impatient.top(board) })
            }
            #expect(codes.last == .rateLimited, "\(codes)")
            // Retry-After says when: the patient client waits and gets its answer.
            #expect(try await patient.top(board).total == 0)
        }
    }

    /// Submissions carry an Idempotency-Key, so the client retries them: a commit lost twice in
    /// the server (its own retry included) answers 503, the client tries again with the same key,
    /// and the increment lands once. A key given by the caller replays the first answer.
    @Test func submissionsAreRetriedWithTheirKey() async throws {
        let board = TestEnvironment.uniqueID("client-idem")
        let proxy = try PostgresFaultProxy(upstreamPort: TestEnvironment.config.postgres.port)
        defer { proxy.stop() }
        var behindProxy = config
        behindProxy.postgres.port = proxy.port
        try await withLiveTestApp(config: behindProxy) { url, system in
            _ = try await LeaderboardClient(baseURL: url, apiKey: adminKey).createLeaderboard(LeaderboardConfig(id: board, updateMode: .increment))
            let game = LeaderboardClient(baseURL: url, apiKey: writerKey, retry: .init(maxAttempts: 4, initialBackoff: .milliseconds(50)))
            proxy.arm(.dropCommit)
            proxy.arm(.dropCommit)
            #expect(try await game.submitScore(ScoreEvent(leaderboardID: board, playerID: "p", score: 5)).score == 5)
            #expect(proxy.injected == 2)
            let key = TestEnvironment.uniqueID("mine")
            let first = try await game.submitBatch([ScoreEvent(leaderboardID: board, playerID: "p", score: 1)], idempotencyKey: key)
            let again = try await game.submitBatch([ScoreEvent(leaderboardID: board, playerID: "p", score: 1)], idempotencyKey: key)
            #expect(first.results.map(\.score) == [6])
            #expect(again.results.map(\.score) == [6])
            #expect(try await postgresScores(system.service.repository.pool, board: board) == ["p": 6])
            let once = LeaderboardClient(baseURL: url, apiKey: writerKey, retry: .none)
            #expect(await code { try await once.submitScore(ScoreEvent(leaderboardID: board, playerID: "p", score: 2), idempotencyKey: key) } == .idempotencyKeyReused)
        }
    }
}
