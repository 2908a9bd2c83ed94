import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import PlayclockAuth
import PlayclockHub
import Prometheus
import ServiceLifecycle

/// Assembles the whole daemon: broker connection, hub and (unless `--http off`) the dashboard,
/// as services in one group, ordered by dependency and stopped gracefully on SIGTERM/SIGINT.
public enum PlayclockServer {
    public static func buildServiceGroup(_ config: HubConfiguration, logger: Logger) throws -> ServiceGroup {
        let registry = PrometheusCollectorRegistry()
        let metrics = HubMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let runtime = try PlayclockApp.buildRuntime(config, logger: logger, metrics: metrics)
        var services = runtime.services
        if let listen = config.http.listen {
            let dashboard = try buildDashboard(config, hub: runtime.hub, registry: registry, logger: logger)
            var httpLogger = logger
            httpLogger[metadataKey: "component"] = "http"
            // Listed last, so stopped first: the live feeds end, then the server drains.
            services.append(.init(service: DashboardService(dashboard: dashboard, listen: listen, logger: httpLogger)))
            services.append(.init(service: LiveFeedCloser(feed: runtime.hub.feed)))
            logger.info("dashboard configured", metadata: [
                "http.listen": "\(listen)", "http.max_connections": "\(config.http.maxConnections)",
                "http.max_live_feeds": "\(config.http.maxLiveFeeds)",
            ])
            warnIfDescriptorsShort(maxConnections: config.http.maxConnections, logger: logger)
        }
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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
