import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import PlayclockAuth
import PlayclockCore
import Prometheus
import Synchronization

@testable import PlayclockHub
@testable import PlayclockWeb

let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()

/// Records what the hub publishes (the broker itself is exercised by the integration tests).
final class CapturingTransport: MessageTransport {
    private let sent = Mutex<[(topic: String, payload: [UInt8])]>([])

    var messages: [(topic: String, payload: [UInt8])] { sent.withLock { $0 } }

    func publish(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]?) -> Bool {
        sent.withLock { $0.append((topic, payload)) }
        return true
    }

    func subscribe(_ filter: String, qos: Outbound.QoS, options: SubscriptionOptions) {}
    func unsubscribe(_ filter: String) {}

    func json(on topic: String) -> [JSONValue] {
        messages.filter { $0.topic == topic }.compactMap { try? JSONCoding.decode($0.payload) }
    }
}

/// A hub on a fresh SQLite file with stations PC-01..PC-03, its dashboard, and staff:
/// ann (cashier), max (manager), vic (viewer), all with password "correct horse"; "nobody" has a
/// password but no role. The board token is `boardToken`.
final class DashboardFixture: Sendable {
    static let password = "correct horse"
    static let boardToken = "board-token-0123456789abcdef"

    let directory: URL
    let store: HubStore
    let transport = CapturingTransport()
    let hub: Hub
    let registry = PrometheusCollectorRegistry()
    let dashboard: Dashboard

    var databasePath: String { directory.appendingPathComponent("hub.sqlite").path }

    init(policy: HubPolicy = HubPolicy()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("playclock-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try HubStore(path: directory.appendingPathComponent("hub.sqlite").path)
        try store.importStations(["PC-01", "PC-02", "PC-03"].map { Station(id: StationID($0)!, name: $0, kind: .pc) })

        var accounts = StaffPasswordFile()
        for account in ["ann", "max", "vic", "nobody"] {
            try accounts.setPassword(Self.password, for: account, cost: 4)
        }
        let usersFile = directory.appendingPathComponent("dashboard.passwd").path
        try accounts.write(to: usersFile)
        let tokenFile = directory.appendingPathComponent("board.token").path
        try Data((Self.boardToken + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))

        var config = HubConfiguration()
        config.access = AccessPolicy(roles: ["ann": .cashier, "max": .manager, "vic": .viewer])
        config.http.usersFile = usersFile
        config.http.boardTokenFile = tokenFile
        config.policy = policy
        hub = try Hub(
            topics: TopicScheme(root: "playclock")!, policy: policy, store: store, publisher: transport, clock: SystemClock(),
            logger: quietLogger, access: config.access,
            metrics: HubMetrics(factory: PrometheusMetricsFactory(registry: registry)))
        dashboard = try PlayclockServer.buildDashboard(config, hub: hub, registry: registry, logger: quietLogger)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` against the dashboard served on a free loopback port, as a browser would reach it.
    func test(_ body: @Sendable (WebTestClient) async throws -> Void) async throws {
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: dashboard.buildRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }, logger: quietLogger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw TestFailure("the dashboard did not start listening") }
            do {
                try await body(WebTestClient(serverPort: port))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// A response as the tests look at it.
struct TestResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer
}

/// A plain HTTP client over loopback (URLSession, with its own cookie handling off: the tests
/// send the cookie they were given, or none).
struct WebTestClient: Sendable {
    var serverPort: Int

    func execute<Value>(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        _ check: (TestResponse) throws -> Value
    ) async throws -> Value {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(serverPort)\(uri)")!)
        request.httpMethod = method.rawValue
        request.httpShouldHandleCookies = false
        for field in headers { request.addValue(field.value, forHTTPHeaderField: field.name.rawName) }
        if let body { request.httpBody = Data(body.readableBytesView) }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw TestFailure("not an HTTP response") }
        var fields = HTTPFields()
        for (key, value) in http.allHeaderFields {
            guard let key = key as? String, let name = HTTPField.Name(key), let text = value as? String else { continue }
            fields[name] = text
        }
        return try check(TestResponse(status: .init(code: http.statusCode), headers: fields, body: ByteBuffer(bytes: data)))
    }
}

extension WebTestClient {
    /// Signs in and returns the `Cookie` header value to send with later requests.
    func signIn(_ account: String, password: String = DashboardFixture.password) async throws -> String {
        try await execute(
            uri: "/api/login", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"account":"\#(account)","password":"\#(password)"}"#)
        ) { response in
            guard response.status == .ok, let setCookie = response.headers[.setCookie],
                let pair = setCookie.split(separator: ";").first
            else {
                throw TestFailure("sign-in as \(account) failed: \(response.status) \(String(buffer: response.body))")
            }
            return String(pair)
        }
    }

    /// POSTs a staff command as JSON with the given cookie.
    func command(_ verb: String, _ body: String, cookie: String?, contentType: String = "application/json")
        async throws -> (status: HTTPResponse.Status, json: JSONValue?)
    {
        var headers: HTTPFields = [.contentType: contentType]
        if let cookie { headers[.cookie] = cookie }
        return try await execute(uri: "/api/request/\(verb)", method: .post, headers: headers, body: ByteBuffer(string: body)) {
            ($0.status, try? JSONCoding.decode(Array($0.body.readableBytesView)))
        }
    }

    func get(_ uri: String, cookie: String? = nil, headers extra: HTTPFields = [:]) async throws
        -> (status: HTTPResponse.Status, json: JSONValue?, text: String, headers: HTTPFields)
    {
        var headers = extra
        if let cookie { headers[.cookie] = cookie }
        return try await execute(uri: uri, method: .get, headers: headers) {
            ($0.status, try? JSONCoding.decode(Array($0.body.readableBytesView)), String(buffer: $0.body), $0.headers)
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
