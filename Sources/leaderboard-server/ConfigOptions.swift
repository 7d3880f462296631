import ArgumentParser
import Foundation
import LeaderboardApp

/// The option every command takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file (default: LEADERBOARD_CONFIG, else ./config.yaml).", valueName: "path"))
    var config: String?

    /// The configuration, or an exit naming the key that is wrong.
    func load() -> AppConfig {
        var path = config ?? ProcessInfo.processInfo.environment["LEADERBOARD_CONFIG"]
        if path == nil, FileManager.default.fileExists(atPath: "config.yaml") { path = "config.yaml" }
        do {
            return try AppConfig.load(path: path)
        } catch {
            fail("configuration: \(error)")
        }
    }

    /// The stores and services of a one-off command (no HTTP server, no background loops), or an
    /// exit naming why they could not be opened. `logLevel` overrides the configured one.
    func system(logLevel: String? = nil) async -> LeaderboardSystem {
        var config = load()
        if let logLevel { config.server.logLevel = logLevel }
        do {
            return try await LeaderboardSystem.make(config: config, logger: makeLogger(config: config))
        } catch {
            fail("cannot start: \(error)")
        }
    }
}
