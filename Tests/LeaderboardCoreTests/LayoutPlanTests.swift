import Foundation
import LeaderboardCore
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The planner's pure logic: band bounds from a histogram of distinct scores, ties kept whole,
/// and the picture as well-formed SVG.
@Suite struct LayoutPlanTests {
    /// A histogram from a list of scores.
    static func histogram(_ scores: [Int64]) -> [(score: Int64, count: Int)] {
        Dictionary(grouping: scores, by: { $0 }).map { ($0.key, $0.value.count) }.sorted { $0.score < $1.score }
    }

    @Test func distinctScoresSplitIntoEqualBands() {
        let plan = LayoutPlan.band(histogram: Self.histogram((0..<1000).map { Int64($0) }), bands: 4)
        #expect(plan.layout == .band(bounds: [250, 500, 750]))
        #expect(plan.members == [250, 250, 250, 250])
        #expect(plan.imbalance == 1)
    }

    @Test func aHeavyTieKeepsItsBandAndTheRestShareEvenly() {
        // 400 players on 0, then 600 distinct scores: 0 gets a band of its own, the other three
        // bands take 200 each.
        let scores = [Int64](repeating: 0, count: 400) + (1...600).map { Int64($0) }
        let plan = LayoutPlan.band(histogram: Self.histogram(scores), bands: 4)
        #expect(plan.members == [400, 200, 200, 200], "\(plan.layout)")
        #expect(plan.members.reduce(0, +) == 1000)
    }

    @Test func aTieAtTheTopLeavesEveryBandAScore() {
        // 1, 2, 3 once each and 100 players on 4: four bands are possible (one score each).
        let plan = LayoutPlan.band(histogram: [(1, 1), (2, 1), (3, 1), (4, 100)], bands: 4)
        #expect(plan.layout == .band(bounds: [2, 3, 4]))
        #expect(plan.members == [1, 1, 1, 100])
    }

    @Test func fewerDistinctScoresThanBandsMakeFewerBands() {
        let plan = LayoutPlan.band(histogram: Self.histogram([5, 5, 7, 7, 7, 9]), bands: 8)
        #expect(plan.layout == .band(bounds: [7, 9]))
        #expect(plan.members == [2, 3, 1])
        let one = LayoutPlan.band(histogram: Self.histogram([3, 3, 3]), bands: 4)
        #expect(one.layout == .single)
        #expect(one.members == [3])
        #expect(LayoutPlan.band(histogram: [], bands: 4).members == [0])
    }

    /// Log-normal scores with heavy ties (rounded to tens): every band within ±5 % of an equal
    /// share, wherever a tie does not force a bigger one.
    @Test func skewedScoresWithTiesGiveBalancedBands() throws {
        var random = SystemRandomNumberGenerator()
        let scores = (0..<50_000).map { _ -> Int64 in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &random)
            let u2 = Double.random(in: 0..<1, using: &random)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return Int64((exp(7 + 0.9 * normal) / 10).rounded()) * 10
        }
        let histogram = Self.histogram(scores)
        for bands in [2, 4, 8, 16] {
            let plan = LayoutPlan.band(histogram: histogram, bands: bands)
            guard case .band(let bounds) = plan.layout else { throw TestFailureText("no bands: \(plan.layout)") }
            #expect(bounds.count == bands - 1)
            #expect(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 })
            #expect(plan.members.reduce(0, +) == scores.count)
            let share = Double(scores.count) / Double(bands)
            let largestTie = histogram.map(\.count).max() ?? 0
            for size in plan.members {
                // A band may miss its share by at most the tie at its edge; here ties are small next to ±5 %.
                #expect(abs(Double(size) - share) <= max(share * 0.05, Double(largestTie)), "\(bands) bands: \(plan.members)")
            }
            #expect(plan.imbalance <= 1.05 + Double(largestTie) / share, "\(bands) bands: imbalance \(plan.imbalance)")
        }
    }

    @Test func thePictureIsWellFormedSVGWithTheBoundsAndBothLayouts() throws {
        let histogram = Self.histogram((0..<2000).map { Int64(($0 * 37) % 900) })
        let plan = LayoutPlan.band(histogram: histogram, bands: 4)
        let picture = LayoutPlanPicture(board: "cup<&>", histogram: histogram, today: (.hash(shards: 2), [1010, 990]), proposal: plan)
        let svg = picture.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = TextCollector()
        parser.delegate = collector
        #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
        #expect(collector.root == "svg")
        guard case .band(let bounds) = plan.layout else { throw TestFailureText("no bands") }
        for bound in bounds { #expect(collector.texts.contains(String(bound)), "bound \(bound) is not labelled") }
        #expect(collector.texts.contains { $0.hasPrefix("Today: hash, 2 shards") })
        #expect(collector.texts.contains { $0.hasPrefix("Proposed: band, 4 bands") })
        #expect(collector.texts.contains("score") && collector.texts.contains("players") && collector.texts.contains("shard"))
        #expect(collector.texts.contains { $0.contains("cup<&>") }, "the board's name is escaped, not dropped")
        #expect(collector.dashedLines == bounds.count + 2, "one line per bound plus the two means")
    }
}

struct TestFailureText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Collects the root element, the text of every `<text>` and the dashed lines of a document.
final class TextCollector: NSObject, XMLParserDelegate {
    var root: String?
    var texts: [String] = []
    var dashedLines = 0
    private var current: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "text" { current = "" }
        if name == "line", attributes["stroke-dasharray"] != nil { dashedLines += 1 }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text", let text = current { texts.append(text) }
        if name == "text" { current = nil }
    }
}
