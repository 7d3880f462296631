import Foundation
import Hummingbird
import LeaderboardCore

extension RequestContext {
    /// A path parameter, percent-decoded (a client may send `:` as `%3A`).
    func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        // Most ids have no escapes: Foundation's decoding (through NSString) is skipped for them.
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        guard let decoded = raw.removingPercentEncoding else {
            throw LeaderboardError.invalidRequest("\(name) is not valid percent-encoding")
        }
        return decoded
    }
}
