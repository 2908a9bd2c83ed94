import CMosquitto
import Dispatch
import Foundation
import Logging
import Synchronization

private let mosquittoLibraryInit: Int32 = mosquitto_lib_init()

/// An MQTT v5 client over libmosquitto with its own supervised network thread.
///
/// `start()` connects and keeps reconnecting (exponential backoff) until `stop()`.
/// Remembered subscriptions (with their options) are renewed on every connect. Publishing while
/// disconnected is refused.
///
/// The network thread runs its own `poll()` loop on the connection's socket and a wake-up pipe
/// (signalled by `publish`, `subscribe`, `unsubscribe`, `stop` and the consumer), driving
/// `mosquitto_loop_read`/`_write`/`_misc`; descriptor numbers do not matter (no select()).
/// Inbound events go into one ordered queue (`events`): messages of `coalescing` subscriptions
/// may be shed (counted in `statistics`), everything else is never dropped: when the consumer
/// falls `eventBufferSize` entries behind, the thread stops reading from the broker until it
/// catches up.
public final class MQTTClient: Sendable {
    /// Connection events and received messages, in order. Single consumer; finished by `stop()`.
    public let events: MQTTClientEvents
    private let core: Core

    public init(configuration: MQTTClientConfiguration, logger: Logger) {
        self.core = Core(configuration: configuration, logger: logger)
        self.events = MQTTClientEvents(channel: core.channel)
    }

    deinit { stop() }

    public var isConnected: Bool { core.state.withLock { $0.connected } }

    /// The inbound queue's counters: shed messages, waiting entries, backpressure.
    public var statistics: MQTTClientStatistics { core.channel.statistics }

    /// The connection's socket descriptor, or -1 (for tests; racy by nature).
    var socketDescriptor: Int32 {
        core.handleAlive.withLock { alive in
            guard alive, let mosq = core.mosq else { return -1 }
            return mosquitto_socket(mosq)
        }
    }

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
    /// Subscribing again to the same filter replaces its QoS and options.
    public func subscribe(_ filter: MQTTTopicFilter, qos: MQTTQoS) {
        remember(filter, Subscription(qos: qos, options: MQTTSubscriptionOptions()))
    }

    /// As `subscribe(_:qos:)`, with MQTT v5 subscription options and client-side coalescing.
    /// A combination the broker would refuse as a protocol error (No Local on `$share/...`)
    /// throws and changes nothing.
    public func subscribe(
        _ filter: MQTTTopicFilter, qos: MQTTQoS, options: MQTTSubscriptionOptions
    ) throws(MQTTSubscriptionError) {
        if options.noLocal, filter.value.hasPrefix("$share/") {
            throw .noLocalOnSharedSubscription(filter.value)
        }
        remember(filter, Subscription(qos: qos, options: options))
    }

    private func remember(_ filter: MQTTTopicFilter, _ subscription: Subscription) {
        core.handleAlive.withLock { alive in
            let connected = core.state.withLock { state in
                state.setSubscription(filter, subscription)
                return state.connected
            }
            guard alive, connected, let mosq = core.mosq else { return }
            core.subscribe(mosq, filter, subscription)
            core.wake.signal()
        }
    }

    /// Forgets the subscription and unsubscribes now if connected.
    public func unsubscribe(_ filter: MQTTTopicFilter) {
        core.handleAlive.withLock { alive in
            let connected = core.state.withLock { state in
                state.setSubscription(filter, nil)
                return state.connected
            }
            guard alive, connected, let mosq = core.mosq else { return }
            let rc = mosquitto_unsubscribe_v5(mosq, nil, filter.value, nil)
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                core.logger.warning("mqtt unsubscribe failed", metadata: ["mqtt.filter": "\(filter)", "mqtt.error": "\(errorString(rc))"])
            }
            core.wake.signal()
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
            // libmosquitto only queued the packet: have the network thread write it now.
            core.wake.signal()
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
        core.channel.finish()
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

/// A remembered subscription.
struct Subscription: Sendable, Equatable {
    var qos: MQTTQoS
    var options: MQTTSubscriptionOptions

    /// The SUBSCRIBE's options byte without the QoS (MQTT v5 §3.8.3.1).
    var mosquittoOptions: Int32 {
        var bits: Int32 = 0
        if options.noLocal { bits |= Int32(MQTT_SUB_OPT_NO_LOCAL.rawValue) }
        if options.retainAsPublished { bits |= Int32(MQTT_SUB_OPT_RETAIN_AS_PUBLISHED.rawValue) }
        return bits
    }
}

/// A non-blocking pipe the network thread polls: a byte written wakes it up. libmosquitto's own
/// socket pair (written by its calls from other threads) is private, so the client signals this.
/// The descriptors live as long as the object, so a late signal never hits a reused descriptor.
final class WakeSignal: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    /// Descriptors of -1 if the pipe cannot be created (then `isUsable` is false; calls are harmless).
    init() {
        var descriptors: [Int32] = [-1, -1]
        // (Glibc's Swift overlay has no pipe2; the flags follow at once.)
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            }
        } else {
            descriptors = [-1, -1]
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    var isUsable: Bool { readDescriptor >= 0 }

    deinit {
        if isUsable {
            close(readDescriptor)
            close(writeDescriptor)
        }
    }

    /// A full pipe (EAGAIN) already means "wake up".
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    func drain() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(readDescriptor, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Sleeps until signalled (true) or `milliseconds` pass (false).
    func wait(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        drain()
        return true
    }
}

/// State shared between the public API and libmosquitto's callbacks (the handle's userdata).
private final class Core: Sendable {
    struct State {
        var started = false
        var stopRequested = false
        var connected = false
        /// Set when a CONNACK succeeds; read and cleared by the loop to reset the backoff.
        var established = false
        var subscriptions: [MQTTTopicFilter: Subscription] = [:]
        /// The filters of `subscriptions` marked coalescing, read for every received message.
        var coalescingFilters: [MQTTTopicFilter] = []
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

        mutating func setSubscription(_ filter: MQTTTopicFilter, _ subscription: Subscription?) {
            subscriptions[filter] = subscription
            coalescingFilters = subscriptions.filter { $0.value.options.coalescing }.map(\.key)
        }
    }

    let configuration: MQTTClientConfiguration
    let logger: Logger
    let channel: InboundChannel
    /// Valid until `destroyHandle()`; only used while holding `handleAlive` (API) or on the network thread.
    nonisolated(unsafe) let mosq: OpaquePointer?
    let handleAlive: Mutex<Bool>
    let state = Mutex(State())
    /// Wakes the network thread: new packets to write, backpressure released, stop requested.
    let wake: WakeSignal
    let loopFinished = DispatchSemaphore(value: 0)
    private let shedReporter: Mutex<MQTTShedReporter>
    private let createdAt = ContinuousClock.now

    init(configuration: MQTTClientConfiguration, logger: Logger) {
        _ = mosquittoLibraryInit
        self.configuration = configuration
        self.logger = logger
        let wake = WakeSignal()
        if !wake.isUsable { logger.error("mqtt wake-up pipe could not be created", metadata: ["mqtt.errno": "\(errno)"]) }
        self.wake = wake
        self.channel = InboundChannel(
            limits: .init(
                coalescingLimit: configuration.coalescingBufferSize, backpressureLimit: configuration.eventBufferSize),
            onRelease: { wake.signal() })
        self.shedReporter = Mutex(MQTTShedReporter(interval: configuration.shedReportInterval))
        // Without its wake-up pipe the client cannot run: no handle, start() refuses.
        self.mosq = wake.isUsable ? Core.makeHandle(configuration, logger) : nil
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
            let deadline = ContinuousClock.now + delay
            while !stopRequested {
                let remaining = deadline - .now
                guard remaining > .zero else { break }
                _ = wake.wait(milliseconds: Int32(min(1000, max(1, remaining / .milliseconds(1)))))
                reportShedding()
            }
            delay = min(delay * 2, config.reconnectDelayMax)
        }
        destroyHandle()
        loopFinished.signal()
    }

    /// Runs the connection until it drops, or until stop is requested and the DISCONNECT has been
    /// written: poll() on the socket (read unless backpressured; write when libmosquitto has
    /// packets) and on the wake-up pipe, at least once a second for keepalive.
    private func serviceConnection(_ mosq: OpaquePointer) {
        var disconnectDeadline: ContinuousClock.Instant?
        var wasPaused = false
        var descriptors = [pollfd(), pollfd()]
        let success = MOSQ_ERR_SUCCESS.rawValue
        while true {
            if disconnectDeadline == nil, stopRequested {
                // Queues the DISCONNECT; once it is written libmosquitto closes the socket, ending this loop.
                mosquitto_disconnect(mosq)
                disconnectDeadline = .now + .seconds(1)
            }
            if let disconnectDeadline, ContinuousClock.now > disconnectDeadline { break }
            let socket = mosquitto_socket(mosq)
            guard socket >= 0 else { break }
            // Until the CONNACK (and during a TLS handshake) the connection is always read.
            let established = state.withLock { $0.connected }
            let paused = established && disconnectDeadline == nil && channel.isBackpressured
            if wasPaused, !paused {
                // TLS may hold decrypted bytes the socket no longer shows as readable.
                guard mosquitto_loop_read(mosq, 1) == success, mosquitto_socket(mosq) >= 0 else { break }
            }
            wasPaused = paused

            var events = paused ? 0 : Int32(POLLIN)
            if mosquitto_want_write(mosq) { events |= Int32(POLLOUT) }
            descriptors[0] = pollfd(fd: socket, events: Int16(events), revents: 0)
            descriptors[1] = pollfd(fd: wake.readDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptors, 2, disconnectDeadline == nil ? 1000 : 50)
            if ready < 0 {
                let error = errno
                guard error == EINTR else {
                    logger.error("mqtt poll failed", metadata: metadata.merging(["mqtt.errno": "\(error)"]) { $1 })
                    break
                }
                continue
            }
            if descriptors[1].revents != 0 { wake.drain() }
            let revents = Int32(descriptors[0].revents)
            // Errors and hang-ups are read even when paused, so the loss is noticed; writable
            // before the CONNACK may mean a TLS handshake waiting to write, which loop_read drives.
            if revents & Int32(POLLIN | POLLERR | POLLHUP | POLLNVAL) != 0 || (!established && revents & Int32(POLLOUT) != 0) {
                guard mosquitto_loop_read(mosq, 1) == success, mosquitto_socket(mosq) >= 0 else { break }
            }
            // Also right after a wake-up: a publish from another thread only queued its packet.
            // A full socket just returns EAGAIN, and the next poll waits for POLLOUT.
            if mosquitto_want_write(mosq) {
                guard mosquitto_loop_write(mosq, 1) == success, mosquitto_socket(mosq) >= 0 else { break }
            }
            guard mosquitto_loop_misc(mosq) == success else { break }
            reportShedding()
        }
        markDisconnected(reason: stopRequested ? "client stopped" : "connection lost")
    }

    /// At most one warning per `shedReportInterval`, with what was shed since the previous one.
    private func reportShedding() {
        let totals = channel.shedTotals
        let now = ContinuousClock.now - createdAt
        guard let report = shedReporter.withLock({ $0.check(totals: totals, now: now) }) else { return }
        let interval = "\(configuration.shedReportInterval.components.seconds)"
        if report.shedSameTopic + report.shedOverLimit > 0 {
            logger.warning("mqtt inbound messages shed", metadata: metadata.merging([
                "mqtt.shed": "\(report.shedSameTopic + report.shedOverLimit)",
                "mqtt.shed_same_topic": "\(report.shedSameTopic)", "mqtt.shed_over_limit": "\(report.shedOverLimit)",
                "mqtt.backpressure_events": "\(report.backpressureEvents)", "mqtt.report_interval_s": "\(interval)",
            ]) { $1 })
        } else {
            logger.warning("mqtt inbound queue full: reading paused", metadata: metadata.merging([
                "mqtt.backpressure_events": "\(report.backpressureEvents)", "mqtt.report_interval_s": "\(interval)",
                "mqtt.queue_limit": "\(configuration.eventBufferSize)",
            ]) { $1 })
        }
    }

    private var stopRequested: Bool { state.withLock { $0.stopRequested } }

    func destroyHandle() {
        handleAlive.withLock { alive in
            guard alive, let mosq else { return }
            alive = false
            mosquitto_destroy(mosq)
        }
    }

    func subscribe(_ mosq: OpaquePointer, _ filter: MQTTTopicFilter, _ subscription: Subscription) {
        let rc = mosquitto_subscribe_v5(
            mosq, nil, filter.value, subscription.qos.rawValue, subscription.mosquittoOptions, nil)
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
        var subscribed: [MQTTTopicFilter: Subscription] = [:]
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
            for (filter, subscription) in missing { subscribe(mosq!, filter, subscription) }
            subscribed.merge(missing) { $1 }
        }
        logger.info("mqtt connected", metadata: metadata)
        channel.push(.connected, coalescing: false)
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
        channel.push(.disconnected(reason: reason), coalescing: false)
    }

    private func didReceive(_ message: mosquitto_message, _ properties: OpaquePointer?) {
        let topic = String(cString: message.topic)
        let coalescingFilters = state.withLock { $0.coalescingFilters }
        let coalescing = !coalescingFilters.isEmpty && coalescingFilters.contains { $0.matches(topic) }
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        var received = MQTTMessage(
            topic: topic,
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
        channel.push(.message(received), coalescing: coalescing)
    }
}
