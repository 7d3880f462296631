import Foundation

/// The OpenAPI document of the whole contract (Resources/openapi.yaml), as shipped in the build.
public enum APIDocument {
    public static let yaml: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let data = try? Data(contentsOf: url) else {
            fatalError("openapi.yaml is missing from the LeaderboardHTTP bundle")
        }
        return String(decoding: data, as: UTF8.self)
    }()
}
