import Foundation

/// A redis-server of a test's own on loopback, without persistence, that the test can kill with
/// SIGKILL and start again (empty) on the same port.
public final class RedisProcess: @unchecked Sendable {
    public let port: Int
    private var process: Process?

    public init(port: Int) {
        self.port = port
    }

    /// Starts the server and waits until it answers PING.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.which("redis-server"))
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try ping() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("redis-server on port \(port) did not start")
    }

    /// SIGKILL: the data it held is gone.
    public func kill() {
        guard let process else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// The server's process id (0 when not running).
    public var pid: Int32 { process?.processIdentifier ?? 0 }

    /// SIGSTOP: the node hangs (connections stay open, nothing answers) until ``resume()``.
    public func pause() {
        guard let process else { return }
        Glibc.kill(process.processIdentifier, SIGSTOP)
        // The signal is delivered asynchronously: return once the process is stopped.
        for _ in 0..<200 {
            let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
            if status.contains("State:\tT") { return }
            usleep(5_000)
        }
    }

    /// SIGCONT after ``pause()``.
    public func resume() {
        guard let process else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
    }

    /// Runs a redis-cli command against the server (db `database`) and returns its output.
    public func cli(_ arguments: [String], database: Int = 0) throws -> String {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: try Self.which("redis-cli"))
        cli.arguments = ["-h", "127.0.0.1", "-p", String(port), "-n", String(database)] + arguments
        let pipe = Pipe()
        cli.standardOutput = pipe
        cli.standardError = FileHandle.nullDevice
        try cli.run()
        cli.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func ping() throws -> Bool {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: try Self.which("redis-cli"))
        cli.arguments = ["-h", "127.0.0.1", "-p", String(port), "ping"]
        let pipe = Pipe()
        cli.standardOutput = pipe
        cli.standardError = FileHandle.nullDevice
        try cli.run()
        cli.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("PONG")
    }

    static func which(_ tool: String) throws -> String {
        for directory in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
            return "\(directory)/\(tool)"
        }
        throw TestFailure("\(tool) not found")
    }

    deinit { kill() }
}
