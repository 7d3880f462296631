import Foundation

/// The OpenAPI document of the whole contract (Resources/openapi.yaml), as shipped in the build.
public enum APIDocument {
    /// The document, or a short YAML note when the resource bundle was not installed beside the
    /// binary (the server keeps running; only this document is missing).
    public static let yaml: String = {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("leaderboard_LeaderboardHTTP.resources/openapi.yaml"),
            Bundle.main.bundleURL.appendingPathComponent("leaderboard_LeaderboardHTTP.resources/Resources/openapi.yaml"),
        ]
        for url in candidates { if let data = try? Data(contentsOf: url) { return String(decoding: data, as: UTF8.self) } }
        // Bundle.module also knows the build folder; it traps when neither place has the bundle,
        // so it is only asked once the build folder is known to hold it.
        let built = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/openapi.yaml")
        if let data = try? Data(contentsOf: built) { return String(decoding: data, as: UTF8.self) }
        return "# The OpenAPI document was not installed with this binary: see Sources/LeaderboardHTTP/Resources/openapi.yaml\n"
    }()
}
