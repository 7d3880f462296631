import LeaderboardCore
import PostgresClient

/// What the layout planner reads: the real-time view's players (the board's best `max_entries`,
/// everyone when unlimited) as a histogram of distinct scores, and their ids for hash counts.
extension PostgresScoreRepository {
    /// Distinct scores of the view, ascending, with their player counts (one pass over the score index).
    public func viewHistogram(board: StoredBoard) async throws -> [(score: Int64, count: Int)] {
        let limit = board.config.maxEntries
        let order = board.config.sortOrder.sqlOrder()
        return try await readPool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
                try connection.query(
                    """
                    DECLARE plan_histogram NO SCROLL CURSOR FOR
                    SELECT score, count(*) FROM (
                        SELECT score FROM player_scores WHERE leaderboard_id = $1 ORDER BY \(order) \(limit > 0 ? "LIMIT $2" : "")
                    ) view GROUP BY score ORDER BY score
                    """,
                    [board.config.id] + (limit > 0 ? [String(limit)] : [])
                )
                var histogram: [(score: Int64, count: Int)] = []
                while true {
                    let page = try connection.query("FETCH 50000 FROM plan_histogram")
                    for row in page.rows { histogram.append((try row.int64(0), Int(try row.int64(1)))) }
                    if page.rows.count < 50_000 { break }
                }
                return histogram
            }
        }
    }

    /// Players per shard of a hash layout of `shards` shards, for the view's players (XXH3-64 of
    /// each id, as the router places them), read through a cursor.
    public func hashCounts(board: StoredBoard, shards: Int) async throws -> [Int] {
        let limit = board.config.maxEntries
        let order = board.config.sortOrder.sqlOrder()
        let router = ShardRouter(shards == 1 ? .single : .hash(shards: shards))
        return try await readPool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
                try connection.query(
                    """
                    DECLARE plan_ids NO SCROLL CURSOR FOR
                    SELECT player_id FROM player_scores WHERE leaderboard_id = $1 \(limit > 0 ? "ORDER BY \(order) LIMIT $2" : "")
                    """,
                    [board.config.id] + (limit > 0 ? [String(limit)] : [])
                )
                var counts = [Int](repeating: 0, count: shards)
                while true {
                    let page = try connection.query("FETCH 50000 FROM plan_ids")
                    for row in page.rows { counts[router.shard(player: try row.text(0), score: 0)] += 1 }
                    if page.rows.count < 50_000 { break }
                }
                return counts
            }
        }
    }
}
