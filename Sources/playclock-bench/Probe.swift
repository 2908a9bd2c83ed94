import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT
import PlayclockSim
import Synchronization

/// Everything the simulated devices saw, per device. The recovery phase polls it every 20 ms
/// while the hub is being measured, so a lookup reads one device's arrivals, not every arrival.
final class ArrivalLog: Sendable {
    private let arrivals = Mutex<[String: [Arrival]]>([:])

    func record(_ arrival: Arrival) { arrivals.withLock { $0[arrival.device, default: []].append(arrival) } }

    /// The first arrival of `kind` for `device` at or after `since` (each device's arrivals come
    /// in receive order: one connection, or one simulator process, per device).
    func first(_ kind: Arrival.Kind, device: String, since: Int64, session: String? = nil) -> Arrival? {
        arrivals.withLock { byDevice in
            byDevice[device]?.first { $0.kind == kind && $0.wallNanos >= since && (session == nil || $0.session == session) }
        }
    }
}

/// The bench's own staff client: sends requests, times responses, and watches hub status and
/// station states.
final class Probe: Sendable {
    struct Response: Sendable {
        var receivedNanos: Int64
        var body: JSONValue
    }

    struct State: Sendable {
        var pending: [String: Int64] = [:]
        var responses: [String: Response] = [:]
        var statuses: [(nanos: Int64, status: String)] = []
        /// Station -> (receive time, online, status) of its latest state message.
        var states: [String: (nanos: Int64, retained: Bool, online: Bool?, status: String)] = [:]
        var echoes: [Int64: Int64] = [:]
    }

    let client: MQTTClient
    let echoClient: MQTTClient
    let topics: TopicScheme
    private let state = Mutex(State())
    private let echoTopic: MQTTTopic
    private let counter = Atomic<Int64>(0)

    init(broker: String, topics: TopicScheme, logger: Logger) throws {
        self.topics = topics
        var config = try MQTTClientConfiguration(url: broker, clientID: "playclock-bench-probe")
        config.eventBufferSize = 1 << 20
        client = MQTTClient(configuration: config, logger: logger)
        client.subscribe(try MQTTTopicFilter("\(topics.root)/hub/response/#"), qos: .atLeastOnce)
        client.subscribe(try MQTTTopicFilter(topics.hubStatus), qos: .atLeastOnce)
        client.subscribe(try MQTTTopicFilter("\(topics.root)/stations/+/state"), qos: .atLeastOnce)
        var echoConfig = try MQTTClientConfiguration(url: broker, clientID: "playclock-bench-echo")
        echoConfig.eventBufferSize = 1 << 16
        echoClient = MQTTClient(configuration: echoConfig, logger: logger)
        echoTopic = try MQTTTopic("playclock-bench/echo")
        echoClient.subscribe(try MQTTTopicFilter("playclock-bench/echo"), qos: .atLeastOnce)
    }

    func run() async {
        client.start()
        echoClient.start()
        defer {
            client.stop()
            echoClient.stop()
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.client.events {
                    if case .message(let m) = event { self.receive(m) }
                }
            }
            group.addTask {
                for await event in self.echoClient.events {
                    guard case .message(let m) = event, let n = Int64(String(decoding: m.payload, as: UTF8.self)) else { continue }
                    self.state.withLock { $0.echoes[n] = m.receivedAtWallNanos }
                }
            }
        }
    }

    private func receive(_ m: MQTTMessage) {
        if m.topic == topics.hubStatus {
            let status = String(decoding: m.payload, as: UTF8.self)
            state.withLock { $0.statuses.append((m.receivedAtWallNanos, status)) }
            return
        }
        if m.topic.hasSuffix("/state") {
            guard let body = try? JSONCoding.decode(m.payload), let station = body["station"]?.stringValue else { return }
            let entry = (m.receivedAtWallNanos, m.retain, body["online"]?.boolValue, body["status"]?.stringValue ?? "")
            state.withLock { $0.states[station] = entry }
            return
        }
        guard let body = try? JSONCoding.decode(m.payload), let transaction = body["transaction"]?.stringValue else { return }
        state.withLock { $0.responses[transaction] = Response(receivedNanos: m.receivedAtWallNanos, body: body) }
    }

    func waitUntilConnected() async -> Bool {
        let a = await client.waitUntilConnected(timeout: .seconds(10))
        let b = await echoClient.waitUntilConnected(timeout: .seconds(10))
        return a && b
    }

    /// Sends a request; returns its transaction id.
    @discardableResult
    /// A staff request in the contract's one encoding (`Command.body`), so every run of the bench
    /// also checks that encoding against the real hub.
    func request(_ command: Command) -> String { request(command.verb.rawValue, command.body) }

    func request(_ verb: String, _ fields: [String: JSONValue]) -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        return request(verb, fields, transaction: "b\(n)")
    }

    /// Sends a request with the given transaction id (again, to retry it).
    @discardableResult
    func request(_ verb: String, _ fields: [String: JSONValue], transaction: String) -> String {
        var body = fields
        body["transaction"] = .string(transaction)
        let payload = JSONCoding.encode(.object(body))
        guard let topic = try? MQTTTopic(topics.request(verb)) else { return transaction }
        let sent = wallClockNanos()
        state.withLock { $0.pending[transaction] = sent }
        client.publish(topic, payload: payload, qos: .atLeastOnce)
        return transaction
    }

    func sentAt(_ transaction: String) -> Int64? { state.withLock { $0.pending[transaction] } }
    func response(_ transaction: String) -> Response? { state.withLock { $0.responses[transaction] } }

    /// Waits for the responses of `transactions`; returns how many arrived.
    func waitForResponses(_ transactions: [String], timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let missing = state.withLock { s in transactions.filter { s.responses[$0] == nil }.count }
            if missing == 0 { return transactions.count }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return state.withLock { s in transactions.filter { s.responses[$0] != nil }.count }
    }

    func statuses(since: Int64) -> [(nanos: Int64, status: String)] {
        state.withLock { $0.statuses.filter { $0.nanos >= since } }
    }

    func states() -> [String: (nanos: Int64, retained: Bool, online: Bool?, status: String)] { state.withLock { $0.states } }

    func onlineCount(_ stations: Set<String>) -> Int {
        state.withLock { s in stations.filter { s.states[$0]?.online == true }.count }
    }

    /// Round trips through the broker alone (QoS 1 publish to a subscribed client), in ms.
    func brokerRoundTrips(count: Int, pace: Duration) async -> [Double] {
        var sent: [Int64: Int64] = [:]
        for i in 0..<count {
            let n = Int64(i)
            sent[n] = wallClockNanos()
            echoClient.publish(echoTopic, payload: Array(String(n).utf8), qos: .atLeastOnce)
            try? await Task.sleep(for: pace)
        }
        try? await Task.sleep(for: .milliseconds(500))
        return state.withLock { s in
            sent.compactMap { n, t in s.echoes[n].map { Double($0 - t) / 1e6 } }
        }
    }
}

/// Milliseconds since 1970 of an `ends_at` string such as 2026-11-22T10:00:00.123Z.
func parseISOMillis(_ text: String) -> Int64? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    guard let date = formatter.date(from: text) else { return nil }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// The bench generates its station ids; one that is not valid is a bug in the bench.
func stationID(_ text: String) -> StationID {
    guard let id = StationID(text) else { preconditionFailure("the bench generated an invalid station id") }
    return id
}
