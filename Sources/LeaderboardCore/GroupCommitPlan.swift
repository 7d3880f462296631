/// A (board, player) pair.
public struct PlayerKey: Hashable, Sendable {
    public var leaderboardID: String
    public var playerID: String

    public init(_ leaderboardID: String, _ playerID: String) {
        self.leaderboardID = leaderboardID
        self.playerID = playerID
    }
}

/// What the write path needs to know of a board to apply scores to it.
public struct BoardRules: Sendable, Equatable {
    public var sortOrder: SortOrder
    public var updateMode: UpdateMode

    public init(sortOrder: SortOrder, updateMode: UpdateMode) {
        self.sortOrder = sortOrder
        self.updateMode = updateMode
    }
}

/// The pure core of a group commit: given the requests of one batch in arrival order, the
/// rules of the boards they name and the players' current scores (read under lock), decide
/// each event's resulting score, which requests are rejected, and what to write.
///
/// A request is a unit: if one of its events is invalid (unknown board, an increment that
/// leaves the score range), none of its events is applied and later requests see the state
/// as if it had never been sent.
public struct GroupCommitPlan: Sendable {
    /// One accepted event, in application order.
    public struct Event: Sendable, Equatable {
        public var request: Int
        public var command: ScoreCommand
        public var mode: UpdateMode
        /// The player's score after this event.
        public var score: Int64

        public init(request: Int, command: ScoreCommand, mode: UpdateMode, score: Int64) {
            self.request = request
            self.command = command
            self.mode = mode
            self.score = score
        }
    }

    /// The score each event of each request produced, or why the request was rejected.
    public var outcomes: [Result<[Int64], LeaderboardError>]
    /// Accepted events, in order.
    public var events: [Event]
    /// Final score of each (board, player) whose score changed or who is new, with the latest metadata.
    public var changedScores: [PlayerKey: (score: Int64, metadataJSON: String?)]
    /// Usernames to record (last one wins).
    public var usernames: [String: String]

    /// `unavailable`: boards that exist but take no writes now (a bulk import holds them): their
    /// requests are refused with ``LeaderboardError/unavailable(_:retryAfterSeconds:)``.
    public init(requests: [[ScoreCommand]], boards: [String: BoardRules], current: [PlayerKey: Int64], unavailable: Set<String> = []) {
        var scores = current
        var outcomes: [Result<[Int64], LeaderboardError>] = []
        var events: [Event] = []
        var changed: [PlayerKey: (score: Int64, metadataJSON: String?)] = [:]
        var usernames: [String: String] = [:]
        outcomes.reserveCapacity(requests.count)

        for (requestIndex, commands) in requests.enumerated() {
            var staged = [PlayerKey: Int64]()
            var results: [Int64] = []
            var rejection: LeaderboardError?
            for (index, command) in commands.enumerated() {
                guard let rules = boards[command.leaderboardID] else {
                    rejection =
                        unavailable.contains(command.leaderboardID)
                        ? .beingImported(command.leaderboardID)
                        : .leaderboardNotFound(command.leaderboardID)
                    if commands.count > 1 { rejection = rejection?.prefixed("scores[\(index)]") }
                    break
                }
                let key = PlayerKey(command.leaderboardID, command.playerID)
                let before = staged[key] ?? scores[key]
                do {
                    let after = try rules.updateMode.apply(current: before, value: command.value, order: rules.sortOrder)
                    staged[key] = after
                    results.append(after)
                } catch {
                    rejection = commands.count > 1 ? error.prefixed("scores[\(index)]") : error
                    break
                }
            }
            if let rejection {
                outcomes.append(.failure(rejection))
                continue
            }
            for (index, command) in commands.enumerated() {
                let key = PlayerKey(command.leaderboardID, command.playerID)
                let mode = boards[command.leaderboardID]!.updateMode
                events.append(Event(request: requestIndex, command: command, mode: mode, score: results[index]))
                let previous = scores[key]
                if previous != results[index] || previous == nil || command.metadataJSON != nil {
                    changed[key] = (results[index], command.metadataJSON ?? changed[key]?.metadataJSON)
                }
                scores[key] = results[index]
                if let username = command.username { usernames[command.playerID] = username }
            }
            outcomes.append(.success(results))
        }
        self.outcomes = outcomes
        self.events = events
        self.changedScores = changed
        self.usernames = usernames
    }
}
