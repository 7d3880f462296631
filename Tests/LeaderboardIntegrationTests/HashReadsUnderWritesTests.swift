import AsyncHTTPClient
import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import PostgresClient
import Testing

/// Deep ranges of an 8-shard hash board (where the window is located by counts, not fetched from
/// the top) while new players arrive in big batches (DESIGN.md, "Guarantees" 5 and 6): the
/// batches go through a second server process, the reads to the first. Only 200 or 503, both
/// servers stay up, every 200 is a valid page of one sorted set — also the deep pages read again
/// and again, which the reading process answers by the score span it found last time (one round)
/// while that still covers the page, and by searching when the writes moved the page out of it;
/// once the writes stop, ranges, ranks and around equal the model of every acknowledged score,
/// and a page read twice is answered by its span the second time. LEADERBOARD_TEST_SEED
/// replays a run's scores (printed), not its interleavings.
@Suite(.serialized) struct HashReadsUnderWritesTests {
    static let seeded = 20_000
    static let batchSize = 500
    static let batchesPerWriter = 60
    static let writers = 2
    static let readers = 4
    static let writePhase: Duration = .seconds(8)
    static let maxReaderSteps = 5000
    /// Scores over 0 ..< spread: some ties, so the tie rule matters across shards.
    static let spread: UInt64 = 100_000
    static let width = 50

    struct Tally: Sendable {
        var reads = ReadTally()
        var batchesAcknowledged = 0
        var batchesUnavailable = 0
        var batchesFailed = 0
        /// Batches sent without an answer (PostgreSQL decides whether they committed).
        var uncertain: [Int] = []
    }

    @Test(.timeLimit(.minutes(2))) func deepRangesStayValidWhileNewPlayersArrive() async throws {
        let client = HTTPClient.shared
        let seed = ProcessInfo.processInfo.environment["LEADERBOARD_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max / 2)
        print("hash-under-writes: seed \(seed)")
        var random = SeededRandom(seed: seed)
        let board = TestEnvironment.uniqueID("hash-writes")
        let initial = (0..<Self.seeded).map { ("s\($0)", Int64(random.next() % Self.spread)) }
        // Every batch the writers will send, decided up front: batches[w][k].
        let batches = (0..<Self.writers).map { writer in
            (0..<Self.batchesPerWriter).map { batch in
                (0..<Self.batchSize).map { item in ("n\(writer)-\(batch)-\(item)", Int64(random.next() % Self.spread)) }
            }
        }
        // Every player has exactly one score in this test: a read showing another one is wrong.
        var scoreOf: [String: Int64] = [:]
        for (player, score) in initial + batches.joined().joined() { scoreOf[player] = score }
        let scores = scoreOf

        var seededModel = ReferenceBoard(order: .desc, mode: .replace)
        for (player, score) in initial { seededModel.submit(player, score) }
        let seededRanking = seededModel.ranked()
        // Readers ask for these players. A player's rank can only grow as players arrive: it lies
        // between its rank among the seeded players and that plus every planned new player with
        // a score at least as good.
        let newScores = batches.joined().joined().map(\.1).sorted()
        let sample = (0..<200).map { seededRanking[($0 * 7919) % seededRanking.count] }
        let rankBounds: [String: ClosedRange<Int>] = Dictionary(
            uniqueKeysWithValues: sample.map { entry in
                let atLeastAsGood = newScores.count - Self.firstIndex(in: newScores, notBelow: entry.score)
                return (entry.playerID, entry.rank...(entry.rank + atLeastAsGood))
            }
        )

        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { server.stop() }
        let writerProcess = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { writerProcess.stop() }
        let created = try await server.call(
            client, .POST, "/api/v1/leaderboards",
            body: #"{"id": "\#(board)", "update_mode": "replace", "max_entries": 0, "layout": {"strategy": "hash", "shards": 8}}"#
        )
        #expect(created.status == .created, "\(created.json)")
        for start in stride(from: 0, to: initial.count, by: 1000) {
            try await server.submitBatch(client, board: board, Array(initial[start..<min(start + 1000, initial.count)]))
        }

        let tally = NIOLockedValueBox(Tally())
        let acknowledged = NIOLockedValueBox<[Int: Bool]>([:])  // batch number → acknowledged
        let writing = NIOLockedValueBox(Self.writers)
        let deadline = ContinuousClock.now + Self.writePhase
        let check = PageCheck(order: .desc)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<Self.writers {
                let writerServer = writerProcess
                group.addTask {
                    defer { writing.withLockedValue { $0 -= 1 } }
                    for (index, batch) in batches[writer].enumerated() {
                        guard ContinuousClock.now < deadline, !server.crashed, !writerServer.crashed else { return }
                        let number = writer * Self.batchesPerWriter + index
                        let answer = try? await writerServer.call(client, .POST, "/api/v1/scores/batch", body: ServerProcess.batchBody(board: board, batch))
                        tally.withLockedValue { tally in
                            switch answer?.status.code {
                            case 200:
                                tally.batchesAcknowledged += 1
                                acknowledged.withLockedValue { $0[number] = true }
                            case 503: tally.batchesUnavailable += 1
                            default:
                                tally.batchesFailed += 1
                                tally.uncertain.append(number)
                            }
                        }
                    }
                }
            }
            for reader in 0..<Self.readers {
                let readerSeed = random.next()
                group.addTask {
                    var readerRandom = SeededRandom(seed: readerSeed)
                    var step = 0
                    while writing.withLockedValue({ $0 > 0 }), step < Self.maxReaderSteps, ContinuousClock.now < deadline + .seconds(5) {
                        step += 1
                        let player = sample[Int(readerRandom.next() % UInt64(sample.count))].playerID
                        // Half the pages are three read again and again (answered by their span while it covers them).
                        let start = step % 2 == 0 ? [9_000, 9_700, 10_400][Int(readerRandom.next() % 3)] : 9_000 + Int(readerRandom.next() % 2_000)
                        let kind = (step + reader) % 3
                        let path =
                            switch kind {
                            case 0: "/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + Self.width - 1)"
                            case 1: "/api/v1/leaderboards/\(board)/player/\(player)"
                            default: "/api/v1/leaderboards/\(board)/around/\(player)?range=5"
                            }
                        guard let answer = try? await server.get(client, path) else {
                            let crashed = server.crashed
                            tally.withLockedValue { $0.reads.record(path, [crashed ? "no answer: the server crashed" : "no answer"]) }
                            if crashed { return }
                            continue
                        }
                        if answer.status == .serviceUnavailable, answer.errorCode == "unavailable" {
                            tally.withLockedValue { $0.reads.unavailable += 1 }
                            continue
                        }
                        guard answer.status == .ok else {
                            tally.withLockedValue { $0.reads.record(path, ["status \(answer.status.code) \(answer.json)"]) }
                            continue
                        }
                        var problems: [String]
                        let entries: [LeaderboardEntry]
                        switch kind {
                        case 0:
                            entries = answer.entries
                            problems = check.problems(entries, total: answer.total, start: start, count: Self.width)
                        case 1:
                            entries = answer.entry.map { [$0] } ?? []
                            problems = entries.count == 1 ? [] : ["no entry: \(answer.json)"]
                        default:
                            entries = answer.entries
                            problems = check.aroundProblems(entries, total: answer.total, player: player, radius: 5)
                        }
                        if kind != 0, let entry = entries.first(where: { $0.playerID == player }), let bounds = rankBounds[player], !bounds.contains(entry.rank) {
                            problems.append("\(player) at rank \(entry.rank), possible \(bounds)")
                        }
                        for entry in entries where scores[entry.playerID] != entry.score {
                            problems.append("\(entry.playerID) with score \(entry.score), its score is \(scores[entry.playerID].map(String.init) ?? "none (unknown player)")")
                            break
                        }
                        tally.withLockedValue { $0.reads.record(path, problems) }
                    }
                }
            }
        }

        let result = tally.withLockedValue { $0 }
        print(
            "hash-under-writes: \(result.reads); batches of \(Self.batchSize): \(result.batchesAcknowledged) acknowledged, \(result.batchesUnavailable) answered 503, \(result.batchesFailed) failed"
        )
        if !result.reads.examples.isEmpty { print("hash-under-writes wrong answers, e.g.:\n  " + result.reads.examples.joined(separator: "\n  ")) }
        let spansUnderWrites = try await Self.spanReads(server, client)
        print("hash-under-writes: deep pages answered by their span \(spansUnderWrites.hit) times, searched after a stale span \(spansUnderWrites.miss) times")
        let writerRunning = await Self.stillServing(writerProcess, client)
        #expect(writerRunning, "the writing server died: \(writerProcess.crashReport)")
        let running = await Self.stillServing(server, client)
        #expect(running, "the server died under reads and writes: \(server.crashReport)")
        #expect(result.reads.wrong == 0, "\(result.reads.wrong) of \(result.reads.checked) reads wrong, e.g. \(result.reads.examples.prefix(3))")
        guard running else { return }
        #expect(result.reads.checked >= 100, "too few reads checked")
        #expect(result.batchesAcknowledged >= 4, "too few batches acknowledged")

        // Exact answers once the writes stopped: the model is the seeded players and every
        // acknowledged batch (and, for batches without an answer, what PostgreSQL holds).
        var model = seededModel
        let done = acknowledged.withLockedValue { $0 }
        for (number, _) in done {
            for (player, score) in batches[number / Self.batchesPerWriter][number % Self.batchesPerWriter] { model.submit(player, score) }
        }
        if !result.uncertain.isEmpty {
            let postgres = PGConnectionPool(configuration: TestEnvironment.config.postgresPool)
            let stored = try await postgresScores(postgres, board: board)
            await postgres.shutdown()
            for number in result.uncertain {
                for (player, score) in batches[number / Self.batchesPerWriter][number % Self.batchesPerWriter] where stored[player] != nil {
                    model.submit(player, score)
                }
            }
        }
        let expected = model.ranked()
        let path = "/api/v1/leaderboards/\(board)"
        // 9,700 twice: the second read is answered by the span the first found.
        let spansBefore = try await Self.spanReads(server, client)
        for start in [1, 1_001, 9_700, 9_700, 9_990, 10_000, 15_000, 20_001, expected.count / 2, expected.count - Self.width + 1] where start >= 1 {
            let page = try? await server.get(client, "\(path)/range?start=\(start)&end=\(start + Self.width - 1)")
            let want = Array(expected[(start - 1)..<min(expected.count, start - 1 + Self.width)])
            let got = page?.entries ?? []
            #expect(page?.total == expected.count, "total after the writes")
            #expect(got == want, "range \(start)–\(start + Self.width - 1): first difference \(zip(got, want).first { $0 != $1 }.map { "\($0.0) instead of \($0.1)" } ?? "in length (\(got.count) of \(want.count))")")
        }
        for index in [0, 1, 4_999, 9_999, 10_000, 12_345, expected.count / 2, expected.count - 2, expected.count - 1] {
            let entry = expected[index]
            let answer = try? await server.get(client, "\(path)/player/\(entry.playerID)")
            #expect(answer?.entry == entry, "player \(entry.playerID) at rank \(entry.rank): \(answer.map { "\($0.json)" } ?? "no answer")")
            let around = try? await server.get(client, "\(path)/around/\(entry.playerID)?range=5")
            #expect(around?.entries == Array(expected[max(0, index - 5)...min(expected.count - 1, index + 5)]), "around \(entry.playerID) (rank \(entry.rank))")
        }
        #expect(!server.crashed, "the server died during the final reads: \(server.crashReport)")
        let spansAfter = try await Self.spanReads(server, client)
        #expect(spansAfter.hit > spansBefore.hit, "no page was answered by its span: \(spansBefore) then \(spansAfter)")
    }

    /// The reading server's count of deep pages answered by a score span (hit) and of spans that
    /// no longer covered their page (miss), from /metrics.
    static func spanReads(_ server: ServerProcess, _ client: HTTPClient) async throws -> (hit: Int, miss: Int) {
        let metrics = try await server.request(client, .GET, "/metrics").1
        func value(_ outcome: String) -> Int {
            let prefix = "leaderboard_range_span_reads_total{outcome=\"\(outcome)\"} "
            return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }.map { Int($0) } ?? 0
        }
        return (value("hit"), value("miss"))
    }

    /// Index of the first score ≥ `score` in ascending `scores`.
    static func firstIndex(in scores: [Int64], notBelow score: Int64) -> Int {
        var low = 0, high = scores.count
        while low < high {
            let middle = (low + high) / 2
            if scores[middle] < score { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Waits (at most 15 s) until the server answers /healthz or is found crashed; true if it serves.
    static func stillServing(_ server: ServerProcess, _ client: HTTPClient) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if server.crashed { break }
            if let (status, _) = try? await server.request(client, .GET, "/healthz"), status == 200, !server.crashed { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        if server.crashed { await server.waitForCrashReport() }
        return false
    }
}
