import LeaderboardCore

/// The server-side Lua scripts, one `.lua` file each in `Lua/` (embedded in the binary at build
/// time). A line `-- include: NAME` takes in the shared function of `Lua/NAME.lua` (the byte-wise
/// tie rule, the per-shard loop, the count ahead). Each file says what its KEYS and ARGV are.
enum Scripts {
    static let lessByBytes = LuaSource.text(of: "lessByBytes")
    static let readWindow = LuaSource.text(of: "readWindow")
    static let apply = LuaSource.text(of: "apply")
    static let switchRebuilt = LuaSource.text(of: "switchRebuilt")
    static let writeMeta = LuaSource.text(of: "writeMeta")
    static let removeShard = LuaSource.text(of: "removeShard")
    static let perShard = LuaSource.text(of: "perShard")
    static let aheadOf = LuaSource.text(of: "aheadOf")
    static let countAhead = LuaSource.text(of: "countAhead")
    static let aroundPivot = LuaSource.text(of: "aroundPivot")
    static let probe = LuaSource.text(of: "probe")
    static let countBounds = LuaSource.text(of: "countBounds")
    static let compareAndSet = LuaSource.text(of: "compareAndSet")
    static let chunkDigests = LuaSource.text(of: "chunkDigests")
    static let retire = LuaSource.text(of: "retire")
    static let ownEntry = LuaSource.text(of: "ownEntry")
    static let membersOf = LuaSource.text(of: "membersOf")
    static let stageTies = LuaSource.text(of: "stageTies")
}
