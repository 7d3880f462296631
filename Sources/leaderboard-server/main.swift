import Foundation
import Hummingbird
import LeaderboardApp

// leaderboard-server [--config PATH]   (or LEADERBOARD_CONFIG=PATH; default ./config.yaml when present)
let arguments = CommandLine.arguments
var configPath = ProcessInfo.processInfo.environment["LEADERBOARD_CONFIG"]
if let index = arguments.firstIndex(of: "--config"), index + 1 < arguments.count {
    configPath = arguments[index + 1]
} else if configPath == nil, FileManager.default.fileExists(atPath: "config.yaml") {
    configPath = "config.yaml"
}

let config: AppConfig
do {
    config = try AppConfig.load(path: configPath)
} catch {
    FileHandle.standardError.write(Data("leaderboard-server: \(error)\n".utf8))
    exit(2)
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
