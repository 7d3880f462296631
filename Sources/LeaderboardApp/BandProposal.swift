import LeaderboardStore
import PostgresClient

/// The `propose-bands` command: N score bands with equal player counts, from PostgreSQL.
public enum BandProposal {
    /// A report with the bounds as a topology entry and as an API layout, and each band's size.
    public static func propose(config: AppConfig, board: String, bands: Int) async throws -> String {
        let pool = PGConnectionPool(configuration: config.postgresPool)
        do {
            let report = try await report(PostgresScoreRepository(pool: pool), board: board, bands: bands)
            await pool.shutdown()
            return report
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    static func report(_ repository: PostgresScoreRepository, board: String, bands: Int) async throws -> String {
        guard try await repository.leaderboard(board) != nil else { return "no leaderboard '\(board)'" }
        let (bounds, sizes) = try await repository.proposeBands(board: board, bands: bands)
        guard !bounds.isEmpty else { return "leaderboard '\(board)' has too few distinct scores for bands" }
        let list = bounds.map(String.init).joined(separator: ", ")
        var lines = [
            "# \(bounds.count + 1) bands for '\(board)' (\(sizes.reduce(0, +)) players)",
            "# topology (boards section):",
            "  \(board):",
            "    strategy: band",
            "    bounds: [\(list)]",
            "# API layout: {\"strategy\": \"band\", \"bounds\": [\(list)]}",
            "# players per band:",
        ]
        for (index, size) in sizes.enumerated() {
            let lower = index == 0 ? "-inf" : String(bounds[index - 1])
            let upper = index == bounds.count ? "+inf" : String(bounds[index])
            lines.append("#   [\(lower), \(upper)): \(size)")
        }
        return lines.joined(separator: "\n")
    }
}
