import Foundation
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import PlayclockAuth
import PlayclockContract
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

    init(
        policy: HubPolicy = HubPolicy(), configure: (inout HubConfiguration.HTTPSettings) -> Void = { _ in },
        keepAlive: Duration? = nil,
        verifier: (@Sendable (StaffPasswordFile, String, String) async -> Bool)? = nil
    ) throws {
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
        configure(&config.http)
        hub = try Hub(
            topics: TopicScheme(root: "playclock")!, policy: policy, store: store, publisher: transport, clock: SystemClock(),
            logger: quietLogger, access: config.access,
            metrics: HubMetrics(factory: PrometheusMetricsFactory(registry: registry)))
        if verifier != nil || keepAlive != nil {
            let verifier = verifier ?? { file, account, password in file.verify(password, for: account) }
            dashboard = PlayclockServer.buildDashboard(
                config, hub: hub, registry: registry, logger: quietLogger, boardToken: Self.boardToken, keepAlive: keepAlive ?? .seconds(15),
                verifier: verifier)
        } else {
            dashboard = try PlayclockServer.buildDashboard(config, hub: hub, registry: registry, logger: quietLogger)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` against the dashboard served on a free loopback port, as a browser would reach it.
    func test(_ body: @Sendable (WebTestClient) async throws -> Void) async throws {
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = dashboard.application(
            address: .hostname("127.0.0.1", port: 0), onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: quietLogger)
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

/// HTTP/1.1 over a plain socket, for what URLSession cannot do: choose the source address
/// (Linux routes all of 127/8 to loopback, so 127.0.0.2 is "another device"), hold a connection
/// open, or read the start of a stream. Blocking calls run on their own thread.
enum RawHTTP {
    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]  // lower-cased names
        var body: String
    }

    /// A connected socket to 127.0.0.1:`port`, bound to `source` first. Throws when connect fails.
    static func connect(port: Int, from source: String = "127.0.0.1") throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_port = 0
        inet_pton(AF_INET, source, &local.sin_addr)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw TestFailure("bind \(source): \(errno)")
        }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw TestFailure("connect: \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    static func request(method: String, path: String, headers: [String: String] = [:], body: String = "") -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + body
    }

    /// Reads until the head and `Content-Length` bytes of body are in (or, with `headOnly`, the
    /// head alone: for streams). nil when the server closed the connection before answering.
    static func readReply(_ fd: Int32, headOnly: Bool = false) -> Reply? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let reply = parse(data, headOnly: headOnly) { return reply }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 4096, 0) }
            if n <= 0 { return nil }
            data += chunk[0..<n]
        }
    }

    private static func parse(_ data: [UInt8], headOnly: Bool) -> Reply? {
        let text = String(decoding: data, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = String(text[end.upperBound...])
        if headOnly { return Reply(status: status, headers: headers, body: body) }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        guard body.utf8.count >= length else { return nil }
        return Reply(status: status, headers: headers, body: body)
    }

    /// Whether the server closes `fd` (reads end of stream) within `seconds`, without sending anything.
    static func isClosedByServer(_ fd: Int32, within seconds: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, seconds * 1000) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0
    }

    /// One request on a fresh connection from `source`, run on its own thread.
    static func exchange(port: Int, from source: String, method: String, path: String, headers: [String: String] = [:],
                         body: String = "") async throws -> Reply {
        try await onThread {
            let fd = try connect(port: port, from: source)
            defer { close(fd) }
            guard send(fd, request(method: method, path: path, headers: headers.merging(["Connection": "close"]) { a, _ in a }, body: body)),
                let reply = readReply(fd)
            else { throw TestFailure("no answer from the dashboard") }
            return reply
        }
    }

    /// Runs blocking socket work off the cooperative pool.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}

/// Waits (polling, loosely bounded) until `condition` holds.
func eventually(within seconds: Double = 10, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// A manual monotonic clock for `StaffSessions`.
final class ManualHubClock: HubClock {
    private let mono = Mutex<Int64>(1_000_000_000)

    func now() -> Timestamp { Timestamp(wallMillis: 1_700_000_000_000, monoNanos: mono.withLock { $0 }, bootID: "test") }

    func advance(seconds: Double) { mono.withLock { $0 += Int64(seconds * 1e9) } }
}
