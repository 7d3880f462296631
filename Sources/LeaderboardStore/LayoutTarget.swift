import LeaderboardCore

/// The layout a board is migrating to: its epoch, its layout and the node of each of its shards.
///
/// It is kept in the board's row, so every commit (which reads that row under the board's lock)
/// knows whether its change must also go to the new epoch's shards.
public struct LayoutTarget: Sendable, Equatable, Codable {
    public var epoch: Int
    public var layout: Layout
    public var placement: [String]

    public init(epoch: Int, layout: Layout, placement: [String]) {
        self.epoch = epoch
        self.layout = layout
        self.placement = placement
    }
}

extension StoredBoard {
    /// The board as its migration target's epoch holds it (nil when no migration runs).
    public var migrationTarget: StoredBoard? {
        guard let migration else { return nil }
        var target = self
        target.config.layout = migration.layout
        target.placement = migration.placement
        target.epoch = migration.epoch
        target.migration = nil
        return target
    }

    /// The board at another epoch (e.g. one being retired), with that epoch's layout and placement.
    public func at(epoch: Int, layout: Layout, placement: [String]) -> StoredBoard {
        var board = self
        board.config.layout = layout
        board.placement = placement
        board.epoch = epoch
        board.migration = nil
        return board
    }
}
