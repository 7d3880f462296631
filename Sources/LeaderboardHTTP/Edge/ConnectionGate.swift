import NIOCore

/// The first handler of a connection, below the HTTP codec: admits the connection into the
/// ``ConnectionRegistry`` (or closes it), starts the read timeout at a request's first byte (so
/// slow headers count too), and leaves the registry when the connection closes.
final class ConnectionGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: EdgeConnection
    private var admitted: Bool?
    /// Whether the handlers above heard that the connection is active (then they hear its end too).
    private var announced = false

    init(_ connection: EdgeConnection) {
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connection.gate = context
        if context.channel.isActive { admit(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        connection.gate = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        // A connection turned away ends here: the handlers above never see it active.
        if admitted == true {
            announced = true
            context.fireChannelActive()
        }
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard admitted == nil else { return }
        admitted = connection.registry.admit(context.channel)
        if admitted == false { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted == true else { return }
        if unwrapInboundIn(data).readableBytes > 0, !connection.requestBegan() {
            // Evicted at the connection cap just now: no request may start on it.
            admitted = false
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.stop()
        connection.registry.remove(context.channel)
        if announced { context.fireChannelInactive() }
    }
}
