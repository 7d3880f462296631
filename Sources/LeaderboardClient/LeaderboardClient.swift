import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of the leaderboard REST API (`/api/v1`) on AsyncHTTPClient.
///
/// Errors are ``LeaderboardAPIError`` (typed by the contract's codes) or
/// ``LeaderboardClientError``. Idempotent calls (reads, deletes, listing) are retried on 503,
/// 429 and transport errors, waiting what `Retry-After` says (else an exponential backoff), up
/// to ``RetryPolicy/maxAttempts``. Score submissions carry an `Idempotency-Key` (a new UUID per
/// call unless the caller gives one), so they are retried the same way: a repeat gets the first
/// answer and applies nothing twice. Creation, reset and sync are never retried.
public struct LeaderboardClient: Sendable {
    public struct RetryPolicy: Sendable {
        /// Tries of an idempotent call in all (1 = no retry).
        public var maxAttempts: Int
        /// The first wait when the server names none; doubled each time.
        public var initialBackoff: Duration
        /// The longest wait between tries, whatever `Retry-After` says.
        public var maxBackoff: Duration

        public init(maxAttempts: Int = 4, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(10)) {
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }

        public static let none = RetryPolicy(maxAttempts: 1)
    }

    public let baseURL: String
    public let apiKey: String?
    public let retry: RetryPolicy
    public let timeout: TimeAmount
    private let http: HTTPClient

    /// - Parameters:
    ///   - baseURL: e.g. `http://127.0.0.1:8080` (without `/api/v1`).
    ///   - apiKey: sent as `Authorization: Bearer <key>` when given.
    public init(baseURL: String, apiKey: String? = nil, retry: RetryPolicy = .init(), timeout: TimeAmount = .seconds(10), httpClient: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.retry = retry
        self.timeout = timeout
        http = httpClient
    }

    // MARK: - Scores

    /// Submits one score; returns the player's score after the board's update mode.
    /// - Parameter idempotencyKey: sent as `Idempotency-Key` (1–64 of `[A-Za-z0-9_.:-]`); a new
    ///   UUID when nil. Give your own to make retries of your own safe across calls.
    public func submitScore(_ event: ScoreEvent, idempotencyKey: String? = nil) async throws -> ScoreResult {
        try await send(.POST, "/api/v1/scores", body: event, idempotencyKey: idempotencyKey ?? UUID().uuidString)
    }

    /// Submits scores as one unit: all applied, or none (the error names the bad item).
    public func submitBatch(_ events: [ScoreEvent], idempotencyKey: String? = nil) async throws -> BatchResult {
        struct Body: Encodable { let scores: [ScoreEvent] }
        return try await send(.POST, "/api/v1/scores/batch", body: Body(scores: events), idempotencyKey: idempotencyKey ?? UUID().uuidString)
    }

    // MARK: - Reads

    public func top(_ board: String, limit: Int? = nil, source: ReadSource = .realtime, period: Int? = nil) async throws -> Page {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/top", query: [("limit", limit.map(String.init))] + read(source, period))
    }

    public func rank(_ board: String, player: String, source: ReadSource = .realtime, period: Int? = nil) async throws -> PlayerRank {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/player/\(escape(player))", query: read(source, period))
    }

    public func around(_ board: String, player: String, range: Int? = nil, source: ReadSource = .realtime, period: Int? = nil) async throws -> Page {
        try await send(
            .GET, "/api/v1/leaderboards/\(escape(board))/around/\(escape(player))", query: [("range", range.map(String.init))] + read(source, period)
        )
    }

    /// Ranks `start`…`end` (1-based, inclusive).
    public func range(_ board: String, start: Int, end: Int, source: ReadSource = .realtime, period: Int? = nil) async throws -> Page {
        try await send(
            .GET, "/api/v1/leaderboards/\(escape(board))/range", query: [("start", String(start)), ("end", String(end))] + read(source, period)
        )
    }

    /// Ranks `start`…`end` numbered `numbering`'s way (competition: equal scores share a rank).
    public func range(_ board: String, start: Int, end: Int, numbering: RankNumbering, source: ReadSource = .realtime) async throws -> Page {
        try await send(
            .GET, "/api/v1/leaderboards/\(escape(board))/range",
            query: [("start", String(start)), ("end", String(end)), ("rank", numbering.rawValue)] + read(source, nil)
        )
    }

    /// The player's entry with competition or ordinal rank, and `topPercent`.
    public func rank(_ board: String, player: String, numbering: RankNumbering, source: ReadSource = .realtime) async throws -> PlayerRank {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/player/\(escape(player))", query: [("rank", numbering.rawValue)] + read(source, nil))
    }

    /// A friends list: those of `ids` (at most 100) on the board, in board order with global ranks.
    public func players(
        _ board: String, ids: [String], numbering: RankNumbering = .ordinal, source: ReadSource = .realtime, period: Int? = nil
    ) async throws -> PlayerList {
        try await send(
            .GET, "/api/v1/leaderboards/\(escape(board))/players",
            query: [("ids", ids.joined(separator: ",")), ("rank", numbering.rawValue)] + read(source, period)
        )
    }

    /// The entry at rank `rank`.
    public func cutoff(_ board: String, rank: Int, source: ReadSource = .realtime, period: Int? = nil) async throws -> Cutoff {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/cutoff", query: [("rank", String(rank))] + read(source, period))
    }

    /// The entry that ends the top `topPercent` % (a decimal such as "1" or "0.5").
    public func cutoff(_ board: String, topPercent: String, source: ReadSource = .realtime, period: Int? = nil) async throws -> Cutoff {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/cutoff", query: [("top_percent", topPercent)] + read(source, period))
    }

    public func periods(_ board: String) async throws -> [ArchivedPeriod] {
        struct Answer: Decodable { let periods: [ArchivedPeriod] }
        let answer: Answer = try await send(.GET, "/api/v1/leaderboards/\(escape(board))/periods")
        return answer.periods
    }

    // MARK: - Admin

    public func createLeaderboard(_ config: LeaderboardConfig) async throws -> LeaderboardConfig {
        try await send(.POST, "/api/v1/leaderboards", body: config, idempotent: false)
    }

    public func listLeaderboards() async throws -> [LeaderboardConfig] {
        struct Answer: Decodable { let leaderboards: [LeaderboardConfig] }
        let answer: Answer = try await send(.GET, "/api/v1/leaderboards")
        return answer.leaderboards
    }

    public func deleteLeaderboard(_ board: String) async throws {
        try await sendWithoutAnswer(.DELETE, "/api/v1/leaderboards/\(escape(board))")
    }

    /// Archives the current period and starts the next.
    public func resetLeaderboard(_ board: String) async throws -> ResetResult {
        try await send(.POST, "/api/v1/leaderboards/\(escape(board))/reset", idempotent: false)
    }

    public func removePlayer(_ board: String, player: String) async throws {
        try await sendWithoutAnswer(.DELETE, "/api/v1/leaderboards/\(escape(board))/player/\(escape(player))")
    }

    /// Runs a sync pass now: its report, or `status == "running"` when it outlasts the server's wait.
    public func sync(_ board: String) async throws -> SyncReport {
        try await send(.POST, "/api/v1/leaderboards/\(escape(board))/sync", idempotent: false)
    }

    /// The last sync report of the board.
    public func lastSyncReport(_ board: String) async throws -> SyncReport {
        try await send(.GET, "/api/v1/leaderboards/\(escape(board))/sync")
    }

    // MARK: - Transport

    private struct Empty: Encodable {}

    private func read(_ source: ReadSource, _ period: Int?) -> [(String, String?)] {
        [("source", source == .realtime ? nil : source.rawValue), ("period", period.map(String.init))]
    }

    private func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }

    private func send<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: (any Encodable)? = nil, idempotent: Bool = true,
        idempotencyKey: String? = nil
    ) async throws -> Answer {
        let (status, bytes) = try await exchange(
            method, path, query: query, body: body, idempotent: idempotent || idempotencyKey != nil, idempotencyKey: idempotencyKey
        )
        do {
            return try JSONDecoder().decode(Answer.self, from: bytes)
        } catch {
            throw LeaderboardClientError.unexpectedAnswer(status: status, body: String(decoding: bytes, as: UTF8.self))
        }
    }

    private func sendWithoutAnswer(_ method: HTTPMethod, _ path: String) async throws {
        _ = try await exchange(method, path, query: [], body: nil, idempotent: method == .DELETE || method == .GET, idempotencyKey: nil)
    }

    /// One call, retried when it may be; returns the status and body of a 2xx answer.
    private func exchange(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)], body: (any Encodable)?, idempotent: Bool, idempotencyKey: String?
    ) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: baseURL + path + queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let attempts = idempotent ? retry.maxAttempts : 1
        var backoff = retry.initialBackoff
        for attempt in 1...attempts {
            let response: HTTPClientResponse
            let bytes: ByteBuffer
            do {
                response = try await http.execute(request, timeout: timeout)
                bytes = try await response.body.collect(upTo: 64 << 20)
            } catch {
                // The request may or may not have reached the server: safe to repeat only when idempotent.
                guard attempt < attempts, !(error is CancellationError) else { throw LeaderboardClientError.transport("\(error)") }
                try await Task.sleep(for: min(backoff, retry.maxBackoff))
                backoff = min(backoff * 2, retry.maxBackoff)
                continue
            }
            let status = Int(response.status.code)
            let data = Data(bytes.readableBytesView)
            if (200..<300).contains(status) { return (status, data) }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init)
            let failure = apiError(status: status, data: data, retryAfter: retryAfter)
            guard attempt < attempts, status == 429 || status == 503 else { throw failure }
            let wait = retryAfter.map { Duration.seconds($0) } ?? backoff
            try await Task.sleep(for: min(wait, retry.maxBackoff))
            backoff = min(backoff * 2, retry.maxBackoff)
        }
        throw LeaderboardClientError.transport("no attempt was made")
    }

    private func apiError(status: Int, data: Data, retryAfter: Int?) -> any Error {
        struct Body: Decodable {
            struct Detail: Decodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else {
            return LeaderboardClientError.unexpectedAnswer(status: status, body: String(decoding: data, as: UTF8.self))
        }
        return LeaderboardAPIError(code: .init(body.error.code), message: body.error.message, status: status, retryAfter: retryAfter)
    }

    private func queryString(_ items: [(String, String?)]) -> String {
        let present = items.compactMap { name, value in value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } }
        return present.isEmpty ? "" : "?" + present.joined(separator: "&")
    }
}
