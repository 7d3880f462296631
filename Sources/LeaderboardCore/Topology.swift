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
    /// The layout of a new board whose request names none (and the topology names none for it).
    public var defaultLayout: Layout
    /// Layouts of named boards, used when their creation request names none.
    public var boards: [String: Layout]

    public init(nodes: [Node], defaultLayout: Layout = .single, boards: [String: Layout] = [:]) {
        self.nodes = nodes
        self.defaultLayout = defaultLayout
        self.boards = boards
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
