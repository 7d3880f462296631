import ArgumentParser
import Foundation
import LeaderboardApp
import LeaderboardService

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Run one sync pass (snapshot, then reconcile of every shard) on one board or all, and print the reports."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this leaderboard (default: every board).") var board: String?

    func run() async throws {
        let system = await options.system(logLevel: "warning")
        do {
            var reports: [SyncWorker.Report] = []
            var ids: [String]
            if let board { ids = [board] } else { ids = try await system.service.repository.listLeaderboards().map(\.config.id) }
            for id in ids {
                let display = ProgressDisplay(label: "sync \(id)", unit: "members")
                let report = try await system.sync.sync(id, progress: display.report)
                display.finish()
                reports.append(report)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            await system.close()
        } catch {
            await system.close()
            fail("\(error)")
        }
    }
}
