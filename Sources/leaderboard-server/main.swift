import Foundation
import Hummingbird
import LeaderboardApp
import LeaderboardService

// leaderboard-server [--config PATH]                 run the server
// leaderboard-server propose-bands --board ID --bands N [--config PATH]
//     propose N score bands of equal player counts from the board's scores in PostgreSQL
// leaderboard-server sync [--board ID] [--config PATH]
//     run one sync pass (snapshot + reconcile of every shard) on one board or all, print the reports
// leaderboard-server rebuild --board ID [--shard N] [--config PATH]
//     SyncFromDatabase: rebuild the board's real-time view, or one shard of it, from PostgreSQL
// The configuration is PATH, else LEADERBOARD_CONFIG, else ./config.yaml when present.
let arguments = CommandLine.arguments

func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("leaderboard-server: \(message)\n".utf8))
    exit(status)
}

var configPath = option("--config") ?? ProcessInfo.processInfo.environment["LEADERBOARD_CONFIG"]
if configPath == nil, FileManager.default.fileExists(atPath: "config.yaml") { configPath = "config.yaml" }

let config: AppConfig
do {
    config = try AppConfig.load(path: configPath)
} catch {
    fail("\(error)")
}

if arguments.count > 1, arguments[1] == "propose-bands" {
    guard let board = option("--board"), let bands = option("--bands").flatMap(Int.init), (2...256).contains(bands) else {
        fail("usage: leaderboard-server propose-bands --board ID --bands N (2-256) [--config PATH]")
    }
    do {
        let proposal = try await BandProposal.propose(config: config, board: board, bands: bands)
        print(proposal)
        exit(0)
    } catch {
        fail("\(error)", status: 1)
    }
}

if arguments.count > 1, arguments[1] == "sync" {
    var quiet = config
    quiet.server.logLevel = "warning"
    let logger = makeLogger(config: quiet)
    do {
        let system = try await LeaderboardSystem.make(config: config, logger: logger)
        let reports: [SyncWorker.Report]
        if let board = option("--board") { reports = [try await system.sync.sync(board)] } else { reports = await system.sync.syncAll() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(reports), as: UTF8.self))
        await system.close()
        exit(0)
    } catch {
        fail("\(error)", status: 1)
    }
}

if arguments.count > 1, arguments[1] == "rebuild" {
    guard let board = option("--board") else { fail("usage: leaderboard-server rebuild --board ID [--shard N] [--config PATH]") }
    let shard = option("--shard").map { text -> Int in
        guard let shard = Int(text), shard >= 0 else { fail("--shard must be a shard index (0-based)") }
        return shard
    }
    let logger = makeLogger(config: config)
    do {
        let system = try await LeaderboardSystem.make(config: config, logger: logger)
        guard let stored = try await system.service.repository.leaderboard(board) else { fail("leaderboard_not_found: no leaderboard '\(board)'", status: 1) }
        if let shard, shard >= stored.config.layout.shardCount {
            fail("--shard: leaderboard '\(board)' has \(stored.config.layout.shardCount) shard(s)")
        }
        let started = ContinuousClock.now
        // An operator's rebuild replaces the shards' content even where their numbers are current.
        let rebuilt = try await system.recovery.rebuild(board, shards: shard.map { [$0] }, force: true)
        await system.close()
        print(rebuilt ? "rebuilt \(board)\(shard.map { " shard \($0)" } ?? "") in \(ContinuousClock.now - started)" : "not rebuilt: the board kept changing")
        exit(rebuilt ? 0 : 1)
    } catch {
        fail("\(error)", status: 1)
    }
}

let logger = makeLogger(config: config)
do {
    let system = try await LeaderboardSystem.make(config: config, logger: logger)
    let app = buildApplication(config: config, system: system, logger: logger)
    try await app.runService()
} catch {
    logger.critical("leaderboard-server stopped", metadata: ["error": "\(error)"])
    exit(1)
}
