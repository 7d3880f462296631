/// The sorted-set member of a player on a board that breaks ties by commit time: an 11-character
/// prefix encoding the tie key, then the player id.
///
/// The prefix is `tie + 2^63` (so the order over signed keys is the order over unsigned values)
/// in base 64, most significant digit first, with digits drawn from an alphabet whose ASCII order
/// is its digit order. Byte order of members is then (tie key, player id) order, which is what a
/// Redis sorted set compares among equal scores: the cross-shard tie rule stays a byte comparison.
public enum MemberCodec {
    /// Characters of the prefix.
    public static let prefixLength = 11

    /// The 64 digits, in ASCII order (`-` < `0-9` < `A-Z` < `_` < `a-z`).
    static let digits: [UInt8] = Array("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz".utf8)

    /// The value of each byte as a digit, 255 where it is none.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (value, digit) in digits.enumerated() { table[Int(digit)] = UInt8(value) }
        return table
    }()

    /// The 11-character prefix of tie key `tie`.
    public static func prefix(_ tie: Int64) -> String {
        var value = UInt64(bitPattern: tie) ^ (1 << 63)
        var bytes = [UInt8](repeating: 0, count: prefixLength)
        for index in stride(from: prefixLength - 1, through: 0, by: -1) {
            bytes[index] = digits[Int(value & 63)]
            value >>= 6
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The member of `player` with tie key `tie`.
    public static func member(player: String, tie: Int64) -> String { prefix(tie) + player }

    /// The tie key and player id of a member; nil when it does not start with a valid prefix
    /// followed by at least one character.
    public static func split(_ member: String) -> (tie: Int64, player: String)? {
        let utf8 = member.utf8
        guard utf8.count > prefixLength else { return nil }
        var value: UInt64 = 0
        var index = utf8.startIndex
        for position in 0..<prefixLength {
            let digit = values[Int(utf8[index])]
            // The first digit holds the top 4 bits only (11 × 6 = 66 bits for 64).
            guard digit != 255, position > 0 || digit < 16 else { return nil }
            value = value << 6 | UInt64(digit)
            index = utf8.index(after: index)
        }
        return (Int64(bitPattern: value ^ (1 << 63)), String(member[index...]))
    }
}
