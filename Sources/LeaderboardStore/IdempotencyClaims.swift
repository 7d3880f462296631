import LeaderboardCore
import PostgresClient

/// The idempotency keys of one group commit, inside its transaction.
///
/// Each key is claimed by inserting its row (in key order, after the boards' locks, as every
/// committer does, so two groups cannot deadlock on keys). A key whose row exists was used by an
/// earlier request, or by a concurrent one that has just committed (the insert waits for it):
/// that request is not applied again, and gets the stored answer, or 409 when its request differs.
/// A key used twice within one group binds to its first request. The answer of every claimed key
/// is stored in the same transaction. A key older than 24 hours counts as unused.
struct IdempotencyClaims {
    /// What a key stands for: the request's fingerprint and, when it was used before, its answer.
    private struct Binding {
        var fingerprint: String
        var stored: Result<[Int64], LeaderboardError>?
        /// The request of this group that claimed the key.
        var claimant: Int?
    }

    private let requests: [SubmissionRequest]
    private var bindings: [String: Binding] = [:]

    static let keptHours = 24

    init(_ requests: [SubmissionRequest], on connection: PGConnection, transactionID: inout String?) throws {
        self.requests = requests
        var first: [String: Int] = [:]
        for (index, request) in requests.enumerated() {
            if let key = request.idempotency?.key, first[key] == nil { first[key] = index }
        }
        guard !first.isEmpty else { return }
        if transactionID == nil {
            transactionID = try connection.query("SELECT pg_current_xact_id()::text").rows.first?[0] ?? nil
        }
        let keys = first.keys.sorted()
        let claimed = Set(
            try connection.query(
                """
                INSERT INTO idempotency_keys AS k (key, fingerprint)
                SELECT key, fingerprint FROM unnest($1::text[], $2::text[]) AS t(key, fingerprint) ORDER BY key
                ON CONFLICT (key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, scores = NULL, error_code = NULL, error_message = NULL, created_at = now()
                WHERE k.created_at < now() - make_interval(hours => \(Self.keptHours))
                RETURNING key
                """,
                [PGArray.text(keys), PGArray.text(keys.map { requests[first[$0]!].idempotency!.fingerprint })]
            ).rows.map { try $0.text(0) }
        )
        for key in claimed {
            bindings[key] = Binding(fingerprint: requests[first[key]!].idempotency!.fingerprint, stored: nil, claimant: first[key])
        }
        let used = keys.filter { !claimed.contains($0) }
        guard !used.isEmpty else { return }
        for row in try connection.query(
            "SELECT key, fingerprint, scores, error_code, error_message FROM idempotency_keys WHERE key = ANY($1::text[])",
            [PGArray.text(used)]
        ).rows {
            let key = try row.text(0)
            bindings[key] = Binding(fingerprint: try row.text(1), stored: try Self.answer(scores: row[2], code: row[3], message: row[4]), claimant: nil)
        }
        for key in used where bindings[key] == nil {
            // Removed between the insert and the read (the 24-hour pruning): answer as unknown.
            bindings[key] = Binding(
                fingerprint: "", stored: .failure(.unavailable("Idempotency-Key '\(key)' expired during the request; retry")), claimant: nil
            )
        }
    }

    /// Whether request `index` is applied by this group (no key, or the request that claimed it).
    func isFresh(_ index: Int) -> Bool {
        guard let key = requests[index].idempotency?.key else { return true }
        return bindings[key]?.claimant == index
    }

    /// Every request's answer: the fresh ones' from the plan, the others' from their key.
    func outcomes(fresh: [Int: Result<[Int64], LeaderboardError>], count: Int) -> [Result<[Int64], LeaderboardError>] {
        (0..<count).map { index in
            if let outcome = fresh[index] { return outcome }
            guard let idempotency = requests[index].idempotency, let binding = bindings[idempotency.key] else {
                return .failure(.unavailable("the request was not planned; retry"))
            }
            guard binding.fingerprint == idempotency.fingerprint else { return .failure(.idempotencyKeyReused(idempotency.key)) }
            if let stored = binding.stored { return stored }
            if let claimant = binding.claimant, let outcome = fresh[claimant] { return outcome }
            return .failure(.unavailable("the request was not planned; retry"))
        }
    }

    /// Stores the answers of the keys claimed by this group.
    /// A request refused as unavailable (its board was being imported) applied nothing and is
    /// to be retried: its key is released, not bound to the refusal.
    func record(_ outcomes: [Result<[Int64], LeaderboardError>], on connection: PGConnection) throws {
        let keys = bindings.filter { $0.value.claimant != nil }.sorted { $0.key < $1.key }
        let released = keys.filter { Self.isRetryable(outcomes[$0.value.claimant!]) }
        if !released.isEmpty {
            try connection.query("DELETE FROM idempotency_keys WHERE key = ANY($1::text[])", [PGArray.text(released.map(\.key))])
        }
        let claimed = keys.filter { !Self.isRetryable(outcomes[$0.value.claimant!]) }
        guard !claimed.isEmpty else { return }
        var scores: [String?] = []
        var codes: [String?] = []
        var messages: [String?] = []
        for (_, binding) in claimed {
            switch outcomes[binding.claimant!] {
            case .success(let values):
                scores.append(values.map(String.init).joined(separator: ","))
                codes.append(nil)
                messages.append(nil)
            case .failure(let error):
                scores.append(nil)
                codes.append(error.code.rawValue)
                messages.append(error.message)
            }
        }
        try connection.query(
            """
            UPDATE idempotency_keys k SET scores = v.scores, error_code = v.code, error_message = v.message
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(key, scores, code, message)
            WHERE k.key = v.key
            """,
            [PGArray.text(claimed.map(\.key)), PGArray.text(scores), PGArray.text(codes), PGArray.text(messages)]
        )
    }

    private static func isRetryable(_ outcome: Result<[Int64], LeaderboardError>) -> Bool {
        if case .failure(let error) = outcome { return error.code == .unavailable }
        return false
    }

    /// A stored answer.
    private static func answer(scores: String?, code: String?, message: String?) throws -> Result<[Int64], LeaderboardError> {
        if let code {
            return .failure(LeaderboardError(LeaderboardError.Code(rawValue: code) ?? .unavailable, message ?? ""))
        }
        guard let scores else { throw PGError(.decoding, "an idempotency key without its answer") }
        let values = scores.split(separator: ",").compactMap { Int64($0) }
        guard !scores.isEmpty, values.count == scores.split(separator: ",").count else {
            throw PGError(.decoding, "an idempotency key's answer is not a list of scores")
        }
        return .success(values)
    }
}
