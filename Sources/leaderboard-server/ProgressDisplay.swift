import Foundation
import LeaderboardApp
import Synchronization

/// Shows a long command's progress on standard error (standard output stays for the command's
/// result, such as the sync reports' JSON): a bar redrawn in place (at most ten times a second) when
/// it is a terminal, else a plain line at most once a second and at the end.
final class ProgressDisplay: Sendable {
    private let label: String
    private let unit: String
    private let terminal = isatty(STDERR_FILENO) == 1
    private let started = ContinuousClock.now
    private let state = Mutex<(shown: ContinuousClock.Instant?, done: Int, total: Int, shownDone: Int)>((nil, 0, 0, -1))

    init(label: String, unit: String) {
        self.label = label
        self.unit = unit
    }

    var report: @Sendable (Int, Int) -> Void {
        { [self] done, total in update(done: done, total: total) }
    }

    func update(done: Int, total: Int) {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            state.done = done
            state.total = total
            let gap: Duration = terminal ? .milliseconds(100) : .seconds(1)
            guard done >= total || state.shown.map({ now - $0 >= gap }) ?? true else { return false }
            state.shown = now
            state.shownDone = done
            return true
        }
        if due { show(done: done, total: total) }
    }

    /// The last state once more (and, on a terminal, the end of the bar's line).
    func finish() {
        let (done, total, shown) = state.withLock { ($0.done, $0.total, $0.shownDone) }
        if total > 0, done != shown { show(done: done, total: total) }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func show(done: Int, total: Int) {
        let text = ProgressLine.text(label: label, done: done, total: total, unit: unit, elapsed: .now - started, terminal: terminal)
        FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[2K" + text : text + "\n").utf8))
    }
}
