import RedisClient
import Testing

/// The pure parts of the Redis Cluster client: CRC16 and slots (against published vectors and
/// Redis's own answers), hash tags, the slot map, and the redirections an error reply names.
@Suite struct ClusterSlotTests {
    @Test func crc16MatchesTheXmodemCheckValue() {
        // The CRC-16/XMODEM check value, and the one Redis's cluster specification gives.
        #expect(ClusterSlot.crc16("123456789") == 0x31C3)
        #expect(ClusterSlot.crc16("") == 0)
    }

    @Test func slotsAreThoseRedisComputes() {
        // `CLUSTER KEYSLOT` of Redis 7.0 for these keys.
        #expect(ClusterSlot.of("123456789") == 12739)
        #expect(ClusterSlot.of("foo") == 12182)
        #expect(ClusterSlot.of("bar") == 5061)
        #expect(ClusterSlot.of("hello") == 866)
        #expect(ClusterSlot.of("") == 0)
    }

    @Test func aHashTagIsTheFirstBracedNonEmptyPart() {
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("{user1000}.followers"))
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("user1000"))
        // An empty tag: the whole key is hashed.
        #expect(ClusterSlot.of("foo{}{bar}") != ClusterSlot.of("bar"))
        #expect(ClusterSlot.of("foo{}{bar}") == Int(ClusterSlot.crc16("foo{}{bar}")) % 16384)
        // The tag ends at the first closing brace after the first opening one.
        #expect(ClusterSlot.of("foo{{bar}}zap") == ClusterSlot.of("{bar"))
        #expect(ClusterSlot.of("foo{bar}{zap}") == ClusterSlot.of("bar"))
        // No closing brace: the whole key.
        #expect(ClusterSlot.of("foo{bar") == Int(ClusterSlot.crc16("foo{bar")) % 16384)
        // Multi-byte UTF-8 inside the tag is hashed as bytes.
        #expect(ClusterSlot.of("x{é}y") == ClusterSlot.of("é"))
    }

    @Test func redirectionsAreReadFromErrorReplies() {
        let here = ClusterAddress(host: "127.0.0.1", port: 7002)
        #expect(ClusterRedirection(error: "MOVED 3999 127.0.0.1:7002") == .moved(slot: 3999, address: here))
        #expect(ClusterRedirection(error: "ASK 3999 127.0.0.1:7002") == .ask(slot: 3999, address: here))
        #expect(ClusterRedirection(error: "MOVED 1 [::1]:7000") == .moved(slot: 1, address: ClusterAddress(host: "::1", port: 7000)))
        // A node that does not know its endpoint names only the port: the host is the sender's.
        #expect(ClusterRedirection(error: "MOVED 3999 :7002", sender: "127.0.0.1") == .moved(slot: 3999, address: here))
        #expect(ClusterRedirection(error: "ASK 3999 :7002", sender: "127.0.0.1") == .ask(slot: 3999, address: here))
        #expect(ClusterRedirection(error: "MOVED 3999 :7002") == nil)
        #expect(ClusterRedirection(error: "MOVED 3999 ?:7002", sender: "127.0.0.1") == .moved(slot: 3999, address: here))
        #expect(ClusterRedirection(error: "TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(ClusterRedirection(error: "CLUSTERDOWN The cluster is down") == .clusterDown)
        // Anything else is an ordinary error, never a redirection.
        for message in [
            "ERR unknown command", "MOVED", "MOVED x 127.0.0.1:7000", "MOVED 16384 127.0.0.1:7000", "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0",
            "ASK 1 :7000", "NOSCRIPT No matching script", "",
        ] {
            #expect(ClusterRedirection(error: message) == nil, "\(message)")
        }
    }

    @Test func theSlotMapFollowsClusterSlotsAndMoves() throws {
        let reply = RedisReply.array([
            .array([.integer(0), .integer(5460), .array([.bulk(Array("127.0.0.1".utf8)), .integer(7000), .bulk(Array("id0".utf8))]),
                    .array([.bulk(Array("127.0.0.1".utf8)), .integer(7004)])]),
            .array([.integer(5461), .integer(10922), .array([.bulk([]), .integer(7001)])]),
            .array([.integer(10923), .integer(16383), .array([.bulk(Array("127.0.0.1".utf8)), .integer(7002)])]),
        ])
        let map = try ClusterSlotMap(clusterSlots: reply, fallbackHost: "127.0.0.1")
        #expect(map.coversEverySlot)
        #expect(map.masters.count == 3)
        #expect(map.master(of: 0) == ClusterAddress(host: "127.0.0.1", port: 7000))
        #expect(map.master(of: 5461) == ClusterAddress(host: "127.0.0.1", port: 7001))
        #expect(map.master(of: 16383) == ClusterAddress(host: "127.0.0.1", port: 7002))
        #expect(map.master(of: 16384) == nil)
        #expect(map.ranges[0].replicas == [ClusterAddress(host: "127.0.0.1", port: 7004)])
        // A MOVED reply moves one slot until the next refresh; its neighbours stay.
        let moved = map.moving(slot: 5000, to: ClusterAddress(host: "127.0.0.1", port: 7002))
        #expect(moved.master(of: 5000) == ClusterAddress(host: "127.0.0.1", port: 7002))
        #expect(moved.master(of: 4999) == ClusterAddress(host: "127.0.0.1", port: 7000))
        #expect(moved.master(of: 5001) == ClusterAddress(host: "127.0.0.1", port: 7000))
        #expect(moved.coversEverySlot)
        // Unknown endpoints (null, or "?") are reached at the host asked.
        let unknown = try ClusterSlotMap(
            clusterSlots: .array([
                .array([.integer(0), .integer(8191), .array([.null, .integer(7000)])]),
                .array([.integer(8192), .integer(16383), .array([.bulk(Array("?".utf8)), .integer(7001)])]),
            ]),
            fallbackHost: "127.0.0.9"
        )
        #expect(unknown.master(of: 1) == ClusterAddress(host: "127.0.0.9", port: 7000))
        #expect(unknown.master(of: 9000) == ClusterAddress(host: "127.0.0.9", port: 7001))
        // A map with a hole is not whole; a malformed reply is refused, not indexed past its end.
        let partial = try ClusterSlotMap(clusterSlots: .array([reply.array![0]]), fallbackHost: "h")
        #expect(!partial.coversEverySlot)
        #expect(partial.master(of: 6000) == nil)
        for bad: RedisReply in [
            .status("OK"), .array([.array([.integer(5), .integer(1), .array([.bulk([]), .integer(1)])])]),
            .array([.array([.integer(0), .integer(1)])]), .array([.array([.integer(0), .integer(16384), .array([.bulk([]), .integer(1)])])]),
            .array([.array([.integer(0), .integer(1), .array([.bulk([])])])]),
        ] {
            #expect(throws: RedisError.self) { try ClusterSlotMap(clusterSlots: bad, fallbackHost: "h") }
        }
    }
}
