import Foundation
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub

/// Staff orders through the hub's request path, and the agents' reports on `R/stations/<id>/event`.
@Suite struct AgentReportTests {
    let db: TemporaryDatabase
    let topics = TopicScheme(root: "playclock")!
    let clock = ManualHubClock()

    init() throws {
        db = try TemporaryDatabase()
        let store = try HubStore(path: db.path)
        try store.importStations([station("PC-01"), station("PC-02"), station("PS5-01", kind: .console)])
        store.close()
    }

    func makeHub(_ publisher: RecordingPublisher, access: AccessPolicy = AccessPolicy()) throws -> Hub {
        try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: clock,
                logger: quietLogger, access: access)
    }

    func report(_ station: String, _ json: String, retained: Bool = false) -> InboundMessage {
        InboundMessage(topic: "playclock/stations/\(station)/event", payload: Array(json.utf8), retained: retained)
    }

    func done(_ command: String, _ action: String, station: String = "PC-01") -> String {
        #"{"type":"order.done","station":"\#(station)","command":"\#(command)","action":"\#(action)","sent_at":"2026-11-21T22:00:00.000Z"}"#
    }

    func tamper(_ reason: String = "window_unmapped") -> String {
        #"{"type":"tamper","station":"PC-01","reason":"\#(reason)","sent_at":"2026-11-21T22:00:00.000Z"}"#
    }

    /// Sends a request on the shared topic (or an account's) and returns the hub's answer.
    func send(_ hub: Hub, _ publisher: RecordingPublisher, _ verb: String, _ body: JSONValue, user: String? = nil) async -> JSONValue? {
        let topic = user.map { topics.userRequest($0, verb) } ?? topics.request(verb)
        await hub.receive(InboundMessage(topic: topic, payload: JSONCoding.encode(body)))
        let responseTopic = user.map { topics.userResponse($0, verb) } ?? topics.response(verb)
        return publisher.messages.last { $0.topic == responseTopic }?.json
    }

    func published(_ publisher: RecordingPublisher, events type: String) -> [JSONValue] {
        publisher.messages.filter { $0.topic == "playclock/events" }.compactMap(\.json).filter { $0["type"]?.stringValue == type }
    }

    func storedEvents(_ type: String) throws -> [HubEvent] { try HubStore(path: db.path).events().filter { $0.type == type } }

    @Test func theHubSubscribesToAgentReportsWithTheirRealRetainFlag() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        let options = try #require(publisher.options["playclock/stations/+/event"])
        #expect(options.retainAsPublished && options.noLocal && !options.coalescing)
        await hub.shutdown()
    }

    @Test func anOrderGoesOutOnceAndItsReportBecomesAnEvent() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        let answer = try #require(await send(hub, publisher, "station/message", ["station": "PC-01", "text": " Last orders! ", "transaction": "m1"]))
        #expect(answer["status"] == "ok" && answer["transaction"] == "m1")
        let command = try #require(answer["data"]?["command"]?.stringValue)
        #expect(UUID(uuidString: command) != nil, "the command id is a UUID")
        #expect(answer["data"] == ["station": "PC-01", "action": "message", "command": .string(command)])

        let controls = publisher.messages.filter { $0.topic == "playclock/stations/PC-01/control" }
        try #require(controls.count == 1)
        #expect(!controls[0].retain)
        #expect(controls[0].json?["action"] == "message" && controls[0].json?["text"] == "Last orders!")
        #expect(controls[0].json?["command"] == .string(command))
        let order = try #require(try storedEvents("station.order").first)
        #expect(order.data == ["action": "message", "command": .string(command), "text": "Last orders!"])

        await hub.receive(report("PC-01", done(command, "message")))
        let doneEvents = published(publisher, events: "agent.order_done")
        #expect(doneEvents.count == 1)
        #expect(doneEvents.first?["station"] == "PC-01")
        #expect(doneEvents.first?["data"] == ["action": "message", "command": .string(command)])

        // The same report again (an agent retrying its QoS 1 publish, or replaying it) is ignored.
        for _ in 0..<5 { await hub.receive(report("PC-01", done(command, "message"))) }
        #expect(published(publisher, events: "agent.order_done").count == 1)
        #expect(try storedEvents("agent.order_done").count == 1)
        // Ten seconds on, the hub has sent nothing more to the station: orders are never repeated.
        clock.advance(byMillis: 10_000)
        #expect(publisher.messages.filter { $0.topic == "playclock/stations/PC-01/control" && $0.json?["command"] != nil }.count == 1)
        await hub.shutdown()
    }

    @Test func reportsOfAnotherStationRetainedOnesAndUnknownCommandsAreIgnored() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        let answer = await send(hub, publisher, "station/restart", ["station": "PC-01"])
        let command = try #require(answer?["data"]?["command"]?.stringValue)
        let before = try HubStore(path: db.path).events().count

        // PC-02's agent claims PC-01's order, on its own topic and on PC-01's.
        await hub.receive(report("PC-02", done(command, "restart", station: "PC-01")))
        await hub.receive(report("PC-01", done(command, "restart", station: "PC-02")))
        await hub.receive(report("PC-01", done(command, "restart"), retained: true))
        await hub.receive(report("PC-01", done("made-up", "restart")))
        await hub.receive(report("PC-99", done(command, "restart", station: "PC-99")))
        await hub.receive(report("PC-01", "{not json"))
        #expect(try HubStore(path: db.path).events().count == before)
        #expect(published(publisher, events: "agent.order_done").isEmpty)

        await hub.receive(report("PC-01", done(command, "restart")))
        #expect(try storedEvents("agent.order_done").count == 1)
        await hub.shutdown()
    }

    @Test func aTamperFloodIsOneEventAMinuteWithTheRepeatsCounted() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        for _ in 0..<500 {
            await hub.receive(report("PC-01", tamper()))
            clock.advance(byMillis: 100)
        }
        // 50 s of flood.
        var stored = try storedEvents("agent.tamper")
        #expect(stored.count == 1)
        #expect(stored.first?.data == ["reason": "window_unmapped"])
        clock.advance(byMillis: 10_000)
        await hub.receive(report("PC-01", tamper()))
        stored = try storedEvents("agent.tamper")
        #expect(stored.count == 2)
        #expect(stored.last?.data == ["reason": "window_unmapped", "repeated": 499])
        #expect(published(publisher, events: "agent.tamper").count == 2)
        await hub.shutdown()
    }

    @Test func onlyManagersSendOrdersAndTheAuditNamesThem() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher, access: AccessPolicy(roles: ["ann": .cashier, "tv": .viewer, "max": .manager]))
        try await hub.start()
        for user in ["ann", "tv"] {
            for verb in ["station/logout", "station/shutdown", "station/restart"] {
                #expect(await send(hub, publisher, verb, ["station": "PC-01"], user: user)?["error"]?["code"] == "forbidden")
            }
            #expect(await send(hub, publisher, "station/message", ["station": "PC-01", "text": "hi"], user: user)?["error"]?["code"] == "forbidden")
        }
        #expect(!publisher.messages.contains { $0.topic == "playclock/stations/PC-01/control" })
        #expect(try storedEvents("station.order").isEmpty)
        #expect(try storedEvents("command.rejected").contains { $0.data["verb"] == "station/shutdown" && $0.data["by"] == "ann" })

        #expect(await send(hub, publisher, "station/shutdown", ["station": "PS5-01"], user: "max")?["error"]?["code"] == "no_agent")
        #expect(await send(hub, publisher, "station/shutdown", ["station": "PC-01"], user: "max")?["status"] == "ok")
        #expect(try storedEvents("station.order").first?.data["by"] == "max")
        #expect(publisher.messages.filter { $0.topic == "playclock/stations/PC-01/control" }.count == 1)
        await hub.shutdown()
    }
}
