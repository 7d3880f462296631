import LeaderboardCore
import Testing

@Suite struct ShardChunksTests {
    /// The hex forms (what Redis's sha1hex prints, and the rate limiter's key digests) and the
    /// piece-by-piece feeding of the chunk digests.
    @Test func digestsMatchTheStandardVectors() {
        #expect(Digests.sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(Digests.sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Digests.sha1Hex(String(repeating: "a", count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        var pieces = SHA1Stream()
        pieces.update("abcdbcdecdefdefgefghfghighijhij")
        pieces.update("kijkljklmklmnlmnomnopnopq")
        #expect(pieces.hex() == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(Digests.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digests.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// What the Redis script computes, over a sorted array standing in for the shard.
    func scan(_ shard: [RankedMember], _ probe: ShardChunks.Probe) -> ShardChunks.Scan {
        func before(_ key: RankedMember) -> Int {
            shard.firstIndex { !SortOrder.asc.precedes(($0.score, $0.playerID), (key.score, key.playerID)) } ?? shard.count
        }
        var positions = probe.bounds.map(before)
        if probe.closesAfterLast, let last = probe.bounds.last, shard.contains(last) { positions[positions.count - 1] += 1 }
        let digests = (0..<(positions.count - 1)).map { ShardChunks.digest(shard[positions[$0]..<max(positions[$0], positions[$0 + 1])]) }
        return ShardChunks.Scan(size: shard.count, positions: positions, digests: digests)
    }

    func sorted(_ members: [RankedMember]) -> [RankedMember] {
        members.sorted { SortOrder.asc.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
    }

    @Test func onlyChunksTouchedByDriftDiffer() {
        let expected = sorted((0..<1000).map { RankedMember(playerID: "p\($0)", score: Int64(($0 * 37) % 300)) })
        let chunks = ShardChunks(expected: expected, chunkSize: 64)
        #expect(chunks.chunkCount == 16)
        for perProbe in [1, 3, 16, 40] {
            let probes = chunks.probes(chunksPerProbe: perProbe)
            #expect(probes.flatMap { Array($0.chunks) } == Array(0..<16))
            #expect(chunks.regionsToFetch(probes, probes.map { scan(expected, $0) }).isEmpty)

            // A score changed: the chunk it left and the one it joined differ, nothing else.
            var shard = expected
            let victim = shard[100]
            shard[100].score = 250
            shard = sorted(shard)
            let regions = chunks.regionsToFetch(probes, probes.map { scan(shard, $0) })
            let left = 100 / 64
            let joined = expected.firstIndex { SortOrder.asc.precedes((250, victim.playerID), ($0.score, $0.playerID)) }! / 64
            let differing = regions.compactMap { if case .chunk(let chunk, _) = $0 { chunk } else { nil } }
            #expect(Set(differing) == [left, joined])

            // A stray below everything and one above: outside regions at both ends.
            let strays = sorted(expected + [RankedMember(playerID: "low", score: -5), RankedMember(playerID: "zz", score: 299)])
            let outside = chunks.regionsToFetch(probes, probes.map { scan(strays, $0) })
            #expect(outside.first == .outside(positions: 0..<1))
            #expect(outside.last == .outside(positions: 1001..<1002))
            #expect(outside.count == 2)
        }
    }

    @Test func ties() {
        // Every score equal: chunks are cut by id alone, and a removal touches one chunk.
        let expected = sorted((0..<300).map { RankedMember(playerID: "t\($0)", score: 7) })
        let chunks = ShardChunks(expected: expected, chunkSize: 50)
        let probes = chunks.probes(chunksPerProbe: 2)
        var shard = expected
        shard.remove(at: 175)
        let regions = chunks.regionsToFetch(probes, probes.map { scan(shard, $0) })
        #expect(regions == [.chunk(3, positions: 150..<199)])
    }

    @Test func nothingExpectedMeansEverythingIsOutside() {
        let chunks = ShardChunks(expected: [], chunkSize: 10)
        #expect(chunks.probes(chunksPerProbe: 4).isEmpty)
        #expect(chunks.regionsToFetch([], []) == [.outside(positions: 0..<Int.max)])
    }
}
