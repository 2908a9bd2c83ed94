import Foundation
import Logging
import PlayclockContract
import PlayclockCore
import PlayclockMQTT
import ServiceLifecycle

/// The hub's running parts, built from a configuration: a thin `@main` assembles these (plus
/// the dashboard) into a `ServiceGroup`; tests can build and drive them directly.
public struct HubRuntime: Sendable {
    public let client: MQTTClient
    public let hub: Hub
    /// In start order; a group stops them in reverse (the hub announces `offline` before the
    /// connection closes).
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]
}

public enum PlayclockApp {
    public static func buildRuntime(_ config: HubConfiguration, logger: Logger, metrics: HubMetrics = HubMetrics()) throws -> HubRuntime {
        guard let topics = TopicScheme(root: config.topicRoot) else {
            throw HubConfiguration.Error("topic root \"\(config.topicRoot)\" is not valid: use levels without '+', '#' or empty parts")
        }
        let store = try HubStore(path: config.databasePath)
        if let venue = config.venueFile {
            let added = try store.importStations(try HubConfiguration.readVenue(venue))
            logger.info("venue imported", metadata: ["venue.file": "\(venue)", "venue.added": "\(added.count)"])
        }

        var mqtt = try MQTTClientConfiguration(url: config.brokerURL, clientID: config.clientID)
        mqtt.username = config.username
        mqtt.password = config.password
        if let ca = config.tlsCAFile { mqtt.tlsCAFile = ca }
        mqtt.will = MQTTWill(topic: try MQTTTopic(topics.hubStatus), payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
        var mqttLogger = logger
        mqttLogger[metadataKey: "component"] = "mqtt"
        let client = MQTTClient(configuration: mqtt, logger: mqttLogger)

        let hub = try Hub(
            topics: topics, policy: config.policy, store: store, publisher: MQTTTransport(client: client, logger: logger),
            clock: SystemClock(), logger: logger, access: config.access, metrics: metrics, retention: config.events)

        return HubRuntime(client: client, hub: hub, services: [
            .init(service: MQTTConnectionService(client: client, drainTimeout: .seconds(2))),
            .init(service: HubService(hub: hub, client: client, logger: logger, systemd: SystemdNotifier())),
        ])
    }
}
