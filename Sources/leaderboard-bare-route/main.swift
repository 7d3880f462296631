import Foundation
import Hummingbird

// The ceiling of the HTTP read table (Benchmarks/cost.sh): a Hummingbird server whose one route
// answers GET /api/v1/leaderboards/{id}/player/{player_id} with a fixed entry of the same shape
// as the real answer, with no middleware, no service and no store. What the real server spends
// per request beyond this is the project's own cost.
//
//   leaderboard-bare-route [port, default 8099]

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8099
let answer = ByteBuffer(
    string: #"{"leaderboard_id":"bench-single","rank":123456,"player_id":"p000000123456","score":398765,"top_percent":12.35,"total":1000000}"#
)
let router = Router()
router.get("/api/v1/leaderboards/:board/player/:player") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
