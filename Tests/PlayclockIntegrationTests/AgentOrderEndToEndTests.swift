import Foundation
import PlayclockContract
import Testing

/// Staff orders through the real CLI and `playclockd`, and an agent's report published with
/// `mosquitto_pub`, all watched by an independent `mosquitto_sub`.
@Suite(.serialized)
struct AgentOrderEndToEndTests {
    @Test func aMessageFromTheCLIReachesThePCAndItsReportBecomesAnEvent() async throws {
        let h = try await HubHarness()
        let cli = binaryPath("playclock")
        let mark = h.recorder.count
        let sent = try runTool(cli, ["station", "message", "PC-01", "hi", "--broker", h.broker.url])
        #expect(sent.status == 0, "\(sent.output)")
        #expect(sent.output.contains("PC-01: message sent (command "))

        let order = try await h.recorder.waitFor(since: mark, "the message order") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "message"
        }
        #expect(order.json?["text"] == "hi")
        #expect(order.json?["station"] == "PC-01")
        let command = try #require(order.json?["command"]?.stringValue)
        #expect(sent.output.contains(command))
        try await h.recorder.waitFor(since: mark, "station.order") {
            $0.topic == "playclock/events" && $0.json?["type"] == "station.order" && $0.json?["data"]?["command"] == .string(command)
        }

        // The agent reports it done (twice: the repeat is ignored).
        let report = #"{"type":"order.done","station":"PC-01","command":"\#(command)","action":"message","sent_at":"2026-11-21T22:00:00.000Z"}"#
        let reportMark = h.recorder.count
        try h.publish("playclock/stations/PC-01/event", report, qos: 1)
        let done = try await h.recorder.waitFor(since: reportMark, "agent.order_done") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_done"
        }
        #expect(done.json?["station"] == "PC-01")
        #expect(done.json?["data"] == ["action": "message", "command": .string(command)])
        try h.publish("playclock/stations/PC-01/event", report, qos: 1)

        // A console runs no agent; the CLI says so and exits 1. A restart order goes out once.
        let console = try runTool(cli, ["station", "add", "PS5-01", "--kind", "console", "--broker", h.broker.url])
        #expect(console.status == 0, "\(console.output)")
        let refused = try runTool(cli, ["station", "shutdown", "PS5-01", "--broker", h.broker.url])
        #expect(refused.status == 1)
        #expect(refused.output.contains("no_agent"))
        let restart = try runTool(cli, ["station", "restart", "PC-02", "--broker", h.broker.url])
        #expect(restart.status == 0, "\(restart.output)")
        try await h.recorder.waitFor(since: reportMark, "restart order") {
            $0.topic == "playclock/stations/PC-02/control" && $0.json?["action"] == "restart"
        }

        let records = h.recorder.records().dropFirst(mark)
        #expect(records.filter { $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_done" }.count == 1,
                "the repeated report was ignored")
        #expect(records.filter { $0.topic.hasSuffix("/control") && $0.json?["command"] != nil }.count == 2, "each order sent once")
    }
}
