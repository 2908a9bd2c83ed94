import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The real hub switching simulated Tasmota, Shelly Gen1 and Shelly Gen2 plugs (`playclock-sim`,
/// following each firmware's documented MQTT behaviour) through a real Mosquitto.
@Suite(.serialized)
struct PlugEndToEndTests {
    struct Plug: Sendable, CustomStringConvertible {
        var station: String
        var binding: JSONValue
        var simFlag: String
        var name: String
        /// Topic and payload of the hub's ON / OFF command.
        var command: String
        var on: @Sendable (String) -> Bool
        var off: @Sendable (String) -> Bool
        var description: String { simFlag }
    }

    static let plugs: [Plug] = [
        Plug(station: "CON-T", binding: ["type": "tasmota", "topic": "tas-1"], simFlag: "--tasmota", name: "tas-1",
             command: "cmnd/tas-1/POWER1", on: { $0 == "ON" }, off: { $0 == "OFF" }),
        Plug(station: "CON-S1", binding: ["type": "shelly1", "id": "shelly1-1"], simFlag: "--shelly1", name: "shelly1-1",
             command: "shellies/shelly1-1/relay/0/command", on: { $0 == "on" }, off: { $0 == "off" }),
        Plug(station: "CON-S2", binding: ["type": "shelly2", "prefix": "shelly2-1"], simFlag: "--shelly2", name: "shelly2-1",
             command: "shelly2-1/rpc",
             on: { $0.contains("Switch.Set") && $0.contains(#""on":true"#) },
             off: { $0.contains("Switch.Set") && $0.contains(#""on":false"#) }),
    ]

    static let policy: JSONValue = [
        "warn_thresholds_s": [1], "countdown_interval_s": 1, "final_phase_s": 2, "heartbeat_interval_s": 1,
        "expired_hold_s": 1, "plug_retry_initial_s": 1, "plug_retry_max_s": 1, "plug_alarm_after_attempts": 2,
        "plug_failsafe_margin_s": 5,
    ]

    /// A hub with one station bound to the given plug, and the simulator running that plug.
    func setUp(_ plug: Plug) async throws -> (HubHarness, ChildProcess) {
        let h = try await HubHarness(
            policy: Self.policy,
            extraStations: [["station": .string(plug.station), "kind": "console", "plug": plug.binding]],
            recordEverything: true)
        let sim = try ChildProcess(
            binaryPath("playclock-sim"),
            arguments: ["--broker", h.broker.url, plug.simFlag, plug.name, "--plug-telemetry-interval", "1"],
            directory: h.directory)
        try await h.recorder.waitFor(timeout: .seconds(10), "plug online in the hub's state") {
            $0.topic == "playclock/stations/\(plug.station)/state" && $0.json?["plug"]?["online"] == true
        }
        return (h, sim)
    }

    func fault(_ h: HubHarness, _ plug: Plug, _ what: String) throws {
        try h.publish("playclock-sim/plugs/\(plug.name)/fault", what, qos: 1)
    }

    func plugState(_ h: HubHarness, _ plug: Plug, since: Int, _ what: String, _ predicate: @escaping (JSONValue) -> Bool) async throws {
        try await h.recorder.waitFor(since: since, timeout: .seconds(8), "\(plug.station): \(what)") { record in
            record.topic == "playclock/stations/\(plug.station)/state" && record.json.map(predicate) == true
        }
    }

    @Test(arguments: plugs)
    func switchedOnAtStartOffAtExpiryAndReassertedAfterAButtonPress(_ plug: Plug) async throws {
        let (h, sim) = try await setUp(plug)
        defer { sim.kill() }
        var mark = h.recorder.count
        let start = try await h.request("session/start", ["station": .string(plug.station), "seconds": 6])
        #expect(start["status"] == "ok")
        try await h.recorder.waitFor(since: mark, "ON command") { $0.topic == plug.command && plug.on($0.payload) }
        try await plugState(h, plug, since: mark, "confirmed on") { $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true }

        mark = h.recorder.count
        try fault(h, plug, "press")  // a customer or staff member switches it off by hand
        try await h.recorder.waitFor(since: mark, "mismatch event") {
            $0.topic == "playclock/events" && $0.json?["type"] == "plug.mismatch" && $0.json?["station"] == .string(plug.station)
        }
        try await plugState(h, plug, since: mark, "re-asserted on") { $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true }

        mark = h.recorder.count
        try await h.recorder.waitFor(since: mark, timeout: .seconds(10), "OFF command at expiry") {
            $0.topic == plug.command && plug.off($0.payload)
        }
        try await plugState(h, plug, since: mark, "confirmed off") { $0["plug"]?["power"] == false && $0["plug"]?["confirmed"] == true }

        // Nothing the hub sent to the plug is retained: a fresh subscriber gets no command back,
        // and the simulated firmware never saw a retained command.
        let retained = try runTool(
            "/usr/bin/mosquitto_sub",
            ["-h", "127.0.0.1", "-p", "\(h.broker.port)", "-t", "cmnd/#", "-t", "shellies/+/relay/+/command", "-t", "+/rpc",
             "-v"],
            timeout: .seconds(1))
        #expect(retained.output.isEmpty, "retained commands on the broker: \(retained.output)")
        #expect(!sim.output.contains("RETAINED-COMMAND"))
    }

    @Test(arguments: plugs)
    func aSilentPlugRaisesAnAlarmThatClearsWhenItAnswers(_ plug: Plug) async throws {
        let (h, sim) = try await setUp(plug)
        defer { sim.kill() }
        try fault(h, plug, "silent")
        try await Task.sleep(for: .milliseconds(300))
        var mark = h.recorder.count
        _ = try await h.request("session/start", ["station": .string(plug.station), "minutes": 5])
        try await h.recorder.waitFor(since: mark, timeout: .seconds(10), "unconfirmed alarm") {
            $0.topic == "playclock/events" && $0.json?["type"] == "plug.alarm" && $0.json?["data"]?["reason"] == "unconfirmed"
        }
        try await plugState(h, plug, since: mark, "alarm status") { $0["status"] == "alarm" }
        let retries = h.recorder.records().dropFirst(mark).filter { $0.topic == plug.command && plug.on($0.payload) }
        #expect(retries.count >= 3, "the hub kept re-sending")

        mark = h.recorder.count
        try fault(h, plug, "answer")
        try await h.recorder.waitFor(since: mark, timeout: .seconds(10), "alarm cleared") {
            $0.topic == "playclock/events" && $0.json?["type"] == "plug.alarm_cleared"
        }
        try await plugState(h, plug, since: mark, "active again") { $0["status"] == "active" || $0["status"] == "warned" }
    }

    @Test func aPowerCutIsAlarmedAndThePlugIsSwitchedBackOnWhenItReturns() async throws {
        let plug = Self.plugs[0]
        let (h, sim) = try await setUp(plug)
        defer { sim.kill() }
        var mark = h.recorder.count
        _ = try await h.request("session/start", ["station": .string(plug.station), "minutes": 5])
        try await plugState(h, plug, since: mark, "confirmed on") { $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true }
        mark = h.recorder.count
        try fault(h, plug, "powercut")
        try await plugState(h, plug, since: mark, "offline alarm") { $0["status"] == "alarm" && $0["plug"]?["alarm"] == "offline" }
        try await plugState(h, plug, since: mark, "back on after the cut") {
            $0["plug"]?["online"] == true && $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true && $0["status"] != "alarm"
        }
        // Re-armed fail-safe: PulseTime sent again with the remaining time + margin.
        let pulses = h.recorder.records().dropFirst(mark).filter { $0.topic == "cmnd/tas-1/PulseTime1" }
        let value = try #require(pulses.last.flatMap { Int($0.payload) })
        #expect((380...406).contains(value), "about 300 s left + 5 s margin, +100 encoding: \(value)")
    }

    /// `playclock plug power` against the simulated Tasmota, whose PulseTime is a stored setting: a
    /// short session leaves it armed, and a plug held on by hand must not switch itself off with it.
    @Test func aPlugPoweredByHandStaysOnPastTheLastSessionsTimerUntilReleased() async throws {
        let plug = Self.plugs[0]
        let (h, sim) = try await setUp(plug)
        defer { sim.kill() }
        let cli = binaryPath("playclock")
        var mark = h.recorder.count
        _ = try await h.request("session/start", ["station": .string(plug.station), "seconds": 2])
        try await plugState(h, plug, since: mark, "confirmed on") { $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true }
        let armed = h.recorder.records().dropFirst(mark).filter { $0.topic == "cmnd/tas-1/PulseTime1" }.last?.payload
        #expect(armed == "70", "2 s + 5 s margin, in tenths: \(armed ?? "none")")
        mark = h.recorder.count
        try await plugState(h, plug, since: mark, "off after the session") {
            $0["plug"]?["power"] == false && $0["plug"]?["confirmed"] == true && $0["session"] == .null
        }

        mark = h.recorder.count
        let on = try runTool(cli, ["plug", "power", plug.station, "on", "--broker", h.broker.url])
        #expect(on.status == 0, "\(on.output)")
        #expect(on.output.contains("held"), "\(on.output)")
        try await h.recorder.waitFor(since: mark, "PulseTime disarmed, then ON") { $0.topic == plug.command && plug.on($0.payload) }
        let sent = h.recorder.records().dropFirst(mark).filter { $0.topic.hasPrefix("cmnd/tas-1/") }.map { "\($0.topic) \($0.payload)" }
        #expect(Array(sent.prefix(2)) == ["cmnd/tas-1/PulseTime1 0", "cmnd/tas-1/POWER1 ON"])
        try await plugState(h, plug, since: mark, "held on") {
            $0["plug"]?["power"] == true && $0["plug"]?["confirmed"] == true && $0["plug"]?["hold"] == true
        }
        // Past the 7 s the last session armed: still on, never switched off by the plug itself.
        try await Task.sleep(for: .seconds(9))
        let since = h.recorder.records().dropFirst(mark)
        #expect(!since.contains { $0.topic == "playclock/events" && $0.json?["type"] == "plug.mismatch" })
        #expect(since.last { $0.topic == "playclock/stations/\(plug.station)/state" }?.json?["plug"]?["power"] == true)
        #expect(!since.contains { $0.topic == plug.command && plug.off($0.payload) })

        // Released by hand: off now.
        mark = h.recorder.count
        let off = try runTool(cli, ["plug", "power", plug.station, "off", "--broker", h.broker.url, "--json"])
        #expect(off.status == 0, "\(off.output)")
        #expect((try? JSONCoding.decode(Array(off.output.utf8)))?["plug"]?["hold"] == false)
        try await plugState(h, plug, since: mark, "off again") {
            $0["plug"]?["power"] == false && $0["plug"]?["confirmed"] == true && $0["plug"]?["hold"] == false
        }
        try await h.recorder.waitFor(since: mark, "plug.manual event") {
            $0.topic == "playclock/events" && $0.json?["type"] == "plug.manual" && $0.json?["data"]?["on"] == false
        }

        let noPlug = try runTool(cli, ["plug", "power", "PC-01", "on", "--broker", h.broker.url])
        #expect(noPlug.status == 1)
        #expect(noPlug.output.contains("no_plug"))
    }

    @Test func consoleDrawingPowerWithoutASessionIsReportedAsBypass() async throws {
        let plug = Self.plugs[0]
        let (h, sim) = try await setUp(plug)
        defer { sim.kill() }
        // A plug that ignores the hub, switched on by hand with no session: the console draws power.
        try fault(h, plug, "silent")
        try await Task.sleep(for: .milliseconds(300))
        let mark = h.recorder.count
        try fault(h, plug, "press")
        try await h.recorder.waitFor(since: mark, timeout: .seconds(8), "bypass event") {
            $0.topic == "playclock/events" && $0.json?["type"] == "plug.bypass" && $0.json?["station"] == .string(plug.station)
        }
        try await h.recorder.waitFor(since: mark, timeout: .seconds(8), "the hub tries to switch it off") {
            $0.topic == plug.command && plug.off($0.payload)
        }
        try await plugState(h, plug, since: mark, "alarm while it will not obey") { $0["status"] == "alarm" }
    }
}
