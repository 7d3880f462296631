import ArgumentParser
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Propose a layout for a board from its scores in PostgreSQL: bands of equal player counts, or a hash shard count.",
        discussion: "Prints players per shard for today's layout and for the proposal; --svg writes the planner's picture.",
        aliases: ["propose-bands"]
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The leaderboard.") var board: String
    @Option(help: "Propose a hash layout of this many shards (1-256).") var shards: Int?
    @Option(help: "Propose this many score bands (2-256).") var bands: Int?
    @Option(help: "Write the picture (score distribution, players per shard) to this SVG file.") var svg: String?

    func validate() throws {
        switch (shards, bands) {
        case (nil, nil), (.some, .some): throw ValidationError("give one of --shards N or --bands N")
        case (let count?, nil) where !(1...256).contains(count): throw ValidationError("--shards must be between 1 and 256")
        case (nil, let count?) where !(2...256).contains(count): throw ValidationError("--bands must be between 2 and 256")
        default: break
        }
    }

    func run() async throws {
        let system = await options.system()
        do {
            let answer = try await LayoutPlanner(service: system.service).plan(
                board: board, strategy: bands == nil ? .hash : .band, shards: bands ?? shards ?? 1
            )
            await system.close()
            print(PlanReport.text(board: board, answer))
            if let svg {
                do {
                    try answer.picture.svg().write(toFile: svg, atomically: true, encoding: .utf8)
                } catch {
                    fail("--svg: cannot write \(svg): \(error.localizedDescription)")
                }
                print("picture written to \(svg)")
            }
        } catch {
            await system.close()
            fail("\(error)")
        }
    }
}
