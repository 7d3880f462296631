import LeaderboardCore
import Testing

/// ``TopTrim`` against the definition: after any change of some players' scores, applying its
/// view changes to the best `limit` before gives exactly the best `limit` after.
@Suite struct TopTrimTests {
    /// The best `limit` of `scores` in the board's order, and the member at rank `limit` (nil when
    /// there are at most `limit` players).
    static func best(_ scores: [String: Int64], order: SortOrder, limit: Int) -> (view: [String: Int64], cut: RankedMember?) {
        let sorted = scores.map { RankedMember(playerID: $0.key, score: $0.value) }.sorted {
            order.precedes(($0.score, $0.playerID), ($1.score, $1.playerID))
        }
        let view = Dictionary(uniqueKeysWithValues: sorted.prefix(limit).map { ($0.playerID, $0.score) })
        return (view, sorted.count > limit ? sorted[limit - 1] : nil)
    }

    /// What the commit's queries return: the players strictly behind / between the cuts, after the changes.
    static func region(_ region: TopTrim.Region, _ scores: [String: Int64], order: SortOrder) -> [RankedMember] {
        let members = scores.map { RankedMember(playerID: $0.key, score: $0.value) }
        func behind(_ a: RankedMember, _ cut: RankedMember) -> Bool { order.precedes((cut.score, cut.playerID), (a.score, a.playerID)) }
        switch region {
        case .nothing: return []
        case .behind(let cut): return members.filter { behind($0, cut) }
        case .between(let ahead, let last): return members.filter { behind($0, ahead) && !behind($0, last) }
        }
    }

    @Test(arguments: [SortOrder.desc, .asc])
    func randomChangesKeepTheViewExactlyTheBest(order: SortOrder) {
        var random = SplitMix(seed: order == .desc ? 7 : 11)
        for _ in 0..<400 {
            let limit = Int(random.next() % 8) + 1
            var scores: [String: Int64] = [:]
            for player in 0..<Int(random.next() % 20) { scores["p\(player)"] = Int64(random.next() % 12) }
            let trim = TopTrim(order: order, limit: limit)
            var (view, cut) = Self.best(scores, order: order, limit: limit)
            for _ in 0..<20 {
                // A few players change: new, removed, better, worse, ties.
                var changes: [TopTrim.Change] = []
                var touched = Set<String>()
                for _ in 0..<Int(random.next() % 4) + 1 {
                    let player = "p\(random.next() % 24)"
                    guard touched.insert(player).inserted else { continue }
                    let after: Int64? = random.next() % 5 == 0 ? nil : Int64(random.next() % 12)
                    if scores[player] == nil && after == nil { continue }
                    changes.append(TopTrim.Change(playerID: player, before: scores[player], after: after))
                    scores[player] = after
                }
                let countAfter = scores.count
                let expected = Self.best(scores, order: order, limit: limit)
                let cutAfter: RankedMember?
                switch trim.cutAfter(changes: changes, cutBefore: cut, countAfter: countAfter) {
                case .none: cutAfter = nil
                case .same: cutAfter = cut
                case .lookUp: cutAfter = expected.cut
                }
                #expect(cutAfter == expected.cut)
                let crossing = Self.region(trim.crossing(cutBefore: cut, cutAfter: cutAfter), scores, order: order)
                for change in trim.viewChanges(changes: changes, crossing: crossing, cutBefore: cut, cutAfter: cutAfter) {
                    #expect(view[change.playerID] == change.before, "a change's before must be what the view held")
                    view[change.playerID] = change.after
                }
                #expect(view == expected.view)
                if view != expected.view { return }
                cut = cutAfter
            }
        }
    }

    @Test func theIssuesExample() {
        // max_entries 3: a 100, b 90, c 80, d 70, e 60; a drops to 10, then b is removed.
        let trim = TopTrim(order: .desc, limit: 3)
        let cutBefore = RankedMember(playerID: "c", score: 80)
        let drop = [TopTrim.Change(playerID: "a", before: 100, after: 10)]
        #expect(trim.cutAfter(changes: drop, cutBefore: cutBefore, countAfter: 5) == .lookUp)
        let cutAfter = RankedMember(playerID: "d", score: 70)
        #expect(trim.crossing(cutBefore: cutBefore, cutAfter: cutAfter) == .between(ahead: cutBefore, behind: cutAfter))
        let changes = trim.viewChanges(changes: drop, crossing: [RankedMember(playerID: "d", score: 70)], cutBefore: cutBefore, cutAfter: cutAfter)
        #expect(Set(changes) == [ViewChange(playerID: "a", before: 100, after: nil), ViewChange(playerID: "d", before: nil, after: 70)])
        // Changes behind the cut change nothing and need no lookup.
        #expect(trim.cutAfter(changes: [.init(playerID: "z", before: nil, after: 1)], cutBefore: cutAfter, countAfter: 6) == .same)
    }
}

