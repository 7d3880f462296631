import Foundation
import LeaderboardCore
import LeaderboardService
import LeaderboardTestSupport
import Testing

/// Reset periods with a clock the test moves. These run on the isolated database (the scheduler
/// acts on every board it sees) and one at a time.
@Suite(.serialized) struct PeriodTests {
    let config = TestEnvironment.isolatedConfig

    /// `(id, player, score)` rows of an archived period, in rank order, from the API.
    func archived(_ api: TestAPI, _ board: String, period: Int, limit: Int = 100) async throws -> [LeaderboardEntry] {
        let page = try await api.get("/api/v1/leaderboards/\(board)/top?limit=\(limit)&period=\(period)")
        guard page.status == .ok else { throw TestFailure("period \(period) of \(board): \(page.status) \(page.json)") }
        #expect(page["source"] == .string("archive"))
        #expect(page.integer("period") == Int64(period))
        return page.entries
    }

    /// The archived periods of a board: `(period, started_at, ended_at, player_count)`.
    func periods(_ api: TestAPI, _ board: String) async throws -> [(Int64, String, String, Int64)] {
        let answer = try await api.get("/api/v1/leaderboards/\(board)/periods")
        guard case .array(let items)? = answer["periods"] else { throw TestFailure("no periods: \(answer.json)") }
        return items.compactMap { item in
            guard let object = item.object, case .integer(let period)? = object["period"], case .string(let started)? = object["started_at"],
                case .string(let ended)? = object["ended_at"], case .integer(let players)? = object["player_count"]
            else { return nil }
            return (period, started, ended, players)
        }
    }

    @Test func theClockCrossesDailyWeeklyAndMonthlyBoundaries() async throws {
        // 2030-01-14 is a Monday.
        let clock = ManualClock(ManualClock.utc("2030-01-14T10:00:00Z"))
        let daily = TestEnvironment.uniqueID("daily")
        let weekly = TestEnvironment.uniqueID("weekly")
        let monthly = TestEnvironment.uniqueID("monthly")
        try await withTestApp(config: config, clock: clock.function) { api, system in
            try await api.createBoard(daily, #""reset_period": "daily", "layout": {"strategy": "hash", "shards": 4}"#)
            try await api.createBoard(weekly, #""reset_period": "weekly", "sort_order": "asc", "layout": {"strategy": "band", "bounds": [10, 20]}"#)
            try await api.createBoard(monthly, #""reset_period": "monthly""#)
            let scores = (0..<30).map { ("p\($0)", Int64(($0 * 7) % 31)) }
            for board in [daily, weekly, monthly] { try await api.submit(board, scores) }

            clock.set(ManualClock.utc("2030-01-14T23:59:59Z"))
            await system.periods.applyDue()
            for board in [daily, weekly, monthly] { #expect(try await periods(api, board).isEmpty, "\(board) reset too early") }

            // Midnight: the daily board starts period 2; its period 1 keeps the standings.
            clock.set(ManualClock.utc("2030-01-15T00:00:00Z"))
            await system.periods.applyDue()
            let dailyPeriods = try await periods(api, daily)
            #expect(dailyPeriods.count == 1)
            #expect(dailyPeriods.first?.0 == 1)
            #expect(dailyPeriods.first?.1 == "2030-01-14T10:00:00.000Z")
            #expect(dailyPeriods.first?.2 == "2030-01-15T00:00:00.000Z")
            #expect(dailyPeriods.first?.3 == 30)
            let expectedDesc = scores.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) == false }
            let archive = try await archived(api, daily, period: 1)
            #expect(archive.map(\.playerID) == expectedDesc.map(\.0))
            #expect(archive.map(\.rank) == Array(1...30))
            #expect(archive.map(\.score) == expectedDesc.map(\.1))
            let now = try await api.get("/api/v1/leaderboards/\(daily)/top")
            #expect(now.integer("total") == 0)
            #expect(now["source"] == .string("realtime"))
            for board in [weekly, monthly] { #expect(try await periods(api, board).isEmpty) }

            // Reads of the archived period: player, around, range; and the errors around period=.
            let third = expectedDesc[2]
            let player = try await api.get("/api/v1/leaderboards/\(daily)/player/\(third.0)?period=1")
            #expect(player.entry == LeaderboardEntry(rank: 3, playerID: third.0, score: third.1))
            #expect(player["as_of"] == .string("2030-01-15T00:00:00.000Z"))
            let around = try await api.get("/api/v1/leaderboards/\(daily)/around/\(third.0)?range=2&period=1")
            #expect(around.entries.map(\.rank) == [1, 2, 3, 4, 5])
            let range = try await api.get("/api/v1/leaderboards/\(daily)/range?start=29&end=40&period=1")
            #expect(range.entries.map(\.playerID) == expectedDesc.suffix(2).map(\.0))
            #expect(range.integer("total") == 30)
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/player/\(third.0)").errorCode == "player_not_found")
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/top?period=9").errorCode == "invalid_request")
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/top?period=0").errorCode == "invalid_request")
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/top?period=x").errorCode == "invalid_request")
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/top?period=1&source=realtime").errorCode == "invalid_request")
            #expect(try await api.get("/api/v1/leaderboards/\(daily)/player/nobody?period=1").errorCode == "player_not_found")
            let current = try await api.get("/api/v1/leaderboards/\(daily)/top?period=2")
            #expect(current["source"] == .string("realtime"))

            // Monday: the weekly board (ascending, banded) resets, and the daily one again.
            try await api.submit(daily, [("late", 5)])
            clock.set(ManualClock.utc("2030-01-21T00:00:00Z"))
            await system.periods.applyDue()
            let weeklyPeriods = try await periods(api, weekly)
            #expect(weeklyPeriods.map(\.0) == [1])
            #expect(weeklyPeriods.first?.2 == "2030-01-21T00:00:00.000Z")
            let expectedAsc = scores.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            #expect(try await archived(api, weekly, period: 1).map(\.playerID) == expectedAsc.map(\.0))
            let dailyAgain = try await periods(api, daily)
            #expect(dailyAgain.map(\.0) == [1, 2])
            #expect(dailyAgain.last?.1 == "2030-01-15T00:00:00.000Z")
            #expect(dailyAgain.last?.3 == 1)
            #expect(try await archived(api, daily, period: 2).map(\.playerID) == ["late"])
            #expect(try await periods(api, monthly).isEmpty)

            // The first of the month: the monthly board resets; applying again changes nothing.
            clock.set(ManualClock.utc("2030-02-01T00:00:00Z"))
            await system.periods.applyDue()
            await system.periods.applyDue()
            let monthlyPeriods = try await periods(api, monthly)
            #expect(monthlyPeriods.map(\.0) == [1])
            #expect(monthlyPeriods.first?.2 == "2030-02-01T00:00:00.000Z")
            #expect(try await archived(api, monthly, period: 1).count == 30)
            #expect(try await periods(api, weekly).last?.2 == "2030-01-28T00:00:00.000Z")
            #expect(try await periods(api, daily).map(\.0) == [1, 2, 3])
        }
    }

    @Test func aBoundaryMissedWhileDownIsAppliedAtStart() async throws {
        let board = TestEnvironment.uniqueID("missed")
        let clock = ManualClock(ManualClock.utc("2030-03-05T08:00:00Z"))
        try await withTestApp(config: config, clock: clock.function) { api, _ in
            try await api.createBoard(board, #""reset_period": "daily", "layout": {"strategy": "hash", "shards": 3}"#)
            try await api.submit(board, (0..<50).map { ("m\($0)", Int64($0)) })
        }
        // Five days later the server starts again.
        clock.set(ManualClock.utc("2030-03-10T12:00:00Z"))
        try await withTestApp(config: config, clock: clock.function) { api, _ in
            var found: [(Int64, String, String, Int64)] = []
            for _ in 0..<100 where found.isEmpty {
                found = try await periods(api, board)
                if found.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(found.count == 1, "one reset for the missed days, not one per day")
            #expect(found.first?.1 == "2030-03-05T08:00:00.000Z")
            #expect(found.first?.2 == "2030-03-10T00:00:00.000Z")
            #expect(found.first?.3 == 50)
            #expect(try await archived(api, board, period: 1).first?.playerID == "m49")
            // The scheduler commits the reset, then applies it to Redis: the archive can be listed a
            // moment before the real-time board is empty.
            var total = try await api.get("/api/v1/leaderboards/\(board)/top").integer("total")
            for _ in 0..<40 where total != 0 {
                try await Task.sleep(for: .milliseconds(50))
                total = try await api.get("/api/v1/leaderboards/\(board)/top").integer("total")
            }
            #expect(total == 0)
        }
    }

    @Test func theSchedulerWakesAtTheBoundary() async throws {
        let board = TestEnvironment.uniqueID("ontime")
        let frozen = ManualClock(ManualClock.utc("2030-04-01T12:00:00Z"))
        try await withTestApp(config: config, clock: frozen.function) { api, system in
            try await api.createBoard(board, #""reset_period": "daily""#)
            try await api.submit(board, [("a", 1), ("b", 2)])

            // A scheduler whose clock runs from 1.5 s before midnight.
            let start = ManualClock.utc("2030-04-01T23:59:58Z").addingTimeInterval(0.5)
            let running = ManualClock(start)
            running.run(from: start)
            let scheduler = PeriodScheduler(service: system.service, clock: running.function, logger: TestEnvironment.logger)
            let task = Task { try await scheduler.run() }
            var found: [(Int64, String, String, Int64)] = []
            for _ in 0..<100 where found.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                found = try await periods(api, board)
            }
            task.cancel()
            #expect(found.first?.2 == "2030-04-02T00:00:00.000Z")
            #expect(running.now >= ManualClock.utc("2030-04-02T00:00:00Z"))
            #expect(running.now < ManualClock.utc("2030-04-02T00:00:08Z"), "the reset came late (the poll interval is 30 s)")
        }
    }
}
