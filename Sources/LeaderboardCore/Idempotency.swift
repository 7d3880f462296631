import Foundation

/// A submission's `Idempotency-Key` and what the key stands for: a digest of the request's
/// meaning (the endpoint and every validated field of every score event, in order), so a
/// retry with the same key and the same request gets the first answer, and the same key with a
/// different request is refused.
public struct Idempotency: Sendable, Equatable {
    public var key: String
    /// Hex digest of the request's canonical form.
    public var fingerprint: String

    public init(key: String, fingerprint: String) {
        self.key = key
        self.fingerprint = fingerprint
    }

    /// The header's name.
    public static let header = "Idempotency-Key"

    /// Validates the header's value (1–64 characters of the id alphabet) and digests the request.
    /// - Parameter batch: whether the request is POST /scores/batch (one event there is not the
    ///   same request as one event on POST /scores: their answers differ).
    public init(key: String, commands: [ScoreCommand], batch: Bool) throws(LeaderboardError) {
        guard Identifier.isValid(key) else {
            throw .invalidRequest("\(Self.header) must be 1-\(Identifier.maxLength) characters of [A-Za-z0-9_.:-]")
        }
        self.key = key
        self.fingerprint = Self.fingerprint(commands, batch: batch)
    }

    /// The digest of the canonical form: each field length-prefixed, so no two requests share it.
    public static func fingerprint(_ commands: [ScoreCommand], batch: Bool) -> String {
        var digest = SHA1Stream()
        func field(_ text: String?) {
            guard let text else {
                digest.update("-;")
                return
            }
            digest.update("\(text.utf8.count):")
            digest.update(text)
        }
        field(batch ? "batch" : "score")
        for command in commands {
            field(command.leaderboardID)
            field(command.playerID)
            field(String(command.value))
            field(command.username)
            field(command.metadataJSON)
            field(command.timestamp.map { String($0.timeIntervalSince1970) })
        }
        return digest.hex()
    }
}

/// One request of a group commit: its events and, when it carries one, its idempotency key.
public struct SubmissionRequest: Sendable, Equatable {
    public var commands: [ScoreCommand]
    public var idempotency: Idempotency?

    public init(_ commands: [ScoreCommand], idempotency: Idempotency? = nil) {
        self.commands = commands
        self.idempotency = idempotency
    }
}
