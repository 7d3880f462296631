import Foundation
import Synchronization

/// A wall clock tests control: stopped at a set time, or running on from one.
public final class ManualClock: Sendable {
    private struct State {
        var base: Date
        /// When `base` was set, if the clock runs on from it.
        var runningSince: ContinuousClock.Instant?
    }

    private let state: Mutex<State>

    public init(_ date: Date) {
        state = Mutex(State(base: date, runningSince: nil))
    }

    /// Stops the clock at `date`.
    public func set(_ date: Date) {
        state.withLock { $0 = State(base: date, runningSince: nil) }
    }

    /// Sets the clock to `date` and lets it run on at real speed.
    public func run(from date: Date) {
        state.withLock { $0 = State(base: date, runningSince: .now) }
    }

    public var now: Date {
        state.withLock { state in
            guard let since = state.runningSince else { return state.base }
            let elapsed = ContinuousClock.now - since
            return state.base.addingTimeInterval(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }

    /// The clock as the closure the server takes.
    public var function: @Sendable () -> Date { { [self] in self.now } }

    /// A UTC time from an ISO 8601 text such as `2030-01-14T10:00:00Z`.
    public static func utc(_ text: String) -> Date {
        guard let date = ISO8601DateFormatter().date(from: text) else { fatalError("bad test date \(text)") }
        return date
    }
}
