import Foundation
import Hummingbird
import LeaderboardCore

extension RequestContext {
    /// A path parameter, percent-decoded (a client may send `:` as `%3A`).
    func pathParameter(_ name: String) throws -> String {
        guard let decoded = try parameters.require(name).removingPercentEncoding else {
            throw LeaderboardError.invalidRequest("\(name) is not valid percent-encoding")
        }
        return decoded
    }
}
