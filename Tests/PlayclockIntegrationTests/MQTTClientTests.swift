import Foundation
import Logging
import PlayclockMQTT
import Synchronization
import Testing

@Suite(.serialized) struct MQTTClientTests {
    @Test func roundTripQoS0QoS1AndQoS2() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "roundtrip")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.subscribe(try MQTTTopicFilter("rt/+"), qos: .exactlyOnce)
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))

        // Same connection: the SUBSCRIBE is queued before these PUBLISHes, so the broker routes them back.
        #expect(client.publish(try MQTTTopic("rt/zero"), payload: Array("q0".utf8)) == .sent)
        #expect(client.publish(try MQTTTopic("rt/one"), payload: Array("q1".utf8), qos: .atLeastOnce) == .sent)
        #expect(client.publish(try MQTTTopic("rt/two"), payload: [0, 255, 7], qos: .exactlyOnce) == .sent)
        #expect(client.publish(try MQTTTopic("rt/empty"), payload: []) == .sent)
        #expect(await client.flush(timeout: .seconds(5)))

        let zero = try #require(await log.message(on: "rt/zero"))
        #expect(zero.payload == Array("q0".utf8))
        #expect(zero.qos == .atMostOnce)
        #expect(!zero.retain)
        #expect(zero.correlationData == nil && zero.responseTopic == nil)
        let one = try #require(await log.message(on: "rt/one"))
        #expect(one.payload == Array("q1".utf8))
        #expect(one.qos == .atLeastOnce)
        let two = try #require(await log.message(on: "rt/two"))
        #expect(two.payload == [0, 255, 7])
        #expect(two.qos == .exactlyOnce)
        #expect(try #require(await log.message(on: "rt/empty")).payload.isEmpty)
        #expect(log.count { if case .connected = $0 { true } else { false } } == 1)
    }

    @Test func flushWaitsForManyQoS1Acks() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "flush")
        defer { client.stop() }
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        let topic = try MQTTTopic("flush/x")
        for index in 0..<200 {
            #expect(client.publish(topic, payload: Array("\(index)".utf8), qos: .atLeastOnce) == .sent)
        }
        #expect(await client.flush(timeout: .seconds(5)))
        // flush() returned only after the broker had acknowledged every one of them.
        #expect(broker.log.components(separatedBy: "Sending PUBACK to flush ").count - 1 == 200)
    }

    @Test func retainedMessageIsDeliveredToLaterSubscriber() async throws {
        let broker = try await MosquittoBroker()
        let publisher = try makeMQTTClient(broker, id: "retain-pub")
        defer { publisher.stop() }
        publisher.start()
        #expect(await publisher.waitUntilConnected(timeout: .seconds(5)))
        let status = try MQTTTopic("status/hub")
        #expect(publisher.publish(status, payload: Array("online".utf8), qos: .atLeastOnce, retain: true) == .sent)
        #expect(await publisher.flush(timeout: .seconds(5)))

        let subscriber = try makeMQTTClient(broker, id: "retain-sub")
        defer { subscriber.stop() }
        let log = MQTTEventLog(subscriber)
        subscriber.subscribe(try MQTTTopicFilter("status/#"), qos: .atLeastOnce)
        subscriber.start()
        let message = try #require(await log.message(on: "status/hub"))
        #expect(message.payload == Array("online".utf8))
        #expect(message.retain)
    }

    @Test func correlationDataSurvivesRoundTrip() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "correlation")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.subscribe(try MQTTTopicFilter("req/#"), qos: .atLeastOnce)
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        let correlation: [UInt8] = [0, 1, 2, 0xFE, 0xFF]
        #expect(client.publish(
            try MQTTTopic("req/a"), payload: Array("ping".utf8), qos: .atLeastOnce, correlationData: correlation) == .sent)
        let message = try #require(await log.message(on: "req/a"))
        #expect(message.correlationData == correlation)
        #expect(message.responseTopic == nil)
        #expect(message.payload == Array("ping".utf8))
    }

    @Test func responseTopicAndCorrelationDataFromMosquittoPub() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "response")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.subscribe(try MQTTTopicFilter("cmd/#"), qos: .atLeastOnce)
        client.start()
        try await ensureMQTTSubscribed(client, log, topic: "cmd/probe")

        let pub = try ChildProcess("/usr/bin/mosquitto_pub", arguments: [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-V", "mqttv5", "-q", "1", "-t", "cmd/start", "-m", "go",
            "-D", "publish", "response-topic", "reply/42", "-D", "publish", "correlation-data", "abc",
        ])
        defer { pub.kill() }
        #expect(await pub.waitForExit(timeout: .seconds(5)) == 0, "\(pub.output)")
        let message = try #require(await log.message(on: "cmd/start"))
        #expect(message.payload == Array("go".utf8))
        #expect(message.responseTopic == "reply/42")
        #expect(message.correlationData == Array("abc".utf8))
    }

    @Test func willIsNotPublishedOnCleanStop() async throws {
        let broker = try await MosquittoBroker()
        let observer = try makeMQTTClient(broker, id: "will-observer")
        defer { observer.stop() }
        let log = MQTTEventLog(observer)
        observer.subscribe(try MQTTTopicFilter("will/#"), qos: .atLeastOnce)
        observer.start()
        try await ensureMQTTSubscribed(observer, log, topic: "will/probe")

        let client = try makeMQTTClient(broker, id: "will-clean") {
            $0.will = MQTTWill(topic: try MQTTTopic("will/clean"), payload: Array("gone".utf8), qos: .atLeastOnce)
        }
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        client.stop()
        #expect(!client.isConnected)
        #expect(await log.message(on: "will/clean", timeout: .seconds(1)) == nil)
        #expect(broker.log.contains("Received DISCONNECT from will-clean"))
    }

    /// The client's connection is cut abruptly (a relay in front of the broker drops both sockets),
    /// so the broker publishes the will the client registered in its CONNECT.
    @Test func willIsPublishedWhenConnectionIsCutAbruptly() async throws {
        let broker = try await MosquittoBroker()
        let observer = try makeMQTTClient(broker, id: "will-observer")
        defer { observer.stop() }
        let log = MQTTEventLog(observer)
        observer.subscribe(try MQTTTopicFilter("will/#"), qos: .atLeastOnce)
        observer.start()
        try await ensureMQTTSubscribed(observer, log, topic: "will/probe")

        let relay = try TCPRelay(upstreamPort: broker.port)
        defer { relay.abort() }
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: relay.port, clientID: "will-abrupt")
        configuration.will = MQTTWill(topic: try MQTTTopic("will/abrupt"), payload: Array("lost".utf8), qos: .atLeastOnce)
        let client = MQTTClient(configuration: configuration, logger: testLogger)
        defer { client.stop() }
        let clientLog = MQTTEventLog(client)
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        relay.abort()

        let will = try #require(await log.message(on: "will/abrupt"))
        #expect(will.payload == Array("lost".utf8))
        #expect(await clientLog.first { if case .disconnected = $0 { true } else { nil } } == true)
        #expect(!client.isConnected)
    }

    @Test func reconnectsAndResubscribesAfterBrokerRestart() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "reconnect")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.subscribe(try MQTTTopicFilter("re/#"), qos: .atLeastOnce)
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        let topic = try MQTTTopic("re/x")
        #expect(client.publish(topic, payload: Array("before".utf8), qos: .atLeastOnce) == .sent)
        #expect(await log.message(on: "re/x") { $0.payload == Array("before".utf8) } != nil)

        broker.stop()
        let reason = await log.first { if case .disconnected(let reason) = $0 { reason } else { nil } }
        #expect(reason != nil)
        #expect(!client.isConnected)
        #expect(client.publish(topic, payload: Array("lost".utf8), qos: .atLeastOnce) == .droppedNotConnected)

        try await broker.restart()
        #expect(await poll(timeout: .seconds(5)) { log.count { if case .connected = $0 { true } else { false } } == 2 })
        #expect(client.isConnected)
        // A fresh broker has no session: the message only arrives if the client subscribed again.
        #expect(client.publish(topic, payload: Array("after".utf8), qos: .atLeastOnce) == .sent)
        #expect(await log.message(on: "re/x") { $0.payload == Array("after".utf8) } != nil)
        #expect(log.messages(on: "re/x").allSatisfy { $0.payload != Array("lost".utf8) })
    }

    @Test func publishWhileDisconnectedIsDropped() async throws {
        let broker = try await MosquittoBroker()
        broker.stop()
        let client = try makeMQTTClient(broker, id: "offline")
        defer { client.stop() }
        client.start()
        #expect(await !client.waitUntilConnected(timeout: .milliseconds(300)))
        let topic = try MQTTTopic("offline/x")
        #expect(client.publish(topic, payload: [1]) == .droppedNotConnected)
        #expect(client.publish(topic, payload: [1], qos: .atLeastOnce) == .droppedNotConnected)
        #expect(client.publish(topic, payload: [1], qos: .exactlyOnce, retain: true) == .droppedNotConnected)
        // Nothing was queued, so there is nothing to flush.
        #expect(await client.flush(timeout: .milliseconds(100)))

        // The client keeps retrying and connects once the broker is up.
        try await broker.restart()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        #expect(client.publish(topic, payload: [1], qos: .atLeastOnce) == .sent)
    }

    @Test func stopIsIdempotentAndFinishesEvents() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "stopper")
        let log = MQTTEventLog(client)
        client.start()
        #expect(await client.waitUntilConnected(timeout: .seconds(5)))
        let clock = ContinuousClock()
        let elapsed = clock.measure { client.stop() }
        #expect(elapsed < .seconds(1))
        client.stop()
        #expect(!client.isConnected)
        #expect(await log.waitUntilFinished(timeout: .seconds(2)))
        #expect(client.publish(try MQTTTopic("x"), payload: []) != .sent)
        client.start()
        #expect(!client.isConnected)

        let neverStarted = try makeMQTTClient(broker, id: "never")
        neverStarted.stop()
        neverStarted.stop()
        #expect(await MQTTEventLog(neverStarted).waitUntilFinished(timeout: .seconds(1)))
    }

    /// A broker that refuses every CONNECT (MQTT v5 CONNACK "not authorized"): the client keeps
    /// retrying with its backoff, and its loop neither spins nor reports a connection.
    @Test func aRefusedConnectIsRetriedWithBackoffWithoutSpinning() async throws {
        let port = try freeLoopbackPort()
        let directory = try makeTemporaryDirectory(prefix: "mosquitto-refusing")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("mosquitto.conf")
        try "listener \(port) 127.0.0.1\nallow_anonymous false\npersistence false\n".write(to: config, atomically: true, encoding: .utf8)
        let broker = try ChildProcess(MosquittoBroker.executable, arguments: ["-c", config.path], directory: directory)
        defer { broker.kill() }
        #expect(await poll(timeout: .seconds(5)) { canConnect(toLoopbackPort: port) })

        let lines = CapturedLines()
        var logger = Logger(label: "refused") { _ in CapturedLinesHandler(lines: lines) }
        logger.logLevel = .debug
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: port, clientID: "refused")
        configuration.reconnectDelayMax = .milliseconds(400)
        let client = MQTTClient(configuration: configuration, logger: logger)
        defer { client.stop() }
        let log = MQTTEventLog(client)
        client.start()
        try await Task.sleep(for: .milliseconds(1500))
        let refusals = lines.count("mqtt connection refused")
        // 100, 200, 400, 400... ms between attempts: a handful in 1.5 s, not thousands.
        #expect((2...12).contains(refusals), "\(refusals) refusals")
        #expect(!client.isConnected)
        #expect(log.count { if case .connected = $0 { true } else { false } } == 0)
        let clock = ContinuousClock()
        #expect(clock.measure { client.stop() } < .seconds(1))
    }

    @Test func configurationParsesURLs() throws {
        let plain = try MQTTClientConfiguration(url: "mqtt://127.0.0.1:1884", clientID: "a")
        #expect(plain.host == "127.0.0.1" && plain.port == 1884)
        #expect(try MQTTClientConfiguration(url: "mqtt://broker.local", clientID: "a").port == 1883)
        #expect(try MQTTClientConfiguration(url: "mqtts://broker.local/", clientID: "a").port == 8883)
        let v6 = try MQTTClientConfiguration(url: "mqtt://[::1]:2000", clientID: "a")
        #expect(v6.host == "::1" && v6.port == 2000)
        #expect(throws: MQTTURLError.unsupportedScheme("http://x")) { try MQTTClientConfiguration(url: "http://x", clientID: "a") }
        #expect(throws: MQTTURLError.missingHost("mqtt://:1883")) { try MQTTClientConfiguration(url: "mqtt://:1883", clientID: "a") }
        #expect(throws: MQTTURLError.invalidPort("mqtt://h:0")) { try MQTTClientConfiguration(url: "mqtt://h:0", clientID: "a") }
        #expect(throws: MQTTURLError.invalidPort("mqtt://h:x")) { try MQTTClientConfiguration(url: "mqtt://h:x", clientID: "a") }
        #expect(throws: MQTTURLError.unexpectedPath("mqtt://h/a")) { try MQTTClientConfiguration(url: "mqtt://h/a", clientID: "a") }
    }
}

// MARK: - Helpers

private let testLogger: Logger = {
    var logger = Logger(label: "mqtt-test")
    logger.logLevel = .debug
    return logger
}()

func makeMQTTClient(
    _ broker: MosquittoBroker, id: String, configure: (inout MQTTClientConfiguration) throws -> Void = { _ in }
) throws -> MQTTClient {
    var configuration = try MQTTClientConfiguration(url: broker.url, clientID: id)
    configuration.reconnectDelayMax = .milliseconds(400)
    try configure(&configuration)
    return MQTTClient(configuration: configuration, logger: testLogger)
}

/// Waits for connect, then proves the subscription is active: a publish on the same connection is
/// processed by the broker after the SUBSCRIBE, so once it comes back, other clients' messages arrive too.
func ensureMQTTSubscribed(_ client: MQTTClient, _ log: MQTTEventLog, topic: String) async throws {
    #expect(await client.waitUntilConnected(timeout: .seconds(5)))
    #expect(client.publish(try MQTTTopic(topic), payload: [], qos: .atLeastOnce) == .sent)
    try #require(await log.message(on: topic) != nil)
}

/// Drains a client's event stream in the background so tests can wait for events with a timeout.
final class MQTTEventLog: Sendable {
    private let events = Mutex<[MQTTClientEvent]>([])
    private let finished = Mutex(false)

    init(_ client: MQTTClient) {
        let stream = client.events
        Task {
            for await event in stream { self.events.withLock { $0.append(event) } }
            self.finished.withLock { $0 = true }
        }
    }

    func count(_ predicate: (MQTTClientEvent) -> Bool) -> Int { events.withLock { $0.filter(predicate).count } }

    func messages(on topic: String) -> [MQTTMessage] {
        events.withLock { events in
            events.compactMap { if case .message(let message) = $0, message.topic == topic { message } else { nil } }
        }
    }

    /// The first event (in arrival order) for which `extract` returns a value, waiting up to `timeout`.
    func first<T: Sendable>(timeout: Duration = .seconds(5), _ extract: (MQTTClientEvent) -> T?) async -> T? {
        var found: T?
        _ = await poll(timeout: timeout) {
            found = events.withLock { $0.lazy.compactMap(extract).first }
            return found != nil
        }
        return found
    }

    func message(
        on topic: String, timeout: Duration = .seconds(5), where predicate: (MQTTMessage) -> Bool = { _ in true }
    ) async -> MQTTMessage? {
        await first(timeout: timeout) {
            if case .message(let message) = $0, message.topic == topic, predicate(message) { message } else { nil }
        }
    }

    func waitUntilFinished(timeout: Duration) async -> Bool {
        await poll(timeout: timeout) { finished.withLock { $0 } }
    }
}

private final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    func count(_ message: String) -> Int { lines.withLock { $0.filter { $0 == message }.count } }
}

private struct CapturedLinesHandler: LogHandler {
    let lines: CapturedLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { lines.append(event.message.description) }
}

/// Re-evaluates `condition` every 10 ms until it holds (true) or `timeout` passes (false).
private func poll(timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// Relays one TCP connection from a loopback port to the broker. `abort()` shuts both sockets down
/// without an MQTT DISCONNECT, as if the client had crashed.
private final class TCPRelay: Sendable {
    let port: Int
    /// Sockets owned by the relay thread while they are open.
    private let sockets: Mutex<[Int32]>

    init(upstreamPort: Int) throws {
        let (listener, port) = try listenOnLoopback()
        self.port = port
        sockets = Mutex([listener])
        Thread { self.relay(listener: listener, upstreamPort: upstreamPort) }.start()
    }

    func abort() {
        sockets.withLock { $0.forEach { shutdown($0, Int32(SHUT_RDWR)) } }
    }

    private func relay(listener: Int32, upstreamPort: Int) {
        defer { sockets.withLock { $0.forEach { close($0) }; $0 = [] } }
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        sockets.withLock { $0.append(client) }
        guard let upstream = connectToLoopback(port: upstreamPort) else { return }
        sockets.withLock { $0.append(upstream) }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while poll(&fds, 2, -1) > 0 {
            for index in fds.indices where fds[index].revents != 0 {
                let count = recv(fds[index].fd, &buffer, buffer.count, 0)
                guard count > 0, send(fds[1 - index].fd, buffer, count, Int32(MSG_NOSIGNAL)) == count else { return }
            }
        }
    }
}
