import Foundation
import HTTPTypes
import Hummingbird
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import NIOCore

/// The capacity planner's routes (admin): a board's layout and its online change, and the planner.
public struct LayoutRoutes: Sendable {
    public let migrator: LayoutMigrator
    public let planner: LayoutPlanner
    public let maxBodyBytes: Int

    public init(migrator: LayoutMigrator, planner: LayoutPlanner, maxBodyBytes: Int = 1 << 20) {
        self.migrator = migrator
        self.planner = planner
        self.maxBodyBytes = maxBodyBytes
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        let api = router.group("api/v1")
        api.put("leaderboards/:id/layout") { request, context in
            let id = try context.pathParameter("id")
            let layout = try Self.parseChange(try await JSONIO.body(request, limit: maxBodyBytes))
            switch try await migrator.change(board: id, to: layout) {
            case .migrating(let epoch):
                return try JSONIO.response(Change(leaderboardID: id, epoch: epoch, state: "migrating"), status: .accepted)
            case .stable(let epoch):
                return try JSONIO.response(Change(leaderboardID: id, epoch: epoch, state: "stable"))
            }
        }
        api.get("leaderboards/:id/layout") { _, context in
            let id = try context.pathParameter("id")
            return try JSONIO.response(Status(id, try await migrator.status(board: id)))
        }
        api.get("leaderboards/:id/layout/plan") { request, context in
            let id = try context.pathParameter("id")
            let queries = request.uri.queryParameters
            let (strategy, shards) = try LayoutPlanner.parse(strategy: queries.get("strategy"), shards: queries.get("shards"))
            let svg: Bool
            switch queries.get("format") {
            case nil, "json": svg = false
            case "svg": svg = true
            default: throw LeaderboardError.invalidRequest("format must be json or svg")
            }
            // A plan walks every distinct score of the board (millions on a big one): on the shared
            // pool, not on this connection's event loop, whose other connections and Redis replies
            // would wait for it (see EventLoopTaskExecutor).
            return try await withTaskExecutorPreference(globalConcurrentExecutor) {
                let answer = try await planner.plan(board: id, strategy: strategy, shards: shards)
                if svg {
                    return Response(
                        status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: answer.picture.svg()))
                    )
                }
                return try JSONIO.response(Plan(answer))
            }
        }
    }

    /// `{"layout": {...}}`, the layout in the creation shape.
    static func parseChange(_ json: JSONValue) throws -> Layout {
        guard let object = json.object, let layout = object["layout"] else {
            throw LeaderboardError.invalidRequest("body must be an object with a layout")
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "layout" }) {
            throw LeaderboardError.invalidRequest("unknown field '\(unknown)'")
        }
        return try LeaderboardConfig.parseLayout(layout)
    }

    // MARK: - Answers

    struct Change: Encodable {
        let leaderboardID: String
        let epoch: Int
        let state: String

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case epoch, state
        }
    }

    struct Status: Encodable {
        struct Shard: Encodable {
            let shard: Int
            let node: String
            let members: Int
        }

        struct Migration: Encodable {
            let epoch: Int
            let layout: Layout
            let copied: Int
            let total: Int
            let startedAt: String

            enum CodingKeys: String, CodingKey {
                case epoch, layout, copied, total
                case startedAt = "started_at"
            }
        }

        let leaderboardID: String
        let epoch: Int
        let layout: Layout
        let state: String
        let shards: [Shard]
        let migration: Migration?

        init(_ id: String, _ status: LayoutStatus) {
            leaderboardID = id
            epoch = status.epoch
            layout = status.layout
            state = status.migration == nil ? "stable" : "migrating"
            shards = status.shards.map { Shard(shard: $0.shard, node: $0.node, members: $0.members) }
            migration = status.migration.map {
                Migration(epoch: $0.epoch, layout: $0.layout, copied: $0.copied, total: $0.total, startedAt: $0.startedAt)
            }
        }

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case epoch, layout, state, shards, migration
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(epoch, forKey: .epoch)
            try container.encode(layout, forKey: .layout)
            try container.encode(state, forKey: .state)
            try container.encode(shards, forKey: .shards)
            // `migration` is always present: null while the layout is stable.
            try container.encode(migration, forKey: .migration)
        }
    }

    struct Plan: Encodable {
        let strategy: String
        let shards: Int
        let bounds: [Int64]?
        let layout: Layout
        let members: [Int]
        let imbalance: Double
        let current: Current

        struct Current: Encodable {
            let layout: Layout
            let members: [Int]
            let imbalance: Double
        }

        init(_ answer: LayoutPlanner.Answer) {
            strategy = answer.plan.strategy.rawValue
            shards = answer.plan.members.count
            if case .band(let bounds) = answer.plan.layout { self.bounds = bounds } else { bounds = answer.plan.strategy == .band ? [] : nil }
            layout = answer.plan.layout
            members = answer.plan.members
            imbalance = (answer.plan.imbalance * 1000).rounded() / 1000
            current = Current(
                layout: answer.today.layout, members: answer.today.members,
                imbalance: (LayoutPlan.imbalance(answer.today.members) * 1000).rounded() / 1000
            )
        }
    }
}
