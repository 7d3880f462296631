import HTTPTypes
import Hummingbird
import LeaderboardCore
import Logging

/// Gives every request an id: the caller's `X-Request-Id` when it is a valid id, else a new one.
/// The id goes in the request's log metadata (`request_id`) and back in the response header.
public struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    public static var header: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[Self.header].flatMap { Identifier.isValid($0) ? $0 : nil } ?? Self.newID()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        var response = try await next(request, context)
        response.headers[Self.header] = id
        return response
    }

    static func newID() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var random = UInt64.random(in: .min ... .max)
        for _ in 0..<16 {
            bytes.append(digits[Int(random & 0xF)])
            random >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
