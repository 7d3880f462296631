/// The text of the scripts in `Lua/`, embedded in the binary at build time (no bundle to find at
/// run time), with their `-- include: NAME` lines replaced by `Lua/NAME.lua`.
enum LuaSource {
    static func text(of name: String) -> String {
        let text = String(decoding: bytes(of: name), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("-- include: ") else { return String(line) }
            return Self.text(of: String(line.dropFirst("-- include: ".count)))
        }.joined(separator: "\n")
    }

    private static func bytes(of name: String) -> [UInt8] {
        switch name {
        case "lessByBytes": PackageResources.lessByBytes_lua
        case "readWindow": PackageResources.readWindow_lua
        case "apply": PackageResources.apply_lua
        case "switchRebuilt": PackageResources.switchRebuilt_lua
        case "writeMeta": PackageResources.writeMeta_lua
        case "removeShard": PackageResources.removeShard_lua
        case "perShard": PackageResources.perShard_lua
        case "aheadOf": PackageResources.aheadOf_lua
        case "tiedBefore": PackageResources.tiedBefore_lua
        case "countAhead": PackageResources.countAhead_lua
        case "aroundPivot": PackageResources.aroundPivot_lua
        case "probe": PackageResources.probe_lua
        case "countBounds": PackageResources.countBounds_lua
        case "compareAndSet": PackageResources.compareAndSet_lua
        case "chunkDigests": PackageResources.chunkDigests_lua
        case "retire": PackageResources.retire_lua
        case "tieMap": PackageResources.tieMap_lua
        case "ownEntry": PackageResources.ownEntry_lua
        case "membersOf": PackageResources.membersOf_lua
        case "stageTies": PackageResources.stageTies_lua
        default: preconditionFailure("no Lua script named \(name)")
        }
    }
}
