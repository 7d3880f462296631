import Foundation
import LeaderboardCore
import Yams

/// Reads a topology file (YAML) into a ``Topology``; every problem names where it is.
public enum TopologyLoader {
    public static func load(path: String) throws -> Topology {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TopologyError("cannot read \(path)")
        }
        return try parse(yaml: text)
    }

    public static func parse(yaml text: String) throws -> Topology {
        let document: Any?
        do { document = try Yams.load(yaml: text) } catch { throw TopologyError("not valid YAML: \(error)") }
        guard let root = document as? [String: Any] else { throw TopologyError("the document must be a mapping with nodes or cluster") }
        if let unknown = root.keys.sorted().first(where: { !["nodes", "cluster", "defaults", "boards"].contains($0) }) {
            throw TopologyError("\(unknown): unknown key")
        }
        var topology: Topology
        if let cluster = root["cluster"] {
            guard root["nodes"] == nil else { throw TopologyError("cluster: a topology names either nodes or a cluster, not both") }
            topology = Topology(cluster: try self.cluster(cluster))
        } else {
            topology = Topology(nodes: try nodes(root["nodes"]))
        }
        if let defaults = root["defaults"] {
            guard let mapping = defaults as? [String: Any], mapping.keys.allSatisfy({ $0 == "layout" }) else {
                throw TopologyError("defaults: must be a mapping with layout")
            }
            if let layout = mapping["layout"] { topology.defaultLayout = try self.layout(layout, at: "defaults.layout") }
        }
        if let boards = root["boards"] {
            guard let mapping = boards as? [String: Any] else { throw TopologyError("boards: must map board ids to layouts") }
            for (board, layout) in mapping { topology.boards[board] = try self.layout(layout, at: "boards.\(board)") }
        }
        try topology.validate()
        return topology
    }

    /// `cluster: {seeds: [host:port, …], password}`.
    private static func cluster(_ value: Any) throws -> Topology.Cluster {
        guard let mapping = value as? [String: Any] else { throw TopologyError("cluster: must be a mapping with seeds") }
        if let unknown = mapping.keys.sorted().first(where: { !["seeds", "password"].contains($0) }) {
            throw TopologyError("cluster.\(unknown): unknown key")
        }
        guard let list = mapping["seeds"] as? [Any], !list.isEmpty else { throw TopologyError("cluster.seeds: a list of host:port is required") }
        let seeds = try list.enumerated().map { index, item -> Topology.Node in
            guard let address = item as? String, let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                throw TopologyError("cluster.seeds[\(index)]: must be host:port")
            }
            return Topology.Node(id: address, host: String(address[..<colon]), port: port)
        }
        let password = mapping["password"].map { "\($0)" }
        return Topology.Cluster(seeds: seeds, password: password?.isEmpty == true ? nil : password)
    }

    private static func nodes(_ value: Any?) throws -> [Topology.Node] {
        guard let list = value as? [Any] else { throw TopologyError("nodes: a list of Redis nodes is required") }
        var nodes: [Topology.Node] = []
        for (index, item) in list.enumerated() {
            guard let node = item as? [String: Any] else { throw TopologyError("nodes[\(index)]: must be a mapping with id and address") }
            if let unknown = node.keys.sorted().first(where: { !["id", "address", "password"].contains($0) }) {
                throw TopologyError("nodes[\(index)].\(unknown): unknown key")
            }
            guard let id = node["id"].map({ "\($0)" }) else { throw TopologyError("nodes[\(index)].id: required") }
            guard let address = node["address"] as? String, let colon = address.lastIndex(of: ":"),
                let port = Int(address[address.index(after: colon)...])
            else { throw TopologyError("nodes[\(index)].address: must be host:port") }
            let password = node["password"].map { "\($0)" }
            nodes.append(.init(id: id, host: String(address[..<colon]), port: port, password: password?.isEmpty == true ? nil : password))
        }
        return nodes
    }

    private static func layout(_ value: Any, at path: String) throws -> Layout {
        guard let mapping = value as? [String: Any], let strategy = mapping["strategy"] as? String else {
            throw TopologyError("\(path): must be a mapping with a strategy (single, hash or band)")
        }
        switch strategy {
        case "single":
            return .single
        case "hash":
            guard let shards = mapping["shards"] as? Int else { throw TopologyError("\(path).shards: an integer is required") }
            return .hash(shards: shards)
        case "band":
            guard let bounds = mapping["bounds"] as? [Any], let values = bounds as? [Int] else {
                throw TopologyError("\(path).bounds: a list of integer scores is required")
            }
            return .band(bounds: values.map(Int64.init))
        default:
            throw TopologyError("\(path).strategy: must be single, hash or band")
        }
    }
}
