import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import LeaderboardTestSupport
import Testing

/// GET /metrics (Prometheus text) and request ids.
@Suite struct MetricsTests {
    @Test func metricsCoverRequestsCommitsRedisAndSync() async throws {
        let board = TestEnvironment.uniqueID("metrics")
        try await withTestApp { api, _ in
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 2}"#)
            try await api.submit(board, (0..<50).map { ("m\($0)", Int64($0)) })
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top").status == .ok)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/nobody").status == .notFound)
            #expect(try await api.post("/api/v1/leaderboards/\(board)/sync", "").status == .ok)

            let metrics = try await api.client.execute(uri: "/metrics", method: .get) { response in
                (response.status, response.headers[.contentType], String(buffer: response.body))
            }
            #expect(metrics.0 == .ok)
            #expect(metrics.1?.hasPrefix("text/plain") == true)
            Self.expectEveryLayer(in: metrics.2, board: board)
        }
    }

    /// The server binary exports the same: its stores make their metrics before the HTTP
    /// application is built, and those must count too.
    @Test func theServerBinaryExportsEveryLayersMetrics() async throws {
        let client = HTTPClient.shared
        let board = TestEnvironment.uniqueID("metrics-binary")
        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { server.stop() }
        let created = try await server.call(client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)", "layout": {"strategy": "hash", "shards": 2}}"#)
        #expect(created.status == .created)
        try await server.submitBatch(client, board: board, (0..<50).map { ("m\($0)", Int64($0)) })
        #expect(try await server.request(client, .GET, "/api/v1/leaderboards/\(board)/top").0 == 200)
        #expect(try await server.request(client, .GET, "/api/v1/leaderboards/\(board)/player/nobody").0 == 404)
        #expect(try await server.request(client, .POST, "/api/v1/leaderboards/\(board)/sync").0 == 200)
        Self.expectEveryLayer(in: try await server.request(client, .GET, "/metrics").1, board: board)
    }

    static func expectEveryLayer(in text: String, board: String) {
        func has(_ fragments: String...) -> Bool {
            text.split(separator: "\n").contains { line in fragments.allSatisfy { line.contains($0) } }
        }
        #expect(has("http_server_request_duration", "/api/v1/leaderboards/{id}/top", "200"), "request latency per route and status")
        #expect(has("hb_requests", "/api/v1/leaderboards/{id}/player/{player_id}", "404"), "request counts per route and status")
        #expect(has("leaderboard_group_commit_events_bucket"), "group-commit batch sizes")
        #expect(has("leaderboard_group_commit_duration"), "commit latency")
        #expect(has("leaderboard_redis_pipeline_duration", "node=\"r"), "per-node Redis latency")
        #expect(has("leaderboard_sync_passes", board, "ok"), "sync pass results")
        #expect(has("leaderboard_sync_checked", board, "shard=\"1\""), "per shard")
        #expect(has("leaderboard_sync_repaired", board, "shard=\"0\""))
    }

    @Test func everyAnswerCarriesARequestID() async throws {
        try await withTestApp { api, _ in
            let fresh = try await api.get("/healthz")
            let id = fresh.headers[HTTPField.Name("X-Request-Id")!]
            #expect(id?.count == 16)
            let given = try await api.client.execute(uri: "/api/v1/leaderboards/nope/top", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "trace-42"]) {
                ($0.status, $0.headers[HTTPField.Name("X-Request-Id")!])
            }
            #expect(given.0 == .notFound, "errors carry it too")
            #expect(given.1 == "trace-42")
            let other = try await api.get("/healthz")
            #expect(other.headers[HTTPField.Name("X-Request-Id")!] != id)
        }
    }
}
