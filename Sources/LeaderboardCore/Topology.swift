/// The cluster description: the Redis nodes shards live on, the layout of new boards, and
/// per-board layouts (the files under `Topology/`).
public struct Topology: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var id: String
        public var host: String
        public var port: Int
        public var password: String?

        public init(id: String, host: String, port: Int, password: String? = nil) {
            self.id = id
            self.host = host
            self.port = port
            self.password = password
        }
    }

    public var nodes: [Node]
    /// A Redis Cluster as the shard substrate, instead of standalone nodes: the topology then has
    /// one node, ``clusterNode``, that stands for the whole cluster (every shard is placed on it,
    /// and the cluster's slots decide which master holds a shard).
    public var cluster: Cluster?
    /// The layout of a new board whose request names none (and the topology names none for it).
    public var defaultLayout: Layout
    /// Layouts of named boards, used when their creation request names none.
    public var boards: [String: Layout]

    /// A Redis Cluster: the nodes to learn its slot map from, and its password.
    public struct Cluster: Sendable, Equatable {
        public var seeds: [Node]
        public var password: String?

        public init(seeds: [Node], password: String? = nil) {
            self.seeds = seeds
            self.password = password
        }
    }

    /// The id of the one node of a cluster topology.
    public static let clusterNode = "cluster"

    public init(nodes: [Node], defaultLayout: Layout = .single, boards: [String: Layout] = [:]) {
        self.nodes = nodes
        self.defaultLayout = defaultLayout
        self.boards = boards
    }

    /// A topology of a Redis Cluster reached through `seeds`.
    public init(cluster: Cluster, defaultLayout: Layout = .single, boards: [String: Layout] = [:]) {
        let first = cluster.seeds.first
        self.init(
            nodes: [Node(id: Self.clusterNode, host: first?.host ?? "", port: first?.port ?? 0, password: cluster.password)],
            defaultLayout: defaultLayout, boards: boards
        )
        self.cluster = cluster
    }

    /// The layout a new board gets when its request names none.
    public func layout(forNewBoard id: String) -> Layout { boards[id] ?? defaultLayout }

    /// Where the shards of a new board go: shard s on node (h + s) mod nodes, h from the board id,
    /// so that boards' first shards spread over the nodes. Stored with the board, so a later
    /// change of the topology does not move existing shards.
    public func placement(board: String, shards: Int) -> [String] {
        let start = Int(XXH3.hash(board) % UInt64(nodes.count))
        return (0..<shards).map { nodes[(start + $0) % nodes.count].id }
    }

    /// Checks ids, addresses and layouts; the error names the problem.
    public func validate() throws(TopologyError) {
        guard !nodes.isEmpty else { throw TopologyError("nodes: at least one Redis node is required") }
        if let cluster {
            guard !cluster.seeds.isEmpty else { throw TopologyError("cluster.seeds: at least one host:port is required") }
            for (index, seed) in cluster.seeds.enumerated() where seed.host.isEmpty || !(1...65535).contains(seed.port) {
                throw TopologyError("cluster.seeds[\(index)]: must be host:port")
            }
        }
        var seen: Set<String> = []
        for (index, node) in nodes.enumerated() {
            guard Identifier.isValid(node.id) else { throw TopologyError("nodes[\(index)].id: must be 1-64 characters of [A-Za-z0-9_.:-]") }
            guard seen.insert(node.id).inserted else { throw TopologyError("nodes[\(index)].id: '\(node.id)' is used twice") }
            guard !node.host.isEmpty, (1...65535).contains(node.port) else {
                throw TopologyError("nodes[\(index)].address: must be host:port")
            }
        }
        do { try defaultLayout.validate() } catch { throw TopologyError("defaults.layout: \(error.message)") }
        for (board, layout) in boards.sorted(by: { $0.key < $1.key }) {
            guard Identifier.isValid(board) else { throw TopologyError("boards.\(board): not a valid board id") }
            do { try layout.validate() } catch { throw TopologyError("boards.\(board): \(error.message)") }
        }
    }
}

/// A problem in a topology file.
public struct TopologyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid topology: \(message)" }
}
