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
