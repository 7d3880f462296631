import NIOCore

/// What the two edge handlers of one connection share (``ConnectionGate`` before the HTTP codec,
/// ``RequestDeadlines`` after it). Used on the connection's event loop only.
///
/// Requests and answers are counted, so pipelined requests are told apart: `requestsRead` requests
/// have arrived whole, `answered` answers have been written whole, and while `requestOpen` a later
/// request is arriving. An answer is owed while `answered < requestsRead`.
final class EdgeConnection {
    let limits: EdgeLimits
    let registry: ConnectionRegistry
    /// A request has begun (its first byte arrived) and its end has not been read yet.
    var requestOpen = false
    var requestsRead = 0
    var answered = 0
    /// Answers whose head is written and whose end is not, with their write deadlines, oldest first.
    var writeDeadlines: [Scheduled<Void>?] = []
    /// The answer went out before the request's body was read: the rest of the body is read and
    /// dropped (up to `limits.drainBytes`), then the connection is closed.
    var draining = false
    var drained = 0
    /// The context of the connection's ``ConnectionGate`` (below the HTTP codec), where a 408 is written.
    var gate: ChannelHandlerContext?
    var readDeadline: Scheduled<Void>?

    init(limits: EdgeLimits, registry: ConnectionRegistry) {
        self.limits = limits
        self.registry = registry
    }

    /// Whether the answer being started is the one to the request still arriving (every earlier
    /// request is answered), i.e. it is sent before that request's body was read.
    var answersTheOpenRequest: Bool { requestOpen && answered == requestsRead }

    /// The first byte of a request. False when the connection must not take it (evicted at the
    /// connection cap a moment ago).
    func requestBegan() -> Bool {
        guard !requestOpen, !draining, let context = gate else { return true }
        guard registry.busy(context.channel) else { return false }
        requestOpen = true
        armReadDeadline()
        return true
    }

    /// The request's read timeout runs only while no earlier answer is owed: a pipelined request
    /// behind a slow answer starts its clock when that answer is done.
    func armReadDeadline() {
        guard requestOpen, readDeadline == nil, answered == requestsRead, !draining, let context = gate else { return }
        readDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: limits.readTimeout) { [self] in
            readDeadline = nil
            guard requestOpen || draining else { return }
            if writeDeadlines.isEmpty, !draining, answered == requestsRead {
                // Nothing answered for this request yet: say why before closing (below the codec).
                let text = "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
                context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text)), promise: nil)
            }
            context.close(promise: nil)
        }
    }

    func requestEnded() {
        requestOpen = false
        requestsRead += 1
        readDeadline?.cancel()
        readDeadline = nil
    }

    func stop() {
        readDeadline?.cancel()
        readDeadline = nil
        for deadline in writeDeadlines { deadline?.cancel() }
        writeDeadlines.removeAll()
    }
}
