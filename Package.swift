// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "playclock",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "playclockd", targets: ["playclockd"]),
        .executable(name: "playclock", targets: ["playclock"]),
        .executable(name: "playclock-sim", targets: ["playclock-sim"]),
        .executable(name: "playclock-bench", targets: ["playclock-bench"]),
        .executable(name: "playclock-agent", targets: ["playclock-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // System libraries (Debian: libsqlite3-dev, libmosquitto-dev).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // Xlib, XRandR, Xft and XShape for the agent's X11 display (Debian: libx11-dev libxrandr-dev
        // libxft-dev libxext-dev); "xft" brings freetype's include path.
        .systemLibrary(
            name: "CX11",
            pkgConfig: "xft",
            providers: [.apt(["libx11-dev", "libxrandr-dev", "libxft-dev", "libxext-dev"])]
        ),

        // The wire contract every program shares: topics, verbs, codes, event types and reasons as
        // enums, the messages with one encoding and one decoding each, the JSON codec. Pure: no I/O.
        .target(name: "PlayclockContract"),

        // Pure, sans-I/O domain: state machines that take events and a time and return actions.
        .target(
            name: "PlayclockCore",
            dependencies: ["PlayclockContract", .product(name: "HeapModule", package: "swift-collections")]
        ),

        // The PC agent's domain, pure and sans-I/O like the core: control messages, countdowns,
        // connection changes and time in; what to show, what to publish and what to save out.
        .target(name: "PlayclockAgent", dependencies: ["PlayclockContract"]),

        // The agent's X11 display: the lock screen and the countdown overlay, drawn on one Xlib thread.
        .target(
            name: "PlayclockAgentX11",
            dependencies: [
                "CX11", "PlayclockAgent", "PlayclockContract",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Small, tested wrapper over the SQLite C API.
        .target(name: "PlayclockSQLite", dependencies: ["CSQLite"]),

        // MQTT over libmosquitto: validated topics, pure matcher, supervised client.
        .target(
            name: "PlayclockMQTT",
            dependencies: [
                "CMosquitto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Runtime: store schema, hub actor executing core actions, services.
        .target(
            name: "PlayclockHub",
            dependencies: [
                "PlayclockAuth",
                "PlayclockContract", "PlayclockCore",
                "PlayclockSQLite",
                "PlayclockMQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Staff dashboard accounts: bcrypt password file shared by the hub and the CLI.
        .target(
            name: "PlayclockAuth",
            dependencies: ["PlayclockContract", .product(name: "HummingbirdBcrypt", package: "hummingbird-auth")]
        ),

        // The front desk: HTTP dashboard, JSON API, live feed (SSE), /healthz and /metrics.
        // Browser assets are real files embedded into the binary at build time.
        .target(
            name: "PlayclockWeb",
            dependencies: [
                "PlayclockContract", "PlayclockCore",
                "PlayclockHub",
                "PlayclockAuth",
                "PlayclockMQTT",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Assets")]
        ),

        .executableTarget(
            name: "playclockd",
            dependencies: [
                "PlayclockHub",
                "PlayclockWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "playclock",
            dependencies: [
                "PlayclockAuth",
                "PlayclockContract", "PlayclockCore",
                "PlayclockHub",
                "PlayclockMQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Simulated agents and plugs at venue scale (one connection each, or multiplexed).
        .target(
            name: "PlayclockSim",
            dependencies: [
                "PlayclockContract",
                "PlayclockMQTT",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "playclock-sim",
            dependencies: [
                "PlayclockContract",
                "PlayclockMQTT",
                "PlayclockSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // posix_spawn's closefrom action for the agent's child processes (glibc, _GNU_SOURCE).
        .target(name: "CAgentSpawn"),

        // The PC agent: the pure core above, MQTT, and the X11 lock screen and overlay.
        .executableTarget(
            name: "playclock-agent",
            dependencies: [
                "CAgentSpawn",
                "PlayclockAgent",
                "PlayclockAgentX11",
                "PlayclockContract",
                "PlayclockMQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Load, latency and failure benchmark: a private broker, the real playclockd, a simulated venue.
        .executableTarget(
            name: "playclock-bench",
            dependencies: [
                "PlayclockAuth",
                "PlayclockContract",
                "PlayclockMQTT",
                "PlayclockSim",
                "PlayclockSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Fast tests: pure core, SQLite on real files, topic matcher, hub actor against an in-memory transport.
        .testTarget(name: "PlayclockContractTests", dependencies: ["PlayclockContract"]),
        .testTarget(name: "PlayclockCoreTests", dependencies: ["PlayclockContract", "PlayclockCore"]),
        .testTarget(name: "PlayclockAgentTests", dependencies: ["PlayclockContract", "PlayclockAgent"]),
        .testTarget(name: "PlayclockSQLiteTests", dependencies: ["PlayclockSQLite"]),
        .testTarget(name: "PlayclockMQTTTests", dependencies: ["PlayclockMQTT"]),
        .testTarget(name: "PlayclockHubTests", dependencies: ["PlayclockHub", "PlayclockContract", "PlayclockCore"]),
        .testTarget(
            name: "PlayclockWebTests",
            dependencies: [
                "PlayclockWeb", "PlayclockHub", "PlayclockAuth", "PlayclockContract", "PlayclockCore",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Slow tests: a real mosquitto on a free loopback port and the real binaries; the agent's
        // X11 display and the real agent on a real Xvfb, checked with xwininfo, xdotool, xterm, import.
        .testTarget(
            name: "PlayclockIntegrationTests",
            dependencies: [
                "PlayclockMQTT", "PlayclockContract", "PlayclockCore", "PlayclockAgent", "PlayclockAgentX11",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
