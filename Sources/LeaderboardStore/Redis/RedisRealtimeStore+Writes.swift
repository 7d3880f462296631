import LeaderboardCore
import RedisClient

/// Applying numbered view changes, and rebuilding shards from a snapshot.
extension RedisRealtimeStore {
    /// Sends every board's steps, in order, to each of its shards (one script call per shard and
    /// step, one round for everything; a node runs its pipeline in order). Each shard applies a
    /// step only when it is the next in its sequence. Returns, per board, the number each shard
    /// holds afterwards (nil where the shard's metadata is missing).
    public func apply(_ batch: RealtimeBatch) async throws -> [String: [Int: Int64?]] {
        var commands: [(node: String, command: [String])] = []
        var owners: [(board: String, shard: Int)?] = []
        // The scores this process writes, as hints for its next rank reads on hash boards.
        var hints: [(board: String, player: String, score: Int64?, tie: Int64)] = []
        for (id, changes) in batch.boards {
            let board = changes.board
            let router = board.router
            let shards = try shards(board)
            let hinted = shards.count > 1 && !router.routesByScore
            let ties = board.hasTiePrefix
            let scope = shards.filter { changes.shards?.contains($0.index) ?? true }
            // Usernames go to every node of the board: a band move takes a player to another node.
            // (On a cluster, to each shard's names the player can be in: its hash shard, or every
            // band.) They go before the steps: a node runs its pipeline in order and a replica
            // replays its master's writes in order, so a replica promoted with a step has its names.
            for (player, username) in changes.usernames {
                for (node, command) in nameWrites(board, shards, player: player, username: username, fillOnly: changes.usernamesFillOnly) {
                    commands.append((node, command))
                    owners.append(nil)
                }
            }
            for step in changes.steps {
                var adds = [[String]](repeating: [], count: shards.count)
                var removals = [[String]](repeating: [], count: shards.count)
                for change in step.changes {
                    if hinted {
                        let (player, tie) = board.split(change.playerID) ?? (change.playerID, 0)
                        // A member that leaves while its player enters as another is no news of the player.
                        if change.after != nil || !ties { hints.append((id, player, change.after, tie)) }
                    }
                    var target: Int?
                    if let after = change.after {
                        let shard = router.shard(member: change.playerID, score: after)
                        adds[shard].append(String(after))
                        adds[shard].append(change.playerID)
                        target = shard
                    }
                    if let before = change.before {
                        let origin = router.shard(member: change.playerID, score: before)
                        if origin != target { removals[origin].append(change.playerID) }
                    }
                }
                for shard in scope {
                    let removed = removals[shard.index]
                    let added = adds[shard.index]
                    var keys = [shard.key, shard.meta]
                    if ties {
                        keys.append(RedisKeys.tieStaging(shard.meta))
                        keys += removed.map { tieBucket(shard, member: $0, board) }
                        keys += stride(from: 1, to: added.count, by: 2).map { tieBucket(shard, member: added[$0], board) }
                        if step.reset { keys += RedisKeys.tieBuckets(shard.meta, buckets: board.tieBuckets) }
                    }
                    commands.append(
                        (
                            shard.node,
                            ["EVALSHA", Scripts.apply.sha1, String(keys.count)] + keys + [
                                String(board.incarnation), String(step.seq), step.reset ? "1" : "0", String(step.period),
                                String(step.lastEventID), String(removed.count),
                            ] + removed + added
                        )
                    )
                    owners.append((id, shard.index))
                }
            }
        }
        let replies = try await round(commands)
        try RedisReplies.check(replies)
        noteScores(hints)
        var result: [String: [Int: Int64?]] = [:]
        for (owner, reply) in zip(owners, replies) {
            guard let owner else { continue }
            guard let items = reply.array, items.count == 2, let status = items[0].integer, let seq = items[1].integer else {
                throw RedisError(.protocolViolation, "unexpected reply of the apply script")
            }
            result[owner.board, default: [:]][owner.shard] = status == -1 ? .some(nil) : .some(seq)
        }
        return result
    }

    public func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, seq: Int64, only: Set<Int>?, force: Bool,
        progress: (@Sendable (_ written: Int, _ total: Int) -> Void)?, pace: BuildPace
    ) async throws -> Bool {
        let allShards = try shards(board)
        let rebuildChunk = max(pace.members, 1)
        let shards = allShards.filter { only?.contains($0.index) ?? true }
        let router = board.router
        // Band boards: a player's username must be on every node it can move to.
        let nameNodes = router.routesByScore ? Array(Set(allShards.map(\.node))).sorted() : nil
        var perShard = [[LeaderboardEntry]](repeating: [], count: board.config.layout.shardCount)
        for (index, entry) in entries.enumerated() {
            let shard = router.shard(member: entry.playerID, score: entry.score)
            if only?.contains(shard) ?? true { perShard[shard].append(entry) }
            if index % 65_536 == 65_535 { await Task.yield() }
        }
        // The staging writes go round by round, and a round carries at most one bounded piece of
        // work per node (a ZADD of at most `pace.members` members, or the usernames of as many):
        // Redis runs one client's pipeline to its end before it serves another client, so a round
        // of many big ZADDs to one node would hold that node, and every other board's writes and
        // reads on it, for tens of milliseconds. One piece per node holds it for well under a
        // millisecond, the nodes work in parallel, the commands are encoded a round at a time, and
        // the rest after each round (`pace.rest`) leaves nodes and cores to the other boards.
        // The switches go last, together.
        var switches: [(node: String, command: [String])] = []
        var stagingKeys: [String] = []
        // This rebuild's token in its shards' sets of staging rebuilds (boards ordered by commit time).
        let token = String(UInt64.random(in: .min ... .max), radix: 16)
        var work: [String: [RebuildPiece]] = [:]
        for (position, shard) in shards.enumerated() {
            let staging = RedisKeys.rebuilding(shard.key, attempt: UInt64.random(in: .min ... .max))
            stagingKeys.append(staging)
            let staged = board.hasTiePrefix ? [RedisKeys.tieStaging(shard.meta)] : []
            switches.append(
                (
                    shard.node,
                    ["EVALSHA", Scripts.switchRebuilt.sha1, String(3 + staged.count), staging, shard.key, shard.meta] + staged + [
                        String(perShard[shard.index].count),
                        String(board.incarnation), String(seq), force ? "1" : "0",
                    ]
                        + metaFields(board, shard, seq: seq, lastEventID: lastEventID) + (staged.isEmpty ? [] : [token])
                )
            )
            let count = perShard[shard.index].count
            for chunk in stride(from: 0, to: count, by: rebuildChunk) {
                let range = chunk..<min(chunk + rebuildChunk, count)
                work[shard.node, default: []].append(RebuildPiece(shard: position, entries: range, namesOn: nil))
                if perShard[shard.index][range].contains(where: { $0.username != nil }) {
                    for node in onCluster ? [shard.node] : nameNodes ?? [shard.node] {
                        work[node, default: []].append(RebuildPiece(shard: position, entries: range, namesOn: node))
                    }
                }
            }
        }
        let total = shards.reduce(0) { $0 + perShard[$1.index].count }
        if board.hasTiePrefix {
            // While this rebuild stages, the shards' tie maps only gain prefixes (see `tieMap.lua`):
            // its token is in each shard's set from now (and again with every staging piece) until
            // its switch, or its failure, takes it out; after a crash it expires.
            try RedisReplies.check(
                try await round(shards.flatMap { [($0.node, ["SADD", RedisKeys.tieStaging($0.meta), token]), ($0.node, ["EXPIRE", RedisKeys.tieStaging($0.meta), "3600"])] })
            )
        }
        do {
            return try await stageAndSwitch(board, shards: shards, allShards: allShards, work: work, perShard: perShard, stagingKeys: stagingKeys, switches: switches, token: token, total: total, progress: progress, pace: pace)
        } catch {
            if board.hasTiePrefix {
                _ = try? await round(shards.map { ($0.node, ["SREM", RedisKeys.tieStaging($0.meta), token]) })
            }
            throw error
        }
    }

    /// The staging rounds of a rebuild (see ``rebuild(_:entries:lastEventID:seq:only:force:progress:pace:)``), then its switches.
    private func stageAndSwitch(
        _ board: StoredBoard, shards: [Shard], allShards: [Shard], work: [String: [RebuildPiece]], perShard: [[LeaderboardEntry]], stagingKeys: [String],
        switches: [(node: String, command: [String])], token: String, total: Int, progress: (@Sendable (_ written: Int, _ total: Int) -> Void)?,
        pace: BuildPace
    ) async throws -> Bool {
        var next = work.mapValues { _ in 0 }
        let nodes = work.keys.sorted()
        var written = 0
        while true {
            var commands: [(node: String, command: [String])] = []
            var members = 0
            for node in nodes {
                guard let pieces = work[node], let index = next[node], index < pieces.count else { continue }
                next[node] = index + 1
                let piece = pieces[index]
                let shard = shards[piece.shard]
                let entries = perShard[shard.index][piece.entries]
                if let target = piece.namesOn {
                    for entry in entries {
                        guard let username = entry.username else { continue }
                        let player = board.playerID(ofMember: entry.playerID)
                        if onCluster {
                            // This piece's shard's names, or every band's: a band move takes the player to another shard.
                            for named in board.router.routesByScore ? allShards : [shard] {
                                commands.append((named.node, ["HSET", named.names ?? "", player, username]))
                            }
                        } else {
                            commands.append((target, ["HSET", RedisKeys.playerInfo(player), "username", username]))
                        }
                    }
                    continue
                }
                var command = ["ZADD", stagingKeys[piece.shard]]
                command.reserveCapacity(2 + 2 * entries.count)
                for entry in entries {
                    command.append(String(entry.score))
                    command.append(entry.playerID)
                }
                commands.append((node, command))
                if board.hasTiePrefix {
                    // The live tie map learns the staged members' prefixes before the switch.
                    commands.append(
                        (
                            node,
                            ["EVALSHA", Scripts.stageTies.sha1, String(1 + entries.count), RedisKeys.tieStaging(shard.meta)]
                                + entries.map { tieBucket(shard, member: $0.playerID, board) } + [token] + entries.map(\.playerID)
                        )
                    )
                }
                // An abandoned staging key (a crash mid-rebuild) expires by itself.
                if piece.entries.lowerBound == 0 { commands.append((node, ["EXPIRE", stagingKeys[piece.shard], "3600"])) }
                members += entries.count
            }
            guard !commands.isEmpty else { break }
            let started = ContinuousClock.now
            try RedisReplies.check(try await round(commands))
            written += members
            progress?(written, total)
            try await Task.sleep(for: (ContinuousClock.now - started) * max(pace.rest, 0))
        }
        let replies = try await round(switches)
        try RedisReplies.check(replies)
        return replies.allSatisfy { $0.integer == 1 }
    }
}

extension RedisRealtimeStore {
    /// The commands that record a player's username where the board's reads look for it: the
    /// player's info hash on every node of the board (standalone nodes), or the names of every
    /// shard the player can be in (a cluster: its hash shard, or every band).
    /// (`fillOnly`: HSETNX, which leaves a name that is there.)
    func nameWrites(_ board: StoredBoard, _ shards: [Shard], player: String, username: String, fillOnly: Bool = false) -> [(node: String, command: [String])] {
        let set = fillOnly ? "HSETNX" : "HSET"
        guard onCluster else {
            return Set(shards.map(\.node)).sorted().map { ($0, [set, RedisKeys.playerInfo(player), "username", username]) }
        }
        let router = board.router
        let targets = router.routesByScore || shards.count == 1 ? shards : [shards[router.shard(player: player, score: 0)]]
        return targets.map { ($0.node, [set, $0.names ?? "", player, username]) }
    }

    /// The tie-map bucket of a member's player on `shard` (boards ordered by commit time).
    func tieBucket(_ shard: Shard, member: String, _ board: StoredBoard) -> String {
        RedisKeys.tieBucket(shard.meta, player: board.playerID(ofMember: member), buckets: board.tieBuckets)
    }
}

/// A bounded piece of a rebuild's staging writes for one node: the members `entries` of one
/// shard's share of the snapshot, or (`namesOn`) their usernames for that node.
struct RebuildPiece {
    let shard: Int
    let entries: Range<Int>
    let namesOn: String?
}
