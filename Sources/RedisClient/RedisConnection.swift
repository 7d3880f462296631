import BlockingPool
import CHiredis

#if canImport(Glibc)
import Glibc
#endif

/// A blocking connection to one Redis server through hiredis.
///
/// `@unchecked Sendable` is safe because ``BlockingConnectionPool`` lends a connection to one
/// thread at a time, and the C context is only touched inside those calls.
public final class RedisConnection: PooledConnection, @unchecked Sendable {
    /// Where and how to connect.
    public struct Configuration: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var password: String?
        public var database: Int
        /// Connect and per-command socket timeout, in milliseconds.
        public var timeoutMilliseconds: Int

        public init(host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0, timeoutMilliseconds: Int = 2000) {
            self.host = host
            self.port = port
            self.password = password
            self.database = database
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    private var context: UnsafeMutablePointer<redisContext>?
    public private(set) var isBroken = false

    /// Connects, authenticates and selects the database. Blocking: call on a pool thread.
    public init(configuration: Configuration) throws {
        let timeout = timeval(
            tv_sec: configuration.timeoutMilliseconds / 1000,
            tv_usec: (configuration.timeoutMilliseconds % 1000) * 1000
        )
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), timeout) else {
            throw RedisError(.connection, "cannot allocate a redis context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw RedisError(.connection, "connect to \(configuration.host):\(configuration.port): \(message)")
        }
        _ = redisSetTimeout(context, timeout)
        _ = redisEnableKeepAlive(context)
        self.context = context
        do {
            if let password = configuration.password, !password.isEmpty {
                if case .error(let message) = try command(["AUTH", password]) {
                    throw RedisError(.connection, "authentication failed: \(message)")
                }
            }
            if configuration.database != 0 {
                if case .error(let message) = try command(["SELECT", String(configuration.database)]) {
                    throw RedisError(.connection, "select \(configuration.database): \(message)")
                }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    public func close() {
        if let context {
            redisFree(context)
            self.context = nil
        }
    }

    /// Sends one command and reads its reply. Error replies are returned, not thrown.
    public func command(_ arguments: [String]) throws -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Sends every command in one write and reads their replies in order (pipelining).
    /// Error replies are returned in place; I/O errors throw and break the connection.
    public func pipeline(_ commands: [[String]]) throws -> [RedisReply] {
        guard let context, !isBroken else { throw RedisError(.io, "connection is closed") }
        for arguments in commands {
            try append(arguments, to: context)
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
                isBroken = true
                throw RedisError(.io, Self.errorText(context))
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func append(_ arguments: [String], to context: UnsafeMutablePointer<redisContext>) throws {
        // All arguments in one buffer; hiredis copies them into its output buffer during the call.
        var joined: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(joined.count)
            let before = joined.count
            joined.append(contentsOf: argument.utf8)
            lengths.append(joined.count - before)
        }
        joined.append(0)
        let status: Int32 = joined.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    redisAppendCommandArgv(context, Int32(argvBuffer.count), argvBuffer.baseAddress, lengthBuffer.baseAddress)
                }
            }
        }
        if status != REDIS_OK {
            isBroken = true
            throw RedisError(.io, Self.errorText(context))
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STATUS:
            return .status(text(value.str, Int(value.len)))
        case REDIS_REPLY_ERROR:
            return .error(text(value.str, Int(value.len)))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_STRING:
            guard let str = value.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: Int(value.len))))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(value.elements))
            for index in 0..<Int(value.elements) {
                if let element = value.element[index] { items.append(convert(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            let message = String(decoding: bytes, as: UTF8.self)
            return message.isEmpty ? "error \(context.pointee.err)" : message
        }
    }
}
