import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LeaderboardApp
import LeaderboardCore
import Logging
import NIOCore
import RedisClient

/// Runs `body` against the real application (real Redis and PostgreSQL) through Hummingbird's
/// router test client; the app's services (writer, recovery) run for the duration.
public func withTestApp<T: Sendable>(
    config: AppConfig = TestEnvironment.config,
    migrate: Bool = true,
    clock: @escaping @Sendable () -> Date = Date.init,
    _ body: @Sendable (TestAPI, LeaderboardSystem) async throws -> T
) async throws -> T {
    let logger = TestEnvironment.logger
    let system = try await LeaderboardSystem.make(config: config, logger: logger, migrate: migrate, clock: clock)
    let app = buildApplication(config: config, system: system, logger: logger)
    return try await app.test(.router) { client in
        try await body(TestAPI(client: client), system)
    }
}

/// A JSON answer of the API.
public struct APIResponse: Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let json: JSONValue

    public init(status: HTTPResponse.Status, headers: HTTPFields = [:], json: JSONValue) {
        self.status = status
        self.headers = headers
        self.json = json
    }

    /// `error.code` of an error answer.
    public var errorCode: String? {
        guard case .object(let error)? = json.object?["error"], case .string(let code)? = error["code"] else { return nil }
        return code
    }

    public subscript(_ key: String) -> JSONValue? { json.object?[key] }

    /// `error.message` of an error answer ("" otherwise).
    public var errorMessage: String {
        guard case .object(let error)? = json.object?["error"], case .string(let message)? = error["message"] else { return "" }
        return message
    }

    /// `entries` of a page answer, decoded.
    public var entries: [LeaderboardEntry] {
        guard case .array(let items)? = self["entries"] else { return [] }
        return items.compactMap(Self.entry)
    }

    /// The answer as one entry.
    public var entry: LeaderboardEntry? { Self.entry(json) }

    /// An integer member of the answer.
    public func integer(_ key: String) -> Int64? {
        if case .integer(let value)? = self[key] { return value }
        return nil
    }

    /// An entry member that may be null (nil for null or absent).
    public static func entryOrNil(_ value: JSONValue?) -> LeaderboardEntry? { value.flatMap(entry) }

    static func entry(_ value: JSONValue) -> LeaderboardEntry? {
        guard let object = value.object, case .integer(let rank)? = object["rank"], case .string(let player)? = object["player_id"],
            case .integer(let score)? = object["score"]
        else { return nil }
        var username: String?
        if case .string(let name)? = object["username"] { username = name }
        return LeaderboardEntry(rank: Int(rank), playerID: player, score: score, username: username)
    }
}

/// Small helpers over the test client that speak the API's JSON.
public struct TestAPI: Sendable {
    public let client: any TestClientProtocol

    /// One request; `key` goes as `Authorization: Bearer <key>`.
    public func request(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, key: String? = nil, idempotencyKey: String? = nil
    ) async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(
            uri: path, method: method, headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        ) { response in
            let json: JSONValue
            if response.body.readableBytes == 0 {
                json = .null
            } else {
                json = (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))) ?? .string(String(buffer: response.body))
            }
            return APIResponse(status: response.status, headers: response.headers, json: json)
        }
    }

    public func get(_ path: String) async throws -> APIResponse { try await request(.get, path) }
    @discardableResult
    public func post(_ path: String, _ body: String) async throws -> APIResponse { try await request(.post, path, body: body) }
    @discardableResult
    public func delete(_ path: String) async throws -> APIResponse { try await request(.delete, path) }

    /// Creates a board; `extra` is more JSON members, e.g. `"sort_order": "asc"`.
    @discardableResult
    public func createBoard(_ id: String, _ extra: String = "") async throws -> APIResponse {
        let response = try await post("/api/v1/leaderboards", "{\"id\": \"\(id)\"\(extra.isEmpty ? "" : ", " + extra)}")
        guard response.status == .created else { throw TestFailure("creating \(id): \(response.status) \(response.json)") }
        return response
    }

    /// Submits `(player, score)` pairs in batches of `batchSize`.
    public func submit(_ board: String, _ scores: [(String, Int64)], batchSize: Int = 1000) async throws {
        var index = 0
        while index < scores.count {
            let chunk = scores[index..<min(index + batchSize, scores.count)]
            let items = chunk.map { "{\"player_id\": \"\($0.0)\", \"score\": \($0.1), \"game_id\": \"\(board)\"}" }
            let response = try await post("/api/v1/scores/batch", "{\"scores\": [\(items.joined(separator: ","))]}")
            guard response.status == .ok else { throw TestFailure("batch on \(board): \(response.status) \(response.json)") }
            index += batchSize
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension LeaderboardSystem {
    /// The Redis pool of shard `shard` of a board, for tests that look at or damage Redis directly.
    public func redis(board id: String, shard: Int = 0) async throws -> RedisConnectionPool {
        guard let board = try await service.repository.leaderboard(id) else { throw TestFailure("no board \(id)") }
        let node = shard < board.placement.count ? board.placement[shard] : topology.nodes[0].id
        guard let pool = redisNodes[node] else { throw TestFailure("no node \(node)") }
        return pool
    }
}

/// Runs `body` against the real application listening on a free loopback port (for clients that
/// speak real HTTP, such as the client library); the app's services run meanwhile.
public func withLiveTestApp<T: Sendable>(
    config: AppConfig = TestEnvironment.config,
    _ body: @Sendable (_ baseURL: String, LeaderboardSystem) async throws -> T
) async throws -> T {
    var config = config
    config.server.host = "127.0.0.1"
    config.server.port = 0
    let logger = TestEnvironment.logger
    let system = try await LeaderboardSystem.make(config: config, logger: logger)
    let app = buildApplication(config: config, system: system, logger: logger)
    return try await app.test(.live) { client in
        guard let port = client.port else { throw TestFailure("the live test server has no port") }
        return try await body("http://127.0.0.1:\(port)", system)
    }
}
