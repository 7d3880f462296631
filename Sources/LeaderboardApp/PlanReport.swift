import Foundation
import LeaderboardCore
import LeaderboardService

/// The `plan` command's table: the proposal as an API layout and a topology entry, and players
/// per shard for today's layout beside the proposed one.
public enum PlanReport {
    public static func text(board: String, _ answer: LayoutPlanner.Answer) -> String {
        let plan = answer.plan
        let players = plan.members.reduce(0, +)
        var lines = ["# layout plan for '\(board)' (\(players) players in its real-time view)"]
        switch plan.layout {
        case .band(let bounds):
            let list = bounds.map(String.init).joined(separator: ", ")
            lines += [
                "# API: PUT /api/v1/leaderboards/\(board)/layout {\"layout\": {\"strategy\": \"band\", \"bounds\": [\(list)]}}",
                "# CLI: leaderboard-server reshard --board \(board) --bounds \(bounds.map(String.init).joined(separator: ","))",
                "# topology (boards section):", "  \(board):", "    strategy: band", "    bounds: [\(list)]",
            ]
        case .hash(let shards):
            lines.append("# API: PUT /api/v1/leaderboards/\(board)/layout {\"layout\": {\"strategy\": \"hash\", \"shards\": \(shards)}}")
            lines.append("# CLI: leaderboard-server reshard --board \(board) --shards \(shards)")
        case .single:
            lines.append("# one shard (the board has too few distinct scores to split): {\"strategy\": \"single\"}")
        }
        lines.append(String(format: "# imbalance (largest shard / mean): today %.3f, proposed %.3f", LayoutPlan.imbalance(answer.today.members), plan.imbalance))
        lines.append("shard      today   proposed  proposed range")
        for index in 0..<max(answer.today.members.count, plan.members.count) {
            let today = index < answer.today.members.count ? String(answer.today.members[index]) : "-"
            let proposed = index < plan.members.count ? String(plan.members[index]) : "-"
            var range = ""
            if case .band(let bounds) = plan.layout, index <= bounds.count {
                range = "[\(index == 0 ? "-inf" : String(bounds[index - 1])), \(index == bounds.count ? "+inf" : String(bounds[index])))"
            }
            lines.append(pad(String(index), 5) + pad(today, 11) + pad(proposed, 11) + "  " + range)
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
