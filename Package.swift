// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "leaderboard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "leaderboard-server", targets: ["leaderboard-server"]),
        .library(name: "LeaderboardCore", targets: ["LeaderboardCore"]),
        // The Swift client of the REST API (the seed's pkg/client); it needs none of the server's modules.
        .library(name: "LeaderboardClient", targets: ["LeaderboardClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/mattpolzin/OpenAPIKit", from: "6.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C clients, as system libraries.
        // The pkg-config files of hiredis and libpq add flags that SwiftPM refuses (-D_FILE_OFFSET_BITS)
        // or that are not needed; their shims include the headers by their path under /usr/include.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),

        // A connection pool that runs blocking C calls on a dedicated thread pool.
        .target(
            name: "BlockingPool",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Thin Swift wrappers of the C clients.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibPQ", "BlockingPool",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Pure domain logic: models, validation, ordering, update modes. No I/O.
        .target(
            name: "LeaderboardCore", dependencies: ["CXXHash", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings
        ),

        // Stores: the real-time store (Redis) and the source of truth (PostgreSQL).
        .target(
            name: "LeaderboardStore",
            dependencies: [
                "LeaderboardCore", "RedisClient", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            // The Lua scripts, as source files of their own, embedded at build time.
            resources: [
                .embedInCode("Redis/Lua/lessByBytes.lua"),
                .embedInCode("Redis/Lua/readWindow.lua"),
                .embedInCode("Redis/Lua/apply.lua"),
                .embedInCode("Redis/Lua/switchRebuilt.lua"),
                .embedInCode("Redis/Lua/writeMeta.lua"),
                .embedInCode("Redis/Lua/removeShard.lua"),
                .embedInCode("Redis/Lua/perShard.lua"),
                .embedInCode("Redis/Lua/aheadOf.lua"),
                .embedInCode("Redis/Lua/tiedBefore.lua"),
                .embedInCode("Redis/Lua/countAhead.lua"),
                .embedInCode("Redis/Lua/aroundPivot.lua"),
                .embedInCode("Redis/Lua/probe.lua"),
                .embedInCode("Redis/Lua/countBounds.lua"),
                .embedInCode("Redis/Lua/compareAndSet.lua"),
                .embedInCode("Redis/Lua/chunkDigests.lua"),
                .embedInCode("Redis/Lua/retire.lua"),
                .embedInCode("Redis/Lua/tieMap.lua"),
                .embedInCode("Redis/Lua/ownEntry.lua"),
                .embedInCode("Redis/Lua/membersOf.lua"),
                .embedInCode("Redis/Lua/stageTies.lua"),
            ],
            swiftSettings: swiftSettings
        ),

        // The service: write path (group commit) and reads, over the stores.
        .target(
            name: "LeaderboardService",
            dependencies: [
                "LeaderboardCore", "LeaderboardStore", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // HTTP layer over the service.
        .target(
            name: "LeaderboardHTTP",
            dependencies: [
                "LeaderboardCore", "LeaderboardService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),

        // The client library.
        .target(
            name: "LeaderboardClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Wiring: configuration, logging, the application and its services.
        .target(
            name: "LeaderboardApp",
            dependencies: [
                "LeaderboardCore", "LeaderboardStore", "LeaderboardService", "LeaderboardHTTP",
                "RedisClient", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "leaderboard-server",
            dependencies: [
                "LeaderboardApp", "LeaderboardService", "LeaderboardStore", "LeaderboardCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The bare Hummingbird route the HTTP costs are measured against (Benchmarks/cost.sh).
        .executableTarget(
            name: "leaderboard-bare-route",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        // Store-level benchmark (Benchmarks/run.sh).
        .executableTarget(
            name: "leaderboard-bench",
            dependencies: [
                "LeaderboardApp", "LeaderboardCore", "LeaderboardStore", "RedisClient", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Shared fixtures for tests.
        .target(
            name: "LeaderboardTestSupport",
            dependencies: [
                "LeaderboardApp", "LeaderboardCore", "LeaderboardService", "LeaderboardStore", "RedisClient", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIKit30", package: "OpenAPIKit"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LeaderboardCoreTests",
            dependencies: ["LeaderboardCore", "PostgresClient", "RedisClient", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LeaderboardIntegrationTests",
            dependencies: [
                "LeaderboardTestSupport", "LeaderboardClient", "LeaderboardApp", "LeaderboardCore", "LeaderboardService", "LeaderboardStore",
                "LeaderboardHTTP", "RedisClient", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
