import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The command-line tools as an operator meets them: help, usage errors, progress, and start-up
/// failures that end the process instead of leaving it hung.
@Suite struct CommandLineTests {
    @Test(arguments: [[], ["serve"], ["sync"], ["rebuild"], ["reshard"], ["plan"], ["propose-bands"], ["import"]])
    func everyCommandHasHelp(_ command: [String]) async throws {
        let (status, output) = try await ServerProcess.runCommand(command + ["--help"], timeout: .seconds(20))
        #expect(status == 0, "\(output)")
        #expect(output.contains("USAGE: leaderboard-server"), "\(output)")
        #expect(output.contains("--config"))
    }

    @Test(arguments: [["--bogus"], ["import", "--board", "x"], ["import", "--board", "x", "--file", "scores.txt"],
        ["import", "--board", "x", "--file", "/nonexistent/scores.csv"], ["rebuild"], ["rebuild", "--board", "x", "--shard", "-1"], ["sync", "--nope"],
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

    /// `import` beside a serving process: while the command runs, every read of the server is the
    /// board before the import, the board after it, or 503 (never a mix, never a player missing);
    /// then the server serves the imported board. Progress lines and the JSON report are printed.
    /// A file with a bad row exits with 2 naming the line, and the board stays as it was.
    @Test(.timeLimit(.minutes(4))) func anImportBesideAServingProcess() async throws {
        let board = TestEnvironment.uniqueID("cli-import")
        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: .shared)
        defer { server.kill() }
        let created = try await server.request(
            .shared, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)", "max_entries": 0, "layout": {"strategy": "hash", "shards": 4}}"#
        )
        #expect(created.0 == 201, "\(created)")
        var before = ReferenceBoard(order: .desc, mode: .replace)
        let seeded = (0..<1000).map { ("s\($0)", Int64(($0 * 37) % 900)) }
        for chunk in stride(from: 0, to: seeded.count, by: 500) {
            let items = seeded[chunk..<chunk + 500].map { #"{"player_id": "\#($0.0)", "score": \#($0.1), "game_id": "\#(board)"}"# }
            let answer = try await server.request(.shared, .POST, "/api/v1/scores/batch", body: #"{"scores": [\#(items.joined(separator: ","))]}"#)
            #expect(answer.0 == 200, "\(answer)")
        }
        for (player, score) in seeded { before.submit(player, score) }
        // 60,000 rows: new players, and the first 300 seeded ones moved.
        var after = before
        var lines = ["player_id,score"]
        for index in 0..<60_000 {
            let (player, score) = index < 300 ? ("s\(index)", Int64(5000 + index)) : ("n\(index)", Int64((index * 7919) % 20_000))
            lines.append("\(player),\(score)")
            after.submit(player, score)
        }
        let path = NSTemporaryDirectory() + "cli-import-\(UUID().uuidString).csv"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Writes go on all along through the server: to another board (all answered 200), and to
        // the imported board, of a player whose score neither the seed nor the file changes
        // (s999 keeps 63, so the reads' two states hold), answered 200 or, while the import
        // holds the board, 503.
        let other = TestEnvironment.uniqueID("cli-other")
        let made = try await server.request(.shared, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(other)"}"#)
        #expect(made.0 == 201, "\(made)")

        let states = [before.ranked(), after.ranked()]
        let command = Task { try await ServerProcess.runCommand(["import", "--board", board, "--file", path], timeout: .seconds(150)) }
        #expect(Int64((999 * 37) % 900) == 63)
        let imported = StopFlag()
        let others = Self.writes(to: server, until: imported) { #"{"player_id": "w\#($0 % 50)", "score": \#($0), "game_id": "\#(other)"}"# }
        let sames = Self.writes(to: server, until: imported) { _ in #"{"player_id": "s999", "score": 63, "game_id": "\#(board)"}"# }
        var seen = [0, 0], unavailable = 0, wrong: [String] = []
        func read() async throws -> Int? {
            let (status, body) = try await server.request(.shared, .GET, "/api/v1/leaderboards/\(board)/top?limit=50")
            if status == 503 { return nil }
            guard status == 200, let json = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)) else {
                wrong.append("\(status) \(body.prefix(300))")
                return -1
            }
            let page = APIResponse(status: .ok, json: json)
            guard let state = states.firstIndex(where: { Int64($0.count) == page.integer("total") && Array($0.prefix(50)) == page.entries }) else {
                wrong.append("neither before nor after: total \(page.integer("total") ?? -1), \(page.entries.prefix(3))")
                return -1
            }
            return state
        }
        let deadline = ContinuousClock.now + .seconds(150)
        var steps = 0
        while ContinuousClock.now < deadline, steps < 20_000 {
            steps += 1
            switch try await read() {
            case nil: unavailable += 1
            case let state? where state >= 0:
                // One process serves these reads: once it has shown the import, never the board without it.
                if state == 0, seen[1] > 0 { wrong.append("the board before the import, after \(seen[1]) reads with it") }
                seen[state] += 1
            default: break
            }
            if seen[1] > 20 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let (status, output) = try await command.value
        imported.stop()
        let written = try await others.value
        let same = try await sames.value
        print("import beside a server: reads before \(seen[0]), 503 \(unavailable), after \(seen[1]); writes by status: another board \(written), the imported board \(same)")
        #expect(Set(written.keys) == [200], "another board's writes during the import: \(written)")
        #expect(Set(same.keys).isSubset(of: [200, 503]) && same[200, default: 0] > 0, "the imported board's writes: \(same)")
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        #expect(seen[1] > 0, "the server never served the import: before \(seen[0]), 503 \(unavailable)")
        #expect(output.contains("import \(board): "), "no progress lines: \(output.suffix(1000))")
        #expect(output.contains("build \(board): "), "no build progress: \(output.suffix(1000))")
        #expect(output.contains(#""rows" : 60000"#), "\(output.suffix(1000))")
        #expect(output.contains(#""added" : 59700"#), "\(output.suffix(1000))")

        // A bad row on line 4: exit 2, the line named, nothing written.
        let bad = NSTemporaryDirectory() + "cli-import-\(UUID().uuidString).csv"
        try "player_id,score\ns1,1\ns2,2\ns3,three\n".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let refused = try await ServerProcess.runCommand(["import", "--board", board, "--file", bad], timeout: .seconds(60))
        #expect(refused.status == 2, "\(refused.output.suffix(1000))")
        #expect(refused.output.contains("line 4:") && refused.output.contains("nothing was imported"), "\(refused.output.suffix(1000))")
        let last = try await read()
        if last != 1 { _ = await server.terminate() }
        #expect(last == 1, "\(server.log.split(separator: "\n").filter { $0.contains(board) }.suffix(30).joined(separator: "\n"))")
        let player = try await server.request(.shared, .GET, "/api/v1/leaderboards/\(board)/player/s1")
        #expect(player.1.contains(#""score":5001"#) || player.1.contains(#""score": 5001"#), "\(player)")
    }

    /// POST /scores of `body(i)` for i = 0, 1, … (at most 3,000, 10 ms apart) until `flag` stops
    /// them; the answers counted by status.
    static func writes(to server: ServerProcess, until flag: StopFlag, _ body: @escaping @Sendable (Int) -> String) -> Task<[Int: Int], any Error> {
        Task {
            var statuses: [Int: Int] = [:]
            for index in 0..<3000 where !flag.stopped {
                statuses[try await server.request(.shared, .POST, "/api/v1/scores", body: body(index)).0, default: 0] += 1
                try await Task.sleep(for: .milliseconds(10))
            }
            return statuses
        }
    }

    final class StopFlag: Sendable {
        private let state = Mutex(false)
        var stopped: Bool { state.withLock { $0 } }
        func stop() { state.withLock { $0 = true } }
    }

    /// SIGTERM ends a serving process, gracefully.
    @Test func sigtermEndsAServingProcess() async throws {
        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: .shared)
        #expect(await server.terminate() == 0, "\(server.log.suffix(1000))")
        #expect(server.log.contains("shutting down (SIGTERM)"))
    }
}
