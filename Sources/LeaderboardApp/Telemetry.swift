import Metrics
import NIOCore
import Prometheus

/// The process's metrics: swift-metrics, backed by one Prometheus registry, bootstrapped once.
public enum Telemetry {
    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        MetricsSystem.bootstrap(factory)
    }()

    /// Routes swift-metrics to the registry (the first call only; later calls do nothing).
    public static func bootstrap() { _ = bootstrapped }

    /// Every metric in the Prometheus text format.
    public static func text() -> ByteBuffer {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }
}
