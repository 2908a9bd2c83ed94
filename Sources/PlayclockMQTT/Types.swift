public enum MQTTQoS: Int32, Sendable {
    case atMostOnce = 0, atLeastOnce = 1, exactlyOnce = 2
}

/// A received (or to be sent) application message; the topic and bytes are owned copies.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool
    /// MQTT v5 Response Topic property.
    public var responseTopic: String?
    /// MQTT v5 Correlation Data property.
    public var correlationData: [UInt8]?
    /// Wall-clock time (CLOCK_REALTIME, nanoseconds since 1970) at which the client library handed
    /// the message over, taken on the network thread before any queueing: what latency
    /// measurements compare against. Zero for messages built by hand.
    public var receivedAtWallNanos: Int64 = 0

    public init(
        topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        responseTopic: String? = nil, correlationData: [UInt8]? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.responseTopic = responseTopic
        self.correlationData = correlationData
    }
}

/// The Last Will message the broker publishes if the connection ends without a clean DISCONNECT.
public struct MQTTWill: Sendable {
    public var topic: MQTTTopic
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool

    public init(topic: MQTTTopic, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// How the broker and the client treat one subscription. The defaults are plain MQTT subscriptions.
public struct MQTTSubscriptionOptions: Sendable, Hashable {
    /// MQTT v5 No Local: the broker does not send this client the messages it publishes itself.
    /// Not allowed on shared subscriptions (`$share/...`).
    public var noLocal: Bool
    /// MQTT v5 Retain As Published: messages forwarded live keep the retain flag they were
    /// published with (by default the broker clears it on live messages and sets it only on
    /// retained messages sent when subscribing).
    public var retainAsPublished: Bool
    /// Client-side: messages matching this filter may be shed when the consumer falls behind
    /// (one waiting per topic, `MQTTClientConfiguration.coalescingBufferSize` in all), so they
    /// can never crowd out other messages. For periodic messages where only the latest matters
    /// (heartbeats). A message is coalescing when its topic matches any coalescing subscription.
    public var coalescing: Bool

    public init(noLocal: Bool = false, retainAsPublished: Bool = false, coalescing: Bool = false) {
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.coalescing = coalescing
    }
}

/// A subscription the client refuses (and does not remember).
public enum MQTTSubscriptionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// MQTT v5 §3.8.3.1: No Local on a shared subscription is a protocol error.
    case noLocalOnSharedSubscription(String)

    public var description: String {
        switch self {
        case .noLocalOnSharedSubscription(let filter):
            "MQTT subscription '\(filter)': No Local is not allowed on a shared subscription"
        }
    }
}

public enum MQTTClientEvent: Sendable {
    case connected
    case disconnected(reason: String)
    case message(MQTTMessage)
}

public enum MQTTPublishResult: Sendable, Equatable {
    case sent
    /// Not connected: the message was not queued (libmosquitto would buffer QoS>0 in RAM without bound).
    case droppedNotConnected
    case failed(String)
}
