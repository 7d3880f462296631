import Foundation
import Hummingbird
import LeaderboardApp
import LeaderboardTestSupport
import Testing

/// API keys and roles through the real application: every protected route without a key, with
/// a wrong key and with the wrong role, and nothing written by a rejected request.
@Suite struct AuthTests {
    static let admin = "test-admin-key-\(UInt64.random(in: .min ... .max))"
    static let writer = "test-writer-key-\(UInt64.random(in: .min ... .max))"
    static let reader = "test-reader-key-\(UInt64.random(in: .min ... .max))"

    func config(protectReads: Bool = false) -> AppConfig {
        var config = TestEnvironment.config
        config.auth.adminKeys = [Self.admin]
        config.auth.writerKeys = [Self.writer]
        config.auth.readerKeys = [Self.reader]
        config.auth.protectReads = protectReads
        return config
    }

    @Test func protectedRoutesNeedTheRightKey() async throws {
        let board = TestEnvironment.uniqueID("auth")
        try await withTestApp(config: config()) { api, system in
            let create = #"{"id": "\#(board)"}"#
            let score = #"{"player_id": "p1", "score": 5, "game_id": "\#(board)"}"#
            let batch = #"{"scores": [\#(score)]}"#
            let adminRoutes: [(HTTPRequest.Method, String, String?)] = [
                (.post, "/api/v1/leaderboards", create), (.get, "/api/v1/leaderboards", nil),
                (.post, "/api/v1/leaderboards/\(board)/reset", ""), (.post, "/api/v1/leaderboards/\(board)/sync", ""),
                (.get, "/api/v1/leaderboards/\(board)/sync", nil), (.delete, "/api/v1/leaderboards/\(board)/player/p1", nil),
                (.delete, "/api/v1/leaderboards/\(board)", nil),
            ]
            let writeRoutes: [(HTTPRequest.Method, String, String?)] = [(.post, "/api/v1/scores", score), (.post, "/api/v1/scores/batch", batch)]
            for (method, path, body) in adminRoutes + writeRoutes {
                let none = try await api.request(method, path, body: body)
                #expect(none.status == .unauthorized, "\(method) \(path) without a key")
                #expect(none.errorCode == "unauthorized")
                let wrong = try await api.request(method, path, body: body, key: "not-a-configured-key-at-all")
                #expect(wrong.status == .unauthorized, "\(method) \(path) with a wrong key")
                let reader = try await api.request(method, path, body: body, key: Self.reader)
                #expect(reader.status == .forbidden, "\(method) \(path) with the reader role")
                #expect(reader.errorCode == "forbidden")
            }
            for (method, path, body) in adminRoutes {
                let writer = try await api.request(method, path, body: body, key: Self.writer)
                #expect(writer.status == .forbidden, "\(method) \(path) with the writer role")
            }
            // Nothing was created or written by the rejected requests.
            #expect(try await system.service.repository.leaderboard(board) == nil)

            // The right keys work; reads stay open.
            #expect(try await api.request(.post, "/api/v1/leaderboards", body: create, key: Self.admin).status == .created)
            #expect(try await api.request(.post, "/api/v1/scores", body: score, key: Self.writer).status == .ok)
            #expect(try await api.request(.post, "/api/v1/scores/batch", body: batch, key: Self.admin).status == .ok)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/p1").status == .ok)
            #expect(try await api.get("/healthz").status == .ok)
            #expect(try await api.request(.delete, "/api/v1/leaderboards/\(board)", key: Self.admin).status == .noContent)
        }
    }

    @Test func protectedReadsNeedAnyKey() async throws {
        try await withTestApp(config: config(protectReads: true)) { api, _ async throws -> Void in
            let path = "/api/v1/leaderboards/nobody-\(UInt32.random(in: 0...UInt32.max))/top"
            #expect(try await api.get(path).status == .unauthorized)
            #expect(try await api.request(.get, path, key: Self.reader).errorCode == "leaderboard_not_found")
            #expect(try await api.request(.get, path, key: Self.writer).errorCode == "leaderboard_not_found")
            #expect(try await api.get("/readyz").status == .ok)
        }
    }

    @Test func badKeysInTheConfigurationNameTheKey() throws {
        for (variable, problem) in [("LEADERBOARD_AUTH_ADMIN_KEYS", "short"), ("LEADERBOARD_AUTH_WRITER_KEYS", "has space in it 0123")] {
            #expect {
                _ = try AppConfig.load(path: nil, environment: [variable: problem])
            } throws: { error in
                "\(error)".contains(variable.dropFirst("LEADERBOARD_".count).lowercased().replacingOccurrences(of: "auth_", with: "auth.")) && !"\(error)".contains(problem)
            }
        }
    }
}
