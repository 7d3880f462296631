import Foundation
import Hummingbird
import LeaderboardCore
import NIOCore

/// Reading JSON bodies and writing JSON answers.
enum JSONIO {
    /// Collects at most `limit` bytes and parses them as JSON. Too large: `payload_too_large`;
    /// not JSON: `invalid_request`.
    static func body(_ request: Request, limit: Int) async throws -> JSONValue {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw LeaderboardError.payloadTooLarge("request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw LeaderboardError.invalidRequest("request body must be a JSON object") }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw LeaderboardError.invalidRequest("request body is not valid JSON (\(error.description))")
        }
    }

    /// A hot answer, written without Foundation's encoder (the same bytes).
    static func response(_ value: some JSONAnswer, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONWriter()
        value.write(to: &json)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: json.bytes))
        )
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
