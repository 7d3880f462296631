import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// The open connections of the server, shared by every event loop: it caps their number. A new
/// connection past `max_connections` takes the place of the connection idle longest (one with no
/// request in progress: waiting for its first request or between keep-alive requests, as nginx
/// reuses idle connections when it runs out), and is closed at once when every connection is busy.
/// So a client that holds thousands of idle sockets cannot shut other clients out.
public final class ConnectionRegistry: Sendable {
    public let limit: Int
    private struct Entry {
        let channel: any Channel
        /// When the connection became idle; nil while a request is in progress.
        var idleSince: NIODeadline?
    }
    private let entries = NIOLockedValueBox([ObjectIdentifier: Entry]())
    private let open = Gauge(label: "leaderboard_http_connections")
    private let rejected = Counter(label: "leaderboard_http_connections_rejected_total")
    private let evicted = Counter(label: "leaderboard_http_connections_evicted_total")

    public init(limit: Int) {
        precondition(limit > 0, "max_connections must be positive")
        self.limit = limit
    }

    /// Admits a new connection (idle until its first request); false when it must be closed.
    func admit(_ channel: any Channel) -> Bool {
        let (admitted, victim) = entries.withLockedValue { entries -> (Bool, (any Channel)?) in
            var victim: (any Channel)?
            if entries.count >= limit {
                var oldest: (key: ObjectIdentifier, since: NIODeadline)?
                for (key, entry) in entries {
                    guard let since = entry.idleSince else { continue }
                    if oldest == nil || since < oldest!.since { oldest = (key, since) }
                }
                guard let oldest else { return (false, nil) }
                victim = entries.removeValue(forKey: oldest.key)?.channel
            }
            entries[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: .now())
            open.record(entries.count)
            return (true, victim)
        }
        if let victim {
            evicted.increment()
            victim.close(promise: nil)
        }
        if !admitted { rejected.increment() }
        return admitted
    }

    /// Marks the connection busy; false when it is no longer registered (evicted: it is being closed).
    func busy(_ channel: any Channel) -> Bool {
        entries.withLockedValue { entries in
            guard entries[ObjectIdentifier(channel)] != nil else { return false }
            entries[ObjectIdentifier(channel)]?.idleSince = nil
            return true
        }
    }

    func idle(_ channel: any Channel) {
        entries.withLockedValue { $0[ObjectIdentifier(channel)]?.idleSince = .now() }
    }

    func remove(_ channel: any Channel) {
        entries.withLockedValue { entries in
            guard entries.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            open.record(entries.count)
        }
    }

    /// Connections open now.
    public var count: Int { entries.withLockedValue { $0.count } }
}
