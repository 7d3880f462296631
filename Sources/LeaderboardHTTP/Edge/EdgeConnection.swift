import NIOCore

/// What the two edge handlers of one connection share (``ConnectionGate`` before the HTTP codec,
/// ``RequestDeadlines`` after it). Used on the connection's event loop only.
final class EdgeConnection {
    let limits: EdgeLimits
    let registry: ConnectionRegistry
    /// A request has begun (its first byte arrived) and its end has not been read yet.
    var requestOpen = false
    /// The answer to the current request has begun.
    var answering = false
    /// The answer went out before the request's body was read: the rest of the body is read and
    /// dropped (up to `limits.drainBytes`), then the connection is closed.
    var draining = false
    var drained = 0
    /// The context of the connection's ``ConnectionGate`` (below the HTTP codec), where a 408 is written.
    var gate: ChannelHandlerContext?
    var readDeadline: Scheduled<Void>?
    var writeDeadline: Scheduled<Void>?

    init(limits: EdgeLimits, registry: ConnectionRegistry) {
        self.limits = limits
        self.registry = registry
    }

    /// The first byte of a request: it must be whole within the read timeout.
    func requestBegan() {
        guard !requestOpen, !draining, let context = gate else { return }
        requestOpen = true
        registry.busy(context.channel)
        readDeadline?.cancel()
        readDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: limits.readTimeout) { [self] in
            readDeadline = nil
            guard requestOpen || draining else { return }
            if !answering {
                // Nothing answered yet: say why before closing (written below the HTTP codec).
                let text = "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
                context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text)), promise: nil)
            }
            context.close(promise: nil)
        }
    }

    func requestEnded() {
        requestOpen = false
        readDeadline?.cancel()
        readDeadline = nil
    }

    func stop() {
        readDeadline?.cancel()
        writeDeadline?.cancel()
        readDeadline = nil
        writeDeadline = nil
    }
}
