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
    private let group: any EventLoopGroup
    private let slots: NIOLockedValueBox<[Slot]>
    private let counter = NIOLockedValueBox(0)
    private let closed = NIOLockedValueBox(false)

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.slots = NIOLockedValueBox(Array(repeating: .empty, count: max(1, configuration.poolSize)))
    }

    /// Sends the commands as one pipeline on one connection and returns the replies in order.
    /// Error replies are returned in place; connection failures and timeouts throw ``RedisError``.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        let channel = try await channel()
        return try await send(commands, on: channel)
    }

    /// Sends one command and returns its reply.
    public func command(_ arguments: String...) async throws -> RedisReply {
        try await pipeline([arguments])[0]
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
        let promise = channel.eventLoop.makePromise(of: [RedisReply].self)
        let milliseconds = configuration.connection.timeoutMilliseconds
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
            // Fail this request itself (its connection may have closed before the request reached
            // it, and then nothing else would), and close the connection: that fails every other
            // request still waiting on it. Completing a completed promise does nothing.
            promise.fail(RedisError(.io, "no reply within \(milliseconds) ms"))
            channel.close(promise: nil)
        }
        channel.write(RedisRequest(commands: commands, promise: promise), promise: nil)
        defer { timeout.cancel() }
        do {
            return try await promise.futureResult.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.io, "\(error)")
        }
    }

    private enum Acquire {
        case use(any Channel)
        case wait(EventLoopFuture<any Channel>)
        case connect(EventLoopPromise<any Channel>)
    }

    private func channel() async throws -> any Channel {
        guard !closed.withLockedValue({ $0 }) else { throw RedisError(.connection, "the pool is shut down") }
        let index = counter.withLockedValue { counter -> Int in
            counter = (counter &+ 1) & Int.max
            return counter
        } % max(1, configuration.poolSize)
        let group = self.group
        let action = slots.withLockedValue { slots -> Acquire in
            switch slots[index] {
            case .ready(let channel) where channel.isActive:
                return .use(channel)
            case .connecting(let future):
                return .wait(future)
            default:
                let promise = group.next().makePromise(of: (any Channel).self)
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
                let channel = try await connect()
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
    private func connect() async throws -> any Channel {
        let settings = configuration.connection
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
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
