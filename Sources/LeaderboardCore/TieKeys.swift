/// The tie keys a group commit gives (see ``TieBreak``): a board ordered by commit time numbers
/// each accepted event that sets a player's score, in the group's order, after the board's last
/// number (read under the board's lock, so the numbers follow PostgreSQL's commit order across
/// processes); the player's tie key is that of its last such event. Under `best`, a submission
/// that does not improve sets nothing: the player keeps the time of the score it keeps.
public struct TieKeys: Sendable, Equatable {
    /// What the numbering needs to know of a board ordered by time.
    public struct Board: Sendable, Equatable {
        public var tieBreak: TieBreak
        public var order: SortOrder
        /// The board's counter before this commit.
        public var counter: Int64

        public init(tieBreak: TieBreak, order: SortOrder, counter: Int64) {
            self.tieBreak = tieBreak
            self.order = order
            self.counter = counter
        }
    }

    /// The new tie key of each (board, player) whose score this commit set.
    public var keys: [PlayerKey: Int64] = [:]
    /// How many numbers each board used (its counter grows by that much).
    public var used: [String: Int64] = [:]

    /// `boards` holds only boards ordered by time; events of other boards are skipped.
    public init(events: [GroupCommitPlan.Event], current: [PlayerKey: Int64], boards: [String: Board]) {
        guard !boards.isEmpty else { return }
        var scores = current
        for event in events {
            let id = event.command.leaderboardID
            guard let board = boards[id], board.tieBreak.ordersByTime else { continue }
            let key = PlayerKey(id, event.command.playerID)
            let before = scores[key]
            scores[key] = event.score
            if event.mode == .best, before == event.score { continue }
            let number = (used[id] ?? 0) + 1
            used[id] = number
            keys[key] = board.tieBreak.tieKey(counter: board.counter + number, order: board.order)
        }
    }
}
