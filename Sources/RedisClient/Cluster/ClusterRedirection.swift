/// What a Redis Cluster node's error reply asks of the client, parsed from its text.
public enum ClusterRedirection: Sendable, Equatable {
    /// The slot lives on another master for good: refresh the slot map, send there.
    case moved(slot: Int, address: ClusterAddress)
    /// The slot is migrating: send this one command there, preceded by ASKING.
    case ask(slot: Int, address: ClusterAddress)
    /// A multi-key command's keys are split by a migration in progress: retry after a pause.
    case tryAgain
    /// The cluster cannot serve (a master down and not yet replaced): retry after a pause.
    case clusterDown

    /// The redirection an error reply names; nil for any other error. A node that does not know
    /// its own endpoint (`cluster-preferred-endpoint-type unknown-endpoint`) names only the port
    /// (`MOVED 3999 :7002`): the host is then that of the node that answered, `sender`.
    public init?(error message: String, sender: String? = nil) {
        let words = message.split(separator: " ", omittingEmptySubsequences: true)
        guard let kind = words.first else { return nil }
        switch kind {
        case "MOVED", "ASK":
            guard words.count == 3, let slot = Int(words[1]), (0..<ClusterSlot.count).contains(slot) else { return nil }
            // (`?:port`: hostname endpoints without a hostname; also the answering node's host.)
            let endpoint = words[2].hasPrefix("?:") ? words[2].dropFirst() : words[2]
            guard let address = ClusterAddress(endpoint.hasPrefix(":") && sender != nil ? sender! + endpoint : String(endpoint)) else { return nil }
            self = kind == "MOVED" ? .moved(slot: slot, address: address) : .ask(slot: slot, address: address)
        case "TRYAGAIN": self = .tryAgain
        case "CLUSTERDOWN": self = .clusterDown
        default: return nil
        }
    }
}

/// A cluster node's address, `host:port` (an IPv6 host keeps its colons: the port is after the last).
public struct ClusterAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
