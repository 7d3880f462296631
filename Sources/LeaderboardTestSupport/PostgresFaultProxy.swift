import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of PostgreSQL (loopback) that can lose a COMMIT, or its answer, on purpose.
///
/// It reads the client's side of the wire protocol (the untyped start-up messages, then typed
/// messages) and passes everything through unchanged, until a fault is armed. Then, at the next
/// simple-query `COMMIT` of a transaction that wrote score events (a group commit):
/// - ``Fault/dropCommit``: the COMMIT is never sent; the connection is closed (the server rolls back);
/// - ``Fault/dropCommitReply``: the COMMIT is sent, the server's answer is swallowed, and after a
///   moment (the server has committed) the connection is closed: the client cannot tell;
/// - ``Fault/dropCommitKeepServer``: the COMMIT is never sent and only the client's side is
///   closed: the server's backend stays idle in its transaction, holding its locks (a network
///   that lost the packet, and a server that has not noticed).
public final class PostgresFaultProxy: @unchecked Sendable {
    public enum Fault: Sendable { case dropCommit, dropCommitReply, dropCommitKeepServer }

    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let state = NIOLockedValueBox(State())

    private struct State {
        var armed: [Fault] = []
        var injected = 0
        var sockets: Set<Int32> = []
        var stopped = false
    }

    /// Listens on a free loopback port and forwards to PostgreSQL on `upstreamPort`.
    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TestFailure("the proxy cannot listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Arms one fault for the next COMMIT that passes (faults queue up, one per COMMIT).
    public func arm(_ fault: Fault) { state.withLockedValue { $0.armed.append(fault) } }

    /// How many faults were injected so far.
    public var injected: Int { state.withLockedValue { $0.injected } }

    /// Stops accepting and closes every connection.
    public func stop() {
        let sockets = state.withLockedValue { state -> Set<Int32> in
            guard !state.stopped else { return [] }
            state.stopped = true
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if state.withLockedValue({ $0.stopped }) { return }
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            state.withLockedValue { $0.sockets.formUnion([client, server]) }
            let link = Link(client: client, server: server)
            Thread { [self] in clientToServer(link) }.start()
            Thread { [self] in serverToClient(link) }.start()
        }
    }

    /// One proxied connection.
    private final class Link: @unchecked Sendable {
        let client: Int32
        let server: Int32
        /// Set when the server's answers must no longer reach the client.
        let muted = NIOLockedValueBox(false)
        private let closed = NIOLockedValueBox(false)

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        func closeBoth() {
            let first = closed.withLockedValue { closed -> Bool in
                defer { closed = true }
                return !closed
            }
            guard first else { return }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
        }
    }

    private func serverToClient(_ link: Link) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(link.server, &buffer, buffer.count)
            if count <= 0 { break }
            if link.muted.withLockedValue({ $0 }) { continue }
            if !writeAll(link.client, buffer[0..<count]) { break }
        }
        link.closeBoth()
        forget(link)
    }

    private func clientToServer(_ link: Link) {
        var startingUp = true
        // Whether the transaction running on this connection wrote score events (the faults aim at group commits).
        var marked = false
        relay: while true {
            let message: [UInt8]
            if startingUp {
                guard let header = readExactly(link.client, 4) else { break }
                let length = Int(Self.int32(header, at: 0))
                guard length >= 8, let body = readExactly(link.client, length - 4) else { break }
                let code = Self.int32(body, at: 0)
                // SSLRequest and GSSENCRequest come before the real start-up message.
                if code != 80_877_103 && code != 80_877_104 { startingUp = false }
                message = header + body
            } else {
                guard let header = readExactly(link.client, 5) else { break }
                let length = Int(Self.int32(header, at: 1))
                guard length >= 4, let body = readExactly(link.client, length - 4) else { break }
                message = header + body
                if header[0] == UInt8(ascii: "P") || header[0] == UInt8(ascii: "Q"), Self.contains(body, marker) { marked = true }
                if header[0] == UInt8(ascii: "Q"), Self.isCommit(body) {
                    defer { marked = false }
                    if marked, let fault = takeFault() {
                        switch fault {
                        case .dropCommit:
                            break
                        case .dropCommitReply:
                            link.muted.withLockedValue { $0 = true }
                            _ = writeAll(link.server, message[...])
                            usleep(200_000)
                        case .dropCommitKeepServer:
                            link.muted.withLockedValue { $0 = true }
                            shutdown(link.client, Int32(SHUT_RDWR))
                            return
                        }
                        break relay
                    }
                }
            }
            if !writeAll(link.server, message[...]) { break }
        }
        link.closeBoth()
    }

    /// What a statement of the transaction must contain for a fault to hit its COMMIT.
    private let marker = Array("INSERT INTO score_events".utf8)

    private static func contains(_ body: [UInt8], _ needle: [UInt8]) -> Bool {
        guard body.count >= needle.count else { return false }
        for start in 0...(body.count - needle.count) where body[start] == needle[0] {
            if body[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    private func takeFault() -> Fault? {
        state.withLockedValue { state -> Fault? in
            guard !state.armed.isEmpty else { return nil }
            state.injected += 1
            return state.armed.removeFirst()
        }
    }

    private func forget(_ link: Link) {
        state.withLockedValue { state in
            state.sockets.remove(link.client)
            state.sockets.remove(link.server)
        }
        close(link.client)
        close(link.server)
    }

    private static func isCommit(_ body: [UInt8]) -> Bool {
        let text = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().hasPrefix("COMMIT")
    }

    private static func int32(_ bytes: [UInt8], at offset: Int) -> Int32 {
        Int32(bitPattern: UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3]))
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, count - done) }
            if got <= 0 { return nil }
            done += got
        }
        return bytes
    }

    private func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var done = 0
        return bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let wrote = send(fd, raw.baseAddress! + done, raw.count - done, Int32(MSG_NOSIGNAL))
                if wrote <= 0 { return false }
                done += wrote
            }
            return true
        }
    }
}
