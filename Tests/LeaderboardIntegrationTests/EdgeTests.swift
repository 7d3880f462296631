import AsyncHTTPClient
import Foundation
import LeaderboardTestSupport
import Testing

/// The HTTP edge (DESIGN.md, "HTTP edge"): timeouts, the connection cap and answers sent before
/// the body was read, against the server binary on a port of its own, byte by byte.
@Suite(.serialized) struct EdgeTests {
    let client = HTTPClient.shared

    private func server(_ environment: [String: String] = [:]) async throws -> ServerProcess {
        try await ServerProcess.start(port: try freeLoopbackPort(), extraEnvironment: environment, client: client)
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// A client that sends a 9 MB body whole, with `Connection: close`, before it reads (as
    /// Python's urllib does) gets its 413: the server reads and drops the rest of the body.
    @Test func aBodySentWholeBeforeReadingGetsItsAnswer() async throws {
        let server = try await server()
        defer { server.kill() }
        let socket = try RawSocket(port: server.port)
        let body = [UInt8](repeating: UInt8(ascii: " "), count: 9 << 20)
        let head = "POST /api/v1/scores/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let started = ContinuousClock.now
        #expect(await socket.send(head))
        #expect(await socket.send(body), "the server stopped reading before the body was sent")
        let (answer, closed) = await socket.receiveAll(timeout: .seconds(5))
        let took = ContinuousClock.now - started
        #expect(text(answer).hasPrefix("HTTP/1.1 413"), "\(text(answer).prefix(200))")
        #expect(text(answer).lowercased().contains("connection: close"))
        #expect(text(answer).contains("payload_too_large"))
        #expect(closed, "the connection stays open after the early answer")
        #expect(took < .seconds(1), "the 413 took \(took)")
        // Keep-alive requests are answered the same way, and the server goes on serving.
        #expect(try await server.request(client, .GET, "/healthz").0 == 200)
    }

    @Test func idleConnectionsAreClosed() async throws {
        let server = try await server(["LEADERBOARD_SERVER_IDLE_TIMEOUT": "1s"])
        defer { server.kill() }
        // One that never sends anything.
        let silent = try RawSocket(port: server.port)
        let started = ContinuousClock.now
        #expect(await silent.receive(timeout: .seconds(10)) == .closed)
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(900) && took < .seconds(5), "closed after \(took)")
        // One idle between keep-alive requests.
        let keepAlive = try RawSocket(port: server.port)
        #expect(await keepAlive.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        guard case .bytes(let answer) = await keepAlive.receive(timeout: .seconds(5)) else {
            Issue.record("no answer to the first request")
            return
        }
        #expect(text(answer).hasPrefix("HTTP/1.1 200"))
        let (_, closed) = await keepAlive.receiveAll(timeout: .seconds(10))
        #expect(closed)
    }

    /// Headers sent at one byte a second are cut off after the read timeout (with a 408), and so
    /// is a body that trickles in; a connection that is merely idle is left to the idle timeout.
    @Test func slowRequestsAreClosedAfterTheReadTimeout() async throws {
        let server = try await server(["LEADERBOARD_SERVER_READ_TIMEOUT": "1s", "LEADERBOARD_SERVER_IDLE_TIMEOUT": "60s"])
        defer { server.kill() }
        let slow = try RawSocket(port: server.port)
        let request = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n".utf8)
        let started = ContinuousClock.now
        var heard: [UInt8] = []
        var ended = false
        for byte in request {
            guard await slow.send([byte]) else {
                ended = true
                break
            }
            switch await slow.receive(timeout: .seconds(1)) {
            case .bytes(let bytes): heard += bytes
            case .closed: ended = true
            case .nothing: continue
            }
            if ended || !heard.isEmpty { break }
        }
        if !ended { ended = await slow.receiveAll(timeout: .seconds(3)).closed }
        let took = ContinuousClock.now - started
        #expect(ended, "slow headers were never cut off")
        #expect(took < .seconds(6), "cut off after \(took)")
        #expect(heard.isEmpty || text(heard).hasPrefix("HTTP/1.1 408"), "\(text(heard).prefix(100))")

        let trickle = try RawSocket(port: server.port)
        #expect(await trickle.send("POST /api/v1/scores HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"))
        let (answer, closed) = await trickle.receiveAll(timeout: .seconds(5))
        #expect(text(answer).hasPrefix("HTTP/1.1 408"), "\(text(answer).prefix(100))")
        #expect(closed)

        let idle = try RawSocket(port: server.port)
        #expect(await idle.receive(timeout: .seconds(2)) == .nothing, "an idle connection is not a slow request")
    }

    /// Past `max_connections` the connections idle longest make room, so 100 extra sockets never
    /// take the server past its cap, a request still gets through at once, and a connection in the
    /// middle of a request is never the one closed.
    @Test func connectionsPastTheCapMakeRoom() async throws {
        let cap = 20
        let server = try await server(["LEADERBOARD_SERVER_MAX_CONNECTIONS": String(cap), "LEADERBOARD_SERVER_READ_TIMEOUT": "20s"])
        defer { server.kill() }
        let busy = try RawSocket(port: server.port)
        #expect(await busy.send("POST /api/v1/scores HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{"))
        try await Task.sleep(for: .milliseconds(200))
        var sockets: [RawSocket] = []
        for _ in 0..<(cap + 100) { sockets.append(try RawSocket(port: server.port)) }
        try await Task.sleep(for: .milliseconds(500))
        var closed = 0
        for socket in sockets where await socket.receive(timeout: .milliseconds(20)) == .closed { closed += 1 }
        // The busy connection holds one place, so cap - 1 of the new ones stay.
        #expect(closed == 100 + 1, "\(closed) of \(cap + 100) closed")
        let started = ContinuousClock.now
        #expect(try await server.request(client, .GET, "/healthz").0 == 200)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(await busy.send("}"))
        let (answer, _) = await busy.receiveAll(timeout: .seconds(5))
        #expect(text(answer).hasPrefix("HTTP/1.1 400"), "the busy connection was closed: \(text(answer).prefix(100))")
        let metrics = try await server.request(client, .GET, "/metrics").1
        let evicted = metrics.split(separator: "\n").first { $0.hasPrefix("leaderboard_http_connections_evicted_total ") }
        #expect(evicted.flatMap { Double($0.split(separator: " ")[1]) }.map { $0 >= 100 } == true, "\(evicted ?? "no metric")")
    }

    /// Pipelined requests, sent in one write, are each answered in order, on a connection that
    /// stays open (the per-request state of the edge tells them apart).
    @Test func pipelinedRequestsAreEachAnswered() async throws {
        let server = try await server(["LEADERBOARD_SERVER_READ_TIMEOUT": "2s"])
        defer { server.kill() }
        let socket = try RawSocket(port: server.port)
        let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(await socket.send(request + request + request))
        var heard = ""
        let deadline = ContinuousClock.now + .seconds(5)
        // Until the third answer's body (the answers may come in several pieces).
        while heard.components(separatedBy: #"{"status":"ok"}"#).count < 4, ContinuousClock.now < deadline {
            guard case .bytes(let bytes) = await socket.receive(timeout: .seconds(1)) else { break }
            heard += text(bytes)
        }
        #expect(heard.components(separatedBy: "HTTP/1.1 200").count == 4, "\(heard)")
        #expect(!heard.lowercased().contains("connection: close"))
        #expect(await socket.receive(timeout: .seconds(3)) == .nothing, "the connection was closed after pipelined requests")
    }
}
