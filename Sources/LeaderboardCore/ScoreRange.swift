/// Scores are int64 in the API and PostgreSQL but doubles in Redis, so only integers that a
/// double holds exactly are allowed: |score| ≤ 2^53 − 1.
public enum ScoreRange {
    public static let maximum: Int64 = (1 << 53) - 1
    public static let minimum: Int64 = -maximum

    @inlinable
    public static func contains(_ score: Int64) -> Bool { score >= minimum && score <= maximum }

    public static func check(_ score: Int64) throws(LeaderboardError) {
        guard contains(score) else { throw .invalidScore("score \(score) is outside ±\(maximum)") }
    }
}
