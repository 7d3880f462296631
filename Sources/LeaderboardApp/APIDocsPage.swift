import LeaderboardHTTP
import Yams

/// GET /docs: the OpenAPI document as a plain web page (no scripts, nothing fetched from
/// elsewhere): every route with its parameters, body and answers, then the document itself.
enum APIDocsPage {
    static let html: String = {
        guard let document = try? Yams.load(yaml: APIDocument.yaml) as? [String: Any], let paths = document["paths"] as? [String: Any] else {
            return page(body: "<pre>\(escape(APIDocument.yaml))</pre>")
        }
        let info = document["info"] as? [String: Any]
        var body = "<h1>\(escape(info?["title"] as? String ?? "API"))</h1>"
        body += "<p>\(escape(info?["description"] as? String ?? "").replacingOccurrences(of: "\n\n", with: "</p><p>"))</p>"
        body += "<p>Machine-readable: <a href=\"/openapi.yaml\">/openapi.yaml</a> (OpenAPI 3).</p>"
        for path in paths.keys.sorted() {
            guard let item = paths[path] as? [String: Any] else { continue }
            let shared = item["parameters"] as? [Any] ?? []
            for method in ["get", "put", "post", "delete"] {
                guard let operation = item[method] as? [String: Any] else { continue }
                body += "<h2><code>\(method.uppercased()) \(escape(path))</code></h2>"
                body += "<p>\(escape(operation["summary"] as? String ?? ""))</p>"
                if let description = operation["description"] as? String { body += "<p>\(escape(description))</p>" }
                let parameters = (shared + (operation["parameters"] as? [Any] ?? [])).compactMap { resolve($0, document) }
                if !parameters.isEmpty {
                    body += "<table><tr><th>parameter</th><th>in</th><th>meaning</th></tr>"
                    for parameter in parameters {
                        body += "<tr><td><code>\(escape(parameter["name"] as? String ?? ""))</code></td><td>\(escape(parameter["in"] as? String ?? ""))</td>"
                        body += "<td>\(escape(parameter["description"] as? String ?? ""))</td></tr>"
                    }
                    body += "</table>"
                }
                if let request = operation["requestBody"] as? [String: Any], let content = request["content"] as? [String: Any],
                    let json = content["application/json"] as? [String: Any], let schema = json["schema"] as? [String: Any]
                {
                    body += "<p>Body: <code>\(escape(schemaName(schema)))</code></p>"
                }
                if let responses = operation["responses"] as? [String: Any] {
                    body += "<table><tr><th>status</th><th>answer</th></tr>"
                    for status in responses.keys.sorted() {
                        let response = resolve(responses[status] as Any, document)
                        body += "<tr><td>\(escape(status))</td><td>\(escape(response?["description"] as? String ?? ""))</td></tr>"
                    }
                    body += "</table>"
                }
            }
        }
        body += "<h2>The document</h2><pre>\(escape(APIDocument.yaml))</pre>"
        return page(body: body)
    }()

    private static func page(body: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>Leaderboard API</title>
        <style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}
        td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
        </head><body>\(body)</body></html>
        """
    }

    /// A `$ref` to components, followed; anything else as it is.
    private static func resolve(_ value: Any, _ document: [String: Any]) -> [String: Any]? {
        guard let object = value as? [String: Any] else { return nil }
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var node: Any = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (node as? [String: Any])?[String(part)] else { return nil }
            node = next
        }
        return node as? [String: Any]
    }

    private static func schemaName(_ schema: [String: Any]) -> String {
        if let reference = schema["$ref"] as? String { return String(reference.split(separator: "/").last ?? "") }
        if let properties = schema["properties"] as? [String: Any] { return "{" + properties.keys.sorted().joined(separator: ", ") + "}" }
        return schema["type"] as? String ?? "object"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
