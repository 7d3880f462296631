import LeaderboardCore
import LeaderboardStore

/// `GET .../layout/plan`: a proposed layout for a board from PostgreSQL's current scores (the
/// players of its real-time view), with players per shard for it and for today's layout.
public struct LayoutPlanner: Sendable {
    let service: LeaderboardService

    public init(service: LeaderboardService) {
        self.service = service
    }

    /// What the planner proposes, and what its picture shows.
    public struct Answer: Sendable {
        public var plan: LayoutPlan
        public var today: (layout: Layout, members: [Int])
        public var picture: LayoutPlanPicture
    }

    /// Checks the query: `strategy` band or hash, `shards` 2–256 for bands and 1–256 for hashes.
    public static func parse(strategy: String?, shards: String?) throws(LeaderboardError) -> (LayoutPlan.Strategy, Int) {
        guard let name = strategy, let parsed = LayoutPlan.Strategy(rawValue: name) else {
            throw .invalidRequest("strategy must be band or hash")
        }
        let least = parsed == .band ? 2 : 1
        guard let text = shards, let count = Int(text), (least...Layout.maxShards).contains(count) else {
            throw .invalidRequest("shards must be an integer from \(least) to \(Layout.maxShards)")
        }
        return (parsed, count)
    }

    public func plan(board id: String, strategy: LayoutPlan.Strategy, shards: Int) async throws -> Answer {
        try Identifier.check(id, field: "leaderboard id")
        let board = try await service.directory.board(id)
        do {
            let histogram = try await service.repository.viewHistogram(board: board)
            let plan: LayoutPlan =
                switch strategy {
                case .band: LayoutPlan.band(histogram: histogram, bands: shards)
                case .hash: LayoutPlan.hash(shards: shards, members: try await service.repository.hashCounts(board: board, shards: shards))
                }
            let layout = board.config.layout
            let todayMembers: [Int] =
                switch layout {
                case .single: [histogram.reduce(0) { $0 + $1.count }]
                case .band(let bounds): LayoutPlan.members(histogram, bounds: bounds)
                case .hash(let count): try await service.repository.hashCounts(board: board, shards: count)
                }
            let today = (layout: layout, members: todayMembers)
            return Answer(plan: plan, today: today, picture: LayoutPlanPicture(board: id, histogram: histogram, today: today, proposal: plan))
        } catch let error as LeaderboardError {
            throw error
        } catch {
            throw LeaderboardError.fromStore(error)
        }
    }
}
