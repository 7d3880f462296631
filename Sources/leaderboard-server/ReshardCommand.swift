import ArgumentParser
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService

struct ReshardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reshard",
        abstract: "Change a live board's layout online: another hash shard count, score bands, or one shard.",
        discussion: """
            The servers keep serving the board throughout. This command builds the new shards, \
            showing progress, and switches the board over; if it is stopped, a server takes the \
            change over within seconds.
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The leaderboard.") var board: String
    @Option(help: "A hash layout of this many shards (1: one sorted set).") var shards: Int?
    @Option(help: "This many score bands of equal player counts (the planner's bounds).") var bands: Int?
    @Option(help: "Score bands with these bounds (strictly ascending, comma-separated).") var bounds: String?

    func validate() throws {
        guard [shards != nil, bands != nil, bounds != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give one of --shards N, --bands N or --bounds a,b,...")
        }
        if let shards, !(1...256).contains(shards) { throw ValidationError("--shards must be between 1 and 256") }
        if let bands, !(2...256).contains(bands) { throw ValidationError("--bands must be between 2 and 256") }
        if let bounds {
            let values = bounds.split(separator: ",", omittingEmptySubsequences: false).map { Int64($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--bounds must be integer scores separated by commas") }
            do { try Layout.band(bounds: values.map { $0! }).validate() } catch { throw ValidationError("--bounds: \(error.message)") }
        }
    }

    func run() async throws {
        let system = await options.system()
        do {
            let layout: Layout
            if let shards {
                layout = shards == 1 ? .single : .hash(shards: shards)
            } else if let bands {
                layout = try await LayoutPlanner(service: system.service).plan(board: board, strategy: .band, shards: bands).plan.layout
            } else {
                layout = .band(bounds: bounds!.split(separator: ",").map { Int64($0.trimmingCharacters(in: .whitespaces))! })
            }
            let started = ContinuousClock.now
            switch try await system.migrator.change(board: board, to: layout, runHere: false) {
            case .stable(let epoch):
                await system.close()
                print("leaderboard '\(board)' already has that layout (epoch \(epoch))")
            case .migrating(let epoch):
                let display = ProgressDisplay(label: "reshard \(board) to epoch \(epoch)", unit: "members")
                let switched = try await system.migrator.migrate(board: board, epoch: epoch, progress: display.report)
                display.finish()
                await system.close()
                guard switched else { fail("the change to epoch \(epoch) was taken over by another process or cancelled") }
                print("leaderboard '\(board)' switched to epoch \(epoch) (\(describe(layout))) in \(ContinuousClock.now - started)")
            }
        } catch {
            await system.close()
            fail("\(error)")
        }
    }

    private func describe(_ layout: Layout) -> String {
        switch layout {
        case .single: "single"
        case .hash(let shards): "hash, \(shards) shards"
        case .band(let bounds): "band, bounds \(bounds.map(String.init).joined(separator: ","))"
        }
    }
}
