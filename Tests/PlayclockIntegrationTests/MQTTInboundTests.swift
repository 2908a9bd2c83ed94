import Foundation
import Logging
import PlayclockMQTT
import Synchronization
import Testing

/// MQTT v5 subscription options against a real broker.
@Suite(.serialized) struct MQTTSubscriptionOptionsTests {
    @Test func noLocalKeepsTheClientsOwnPublishesAwayAlsoAfterAReconnect() async throws {
        let broker = try await MosquittoBroker()
        let client = try makeMQTTClient(broker, id: "no-local")
        defer { client.stop() }
        let log = MQTTEventLog(client)
        try client.subscribe(try MQTTTopicFilter("nl/#"), qos: .atLeastOnce, options: .init(noLocal: true))
        client.subscribe(try MQTTTopicFilter("probe/#"), qos: .atLeastOnce)
        client.start()
        try await ensureMQTTSubscribed(client, log, topic: "probe/1")
        let other = try makeMQTTClient(broker, id: "no-local-other")
        defer { other.stop() }
        other.start()
        #expect(await other.waitUntilConnected(timeout: .seconds(5)))

        for round in 1...2 {
            // Own publish first and acknowledged, so the broker routed it before the other client's.
            #expect(client.publish(try MQTTTopic("nl/self"), payload: Array("\(round)".utf8), qos: .atLeastOnce) == .sent)
            #expect(await client.flush(timeout: .seconds(5)))
            #expect(other.publish(try MQTTTopic("nl/other"), payload: Array("\(round)".utf8), qos: .atLeastOnce) == .sent)
            #expect(await log.message(on: "nl/other") { $0.payload == Array("\(round)".utf8) } != nil)
            // The probe comes back (no No Local there) after anything the broker sent before it.
            try await ensureMQTTSubscribed(client, log, topic: "probe/\(round + 1)")
            #expect(log.messages(on: "nl/self").isEmpty, "round \(round)")
            if round == 1 {
                // A fresh broker: the client must renew the subscription with its options.
                try await broker.restart()
                #expect(await waitUntil(timeout: .seconds(5)) {
                    log.count { if case .connected = $0 { true } else { false } } == 2
                })
                #expect(await other.waitUntilConnected(timeout: .seconds(5)))
                #expect(await client.waitUntilConnected(timeout: .seconds(5)))
            }
        }
    }

    @Test func noLocalOnASharedSubscriptionIsRefused() throws {
        let client = MQTTClient(
            configuration: MQTTClientConfiguration(host: "127.0.0.1", port: 1, clientID: "share"), logger: Logger(label: "t"))
        defer { client.stop() }
        #expect(throws: MQTTSubscriptionError.noLocalOnSharedSubscription("$share/group/a/#")) {
            try client.subscribe(try MQTTTopicFilter("$share/group/a/#"), qos: .atLeastOnce, options: .init(noLocal: true))
        }
        // Without No Local a shared subscription is fine.
        try client.subscribe(try MQTTTopicFilter("$share/group/a/#"), qos: .atLeastOnce, options: .init(retainAsPublished: true))
    }

    @Test func retainAsPublishedKeepsTheRetainFlagOnLiveMessages() async throws {
        let broker = try await MosquittoBroker()
        let keeping = try makeMQTTClient(broker, id: "rap-keep")
        defer { keeping.stop() }
        let keepingLog = MQTTEventLog(keeping)
        try keeping.subscribe(try MQTTTopicFilter("rap/#"), qos: .atLeastOnce, options: .init(retainAsPublished: true))
        keeping.start()
        try await ensureMQTTSubscribed(keeping, keepingLog, topic: "rap/probe-keep")

        let plain = try makeMQTTClient(broker, id: "rap-plain")
        defer { plain.stop() }
        let plainLog = MQTTEventLog(plain)
        plain.subscribe(try MQTTTopicFilter("rap/#"), qos: .atLeastOnce)
        plain.start()
        try await ensureMQTTSubscribed(plain, plainLog, topic: "rap/probe-plain")

        let publisher = try makeMQTTClient(broker, id: "rap-pub")
        defer { publisher.stop() }
        publisher.start()
        #expect(await publisher.waitUntilConnected(timeout: .seconds(5)))
        #expect(publisher.publish(
            try MQTTTopic("rap/request"), payload: Array("go".utf8), qos: .atLeastOnce, retain: true) == .sent)
        let kept = try #require(await keepingLog.message(on: "rap/request"))
        #expect(kept.retain)
        let cleared = try #require(await plainLog.message(on: "rap/request"))
        #expect(!cleared.retain)
    }
}

/// The inbound queue against a real broker: a flood of coalescing messages never costs a
/// normal one, and a slow consumer makes the client push back instead of dropping.
@Suite(.serialized) struct MQTTInboundFloodTests {
    @Test(.timeLimit(.minutes(1))) func aHeartbeatFloodIsShedWhileEveryRequestArrivesInOrder() async throws {
        let broker = try await MosquittoBroker()
        let subscriber = try makeMQTTClient(broker, id: "flood-sub")
        defer { subscriber.stop() }
        try subscriber.subscribe(try MQTTTopicFilter("t/+/hb"), qos: .atMostOnce, options: .init(coalescing: true))
        subscriber.subscribe(try MQTTTopicFilter("t/req/#"), qos: .atLeastOnce)
        subscriber.start()
        #expect(await subscriber.waitUntilConnected(timeout: .seconds(5)))
        // Acknowledged after the SUBSCRIBEs queued before it: both subscriptions are active.
        #expect(subscriber.publish(try MQTTTopic("t/req/probe"), payload: [], qos: .atLeastOnce) == .sent)
        #expect(await subscriber.flush(timeout: .seconds(5)))

        let flooder = try makeMQTTClient(broker, id: "flooder")
        defer { flooder.stop() }
        flooder.start()
        #expect(await flooder.waitUntilConnected(timeout: .seconds(5)))
        let heartbeatTopics = try (0..<100).map { try MQTTTopic("t/\($0)/hb") }
        var heartbeatsSent = 0
        for index in 0..<10_000 {
            if flooder.publish(heartbeatTopics[index % 100], payload: Array("\(index)".utf8)) == .sent { heartbeatsSent += 1 }
            if index % 100 == 50 {
                let request = index / 100
                #expect(flooder.publish(
                    try MQTTTopic("t/req/\(request)"), payload: Array("\(request)".utf8), qos: .atLeastOnce) == .sent)
            }
        }
        #expect(flooder.publish(try MQTTTopic("t/req/end"), payload: [], qos: .atLeastOnce) == .sent)
        #expect(await flooder.flush(timeout: .seconds(20)))

        // The consumer starts late: by now the flood has reached the subscriber's queue.
        try await Task.sleep(for: .seconds(1))
        var requests: [String] = []
        var heartbeatsReceived = 0
        var iterator = subscriber.events.makeAsyncIterator()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, let event = await iterator.next() {
            guard case .message(let message) = event else { continue }
            if message.topic == "t/req/end" { break }
            if message.topic.hasPrefix("t/req/") {
                if message.topic != "t/req/probe" { requests.append(String(decoding: message.payload, as: UTF8.self)) }
            } else {
                heartbeatsReceived += 1
            }
        }
        let statistics = subscriber.statistics
        #expect(requests == (0..<100).map { "\($0)" })
        #expect(heartbeatsSent == 10_000)
        #expect(statistics.shedMessages > 0)
        #expect(statistics.shedMessages == statistics.shedSameTopic + statistics.shedOverLimit)
        // The broker may drop QoS 0 under its own limits, so only an upper bound holds.
        #expect(heartbeatsReceived + statistics.shedMessages <= heartbeatsSent,
                "received \(heartbeatsReceived), shed \(statistics.shedMessages)")
        #expect(statistics.backpressureEvents == 0)
    }

    @Test(.timeLimit(.minutes(1))) func aSlowConsumerGetsBackpressureNotLoss() async throws {
        let broker = try await MosquittoBroker()
        let subscriber = try makeMQTTClient(broker, id: "bp-sub") { $0.eventBufferSize = 20 }
        defer { subscriber.stop() }
        subscriber.subscribe(try MQTTTopicFilter("bp/#"), qos: .atLeastOnce)
        subscriber.start()
        #expect(await subscriber.waitUntilConnected(timeout: .seconds(5)))
        #expect(subscriber.publish(try MQTTTopic("bp/probe"), payload: [], qos: .atLeastOnce) == .sent)
        #expect(await subscriber.flush(timeout: .seconds(5)))

        let publisher = try makeMQTTClient(broker, id: "bp-pub")
        defer { publisher.stop() }
        publisher.start()
        #expect(await publisher.waitUntilConnected(timeout: .seconds(5)))
        let count = 500
        let topic = try MQTTTopic("bp/data")
        for index in 0..<count {
            #expect(publisher.publish(topic, payload: Array("\(index)".utf8), qos: .atLeastOnce) == .sent)
        }
        // Nobody reads: the queue stops at about its bound, the rest waits at the broker.
        #expect(await waitUntil(timeout: .seconds(10)) { subscriber.statistics.isBackpressured })
        try await Task.sleep(for: .milliseconds(500))
        let paused = subscriber.statistics
        #expect(paused.isBackpressured && paused.backpressureEvents >= 1)
        #expect(paused.queuedMessages < 40, "\(paused)")
        #expect(subscriber.isConnected)

        var received: [String] = []
        var iterator = subscriber.events.makeAsyncIterator()
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < count, ContinuousClock.now < deadline, let event = await iterator.next() {
            if case .message(let message) = event, message.topic == "bp/data" {
                received.append(String(decoding: message.payload, as: UTF8.self))
            }
        }
        #expect(received == (0..<count).map { "\($0)" })
        #expect(subscriber.statistics.shedMessages == 0)
        #expect(!subscriber.statistics.isBackpressured)
        #expect(subscriber.isConnected)
    }
}

/// Re-evaluates `condition` every 10 ms until it holds (true) or `timeout` passes (false).
private func waitUntil(timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}
