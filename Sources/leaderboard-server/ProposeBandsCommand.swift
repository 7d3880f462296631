import ArgumentParser
import LeaderboardApp

struct ProposeBandsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propose-bands",
        abstract: "Propose score bands of equal player counts from the board's scores in PostgreSQL.",
        aliases: ["plan"]
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "The leaderboard.") var board: String
    @Option(help: "How many bands (2-256).") var bands: Int

    func validate() throws {
        guard (2...256).contains(bands) else { throw ValidationError("--bands must be between 2 and 256") }
    }

    func run() async throws {
        let config = options.load()
        do {
            print(try await BandProposal.propose(config: config, board: board, bands: bands))
        } catch {
            fail("\(error)")
        }
    }
}
