/// When a board starts a new period (UTC boundaries).
public enum ResetPeriod: String, Sendable, Codable, CaseIterable {
    case never
    case daily
    case weekly
    case monthly
}
