import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import PlayclockAuth
import PlayclockContract
import PlayclockCore
import PlayclockHub
import PlayclockMQTT
import Prometheus
import ServiceLifecycle

/// The one place the daemon is assembled (the `@main` in playclockd only turns flags into a
/// configuration and runs what this builds).
public enum PlayclockServer {
    /// Builds everything from the configuration: the store (importing the venue file), the
    /// broker connection, the hub and, unless `--http off`, the dashboard; returns them as
    /// services in one group, ordered by dependency and stopped gracefully on SIGTERM/SIGINT.
    ///
    /// A group starts its services in order and stops them in reverse: the live feeds end, the
    /// HTTP server drains, the hub stops its timers, records alive and announces `offline`, and
    /// only then does the broker connection flush and close.
    ///
    /// Throws `HubStoreError` when the database has damaged rows (nothing runs then).
    public static func buildApplication(_ config: HubConfiguration, logger: Logger) throws -> ServiceGroup {
        guard let topics = TopicScheme(root: config.topicRoot) else {
            throw HubConfiguration.Error("topic root \"\(config.topicRoot)\" is not valid: use levels without '+', '#' or empty parts")
        }
        let registry = PrometheusCollectorRegistry()
        let metrics = HubMetrics(factory: PrometheusMetricsFactory(registry: registry))

        let store = try HubStore(path: config.databasePath)
        if let venue = config.venueFile {
            let added = try store.importStations(try HubConfiguration.readVenue(venue))
            logger.info("venue imported", metadata: ["venue.file": "\(venue)", "venue.added": "\(added.count)"])
        }

        let client = try buildMQTTClient(config, topics: topics, logger: logger)
        let hub = try Hub(
            topics: topics, policy: config.policy, store: store, publisher: MQTTTransport(client: client, logger: logger),
            clock: SystemClock(), logger: logger, access: config.access, metrics: metrics, retention: config.events,
            pricing: config.pricing, counter: config.counter.settings)

        // In start order; stopped in reverse.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: MQTTConnectionService(client: client, drainTimeout: .seconds(2))),
            .init(service: HubService(hub: hub, client: client, logger: logger, systemd: SystemdNotifier())),
        ]
        if let listen = config.http.listen {
            let dashboard = try buildDashboard(config, hub: hub, registry: registry, logger: logger)
            var httpLogger = logger
            httpLogger[metadataKey: "component"] = "http"
            // Listed last, so stopped first: the live feeds end, then the server drains.
            services.append(.init(service: DashboardService(dashboard: dashboard, listen: listen, logger: httpLogger)))
            services.append(.init(service: LiveFeedCloser(feed: hub.feed)))
            logger.info("dashboard configured", metadata: [
                "http.listen": "\(listen)", "http.max_connections": "\(config.http.maxConnections)",
                "http.max_live_feeds": "\(config.http.maxLiveFeeds)",
            ])
            warnIfDescriptorsShort(maxConnections: config.http.maxConnections, logger: logger)
        }
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }

    /// The broker connection, with the hub's `offline` status as its will.
    static func buildMQTTClient(_ config: HubConfiguration, topics: TopicScheme, logger: Logger) throws -> MQTTClient {
        var mqtt = try MQTTClientConfiguration(url: config.brokerURL, clientID: config.clientID)
        mqtt.username = config.username
        mqtt.password = config.password
        if let ca = config.tlsCAFile { mqtt.tlsCAFile = ca }
        mqtt.will = MQTTWill(topic: try MQTTTopic(topics.hubStatus), payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
        var mqttLogger = logger
        mqttLogger[metadataKey: "component"] = "mqtt"
        return MQTTClient(configuration: mqtt, logger: mqttLogger)
    }

    public static func buildDashboard(
        _ config: HubConfiguration, hub: Hub, registry: PrometheusCollectorRegistry, logger: Logger
    ) throws -> Dashboard {
        let boardToken = try config.http.boardTokenFile.map(readBoardToken)
        if config.http.usersFile == nil {
            logger.warning("dashboard has no password file: nobody can sign in (set http.users_file)")
        }
        return buildDashboard(config, hub: hub, registry: registry, logger: logger, boardToken: boardToken, verifier: { file, account, password in
            // bcrypt takes a noticeable time on purpose: keep it off the event loops.
            (try? await NIOThreadPool.singleton.runIfActive { file.verify(password, for: account) }) ?? false
        })
    }

    /// The dashboard with an injected password check (tests count the bcrypt comparisons).
    static func buildDashboard(
        _ config: HubConfiguration, hub: Hub, registry: PrometheusCollectorRegistry, logger: Logger, boardToken: String?,
        clock: any HubClock = SystemClock(), keepAlive: Duration = .seconds(15), verifier: @escaping @Sendable (StaffPasswordFile, String, String) async -> Bool
    ) -> Dashboard {
        let sessions = StaffSessions(
            roles: config.access.roles, usersFile: config.http.usersFile, boardToken: boardToken,
            lifetime: .seconds(config.http.sessionHours * 3600), clock: clock, logger: logger, verifier: verifier)
        return Dashboard(
            hub: hub, sessions: sessions, registry: registry, maxRequestBytes: config.policy.maxRequestBytes,
            sessionLifetimeSeconds: Int(config.http.sessionHours * 3600), secureCookies: config.http.secureCookies,
            keepAlive: keepAlive, maxConnections: config.http.maxConnections, maxLiveFeeds: config.http.maxLiveFeeds,
            trustedProxies: config.http.trustedProxies, logger: logger)
    }
}

/// The dashboard's connections must fit under the process's descriptor limit (systemd's default
/// soft limit is 1024), with room for the broker connection, SQLite and the rest.
func warnIfDescriptorsShort(maxConnections: Int, logger: Logger) {
    var limit = rlimit()
    guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return }
    let needed = UInt64(maxConnections) + 128
    if UInt64(limit.rlim_cur) < needed {
        logger.warning("http.max_connections is close to the open-file limit; lower it or raise LimitNOFILE", metadata: [
            "http.max_connections": "\(maxConnections)", "process.nofile_limit": "\(limit.rlim_cur)",
        ])
    }
}

#if os(Linux)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif

/// The wall board's token: the first line of its file, at least 16 characters of A-Z a-z 0-9 - _.
func readBoardToken(_ path: String) throws(HubConfiguration.Error) -> String {
    let token = try HubConfiguration.readPassword(path).trimmingCharacters(in: .whitespaces)
    guard token.count >= 16, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
        throw HubConfiguration.Error("board token in \(path) must be at least 16 characters of A-Z a-z 0-9 - _")
    }
    return token
}

/// Serves the dashboard, and keeps trying when it cannot: a taken port or a failed listener must
/// never take the timers down with it. The hub goes on keeping time (and the broker API keeps
/// working) while this logs the failure and retries every few seconds.
struct DashboardService: Service {
    let dashboard: Dashboard
    let listen: HubConfiguration.HostPort
    let logger: Logger
    var retryInterval: Duration = .seconds(5)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let app = dashboard.application(address: .hostname(listen.host, port: listen.port), serverName: "playclockd", logger: logger)
            do {
                try await app.run()
                return  // graceful shutdown
            } catch {
                logger.critical("dashboard could not serve; the hub keeps running and retries", metadata: [
                    "http.listen": "\(listen)", "error": "\(error)",
                ])
            }
            await cancelWhenGracefulShutdown { try? await Task.sleep(for: retryInterval) }
        }
    }
}

/// Ends every live feed when shutdown begins, so open dashboards do not hold the HTTP server's
/// graceful shutdown open (their browsers reconnect to the restarted hub).
struct LiveFeedCloser: Service {
    let feed: LiveFeed

    func run() async throws {
        try? await gracefulShutdown()
        feed.finishAll()
    }
}
