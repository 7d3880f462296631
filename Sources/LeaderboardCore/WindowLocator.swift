/// What ``WindowLocator`` asks of a sharded board: each call is one parallel round over the shards.
public protocol ShardReader: Sendable {
    /// Number of shards.
    var shardCount: Int { get }
    /// Members per shard.
    func cardinalities() async throws -> [Int]
    /// For each shard, the member at 0-based position `positions[i]` in the board's order (nil: none asked).
    func members(at positions: [Int?]) async throws -> [RankedMember?]
    /// For each shard i and pivot j, how many members of shard i rank strictly ahead of pivot j.
    func countsAhead(of pivots: [RankedMember]) async throws -> [[Int]]
    /// For each shard, its members at the positions of `ranges[i]` (positions past its end are
    /// simply absent), in the board's order, and its size where its range was not empty.
    func members(in ranges: [Range<Int>]) async throws -> (sizes: [Int?], lists: [[RankedMember]])
    /// For each shard: its size, and `count` of its members `spacing` positions apart, centred on
    /// the shard's share of `start` (start × size ÷ the board's size, as far as the reader knows
    /// it: any estimate is correct, a good one saves rounds); clipped to the shard, distinct, ascending.
    func probe(start: Int, spacing: Int, count: Int) async throws -> [ShardProbe]
    /// For each shard i and score j: how many of shard i's members have a better score than
    /// scores[j] in the board's order, and how many have exactly scores[j].
    func scoreCounts(of scores: [Int64]) async throws -> [[ScoreCount]]
    /// For each shard, its part of the scores `from` … `to` (``ShardSpan``), at most `limit` members.
    func members(scoredFrom from: Int64, to: Int64, limit: Int) async throws -> [ShardSpan]
}

/// A shard's size and some of its members with their positions (0-based, in the board's order).
public struct ShardProbe: Sendable, Equatable {
    public var size: Int
    public var members: [(position: Int, member: RankedMember)]

    public init(size: Int, members: [(position: Int, member: RankedMember)]) {
        self.size = size
        self.members = members
    }

    public static func == (a: ShardProbe, b: ShardProbe) -> Bool {
        a.size == b.size && a.members.map(\.position) == b.members.map(\.position) && a.members.map(\.member) == b.members.map(\.member)
    }
}

/// Members of a shard with a better score than some score, and with exactly that score.
public struct ScoreCount: Sendable, Equatable {
    public var better: Int
    public var equal: Int

    public init(better: Int, equal: Int) {
        self.better = better
        self.equal = equal
    }
}

/// Finds the members at global positions start ..< start + count of a board split over shards,
/// without reading every member ahead of them.
///
/// It keeps, for each shard i, bounds lo[i] ≤ o[i] ≤ hi[i] on o[i], the number of shard i's
/// members among the first `start` of the board. A member with fewer than `start` members ahead
/// is itself among the first `start`, so every member ahead of it is too; otherwise no member
/// behind it is. So the global rank of any member tightens the bounds of every shard.
/// - Round 1 (probe): every shard's size and a few of its members around its share of `start`.
/// - The probes already bound each probed member's global rank: its own position, plus on every
///   other shard the position after that shard's last probe ahead of it (at least) or of its first
///   probe behind it (at most). Members this places before or after `start` need nothing more.
/// - Round 2: for the scores of the others, every shard's count of better and of equal scores.
///   The probed member's own position is exact, the counts elsewhere bound its global rank within
///   the ties, enough to place it before or after `start` unless ties straddle `start`.
/// - While the bounds are still wide (skewed shards, many ties), further rounds pick one pivot
///   per shard inside its bounds (interpolation, or bisection when that stalls) and count exactly
///   how many members of every shard rank ahead of it.
/// - Last, it fetches per shard lo[i] ..< about its share of the rest (never past hi[i] + count,
///   beyond which shard i has nothing in the window), merges, and skips start − Σ lo (the first
///   start − Σ lo merged members are exactly those among the first `start`).
/// On shards that split the board evenly (hash layouts) that is three rounds.
///
/// Given a span of scores an earlier read found about the window (``ScoreSpan``), it first reads
/// every shard's members in that span and how many members each has ahead of it: when no shard
/// had more than it took, the merged members are exactly the board's positions Σ ahead ..< Σ ahead
/// + Σ taken, so if those hold the window, that one round is the answer. Otherwise (the board
/// moved too far since) it searches as above. Every read returns the span to try next time.
public struct WindowLocator: Sendable {
    public let order: SortOrder
    /// Fetch directly, without searching, when start + count is at most this.
    public var directFetchLimit = 1024
    /// Stop searching once Σ (hi − lo) is at most this per shard (plus twice the window).
    public var slackPerShard = 64
    /// Members probed per shard in the first round.
    public var probesPerShard = 4
    /// Positions kept on either side of a window in the span a read returns (``ScoreSpan``), so
    /// the span still covers the window after that many players moved across either end.
    public var spanMargin = 8
    /// Members per shard a span read takes at most, beyond the window and its margins (more
    /// means many equal scores in the span: the read searches instead).
    public var spanSlack = 64

    public init(order: SortOrder) {
        self.order = order
    }

    /// What ``window(start:count:reader:near:)`` found.
    public struct Located: Sendable {
        /// The members at the window's positions, fewer at the end of the board.
        public var members: [RankedMember]
        /// The board's size.
        public var total: Int
        /// Parallel rounds used.
        public var rounds: Int
        /// The span of scores to try for a window about here next time (none for windows near the
        /// top, or about many equal scores).
        public var span: ScoreSpan?
        /// Whether the span given answered (nil: none was tried, as for windows near the top).
        public var answeredBySpan: Bool?
    }

    /// The members at positions start ..< start + count (0-based) and the board's size, trying
    /// the span `guess` first when there is one and the window is deep.
    public func window(start: Int, count: Int, reader: some ShardReader, near guess: ScoreSpan? = nil) async throws -> Located {
        precondition(start >= 0 && count > 0)
        let shards = reader.shardCount
        if shards == 1 {
            let answer = try await reader.members(in: [start..<start + count])
            return Located(members: answer.lists[0], total: answer.sizes[0] ?? 0, rounds: 1)
        }
        if start + count <= directFetchLimit {
            // No sizes needed first: the first fetch reports them.
            let caps = [Int](repeating: Int.max, count: shards)
            let (merged, total, fetches) = try await mergedPrefix(
                from: [Int](repeating: 0, count: shards), caps: caps, sizes: nil, need: start + count, reader: reader
            )
            return Located(members: Array(merged.prefix(start + count).dropFirst(start)), total: total, rounds: fetches)
        }
        var spent = 0
        // Not to be found again where many equal scores fill a span beyond what a span read takes.
        var crowded = false
        if let guess {
            switch try await spanWindow(start: start, count: count, guess: guess, reader: reader) {
            case .answer(let members, let total, let span):
                return Located(members: members, total: total, rounds: 1, span: span, answeredBySpan: true)
            case .missed(let full):
                spent = 1
                crowded = full
            }
        }
        // The member at a shard's share of `start` is off by about σ = √(start / shards) of the
        // shard's positions (a hash layout deals members out at random); the probes around it
        // (see ``probesPerShard``) bracket `start` within the slack nearly always.
        // Four probes per shard, at ±σ/4 and ±3σ/4, bracket `start` within the slack nine times
        // in ten on the 1M-member 8-shard benchmark board (two probes: mostly not, costing two
        // more rounds; eight σ/8 apart fetch half the members in the model but cost more on Redis).
        let spacing = max(1, Int((Double(start) / Double(shards)).squareRoot() / 2))
        let probes = try await reader.probe(start: start, spacing: spacing, count: probesPerShard)
        guard probes.count == shards, probes.allSatisfy({ probe in probe.size >= 0 && probe.members.allSatisfy { $0.position >= 0 && $0.position < probe.size } }) else {
            throw LocatorError.inconsistent
        }
        let sizes = probes.map(\.size)
        let total = sizes.reduce(0, +)
        guard start < total else { return Located(members: [], total: total, rounds: spent + 1, answeredBySpan: guess.map { _ in false }) }

        var low = [Int](repeating: 0, count: shards)
        var high = sizes.map { min($0, start) }
        var rounds = spent + 1
        let all = probes.enumerated().flatMap { shard, probe in probe.members.map { (shard: shard, position: $0.position, member: $0.member) } }
        // The probes alone already place some probed members: on another shard, each probe ahead
        // of a member is, with every member before it, ahead of that member too, and each probe
        // behind it caps that shard's count. Only the members this leaves undecided are counted.
        var probed: [(shard: Int, position: Int, member: RankedMember)] = []
        // The members placed nearest before and after the start: counted too when (nearly) none
        // is left undecided, as their exact counts bound every shard far better than the probes
        // do (on 2 shards the probes alone often place every member, but loosely: 5.6 rounds on
        // the model board instead of 3.9).
        var nearestBefore: (index: Int, most: Int)?
        var nearestAfter: (index: Int, least: Int)?
        for (index, item) in all.enumerated() {
            var least = item.position
            var most = item.position
            var lows = [Int](repeating: 0, count: shards)
            var highs = sizes
            for shard in 0..<shards where shard != item.shard {
                for other in probes[shard].members {
                    if order.precedes((other.member.score, other.member.playerID), (item.member.score, item.member.playerID)) {
                        lows[shard] = max(lows[shard], other.position + 1)
                    } else {
                        highs[shard] = min(highs[shard], other.position)
                    }
                }
                guard lows[shard] <= highs[shard] else { throw LocatorError.inconsistent }
                least += lows[shard]
                most += highs[shard]
            }
            if most < start {
                for shard in 0..<shards where shard != item.shard { low[shard] = max(low[shard], lows[shard]) }
                low[item.shard] = max(low[item.shard], item.position + 1)
                if most > nearestBefore?.most ?? -1 { nearestBefore = (index, most) }
            } else if least >= start {
                for shard in 0..<shards where shard != item.shard { high[shard] = min(high[shard], highs[shard]) }
                high[item.shard] = min(high[item.shard], item.position)
                if least < nearestAfter?.least ?? Int.max { nearestAfter = (index, least) }
            } else {
                probed.append(item)
            }
        }
        if probed.count < 2 {
            for index in [nearestBefore?.index, nearestAfter?.index].compactMap({ $0 }) { probed.append(all[index]) }
        }
        if !probed.isEmpty {
            var scores: [Int64] = []
            var column: [Int64: Int] = [:]
            for item in probed where column[item.member.score] == nil {
                column[item.member.score] = scores.count
                scores.append(item.member.score)
            }
            let counts = try await reader.scoreCounts(of: scores)
            guard counts.count == shards, counts.allSatisfy({ $0.count == scores.count }) else { throw LocatorError.inconsistent }
            rounds += 1
            for item in probed {
                let j = column[item.member.score]!
                // Members ahead of it: exactly `position` on its own shard; elsewhere all better
                // scores and perhaps some of the equal ones.
                var least = item.position
                var most = item.position
                for shard in 0..<shards where shard != item.shard {
                    least += counts[shard][j].better
                    most += counts[shard][j].better + counts[shard][j].equal
                }
                if most < start {
                    for shard in 0..<shards where shard != item.shard { low[shard] = max(low[shard], counts[shard][j].better) }
                    low[item.shard] = max(low[item.shard], item.position + 1)
                } else if least >= start {
                    for shard in 0..<shards where shard != item.shard {
                        high[shard] = min(high[shard], counts[shard][j].better + counts[shard][j].equal)
                    }
                    high[item.shard] = min(high[item.shard], item.position)
                }
            }
        }
        try Self.checkBounds(low: low, high: high, sizes: sizes, start: start)
        var bisect = false
        let threshold = slackPerShard * shards + 2 * count
        while zip(high, low).reduce(0, { $0 + $1.0 - $1.1 }) > threshold {
            let before = zip(high, low).reduce(0, { $0 + $1.0 - $1.1 })
            let lowSum = low.reduce(0, +)
            let highSum = high.reduce(0, +)
            let fraction = highSum > lowSum ? Double(start - lowSum) / Double(highSum - lowSum) : 0.5
            let positions: [Int?] = (0..<shards).map { shard in
                let width = high[shard] - low[shard]
                guard width > 0 else { return nil }
                let offset = bisect ? width / 2 : Int(fraction * Double(width))
                return low[shard] + min(max(offset, 0), width - 1)
            }
            let pivots = try await reader.members(at: positions)
            let chosen = pivots.enumerated().compactMap { shard, member in member.map { (shard, $0) } }
            guard !chosen.isEmpty else { break }
            let counts = try await reader.countsAhead(of: chosen.map(\.1))
            guard counts.count == shards, counts.allSatisfy({ $0.count == chosen.count }) else { throw LocatorError.inconsistent }
            rounds += 2
            for (index, (home, _)) in chosen.enumerated() {
                let ahead = (0..<shards).reduce(0) { $0 + counts[$1][index] }
                if ahead < start {
                    for shard in 0..<shards { low[shard] = max(low[shard], counts[shard][index]) }
                    low[home] = max(low[home], counts[home][index] + 1)
                } else {
                    for shard in 0..<shards { high[shard] = min(high[shard], counts[shard][index]) }
                }
            }
            try Self.checkBounds(low: low, high: high, sizes: sizes, start: start)
            let after = zip(high, low).reduce(0, { $0 + $1.0 - $1.1 })
            bisect = after * 2 > before
        }
        let skip = start - low.reduce(0, +)
        guard skip >= 0 else { throw LocatorError.inconsistent }
        let (merged, _, fetches) = try await mergedPrefix(from: low, caps: high.map { $0 + count }, sizes: sizes, need: skip + count, reader: reader)
        let window = Array(merged.prefix(skip + count).dropFirst(skip))
        return Located(
            members: window, total: total, rounds: rounds + fetches,
            span: crowded ? nil : span(of: merged, at: low.reduce(0, +), start: start, count: count), answeredBySpan: guess.map { _ in false }
        )
    }

    enum SpanRead {
        case answer([RankedMember], total: Int, span: ScoreSpan?)
        /// `full`: some shard had more members in the span than a span read takes.
        case missed(full: Bool)
    }

    /// One round: every shard's members scored within `guess`, and the answer when they cover the window.
    func spanWindow(start: Int, count: Int, guess: ScoreSpan, reader: some ShardReader) async throws -> SpanRead {
        guard !order.isBetter(guess.to, than: guess.from) else { return .missed(full: false) }
        let limit = count + 2 * spanMargin + spanSlack
        let parts = try await reader.members(scoredFrom: guess.from, to: guess.to, limit: limit)
        guard parts.count == reader.shardCount else { throw LocatorError.inconsistent }
        var before = 0
        var total = 0
        var taken = 0
        var complete = true
        for part in parts {
            // (Sizes beyond any sorted set's, which could overflow the sums, are no reply of Redis.)
            guard part.size >= 0, part.size <= 1 << 40, part.before >= 0, part.before <= part.size - part.members.count,
                part.members.allSatisfy({ !order.isBetter($0.score, than: guess.from) && !order.isBetter(guess.to, than: $0.score) })
            else { throw LocatorError.inconsistent }
            before += part.before
            total += part.size
            taken += part.members.count
            if part.members.count >= limit { complete = false }
        }
        guard start < total else { return .answer([], total: total, span: nil) }
        // With every shard's whole part, the merge is the board's positions before ..< before + taken.
        let end = min(start + count, total)
        guard complete else { return .missed(full: true) }
        guard before <= start, before + taken >= end else { return .missed(full: false) }
        let merged = order.merge(parts.map { $0.members })
        return .answer(Array(merged[(start - before)..<(end - before)]), total: total, span: span(of: merged, at: before, start: start, count: count))
    }

    /// The span of scores from ``spanMargin`` positions before `start` to as many after the window,
    /// as far as `merged` (whose first member is at position `first`, the rest about in sequence) reaches.
    func span(of merged: [RankedMember], at first: Int, start: Int, count: Int) -> ScoreSpan? {
        guard !merged.isEmpty else { return nil }
        let low = min(max(start - spanMargin - first, 0), merged.count - 1)
        let high = min(max(start + count - 1 + spanMargin - first, 0), merged.count - 1)
        // One score throughout: ties too many to read by score.
        guard low < high, merged[low].score != merged[high].score else { return nil }
        return ScoreSpan(from: merged[low].score, to: merged[high].score, first: first + low, last: first + high)
    }

    /// The merge of every shard's members from position `lows[i]` on as far as they were fetched,
    /// whose first `need` members are certain (those that follow may miss some not fetched), and
    /// the board's size.
    ///
    /// It fetches about a fair share from each shard (1.5 × need / shards), merges, and checks the
    /// prefix: a shard with members left beyond what was fetched (and below its cap, past which it
    /// has none among the first `need`) could still place one of them before the need-th member
    /// unless its last fetched member sits at or after that position;
    /// such shards get more (doubling) until the prefix is certain. Without `sizes`, the first
    /// fetch (which asks every shard) reports them. Returns the number of fetch rounds (usually one).
    func mergedPrefix(from lows: [Int], caps: [Int], sizes known: [Int]?, need: Int, reader: some ShardReader) async throws -> ([RankedMember], Int, Int) {
        let shards = lows.count
        guard need >= 0, caps.count == shards, known.map({ $0.count == shards }) ?? true, lows.allSatisfy({ $0 >= 0 }) else { throw LocatorError.inconsistent }
        for shard in 0..<shards where lows[shard] > min(caps[shard], known?[shard] ?? Int.max) { throw LocatorError.inconsistent }
        let share = need * 3 / (2 * shards) + 4
        var ends = (0..<shards).map { min(lows[$0] + min(need, share), caps[$0]) }
        if let known { ends = (0..<shards).map { min(known[$0], ends[$0]) } }
        let first = try await reader.members(in: (0..<shards).map { lows[$0]..<ends[$0] })
        guard first.sizes.count == shards, first.lists.count == shards,
            let sizes = known ?? (first.sizes.allSatisfy { $0 != nil } ? first.sizes.map { $0! } : nil)
        else {
            throw LocatorError.missingSizes
        }
        // Every shard must hold what it was asked from (sizes and positions of one state).
        for shard in 0..<shards where sizes[shard] < lows[shard] || first.sizes[shard].map({ $0 != sizes[shard] }) ?? false {
            throw LocatorError.inconsistent
        }
        var lists = first.lists
        ends = (0..<shards).map { min(sizes[$0], ends[$0]) }
        var rounds = 1
        while true {
            let (merged, origins) = order.mergeWithOrigins(lists)
            var lastPosition = [Int](repeating: -1, count: shards)
            for (position, origin) in origins.enumerated() { lastPosition[origin] = position }
            let short = (0..<shards).filter { ends[$0] < min(sizes[$0], caps[$0]) && lastPosition[$0] < need - 1 }
            if short.isEmpty { return (merged, sizes.reduce(0, +), rounds) }
            var ranges = lows.map { $0..<$0 }
            for shard in short {
                let more = max(ends[shard] - lows[shard], share)
                ranges[shard] = ends[shard]..<min(sizes[shard], caps[shard], ends[shard] + more)
            }
            let extra = try await reader.members(in: ranges).lists
            guard extra.count == shards else { throw LocatorError.inconsistent }
            rounds += 1
            for shard in short {
                lists[shard] += extra[shard]
                ends[shard] = ranges[shard].upperBound
            }
        }
    }
}

extension WindowLocator {
    /// Bounds that no consistent reader gives: a member count below zero or above its shard.
    static func checkBounds(low: [Int], high: [Int], sizes: [Int], start: Int) throws {
        for shard in low.indices where low[shard] < 0 || low[shard] > high[shard] || high[shard] > sizes[shard] {
            throw LocatorError.inconsistent
        }
        // Σ lo ≤ start ≤ Σ hi: the first `start` members are somewhere between the bounds.
        guard low.reduce(0, +) <= start, high.reduce(0, +) >= start else { throw LocatorError.inconsistent }
    }
}

/// A reader that broke its contract.
public enum LocatorError: Error, Sendable {
    /// A fetch over every shard did not report every shard's size.
    case missingSizes
    /// The reader's numbers do not fit together (they came from different states of the board).
    case inconsistent
}
