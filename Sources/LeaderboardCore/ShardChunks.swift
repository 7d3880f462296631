/// What one shard should hold, cut into chunks for the sync worker's reconcile: the shard's
/// expected members in ascending order (score, then player id by bytes, the order of ZRANGE),
/// `chunkSize` consecutive members per chunk.
///
/// A chunk is a key interval, from its first member (inclusive) to the next chunk's first member
/// (exclusive; the last chunk ends after its last member). Redis finds where those keys fall in
/// the shard and digests the members between them; only chunks whose count or digest differ, and
/// members outside every chunk, are then fetched and compared member by member.
public struct ShardChunks: Sendable {
    /// The expected members, ascending.
    public let expected: [RankedMember]
    public let chunkSize: Int

    public init(expected: [RankedMember], chunkSize: Int) {
        precondition(chunkSize > 0)
        self.expected = expected
        self.chunkSize = chunkSize
    }

    public var chunkCount: Int { (expected.count + chunkSize - 1) / chunkSize }

    public func members(chunk: Int) -> ArraySlice<RankedMember> {
        expected[chunk * chunkSize..<min(expected.count, (chunk + 1) * chunkSize)]
    }

    /// SHA-1 hex of "id\nscore\nid\nscore…" (ids hold no newline; scores in decimal, as Redis
    /// writes integral scores): what the Redis script digests for the same members.
    public static func digest<Members: Collection<RankedMember>>(_ members: Members) -> String {
        var hash = SHA1Stream()
        var first = true
        for member in members {
            hash.update(first ? "\(member.playerID)\n\(member.score)" : "\n\(member.playerID)\n\(member.score)")
            first = false
        }
        return hash.hex()
    }

    /// One script call over consecutive chunks.
    public struct Probe: Sendable, Equatable {
        public var chunks: Range<Int>
        /// The first member of each chunk, then the first member of the chunk after, or the last
        /// expected member when `closesAfterLast` (its position is taken just past it).
        public var bounds: [RankedMember]
        public var closesAfterLast: Bool
    }

    /// The calls that check every chunk, `chunksPerProbe` chunks each.
    public func probes(chunksPerProbe: Int) -> [Probe] {
        precondition(chunksPerProbe > 0)
        return stride(from: 0, to: chunkCount, by: chunksPerProbe).map { first in
            let last = min(first + chunksPerProbe, chunkCount)
            var bounds = (first..<last).map { expected[$0 * chunkSize] }
            let closes = last == chunkCount
            bounds.append(closes ? expected[expected.count - 1] : expected[last * chunkSize])
            return Probe(chunks: first..<last, bounds: bounds, closesAfterLast: closes)
        }
    }

    /// What Redis found for one probe: the shard's size, the position of each bound and the
    /// digest of the members between consecutive bounds.
    public struct Scan: Sendable, Equatable {
        public var size: Int
        public var positions: [Int]
        public var digests: [String]

        public init(size: Int, positions: [Int], digests: [String]) {
            self.size = size
            self.positions = positions
            self.digests = digests
        }
    }

    /// Positions of the shard (ascending) to fetch and compare member by member.
    public enum Region: Sendable, Equatable {
        /// A chunk whose members differ; `positions` is where its key interval lies in the shard.
        case chunk(Int, positions: Range<Int>)
        /// Members before the first chunk or after the last (every member when nothing is
        /// expected): none should be there unless the shard keeps more than the board's best.
        case outside(positions: Range<Int>)
    }

    /// The regions that differ from what is expected, given one scan per probe.
    public func regionsToFetch(_ probes: [Probe], _ scans: [Scan]) -> [Region] {
        precondition(probes.count == scans.count)
        guard let firstScan = scans.first, let lastScan = scans.last else { return [.outside(positions: 0..<Int.max)] }
        var regions: [Region] = []
        if firstScan.positions[0] > 0 { regions.append(.outside(positions: 0..<firstScan.positions[0])) }
        for (probe, scan) in zip(probes, scans) {
            for (offset, chunk) in probe.chunks.enumerated() {
                let start = scan.positions[offset]
                let end = max(start, scan.positions[offset + 1])
                let members = self.members(chunk: chunk)
                if end - start != members.count || scan.digests[offset] != Self.digest(members) {
                    regions.append(.chunk(chunk, positions: start..<end))
                }
            }
        }
        if let end = lastScan.positions.last, lastScan.size > end { regions.append(.outside(positions: end..<lastScan.size)) }
        return regions
    }
}
