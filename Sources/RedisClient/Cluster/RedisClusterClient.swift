import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client of a Redis Cluster: it learns which master serves each slot (`CLUSTER SLOTS`, from
/// any seed or known node), sends each command to the master of its key's slot — every master's
/// commands as one pipeline, all masters at once — and follows the cluster's answers: `MOVED`
/// (the slot map is refreshed and the command sent to the new master), `ASK` (the command alone
/// goes to the importing node after `ASKING`), `TRYAGAIN` and `CLUSTERDOWN` (sent again after a
/// pause). After `maxAttempts` sends a command keeps its last error reply, which the caller
/// answers as unavailable. Connections are ``RedisConnectionPool``s, one per node reached.
public final class RedisClusterClient: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var seeds: [ClusterAddress]
        public var password: String?
        public var timeoutMilliseconds: Int
        public var poolSize: Int
        /// Sends of one command at most (the first and its redirections or retries).
        public var maxAttempts: Int
        /// The pause before a command answered `TRYAGAIN` or `CLUSTERDOWN` is sent again (doubling).
        public var retryPauseMilliseconds: Int

        public init(
            seeds: [ClusterAddress], password: String? = nil, timeoutMilliseconds: Int = 2000, poolSize: Int = 2, maxAttempts: Int = 6,
            retryPauseMilliseconds: Int = 50
        ) {
            self.seeds = seeds
            self.password = password
            self.timeoutMilliseconds = timeoutMilliseconds
            self.poolSize = poolSize
            self.maxAttempts = maxAttempts
            self.retryPauseMilliseconds = retryPauseMilliseconds
        }
    }

    /// What the client has done, for metrics and `/readyz`.
    public struct Counts: Sendable, Equatable {
        public var refreshes = 0
        public var moved = 0
        public var asked = 0
        public var retried = 0

        public init() {}
    }

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let map = NIOLockedValueBox<ClusterSlotMap?>(nil)
    private let pools = NIOLockedValueBox<[ClusterAddress: RedisConnectionPool]>([:])
    private let counts = NIOLockedValueBox(Counts())
    /// A node could not be reached: the next send asks for the slot map first (a master that
    /// died is replaced by its replica, which only a fresh map names).
    private let stale = NIOLockedValueBox(false)

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// The slot map in use (nil before the first refresh).
    public var slotMap: ClusterSlotMap? { map.withLockedValue { $0 } }
    public var activity: Counts { counts.withLockedValue { $0 } }

    /// The pool of one node (made on first use).
    public func pool(_ address: ClusterAddress) -> RedisConnectionPool {
        let configuration = configuration
        let group = group
        return pools.withLockedValue { pools in
            if let pool = pools[address] { return pool }
            let pool = RedisConnectionPool(
                configuration: .init(
                    connection: .init(
                        host: address.host, port: address.port, password: configuration.password, database: 0,
                        timeoutMilliseconds: configuration.timeoutMilliseconds
                    ),
                    poolSize: configuration.poolSize
                ),
                group: group
            )
            pools[address] = pool
            return pool
        }
    }

    /// Asks the known masters, then the seeds, for the slot map, and keeps the first whole one
    /// (or the first one at all when none is whole: the cluster is missing a master).
    @discardableResult
    public func refreshSlots() async throws -> ClusterSlotMap {
        counts.withLockedValue { $0.refreshes += 1 }
        var candidates = map.withLockedValue { $0?.masters ?? [] }
        for seed in configuration.seeds where !candidates.contains(seed) { candidates.append(seed) }
        var partial: ClusterSlotMap?
        var lastError: (any Error)?
        for address in candidates {
            do {
                let reply = try await pool(address).command("CLUSTER", "SLOTS")
                if case .error(let message) = reply { throw RedisError(.server, message) }
                let found = try ClusterSlotMap(clusterSlots: reply, fallbackHost: address.host)
                if found.coversEverySlot {
                    map.withLockedValue { $0 = found }
                    return found
                }
                if partial == nil { partial = found }
            } catch {
                lastError = error
            }
        }
        if let partial {
            map.withLockedValue { $0 = partial }
            return partial
        }
        throw lastError ?? RedisError(.connection, "no cluster seed answered CLUSTER SLOTS")
    }

    /// The master of `key`'s slot (refreshing the map first when there is none yet); nil when no
    /// master serves the slot.
    public func master(of key: String) async throws -> ClusterAddress? {
        let known = map.withLockedValue { $0 }
        let current: ClusterSlotMap
        if let known { current = known } else { current = try await refreshSlots() }
        return current.master(of: ClusterSlot.of(key))
    }

    /// Sends `commands`, each to the master of its key (`keys[i]`; nil: any master), every master's
    /// as one pipeline, all at once, and follows redirections. Replies in the order of `commands`;
    /// error replies in place. Throws when a node cannot be reached.
    public func pipeline(_ commands: [[String]], keys: [String?]) async throws -> [RedisReply] {
        try await pipelineNotingResends(commands, keys: keys).replies
    }

    /// ``pipeline(_:keys:)``, also telling whether some commands were sent again (redirected or
    /// retried) apart from the others: then the replies were not all answered by one pipeline per
    /// node, in order, and a caller that brackets commands with reads of the same keys (to see
    /// one state) must not trust them.
    public func pipelineNotingResends(_ commands: [[String]], keys: [String?]) async throws -> (replies: [RedisReply], resent: Bool) {
        precondition(commands.count == keys.count, "one routing key per command")
        if commands.isEmpty { return ([], false) }
        var resent = false
        var current: ClusterSlotMap
        if stale.withLockedValue({ $0 }), let fresh = try? await refreshSlots() {
            stale.withLockedValue { $0 = false }
            current = fresh
        } else if let known = map.withLockedValue({ $0 }) {
            current = known
        } else {
            current = try await refreshSlots()
        }
        var replies = [RedisReply](repeating: .null, count: commands.count)
        // (index, where to send it, whether ASKING goes first)
        var pending: [(index: Int, address: ClusterAddress?, asking: Bool)] = commands.indices.map { index in
            (index, keys[index].flatMap { current.master(of: ClusterSlot.of($0)) } ?? current.masters.first, false)
        }
        var pause = configuration.retryPauseMilliseconds
        for attempt in 1...max(configuration.maxAttempts, 1) {
            let answered: [RedisReply]
            do {
                answered = try await send(pending, commands)
            } catch {
                stale.withLockedValue { $0 = true }
                throw error
            }
            var next: [(index: Int, address: ClusterAddress?, asking: Bool)] = []
            var refresh = false
            var wait = false
            for (item, reply) in zip(pending, answered) {
                replies[item.index] = reply
                guard case .error(let message) = reply, let redirection = ClusterRedirection(error: message, sender: item.address?.host) else { continue }
                switch redirection {
                case .moved(let slot, let address):
                    counts.withLockedValue { $0.moved += 1 }
                    current = current.moving(slot: slot, to: address)
                    refresh = true
                    next.append((item.index, address, false))
                case .ask(_, let address):
                    counts.withLockedValue { $0.asked += 1 }
                    next.append((item.index, address, true))
                case .tryAgain, .clusterDown:
                    counts.withLockedValue { $0.retried += 1 }
                    wait = true
                    refresh = refresh || redirection == .clusterDown
                    next.append((item.index, nil, false))
                }
            }
            if next.isEmpty || attempt == configuration.maxAttempts { break }
            resent = true
            if refresh {
                // The moved slots are used at once; the whole map is asked for again (a reshard
                // or a failover moves more than the slots seen so far).
                map.withLockedValue { $0 = current }
                if let fresh = try? await refreshSlots() { current = fresh }
            }
            if wait {
                try await Task.sleep(for: .milliseconds(pause))
                pause = min(pause * 2, 1000)
            }
            pending = next.map { item in
                (item.index, item.address ?? keys[item.index].flatMap { current.master(of: ClusterSlot.of($0)) } ?? current.masters.first, item.asking)
            }
        }
        return (replies, resent)
    }

    /// One send of the pending commands: a pipeline per node, all nodes at once. A command with
    /// no node (a slot without a master) is answered `CLUSTERDOWN` here.
    private func send(_ pending: [(index: Int, address: ClusterAddress?, asking: Bool)], _ commands: [[String]]) async throws -> [RedisReply] {
        var byNode: [ClusterAddress: [Int]] = [:]
        var replies = [RedisReply](repeating: .error("CLUSTERDOWN Hash slot not served"), count: pending.count)
        for (position, item) in pending.enumerated() {
            if let address = item.address { byNode[address, default: []].append(position) }
        }
        // Every master's pipeline leaves at once, on connections of one event loop (the caller's
        // when it runs on one, else taken in turn), and the caller resumes once (``LaneRound``).
        let addresses = Array(byNode.keys)
        guard let first = addresses.first else { return replies }
        let loops = pool(first).loops
        let loop =
            pool(first).callersLoop
            ?? loops[loopTurn.withLockedValue { turn in
                turn = (turn &+ 1) & Int.max
                return turn
            } % loops.count]
        var requests: [(lane: RedisConnectionPool.Lane, commands: [[String]])] = []
        for address in addresses {
            var batch: [[String]] = []
            for position in byNode[address]! {
                if pending[position].asking { batch.append(["ASKING"]) }
                batch.append(commands[pending[position].index])
            }
            requests.append((try await pool(address).lane(on: loop), batch))
        }
        let answered = try await LaneRound.send(requests)
        for (address, answers) in zip(addresses, answered) {
            var cursor = 0
            for position in byNode[address]! {
                if pending[position].asking { cursor += 1 }
                guard cursor < answers.count else { throw RedisError(.protocolViolation, "a node answered fewer replies than commands") }
                replies[position] = answers[cursor]
                cursor += 1
            }
        }
        return replies
    }

    /// The masters of the slot map (learning it first when there is none yet).
    public func masters() async throws -> [ClusterAddress] {
        if let known = map.withLockedValue({ $0 }) { return known.masters }
        return try await refreshSlots().masters
    }

    /// Throws unless the slot map covers every slot, every master answers PING and reports
    /// `cluster_state:ok` (a master down and not yet replaced makes the cluster refuse its slots).
    public func checkHealth() async throws {
        let map = try await refreshSlots()
        guard map.coversEverySlot else { throw RedisError(.server, "the cluster's slot map does not cover every slot") }
        for master in map.masters {
            let replies = try await pool(master).pipeline([["PING"], ["CLUSTER", "INFO"]])
            guard replies.count == 2, replies[0] == .status("PONG") else { throw RedisError(.server, "master \(master) did not answer PING") }
            guard replies[1].string?.contains("cluster_state:ok") == true else { throw RedisError(.server, "master \(master) reports the cluster is not ok") }
        }
    }

    private let loopTurn = NIOLockedValueBox(0)

    public func shutdown() async {
        for pool in pools.withLockedValue({ Array($0.values) }) { await pool.shutdown() }
    }
}
