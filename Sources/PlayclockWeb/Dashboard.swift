import HTTPTypes
import Hummingbird
import Foundation
import Logging
import NIOCore
import PlayclockContract
import PlayclockCore
import PlayclockHub
import Prometheus

/// The front desk: the dashboard pages, their JSON API, the live feed, `/healthz` and `/metrics`,
/// all served by the hub itself. Every staff action goes to `Hub.request`, the same code path as
/// a request over MQTT, under the signed-in account's name and role.
public struct Dashboard: Sendable {
    let hub: Hub
    let sessions: StaffSessions
    let registry: PrometheusCollectorRegistry
    let maxRequestBytes: Int
    let sessionLifetimeSeconds: Int
    let secureCookies: Bool
    let keepAlive: Duration
    /// Open TCP connections at most (`http.max_connections`); more are closed as they arrive.
    let connections: ConnectionLimiter
    /// Open live feeds at most (`http.max_live_feeds`); more are answered `503`.
    let liveFeeds: SlotPool
    /// Peers whose `X-Forwarded-For` names the client (`http.trusted_proxies`), canonical form.
    let trustedProxies: Set<String>

    static let cookieName = "playclock_session"
    /// Connections idle (no request in progress) this long are closed, so idle keep-alive
    /// connections do not hold places under `max_connections`. Live feeds are never idle.
    static let idleTimeout: TimeAmount = .seconds(60)

    public init(
        hub: Hub, sessions: StaffSessions, registry: PrometheusCollectorRegistry, maxRequestBytes: Int,
        sessionLifetimeSeconds: Int, secureCookies: Bool, keepAlive: Duration = .seconds(15),
        maxConnections: Int = HubConfiguration.HTTPSettings.defaultMaxConnections,
        maxLiveFeeds: Int = HubConfiguration.HTTPSettings.defaultMaxLiveFeeds, trustedProxies: [String] = [],
        logger: Logger = Logger(label: "playclock.web")
    ) {
        self.hub = hub
        self.sessions = sessions
        self.registry = registry
        self.maxRequestBytes = maxRequestBytes
        self.sessionLifetimeSeconds = sessionLifetimeSeconds
        self.secureCookies = secureCookies
        self.keepAlive = keepAlive
        self.connections = ConnectionLimiter(limit: maxConnections, logger: logger)
        self.liveFeeds = SlotPool(limit: maxLiveFeeds)
        self.trustedProxies = Set(trustedProxies.compactMap(HubConfiguration.canonicalIP))
    }

    /// The HTTP server for this dashboard: HTTP/1.1 with the connection cap and idle timeout.
    public func application(
        address: BindAddress, serverName: String? = nil, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        logger: Logger
    ) -> some ApplicationProtocol {
        let connections = self.connections
        return Application(
            router: buildRouter(),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionLimitHandler(limiter: connections)], idleTimeout: Self.idleTimeout)),
            configuration: .init(address: address, serverName: serverName), onServerRunning: onServerRunning, logger: logger)
    }

    public func buildRouter() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: StaffAuthMiddleware(sessions: sessions))

        // Pages and their assets: public (they hold no data; the API behind them asks who you are).
        for asset in Assets.all {
            router.get(RouterPath(asset.path)) { _, _ in asset.response() }
        }
        router.get("/healthz") { _, _ in await health() }
        router.get("/metrics") { _, _ in await metrics() }

        let api = router.group("api")
        api.post("login") { request, context in try await signIn(request, context) }
        api.post("logout") { request, context in await signOut(request, context) }
        api.get("me") { _, context in
            guard let who = context.identity else { return APIResponse.error(.unauthorized, .unauthenticated, "sign in first") }
            return APIResponse.json(Self.describe(who))
        }
        api.get("stations") { _, context in
            guard context.identity != nil else { return APIResponse.error(.unauthorized, .unauthenticated, "sign in first") }
            return APIResponse.json(["stations": .array(await hub.stations())])
        }
        api.get("events") { request, context in try await events(request, context) }
        api.get("live") { _, context in
            guard context.identity != nil else { return APIResponse.error(.unauthorized, .unauthenticated, "sign in first") }
            guard let slot = liveFeeds.acquire() else {
                return APIResponse.error(
                    .serviceUnavailable, .tooManyLiveFeeds, "the hub serves \(liveFeeds.limit) live feeds at most; retrying shortly",
                    headers: [.retryAfter: "5"])
            }
            return await live(holding: slot)
        }
        api.post("request/:group/:action") { request, context in try await command(request, context) }
        return router
    }

    // MARK: - Sign-in

    private func signIn(_ request: Request, _ context: WebContext) async throws -> Response {
        if let refusal = Self.refuseUnlessJSON(request) { return refusal }
        guard let body = try await Self.readBody(request, limit: 4096) else {
            return APIResponse.error(.contentTooLarge, .payloadTooLarge, "the sign-in request is too large")
        }
        guard let fields = (try? JSONCoding.decode(body))?.objectValue,
            let account = fields["account"]?.stringValue, let password = fields["password"]?.stringValue
        else {
            return APIResponse.error(.badRequest, .invalidRequest, "send {\"account\": \"...\", \"password\": \"...\"}")
        }
        switch await sessions.signIn(account: account, password: password, from: clientKey(request, context)) {
        case .failure(let error):
            // Refusals are counted and logged once a minute by `StaffSessions`, not one line each.
            let status: HTTPResponse.Status
            var headers: HTTPFields = [:]
            switch error.code {
            case .invalidCredentials: status = .unauthorized
            case .throttled:
                status = .tooManyRequests
                headers[.retryAfter] = "\(error.retryAfterSeconds ?? 1)"
            case .unavailable: status = .serviceUnavailable
            }
            return APIResponse.error(status, error.code.errorCode, error.message, headers: headers)
        case .success(let (token, identity)):
            context.logger.info("dashboard sign-in", metadata: ["staff.account": "\(identity.account)", "staff.role": "\(identity.role.rawValue)"])
            var response = APIResponse.json(Self.describe(identity))
            response.setCookie(Cookie(name: Self.cookieName, value: token, maxAge: sessionLifetimeSeconds, path: "/",
                                      secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
    }

    private func signOut(_ request: Request, _ context: WebContext) async -> Response {
        if let token = request.cookies[Self.cookieName]?.value { await sessions.signOut(session: token) }
        var response = APIResponse.json(["status": "ok"])
        response.setCookie(Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true,
                                  sameSite: .strict))
        return response
    }

    /// Whom the sign-in brake counts this request against: the TCP peer, or, when the peer is a
    /// trusted proxy, the last address in `X-Forwarded-For` (the one that proxy added).
    func clientKey(_ request: Request, _ context: WebContext) -> String {
        guard !trustedProxies.isEmpty, let peer = context.remoteAddress?.ipAddress.flatMap(HubConfiguration.canonicalIP),
            trustedProxies.contains(peer), let forwarded = request.headers[values: HTTPField.Name("X-Forwarded-For")!].last,
            let last = forwarded.split(separator: ",").last.map({ $0.trimmingCharacters(in: .whitespaces) }),
            let client = try? SocketAddress(ipAddress: last, port: 0)
        else { return context.clientKey }
        return WebContext.clientKey(client)
    }

    /// Who is signed in and which verbs the hub will take from them (from the role table; none
    /// from the board's read-only token): the page offers exactly those actions.
    static func describe(_ who: StaffIdentity) -> JSONValue {
        let verbs = who.kind == .board ? [] : who.role.permittedVerbs
        return ["account": .string(who.account), "role": .string(who.role.rawValue), "read_only": .bool(who.kind == .board),
                "verbs": .array(verbs.map { .string($0.rawValue) })]
    }

    // MARK: - Reading

    private func events(_ request: Request, _ context: WebContext) async throws -> Response {
        guard context.identity != nil else { return APIResponse.error(.unauthorized, .unauthenticated, "sign in first") }
        var station: StationID?
        if let raw = request.uri.queryParameters.get("station"), !raw.isEmpty {
            guard let id = StationID(raw) else {
                return APIResponse.error(.badRequest, .invalidStationID, "station must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
            }
            station = id
        }
        var limit = 100
        if let raw = request.uri.queryParameters.get("limit") {
            guard let n = Int(raw), (1...1000).contains(n) else {
                return APIResponse.error(.badRequest, .invalidRequest, "limit must be a whole number in 1...1000")
            }
            limit = n
        }
        do {
            return APIResponse.json(["events": .array(try await hub.recentEvents(station: station, limit: limit))])
        } catch {
            context.logger.error("event log read failed", metadata: ["error": "\(error)"])
            return APIResponse.error(.serviceUnavailable, .storageFailed, "the hub could not read its event log")
        }
    }

    /// Server-sent events: a snapshot of every station, then every change as it happens.
    private func live(holding slot: SlotPool.Slot) async -> Response {
        let start = await hub.watch()
        let broker = await hub.brokerConnected
        let snapshot: JSONValue = [
            "stations": .array(start.stations), "server_time_ms": .int(start.serverTimeMillis), "broker": .bool(broker),
            "policy": [
                "plug_active_watts": .double(hub.policy.plugActiveWatts),
                "warn_thresholds_s": .array(hub.policy.warnThresholdsSeconds.map { .int($0) }),
            ],
        ]
        let keepAlive = self.keepAlive
        let body = ResponseBody { writer in
            // The feed's place under `max_live_feeds` is given back when this body is dropped.
            defer { withExtendedLifetime(slot) {} }
            // Bounded like the feed itself: a client that stops reading is cut off (its browser
            // reconnects and starts from a fresh snapshot) rather than buffered without limit.
            let (lines, out) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingOldest(1024))
            out.yield(LiveEvents.frame(retryMillis: 2000))
            out.yield(LiveEvents.frame(event: "snapshot", data: JSONCoding.encode(snapshot)))
            // Forwarding the hub's changes and the keep-alive pings are child tasks of this body:
            // they end with it (cancelled once the last frame is written or writing fails).
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await item in start.changes {
                        if case .dropped = out.yield(LiveEvents.frame(item)) { break }
                    }
                    out.finish()  // the hub stopped, or this watcher fell behind: the browser reconnects
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: keepAlive)
                        out.yield(LiveEvents.comment("ping"))
                    }
                }
                defer { group.cancelAll() }
                for await frame in lines {
                    try await writer.write(frame)
                }
                try await writer.finish(nil)
            }
        }
        return Response(status: .ok, headers: [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no",
        ], body: body)
    }

    // MARK: - Commands

    private func command(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let who = context.identity else { return APIResponse.error(.unauthorized, .unauthenticated, "sign in first") }
        guard who.kind == .staff else {
            return APIResponse.error(.forbidden, .forbidden, "the board token is read-only; sign in as staff to send commands")
        }
        if let refusal = Self.refuseUnlessJSON(request) { return refusal }
        let verb = "\(context.parameters.get("group") ?? "")/\(context.parameters.get("action") ?? "")"
        // One byte over the hub's limit is enough for the hub to refuse it with its own message.
        guard let body = try await Self.readBody(request, limit: maxRequestBytes + 1) else {
            return APIResponse.error(.contentTooLarge, .payloadTooLarge, "the request is larger than \(maxRequestBytes) bytes")
        }
        let outcome = await hub.request(verb: verb, payload: body, user: who.account, via: "http")
        switch outcome.result {
        case .success: return APIResponse.json(outcome.responseJSON)
        case .failure(let error): return APIResponse.json(outcome.responseJSON, status: APIResponse.status(for: error.code))
        }
    }

    // MARK: - Operations

    private func health() async -> Response {
        let summary = await hub.summary()
        let healthy = summary.brokerConnected
        return APIResponse.json([
            "status": .string(healthy ? "ok" : "degraded"),
            "broker": .string(summary.brokerConnected ? "connected" : "disconnected"),
            "stations": .int(Int64(summary.stations)), "online": .int(Int64(summary.online)),
            "sessions_active": .int(Int64(summary.active)), "sessions_paused": .int(Int64(summary.paused)),
        ], status: healthy ? .ok : .serviceUnavailable)
    }

    private func metrics() async -> Response {
        let summary = await hub.summary()
        registry.makeGauge(name: "playclock_sessions_active", help: "Sessions running (not paused)").set(Int64(summary.active))
        registry.makeGauge(name: "playclock_sessions_paused", help: "Sessions paused").set(Int64(summary.paused))
        registry.makeGauge(name: "playclock_stations", help: "Stations configured").set(Int64(summary.stations))
        registry.makeGauge(name: "playclock_stations_online", help: "Stations whose agent is online").set(Int64(summary.online))
        registry.makeGauge(name: "playclock_broker_connected", help: "1 while the hub is connected to the broker")
            .set(Int64(summary.brokerConnected ? 1 : 0))
        for status in StationStatus.allCases {
            registry.makeGauge(name: "playclock_stations_by_status", labels: [("status", status.rawValue)], help: "Stations by status")
                .set(Int64(summary.byStatus[status] ?? 0))
        }
        registry.makeGauge(name: "playclock_heartbeats_ignored", help: "Heartbeats ignored since the start: closer together than a fifth of the interval")
            .set(Int64(summary.redundantHeartbeats))
        let inbound = hub.inboundStatistics
        registry.makeGauge(name: "playclock_mqtt_inbound_shed", help: "Redundant heartbeats shed by the hub's inbound queue since it started (nothing else is ever shed)")
            .set(Int64(inbound.shed))
        registry.makeGauge(name: "playclock_mqtt_inbound_queued", help: "Messages waiting for the hub").set(Int64(inbound.queued))
        registry.makeGauge(name: "playclock_mqtt_inbound_backpressure", help: "Times the hub paused reading from the broker since it started")
            .set(Int64(inbound.backpressureEvents))
        registry.makeGauge(name: "playclock_dashboard_live_clients", help: "Open live feeds (dashboards and boards)")
            .set(Int64(hub.feed.watcherCount))
        registry.makeGauge(name: "playclock_http_connections", help: "Open dashboard HTTP connections").set(Int64(connections.open))
        registry.makeGauge(name: "playclock_http_connections_refused", help: "Connections closed on arrival over http.max_connections")
            .set(Int64(connections.refused))
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    // MARK: - Helpers

    /// Commands and sign-ins must be JSON: a plain HTML form (another site's, say) cannot send
    /// that without the browser asking first, which, with the SameSite=Strict cookie, keeps
    /// cross-site requests out.
    static func refuseUnlessJSON(_ request: Request) -> Response? {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/json") else {
            return APIResponse.error(.unsupportedMediaType, .invalidRequest, "send the request as Content-Type: application/json")
        }
        return nil
    }

    /// The body, or nil when it is larger than `limit` bytes.
    static func readBody(_ request: Request, limit: Int) async throws -> [UInt8]? {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            return nil
        }
    }
}

/// Resolves who is asking: the session cookie (staff), else the board token (`?token=` or
/// `Authorization: Bearer`). Routes decide what an identity may do.
struct StaffAuthMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let sessions: StaffSessions

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        var context = context
        if let token = request.cookies[Dashboard.cookieName]?.value, !token.isEmpty {
            context.identity = await sessions.identity(session: token)
        }
        if context.identity == nil {
            let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            if let token = bearer ?? request.uri.queryParameters.get("token") {
                context.identity = sessions.identity(boardToken: token)
            }
        }
        if let who = context.identity { context.logger[metadataKey: "staff.account"] = "\(who.account)" }
        return try await next(request, context)
    }
}
