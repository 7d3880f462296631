/// Redis Cluster's rule for which of its 16,384 slots a key lives in: CRC16 (XMODEM) of the key,
/// or of its hash tag — the bytes between the first `{` and the first `}` after it, when at least
/// one byte is between them — modulo 16,384. Keys that share a tag share a slot.
public enum ClusterSlot {
    public static let count = 16384

    /// The slot of `key`.
    public static func of(_ key: String) -> Int {
        var copy = key
        return copy.withUTF8 { bytes in
            let tagged = tag(bytes)
            return Int(crc16(UnsafeBufferPointer(rebasing: bytes[tagged])) % UInt16(count))
        }
    }

    /// The part of `bytes` that is hashed: the hash tag when there is one, else all.
    static func tag(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "{")) else { return 0..<bytes.count }
        guard let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 else { return 0..<bytes.count }
        return (open + 1)..<close
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection.
    static func crc16(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc >> 8 | crc << 8) ^ UInt16(byte)
            crc ^= (crc & 0xFF) >> 4
            crc ^= crc << 12
            crc ^= (crc & 0xFF) << 5
        }
        return crc
    }

    /// CRC16 of a string's UTF-8 bytes (for tests against published vectors).
    public static func crc16(_ text: String) -> UInt16 {
        var copy = text
        return copy.withUTF8 { crc16($0) }
    }
}
