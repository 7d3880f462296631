import Foundation
import LeaderboardCore
import Testing

@Suite struct ResetPeriodTests {
    /// Unix seconds of a UTC time, computed by Foundation (the reference for the arithmetic).
    func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
        return Int64(date.timeIntervalSince1970)
    }

    @Test func dailyBoundariesAreUTCMidnights() {
        #expect(ResetPeriod.daily.boundary(atOrBefore: utc(2026, 11, 29, 3, 17)) == utc(2026, 11, 29))
        #expect(ResetPeriod.daily.boundary(atOrBefore: utc(2026, 11, 29)) == utc(2026, 11, 29))
        #expect(ResetPeriod.daily.boundary(atOrBefore: utc(2026, 11, 29) - 1) == utc(2026, 11, 28))
        #expect(ResetPeriod.daily.boundary(after: utc(2026, 11, 29)) == utc(2026, 11, 30))
        #expect(ResetPeriod.daily.boundary(after: utc(2026, 12, 31, 23, 59, 59)) == utc(2027, 1, 1))
        #expect(ResetPeriod.daily.boundary(atOrBefore: -1) == -86_400)
    }

    @Test func weeksStartOnMonday() {
        // 2026-11-29 is a Sunday; 2026-11-23 and 2026-11-30 are Mondays.
        #expect(ResetPeriod.weekly.boundary(atOrBefore: utc(2026, 11, 29, 23, 59, 59)) == utc(2026, 11, 23))
        #expect(ResetPeriod.weekly.boundary(atOrBefore: utc(2026, 11, 30)) == utc(2026, 11, 30))
        #expect(ResetPeriod.weekly.boundary(after: utc(2026, 11, 29, 12)) == utc(2026, 11, 30))
        #expect(ResetPeriod.weekly.boundary(after: utc(2026, 11, 30)) == utc(2026, 12, 7))
        // 1970-01-01 was a Thursday: the week before began Monday 1969-12-29.
        #expect(ResetPeriod.weekly.boundary(atOrBefore: 0) == utc(1969, 12, 29))
    }

    @Test func monthsStartOnTheFirst() {
        #expect(ResetPeriod.monthly.boundary(atOrBefore: utc(2026, 11, 29, 3)) == utc(2026, 11, 1))
        #expect(ResetPeriod.monthly.boundary(after: utc(2026, 11, 29, 3)) == utc(2026, 12, 1))
        #expect(ResetPeriod.monthly.boundary(after: utc(2026, 12, 1)) == utc(2027, 1, 1))
        #expect(ResetPeriod.monthly.boundary(after: utc(2028, 2, 1)) == utc(2028, 3, 1))
        #expect(ResetPeriod.monthly.boundary(atOrBefore: utc(2028, 2, 29, 23)) == utc(2028, 2, 1))
        #expect(ResetPeriod.never.boundary(atOrBefore: 0) == nil)
        #expect(ResetPeriod.never.boundary(after: 0) == nil)
    }

    @Test func boundariesMatchFoundationOverCenturies() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -5_000_000_000...10_000_000_000, using: &random)
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let midnight = Int64(calendar.startOfDay(for: date).timeIntervalSince1970)
            #expect(ResetPeriod.daily.boundary(atOrBefore: seconds) == midnight)
            let daysSinceMonday = Int64((parts.weekday! + 5) % 7)  // weekday 1 = Sunday
            #expect(ResetPeriod.weekly.boundary(atOrBefore: seconds) == midnight - daysSinceMonday * 86_400)
            #expect(ResetPeriod.monthly.boundary(atOrBefore: seconds) == utc(parts.year!, parts.month!, 1))
            let civil = CivilDate(days: ResetPeriod.floorDays(seconds))
            #expect(civil == CivilDate(year: Int64(parts.year!), month: Int64(parts.month!), day: Int64(parts.day!)))
            #expect(civil.days == ResetPeriod.floorDays(seconds))
        }
    }
}
