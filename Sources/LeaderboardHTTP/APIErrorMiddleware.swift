import Foundation
import Hummingbird
import LeaderboardCore
import Logging
import NIOCore

extension LeaderboardError.Code {
    /// The HTTP status of each contract error.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidRequest, .invalidScore: .badRequest
        case .leaderboardNotFound, .playerNotFound: .notFound
        case .leaderboardExists, .idempotencyKeyReused, .migrationInProgress: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }
}

/// Turns every error a handler throws into the contract's error body:
/// `{"error": {"code": "…", "message": "…"}}`, with `Retry-After` where the error has one.
/// Framework errors (no route, body too large) get the nearest contract code; anything
/// unexpected is logged and answered 500 without details.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as LeaderboardError {
            return Self.response(code: error.code.rawValue, status: error.code.status, message: error.message, retryAfter: error.retryAfterSeconds)
        } catch is NIOTooManyBytesError {
            return Self.response(code: LeaderboardError.Code.payloadTooLarge.rawValue, status: .contentTooLarge, message: "request body is too large")
        } catch let error as HTTPError {
            switch error.status {
            case .notFound, .methodNotAllowed:
                let allowed = RouteTable.methods(for: request.uri.path)
                guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else {
                    return Self.response(code: "invalid_request", status: .notFound, message: "no such route: \(request.method) \(request.uri.path)")
                }
                var response = Self.response(
                    code: "invalid_request", status: .methodNotAllowed,
                    message: "\(request.method) is not allowed here; allowed: \(allowed.joined(separator: ", "))"
                )
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            case .contentTooLarge:
                return Self.response(code: "payload_too_large", status: .contentTooLarge, message: "request body is too large")
            case let status where status.code < 500:
                return Self.response(code: "invalid_request", status: status, message: error.body ?? status.reasonPhrase)
            default:
                context.logger.error("request failed", metadata: ["error": "\(error)"])
                return Self.response(code: "internal", status: .internalServerError, message: "internal error")
            }
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return Self.response(code: "internal", status: .internalServerError, message: "internal error")
        }
    }

    static func response(code: String, status: HTTPResponse.Status, message: String, retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let data = (try? encoder.encode(ErrorBody(error: .init(code: code, message: message)))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `{"error": {"code": "…", "message": "…"}}`.
struct ErrorBody: Encodable {
    struct Detail: Encodable {
        let code: String
        let message: String
    }
    let error: Detail
}
