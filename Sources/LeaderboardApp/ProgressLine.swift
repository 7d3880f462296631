/// How the command-line tools show the progress of long work (a rebuild, a sync pass): a bar that
/// redraws itself on a terminal, plain lines otherwise.
public enum ProgressLine {
    /// `[#########-----------]  450,000/1,000,000 members  45%  120,000/s  ETA 5s` (terminal) or
    /// `rebuild board-x: 450000/1000000 members (45%), 120000/s, ETA 5 s` (plain).
    public static func text(label: String, done: Int, total: Int, unit: String, elapsed: Duration, terminal: Bool) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
        let percent = Int((fraction * 100).rounded(.down))
        let rate = seconds > 0 ? Int((Double(done) / seconds).rounded()) : 0
        let eta: String
        if done >= total {
            eta = "done in \(format(seconds: seconds))"
        } else if rate > 0 {
            eta = "ETA \(format(seconds: Double(total - done) / Double(rate)))"
        } else {
            eta = "ETA ?"
        }
        guard terminal else {
            return "\(label): \(done)/\(total) \(unit) (\(percent)%), \(rate)/s, \(eta)"
        }
        let width = 24
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "\(label) [\(bar)] \(grouped(done))/\(grouped(total)) \(unit) \(percent)% \(grouped(rate))/s \(eta)"
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func format(seconds: Double) -> String {
        if seconds < 10 { return String(Int((seconds * 10).rounded()) / 10) + "." + String(Int((seconds * 10).rounded()) % 10) + "s" }
        let whole = Int(seconds.rounded())
        return whole < 120 ? "\(whole)s" : "\(whole / 60)m\(whole % 60)s"
    }
}
