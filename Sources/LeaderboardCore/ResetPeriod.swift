/// When a board starts a new period on its own: never, or at every UTC day, week (from Monday)
/// or month boundary.
public enum ResetPeriod: String, Sendable, Codable, CaseIterable {
    case never
    case daily
    case weekly
    case monthly

    private static let day: Int64 = 86_400

    /// The latest boundary at or before `seconds` (Unix time, UTC), nil for `never`.
    public func boundary(atOrBefore seconds: Int64) -> Int64? {
        let days = Self.floorDivide(seconds, Self.day)
        switch self {
        case .never:
            return nil
        case .daily:
            return days * Self.day
        case .weekly:
            // 1970-01-01 was a Thursday: day d is a Monday when (d + 3) mod 7 == 0.
            return (days - Self.floorModulo(days + 3, 7)) * Self.day
        case .monthly:
            let date = CivilDate(days: days)
            return CivilDate(year: date.year, month: date.month, day: 1).days * Self.day
        }
    }

    /// The first boundary strictly after `seconds`, nil for `never`.
    public func boundary(after seconds: Int64) -> Int64? {
        guard let last = boundary(atOrBefore: seconds) else { return nil }
        switch self {
        case .never:
            return nil
        case .daily:
            return last + Self.day
        case .weekly:
            return last + 7 * Self.day
        case .monthly:
            let date = CivilDate(days: last / Self.day)
            let next = date.month == 12 ? CivilDate(year: date.year + 1, month: 1, day: 1) : CivilDate(year: date.year, month: date.month + 1, day: 1)
            return next.days * Self.day
        }
    }

    /// Whole days since 1970-01-01 at `seconds` (rounded down).
    public static func floorDays(_ seconds: Int64) -> Int64 { floorDivide(seconds, day) }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func floorModulo(_ a: Int64, _ b: Int64) -> Int64 {
        a - floorDivide(a, b) * b
    }
}

/// A proleptic Gregorian date, converted to and from days since 1970-01-01.
public struct CivilDate: Sendable, Equatable {
    public var year: Int64
    public var month: Int64
    public var day: Int64

    public init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01 (negative before).
    public init(days: Int64) {
        // Counted in 400-year eras of 146,097 days starting on 0000-03-01, so that the leap day
        // is the last day of each counted year.
        let shifted = days + 719_468
        let era = ResetPeriod.floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153  // 0 = March
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01.
    public var days: Int64 {
        let countedYear = month <= 2 ? year - 1 : year
        let era = ResetPeriod.floorDivide(countedYear, 400)
        let yearOfEra = countedYear - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
