import Dispatch
import LeaderboardCore
import Metrics
import NIOConcurrencyHelpers
import RedisClient

/// Rounds of commands to the Redis nodes: each node's commands of a round go as one pipeline,
/// all nodes at once. Scripts go as EVALSHA (loaded where a node does not have them). Each node's
/// pipelines are timed, and their failures counted. On a Redis Cluster, each command goes to the
/// master of its key's slot instead (``RedisClusterClient``, which follows redirections).
final class RedisRoundTransport: Sendable {
    let nodes: [String: RedisConnectionPool]
    let cluster: RedisClusterClient?
    /// Per node: how long each pipelined round of commands took, and how many rounds failed.
    private let nodeMetrics: [String: (latency: Timer, errors: Counter)]

    init(cluster: RedisClusterClient) {
        nodes = [:]
        self.cluster = cluster
        nodeMetrics = [
            Topology.clusterNode: (
                Timer(label: "leaderboard_redis_pipeline_duration", dimensions: [("node", Topology.clusterNode)], preferredDisplayUnit: .seconds),
                Counter(label: "leaderboard_redis_errors", dimensions: [("node", Topology.clusterNode)])
            )
        ]
    }

    init(nodes: [String: RedisConnectionPool]) {
        self.nodes = nodes
        cluster = nil
        var metrics: [String: (latency: Timer, errors: Counter)] = [:]
        for node in nodes.keys {
            metrics[node] = (
                Timer(label: "leaderboard_redis_pipeline_duration", dimensions: [("node", node)], preferredDisplayUnit: .seconds),
                Counter(label: "leaderboard_redis_errors", dimensions: [("node", node)])
            )
        }
        nodeMetrics = metrics
    }

    /// One pipeline to one node, timed; a failure is counted against the node.
    private func pipeline(_ node: String, _ commands: [[String]]) async throws -> [RedisReply] {
        let pool = try pool(node)
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let replies = try await pool.pipeline(commands)
            nodeMetrics[node]?.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            return replies
        } catch {
            nodeMetrics[node]?.errors.increment()
            throw error
        }
    }

    /// Sends each node its commands as one pipeline, all nodes at once; replies in input order.
    /// Scripts go as EVALSHA (``LuaScript``); when a node does not have one (a restart, a new
    /// node), it is loaded there and the round is sent again, whole (a round's commands are
    /// idempotent, and a read's shard reports must bracket its commands in one pipeline).
    ///
    /// `bracketed`: the round brackets its commands with reports of the shards they read (a read,
    /// see ``RedisRealtimeStore/watchedRound(_:watching:check:)``). On a cluster, a round some of
    /// whose commands were redirected or retried apart from the others then throws ``ViewMoved``
    /// (the read is redone): its reports no longer bracket what it read.
    func round(_ commands: [(node: String, command: [String])], bracketed: Bool = false) async throws -> [RedisReply] {
        let replies = try await send(commands, bracketed: bracketed)
        var loads: [(node: String, command: [String])] = []
        var loading: Set<String> = []
        for (item, reply) in zip(commands, replies) {
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT"), item.command.first == "EVALSHA", item.command.count > 1,
                let text = LuaScript.text(sha1: item.command[1]), loading.insert((cluster == nil ? item.node + " " : "") + item.command[1]).inserted
            else { continue }
            loads.append((item.node, ["SCRIPT", "LOAD", text]))
        }
        guard !loads.isEmpty else { return replies }
        if let cluster {
            // Every master learns the scripts (a slot may move to any of them).
            let masters = try await cluster.masters()
            for (_, command) in loads {
                for master in masters { try RedisReplies.check([try await cluster.pool(master).pipeline([command])[0]]) }
            }
        } else {
            try RedisReplies.check(try await send(loads))
        }
        return try await send(commands, bracketed: bracketed)
    }

    private let rounds = NIOLockedValueBox(0)
    /// Rounds sent so far (each a parallel set of pipelines, one per node): what a read costs in round trips.
    var roundsSent: Int { rounds.withLockedValue { $0 } }

    private func send(_ commands: [(node: String, command: [String])], bracketed: Bool = false) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        rounds.withLockedValue { $0 += 1 }
        if let cluster {
            let metrics = nodeMetrics[Topology.clusterNode]
            let started = DispatchTime.now().uptimeNanoseconds
            defer { countClusterActivity(cluster) }
            do {
                let (replies, resent) = try await cluster.pipelineNotingResends(
                    commands.map(\.command), keys: commands.map { Self.routingKey($0.command) }
                )
                metrics?.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                if resent && bracketed { throw ViewMoved() }
                return replies
            } catch {
                metrics?.errors.increment()
                throw error
            }
        }
        var byNode: [String: [Int]] = [:]
        for (index, item) in commands.enumerated() { byNode[item.node, default: []].append(index) }
        if byNode.count == 1, let (node, _) = byNode.first {
            return try await pipeline(node, commands.map(\.command))
        }
        // Every node's pipeline leaves at once (one hop to its connection's event loop each); the
        // replies are collected as they come and the caller resumes once, when the last arrives.
        // The round's connections are all on one event loop (the pools put a connection of every
        // node on every loop): the caller's own when it runs on one (no hop at all), else taken in
        // turn, so the round costs one hop there and one back.
        let firstPool = try pool(commands[0].node)
        let loop =
            firstPool.callersLoop
            ?? firstPool.loops[loopTurn.withLockedValue { turn in
                turn = (turn &+ 1) & Int.max
                return turn
            } % firstPool.loops.count]
        var requests: [(node: String, lane: RedisConnectionPool.Lane, indices: [Int])] = []
        for (node, indices) in byNode { requests.append((node, try await pool(node).lane(on: loop), indices)) }
        let started = DispatchTime.now().uptimeNanoseconds
        let metrics = nodeMetrics
        let nodes = requests.map(\.node)
        let answered = try await LaneRound.send(requests.map { ($0.lane, $0.indices.map { commands[$0].command }) }) { index, result in
            let node = nodes[index]
            switch result {
            case .success: metrics[node]?.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            case .failure: metrics[node]?.errors.increment()
            }
        }
        var replies = [RedisReply](repeating: .null, count: commands.count)
        for (request, answers) in zip(requests, answered) {
            guard answers.count == request.indices.count else { throw RedisError(.protocolViolation, "a node answered fewer replies than commands") }
            for (index, answer) in zip(request.indices, answers) { replies[index] = answer }
        }
        return replies
    }

    /// What the cluster client did since the last look: slot-map refreshes, MOVED and ASK
    /// redirections followed, TRYAGAIN/CLUSTERDOWN retries (`/metrics`).
    private let clusterSeen = NIOLockedValueBox(RedisClusterClient.Counts())
    private static let clusterCounters = (
        refreshes: Counter(label: "leaderboard_redis_cluster_slot_refreshes"), moved: Counter(label: "leaderboard_redis_cluster_moved"),
        asked: Counter(label: "leaderboard_redis_cluster_ask"), retried: Counter(label: "leaderboard_redis_cluster_retries")
    )

    private func countClusterActivity(_ cluster: RedisClusterClient) {
        let now = cluster.activity
        let before = clusterSeen.withLockedValue { seen in
            defer { seen = now }
            return seen
        }
        let counters = Self.clusterCounters
        if now.refreshes > before.refreshes { counters.refreshes.increment(by: now.refreshes - before.refreshes) }
        if now.moved > before.moved { counters.moved.increment(by: now.moved - before.moved) }
        if now.asked > before.asked { counters.asked.increment(by: now.asked - before.asked) }
        if now.retried > before.retried { counters.retried.increment(by: now.retried - before.retried) }
    }

    /// The key that decides where a command goes on a Redis Cluster: a script's first key, the
    /// key of `MEMORY USAGE`, else the first argument; nil (any master) for keyless commands.
    static func routingKey(_ command: [String]) -> String? {
        guard let name = command.first, command.count > 1 else { return nil }
        // (Both spellings listed rather than upper-casing every command of every round.)
        switch name {
        case "EVALSHA", "EVAL", "evalsha", "eval": return command.count > 3 && (Int(command[2]) ?? 0) > 0 ? command[3] : nil
        case "MEMORY", "memory": return command.count > 2 ? command[2] : nil
        case "SCRIPT", "PING", "CLUSTER", "INFO", "script", "ping", "cluster", "info": return nil
        default: return command[1]
        }
    }

    private let loopTurn = NIOLockedValueBox(0)

    func pool(_ node: String) throws -> RedisConnectionPool {
        guard let pool = nodes[node] else { throw RealtimeStoreError.unknownNode(node) }
        return pool
    }
}
