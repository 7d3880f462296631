/// Which master serves each slot, as `CLUSTER SLOTS` tells it: ranges of slots, each with its
/// master and replicas. A slot no range covers has no master (the cluster is not whole).
public struct ClusterSlotMap: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        public var slots: ClosedRange<Int>
        public var master: ClusterAddress
        public var replicas: [ClusterAddress]

        public init(slots: ClosedRange<Int>, master: ClusterAddress, replicas: [ClusterAddress] = []) {
            self.slots = slots
            self.master = master
            self.replicas = replicas
        }
    }

    public private(set) var ranges: [Range]
    /// The master of each slot (an index into `masters`), -1 where none.
    private var owner: [Int16]
    public private(set) var masters: [ClusterAddress]

    public init(ranges: [Range]) {
        self.ranges = ranges.sorted { $0.slots.lowerBound < $1.slots.lowerBound }
        owner = [Int16](repeating: -1, count: ClusterSlot.count)
        masters = []
        for range in self.ranges {
            let index: Int
            if let known = masters.firstIndex(of: range.master) {
                index = known
            } else {
                index = masters.count
                masters.append(range.master)
            }
            for slot in range.slots where (0..<ClusterSlot.count).contains(slot) { owner[slot] = Int16(index) }
        }
    }

    /// The master serving `slot`, nil when no range covers it.
    public func master(of slot: Int) -> ClusterAddress? {
        guard (0..<ClusterSlot.count).contains(slot) else { return nil }
        let index = Int(owner[slot])
        return index >= 0 ? masters[index] : nil
    }

    /// Whether every slot has a master.
    public var coversEverySlot: Bool { !owner.contains(-1) }

    /// The same map with one slot moved to `master` (a `MOVED` reply, until the next refresh).
    public func moving(slot: Int, to master: ClusterAddress) -> ClusterSlotMap {
        guard (0..<ClusterSlot.count).contains(slot) else { return self }
        var ranges: [Range] = []
        for range in self.ranges {
            guard range.slots.contains(slot) else {
                ranges.append(range)
                continue
            }
            if range.slots.lowerBound < slot { ranges.append(Range(slots: range.slots.lowerBound...(slot - 1), master: range.master, replicas: range.replicas)) }
            if slot < range.slots.upperBound { ranges.append(Range(slots: (slot + 1)...range.slots.upperBound, master: range.master, replicas: range.replicas)) }
        }
        ranges.append(Range(slots: slot...slot, master: master))
        return ClusterSlotMap(ranges: ranges)
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], [replica host, port, …]…]…]`.
    /// A node announced with an empty, unknown (`?`) or null host (`cluster-preferred-endpoint-type
    /// unknown-endpoint`) is reached at `fallbackHost` (the address asked).
    public init(clusterSlots reply: RedisReply, fallbackHost: String) throws {
        guard let items = reply.array else { throw RedisError(.protocolViolation, "CLUSTER SLOTS did not answer an array") }
        var ranges: [Range] = []
        for item in items {
            guard let fields = item.array, fields.count >= 3, let start = fields[0].integer, let end = fields[1].integer,
                start >= 0, start <= end, end < ClusterSlot.count
            else { throw RedisError(.protocolViolation, "a CLUSTER SLOTS range is malformed") }
            let nodes = try fields[2...].map { node -> ClusterAddress in
                guard let parts = node.array, parts.count >= 2, let port = parts[1].integer, (1...65535).contains(port) else {
                    throw RedisError(.protocolViolation, "a CLUSTER SLOTS node is malformed")
                }
                let host: String
                switch parts[0] {
                case .null: host = ""
                default:
                    guard let text = parts[0].string else { throw RedisError(.protocolViolation, "a CLUSTER SLOTS node is malformed") }
                    host = text
                }
                return ClusterAddress(host: host.isEmpty || host == "?" ? fallbackHost : host, port: Int(port))
            }
            ranges.append(Range(slots: Int(start)...Int(end), master: nodes[0], replicas: Array(nodes.dropFirst())))
        }
        self.init(ranges: ranges)
    }
}
