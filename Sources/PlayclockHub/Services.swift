import Logging
import PlayclockContract
import PlayclockCore
import PlayclockMQTT
import ServiceLifecycle

/// Adapts the MQTT client to the hub's transport protocol.
public struct MQTTTransport: MessageTransport {
    let client: MQTTClient
    let logger: Logger

    public init(client: MQTTClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func publish(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]?) -> Bool {
        guard let validTopic = try? MQTTTopic(topic) else {
            logger.warning("refused to publish on an invalid topic", metadata: ["mqtt.topic": "\(topic)"])
            return false
        }
        let result = client.publish(
            validTopic, payload: payload, qos: qos == .atLeastOnce ? .atLeastOnce : .atMostOnce, retain: retain,
            correlationData: correlationData)
        return result == .sent
    }

    public func subscribe(_ filter: String, qos: Outbound.QoS, options: SubscriptionOptions) {
        guard let valid = try? MQTTTopicFilter(filter) else {
            logger.warning("refused to subscribe to an invalid filter", metadata: ["mqtt.filter": "\(filter)"])
            return
        }
        let mqttOptions = MQTTSubscriptionOptions(
            noLocal: options.noLocal, retainAsPublished: options.retainAsPublished, coalescing: options.coalescing)
        do {
            try client.subscribe(valid, qos: qos == .atLeastOnce ? .atLeastOnce : .atMostOnce, options: mqttOptions)
        } catch {
            logger.error("refused to subscribe", metadata: ["mqtt.filter": "\(filter)", "error": "\(error)"])
        }
    }

    public var inboundStatistics: InboundStatistics {
        let s = client.statistics
        return InboundStatistics(shed: s.shedMessages, queued: s.queuedMessages, backpressureEvents: s.backpressureEvents)
    }

    public func unsubscribe(_ filter: String) {
        guard let valid = try? MQTTTopicFilter(filter) else { return }
        client.unsubscribe(valid)
    }
}

/// The broker connection as a service: connects (and keeps reconnecting) while the group runs,
/// and disconnects cleanly after every service that depends on it has stopped.
public struct MQTTConnectionService: Service {
    let client: MQTTClient
    let drainTimeout: Duration

    public init(client: MQTTClient, drainTimeout: Duration = .seconds(2)) {
        self.client = client
        self.drainTimeout = drainTimeout
    }

    public func run() async throws {
        client.start()
        try? await gracefulShutdown()
        _ = await client.flush(timeout: drainTimeout)
        client.stop()
    }
}

/// The hub as a service: recovers, runs the hub's timers and feeds broker events to the hub
/// actor until shutdown, when (the timers stopped) it records the last alive time and announces
/// `offline`.
public struct HubService: Service {
    let hub: Hub
    let client: MQTTClient
    let logger: Logger
    let systemd: SystemdNotifier

    public init(hub: Hub, client: MQTTClient, logger: Logger, systemd: SystemdNotifier = SystemdNotifier()) {
        self.hub = hub
        self.client = client
        self.logger = logger
        self.systemd = systemd
    }

    public func run() async throws {
        try await hub.start()
        // The hub's timers and alive recorder, and the watchdog, are child tasks of this service:
        // they end with it, never outlive it, and have stopped before the hub shuts down.
        await withDiscardingTaskGroup { group in
            group.addTask { await hub.run() }
            // Ready once sessions are recovered and timers run; the broker may still be coming up
            // (the hub keeps reconnecting on its own).
            systemd.notify("READY=1")
            if let interval = systemd.watchdogInterval {
                group.addTask {
                    while !Task.isCancelled {
                        // Fed only when the hub actor answers: a wedged hub gets restarted by systemd.
                        await hub.ping()
                        systemd.notify("WATCHDOG=1")
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            await cancelWhenGracefulShutdown {
                for await event in client.events {
                    switch event {
                    case .connected:
                        await hub.connected()
                    case .disconnected(let reason):
                        logger.warning("hub lost the broker", metadata: ["mqtt.reason": "\(reason)"])
                        await hub.disconnected()
                    case .message(let m):
                        await hub.receive(InboundMessage(
                            topic: m.topic, payload: m.payload, retained: m.retain, responseTopic: m.responseTopic,
                            correlationData: m.correlationData))
                    }
                }
            }
            group.cancelAll()
        }
        systemd.notify("STOPPING=1")
        await hub.shutdown()
    }
}
