import ArgumentParser
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardStore
import Logging
import RedisClient

// Store-level read benchmark of single vs hash-8 vs band-8 boards of N players, and Redis memory
// per player against one plain sorted set of the same members. Loads the boards first (through the
// service's group commit) unless they already hold N players. Run by Benchmarks/run.sh.
//
// With --sync, the batch path on the hash-8 board instead: a full reconcile of the unchanged
// board, a whole sync pass, SyncFromDatabase of one shard and of the whole board, and catch-up
// after a shard's data and metadata vanish (run by Benchmarks/sync.sh, which adds the COPY reference).
//
//   leaderboard-bench [--players N] [--seconds S] [--concurrency C] [--config PATH] [--sync] [--no-memory] [--ops rank,top,around,range,friends,cutoff]

/// The command line (swift-argument-parser: `--help`, and exit status 2 on a usage error).
struct BenchOptions: ParsableArguments {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard-bench",
        abstract: "Store-level read benchmark of single, hash-8 and band-8 boards, or (--sync) of the batch path."
    )
    @Option(help: "Players per board.") var players = 1_000_000
    @Option(help: "Seconds per operation.") var seconds = 5
    @Option(help: "Concurrent requests.") var concurrency = 64
    @Option(help: ArgumentHelp("The configuration file.", valueName: "path")) var config = "config.yaml"
    @Flag(help: "Measure the batch path (reconcile, sync pass, rebuilds, catch-up) on the hash-8 board instead.") var sync = false
    @Flag(help: "Skip the memory comparison.") var noMemory = false
    @Option(help: ArgumentHelp("Only these boards (single,hash8,band8,earliest8).", valueName: "list")) var boards: String?
    @Option(help: ArgumentHelp("Only the operations whose names start with one of these (rank,top,around,range).", valueName: "list"))
    var ops: String?
}

let options: BenchOptions
do {
    options = try BenchOptions.parse()
} catch {
    if BenchOptions.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((BenchOptions.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    BenchOptions.exit(withError: error)
}
let players = options.players
let seconds = options.seconds
let concurrency = options.concurrency
let configPath = options.config

var config = try AppConfig.load(path: configPath)
config.leaderboard.maxBatchSize = 2000
config.postgres.maxConnections = 8
var logger = Logger(label: "bench")
logger.logLevel = .warning
let system = try await LeaderboardSystem.make(config: config, logger: logger)
let service = system.service
// The group committer, which loading goes through (no HTTP server here).
let writer = Task { try await service.writer.run() }

/// Player ids as redis-benchmark's __rand_int__ spells them, so it can ask for the same members.
func playerID(_ index: Int) -> String { "p" + String(repeating: "0", count: 12 - String(index).count) + String(index) }
func score(_ index: Int) -> Int64 { Int64((index &* 2_654_435_761) % 400_000) }

let syncMode = options.sync
// The band bounds are the octiles of the scores; bench-earliest8 is bench-hash8 with equal scores
// ordered by commit time (members carry a tie prefix, and each shard keeps a tie map).
let octiles = (1..<8).map { Int64(400_000 / 8 * $0) }
let allBoards: [(name: String, layout: Layout, tieBreak: TieBreak)] = [
    ("bench-single", .single, .playerID),
    ("bench-hash8", .hash(shards: 8), .playerID),
    ("bench-band8", .band(bounds: octiles), .playerID),
    ("bench-earliest8", .hash(shards: 8), .earliest),
]
let chosen = options.boards.map { Set($0.split(separator: ",").map { "bench-" + $0 }) }
let boards = syncMode ? allBoards.filter { $0.name == "bench-hash8" } : allBoards.filter { chosen?.contains($0.name) ?? true }

// Load (or reuse) the boards.
for (name, layout, tieBreak) in boards {
    if let existing = try? await service.directory.board(name), (try? await service.count(board: name)) == players, existing.config.layout == layout,
        existing.config.tieBreak == tieBreak
    {
        continue
    }
    _ = try? await service.deleteLeaderboard(name)
    _ = try await service.createLeaderboard(LeaderboardConfig(id: name, maxEntries: 0, tieBreak: tieBreak, layout: layout))
    let started = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        let batches = (players + 1999) / 2000
        func add() {
            let batch = next
            next += 1
            group.addTask {
                let commands = (batch * 2000..<min(players, batch * 2000 + 2000)).map {
                    ScoreCommand(leaderboardID: name, playerID: playerID($0), value: score($0))
                }
                _ = try await service.submitBatch(commands)
            }
        }
        for _ in 0..<4 { add() }
        while try await group.next() != nil, next < batches { add() }
    }
    print("loaded \(name): \(players) players in \(ContinuousClock.now - started)")
}

/// Runs `operation` from `concurrency` tasks for `duration`; returns each call's latency in ms.
func sample(for duration: Duration, _ operation: @escaping @Sendable (Int) async throws -> Void) async throws -> [Double] {
    let deadline = ContinuousClock.now + duration
    return try await withThrowingTaskGroup(of: [Double].self) { group in
        for task in 0..<concurrency {
            group.addTask {
                var latencies: [Double] = []
                var step = task &+ Int.random(in: 0..<1_000_000)
                while ContinuousClock.now < deadline {
                    let begin = ContinuousClock.now
                    try await operation(step)
                    let elapsed = ContinuousClock.now - begin
                    latencies.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                    step += concurrency
                }
                return latencies
            }
        }
        var all: [Double] = []
        for try await part in group { all += part }
        return all
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

if syncMode {
    let name = "bench-hash8"
    var board = try await service.directory.board(name)
    print("batch path on \(name): \(players) players, 8 shards, chunks of \(config.sync.batchSize)")
    for run in 1...2 {
        let started = ContinuousClock.now
        let reports = try await system.sync.reconcile(board)
        let took = seconds(ContinuousClock.now - started)
        let checked = reports.reduce(0) { $0 + $1.checked }
        let differing = reports.reduce(0) { $0 + $1.chunksDiffering }
        print(String(format: "reconcile (unchanged), run %d: %.3f s, %d checked, %d chunks, %d differing, %d repaired", run, took, checked, reports.reduce(0) { $0 + $1.chunks }, differing, reports.reduce(0) { $0 + $1.repaired }))
    }
    do {
        let started = ContinuousClock.now
        let report = try await system.sync.sync(name)
        print(String(format: "whole pass (snapshot of %d players + reconcile): %.3f s", report.snapshotPlayers ?? 0, seconds(ContinuousClock.now - started)))
    }
    let shardSize = try await system.redisNodes[board.placement[0]]!.command("ZCARD", RedisKeys.realtime(name, shard: 0, of: 8)).integer ?? 0
    for shards in [Set([0]), nil] as [Set<Int>?] {
        let started = ContinuousClock.now
        let rebuilt = try await system.recovery.rebuild(name, shards: shards, force: true)
        let took = seconds(ContinuousClock.now - started)
        let members = shards == nil ? Int64(players) : shardSize
        print(String(format: "rebuild %@ (%lld members%@): %.3f s, %.0f members/s", shards == nil ? "whole board" : "shard 0", members, rebuilt ? "" : ", NOT switched", took, Double(members) / took))
    }
    // Catch-up: shard 3 comes back empty (data and metadata gone, as a Redis restarted without
    // persistence); reads find it, answer 503, and the recovery loop rebuilds it.
    let recovery = Task { try await system.recovery.run() }
    board = try await service.directory.board(name)
    let node = system.redisNodes[board.placement[3]]!
    _ = try await node.command("DEL", RedisKeys.realtime(name, shard: 3, of: 8), RedisKeys.meta(name, shard: 3, of: 8))
    let lost = ContinuousClock.now
    var unavailable = 0
    while ContinuousClock.now - lost < .seconds(60) {
        do {
            _ = try await service.top(board: name, limit: 10)
            break
        } catch {
            unavailable += 1
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    print(String(format: "catch-up after shard 3 came back empty: reads right again after %.3f s (%d reads answered 503 meanwhile)", seconds(ContinuousClock.now - lost), unavailable))
    recovery.cancel()
    writer.cancel()
    await system.close()
    exit(0)
}

print("store level: \(concurrency) concurrent callers, \(seconds) s per row, \(players) players per board")
print("The boards of one operation are measured interleaved (slices of 100 ms in turn), so a machine whose")
print("speed drifts (a shared VM) affects them alike; 'rounds' = parallel Redis round trips per call (mean of 20).")
print("range 50 @500k starts anywhere in 499,000 … 501,000.")
print("board          operation          rounds     ops/s    p50 ms   p99 ms")
let realtime = service.realtime
let store = realtime as? RedisRealtimeStore
/// --ops rank,top,range: only the operations whose names start with one of these.
let opsFilter = options.ops.map { $0.split(separator: ",").map { $0 == "rank" ? "player rank" : String($0) } }
let operationNames = ["player rank", "top 100", "top 50", "around ±5", "range 50 @500k", "friends 50", "cutoff top 1%"]
func operation(_ name: String, _ board: StoredBoard) -> @Sendable (Int) async throws -> Void {
    switch name {
    case "player rank": return { step in _ = try await realtime.player(board, playerID: playerID((step &* 7919) % players)) }
    case "top 100": return { _ in _ = try await realtime.range(board, start: 1, end: 100) }
    case "top 50": return { _ in _ = try await realtime.range(board, start: 1, end: 50) }
    case "around ±5": return { step in _ = try await realtime.around(board, playerID: playerID((step &* 7919) % players), radius: 5) }
    case "friends 50":
        // A friends list: 50 players spread over the board (a different list each call).
        return { step in
            let ids = (0..<50).map { playerID((step &* 7919 &+ $0 &* 104_729) % players) }
            _ = try await realtime.players(board, ids: ids, ranking: .ordinal)
        }
    case "cutoff top 1%": return { _ in _ = try await realtime.cutoff(board, rank: { max(1, $0 / 100) }) }
    default:
        // Starts spread over ±1,000 around the middle: how many rounds the locator needs depends on
        // where the probes happen to fall, so one fixed start would show one draw.
        return { step in
            let start = players / 2 + (step &* 7919) % 2001 - 1000
            _ = try await realtime.range(board, start: start, end: start + 49)
        }
    }
}
var storedBoards: [StoredBoard] = []
for (name, _, _) in boards { storedBoards.append(try await service.directory.board(name)) }
var p50s: [String: Double] = [:]
for name in operationNames where opsFilter.map({ filter in filter.contains { name.hasPrefix($0) } }) ?? true {
    var samples = [[Double]](repeating: [], count: storedBoards.count)
    var spent = [Double](repeating: 0, count: storedBoards.count)
    var rounds = [Double](repeating: 0, count: storedBoards.count)
    for (index, board) in storedBoards.enumerated() {
        try await operation(name, board)(1)
        let before = store?.roundsSent ?? 0
        for step in 0..<20 { try await operation(name, board)(step) }
        rounds[index] = Double((store?.roundsSent ?? 0) - before) / 20
    }
    let slices = max(1, seconds * 10)
    for _ in 0..<slices {
        for (index, board) in storedBoards.enumerated() {
            let begin = ContinuousClock.now
            samples[index] += try await sample(for: .milliseconds(100), operation(name, board))
            spent[index] += seconds(ContinuousClock.now - begin)
        }
    }
    for (index, board) in storedBoards.enumerated() {
        let sorted = samples[index].sorted()
        let p50 = sorted[sorted.count / 2]
        p50s[board.config.id + "/" + name] = p50
        print(
            board.config.id.padding(toLength: 15, withPad: " ", startingAt: 0) + name.padding(toLength: 17, withPad: " ", startingAt: 0)
                + String(format: "%6.2f %10.0f %9.3f %8.3f", rounds[index], Double(sorted.count) / spent[index], p50, sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
        )
    }
}
print("targets (p50 ratios): sharded rank / single rank <= 2; range 50 @500k / top 50 of the same board <= 3")
for (name, _, _) in boards {
    if let rank = p50s[name + "/player rank"], let single = p50s["bench-single/player rank"] {
        print(String(format: "  %@ rank / single rank: %.2f", name, rank / single))
    }
    if let range = p50s[name + "/range 50 @500k"], let top = p50s[name + "/top 50"] {
        print(String(format: "  %@ range @500k / its top 50: %.2f", name, range / top))
    }
}

// Memory: every shard key of each board against one plain sorted set of the same members.
if options.noMemory {
    writer.cancel()
    await system.close()
    exit(0)
}
print("memory (MEMORY USAGE, exact)")
var plain: Int64 = 0
do {
    let pool = system.redisNodes[system.topology.nodes[0].id]!
    let key = "bench:plain-reference"
    _ = try await pool.command("DEL", key)
    for start in stride(from: 0, to: players, by: 1000) {
        var command = ["ZADD", key]
        for index in start..<min(players, start + 1000) {
            command.append(String(score(index)))
            command.append(playerID(index))
        }
        _ = try await pool.pipeline([command])
    }
    plain = try await pool.command("MEMORY", "USAGE", key, "SAMPLES", "0").integer ?? 0
    _ = try await pool.command("DEL", key)
    print("plain sorted set: \(plain) bytes, \(String(format: "%.1f", Double(plain) / Double(players))) bytes/player")
}
for (name, _, _) in boards {
    let board = try await service.directory.board(name)
    var bytes: Int64 = 0
    for shard in 0..<board.config.layout.shardCount {
        let pool = system.redisNodes[shard < board.placement.count ? board.placement[shard] : system.topology.nodes[0].id]!
        let count = board.config.layout.shardCount
        let meta = RedisKeys.meta(name, shard: shard, of: count)
        // A board ordered by commit time also keeps its shards' tie maps.
        let keys = [RedisKeys.realtime(name, shard: shard, of: count), meta] + (board.hasTiePrefix ? RedisKeys.tieBuckets(meta, buckets: board.tieBuckets) : [])
        for chunk in stride(from: 0, to: keys.count, by: 1000) {
            let replies = try await pool.pipeline(keys[chunk..<min(chunk + 1000, keys.count)].map { ["MEMORY", "USAGE", $0, "SAMPLES", "0"] })
            bytes += replies.reduce(0) { $0 + ($1.integer ?? 0) }
        }
    }
    print(
        "\(name): \(bytes) bytes, \(String(format: "%.1f", Double(bytes) / Double(players))) bytes/player, "
            + String(format: "%.3f", Double(bytes) / Double(plain)) + "x the plain set"
    )
}
writer.cancel()
await system.postgres.shutdown()
for pool in system.redisNodes.values { await pool.shutdown() }
