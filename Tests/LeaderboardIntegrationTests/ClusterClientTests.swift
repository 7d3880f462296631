import Foundation
import RedisClient
import Testing

/// The Redis Cluster client against the real cluster of Topology/cluster.yaml (3 masters with a
/// replica each on ports 7000-7005, started by scripts/test.sh): commands reach the master of their
/// key's slot, and the client follows MOVED after a slot moved to another master and ASK while a
/// slot migrates, as `redis-cli --cluster reshard` moves them. Each test moves a slot of its own
/// and gives it back.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClusterClientTests {
    static let seeds = (7000...7005).map { ClusterAddress(host: "127.0.0.1", port: $0) }

    static func client() -> RedisClusterClient {
        RedisClusterClient(configuration: .init(seeds: seeds, timeoutMilliseconds: 5000))
    }

    /// A fresh key name (of this run).
    static func key(_ name: String) -> String { "cluster-test:\(name):\(UUID().uuidString)" }

    /// Moves `slot` (and its keys) to `target` as redis-cli does: IMPORTING on the target,
    /// MIGRATING on the source, MIGRATE of its keys, then SETSLOT NODE on every master.
    /// `batch` keys go per MIGRATE, with `pause` between (redis-cli moves 10 at a time), so writes
    /// and reads meet the slot half moved.
    static func move(
        slot: Int, to target: ClusterAddress, _ client: RedisClusterClient, keysFirst: Bool = true, batch: Int = 1000, pause: Duration = .zero
    ) async throws {
        let map = try await client.refreshSlots()
        let source = try #require(map.master(of: slot))
        guard source != target else { return }
        let sourceID = try #require(try await client.pool(source).command("CLUSTER", "MYID").string)
        let targetID = try #require(try await client.pool(target).command("CLUSTER", "MYID").string)
        #expect(try await client.pool(target).command("CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID) == .status("OK"))
        #expect(try await client.pool(source).command("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID) == .status("OK"))
        if keysFirst { try await migrateKeys(slot: slot, from: source, to: target, client, batch: batch, pause: pause) }
        for master in map.masters {
            #expect(try await client.pool(master).command("CLUSTER", "SETSLOT", String(slot), "NODE", targetID) == .status("OK"))
        }
    }

    static func migrateKeys(
        slot: Int, from source: ClusterAddress, to target: ClusterAddress, _ client: RedisClusterClient, only: [String]? = nil, batch: Int = 1000,
        pause: Duration = .zero
    ) async throws {
        for _ in 0..<10_000 {
            var keys = only ?? []
            if only == nil {
                keys = (try await client.pool(source).command("CLUSTER", "GETKEYSINSLOT", String(slot), String(batch)).array ?? []).compactMap(\.string)
            }
            guard !keys.isEmpty else { return }
            let reply = try await client.pool(source).pipeline([
                ["MIGRATE", target.host, String(target.port), "", "0", "5000", "KEYS"] + keys
            ])[0]
            #expect(reply == .status("OK") || reply == .status("NOKEY"), "\(reply)")
            if only != nil { return }
            if pause > .zero { try await Task.sleep(for: pause) }
        }
    }

    @Test func eachCommandReachesTheMasterOfItsSlot() async throws {
        let client = Self.client()
        let keys = (0..<60).map { Self.key("route-\($0)") }
        let set = try await client.pipeline(keys.map { ["SET", $0, "v-\($0)"] }, keys: keys)
        #expect(set.allSatisfy { $0 == .status("OK") }, "\(set.prefix(3))")
        let map = try #require(client.slotMap)
        #expect(map.coversEverySlot)
        #expect(map.masters.count == 3)
        var mastersUsed = Set<ClusterAddress>()
        for key in keys {
            let master = try #require(map.master(of: ClusterSlot.of(key)))
            mastersUsed.insert(master)
            // The master itself holds the key (no redirection when asked directly) ...
            #expect(try await client.pool(master).command("GET", key) == .bulk(Array("v-\(key)".utf8)))
            // ... and computes the same slot.
            #expect(try await client.pool(master).command("CLUSTER", "KEYSLOT", key).integer == Int64(ClusterSlot.of(key)))
        }
        #expect(mastersUsed.count == 3, "60 random keys all on \(mastersUsed)")
        let got = try await client.pipeline(keys.map { ["GET", $0] }, keys: keys)
        #expect(got == keys.map { .bulk(Array("v-\($0)".utf8)) })
        #expect(client.activity.moved == 0)
        _ = try await client.pipeline(keys.map { ["DEL", $0] }, keys: keys)
        await client.shutdown()
    }

    @Test func aClientFollowsMovedAfterItsSlotWentToAnotherMaster() async throws {
        let mover = Self.client()
        let stale = Self.client()
        let key = Self.key("moved")
        let slot = ClusterSlot.of(key)
        _ = try await stale.pipeline([["SET", key, "before"]], keys: [key])
        let map = try await mover.refreshSlots()
        let home = try #require(map.master(of: slot))
        let other = try #require(map.masters.first { $0 != home })
        try await Self.move(slot: slot, to: other, mover)
        // The stale client still sends to the old master, which answers MOVED: followed.
        #expect(stale.slotMap?.master(of: slot) == home)
        let replies = try await stale.pipeline([["GET", key], ["SET", key, "after"], ["GET", key]], keys: [key, key, key])
        #expect(replies == [.bulk(Array("before".utf8)), .status("OK"), .bulk(Array("after".utf8))])
        #expect(stale.activity.moved >= 1)
        #expect(stale.slotMap?.master(of: slot) == other, "the map learned the new master")
        #expect(try await mover.refreshSlots().master(of: slot) == other)
        // Back where it was, keys and all; the stale client follows again.
        try await Self.move(slot: slot, to: home, mover)
        #expect(try await stale.pipeline([["GET", key]], keys: [key]) == [.bulk(Array("after".utf8))])
        _ = try await stale.pipeline([["DEL", key]], keys: [key])
        await mover.shutdown()
        await stale.shutdown()
    }

    @Test func aClientFollowsAskWhileItsSlotMigrates() async throws {
        let client = Self.client()
        let base = Self.key("ask")
        // Three keys of one slot (one hash tag): one migrated, one not yet, one created meanwhile.
        let migrated = "{\(base)}:a", waiting = "{\(base)}:b", created = "{\(base)}:c"
        let slot = ClusterSlot.of(migrated)
        _ = try await client.pipeline([["SET", migrated, "1"], ["SET", waiting, "2"]], keys: [migrated, waiting])
        let map = try await client.refreshSlots()
        let home = try #require(map.master(of: slot))
        let target = try #require(map.masters.first { $0 != home })
        let homeID = try #require(try await client.pool(home).command("CLUSTER", "MYID").string)
        let targetID = try #require(try await client.pool(target).command("CLUSTER", "MYID").string)
        _ = try await client.pool(target).command("CLUSTER", "SETSLOT", String(slot), "IMPORTING", homeID)
        _ = try await client.pool(home).command("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID)
        try await Self.migrateKeys(slot: slot, from: home, to: target, client, only: [migrated])
        // Mid-migration: the moved key is asked for at the target (ASK), the other served at home,
        // a new key created at the target.
        let replies = try await client.pipeline(
            [["GET", migrated], ["GET", waiting], ["SET", created, "3"]], keys: [migrated, waiting, created]
        )
        #expect(replies == [.bulk(Array("1".utf8)), .bulk(Array("2".utf8)), .status("OK")])
        #expect(client.activity.asked >= 2)
        #expect(try await client.pool(target).pipeline([["ASKING"], ["GET", created]])[1] == .bulk(Array("3".utf8)))
        // A multi-key command over keys split by the migration: TRYAGAIN, retried, then left as the error.
        let split = try await client.pipeline([["MGET", migrated, waiting]], keys: [migrated])
        if case .error(let message) = split[0] { #expect(message.hasPrefix("TRYAGAIN") || message.hasPrefix("ASK"), "\(message)") }
        #expect(client.activity.retried + client.activity.asked >= 3)
        // Finish the move, then give the slot back.
        try await Self.migrateKeys(slot: slot, from: home, to: target, client)
        for master in map.masters { _ = try await client.pool(master).command("CLUSTER", "SETSLOT", String(slot), "NODE", targetID) }
        #expect(try await client.pipeline([["MGET", migrated, waiting, created]], keys: [migrated]) == [
            .array([.bulk(Array("1".utf8)), .bulk(Array("2".utf8)), .bulk(Array("3".utf8))])
        ])
        try await Self.move(slot: slot, to: home, client)
        _ = try await client.pipeline([["DEL", migrated, waiting, created]], keys: [migrated])
        await client.shutdown()
    }
}
