import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Orders to PCs and agent reports")
struct OrderTests {
    /// A station's control messages that are orders.
    private func orders(_ actions: [HubAction], _ id: StationID = pc1) -> [JSONValue] {
        actions.controls(id).filter { OrderAction(rawValue: $0["action"]?.stringValue ?? "") != nil }
    }

    private func report(_ hub: inout TestHub, _ json: String, at station: String = "PC-01") -> AgentReportOutcome {
        let outcome = hub.core.agentReport(station: station, payload: Array(json.utf8), now: hub.now)
        hub.record(outcome.actions)
        return outcome
    }

    private func done(_ command: String, _ action: String, station: String = "PC-01") -> String {
        #"{"type":"order.done","station":"\#(station)","command":"\#(command)","action":"\#(action)","sent_at":"2026-11-21T22:00:00.000Z"}"#
    }

    private func tamper(_ reason: String) -> String {
        #"{"type":"tamper","station":"PC-01","reason":"\#(reason)","sent_at":"2026-11-21T22:00:00.000Z"}"#
    }

    // MARK: - Sending

    @Test(arguments: ["logout", "shutdown", "restart"])
    func anOrderIsStoredAndSentOnce(_ action: String) throws {
        var hub = TestHub()
        let before = hub.store.stations
        let (result, actions) = hub.request("station/\(action)", ["station": "PC-01", "transaction": "o1"])
        #expect(try result.get() == ["station": "PC-01", "action": .string(action), "command": "C-1"])

        let sent = orders(actions)
        try #require(sent.count == 1)
        let out = try #require(actions.published(to: "playclock/stations/PC-01/control").first)
        #expect(out.qos == .atLeastOnce && out.retain == false)
        #expect(sent[0] == ["action": .string(action), "station": "PC-01", "command": "C-1", "sent_at": .string(iso(hub.now.wallMillis))])

        #expect(actions.eventTypes == ["station.order"])
        let event = try #require(actions.events.first)
        #expect(event.station == pc1 && event.session == nil)
        #expect(event.data == ["action": .string(action), "command": "C-1"])
        // An order changes no station: nothing else is stored or published.
        #expect(actions.outbounds.count == 1)
        #expect(actions.savedStations.isEmpty && actions.savedSessions.isEmpty)
        #expect(hub.store.stations == before)
    }

    @Test func aMessageCarriesItsTrimmedText() throws {
        var hub = TestHub()
        let (result, actions) = hub.request("station/message", ["station": "PC-01", "text": "  Your pizza\nis ready \n"])
        #expect(try result.get()["command"] == "C-1")
        let sent = try #require(orders(actions).first)
        #expect(sent["action"] == "message" && sent["text"] == "Your pizza\nis ready")
        #expect(actions.events.first?.data == ["action": "message", "command": "C-1", "text": "Your pizza\nis ready"])
    }

    @Test func ordersGoWithOrWithoutASessionAndWhileOffline() throws {
        var hub = TestHub()
        _ = try hub.agent(pc1, "offline")
        #expect(hub.state(pc1)?["online"] == false)
        var (result, actions) = hub.request("station/restart", ["station": "PC-01"])
        #expect(throws: Never.self) { try result.get() }
        #expect(orders(actions).count == 1)

        hub.start(pc2, seconds: 600)
        (result, actions) = hub.request("station/logout", ["station": "PC-02"])
        #expect(throws: Never.self) { try result.get() }
        #expect(orders(actions, pc2).count == 1)
        #expect(actions.events.first?.session == "S-1")
        #expect(hub.core.session(at: pc2)?.id == "S-1", "the session is left alone")
    }

    @Test func theHubNeverRepeatsAnOrder() throws {
        var hub = TestHub()
        hub.connect()
        try hub.heartbeat(pc1, #"{"seq":1,"locked":true}"#)
        let (_, actions) = hub.request("station/shutdown", ["station": "PC-01"])
        #expect(orders(actions).count == 1)
        var later: [HubAction] = []
        for seq in 2...30 {
            later += hub.run(seconds: 5)
            later += try hub.heartbeat(pc1, #"{"seq":\#(seq),"locked":false}"#)
        }
        later += hub.connect()  // a broker reconnect resends lock/unlock, never orders
        #expect(!later.controls(pc1).isEmpty, "the lock is re-sent to converge")
        #expect(orders(later).isEmpty)
    }

    // MARK: - Refusals

    @Test func refusalsChangeNothingButTheAuditLog() throws {
        var hub = TestHub()
        let cases: [(String, JSONValue, ErrorCode)] = [
            ("station/logout", ["station": "PC-99"], .unknownStation),
            ("station/shutdown", ["station": "PS-01"], .noAgent),
            ("station/message", ["station": "PS-01", "text": "hi"], .noAgent),
            ("station/message", ["station": "PC-01", "text": "  "], .invalidRequest),
            ("station/message", ["station": "PC-01", "text": .string(String(repeating: "x", count: 281))], .invalidRequest),
            ("station/message", ["station": "PC-01", "text": "a\u{1B}b"], .invalidRequest),
            ("station/restart", ["station": "PC 01"], .invalidStationID),
        ]
        for (verb, body, code) in cases {
            hub.run(seconds: 11)  // past the refusal digest's window: each refusal is stored in full
            let stations = hub.store.stations
            let (result, actions) = hub.request(verb, body)
            #expect(throws: CommandError.self) { try result.get() }
            if case .failure(let error) = result { #expect(error.code == code, "\(verb) \(body)") }
            #expect(actions.outbounds.isEmpty, "\(verb): nothing published")
            #expect(actions.eventTypes == ["command.rejected"])
            #expect(hub.store.stations == stations)
        }
        // Nothing was remembered as sent: no report for it is accepted.
        #expect(hub.core.entries[pc1]?.agentLog == AgentLog())
    }

    // MARK: - Reports

    @Test func anOrderReportIsStoredOnceForAnOrderTheHubSent() throws {
        var hub = TestHub()
        hub.request("station/shutdown", ["station": "PC-01"])
        hub.request("station/logout", ["station": "PC-01"])

        #expect(report(&hub, done("C-1", "shutdown")).actions.events.map(\.type) == ["agent.order_done"])
        let stored = try #require(hub.store.events.last)
        #expect(stored.type == "agent.order_done" && stored.station == pc1)
        #expect(stored.data == ["action": "shutdown", "command": "C-1"])
        #expect(stored.atWallMillis == hub.now.wallMillis, "the hub's time, not the agent's")

        #expect(report(&hub, done("C-1", "shutdown")) == .ignored(.duplicateOrder))
        #expect(report(&hub, done("C-9", "shutdown")) == .ignored(.unknownOrder))
        #expect(report(&hub, done("C-2", "restart")) == .ignored(.invalid), "not the action sent")

        let failed = report(&hub, #"{"type":"order.failed","station":"PC-01","command":"C-2","action":"logout","detail":"no desktop session","sent_at":"x"}"#)
        #expect(failed.actions.events.first?.type == "agent.order_failed")
        #expect(failed.actions.events.first?.data == ["action": "logout", "command": "C-2", "detail": "no desktop session"])
        #expect(report(&hub, done("C-2", "logout")) == .ignored(.duplicateOrder), "done after failed is a repeat too")
        #expect(hub.store.events.filter { $0.type.hasPrefix("agent.") }.count == 2)
    }

    @Test func reportsThatAreNotTheirStationsChangeNothing() throws {
        var hub = TestHub()
        hub.request("station/shutdown", ["station": "PC-01"])
        let events = hub.store.events.count
        #expect(report(&hub, done("C-1", "shutdown", station: "PC-01"), at: "PC-02") == .ignored(.stationMismatch))
        #expect(report(&hub, done("C-1", "shutdown", station: "PC-02"), at: "PC-01") == .ignored(.stationMismatch))
        #expect(report(&hub, done("C-1", "shutdown", station: "PC-77"), at: "PC-77") == .ignored(.unknownStation))
        #expect(report(&hub, done("C-1", "shutdown"), at: "PC+01") == .ignored(.invalidStation))
        #expect(report(&hub, "not json", at: "PC-01") == .ignored(.invalid))
        #expect(report(&hub, #"{"type":"tamper","station":"PC-01","reason":"nope","sent_at":"x"}"#, at: "PC-01") == .ignored(.invalid))
        let big = #"{"type":"tamper","station":"PC-01","reason":"grab_lost","sent_at":"\#(String(repeating: "x", count: 4100))"}"#
        #expect(report(&hub, big, at: "PC-01") == .ignored(.tooLarge))
        #expect(hub.store.events.count == events)
        // The real report still counts once.
        #expect(report(&hub, done("C-1", "shutdown")).actions.events.count == 1)
    }

    @Test func aTamperFloodIsOneEventPerReasonAMinuteWithTheRepeatsCounted() throws {
        var hub = TestHub()
        var stored: [HubEvent] = []
        for _ in 0..<1000 {
            stored += report(&hub, tamper("window_unmapped")).actions.events
            hub.advance(millis: 10)
        }
        // 10 s of flood: one event, the rest counted.
        #expect(stored.count == 1)
        #expect(stored[0].data == ["reason": "window_unmapped"])
        #expect(report(&hub, tamper("grab_lost")).actions.events.first?.data == ["reason": "grab_lost"], "each reason has its own window")

        hub.advance(millis: 49_990)
        #expect(report(&hub, tamper("window_unmapped")) == .counted, "59.99 s after the first: still counted")
        hub.advance(millis: 10)
        let next = try #require(report(&hub, tamper("window_unmapped")).actions.events.first)
        #expect(next.type == "agent.tamper" && next.station == pc1)
        #expect(next.data == ["reason": "window_unmapped", "repeated": 1000])

        hub.advance(seconds: 61)
        #expect(report(&hub, tamper("window_unmapped")).actions.events.first?.data == ["reason": "window_unmapped"], "no repeats, no count")
        #expect(hub.store.events.filter { $0.type == "agent.tamper" }.count == 4)
    }

    @Test func theOrdersRememberedAreBounded() {
        var hub = TestHub()
        for _ in 0..<40 { hub.request("station/logout", ["station": "PC-01"]) }
        let log = hub.core.entries[pc1]?.agentLog
        #expect(log?.pending.count == AgentLog.maxRemembered)
        #expect(report(&hub, done("C-1", "logout")) == .ignored(.unknownOrder), "the oldest is forgotten")
        #expect(report(&hub, done("C-40", "logout")).actions.events.count == 1)
    }

    @Test func aRolledBackReportIsNotRemembered() {
        var hub = TestHub()
        hub.request("station/logout", ["station": "PC-01"])
        hub.core.beginChange()
        #expect(hub.core.agentReport(station: "PC-01", payload: Array(done("C-1", "logout").utf8), now: hub.now).actions.count == 1)
        hub.core.rollbackChange()
        #expect(report(&hub, done("C-1", "logout")).actions.count == 1, "the store refused it: the report is taken again")
    }
}
