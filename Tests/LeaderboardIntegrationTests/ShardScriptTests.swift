import LeaderboardCore
@testable import LeaderboardStore
import LeaderboardTestSupport
import RedisClient
import Testing

/// The store's Lua scripts against a real Redis, through the store: the apply script's sequence
/// rule (the next change only; a repeat changes nothing; a gap is refused; another incarnation's
/// shard is not the board's), a band move in one change, and scripts that Redis forgot (SCRIPT
/// FLUSH, as after a restart): the transport's EVALSHA falls back to EVAL (NOSCRIPT).
@Suite struct ShardScriptTests {
    static func store() -> (RedisRealtimeStore, RedisConnectionPool) {
        let config = TestEnvironment.config.redis
        let pool = RedisConnectionPool(
            configuration: .init(connection: .init(host: config.host, port: config.port, database: config.db), poolSize: 1)
        )
        return (RedisRealtimeStore(pool: pool), pool)
    }

    static func board(_ layout: Layout, incarnation: Int64 = 7) -> StoredBoard {
        StoredBoard(
            config: LeaderboardConfig(id: TestEnvironment.uniqueID("scripts"), maxEntries: 0, layout: layout), period: 1,
            incarnation: incarnation
        )
    }

    static func step(_ seq: Int64, _ changes: [ViewChange]) -> ViewStep {
        ViewStep(seq: seq, period: 1, changes: changes, lastEventID: seq)
    }

    static func apply(_ store: RedisRealtimeStore, _ board: StoredBoard, _ steps: [ViewStep]) async throws -> [Int: Int64?] {
        var batch = RealtimeBatch()
        batch.boards[board.config.id] = .init(board: board, steps: steps)
        return try await store.apply(batch)[board.config.id] ?? [:]
    }

    /// Every script file, its includes resolved, compiles in Redis (SCRIPT LOAD compiles it).
    @Test func everyScriptCompiles() async throws {
        let (_, pool) = Self.store()
        let scripts = [
            Scripts.readWindow, Scripts.apply, Scripts.switchRebuilt, Scripts.writeMeta, Scripts.countAhead, Scripts.aroundPivot, Scripts.ownEntry, Scripts.membersOf, Scripts.stageTies,
            Scripts.probe, Scripts.countBounds, Scripts.compareAndSet, Scripts.chunkDigests, Scripts.retire, Scripts.removeShard,
        ]
        for script in scripts {
            #expect(!script.text.contains("-- include:"))
            let reply = try await pool.command("SCRIPT", "LOAD", script.text)
            #expect(reply.string == script.sha1, "\(reply) for \(script.text.prefix(200))")
        }
        await pool.shutdown()
    }

    @Test func theApplyScriptTakesOnlyTheNextChange() async throws {
        let (store, pool) = Self.store()
        let board = Self.board(.single)
        try await store.prepareBoard(board, seq: 0)
        #expect(try await Self.apply(store, board, [Self.step(1, [ViewChange(playerID: "a", before: nil, after: 10)])]) == [0: 1])
        // A repeat of change 1 (another process's late apply) changes nothing.
        #expect(try await Self.apply(store, board, [Self.step(1, [ViewChange(playerID: "a", before: nil, after: 99)])]) == [0: 1])
        // Change 3 before change 2: refused, nothing applied.
        #expect(try await Self.apply(store, board, [Self.step(3, [ViewChange(playerID: "b", before: nil, after: 30)])]) == [0: 1])
        #expect(try await store.range(board, start: 1, end: 10).entries.map(\.playerID) == ["a"])
        // 2 then 3 in one round: both land, in order.
        let both = [
            Self.step(2, [ViewChange(playerID: "a", before: 10, after: 20)]), Self.step(3, [ViewChange(playerID: "b", before: nil, after: 30)]),
        ]
        #expect(try await Self.apply(store, board, both) == [0: 3])
        #expect(try await store.range(board, start: 1, end: 10).entries.map { "\($0.playerID):\($0.score)" } == ["b:30", "a:20"])
        // The same keys seen by another incarnation of the board: not its shard.
        let other = StoredBoard(config: board.config, period: 1, incarnation: board.incarnation + 1)
        #expect(try await Self.apply(store, other, [Self.step(4, [])]) == [0: Int64?.none])
        #expect(try await store.appliedSequences(other) == [nil])
        await #expect(throws: RealtimeStoreError.otherIncarnation(board.config.id)) { try await store.range(other, start: 1, end: 3) }
        try await store.deleteBoard(board)
        await pool.shutdown()
    }

    @Test func aBandMoveIsOneChangeOnTwoShards() async throws {
        let (store, pool) = Self.store()
        let board = Self.board(.band(bounds: [100]))
        try await store.prepareBoard(board, seq: 0)
        _ = try await Self.apply(store, board, [Self.step(1, [ViewChange(playerID: "x", before: nil, after: 50)])])
        #expect(try await Self.apply(store, board, [Self.step(2, [ViewChange(playerID: "x", before: 50, after: 150)])]) == [0: 2, 1: 2])
        let page = try await store.range(board, start: 1, end: 10)
        #expect(page.entries.map { "\($0.playerID):\($0.score)" } == ["x:150"])
        #expect(page.total == 1)
        try await store.deleteBoard(board)
        await pool.shutdown()
    }

    @Test func scriptsRedisForgotAreSentAgain() async throws {
        let (store, pool) = Self.store()
        let board = Self.board(.hash(shards: 3))
        try await store.prepareBoard(board, seq: 0)
        let players = (0..<30).map { ViewChange(playerID: "p\($0)", before: nil, after: Int64($0)) }
        _ = try await Self.apply(store, board, [Self.step(1, players)])
        let before = try await store.range(board, start: 5, end: 12)
        // The digests the store learned are now unknown to Redis.
        #expect(try await pool.command("SCRIPT", "FLUSH").string == "OK")
        #expect(try await store.range(board, start: 5, end: 12) == before)
        #expect(try await store.around(board, playerID: "p10", radius: 2)?.entries.map(\.playerID) == ["p12", "p11", "p10", "p9", "p8"])
        #expect(try await Self.apply(store, board, [Self.step(2, [ViewChange(playerID: "p0", before: 0, after: 100)])]) == [0: 2, 1: 2, 2: 2])
        #expect(try await store.player(board, playerID: "p0")?.rank == 1)
        try await store.deleteBoard(board)
        await pool.shutdown()
    }
}
