import Foundation
import Logging
import Synchronization

/// A swift-log handler writing one line per message to standard error, in the format of
/// swift-log's `StreamLogHandler` (`TIME LEVEL LABEL: key=value … [SOURCE] MESSAGE`), except
/// that metadata is formatted when a line is written, not each time it changes: the server sets
/// `request_id` on every request's logger, and formatting all the metadata then cost a few
/// percent of a read's CPU (Benchmarks/cost.sh).
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let output = Mutex(())

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if let error = event.error { merged["error.message"] = "\(error)" }
        let pretty = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(Self.timestamp()) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(pretty) [\(event.source)] \(event.message)\n"
        // A failed write (a closed or broken stderr, a full disk) drops the line; it must not trap.
        Self.output.withLock { _ in try? FileHandle.standardError.write(contentsOf: Data(line.utf8)) }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "<unknown>" }
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
