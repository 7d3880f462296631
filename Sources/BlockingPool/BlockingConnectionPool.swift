import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A connection that a ``BlockingConnectionPool`` can hold.
///
/// Connections wrap blocking C clients. The pool guarantees that one connection is used by
/// one thread at a time, so implementations need no locking of their own.
public protocol PooledConnection: AnyObject, Sendable {
    /// True once the connection saw an I/O error; the pool then closes it instead of reusing it.
    var isBroken: Bool { get }
    /// Releases the C handle. Called once, on a pool thread.
    func close()
}

/// Errors of the pool itself.
public struct PoolError: Error, Sendable, CustomStringConvertible {
    private enum Kind: Sendable { case shutdown, acquireTimeout }
    private let kind: Kind
    public static let shutdown = PoolError(kind: .shutdown)
    public static let acquireTimeout = PoolError(kind: .acquireTimeout)
    public var description: String {
        switch kind {
        case .shutdown: "connection pool is shut down"
        case .acquireTimeout: "timed out waiting for a free connection"
        }
    }
}

/// A bounded pool of blocking connections whose every call runs on a dedicated `NIOThreadPool`,
/// never on an event loop or on Swift's cooperative pool.
///
/// `withConnection` lends a connection to a synchronous closure that runs on one of the pool's
/// threads; a multi-statement unit (a transaction, a pipeline) is therefore one closure.
public final class BlockingConnectionPool<Connection: PooledConnection>: Sendable {
    public typealias Connector = @Sendable () throws -> Connection

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Connection?, any Error>
    }

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var isShutdown = false
    }

    private let state = NIOLockedValueBox(State())
    private let threadPool: NIOThreadPool
    private let connector: Connector
    private let maxConnections: Int
    private let acquireTimeout: TimeAmount

    /// - Parameters:
    ///   - maxConnections: the most connections open at once; also the number of threads.
    ///   - acquireTimeout: how long a caller waits for a free connection before failing.
    ///   - connector: opens a connection (runs on a pool thread).
    public init(maxConnections: Int, acquireTimeout: TimeAmount = .seconds(5), connector: @escaping Connector) {
        precondition(maxConnections > 0, "maxConnections must be positive")
        self.maxConnections = maxConnections
        self.acquireTimeout = acquireTimeout
        self.connector = connector
        self.threadPool = NIOThreadPool(numberOfThreads: maxConnections)
        self.threadPool.start()
    }

    /// Runs `body` with a pooled connection on a pool thread and returns its result.
    ///
    /// A connection that `body` left broken is closed, not reused.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await threadPool.runIfActive { try body(connection) }
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    /// Closes every idle connection and stops the threads. Callers still waiting fail.
    public func shutdown() async {
        let (idle, waiters) = state.withLockedValue { state -> ([Connection], [Waiter]) in
            state.isShutdown = true
            let result = (state.idle, state.waiters)
            state.idle = []
            state.waiters = []
            state.open -= result.0.count
            return result
        }
        for waiter in waiters { waiter.continuation.resume(throwing: PoolError.shutdown) }
        if !idle.isEmpty {
            _ = try? await threadPool.runIfActive { for connection in idle { connection.close() } }
        }
        try? await threadPool.shutdownGracefully()
    }

    /// Number of connections open now (idle or lent).
    public var openConnections: Int { state.withLockedValue { $0.open } }

    // MARK: - Acquire and release

    private enum Acquisition {
        case reuse(Connection)
        case open
        case wait
        case shutdown
    }

    private func acquire() async throws -> Connection {
        let decision = state.withLockedValue { state -> Acquisition in
            if state.isShutdown { return .shutdown }
            if let connection = state.idle.popLast() { return .reuse(connection) }
            if state.open < maxConnections {
                state.open += 1
                return .open
            }
            return .wait
        }
        switch decision {
        case .shutdown:
            throw PoolError.shutdown
        case .reuse(let connection):
            return connection
        case .open:
            do {
                let connector = self.connector
                return try await threadPool.runIfActive { try connector() }
            } catch {
                // The slot we reserved is free again: let a waiter try to open one.
                slotFreed()
                throw error
            }
        case .wait:
            return try await waitForConnection()
        }
    }

    private func waitForConnection() async throws -> Connection {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = self.acquireTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(nanoseconds: UInt64(timeout.nanoseconds))
            self?.expireWaiter(id)
        }
        defer { timer.cancel() }
        let handed: Connection? = try await withCheckedThrowingContinuation { continuation in
            let immediate = state.withLockedValue { state -> Acquisition in
                if state.isShutdown { return .shutdown }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                if state.open < maxConnections {
                    state.open += 1
                    return .open
                }
                state.waiters.append(Waiter(id: id, continuation: continuation))
                return .wait
            }
            switch immediate {
            case .shutdown: continuation.resume(throwing: PoolError.shutdown)
            case .reuse(let connection): continuation.resume(returning: connection)
            case .open: continuation.resume(returning: nil)
            case .wait: break
            }
        }
        if let handed { return handed }
        // A slot was handed to us instead of a connection: open one.
        do {
            let connector = self.connector
            return try await threadPool.runIfActive { try connector() }
        } catch {
            slotFreed()
            throw error
        }
    }

    private func expireWaiter(_ id: UInt64) {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: PoolError.acquireTimeout)
    }

    private func release(_ connection: Connection) {
        if connection.isBroken {
            threadPool.submit { _ in connection.close() }
            slotFreed()
            return
        }
        let (waiter, closeIt) = state.withLockedValue { state -> (Waiter?, Bool) in
            if state.isShutdown {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.idle.append(connection)
            return (nil, false)
        }
        if closeIt { threadPool.submit { _ in connection.close() } }
        waiter?.continuation.resume(returning: connection)
    }

    /// A connection was closed or never opened: hand its slot to a waiter, if any.
    private func slotFreed() {
        let waiter = state.withLockedValue { state -> Waiter? in
            if !state.waiters.isEmpty, !state.isShutdown { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        // `nil` tells the waiter it owns a slot and must open a connection itself.
        waiter?.continuation.resume(returning: nil)
    }
}
