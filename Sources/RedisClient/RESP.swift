import CHiredis
import NIOCore

/// RESP2 on the wire: commands are encoded here; replies are parsed by hiredis's reply reader
/// (`redisReader`), fed with the bytes NIO reads.
enum RESP {
    /// Appends `*n\r\n` and `$len\r\n<bytes>\r\n` per argument.
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Converts a hiredis reply object (which the caller frees).
    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
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
}

/// Turns the bytes of a Redis connection into replies with hiredis's `redisReader`.
///
/// The reader is created, fed and freed on the channel's event loop only; feeding and parsing
/// never block (it is the C library's standalone parser, no socket of its own).
final class RedisReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = RedisReply

    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        self.reader = redisReaderCreate()
    }

    deinit { redisReaderFree(reader) }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        guard fed == REDIS_OK else { throw RedisError(.protocolViolation, "the reply reader refused the input") }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
                throw RedisError(.protocolViolation, "malformed reply from the server")
            }
            guard let raw else { return .needMoreData }
            let reply = RESP.convert(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            context.fireChannelRead(wrapInboundOut(reply))
        }
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// One pipelined request: its commands and where to deliver their replies.
struct RedisRequest {
    let commands: [[String]]
    let promise: EventLoopPromise<[RedisReply]>
}

/// Matches replies to requests in order (Redis answers a connection's commands in order), so
/// many callers can pipeline on one connection at once.
final class RedisPipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisReply
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let expected: Int
        var replies: [RedisReply]
        let promise: EventLoopPromise<[RedisReply]>
    }

    private var pending = CircularBuffer<Pending>()
    private var flushScheduled = false
    /// Set once the connection closed: a request written after that fails at once.
    private var closed = false

    /// Writes are flushed once per event-loop tick, so the requests of many concurrent callers
    /// that arrive together leave in one syscall.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            let error = RedisError(.io, "connection closed")
            request.promise.fail(error)
            promise?.fail(error)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { RESP.encode(command, into: &buffer) }
        pending.append(Pending(expected: request.commands.count, replies: [], promise: request.promise))
        context.write(wrapOutboundOut(buffer), promise: promise)
        if !flushScheduled {
            flushScheduled = true
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.flushScheduled = false
                context.flush()
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        guard !pending.isEmpty else {
            context.fireErrorCaught(RedisError(.protocolViolation, "a reply nobody asked for"))
            return
        }
        pending[pending.startIndex].replies.append(reply)
        if pending[pending.startIndex].replies.count == pending[pending.startIndex].expected {
            let done = pending.removeFirst()
            done.promise.succeed(done.replies)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error is RedisError ? error : RedisError(.io, "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(RedisError(.io, "connection closed"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let item = pending.popFirst() { item.promise.fail(error) }
    }
}
