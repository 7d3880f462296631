/// Exact trimming: which players enter or leave a board's best `limit` when some players'
/// scores change, without reading the whole board.
///
/// The best `limit` are the players at or ahead of the *cut*, the member at rank `limit` (no cut
/// while the board has at most `limit` players: everyone is in). A change moves the cut by at
/// most as many places as players changed, so besides the changed players only the unchanged
/// ones between the old and the new cut can enter or leave. The caller (the commit, under the
/// board's lock) looks up the new cut when ``cutAfter(changes:cutBefore:countAfter:)`` asks for
/// it, then the unchanged players in ``crossing(cutBefore:cutAfter:)``, and
/// ``viewChanges(changes:crossing:cutBefore:cutAfter:)`` gives the view's changes.
public struct TopTrim: Sendable {
    public let order: SortOrder
    public let limit: Int

    public init(order: SortOrder, limit: Int) {
        precondition(limit > 0)
        self.order = order
        self.limit = limit
    }

    /// A player's score on the board before (nil: not on the board) and after (nil: removed):
    /// the same shape as a view change, over the whole board instead of its best `limit`.
    public typealias Change = ViewChange

    /// Whether (score, player) is among the best `limit` when the cut is `cut`.
    public func isIn(_ score: Int64, _ player: String, cut: RankedMember?) -> Bool {
        guard let cut else { return true }
        return !order.precedes((cut.score, cut.playerID), (score, player))
    }

    public enum CutAfter: Sendable, Equatable {
        /// At most `limit` players: no cut.
        case none
        /// The cut did not move.
        case same
        /// Look up the member at rank `limit` after the changes.
        case lookUp
    }

    /// Whether the cut after `changes` must be looked up. It stays where it was when no changed
    /// player is at or ahead of it, before or after: changes behind the cut move nothing above it.
    public func cutAfter(changes: [Change], cutBefore: RankedMember?, countAfter: Int) -> CutAfter {
        if countAfter <= limit { return .none }
        guard let cutBefore else { return .lookUp }
        for change in changes {
            if let before = change.before, isIn(before, change.playerID, cut: cutBefore) { return .lookUp }
            if let after = change.after, isIn(after, change.playerID, cut: cutBefore) { return .lookUp }
        }
        return .same
    }

    /// Where unchanged players may enter or leave.
    public enum Region: Sendable, Equatable {
        case nothing
        /// Every member strictly behind `cut`.
        case behind(RankedMember)
        /// Members strictly behind `ahead` and at or ahead of `behind`.
        case between(ahead: RankedMember, behind: RankedMember)
    }

    /// The members whose place in the best `limit` may flip though their score did not change.
    public func crossing(cutBefore: RankedMember?, cutAfter: RankedMember?) -> Region {
        switch (cutBefore, cutAfter) {
        case (nil, nil): return .nothing
        // Everyone was in; those behind the new cut leave.
        case (nil, let after?): return .behind(after)
        // Everyone is in now; those behind the old cut enter.
        case (let before?, nil): return .behind(before)
        case (let before?, let after?):
            if before == after { return .nothing }
            return order.precedes((before.score, before.playerID), (after.score, after.playerID))
                ? .between(ahead: before, behind: after) : .between(ahead: after, behind: before)
        }
    }

    /// The view's changes: the changed players' moves in and out of the best `limit`, and the
    /// unchanged `crossing` players (those of the region, changed players left out by the caller
    /// or not) that entered or left.
    public func viewChanges(changes: [Change], crossing: [RankedMember], cutBefore: RankedMember?, cutAfter: RankedMember?) -> [ViewChange] {
        var result: [ViewChange] = []
        var changed = Set<String>()
        for change in changes {
            changed.insert(change.playerID)
            let before = change.before.flatMap { isIn($0, change.playerID, cut: cutBefore) ? $0 : nil }
            let after = change.after.flatMap { isIn($0, change.playerID, cut: cutAfter) ? $0 : nil }
            if before != after { result.append(ViewChange(playerID: change.playerID, before: before, after: after)) }
        }
        for member in crossing where !changed.contains(member.playerID) {
            let wasIn = isIn(member.score, member.playerID, cut: cutBefore)
            let isInNow = isIn(member.score, member.playerID, cut: cutAfter)
            if wasIn != isInNow {
                result.append(ViewChange(playerID: member.playerID, before: wasIn ? member.score : nil, after: isInNow ? member.score : nil))
            }
        }
        return result
    }

    /// The view's changes when the board keeps every player (no `max_entries`).
    public static func untrimmed(_ changes: [Change]) -> [ViewChange] {
        changes.compactMap { $0.before == $0.after ? nil : ViewChange(playerID: $0.playerID, before: $0.before, after: $0.after) }
    }
}
