import LeaderboardCore
import NIOConcurrencyHelpers

/// The server-side Lua scripts, one `.lua` file each in `Lua/` (embedded in the binary at build
/// time). A line `-- include: NAME` takes in the shared function of `Lua/NAME.lua` (the byte-wise
/// tie rule, the per-shard loop, the count ahead, the tie map). Each file says what its KEYS and ARGV are.
/// Commands name a script by its SHA-1 (`EVALSHA`); the transport loads the text on a node that
/// does not know it yet (``LuaScript/text(sha1:)``).
enum Scripts {
    static let lessByBytes = LuaScript("lessByBytes")
    static let readWindow = LuaScript("readWindow")
    static let apply = LuaScript("apply")
    static let switchRebuilt = LuaScript("switchRebuilt")
    static let writeMeta = LuaScript("writeMeta")
    static let removeShard = LuaScript("removeShard")
    static let perShard = LuaScript("perShard")
    static let aheadOf = LuaScript("aheadOf")
    static let countAhead = LuaScript("countAhead")
    static let aroundPivot = LuaScript("aroundPivot")
    static let probe = LuaScript("probe")
    static let countBounds = LuaScript("countBounds")
    static let compareAndSet = LuaScript("compareAndSet")
    static let chunkDigests = LuaScript("chunkDigests")
    static let retire = LuaScript("retire")
    static let ownEntry = LuaScript("ownEntry")
    static let membersOf = LuaScript("membersOf")
    static let stageTies = LuaScript("stageTies")
}

/// One script: its text (includes resolved) and the SHA-1 Redis knows it by. Computed once, so a
/// call costs neither hashing nor sending the text.
struct LuaScript: Sendable {
    let text: String
    let sha1: String

    init(_ name: String) {
        text = LuaSource.text(of: name)
        sha1 = Digests.sha1Hex(text)
        let (sha1, text) = (sha1, text)
        Self.known.withLockedValue { $0[sha1] = text }
    }

    /// Every script made so far, by SHA-1 (a command's script is made before the command is sent).
    private static let known = NIOLockedValueBox<[String: String]>([:])

    /// The text of the script with this SHA-1, for a node that answered NOSCRIPT.
    static func text(sha1: String) -> String? { known.withLockedValue { $0[sha1] } }
}
