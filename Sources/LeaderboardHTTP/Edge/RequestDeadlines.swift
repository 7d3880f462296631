import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The handler above the HTTP codec: ends a request's read timeout when its last part arrives,
/// bounds the writing of each answer by the write timeout, and handles an answer sent before the
/// request's body was read (401, 413, 429…): the answer says `connection: close`, the rest of the
/// body is read and dropped (at most `drainBytes`, within the read timeout) so that a client that
/// sends its whole body before it reads still gets the answer, then the connection is closed.
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connection: EdgeConnection
    /// Per answer being written (oldest first): whether it went out before its request's end was read.
    private var early: [Bool] = []

    init(_ connection: EdgeConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if connection.draining {
            switch part {
            case .head: context.close(promise: nil)
            case .body(let bytes):
                connection.drained += bytes.readableBytes
                if connection.drained > connection.limits.drainBytes { context.close(promise: nil) }
            case .end: context.close(promise: nil)
            }
            return
        }
        switch part {
        case .head:
            // A pipelined request whose first bytes came in the read that ended the one before.
            if !connection.requestOpen, !connection.requestBegan() {
                context.close(promise: nil)
                return
            }
        case .body: break
        case .end: connection.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The application reads no more: keep the socket read while the body is dropped.
        if connection.draining { context.read() }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            let deadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: connection.limits.writeTimeout) {
                context.close(promise: nil)
            }
            connection.writeDeadlines.append(deadline)
            let early = connection.answersTheOpenRequest
            self.early.append(early)
            if early { head.headerFields[.connection] = "close" }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            let written = promise ?? context.eventLoop.makePromise()
            let early = self.early.isEmpty ? false : self.early.removeFirst()
            written.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { [connection] result in
                if !connection.writeDeadlines.isEmpty { connection.writeDeadlines.removeFirst()?.cancel() }
                connection.answered += 1
                guard case .success = result else { return }
                if early {
                    if connection.requestOpen {
                        connection.draining = true
                        context.read()
                    } else {
                        context.close(promise: nil)
                    }
                    return
                }
                if connection.requestOpen {
                    // A pipelined request waited for this answer: its read timeout starts now.
                    connection.armReadDeadline()
                } else if connection.answered >= connection.requestsRead {
                    connection.registry.idle(context.channel)
                }
            }
            context.write(data, promise: written)
        }
    }
}
