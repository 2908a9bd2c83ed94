import Foundation
import Logging
import PlayclockContract
import PlayclockCore
import Synchronization
import Testing

@testable import PlayclockHub

/// The real clocks, with a wall clock that a test can jump (as NTP or a missing RTC would).
final class JumpableClock: HubClock {
    private let system = SystemClock()
    private let wallOffset = Mutex<Int64>(0)

    func jumpWall(byMillis millis: Int64) { wallOffset.withLock { $0 += millis } }

    func now() -> Timestamp {
        var now = system.now()
        now.wallMillis += wallOffset.withLock { $0 }
        return now
    }
}

/// Records publishes; for every response it also reads the database through a second
/// connection, to prove what was committed before the answer went out.
final class RecordingPublisher: MessageTransport {
    struct Sent: Sendable {
        var topic: String
        var payload: [UInt8]
        var retain: Bool
        var correlationData: [UInt8]?
        var runningSessionsInDatabase: Int?
        var json: JSONValue? { try? JSONCoding.decode(payload) }
    }

    let databasePath: String
    private let sent = Mutex<[Sent]>([])

    init(databasePath: String) { self.databasePath = databasePath }

    var messages: [Sent] { sent.withLock { $0 } }

    func publish(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]?) -> Bool {
        var running: Int?
        if topic.contains("/hub/response/") {
            running = (try? HubStore(path: databasePath).runningSessions().count)
        }
        sent.withLock {
            $0.append(Sent(topic: topic, payload: payload, retain: retain, correlationData: correlationData,
                           runningSessionsInDatabase: running))
        }
        return true
    }

    private let filters = Mutex<[String: SubscriptionOptions]>([:])
    var subscriptions: Set<String> { Set(filters.withLock { $0.keys }) }
    var options: [String: SubscriptionOptions] { filters.withLock { $0 } }
    func subscribe(_ filter: String, qos: Outbound.QoS, options: SubscriptionOptions) { filters.withLock { $0[filter] = options } }
    func unsubscribe(_ filter: String) { _ = filters.withLock { $0.removeValue(forKey: filter) } }

    func waitFor(timeout: Duration = .seconds(5), _ predicate: (Sent) -> Bool) async throws -> Sent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = messages.first(where: predicate) { return found }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw CancellationError()
    }
}

@Suite struct HubActorTests {
    let db: TemporaryDatabase
    let clock = JumpableClock()
    let topics = TopicScheme(root: "playclock")!

    init() throws {
        db = try TemporaryDatabase.with(stations: ["PC-01", "PC-02"])
    }

    func makeHub(_ publisher: RecordingPublisher, policy: HubPolicy = HubPolicy()) throws -> Hub {
        try Hub(topics: topics, policy: policy, store: try HubStore(path: db.path), publisher: publisher, clock: clock,
                logger: quietLogger)
    }

    func request(_ verb: String, _ body: JSONValue, responseTopic: String? = nil, correlation: [UInt8]? = nil) -> InboundMessage {
        InboundMessage(topic: topics.request(verb), payload: JSONCoding.encode(body), responseTopic: responseTopic,
                       correlationData: correlation)
    }

    @Test func aSessionIsStoredBeforeTheRequestIsAnswered() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        await hub.receive(request("session/start", ["station": "PC-01", "minutes": 30, "transaction": 42]))
        let response = try #require(publisher.messages.first { $0.topic == "playclock/hub/response/session/start" })
        #expect(response.json?["status"] == "ok")
        #expect(response.json?["transaction"] == 42)
        #expect(response.runningSessionsInDatabase == 1)
        // And the unlock went out after the commit too (publishes follow the transaction).
        let topicsInOrder = publisher.messages.map(\.topic)
        #expect(topicsInOrder.contains("playclock/stations/PC-01/control"))
        #expect(topicsInOrder.contains("playclock/events"))
    }

    @Test func aRefusalIsAnsweredAndAuditedButChangesNothing() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        await hub.receive(request("session/start", ["station": "PC-01", "minutes": -1, "transaction": "t"]))
        let response = try #require(publisher.messages.first { $0.topic.hasSuffix("response/session/start") })
        #expect(response.json?["status"] == "error")
        #expect(response.json?["error"]?["code"] == "invalid_duration")
        #expect(response.json?["transaction"] == "t")
        #expect(response.runningSessionsInDatabase == 0)
        #expect(!publisher.messages.contains { $0.topic.hasSuffix("/control") })
        let events = try HubStore(path: db.path).events()
        #expect(events.map(\.type) == ["hub.started", "command.rejected"])
        #expect(events.last?.data["code"] == "invalid_duration")
    }

    @Test func aRefusedStoreWriteRollsTheCoreBackAndPublishesNothing() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        // Another writer takes the next event id: the hub's own insert of it will be refused.
        let next = try HubStore(path: db.path).lastEventID() + 1
        try HubStore(path: db.path).apply([
            .saveEvent(HubEvent(id: next, type: "test.blocker", atWallMillis: 0, station: nil, session: nil, data: [:])),
        ])

        for attempt in 1...2 {
            await hub.receive(request("session/start", ["station": "PC-01", "minutes": 30, "transaction": .int(Int64(attempt))]))
            let response = try #require(publisher.messages.last { $0.topic == "playclock/hub/response/session/start" })
            // The second attempt fails the same way only because the rollback gave the event
            // counter back: a core that kept it would have moved past the blocked id.
            #expect(response.json?["transaction"] == .int(Int64(attempt)))
            #expect(response.json?["error"]?["code"] == "storage_failed")
            #expect(response.runningSessionsInDatabase == 0)
        }
        #expect(await hub.state(of: StationID("PC-01")!)?["session"] == .null)
        #expect(!publisher.messages.contains { $0.topic == "playclock/stations/PC-01/control" })
        await hub.shutdown()
    }

    @Test func retainedRequestsAndHeartbeatsAreNeverActedOn() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        var start = request("session/start", ["station": "PC-01", "minutes": 30, "transaction": "r1"])
        start.retained = true
        await hub.receive(start)
        let response = try #require(publisher.messages.first { $0.topic.hasSuffix("response/session/start") })
        #expect(response.json?["error"]?["code"] == "retained_request")
        #expect(response.json?["transaction"] == "r1")
        #expect(response.runningSessionsInDatabase == 0)
        let cleared = try #require(publisher.messages.first { $0.topic == "playclock/hub/request/session/start" })
        #expect(cleared.retain && cleared.payload.isEmpty, "the retained request is deleted from the broker")
        // The broker forwarding that deletion is no request at all.
        let before = publisher.messages.count
        await hub.receive(InboundMessage(topic: "playclock/hub/request/session/start", payload: [], retained: true))
        #expect(publisher.messages.count == before)

        await hub.receive(InboundMessage(topic: "playclock/stations/PC-02/heartbeat", payload: Array(#"{"seq":1}"#.utf8), retained: true))
        #expect(await hub.state(of: StationID("PC-02")!)?["online"] == .null, "still unknown: a retained heartbeat is not presence")
        await hub.receive(InboundMessage(topic: "playclock/stations/PC-02/heartbeat", payload: Array(#"{"seq":2}"#.utf8)))
        #expect(await hub.state(of: StationID("PC-02")!)?["online"] == true)
    }

    @Test func mqttV5RequestsAreAlsoAnsweredOnTheirResponseTopic() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        await hub.receive(request("station/get", ["station": "PC-02"], responseTopic: "playclock/hub/response/tools/me", correlation: [1, 2, 3]))
        let direct = try #require(publisher.messages.first { $0.topic == "playclock/hub/response/tools/me" })
        #expect(direct.correlationData == [1, 2, 3])
        #expect(direct.json?["data"]?["station"] == "PC-02")
        #expect(publisher.messages.contains { $0.topic == "playclock/hub/response/station/get" })
    }

    @Test func aRestartedHubResumesFromTheStoreWithTheTimeThatPassed() async throws {
        let manual = ManualHubClock()
        func makeManualHub(_ publisher: RecordingPublisher) throws -> Hub {
            try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher,
                    clock: manual, logger: quietLogger)
        }
        let first = RecordingPublisher(databasePath: db.path)
        let hub = try makeManualHub(first)
        try await hub.start()
        await hub.receive(request("session/start", ["station": "PC-01", "seconds": 120]))
        manual.advance(byMillis: 500)
        await hub.shutdown()

        manual.advance(byMillis: 1_500)  // down for a second and a half
        let second = RecordingPublisher(databasePath: db.path)
        let restarted = try makeManualHub(second)
        try await restarted.start()
        let state = try #require(await restarted.state(of: StationID("PC-01")!))
        let remaining = try #require(state["session"]?["remaining_s"]?.intValue)
        #expect(remaining == 118, "the time the hub was down counts as used: 120 s - 2 s")
        await restarted.connected()
        #expect(second.messages.contains { $0.topic == "playclock/stations/PC-01/state" && $0.retain })
        #expect(second.messages.contains { $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock" })
        await restarted.shutdown()
    }

    /// On the manual clock: the session ends after exactly its paid monotonic time, whatever the
    /// wall clock does meanwhile (nothing here waits for real time to pass).
    @Test func wallClockJumpsNeitherGrantNorStealTime() async throws {
        let manual = ManualHubClock()
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher,
                          clock: manual, logger: quietLogger)
        try await hub.startRunning()
        await hub.receive(request("session/start", ["station": "PC-01", "seconds": 2]))
        let before = try #require(await hub.state(of: StationID("PC-01")!))

        manual.jumpWall(byMillis: 3_600_000)  // NTP arrives: an hour forward
        let after = try #require(await hub.state(of: StationID("PC-01")!))
        #expect(after["status"] == "warned" || after["status"] == "active", "the session did not end with the jump")
        #expect(after["session"]?["remaining_s"] == before["session"]?["remaining_s"])
        manual.jumpWall(byMillis: -7_200_000)  // and someone sets it an hour behind

        func locks() -> Int {
            publisher.messages.filter { $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock" }.count
        }
        manual.advance(byMillis: 1_999)
        await hub.ping()
        let almost = try #require(await hub.state(of: StationID("PC-01")!))
        #expect(almost["session"] != .null, "one millisecond before the end the session still runs")
        #expect(locks() == 0, "not locked before the paid time")

        manual.advance(byMillis: 1)
        let lock = try await publisher.waitFor { $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock" }
        #expect(lock.json?["reason"] == "expired")
        let stored = try #require(try HubStore(path: db.path).session(id: before["session"]?["id"]?.stringValue ?? ""))
        #expect(stored.usedMillisAtAnchor == 2000)
        #expect(stored.endReason == .expired)
        await hub.shutdown()
    }

    /// The timer loop and the alive recorder are child tasks of `run()`: cancelling the task that
    /// runs it stops them (nothing is left sleeping on the clock, nothing fires later), and
    /// `shutdown()` still records alive and announces `offline` after that.
    @Test func cancellingRunStopsTheTimersAndShutdownStillAnnouncesOffline() async throws {
        let manual = ManualHubClock()
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher,
                          clock: manual, logger: quietLogger)
        let running = try await hub.startRunning()
        await hub.receive(request("session/start", ["station": "PC-01", "seconds": 60]))
        let deadline = ContinuousClock.now + .seconds(5)
        while manual.sleeperCount < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(manual.sleeperCount == 2, "the timer and the alive recorder wait on the clock")

        running.cancel()
        await running.value
        #expect(manual.sleeperCount == 0, "nothing outlives run()")
        manual.advance(byMillis: 120_000)
        await hub.ping()
        #expect(!publisher.messages.contains { $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock" })

        await hub.shutdown()
        #expect(publisher.messages.last?.topic == "playclock/hub/status")
        #expect(publisher.messages.last?.payload == Array("offline".utf8))
        #expect(try HubStore(path: db.path).lastAlive()?.monoNanos == manual.now().monoNanos, "alive recorded at shutdown")
    }

    /// The event log is bounded: the alive recorder also deletes events past their retention.
    @Test func oldEventsArePrunedWhileTheHubRuns() async throws {
        let manual = ManualHubClock()
        let publisher = RecordingPublisher(databasePath: db.path)
        var retention = HubConfiguration.EventRetention()
        retention.retentionDays = 1
        let hub = try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher,
                          clock: manual, logger: quietLogger, aliveInterval: .seconds(2), retention: retention)
        try await hub.startRunning()
        await hub.receive(request("session/start", ["station": "PC-01", "seconds": 600]))
        let before = try HubStore(path: db.path).events()
        #expect(before.count >= 2)

        manual.jumpWall(byMillis: 2 * 86_400_000)  // two days later by the wall clock
        await hub.receive(request("session/start", ["station": "PC-02", "seconds": 600]))
        manual.advance(byMillis: 2_000)  // the alive recorder runs and prunes
        let deadline = ContinuousClock.now + .seconds(10)
        var remaining = try HubStore(path: db.path).events()
        while remaining.count > 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            remaining = try HubStore(path: db.path).events()
        }
        #expect(Set(remaining.map(\.station)) == [StationID("PC-02")!], "only the new events are kept: \(remaining.map(\.type))")
        #expect(try HubStore(path: db.path).runningSessions().count == 2, "sessions are never pruned")
        await hub.shutdown()
    }
}
