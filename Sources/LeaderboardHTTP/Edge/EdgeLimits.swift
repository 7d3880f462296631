import NIOCore

/// The limits the HTTP edge enforces on every connection (`server.*` in the configuration).
public struct EdgeLimits: Sendable {
    /// A request's head and body must have arrived this long after its first byte.
    public var readTimeout: TimeAmount
    /// An answer must have been written this long after its head.
    public var writeTimeout: TimeAmount
    /// A connection with no request in progress is closed after this long.
    public var idleTimeout: TimeAmount
    /// Open connections at most; past it the longest-idle connection makes room, or the new one is closed.
    public var maxConnections: Int
    /// The request bytes read and dropped, at most, after an answer sent before its body was read,
    /// so that a client that sends its whole body before it reads still gets the answer.
    public var drainBytes: Int

    public init(readTimeout: TimeAmount, writeTimeout: TimeAmount, idleTimeout: TimeAmount, maxConnections: Int, drainBytes: Int) {
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.drainBytes = drainBytes
    }
}
