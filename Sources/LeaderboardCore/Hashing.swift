import CXXHash

/// XXH3-64 of the UTF-8 bytes of a string, as used for routing players to shards.
public enum XXH3 {
    @inlinable
    public static func hash(_ text: String) -> UInt64 {
        var copy = text
        return copy.withUTF8 { bytes in XXH3_64bits(bytes.baseAddress, bytes.count) }
    }

    /// XXH3-64 of a string's UTF-8 bytes after the first `skipping` (a member's player id after
    /// its tie prefix), without copying them.
    @inlinable
    public static func hash(_ text: String, skipping: Int) -> UInt64 {
        var copy = text
        return copy.withUTF8 { bytes in
            let skip = min(max(skipping, 0), bytes.count)
            return XXH3_64bits(bytes.baseAddress.map { $0 + skip }, bytes.count - skip)
        }
    }

    /// The 64-bit hash of a (board, player) pair, e.g. as an advisory-lock key.
    public static func hash(board: String, player: String) -> Int64 {
        Int64(bitPattern: hash(board + "\u{1F}" + player))
    }
}
