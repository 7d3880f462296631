import Foundation
import HTTPTypes
import Hummingbird
import LeaderboardApp
import LeaderboardCore
import LeaderboardHTTP
import LeaderboardTestSupport
import Synchronization
import Testing
import Yams

/// The OpenAPI document against the running application: every documented operation is called,
/// its status must be documented, and its JSON answer must fit the documented schema.
@Suite struct OpenAPITests {
    static let admin = "openapi-admin-\(UInt64.random(in: .min ... .max))"
    static let writer = "openapi-writer-\(UInt64.random(in: .min ... .max))"

    static func document() throws -> [String: Any] {
        let path = FileManager.default.currentDirectoryPath + "/Sources/LeaderboardHTTP/Resources/openapi.yaml"
        guard let document = try Yams.load(yaml: String(contentsOfFile: path, encoding: .utf8)) as? [String: Any] else {
            throw TestFailure("openapi.yaml is not a mapping")
        }
        return document
    }

    /// The documented operations, as "METHOD /path/template".
    static func operations(_ document: [String: Any]) -> Set<String> {
        var all: Set<String> = []
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for method in ["get", "post", "delete"] where (item as? [String: Any])?[method] != nil { all.insert("\(method.uppercased()) \(path)") }
        }
        return all
    }

    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let document = try Self.document()
        let validator = SchemaValidator(document: document)
        var config = TestEnvironment.config
        config.auth.adminKeys = [Self.admin]
        config.auth.writerKeys = [Self.writer]
        let board = TestEnvironment.uniqueID("openapi")
        let called = Mutex<Set<String>>([])
        let problems = Mutex<[String]>([])

        try await withTestApp(config: config) { api, _ async throws -> Void in
            /// Calls `path` (concrete) as the documented `template`; checks status and body.
            @discardableResult
            func call(_ method: HTTPRequest.Method, _ template: String, _ path: String, body: String? = nil, key: String? = nil) async throws -> Int {
                let (status, contentType, text) = try await api.client.execute(
                    uri: path, method: method,
                    headers: key.map { [.authorization: "Bearer \($0)", .contentType: "application/json"] } ?? [.contentType: "application/json"],
                    body: body.map { ByteBuffer(string: $0) }
                ) { ($0.status.code, $0.headers[.contentType] ?? "", String(buffer: $0.body)) }
                let name = "\(method.rawValue) \(template)"
                called.withLock { _ = $0.insert(name) }
                guard let operation = validator.operation(method.rawValue, template),
                    let responses = operation["responses"] as? [String: Any]
                else {
                    problems.withLock { $0.append("\(name): not documented") }
                    return status
                }
                guard let response = validator.resolve(responses[String(status)] as Any) else {
                    problems.withLock { $0.append("\(name) \(path): status \(status) is not documented (\(text.prefix(200)))") }
                    return status
                }
                guard let content = response["content"] as? [String: Any] else {
                    if !text.isEmpty { problems.withLock { $0.append("\(name): \(status) should have no body") } }
                    return status
                }
                if let json = content["application/json"] as? [String: Any], let schema = json["schema"] {
                    guard contentType.hasPrefix("application/json") else {
                        problems.withLock { $0.append("\(name): \(status) answered \(contentType), not JSON") }
                        return status
                    }
                    guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                        problems.withLock { $0.append("\(name): \(status) body is not JSON") }
                        return status
                    }
                    let found = validator.validate(value, against: schema)
                    if !found.isEmpty { problems.withLock { $0.append("\(name) \(path) \(status): \(found)") } }
                } else if let expected = content.keys.first, !contentType.hasPrefix(expected) {
                    problems.withLock { $0.append("\(name): \(status) answered \(contentType), documented \(expected)") }
                }
                return status
            }

            let base = "/api/v1/leaderboards"
            let boardPath = "\(base)/\(board)"
            for (template, path) in [("/healthz", "/healthz"), ("/readyz", "/readyz"), ("/metrics", "/metrics"), ("/openapi.yaml", "/openapi.yaml"), ("/docs", "/docs")] {
                #expect(try await call(.get, template, path) == 200)
            }
            #expect(try await call(.post, "/api/v1/leaderboards", base, body: #"{"id": "\#(board)", "layout": {"strategy": "hash", "shards": 2}}"#) == 401)
            #expect(try await call(.post, "/api/v1/leaderboards", base, body: #"{"id": "\#(board)"}"#, key: Self.writer) == 403)
            #expect(try await call(.post, "/api/v1/leaderboards", base, body: #"{"id": "\#(board)", "layout": {"strategy": "hash", "shards": 2}}"#, key: Self.admin) == 201)
            #expect(try await call(.post, "/api/v1/leaderboards", base, body: #"{"id": "\#(board)"}"#, key: Self.admin) == 409)
            #expect(try await call(.post, "/api/v1/leaderboards", base, body: #"{"id": "bad id"}"#, key: Self.admin) == 400)
            #expect(try await call(.get, "/api/v1/leaderboards", base, key: Self.admin) == 200)
            // (Usernames belong to players across boards: this named player is the test's own.)
            let event = #"{"player_id": "\#(board)-p1", "score": 10, "game_id": "\#(board)", "username": "Pat", "metadata": {"level": 3}}"#
            #expect(try await call(.post, "/api/v1/scores", "/api/v1/scores", body: event, key: Self.writer) == 200)
            #expect(try await call(.post, "/api/v1/scores", "/api/v1/scores", body: #"{"player_id": "p1", "score": 1.5, "game_id": "\#(board)"}"#, key: Self.writer) == 400)
            #expect(try await call(.post, "/api/v1/scores", "/api/v1/scores", body: #"{"player_id": "p1", "score": 1, "game_id": "nowhere"}"#, key: Self.writer) == 404)
            let batch = #"{"scores": [{"player_id": "p2", "score": 20, "game_id": "\#(board)"}, {"player_id": "p3", "score": 5, "leaderboard_id": "\#(board)"}]}"#
            #expect(try await call(.post, "/api/v1/scores/batch", "/api/v1/scores/batch", body: batch, key: Self.writer) == 200)

            let player = "/api/v1/leaderboards/{id}/player/{player_id}"
            let reads: [(String, String)] = [
                ("/api/v1/leaderboards/{id}/top", "\(boardPath)/top?limit=2"),
                ("/api/v1/leaderboards/{id}/range", "\(boardPath)/range?start=2&end=3"),
                ("/api/v1/leaderboards/{id}/around/{player_id}", "\(boardPath)/around/\(board)-p1?range=1"),
                (player, "\(boardPath)/player/\(board)-p1"),
            ]
            for (template, path) in reads { #expect(try await call(.get, template, path) == 200, "\(path)") }
            #expect(try await call(.get, player, "\(boardPath)/player/nobody") == 404)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(base)/nowhere/top") == 404)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/range", "\(boardPath)/range?start=5&end=1") == 400)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(boardPath)/top?source=batch") == 200, "the first snapshot, taken now")

            #expect(try await call(.get, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            #expect(try await call(.post, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            for (template, path) in reads { #expect(try await call(.get, template, path + (path.contains("?") ? "&" : "?") + "source=batch") == 200) }

            #expect(try await call(.delete, player, "\(boardPath)/player/p3", key: Self.admin) == 204)
            #expect(try await call(.delete, player, "\(boardPath)/player/p3", key: Self.admin) == 404)
            #expect(try await call(.post, "/api/v1/leaderboards/{id}/reset", "\(boardPath)/reset", key: Self.admin) == 200)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/periods", "\(boardPath)/periods") == 200)
            for (template, path) in reads { #expect(try await call(.get, template, path + (path.contains("?") ? "&" : "?") + "period=1") == 200) }
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(boardPath)/top?period=7") == 400)
            #expect(try await call(.delete, "/api/v1/leaderboards/{id}", boardPath, key: Self.admin) == 204)
            #expect(try await call(.delete, "/api/v1/leaderboards/{id}", boardPath, key: Self.admin) == 404)
        }
        let missing = Self.operations(document).subtracting(called.withLock { $0 })
        #expect(missing.isEmpty, "documented operations never called: \(missing.sorted())")
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func theRouteTableIsTheDocumentsOperations() throws {
        let table = Set(RouteTable.routes.map { "\($0.method) \($0.template)" })
        #expect(table == Self.operations(try Self.document()))
    }

    @Test func aKnownPathWithAnotherMethodIs405() async throws {
        try await withTestApp { api, _ in
            for (method, path, allow) in [
                (HTTPRequest.Method.trace, "/readyz", "GET"), (.put, "/api/v1/leaderboards", "GET, POST"), (.get, "/api/v1/scores", "POST"),
                (.patch, "/api/v1/leaderboards/x/player/y", "GET, DELETE"),
            ] {
                let answer = try await api.request(method, path)
                #expect(answer.status == .methodNotAllowed, "\(method) \(path)")
                #expect(answer.headers[.allow] == allow)
                #expect(answer.errorCode == "invalid_request")
            }
            #expect(try await api.get("/api/v1/nothing/here").status == .notFound)
        }
    }

    @Test func theServerServesTheDocumentAndItsPage() async throws {
        try await withTestApp { api, _ in
            let text = try await api.client.execute(uri: "/openapi.yaml", method: .get) { String(buffer: $0.body) }
            let file = try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/Sources/LeaderboardHTTP/Resources/openapi.yaml", encoding: .utf8)
            #expect(text == file)
            let page = try await api.client.execute(uri: "/docs", method: .get) { String(buffer: $0.body) }
            for operation in Self.operations(try Self.document()) {
                let parts = operation.split(separator: " ")
                #expect(page.contains("\(parts[0]) \(parts[1])"), "\(operation) is on /docs")
            }
        }
    }
}
