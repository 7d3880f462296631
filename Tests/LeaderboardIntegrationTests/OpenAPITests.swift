import Foundation
import HTTPTypes
import Hummingbird
import LeaderboardApp
import LeaderboardCore
import LeaderboardHTTP
import LeaderboardTestSupport
import Synchronization
import Testing

/// The OpenAPI document (read and validated by OpenAPIKit) against the running application: every
/// documented operation is called, its status must be documented, and its JSON answer must fit
/// the documented schema.
@Suite struct OpenAPITests {
    static let admin = "openapi-admin-\(UInt64.random(in: .min ... .max))"
    static let writer = "openapi-writer-\(UInt64.random(in: .min ... .max))"

    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let contract = try OpenAPIContract.shipped()
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
                called.withLock { _ = $0.insert("\(method.rawValue) \(template)") }
                let found = contract.check(method.rawValue, template, status: Int(status), contentType: contentType, body: text)
                if !found.isEmpty { problems.withLock { $0 += found.map { "\(path): \($0)" } } }
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
                (player, "\(boardPath)/player/\(board)-p1?rank=competition"),
                ("/api/v1/leaderboards/{id}/top", "\(boardPath)/top?rank=competition"),
                ("/api/v1/leaderboards/{id}/players", "\(boardPath)/players?ids=\(board)-p1,nobody"),
                ("/api/v1/leaderboards/{id}/players", "\(boardPath)/players?ids=\(board)-p1&source=batch"),
                ("/api/v1/leaderboards/{id}/cutoff", "\(boardPath)/cutoff?rank=1"),
                ("/api/v1/leaderboards/{id}/cutoff", "\(boardPath)/cutoff?rank=100000"),
                ("/api/v1/leaderboards/{id}/cutoff", "\(boardPath)/cutoff?top_percent=50"),
                ("/api/v1/leaderboards/{id}/cutoff", "\(boardPath)/cutoff?top_percent=1&source=batch"),
            ]
            for (template, path) in reads { #expect(try await call(.get, template, path) == 200, "\(path)") }
            #expect(try await call(.get, player, "\(boardPath)/player/nobody") == 404)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(base)/nowhere/top") == 404)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/range", "\(boardPath)/range?start=5&end=1") == 400)
            for bad in ["players", "players?ids=", "players?ids=a,,b", "players?ids=" + (0...100).map { "p\($0)" }.joined(separator: ","), "players?ids=a&rank=dense"] {
                #expect(try await call(.get, "/api/v1/leaderboards/{id}/players", "\(boardPath)/\(bad)") == 400, "\(bad)")
            }
            for bad in ["cutoff", "cutoff?rank=0", "cutoff?rank=1&top_percent=1", "cutoff?top_percent=0", "cutoff?top_percent=100.5", "cutoff?top_percent=1e2"] {
                #expect(try await call(.get, "/api/v1/leaderboards/{id}/cutoff", "\(boardPath)/\(bad)") == 400, "\(bad)")
            }
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(boardPath)/top?source=batch") == 200, "the first snapshot, taken now")

            #expect(try await call(.get, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            #expect(try await call(.post, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/sync", "\(boardPath)/sync", key: Self.admin) == 200)
            for (template, path) in reads { #expect(try await call(.get, template, path + (path.contains("?") ? "&" : "?") + "source=batch") == 200) }

            let layout = "/api/v1/leaderboards/{id}/layout"
            let plan = "/api/v1/leaderboards/{id}/layout/plan"
            #expect(try await call(.get, layout, "\(boardPath)/layout") == 401)
            #expect(try await call(.get, layout, "\(boardPath)/layout", key: Self.admin) == 200)
            #expect(try await call(.get, plan, "\(boardPath)/layout/plan?strategy=band&shards=2", key: Self.admin) == 200)
            #expect(try await call(.get, plan, "\(boardPath)/layout/plan?strategy=hash&shards=3&format=svg", key: Self.admin) == 200)
            #expect(try await call(.get, plan, "\(boardPath)/layout/plan?strategy=hash", key: Self.admin) == 400)
            let same = #"{"layout": {"strategy": "hash", "shards": 2}}"#
            #expect(try await call(.put, layout, "\(boardPath)/layout", body: same, key: Self.admin) == 200)
            #expect(try await call(.put, layout, "\(boardPath)/layout", body: #"{"layout": {"strategy": "hash"}}"#, key: Self.admin) == 400)
            #expect(try await call(.put, layout, "\(boardPath)/layout", body: #"{"layout": {"strategy": "single"}}"#, key: Self.admin) == 202)
            // At once again: the first change still runs (409), or already switched (a second one starts).
            #expect([202, 409].contains(try await call(.put, layout, "\(boardPath)/layout", body: same, key: Self.admin)))
            #expect(try await call(.get, layout, "\(boardPath)/layout", key: Self.admin) == 200)
            #expect(try await call(.delete, player, "\(boardPath)/player/p3", key: Self.admin) == 204)
            #expect(try await call(.delete, player, "\(boardPath)/player/p3", key: Self.admin) == 404)
            #expect(try await call(.post, "/api/v1/leaderboards/{id}/reset", "\(boardPath)/reset", key: Self.admin) == 200)
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/periods", "\(boardPath)/periods") == 200)
            for (template, path) in reads { #expect(try await call(.get, template, path + (path.contains("?") ? "&" : "?") + "period=1") == 200) }
            #expect(try await call(.get, "/api/v1/leaderboards/{id}/top", "\(boardPath)/top?period=7") == 400)
            #expect(try await call(.delete, "/api/v1/leaderboards/{id}", boardPath, key: Self.admin) == 204)
            #expect(try await call(.delete, "/api/v1/leaderboards/{id}", boardPath, key: Self.admin) == 404)
        }
        let missing = contract.operations.subtracting(called.withLock { $0 })
        #expect(missing.isEmpty, "documented operations never called: \(missing.sorted())")
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func theRouteTableIsTheDocumentsOperations() throws {
        let table = Set(RouteTable.routes.map { "\($0.method) \($0.template)" })
        #expect(table == (try OpenAPIContract.shipped()).operations)
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
            let file = try String(contentsOfFile: OpenAPIContract.shippedPath, encoding: .utf8)
            #expect(text == file)
            let page = try await api.client.execute(uri: "/docs", method: .get) { String(buffer: $0.body) }
            for operation in try OpenAPIContract.shipped().operations {
                let parts = operation.split(separator: " ")
                #expect(page.contains("\(parts[0]) \(parts[1])"), "\(operation) is on /docs")
            }
        }
    }

    /// The checks can fail: answers the shipped document accepts are refused by documents changed
    /// in one place each (a field's type, a required field that is never sent, a status dropped,
    /// a closed object that loses a field, a tightened bound, a broken reference).
    @Test func aChangedDocumentFailsTheChecks() async throws {
        let board = TestEnvironment.uniqueID("openapi-mutation")
        let answers = try await withTestApp { api, _ in
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 2}"#)
            try await api.submit(board, [("a", 3), ("b", 2)])
            var answers: [(String, String, Int, String, String)] = []
            for (template, path) in [
                ("/api/v1/leaderboards/{id}/top", "/api/v1/leaderboards/\(board)/top?limit=2"),
                ("/api/v1/leaderboards/{id}/player/{player_id}", "/api/v1/leaderboards/\(board)/player/a"),
            ] {
                let (status, type, text) = try await api.client.execute(uri: path, method: .get) {
                    ($0.status.code, $0.headers[.contentType] ?? "", String(buffer: $0.body))
                }
                answers.append(("GET", template, Int(status), type, text))
            }
            return answers
        }
        let shipped = try String(contentsOfFile: OpenAPIContract.shippedPath, encoding: .utf8)
        let original = try OpenAPIContract(yaml: shipped)
        for (method, template, status, type, body) in answers {
            #expect(original.check(method, template, status: status, contentType: type, body: body).isEmpty, "\(template): \(body)")
        }
        let mutations: [(String, String, String)] = [
            ("rank as a string", "        rank: {type: integer, minimum: 1}", "        rank: {type: string}"),
            ("a required field never sent", "      required: [rank, player_id, score]", "      required: [rank, player_id, score, level]"),
            (
                "a field the closed object lacks",
                "      required: [leaderboard_id, total, entries, source]\n      additionalProperties: false\n      properties:\n        leaderboard_id: {type: string}\n        total: {type: integer, minimum: 0}\n        entries:\n          type: array\n          items: {$ref: \"#/components/schemas/Entry\"}\n        source: {type: string, enum: [realtime, batch, archive]}\n",
                "      required: [leaderboard_id, total, entries]\n      additionalProperties: false\n      properties:\n        leaderboard_id: {type: string}\n        total: {type: integer, minimum: 0}\n        entries:\n          type: array\n          items: {$ref: \"#/components/schemas/Entry\"}\n"
            ),
            ("a tightened bound", "        total: {type: integer, minimum: 0}", "        total: {type: integer, maximum: 1}"),
            ("an enum without the value", "        source: {type: string, enum: [realtime, batch, archive]}", "        source: {type: string, enum: [batch, archive]}"),
        ]
        for (what, from, to) in mutations {
            #expect(shipped.contains(from), "\(what): the document no longer has \(from)")
            let changed = try OpenAPIContract(yaml: shipped.replacingOccurrences(of: from, with: to))
            let found = answers.flatMap { changed.check($0.0, $0.1, status: $0.2, contentType: $0.3, body: $0.4) }
            #expect(!found.isEmpty, "\(what): the changed document still accepts every answer")
        }
        // A status the document does not list.
        #expect(!original.check("GET", "/api/v1/leaderboards/{id}/top", status: 418, contentType: "application/json", body: "{}").isEmpty)
        // OpenAPIKit refuses a document whose reference points nowhere.
        #expect(throws: (any Error).self) {
            try OpenAPIContract(yaml: shipped.replacingOccurrences(of: "#/components/schemas/Entry\"", with: "#/components/schemas/Nowhere\""))
        }
    }
}
