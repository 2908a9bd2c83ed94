import CMosquitto
import Dispatch
import Foundation
import Logging
import Synchronization

private let mosquittoLibraryInit: Int32 = mosquitto_lib_init()

/// An MQTT v5 client over libmosquitto with its own supervised network thread.
///
/// `start()` connects and keeps reconnecting (exponential backoff) until `stop()`.
/// Remembered subscriptions are renewed on every connect. Publishing while disconnected is refused.
public final class MQTTClient: Sendable {
    /// Connection events and received messages. Single consumer; finished by `stop()`.
    public let events: AsyncStream<MQTTClientEvent>
    private let core: Core

    public init(configuration: MQTTClientConfiguration, logger: Logger) {
        let (events, continuation) = AsyncStream.makeStream(
            of: MQTTClientEvent.self, bufferingPolicy: .bufferingNewest(max(1, configuration.eventBufferSize)))
        self.events = events
        self.core = Core(configuration: configuration, logger: logger, continuation: continuation)
    }

    deinit { stop() }

    public var isConnected: Bool { core.state.withLock { $0.connected } }

    /// Spawns the network thread. Calling it again, or after `stop()`, does nothing.
    public func start() {
        guard core.mosq != nil else {
            core.logger.error("mqtt client not started: no libmosquitto handle")
            return
        }
        let shouldStart = core.state.withLock { state in
            defer { state.started = true }
            return !state.started && !state.stopRequested
        }
        guard shouldStart else { return }
        let core = self.core
        let thread = Thread { core.runLoop() }
        thread.name = "mqtt-\(core.configuration.clientID)"
        thread.start()
    }

    /// Remembers the subscription (renewed on every connect) and subscribes now if connected.
    public func subscribe(_ filter: MQTTTopicFilter, qos: MQTTQoS) {
        core.handleAlive.withLock { alive in
            let connected = core.state.withLock { state in
                state.subscriptions[filter] = qos
                return state.connected
            }
            guard alive, connected, let mosq = core.mosq else { return }
            core.subscribe(mosq, filter, qos)
        }
    }

    /// Forgets the subscription and unsubscribes now if connected.
    public func unsubscribe(_ filter: MQTTTopicFilter) {
        core.handleAlive.withLock { alive in
            let connected = core.state.withLock { state in
                state.subscriptions[filter] = nil
                return state.connected
            }
            guard alive, connected, let mosq = core.mosq else { return }
            let rc = mosquitto_unsubscribe_v5(mosq, nil, filter.value, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                core.logger.warning("mqtt unsubscribe failed", metadata: ["mqtt.filter": "\(filter)", "mqtt.error": "\(errorString(rc))"])
            }
        }
    }

    /// Publishes if connected; otherwise returns `.droppedNotConnected` without queueing anything.
    @discardableResult
    public func publish(
        _ topic: MQTTTopic, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        correlationData: [UInt8]? = nil
    ) -> MQTTPublishResult {
        guard payload.count <= Int(Int32.max) else { return .failed("payload too large") }
        guard (correlationData?.count ?? 0) <= Int(UInt16.max) else { return .failed("correlation data too large") }
        return core.handleAlive.withLock { alive -> MQTTPublishResult in
            guard alive, let mosq = core.mosq else { return .failed("client is stopped") }
            guard core.state.withLock({ $0.connected }) else {
                core.logger.debug("mqtt publish dropped: not connected", metadata: ["mqtt.topic": "\(topic)"])
                return .droppedNotConnected
            }
            var properties: OpaquePointer?
            defer { mosquitto_property_free_all(&properties) }
            if let correlationData {
                let rc = correlationData.withUnsafeBytes {
                    mosquitto_property_add_binary(
                        &properties, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), $0.baseAddress, UInt16($0.count))
                }
                guard rc == MOSQ_ERR_SUCCESS.rawValue else { return .failed(errorString(rc)) }
            }
            core.state.withLock { $0.publishCallsInProgress += 1 }
            var mid: Int32 = 0
            let rc = payload.withUnsafeBytes {
                mosquitto_publish_v5(
                    mosq, &mid, topic.value, Int32($0.count), $0.baseAddress, qos.rawValue, retain, properties)
            }
            core.state.withLock { $0.finishPublishCall(mid: rc == MOSQ_ERR_SUCCESS.rawValue ? mid : nil, qos: qos) }
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                core.logger.warning(
                    "mqtt publish failed", metadata: ["mqtt.topic": "\(topic)", "mqtt.error": "\(errorString(rc))"])
                return .failed(errorString(rc))
            }
            return .sent
        }
    }

    public func waitUntilConnected(timeout: Duration) async -> Bool {
        await poll(timeout: timeout) { self.isConnected }
    }

    /// Waits until every QoS>0 publish made before this call has been acknowledged by the broker.
    public func flush(timeout: Duration) async -> Bool {
        let awaited = core.state.withLock { $0.unacknowledged }
        return await poll(timeout: timeout) {
            self.core.state.withLock { $0.unacknowledged.isDisjoint(with: awaited) }
        }
    }

    /// Sends a clean DISCONNECT (so the will is not published), stops and joins the network thread,
    /// destroys the handle and finishes `events`. Idempotent. Blocks for at most about 5 s.
    public func stop() {
        let started = core.state.withLock { state in
            defer { state.stopRequested = true }
            return state.stopRequested ? nil : state.started
        }
        guard let started else { return }
        if started {
            core.wake.signal()
            if core.loopFinished.wait(timeout: .now() + .seconds(5)) == .timedOut {
                core.logger.error("mqtt network thread did not stop within 5 s; it will clean up when it exits")
            }
        } else {
            core.destroyHandle()
        }
        core.continuation.finish()
    }

    private func poll(timeout: Duration, _ condition: @Sendable () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

private func errorString(_ rc: Int32) -> String { String(cString: mosquitto_strerror(rc)) }

/// State shared between the public API and libmosquitto's callbacks (the handle's userdata).
private final class Core: Sendable {
    struct State {
        var started = false
        var stopRequested = false
        var connected = false
        /// Set when a CONNACK succeeds; read and cleared by the loop to reset the backoff.
        var established = false
        var subscriptions: [MQTTTopicFilter: MQTTQoS] = [:]
        /// Message ids of QoS>0 publishes not yet acknowledged.
        var unacknowledged: Set<Int32> = []
        /// Acks that arrived while a publish call had not yet returned its mid.
        var earlyAcks: Set<Int32> = []
        var publishCallsInProgress = 0

        mutating func finishPublishCall(mid: Int32?, qos: MQTTQoS) {
            publishCallsInProgress -= 1
            if let mid, earlyAcks.remove(mid) == nil, qos != .atMostOnce { unacknowledged.insert(mid) }
            if publishCallsInProgress == 0 { earlyAcks.removeAll() }
        }

        mutating func acknowledge(mid: Int32) {
            if unacknowledged.remove(mid) == nil, publishCallsInProgress > 0 { earlyAcks.insert(mid) }
        }
    }

    let configuration: MQTTClientConfiguration
    let logger: Logger
    let continuation: AsyncStream<MQTTClientEvent>.Continuation
    /// Valid until `destroyHandle()`; only used while holding `handleAlive` (API) or on the network thread.
    nonisolated(unsafe) let mosq: OpaquePointer?
    let handleAlive: Mutex<Bool>
    let state = Mutex(State())
    /// Signalled by `stop()` to cut a backoff sleep short.
    let wake = DispatchSemaphore(value: 0)
    let loopFinished = DispatchSemaphore(value: 0)

    init(
        configuration: MQTTClientConfiguration, logger: Logger,
        continuation: AsyncStream<MQTTClientEvent>.Continuation
    ) {
        _ = mosquittoLibraryInit
        self.configuration = configuration
        self.logger = logger
        self.continuation = continuation
        self.mosq = Core.makeHandle(configuration, logger)
        self.handleAlive = Mutex(mosq != nil)
        if let mosq { mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque()) }
    }

    private var metadata: Logger.Metadata {
        ["mqtt.host": "\(configuration.host)", "mqtt.port": "\(configuration.port)",
         "mqtt.client_id": "\(configuration.clientID)"]
    }

    private static func makeHandle(_ configuration: MQTTClientConfiguration, _ logger: Logger) -> OpaquePointer? {
        let id = configuration.clientID.isEmpty ? nil : configuration.clientID
        guard let mosq = mosquitto_new(id, configuration.cleanStart, nil) else {
            logger.error("mqtt mosquitto_new failed", metadata: ["mqtt.errno": "\(errno)"])
            return nil
        }
        struct SetupError: Error { let step: String, rc: Int32 }
        func check(_ step: String, _ rc: Int32) throws(SetupError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue { throw SetupError(step: step, rc: rc) }
        }
        do throws(SetupError) {
            try check("protocol_version", mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5))
            try check("threaded", mosquitto_threaded_set(mosq, true))
            // Control messages are small and must not wait for Nagle's algorithm to meet the
            // peer's delayed ACK (a 40 ms stall per message on Linux, measured by the bench).
            try check("tcp_nodelay", mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1))
            if let will = configuration.will {
                try check("will", will.payload.withUnsafeBytes {
                    mosquitto_will_set_v5(
                        mosq, will.topic.value, Int32($0.count), $0.baseAddress, will.qos.rawValue, will.retain, nil)
                })
            }
            if configuration.username != nil || configuration.password != nil {
                try check("username_pw", mosquitto_username_pw_set(mosq, configuration.username, configuration.password))
            }
            if let caFile = configuration.tlsCAFile {
                try check("tls", mosquitto_tls_set(
                    mosq, caFile, nil, configuration.tlsCertFile, configuration.tlsKeyFile, nil))
            } else if configuration.tlsRequired {
                try check("tls_os_certs", mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1))
            }
        } catch {
            logger.error(
                "mqtt client setup failed", metadata: ["mqtt.step": "\(error.step)", "mqtt.error": "\(errorString(error.rc))"])
            mosquitto_destroy(mosq)
            return nil
        }
        mosquitto_connect_v5_callback_set(mosq) { _, userdata, rc, _, _ in Core.from(userdata).didConnect(rc) }
        mosquitto_disconnect_v5_callback_set(mosq) { _, userdata, rc, _ in Core.from(userdata).didDisconnect(rc) }
        mosquitto_publish_v5_callback_set(mosq) { _, userdata, mid, _, _ in
            Core.from(userdata).state.withLock { $0.acknowledge(mid: mid) }
        }
        mosquitto_message_v5_callback_set(mosq) { _, userdata, message, properties in
            guard let message else { return }
            Core.from(userdata).didReceive(message.pointee, properties)
        }
        mosquitto_subscribe_v5_callback_set(mosq) { _, userdata, _, count, granted, _ in
            guard let granted else { return }
            let refused = UnsafeBufferPointer(start: granted, count: Int(count)).contains { $0 >= 0x80 }
            if refused { Core.from(userdata).logger.warning("mqtt subscription refused by broker") }
        }
        return mosq
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> Core {
        Unmanaged<Core>.fromOpaque(userdata!).takeUnretainedValue()
    }

    // MARK: Network thread

    func runLoop() {
        let mosq = mosq!
        let config = configuration
        var delay = config.reconnectDelayMin
        while !stopRequested {
            let rc = mosquitto_connect(mosq, config.host, Int32(config.port), Int32(config.keepAliveSeconds))
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                serviceConnection(mosq)
                if state.withLock({ state in defer { state.established = false }; return state.established }) {
                    delay = config.reconnectDelayMin
                }
            } else {
                logger.warning("mqtt connect failed", metadata: metadata.merging(["mqtt.error": "\(errorString(rc))"]) { $1 })
            }
            guard !stopRequested else { break }
            let delayMilliseconds = Int(delay / .milliseconds(1))
            logger.debug("mqtt reconnect scheduled", metadata: metadata.merging(["mqtt.delay_ms": "\(delayMilliseconds)"]) { $1 })
            _ = wake.wait(timeout: .now() + .milliseconds(delayMilliseconds))
            delay = min(delay * 2, config.reconnectDelayMax)
        }
        destroyHandle()
        loopFinished.signal()
    }

    /// Runs the connection until it drops, or until stop is requested and the DISCONNECT has been written.
    private func serviceConnection(_ mosq: OpaquePointer) {
        var disconnectDeadline: ContinuousClock.Instant?
        var rc = MOSQ_ERR_SUCCESS.rawValue
        while true {
            rc = mosquitto_loop(mosq, 50, 1)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { break }
            guard stopRequested else { continue }
            if let disconnectDeadline {
                if ContinuousClock.now > disconnectDeadline { break }
            } else {
                // The loop writes the DISCONNECT and then closes the socket, ending this loop.
                mosquitto_disconnect(mosq)
                disconnectDeadline = .now + .seconds(1)
            }
        }
        if rc == MOSQ_ERR_INVAL.rawValue {
            // libmosquitto's loop uses select(): it refuses a socket numbered 1024 or above
            // (FD_SETSIZE), which would otherwise look like an endless, silent reconnect.
            logger.error("mqtt loop refused the connection's socket (descriptor above select's limit)", metadata: metadata.merging(
                ["mqtt.socket": "\(mosquitto_socket(mosq))"]) { $1 })
        }
        markDisconnected(reason: stopRequested ? "client stopped" : "connection lost")
    }

    private var stopRequested: Bool { state.withLock { $0.stopRequested } }

    func destroyHandle() {
        handleAlive.withLock { alive in
            guard alive, let mosq else { return }
            alive = false
            mosquitto_destroy(mosq)
        }
    }

    func subscribe(_ mosq: OpaquePointer, _ filter: MQTTTopicFilter, _ qos: MQTTQoS) {
        let rc = mosquitto_subscribe_v5(mosq, nil, filter.value, qos.rawValue, 0, nil)
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            logger.warning("mqtt subscribe failed", metadata: ["mqtt.filter": "\(filter)", "mqtt.error": "\(errorString(rc))"])
        }
    }

    // MARK: Callbacks (network thread)

    private func didConnect(_ reasonCode: Int32) {
        guard reasonCode == 0 else {
            let reason = String(cString: mosquitto_reason_string(reasonCode))
            logger.warning("mqtt connection refused", metadata: metadata.merging(["mqtt.reason": "\(reason)"]) { $1 })
            return
        }
        // Queue every SUBSCRIBE before publishing is allowed, so a publish on this connection is processed
        // by the broker after them; loop until no subscribe() call slipped in meanwhile.
        var subscribed: [MQTTTopicFilter: MQTTQoS] = [:]
        while true {
            let missing = state.withLock { state in
                let missing = state.subscriptions.filter { subscribed[$0.key] != $0.value }
                if missing.isEmpty {
                    state.connected = true
                    state.established = true
                }
                return missing
            }
            if missing.isEmpty { break }
            for (filter, qos) in missing { subscribe(mosq!, filter, qos) }
            subscribed.merge(missing) { $1 }
        }
        logger.info("mqtt connected", metadata: metadata)
        yield(.connected)
    }

    private func didDisconnect(_ rc: Int32) {
        markDisconnected(reason: rc == MOSQ_ERR_SUCCESS.rawValue ? "client disconnected" : errorString(rc))
    }

    private func markDisconnected(reason: String) {
        let wasConnected = state.withLock { state in
            defer { state.connected = false }
            return state.connected
        }
        guard wasConnected else { return }
        logger.info("mqtt disconnected", metadata: metadata.merging(["mqtt.reason": "\(reason)"]) { $1 })
        yield(.disconnected(reason: reason))
    }

    private func didReceive(_ message: mosquitto_message, _ properties: OpaquePointer?) {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        var received = MQTTMessage(
            topic: String(cString: message.topic),
            payload: Array(UnsafeRawBufferPointer(start: message.payload, count: Int(message.payloadlen))),
            qos: MQTTQoS(rawValue: message.qos) ?? .atMostOnce,
            retain: message.retain)
        received.receivedAtWallNanos = Int64(clock.tv_sec) * 1_000_000_000 + Int64(clock.tv_nsec)
        var string: UnsafeMutablePointer<CChar>?
        if mosquitto_property_read_string(properties, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), &string, false) != nil,
           let string {
            received.responseTopic = String(cString: string)
            free(string)
        }
        var binary: UnsafeMutableRawPointer?
        var length: UInt16 = 0
        if mosquitto_property_read_binary(
            properties, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &binary, &length, false) != nil {
            received.correlationData = Array(UnsafeRawBufferPointer(start: binary, count: Int(length)))
            free(binary)
        }
        yield(.message(received))
    }

    private func yield(_ event: MQTTClientEvent) {
        if case .dropped = continuation.yield(event) {
            logger.warning("mqtt event buffer full: oldest event dropped", metadata: ["mqtt.buffer": "\(configuration.eventBufferSize)"])
        }
    }
}
