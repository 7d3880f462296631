import ArgumentParser
import LeaderboardApp

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "SyncFromDatabase: rebuild a board's real-time view, or one shard of it, from PostgreSQL."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The leaderboard.") var board: String
    @Option(help: "Only this shard (0-based).") var shard: Int?

    func validate() throws {
        if let shard, shard < 0 { throw ValidationError("--shard must be a shard index (0-based)") }
    }

    func run() async throws {
        let system = await options.system()
        do {
            guard let stored = try await system.service.repository.leaderboard(board) else {
                await system.close()
                fail("leaderboard_not_found: no leaderboard '\(board)'")
            }
            if let shard, shard >= stored.config.layout.shardCount {
                await system.close()
                fail("--shard: leaderboard '\(board)' has \(stored.config.layout.shardCount) shard(s)", status: 2)
            }
            let started = ContinuousClock.now
            let display = ProgressDisplay(label: "rebuild \(board)", unit: "members")
            // An operator's rebuild replaces the shards' content even where their numbers are current.
            let rebuilt = try await system.recovery.rebuild(board, shards: shard.map { [$0] }, force: true, progress: display.report)
            display.finish()
            await system.close()
            guard rebuilt else { fail("not rebuilt: the board kept changing") }
            print("rebuilt \(board)\(shard.map { " shard \($0)" } ?? "") in \(ContinuousClock.now - started)")
        } catch {
            await system.close()
            fail("\(error)")
        }
    }
}
