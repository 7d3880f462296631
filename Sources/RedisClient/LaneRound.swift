import NIOConcurrencyHelpers
import NIOCore

/// One round of pipelines on several connections at once, resumed once: every pipeline leaves in
/// one hop to its connection's event loop (``RedisConnectionPool/Lane/send(_:)``), the replies are
/// gathered as they come, and the caller resumes when the last arrives (or at the first failure).
/// This avoids a task per connection, which costs more than the pipelines of a small read.
public enum LaneRound {
    /// The replies of each request's pipeline, in the order of `requests`. `observe` (for
    /// metrics) sees each request's outcome as it comes, on its connection's event loop.
    public static func send(
        _ requests: [(lane: RedisConnectionPool.Lane, commands: [[String]])],
        observe: (@Sendable (_ request: Int, _ result: Result<[RedisReply], any Error>) -> Void)? = nil
    ) async throws -> [[RedisReply]] {
        if requests.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let collector = Collector(count: requests.count, continuation: continuation)
            RedisConnectionPool.Lane.send(
                requests.enumerated().map { index, request in
                    (request.lane, request.commands, { result in
                        observe?(index, result)
                        switch result {
                        case .success(let replies): collector.deliver(index, replies)
                        case .failure(let error): collector.fail(error)
                        }
                    })
                }
            )
        }
    }

    private final class Collector: Sendable {
        private struct State {
            var pending: Int
            var replies: [[RedisReply]]
            var continuation: CheckedContinuation<[[RedisReply]], any Error>?
        }

        private let state: NIOLockedValueBox<State>

        init(count: Int, continuation: CheckedContinuation<[[RedisReply]], any Error>) {
            state = NIOLockedValueBox(State(pending: count, replies: [[RedisReply]](repeating: [], count: count), continuation: continuation))
        }

        func deliver(_ index: Int, _ replies: [RedisReply]) {
            let finished = state.withLockedValue { state -> (CheckedContinuation<[[RedisReply]], any Error>, [[RedisReply]])? in
                guard state.continuation != nil else { return nil }
                state.replies[index] = replies
                state.pending -= 1
                guard state.pending == 0, let continuation = state.continuation else { return nil }
                state.continuation = nil
                return (continuation, state.replies)
            }
            if let (continuation, replies) = finished { continuation.resume(returning: replies) }
        }

        func fail(_ error: any Error) {
            let waiting = state.withLockedValue { state -> CheckedContinuation<[[RedisReply]], any Error>? in
                defer { state.continuation = nil }
                return state.continuation
            }
            waiting?.resume(throwing: error)
        }
    }
}
