import Foundation

/// The planner's picture, as SVG text: the board's score distribution as a histogram with the
/// proposed band bounds drawn on it, and players per shard for today's layout beside the
/// proposed one, each with labelled axes. Pure drawing: the numbers come from the caller.
public struct LayoutPlanPicture: Sendable {
    public var board: String
    /// Distinct scores ascending with their player counts (the board's real-time view).
    public var histogram: [(score: Int64, count: Int)]
    public var today: (layout: Layout, members: [Int])
    public var proposal: LayoutPlan

    public init(board: String, histogram: [(score: Int64, count: Int)], today: (layout: Layout, members: [Int]), proposal: LayoutPlan) {
        self.board = board
        self.histogram = histogram
        self.today = today
        self.proposal = proposal
    }

    static let width = 1000.0
    static let height = 640.0
    static let bins = 60

    /// Where a score sits on the x axis, from 0 to 1: linear, or logarithmic for positive scores
    /// spread over more than two orders of magnitude (a skewed board's long tail would otherwise
    /// squeeze most players into the first bins).
    struct Axis {
        let low: Double
        let high: Double
        let logarithmic: Bool

        init(low: Int64, high: Int64) {
            self.low = Double(low)
            self.high = Double(max(high, low + 1))
            logarithmic = low > 0 && Double(high) / Double(low) > 100
        }

        func position(_ score: Double) -> Double {
            let value = min(max(score, low), high)
            if logarithmic { return (log(value) - log(low)) / (log(high) - log(low)) }
            return (value - low) / (high - low)
        }

        func score(at position: Double) -> Double {
            if logarithmic { return exp(log(low) + (log(high) - log(low)) * position) }
            return low + (high - low) * position
        }
    }

    var axis: Axis { Axis(low: histogram.first?.score ?? 0, high: histogram.last?.score ?? 1) }

    /// Players per bin of the x axis.
    func binned() -> [Int] {
        let axis = axis
        var counts = [Int](repeating: 0, count: histogram.isEmpty ? 0 : Self.bins)
        for (score, count) in histogram {
            counts[min(Self.bins - 1, Int(axis.position(Double(score)) * Double(Self.bins)))] += count
        }
        return counts
    }

    public func svg() -> String {
        var out = ##"<?xml version="1.0" encoding="UTF-8"?>"## + "\n"
        out += ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(Self.width))" height="\##(Int(Self.height))" viewBox="0 0 \##(Int(Self.width)) \##(Int(Self.height))" font-family="sans-serif" font-size="12">"##
        out += "\n"
        out += ##"<rect width="100%" height="100%" fill="white"/>"## + "\n"
        let players = histogram.reduce(0) { $0 + $1.count }
        out += text(20, 28, "Layout plan for \(board): \(players) players, \(describe(proposal.layout)) proposed", size: 18, weight: "bold")
        out += distribution(x: 80, y: 60, width: 880, height: 270)
        out += bars(
            title: "Today: \(describe(today.layout)), imbalance \(format(LayoutPlan.imbalance(today.members)))",
            members: today.members, x: 80, y: 420, width: 400, height: 170, color: "#8c8c8c"
        )
        out += bars(
            title: "Proposed: \(describe(proposal.layout)), imbalance \(format(proposal.imbalance))",
            members: proposal.members, x: 560, y: 420, width: 400, height: 170, color: "#2f6fb0"
        )
        out += "</svg>\n"
        return out
    }

    /// The top panel: players per score bin, with the proposed bounds as labelled red lines.
    private func distribution(x: Double, y: Double, width: Double, height: Double) -> String {
        var out = text(x, y - 8, "Score distribution (players per score range)", size: 14, weight: "bold")
        let axis = axis
        let counts = binned()
        let tallest = max(counts.max() ?? 0, 1)
        let barWidth = width / Double(Self.bins)
        for (index, count) in counts.enumerated() where count > 0 {
            let barHeight = height * Double(count) / Double(tallest)
            out += rect(x + Double(index) * barWidth + 0.5, y + height - barHeight, max(barWidth - 1, 1), barHeight, "#7fa7d4")
        }
        out += axes(x: x, y: y, width: width, height: height)
        for tick in 0...4 {
            let value = axis.score(at: Double(tick) / 4)
            let tx = x + width * Double(tick) / 4
            out += line(tx, y + height, tx, y + height + 5, "#333")
            out += text(tx, y + height + 18, String(Int64(value.rounded())), anchor: "middle")
            let count = Int((Double(tallest) * Double(tick) / 4).rounded())
            let ty = y + height - height * Double(tick) / 4
            out += line(x - 5, ty, x, ty, "#333")
            out += text(x - 8, ty + 4, String(count), anchor: "end")
        }
        out += text(x + width / 2, y + height + 36, axis.logarithmic ? "score (logarithmic scale)" : "score", anchor: "middle", weight: "bold")
        out += rotated(x - 58, y + height / 2, "players per bin")
        if case .band(let bounds) = proposal.layout {
            out += text(x + width, y - 8, "dashed red: proposed band bounds", size: 11, anchor: "end", color: "#d0342c")
            for (index, bound) in bounds.enumerated() {
                let bx = x + width * axis.position(Double(bound))
                out += ##"<line x1="\##(f(bx))" y1="\##(f(y))" x2="\##(f(bx))" y2="\##(f(y + height))" stroke="#d0342c" stroke-width="1.5" stroke-dasharray="5,3"/>"## + "\n"
                // Labels in four staggered rows, so close bounds stay readable.
                out += text(bx + 3, y + 12 + Double(index % 4) * 13, String(bound), size: 10, color: "#d0342c")
            }
        }
        return out
    }

    /// A bottom panel: players per shard.
    private func bars(title: String, members: [Int], x: Double, y: Double, width: Double, height: Double, color: String) -> String {
        var out = text(x, y - 12, title, size: 14, weight: "bold")
        let tallest = max(members.max() ?? 0, 1)
        let slot = width / Double(max(members.count, 1))
        for (index, count) in members.enumerated() {
            let barHeight = height * Double(count) / Double(tallest)
            out += rect(x + Double(index) * slot + slot * 0.15, y + height - barHeight, slot * 0.7, barHeight, color)
            if members.count <= 32 || index % (members.count / 16) == 0 {
                out += text(x + (Double(index) + 0.5) * slot, y + height + 16, String(index), size: 10, anchor: "middle")
            }
        }
        out += axes(x: x, y: y, width: width, height: height)
        for tick in 0...4 {
            let ty = y + height - height * Double(tick) / 4
            out += line(x - 5, ty, x, ty, "#333")
            out += text(x - 8, ty + 4, String(Int((Double(tallest) * Double(tick) / 4).rounded())), size: 10, anchor: "end")
        }
        if !members.isEmpty {
            let mean = Double(members.reduce(0, +)) / Double(members.count)
            let my = y + height - height * mean / Double(tallest)
            out += ##"<line x1="\##(f(x))" y1="\##(f(my))" x2="\##(f(x + width))" y2="\##(f(my))" stroke="#e08a00" stroke-dasharray="4,3"/>"## + "\n"
            out += text(x + width - 2, my - 4, "mean", size: 10, anchor: "end", color: "#e08a00")
        }
        out += text(x + width / 2, y + height + 34, "shard", anchor: "middle", weight: "bold")
        out += rotated(x - 52, y + height / 2, "players")
        return out
    }

    private func describe(_ layout: Layout) -> String {
        switch layout {
        case .single: "single"
        case .hash(let shards): "hash, \(shards) shards"
        case .band(let bounds): "band, \(bounds.count + 1) bands"
        }
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }
    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private func axes(x: Double, y: Double, width: Double, height: Double) -> String {
        line(x, y, x, y + height, "#333") + line(x, y + height, x + width, y + height, "#333")
    }

    private func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, _ color: String) -> String {
        ##"<rect x="\##(f(x))" y="\##(f(y))" width="\##(f(width))" height="\##(f(height))" fill="\##(color)"/>"## + "\n"
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ color: String) -> String {
        ##"<line x1="\##(f(x1))" y1="\##(f(y1))" x2="\##(f(x2))" y2="\##(f(y2))" stroke="\##(color)"/>"## + "\n"
    }

    private func text(
        _ x: Double, _ y: Double, _ content: String, size: Int = 12, anchor: String = "start", weight: String = "normal", color: String = "#222"
    ) -> String {
        ##"<text x="\##(f(x))" y="\##(f(y))" font-size="\##(size)" text-anchor="\##(anchor)" font-weight="\##(weight)" fill="\##(color)">\##(Self.escape(content))</text>"## + "\n"
    }

    private func rotated(_ x: Double, _ y: Double, _ content: String) -> String {
        ##"<text x="\##(f(x))" y="\##(f(y))" font-weight="bold" text-anchor="middle" transform="rotate(-90 \##(f(x)) \##(f(y)))">\##(Self.escape(content))</text>"## + "\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
