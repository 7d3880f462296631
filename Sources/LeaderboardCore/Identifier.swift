/// Validation of board and player ids: 1–64 characters of `[A-Za-z0-9_.:-]`.
public enum Identifier {
    public static let maxLength = 64

    @inlinable
    public static func isValid(_ id: String) -> Bool {
        var count = 0
        for byte in id.utf8 {
            count += 1
            if count > maxLength { return false }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return count > 0
    }

    /// Throws `invalid_request` naming `field` when `id` is not a valid id.
    public static func check(_ id: String, field: String) throws(LeaderboardError) {
        guard isValid(id) else {
            throw .invalidRequest("\(field) must be 1-\(maxLength) characters of [A-Za-z0-9_.:-]")
        }
    }
}
