import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a loopback port, for tests of the HTTP edge that must control every
/// byte (slow headers, a body sent whole before reading, sockets held idle). The blocking calls
/// run on a dispatch thread, never on the cooperative pool.
public final class RawSocket: @unchecked Sendable {
    private let fd: Int32

    /// What a read found.
    public enum Received: Equatable, Sendable {
        case bytes([UInt8])
        /// The server closed the connection (an orderly end, or a reset).
        case closed
        /// Nothing arrived in time.
        case nothing
    }

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestFailure("connect to port \(port): errno \(code)")
        }
        // A send the server does not read gives up after 10 s instead of hanging the test.
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }

    /// Sends every byte (blocking while the peer's window is full); false when the connection broke.
    public func send(_ bytes: [UInt8]) async -> Bool {
        await blocking { [fd] in
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return false }
                sent += count
            }
            return true
        }
    }

    public func send(_ text: String) async -> Bool { await send(Array(text.utf8)) }

    /// Waits up to `timeout` for bytes or the end of the connection.
    public func receive(timeout: Duration) async -> Received {
        await blocking { [fd] in
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&poller, 1, milliseconds) > 0 else { return .nothing }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return count > 0 ? .bytes(Array(buffer[..<count])) : .closed
        }
    }

    /// Reads until the connection ends or `timeout` passes; returns everything read and whether it ended.
    public func receiveAll(timeout: Duration) async -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while ContinuousClock.now < deadline {
            switch await receive(timeout: deadline - .now) {
            case .bytes(let more): bytes += more
            case .closed: return (bytes, true)
            case .nothing: return (bytes, false)
            }
        }
        return (bytes, false)
    }
}

/// A loopback port that is listened on and never accepted from: connections complete (the
/// kernel's backlog) and then hear nothing, as from a store that hangs.
public final class SilentListener: @unchecked Sendable {
    private let fd: Int32
    public let port: Int

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                Glibc.bind(fd, pointer, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(fd)
            throw TestFailure("listen: errno \(errno)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until a client's connection is queued on the listener (it is never accepted).
    public func waitForPendingConnection(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 0) > 0, entry.revents & Int16(POLLIN) != 0 { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    deinit { Glibc.close(fd) }
}
