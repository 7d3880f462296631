import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// How to reach one Redis server.
public enum RedisConnection {
    public struct Configuration: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var password: String?
        public var database: Int
        /// Connect timeout, and the longest a request waits for its replies, in milliseconds.
        public var timeoutMilliseconds: Int

        public init(host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0, timeoutMilliseconds: Int = 2000) {
            self.host = host
            self.port = port
            self.password = password
            self.database = database
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }
}

/// A few multiplexed, non-blocking connections to one Redis server.
///
/// Each connection is a NIO channel: commands are written as RESP and the replies parsed by
/// hiredis's reply reader on the channel's event loop, so nothing blocks a thread. Many callers
/// pipeline on the same connection at once (Redis answers in order), and their requests share
/// syscalls. A request that gets no answer within the timeout closes its connection (a pipeline
/// that lost its place cannot be reused), failing what was in flight on it; the next request
/// reconnects.
public final class RedisConnectionPool: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var connection: RedisConnection.Configuration
        /// Connections to the server (requests are spread over them).
        public var poolSize: Int

        public init(connection: RedisConnection.Configuration, poolSize: Int = 4) {
            self.connection = connection
            self.poolSize = poolSize
        }
    }

    private enum Slot {
        case empty
        case connecting(EventLoopFuture<any Channel>)
        case ready(any Channel)
    }

    public let configuration: Configuration
    /// The event loops connections live on: connection i on loops[i % loops.count], so a caller
    /// that asks several servers at once can use connections of one loop (one hop there, one
    /// flush, replies gathered on one thread).
    public let loops: [any EventLoop]
    private let slots: NIOLockedValueBox<[Slot]>
    private let counter = NIOLockedValueBox(0)
    private let closed = NIOLockedValueBox(false)

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() { loops.append(loop) }
        self.loops = loops.isEmpty ? [group.next()] : loops
        self.slots = NIOLockedValueBox(Array(repeating: .empty, count: max(self.loops.count, configuration.poolSize)))
    }

    /// Sends the commands as one pipeline on one connection and returns the replies in order.
    /// Error replies are returned in place; connection failures and timeouts throw ``RedisError``.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        return try await send(commands, on: try await channel())
    }

    /// Sends one command and returns its reply.
    public func command(_ arguments: String...) async throws -> RedisReply {
        try await pipeline([arguments])[0]
    }

    /// A connection to send on without waiting: for callers that ask several servers at once and
    /// collect the replies as they come (see ``Lane/send(_:completion:)``).
    public func lane(on loop: (any EventLoop)? = nil) async throws -> Lane {
        Lane(channel: try await channel(on: loop), timeoutMilliseconds: configuration.connection.timeoutMilliseconds)
    }

    /// One connection of a pool.
    public struct Lane: Sendable {
        let channel: any Channel
        let timeoutMilliseconds: Int

        /// Sends the commands as one pipeline and calls `completion` once, on the connection's
        /// event loop, with the replies in order or a ``RedisError``.
        ///
        /// Everything (the write, the timeout, the completion) is set up in one hop to the event
        /// loop. A request that gets no answer within the timeout fails, and closes its connection
        /// (a pipeline that lost its place cannot be reused), failing what was in flight on it.
        public func send(_ commands: [[String]], completion: @escaping @Sendable (Result<[RedisReply], any Error>) -> Void) {
            let channel = self.channel
            let milliseconds = timeoutMilliseconds
            let loop = channel.eventLoop
            let submit = {
                guard channel.isActive else {
                    completion(.failure(RedisError(.io, "connection closed")))
                    return
                }
                let promise = loop.makePromise(of: [RedisReply].self)
                let timeout = loop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                    promise.fail(RedisError(.io, "no reply within \(milliseconds) ms"))
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { result in
                    timeout.cancel()
                    completion(result.mapError { $0 is RedisError ? $0 : RedisError(.io, "\($0)") })
                }
                channel.write(RedisRequest(commands: commands, promise: promise), promise: nil)
            }
            if loop.inEventLoop { submit() } else { loop.execute(submit) }
        }

        /// Sends each pipeline on its lane, with one hop to each event loop involved (see
        /// ``send(_:completion:)``).
        public static func send(
            _ requests: [(lane: Lane, commands: [[String]], completion: @Sendable (Result<[RedisReply], any Error>) -> Void)]
        ) {
            var byLoop: [ObjectIdentifier: [Int]] = [:]
            var order: [ObjectIdentifier] = []
            for (index, request) in requests.enumerated() {
                let key = ObjectIdentifier(request.lane.channel.eventLoop)
                if byLoop[key] == nil { order.append(key) }
                byLoop[key, default: []].append(index)
            }
            for key in order {
                let indices = byLoop[key]!
                let loop = requests[indices[0]].lane.channel.eventLoop
                let batch = indices.map { requests[$0] }
                if loop.inEventLoop {
                    for request in batch { request.lane.send(request.commands, completion: request.completion) }
                } else {
                    loop.execute {
                        for request in batch { request.lane.send(request.commands, completion: request.completion) }
                    }
                }
            }
        }
    }

    /// Closes every connection.
    public func shutdown() async {
        closed.withLockedValue { $0 = true }
        let channels = slots.withLockedValue { slots -> [any Channel] in
            defer { slots = Array(repeating: .empty, count: slots.count) }
            return slots.compactMap { if case .ready(let channel) = $0 { channel } else { nil } }
        }
        for channel in channels { try? await channel.close() }
    }

    private func send(_ commands: [[String]], on channel: any Channel) async throws -> [RedisReply] {
        let lane = Lane(channel: channel, timeoutMilliseconds: configuration.connection.timeoutMilliseconds)
        return try await withCheckedThrowingContinuation { continuation in
            lane.send(commands) { continuation.resume(with: $0) }
        }
    }

    private enum Acquire {
        case use(any Channel)
        case wait(EventLoopFuture<any Channel>)
        case connect(EventLoopPromise<any Channel>)
    }

    /// The event loop the caller runs on, when it is one of ``loops`` (a request handled on its
    /// connection's loop): using its connections costs the caller no hop to another thread.
    public var callersLoop: (any EventLoop)? {
        guard let current = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        return loops.first { $0 === current }
    }

    /// A connection, on `loop` when given (one of ``loops``), else on the caller's loop when it
    /// runs on one, else any; round-robin among candidates.
    private func channel(on loop: (any EventLoop)? = nil) async throws -> any Channel {
        guard !closed.withLockedValue({ $0 }) else { throw RedisError(.connection, "the pool is shut down") }
        let loop = loop ?? callersLoop
        let slotCount = slots.withLockedValue { $0.count }
        let turn = counter.withLockedValue { counter -> Int in
            counter = (counter &+ 1) & Int.max
            return counter
        }
        var index = turn % slotCount
        if let loop, let home = loops.firstIndex(where: { $0 === loop }) {
            // Slots home, home + loops.count, …: the connections of that loop.
            let perLoop = (slotCount - home + loops.count - 1) / loops.count
            index = home + (turn % max(1, perLoop)) * loops.count
        }
        let loopOfSlot = loops[index % loops.count]
        let action = slots.withLockedValue { slots -> Acquire in
            switch slots[index] {
            case .ready(let channel) where channel.isActive:
                return .use(channel)
            case .connecting(let future):
                return .wait(future)
            default:
                let promise = loopOfSlot.makePromise(of: (any Channel).self)
                slots[index] = .connecting(promise.futureResult)
                return .connect(promise)
            }
        }
        switch action {
        case .use(let channel):
            return channel
        case .wait(let future):
            do { return try await future.get() } catch let error as RedisError { throw error } catch {
                throw RedisError(.connection, "\(error)")
            }
        case .connect(let promise):
            do {
                let channel = try await connect(on: loopOfSlot)
                slots.withLockedValue { $0[index] = .ready(channel) }
                promise.succeed(channel)
                return channel
            } catch {
                slots.withLockedValue { $0[index] = .empty }
                promise.fail(error)
                throw error
            }
        }
    }

    /// Connects, authenticates and selects the database.
    private func connect(on loop: any EventLoop) async throws -> any Channel {
        let settings = configuration.connection
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.milliseconds(Int64(settings.timeoutMilliseconds)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyDecoder()))
                        try channel.pipeline.syncOperations.addHandler(RedisPipelineHandler())
                    }
                }
                .connect(host: settings.host, port: settings.port)
                .get()
        } catch {
            throw RedisError(.connection, "connect to \(settings.host):\(settings.port): \(error)")
        }
        var setup: [[String]] = []
        if let password = settings.password, !password.isEmpty { setup.append(["AUTH", password]) }
        if settings.database != 0 { setup.append(["SELECT", String(settings.database)]) }
        if !setup.isEmpty {
            do {
                for reply in try await send(setup, on: channel) {
                    if case .error(let message) = reply { throw RedisError(.connection, "setting up the connection: \(message)") }
                }
            } catch {
                try? await channel.close()
                throw error is RedisError ? error : RedisError(.connection, "\(error)")
            }
        }
        return channel
    }
}
