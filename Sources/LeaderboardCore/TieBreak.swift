/// How a board orders players with equal scores.
///
/// `player_id` is the order of one Redis sorted set (ids by bytes, in the board's direction).
/// `earliest` and `latest` order equal scores by when the player's current score was committed:
/// each commit that sets a score takes the next value of the board's counter, kept with the score
/// as its *tie key*, and the board's total order becomes (score, tie key, player id), every part in
/// the board's direction. The tie key's sign makes that direction give the wanted order.
public enum TieBreak: String, Sendable, Codable, CaseIterable {
    case playerID = "player_id"
    case earliest
    case latest

    /// Whether equal scores are ordered by commit time (the board's members carry a tie prefix).
    public var ordersByTime: Bool { self != .playerID }

    /// The tie key of a score set by the commit numbered `counter` (1, 2, … per board), for a
    /// board of `order`: sorting by it in the board's direction puts the earliest (or latest) first.
    public func tieKey(counter: Int64, order: SortOrder) -> Int64 {
        switch (self, order) {
        case (.playerID, _): 0
        case (.earliest, .desc), (.latest, .asc): -counter
        case (.earliest, .asc), (.latest, .desc): counter
        }
    }
}
