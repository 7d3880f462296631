import Foundation
import LeaderboardTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The command-line tools as an operator meets them: help, usage errors, progress, and start-up
/// failures that end the process instead of leaving it hung.
@Suite struct CommandLineTests {
    @Test(arguments: [[], ["serve"], ["sync"], ["rebuild"], ["reshard"], ["plan"], ["propose-bands"]])
    func everyCommandHasHelp(_ command: [String]) async throws {
        let (status, output) = try await ServerProcess.runCommand(command + ["--help"], timeout: .seconds(20))
        #expect(status == 0, "\(output)")
        #expect(output.contains("USAGE: leaderboard-server"), "\(output)")
        #expect(output.contains("--config"))
    }

    @Test(arguments: [["--bogus"], ["import", "--board", "x"], ["rebuild"], ["rebuild", "--board", "x", "--shard", "-1"], ["sync", "--nope"],
        ["reshard", "--board", "x"], ["reshard", "--board", "x", "--shards", "4", "--bands", "4"], ["reshard", "--board", "x", "--bounds", "5,3"],
        ["reshard", "--board", "x", "--shards", "0"], ["plan", "--board", "x"], ["plan", "--board", "x", "--bands", "1"],
    ])
    func usageErrorsExitWithTwo(_ arguments: [String]) async throws {
        let (status, output) = try await ServerProcess.runCommand(arguments, timeout: .seconds(20))
        #expect(status == 2, "\(arguments) exited with \(String(describing: status)): \(output.suffix(500))")
        #expect(output.contains("Error:") || output.contains("error:"), "\(output)")
        #expect(!output.contains("Server started"), "a usage error started a server")
    }

    /// A rebuild of a 100,000-player board shows its progress (plain lines: the output is a file).
    @Test(.timeLimit(.minutes(3))) func aRebuildShowsItsProgress() async throws {
        let board = TestEnvironment.uniqueID("cli-progress")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
            _ = try await system.postgres.query(
                "INSERT INTO player_scores (leaderboard_id, player_id, score) SELECT $1, 'm' || g, g % 5000 FROM generate_series(1, 100000) g",
                [board]
            )
        }
        let (status, output) = try await ServerProcess.runCommand(["rebuild", "--board", board], timeout: .seconds(120))
        #expect(status == 0, "\(output.suffix(2000))")
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("rebuild \(board): ") }
        #expect(!lines.isEmpty, "no progress lines: \(output.suffix(2000))")
        #expect(lines.last?.contains("100000/100000 members (100%)") == true, "\(lines.last ?? "")")
        #expect(lines.allSatisfy { $0.contains("/s, ") })
        try await withTestApp { api, _ in
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1")
            #expect(top.integer("total") == 100_000)
        }
    }

    /// `reshard` changes a live board's layout, showing progress, and `plan` prints the table and
    /// writes the picture.
    @Test(.timeLimit(.minutes(3))) func reshardAndPlanChangeAndDescribeALayout() async throws {
        let board = TestEnvironment.uniqueID("cli-reshard")
        let scores = (0..<3000).map { ("p\($0)", Int64(($0 * 7919) % 5000)) }
        try await withTestApp { api, _ in
            try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 2}"#)
            try await api.submit(board, scores)
        }
        let picture = FileManager.default.temporaryDirectory.appendingPathComponent("\(board).svg").path
        defer { try? FileManager.default.removeItem(atPath: picture) }
        let (planned, table) = try await ServerProcess.runCommand(["plan", "--board", board, "--bands", "4", "--svg", picture], timeout: .seconds(60))
        #expect(planned == 0, "\(table.suffix(2000))")
        #expect(table.contains("reshard --board \(board) --bounds "), "\(table)")
        #expect(table.split(separator: "\n").filter { $0.hasPrefix("    0") || $0.hasPrefix("    3") }.count == 2, "\(table)")
        let svg = (try? String(contentsOfFile: picture, encoding: .utf8)) ?? ""
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.hasSuffix("</svg>\n"), "\(svg.prefix(200))")

        let (status, output) = try await ServerProcess.runCommand(["reshard", "--board", board, "--shards", "8"], timeout: .seconds(120))
        #expect(status == 0, "\(output.suffix(2000))")
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("reshard \(board) to epoch 2: ") }
        #expect(lines.last?.contains("3000/3000 members (100%)") == true, "\(output.suffix(2000))")
        #expect(output.contains("switched to epoch 2 (hash, 8 shards)"), "\(output.suffix(2000))")
        let (again, repeated) = try await ServerProcess.runCommand(["reshard", "--board", board, "--shards", "8"], timeout: .seconds(60))
        #expect(again == 0 && repeated.contains("already has that layout (epoch 2)"), "\(repeated.suffix(1000))")
        try await withTestApp { api, _ in
            let layout = try await api.get("/api/v1/leaderboards/\(board)/layout")
            #expect(layout.integer("epoch") == 2)
            #expect(layout["layout"] == .object(["strategy": .string("hash"), "shards": .integer(8)]))
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=5")
            #expect(top.total == 3000)
            let want = scores.sorted { ($0.1, $0.0) > ($1.1, $1.0) }.prefix(5).map(\.0)
            #expect(top.entries.map(\.playerID) == Array(want))
        }
    }

    /// A second server on a port that is taken exits by itself with 1, naming the port (a hung
    /// start-up would be ended by the command's timeout and give no status).
    @Test func aTakenPortEndsStartUp() async throws {
        let listener = try SilentListener()
        let (status, output) = try await ServerProcess.runCommand(
            [], extraEnvironment: ["LEADERBOARD_SERVER_PORT": String(listener.port)], timeout: .seconds(30)
        )
        #expect(status == 1, "\(String(describing: status)): \(output.suffix(1000))")
        #expect(output.contains("127.0.0.1:\(listener.port)"), "\(output.suffix(1000))")
    }

    /// PostgreSQL that accepts connections and never answers: SIGTERM during that start-up ends
    /// the process, and without a signal start-up gives up by itself, naming the cause.
    @Test func startUpAgainstAHungStoreEnds() async throws {
        let hung = try SilentListener()
        let environment = ["LEADERBOARD_POSTGRES_PORT": String(hung.port), "LEADERBOARD_POSTGRES_HOST": "127.0.0.1"]
        // A connect timeout far beyond the test's waits: only the signal can end this start-up.
        let server = try ServerProcess.spawn(
            port: try freeLoopbackPort(), extraEnvironment: environment.merging(["LEADERBOARD_POSTGRES_CONNECT_TIMEOUT": "300s"]) { $1 }
        )
        defer { if server.process.isRunning { server.kill() } }
        #expect(await hung.waitForPendingConnection(within: .seconds(60)), "start-up never reached PostgreSQL: \(server.log)")
        #expect(server.process.isRunning, "start-up should still be waiting: \(server.log)")
        kill(server.process.processIdentifier, SIGTERM)
        #expect(await server.exitStatus(within: .seconds(30)) != nil, "SIGTERM did not end start-up")
        #expect(!server.log.contains("cannot start"), "start-up ended by itself, not by the signal: \(server.log.suffix(1000))")

        let unattended = try ServerProcess.spawn(
            port: try freeLoopbackPort(), extraEnvironment: environment.merging(["LEADERBOARD_POSTGRES_CONNECT_TIMEOUT": "2s"]) { $1 }
        )
        defer { if unattended.process.isRunning { unattended.kill() } }
        let status = await unattended.exitStatus(within: .seconds(60))
        #expect(status == 1, "\(String(describing: status)): \(unattended.log.suffix(1000))")
        #expect(unattended.log.contains("cannot start"), "\(unattended.log.suffix(1000))")
    }

    /// SIGTERM ends a serving process, gracefully.
    @Test func sigtermEndsAServingProcess() async throws {
        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: .shared)
        #expect(await server.terminate() == 0, "\(server.log.suffix(1000))")
        #expect(server.log.contains("shutting down (SIGTERM)"))
    }
}
