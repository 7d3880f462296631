/// The seed's key patterns.
public enum RedisKeys {
    /// Sorted set of a board's current scores.
    public static func realtime(_ board: String) -> String { "leaderboard:\(board):realtime" }
    /// Hash of a board's metadata (order, limits, period, last applied event id).
    public static func meta(_ board: String) -> String { "leaderboard:\(board):meta" }
    /// Hash of a player's info (username).
    public static func playerInfo(_ player: String) -> String { "player:\(player):info" }
    /// Where one rebuild attempt writes before it switches the board over.
    static func rebuilding(_ board: String, attempt: UInt64) -> String { "leaderboard:\(board):rebuild:\(attempt)" }
}
