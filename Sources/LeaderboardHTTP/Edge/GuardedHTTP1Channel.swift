import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 child channel (with its idle timeout) plus the edge's handlers:
/// ``ConnectionGate`` below the HTTP codec and ``RequestDeadlines`` above it, sharing one
/// ``EdgeConnection`` per connection.
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: EdgeLimits
    let registry: ConnectionRegistry

    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = limits, registry = registry
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let connection = EdgeConnection(limits: limits, registry: registry)
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(ConnectionGate(connection), position: .first)
            let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(RequestDeadlines(connection), position: .before(state))
            return value
        }
    }

    /// The connection's requests run on its own event loop (``EventLoopTaskExecutor``).
    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await handleHTTP(asyncChannel: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the edge's timeouts and connection cap.
    public static func guardedHTTP1(limits: EdgeLimits, registry: ConnectionRegistry) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: limits.idleTimeout)),
                limits: limits, registry: registry
            )
        }
    }
}
