import Foundation
import HTTPTypes
import Hummingbird
import LeaderboardCore
import LeaderboardService
import NIOCore

/// The REST API of the contract under `/api/v1`, plus `/healthz` and `/readyz`.
/// Handlers only parse, call the service and shape answers: data flows HTTP → service → stores.
public struct LeaderboardRoutes: Sendable {
    public let service: LeaderboardService
    public let sync: SyncWorker
    /// Largest request body accepted.
    public let maxBodyBytes: Int

    public init(service: LeaderboardService, sync: SyncWorker, maxBodyBytes: Int = 1 << 20) {
        self.service = service
        self.sync = sync
        self.maxBodyBytes = maxBodyBytes
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("healthz") { _, _ in try JSONIO.response(Responses.Health(status: "ok", checks: nil)) }
        router.get("readyz") { _, _ in try await readiness() }

        let api = router.group("api/v1")
        api.post("leaderboards") { request, _ in
            let config = try LeaderboardConfig.parse(try await JSONIO.body(request, limit: maxBodyBytes), defaultLayout: service.defaultLayout(for:))
            return try JSONIO.response(try await service.createLeaderboard(config), status: .created)
        }
        api.get("leaderboards") { _, _ in
            try JSONIO.response(Responses.Leaderboards(leaderboards: try await service.listLeaderboards()))
        }
        api.delete("leaderboards/:id") { _, context in
            try await service.deleteLeaderboard(try context.pathParameter("id"))
            return Response(status: .noContent)
        }
        api.post("leaderboards/:id/reset") { _, context in
            let id = try context.pathParameter("id")
            let reset = try await service.resetLeaderboard(id)
            return try JSONIO.response(Responses.Reset(leaderboardID: id, period: reset.current, archivedPeriod: reset.archived))
        }
        api.post("leaderboards/:id/sync") { _, context in
            let id = try context.pathParameter("id")
            try Identifier.check(id, field: "leaderboard id")
            _ = try await service.directory.board(id)
            guard let report = try await sync.requestPass(id) else {
                return try JSONIO.response(
                    ["leaderboard_id": id, "status": "running", "message": "the pass runs on; GET this path for its report when it ends"],
                    status: .accepted
                )
            }
            return try JSONIO.response(report)
        }
        api.get("leaderboards/:id/sync") { _, context in
            let id = try context.pathParameter("id")
            try Identifier.check(id, field: "leaderboard id")
            guard let report = try await service.lastSyncReport(board: id) else {
                return try JSONIO.response(["leaderboard_id": id, "status": "no sync pass has run yet"])
            }
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: report)))
        }
        api.post("scores") { request, _ in
            let command = try ScoreCommand.parse(try await JSONIO.body(request, limit: maxBodyBytes))
            let score = try await service.submit(command, idempotencyKey: idempotencyKey(request))
            return JSONIO.response(Responses.Score(leaderboardID: command.leaderboardID, playerID: command.playerID, score: score))
        }
        api.post("scores/batch") { request, _ in
            let commands = try parseBatch(try await JSONIO.body(request, limit: maxBodyBytes))
            let scores = try await service.submitBatch(commands, idempotencyKey: idempotencyKey(request))
            let results = zip(commands, scores).map { Responses.Score(leaderboardID: $0.leaderboardID, playerID: $0.playerID, score: $1) }
            return JSONIO.response(Responses.Batch(accepted: results.count, results: results))
        }
        api.delete("leaderboards/:id/player/:player_id") { _, context in
            try await service.removePlayer(board: try context.pathParameter("id"), player: try context.pathParameter("player_id"))
            return Response(status: .noContent)
        }
        api.get("leaderboards/:id/periods") { _, context in
            let id = try context.pathParameter("id")
            return try JSONIO.response(Responses.Periods(leaderboardID: id, periods: try await service.periods(board: id)))
        }
        api.get("leaderboards/:id/top") { request, context in
            let id = try context.pathParameter("id")
            let limit = try service.configuration.limits.limit(query(request, "limit"))
            let ranking = try RankStyle.parse(query(request, "rank"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedRange(source, board: id, start: 1, end: limit, ranking: ranking)
                return try pageResponse(id, answer.page, answer.info)
            }
            return try pageResponse(id, try await service.top(board: id, limit: limit, ranking: ranking))
        }
        api.get("leaderboards/:id/range") { request, context in
            let id = try context.pathParameter("id")
            let window = try service.configuration.limits.window(start: query(request, "start"), end: query(request, "end"))
            let ranking = try RankStyle.parse(query(request, "rank"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedRange(source, board: id, start: window.start, end: window.end, ranking: ranking)
                return try pageResponse(id, answer.page, answer.info)
            }
            return try pageResponse(id, try await service.range(board: id, start: window.start, end: window.end, ranking: ranking))
        }
        api.get("leaderboards/:id/around/:player_id") { request, context in
            let id = try context.pathParameter("id")
            let radius = try service.configuration.limits.radius(query(request, "range"))
            let player = try context.pathParameter("player_id")
            let ranking = try RankStyle.parse(query(request, "rank"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedAround(source, board: id, player: player, radius: radius, ranking: ranking)
                return try pageResponse(id, answer.page, answer.info)
            }
            return try pageResponse(id, try await service.around(board: id, player: player, radius: radius, ranking: ranking))
        }
        api.get("leaderboards/:id/player/:player_id") { request, context in
            let id = try context.pathParameter("id")
            let player = try context.pathParameter("player_id")
            let ranking = try RankStyle.parse(query(request, "rank"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedPlayer(source, board: id, player: player, ranking: ranking)
                return JSONIO.response(Responses.PlayerEntry(standing: answer.standing, leaderboardID: id, info: answer.info))
            }
            let standing = try await service.player(board: id, player: player, ranking: ranking)
            return JSONIO.response(Responses.PlayerEntry(standing: standing, leaderboardID: id, info: nil))
        }
        api.get("leaderboards/:id/players") { request, context in
            let id = try context.pathParameter("id")
            guard let raw = query(request, "ids") else { throw LeaderboardError.invalidRequest("ids is required: player ids separated by commas") }
            let ids = raw.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let ranking = try RankStyle.parse(query(request, "rank"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedPlayers(source, board: id, ids: ids, ranking: ranking)
                return JSONIO.response(Responses.Players(leaderboardID: id, page: answer.page, missing: answer.missing, info: answer.info))
            }
            let answer = try await service.players(board: id, ids: ids, ranking: ranking)
            return JSONIO.response(Responses.Players(leaderboardID: id, page: answer.page, missing: answer.missing, info: nil))
        }
        api.get("leaderboards/:id/cutoff") { request, context in
            let id = try context.pathParameter("id")
            let tier = try RewardCutoff.Tier.parse(rank: query(request, "rank"), topPercent: query(request, "top_percent"))
            if let source = try await rankedSource(request, id) {
                let answer = try await service.rankedCutoff(source, board: id, tier: tier)
                return JSONIO.response(Responses.Cutoff(leaderboardID: id, cutoff: answer.cutoff, info: answer.info))
            }
            let cutoff = try await service.cutoff(board: id, tier: tier)
            return JSONIO.response(Responses.Cutoff(leaderboardID: id, cutoff: cutoff, info: nil))
        }
    }

    private func readiness() async throws -> Response {
        let ready = await service.readiness()
        let checks = ["postgres": ready.postgres ? "ok" : "unreachable", "redis": ready.redis ? "ok" : "unreachable"]
        let ok = ready.postgres && ready.redis
        return try JSONIO.response(Responses.Health(status: ok ? "ready" : "not_ready", checks: checks), status: ok ? .ok : .serviceUnavailable)
    }

    private func pageResponse(_ id: String, _ page: LeaderboardPage, _ info: LeaderboardService.SourceInfo? = nil) throws -> Response {
        JSONIO.response(Responses.Page(leaderboardID: id, page: page, info: info))
    }

    private func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters.get(name)
    }

    /// Where a read is answered from: nil for the real-time view in Redis (`source=realtime`, the
    /// default), else a table in PostgreSQL: the official snapshot the sync worker stores
    /// (`source=batch`; 503 until a board has one) or an archived period (`period=N` below the
    /// current one). `period` equal to the board's current period reads the current standings.
    private func rankedSource(_ request: Request, _ id: String) async throws -> LeaderboardService.RankedSource? {
        let batch: Bool
        switch query(request, "source") {
        case nil: batch = false
        case "realtime": batch = false
        case "batch": batch = true
        default: throw LeaderboardError.invalidRequest("source must be realtime or batch")
        }
        guard let text = query(request, "period") else { return batch ? .snapshot : nil }
        guard let period = Int(text), (1...Int(Int32.max)).contains(period) else {
            throw LeaderboardError.invalidRequest("period must be an integer from 1 to \(Int32.max)")
        }
        try Identifier.check(id, field: "leaderboard id")
        let board = try await service.directory.board(id)
        if period == board.period { return batch ? .snapshot : nil }
        if query(request, "source") == "realtime" {
            throw LeaderboardError.invalidRequest("period \(period) is not the current period: archived periods are read from PostgreSQL (leave out source)")
        }
        return .period(period)
    }

    /// The `Idempotency-Key` header, if sent (validated by the service).
    private func idempotencyKey(_ request: Request) -> String? {
        guard let name = HTTPField.Name(Idempotency.header) else { return nil }
        return request.headers[name]
    }

    private func parseBatch(_ json: JSONValue) throws -> [ScoreCommand] {
        guard let object = json.object, case .array(let items)? = object["scores"] else {
            throw LeaderboardError.invalidRequest("body must be an object with a scores array")
        }
        if let unknown = object.keys.first(where: { $0 != "scores" }) {
            throw LeaderboardError.invalidRequest("unknown field '\(unknown)'")
        }
        guard !items.isEmpty else { throw LeaderboardError.invalidRequest("scores must hold at least one score event") }
        guard items.count <= service.configuration.maxBatchSize else {
            throw LeaderboardError.payloadTooLarge("a batch holds at most \(service.configuration.maxBatchSize) score events")
        }
        var commands: [ScoreCommand] = []
        commands.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            do { commands.append(try ScoreCommand.parse(item)) } catch { throw error.prefixed("scores[\(index)]") }
        }
        return commands
    }
}
