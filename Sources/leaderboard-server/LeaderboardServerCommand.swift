import ArgumentParser
import Foundation

/// `leaderboard-server`: the API server (the default command) and the operator's tools.
@main
struct LeaderboardServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard-server",
        abstract: "A sharded real-time leaderboard service: the API server and its operator tools.",
        discussion: """
            The configuration is --config PATH, else LEADERBOARD_CONFIG, else ./config.yaml when \
            present; every value can be overridden by an environment variable LEADERBOARD_<SECTION>_<KEY>.
            """,
        subcommands: [ServeCommand.self, SyncCommand.self, RebuildCommand.self, ReshardCommand.self, PlanCommand.self, ImportCommand.self],
        defaultSubcommand: ServeCommand.self
    )

    /// Usage errors (an unknown option or command, a bad value) exit with 2, as command-line tools
    /// conventionally do; failures of the work itself exit with 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Writes `leaderboard-server: MESSAGE` to standard error, on one line, and exits with `status`.
func fail(_ message: String, status: Int32 = 1) -> Never {
    let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    FileHandle.standardError.write(Data("leaderboard-server: \(line)\n".utf8))
    exit(status)
}
