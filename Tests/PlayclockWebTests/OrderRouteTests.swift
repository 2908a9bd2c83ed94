import Foundation
import HTTPTypes
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub
@testable import PlayclockWeb

/// Orders to PCs from the dashboard: the same request path as MQTT, managers only.
@Suite struct OrderRouteTests {
    @Test func managersSendOrdersOthersAreForbidden() async throws {
        let fixture = try DashboardFixture()
        try await fixture.test { client in
            let max = try await client.signIn("max")
            let me = try await client.get("/api/me", cookie: max)
            let verbs = me.json?["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(["station/logout", "station/shutdown", "station/restart", "station/message"].allSatisfy(verbs.contains))
            for account in ["ann", "vic"] {
                let cookie = try await client.signIn(account)
                let offered = try await client.get("/api/me", cookie: cookie).json?["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                #expect(!offered.contains { $0.hasPrefix("station/") && $0 != "station/list" && $0 != "station/get" })
                let refused = try await client.command("station/shutdown", #"{"station":"PC-01"}"#, cookie: cookie)
                #expect(refused.status == .forbidden)
                #expect(refused.json?["error"]?["code"] == "forbidden")
            }
            #expect(fixture.transport.json(on: "playclock/stations/PC-01/control").isEmpty)

            let sent = try await client.command("station/message", #"{"station":"PC-01","text":"Pizza!","transaction":"w1"}"#, cookie: max)
            #expect(sent.status == .ok)
            #expect(sent.json?["data"]?["action"] == "message" && sent.json?["transaction"] == "w1")
            let controls = fixture.transport.json(on: "playclock/stations/PC-01/control")
            #expect(controls.count == 1 && controls.first?["text"] == "Pizza!")
            #expect(controls.first?["command"] == sent.json?["data"]?["command"])

            let bad = try await client.command("station/message", #"{"station":"PC-01","text":"   "}"#, cookie: max)
            #expect(bad.status == .badRequest && bad.json?["error"]?["code"] == "invalid_request")
            let unknown = try await client.command("station/restart", #"{"station":"PC-77"}"#, cookie: max)
            #expect(unknown.status == .notFound && unknown.json?["error"]?["code"] == "unknown_station")
            #expect(fixture.transport.json(on: "playclock/stations/PC-01/control").count == 1)

            let events = try await client.get("/api/events?station=PC-01&limit=10", cookie: max)
            let order = events.json?["events"]?.arrayValue?.first { $0["type"] == "station.order" }
            #expect(order?["data"]?["by"] == "max" && order?["data"]?["text"] == "Pizza!")
        }
    }

    @Test func ignoredAgentReportsAreCountedInTheMetrics() async throws {
        let fixture = try DashboardFixture()
        await fixture.hub.receive(InboundMessage(topic: "playclock/stations/PC-01/event", payload: Array("nonsense".utf8)))
        await fixture.hub.receive(InboundMessage(
            topic: "playclock/stations/PC-01/event",
            payload: Array(#"{"type":"tamper","station":"PC-02","reason":"grab_lost","sent_at":"x"}"#.utf8)))
        try await fixture.test { client in
            let metrics = try await client.get("/metrics")
            #expect(metrics.text.contains(#"playclock_agent_reports_ignored_total{reason="invalid"} 1"#))
            #expect(metrics.text.contains(#"playclock_agent_reports_ignored_total{reason="station_mismatch"} 1"#))
        }
    }
}
