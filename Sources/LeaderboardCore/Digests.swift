import Crypto

/// The digests the service uses, from swift-crypto: SHA-256 where a digest stands for a secret
/// (API keys), SHA-1 only where Redis's `redis.sha1hex` must be matched (chunk checksums of the
/// sync worker) or where earlier stored values must stay equal (request fingerprints).
public enum Digests {
    public static func sha256(_ text: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(text.utf8)))
    }

    public static func sha256Hex(_ text: String) -> String {
        hex(sha256(text))
    }

    public static func sha1Hex(_ text: String) -> String {
        var hash = SHA1Stream()
        hash.update(text)
        return hash.hex()
    }

    static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-1 fed piece by piece (swift-crypto's `Insecure.SHA1`): a checksum, not a security measure.
public struct SHA1Stream {
    private var hash = Insecure.SHA1()

    public init() {}

    public mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { hash.update(bufferPointer: UnsafeRawBufferPointer($0)) }
    }

    public func hex() -> String {
        Digests.hex(hash.finalize())
    }
}
