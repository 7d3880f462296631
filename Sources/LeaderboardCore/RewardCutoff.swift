/// The "top X %" arithmetic of the contract, exact in integers: a player's `top_percent` and
/// the rank a percentage tier ends at.
public enum RewardCutoff {
    /// 100 × rank / total rounded up to 2 decimals, as hundredths of a percent (29 = 0.29 %).
    public static func topPercentHundredths(rank: Int, total: Int) -> Int {
        guard total > 0, rank > 0 else { return 0 }
        let scaled = 10_000 * rank
        return (scaled + total - 1) / total
    }

    /// A percentage 0 < P ≤ 100 as a decimal: `digits` / 10^`scale`, exactly as written.
    public struct Percent: Sendable, Equatable {
        public let digits: UInt64
        public let scale: Int

        /// Parses "1", "0.5", "33.333"…; at most 15 digits after the point.
        public static func parse(_ raw: String) throws(LeaderboardError) -> Percent {
            let failure = LeaderboardError.invalidRequest("top_percent must be a decimal number greater than 0 and at most 100")
            let parts = raw.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard let whole = parts.first, !whole.isEmpty, whole.utf8.count <= 3, whole.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                throw failure
            }
            let fraction = parts.count == 2 ? parts[1] : ""
            guard parts.count == 1 || !fraction.isEmpty, fraction.utf8.count <= 15, fraction.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                throw failure
            }
            guard let digits = UInt64(whole + fraction) else { throw failure }
            let percent = Percent(digits: digits, scale: fraction.utf8.count)
            guard digits > 0, digits <= 100 * pow10(percent.scale) else { throw failure }
            return percent
        }

        /// The rank of the tier's last player: max(1, ⌊total × P / 100⌋).
        public func rank(of total: Int) -> Int {
            // total × digits may pass 2^64; the divisor (≤ 100 × 10^15) fits, and so does the quotient.
            let product = UInt64(max(total, 0)).multipliedFullWidth(by: digits)
            let divisor = 100 * Percent.pow10(scale)
            guard product.high < divisor else { return Int.max }
            return max(1, Int(divisor.dividingFullWidth(product).quotient))
        }

        static func pow10(_ exponent: Int) -> UInt64 {
            var value: UInt64 = 1
            for _ in 0..<exponent { value *= 10 }
            return value
        }
    }

    /// What a cutoff read asks for: a fixed rank, or the last rank of the top P %.
    public enum Tier: Sendable, Equatable {
        case rank(Int)
        case percent(Percent)

        /// The rank asked, given the number of ranked players.
        public func rank(of total: Int) -> Int {
            switch self {
            case .rank(let rank): rank
            case .percent(let percent): percent.rank(of: total)
            }
        }

        /// `rank=K` or `top_percent=P`, exactly one of them.
        public static func parse(rank: String?, topPercent: String?) throws(LeaderboardError) -> Tier {
            switch (rank, topPercent) {
            case (let raw?, nil):
                guard raw.utf8.count <= 12, raw.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(raw), (1...Int(Int32.max)).contains(value) else {
                    throw .invalidRequest("rank must be an integer from 1 to \(Int32.max)")
                }
                return .rank(value)
            case (nil, let raw?): return .percent(try Percent.parse(raw))
            default: throw .invalidRequest("give exactly one of rank and top_percent")
            }
        }
    }
}
