import AsyncHTTPClient
import Foundation
import LeaderboardApp
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The real server binary run as a child process, for tests that crash or stop it.
public final class ServerProcess: @unchecked Sendable {
    public let port: Int
    public let process: Process
    public let logPath: String

    /// The environment that points the binary at the test's stores.
    public static func environment(_ config: AppConfig = TestEnvironment.config) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["LEADERBOARD_SERVER_LOG_LEVEL"] = "info"
        environment["LEADERBOARD_POSTGRES_HOST"] = config.postgres.host
        environment["LEADERBOARD_POSTGRES_PORT"] = String(config.postgres.port)
        environment["LEADERBOARD_POSTGRES_DATABASE"] = config.postgres.database
        environment["LEADERBOARD_POSTGRES_USER"] = config.postgres.user
        environment["LEADERBOARD_POSTGRES_PASSWORD"] = config.postgres.password
        environment["LEADERBOARD_REDIS_ADDR"] = "\(config.redis.host):\(config.redis.port)"
        environment["LEADERBOARD_REDIS_DB"] = String(config.redis.db)
        environment["LEADERBOARD_TOPOLOGY"] = config.topology
        return environment
    }

    /// Runs the binary with `arguments` (a command such as `rebuild`) to its end, at most
    /// `timeout`; returns its exit status (nil when it had to be killed) and its output.
    public static func runCommand(
        _ arguments: [String], extraEnvironment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32?, output: String) {
        let (process, log, logPath) = try launch(arguments, environment: environment().merging(extraEnvironment) { $1 }, logName: "command")
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        var status: Int32? = nil
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        } else {
            status = process.terminationStatus
        }
        try? log.close()
        return (status, (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    /// Starts the binary with its output (stdout and stderr) in a log file of its own.
    private static func launch(_ arguments: [String], environment: [String: String], logName: String) throws -> (Process, FileHandle, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.serverBinary)
        process.arguments = arguments
        process.environment = environment
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("leaderboard-\(logName)-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return (process, log, logPath)
    }

    /// Starts the binary with the test environment and waits until /healthz answers.
    /// Two server processes on distinct free loopback ports, on the same stores (the second
    /// stopped again when the first cannot start).
    public static func startTwo(client: HTTPClient) async throws -> (ServerProcess, ServerProcess) {
        let firstPort = try freeLoopbackPort()
        var secondPort = try freeLoopbackPort()
        while secondPort == firstPort { secondPort = try freeLoopbackPort() }
        let first = try await start(port: firstPort, client: client)
        do {
            return (first, try await start(port: secondPort, client: client))
        } catch {
            first.stop()
            throw error
        }
    }

    public static func start(port: Int, extraEnvironment: [String: String] = [:], client: HTTPClient) async throws -> ServerProcess {
        let server = try spawn(port: port, extraEnvironment: extraEnvironment)
        let process = server.process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw TestFailure("server exited at start: \(server.log)") }
            if let (status, _) = try? await server.request(client, .GET, "/healthz"), status == 200 { return server }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.kill()
        throw TestFailure("server did not become healthy: \(server.log)")
    }

    /// Starts the binary with the test environment, without waiting for anything.
    public static func spawn(port: Int, extraEnvironment: [String: String] = [:]) throws -> ServerProcess {
        var environment = environment()
        environment["LEADERBOARD_SERVER_PORT"] = String(port)
        environment.merge(extraEnvironment) { $1 }
        let (process, _, logPath) = try launch([], environment: environment, logName: "server-\(port)")
        return ServerProcess(port: port, process: process, logPath: logPath)
    }

    /// Waits up to `timeout` for the process to end; its exit status, nil while it still runs.
    public func exitStatus(within timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    private init(port: Int, process: Process, logPath: String) {
        self.port = port
        self.process = process
        self.logPath = logPath
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGKILL: no chance to finish anything.
    public func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM and waits for the exit status.
    public func terminate() async -> Int32 {
        Glibc.kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill() }
        return process.terminationStatus
    }

    /// One HTTP request; returns the status and the body text.
    public func request(
        _ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: String? = nil, key: String? = nil, idempotencyKey: String? = nil
    ) async throws -> (Int, String) {
        let answer = try await requestWithHeaders(client, method, path, body: body, key: key, idempotencyKey: idempotencyKey)
        return (answer.0, answer.1)
    }

    /// One HTTP request; returns the status, the body text and the response headers.
    /// `idempotencyKey` goes as the `Idempotency-Key` header.
    public func requestWithHeaders(
        _ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: String? = nil, key: String? = nil, idempotencyKey: String? = nil
    ) async throws -> (Int, String, HTTPHeaders) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        // No keep-alive: a connection to a server that was killed must never be reused.
        request.headers.add(name: "Connection", value: "close")
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(3))
        let bytes = try await response.body.collect(upTo: 1 << 24)
        return (Int(response.status.code), String(buffer: bytes), response.headers)
    }
}
