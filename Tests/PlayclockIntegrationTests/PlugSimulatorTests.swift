import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The real `playclock-sim` simulating one plug of each kind against a real Mosquitto, driven with
/// `mosquitto_pub` and observed by an independent `mosquitto_sub` on `#`.
@Suite(.serialized)
struct PlugSimulatorTests {
    static let tasmota = PlugSimulator.tasmota
    static let shelly1 = PlugSimulator.shelly1
    static let shelly2 = PlugSimulator.shelly2

    @Test func tasmotaAnnouncesItselfAndSwitchesOnCommands() async throws {
        let sim = try await PlugSimulator()
        #expect(try await sim.retained("tele/\(Self.tasmota)/LWT") == "Online")
        try await sim.recorder.waitFor("STATE on connect") {
            $0.topic == "tele/\(Self.tasmota)/STATE" && $0.json?["POWER"] == "OFF" && $0.json?["Uptime"]?.stringValue != nil
        }

        var mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")
        try await sim.recorder.waitFor(since: mark, "RESULT ON") { $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["POWER": "ON"] }
        try await sim.recorder.waitFor(since: mark, "POWER ON") { $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "ON" }
        #expect(try await sim.retained("stat/\(Self.tasmota)/POWER") == nil, "stat/ is never retained")
        let line = try await sim.waitForLine("\(Self.tasmota) tasmota POWER ON")
        #expect(line.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z PS5-PLUG tasmota POWER ON/) != nil)
        try await sim.waitForLine("\(Self.tasmota) tasmota RELAY ON command")

        mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/Power1", "toggle")
        try await sim.recorder.waitFor(since: mark, "RESULT OFF") { $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["POWER": "OFF"] }

        mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/POWER", nil)
        try await sim.recorder.waitFor(since: mark, "answer to the query") { $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "OFF" }
        try await sim.waitForLine("\(Self.tasmota) tasmota POWER")

        #expect(!sim.recorder.records().contains { $0.topic.hasPrefix("playclock/") }, "plugs only: no PC agents")
    }

    @Test func tasmotaPulseTimeSwitchesTheRelayOffByItself() async throws {
        let sim = try await PlugSimulator()
        let mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/PulseTime", "30")  // 1...111 are tenths of a second: 3 s
        try await sim.recorder.waitFor(since: mark, "PulseTime answer") {
            $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["PulseTime1": ["Set": 30, "Remaining": 0]]
        }

        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")
        let firstOn = try await sim.recorder.waitFor(since: mark, "first ON") { $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "ON" }
        try await Task.sleep(for: .seconds(1.5))
        let secondMark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")  // restarts the pulse timer
        let secondOn = try await sim.recorder.waitFor(since: secondMark, "second ON") {
            $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "ON"
        }
        try sim.publish("cmnd/\(Self.tasmota)/PulseTime1", nil)
        let query = try await sim.recorder.waitFor(since: secondMark, "PulseTime query") {
            $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json?["PulseTime1"] != nil
        }
        #expect(query.json?["PulseTime1"]?["Set"] == 30)
        #expect((1...30).contains(query.json?["PulseTime1"]?["Remaining"]?.intValue ?? 0))

        let off = try await sim.recorder.waitFor(since: secondMark, timeout: .seconds(6), "OFF by itself") {
            $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "OFF"
        }
        #expect(sim.recorder.records().dropFirst(secondMark).contains { $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["POWER": "OFF"] })
        #expect((2.7...3.8).contains(off.time - secondOn.time), "3 s after the last ON")
        #expect(off.time - firstOn.time > 4)
        try await sim.waitForLine("\(Self.tasmota) tasmota RELAY OFF timer")
    }

    @Test func tasmotaButtonPressAndPowerCut() async throws {
        let sim = try await PlugSimulator()
        let mark = sim.recorder.count
        try sim.fault(Self.tasmota, "press")
        try await sim.recorder.waitFor(since: mark, "RESULT ON") { $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["POWER": "ON"] }
        try await sim.recorder.waitFor(since: mark, "POWER ON") { $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "ON" }
        try await sim.waitForLine("\(Self.tasmota) tasmota RELAY ON button")

        try sim.fault(Self.tasmota, "powercut")
        let offline = try await sim.recorder.waitFor(since: mark, "will") { $0.topic == "tele/\(Self.tasmota)/LWT" && $0.payload == "Offline" }
        let online = try await sim.recorder.waitFor(since: mark, timeout: .seconds(6), "back online") {
            $0.topic == "tele/\(Self.tasmota)/LWT" && $0.payload == "Online"
        }
        #expect(online.time - offline.time >= 1.8, "away for 2 s")
        try await sim.recorder.waitFor(since: mark, "STATE after the reboot") {
            $0.topic == "tele/\(Self.tasmota)/STATE" && $0.time >= online.time && $0.json?["POWER"] == "OFF"
        }
        #expect(try await sim.retained("tele/\(Self.tasmota)/LWT") == "Online")
        // The other plugs kept their connections.
        #expect(!sim.recorder.records().contains { $0.payload == "false" && $0.topic.hasSuffix("/online") })
    }

    @Test func silentTasmotaNeverAnswersUntilToldTo() async throws {
        let sim = try await PlugSimulator()
        try sim.fault(Self.tasmota, "silent")
        try await sim.waitForLine("\(Self.tasmota) tasmota FAULT silent")
        let mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")
        try await sim.waitForLine("\(Self.tasmota) tasmota IGNORED cmnd/\(Self.tasmota)/POWER ON")
        try await Task.sleep(for: .seconds(1.5))
        #expect(!sim.recorder.records().dropFirst(mark).contains { $0.topic.hasPrefix("stat/") })

        try sim.fault(Self.tasmota, "answer")
        try await sim.waitForLine("\(Self.tasmota) tasmota FAULT answer")
        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")
        try await sim.recorder.waitFor(since: mark, "answer") { $0.topic == "stat/\(Self.tasmota)/RESULT" && $0.json == ["POWER": "ON"] }
    }

    @Test func tasmotaReportsAndExecutesRetainedCommands() async throws {
        let sim = try await PlugSimulator(retained: [("cmnd/\(Self.tasmota)/POWER", "ON")])
        try await sim.waitForLine("\(Self.tasmota) tasmota RETAINED-COMMAND cmnd/\(Self.tasmota)/POWER ON")
        try await sim.recorder.waitFor("executed like the real firmware") { $0.topic == "stat/\(Self.tasmota)/POWER" && $0.payload == "ON" }
    }

    @Test func shelly1AnnouncesSwitchesAndReportsButtonPresses() async throws {
        let sim = try await PlugSimulator()
        let base = "shellies/\(Self.shelly1)"
        #expect(try await sim.retained("\(base)/online") == "true")
        #expect(try await sim.retained("\(base)/relay/0") == "off")
        let announce = try await sim.recorder.waitFor("announce") { $0.topic == "shellies/announce" }
        #expect(announce.json?["id"] == .string(Self.shelly1))
        #expect(announce.json?["model"] == "SHPLG-S")

        var mark = sim.recorder.count
        try sim.publish("\(base)/relay/0/command", "on")
        try await sim.recorder.waitFor(since: mark, "relay on") { $0.topic == "\(base)/relay/0" && $0.payload == "on" }
        try await sim.recorder.waitFor(since: mark, "power") { $0.topic == "\(base)/relay/0/power" && $0.payload == "65.00" }
        #expect(try await sim.retained("\(base)/relay/0") == "on")
        try await sim.waitForLine("\(Self.shelly1) shelly1 command on")

        mark = sim.recorder.count
        try sim.fault(Self.shelly1, "press")
        try await sim.recorder.waitFor(since: mark, "relay off") { $0.topic == "\(base)/relay/0" && $0.payload == "off" }
        try await sim.recorder.waitFor(since: mark, "no power") { $0.topic == "\(base)/relay/0/power" && $0.payload == "0.00" }
        try await sim.waitForLine("\(Self.shelly1) shelly1 RELAY OFF button")
    }

    @Test func shelly2AnswersRPCAndNotifiesStatus() async throws {
        let sim = try await PlugSimulator()
        let device = "shellyplusplugs-\(Self.shelly2)"
        #expect(try await sim.retained("\(Self.shelly2)/online") == "true")

        var mark = sim.recorder.count
        try sim.rpc(["id": 7, "src": "hub-test", "method": "Switch.Set", "params": ["id": 0, "on": true]])
        let reply = try await sim.recorder.waitFor(since: mark, "Switch.Set reply") { $0.topic == "hub-test/rpc" }
        #expect(reply.json == ["id": 7, "src": .string(device), "dst": "hub-test", "result": ["was_on": false]])
        let notify = try await sim.recorder.waitFor(since: mark, "NotifyStatus output") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["output"] != nil
        }
        #expect(notify.json?["method"] == "NotifyStatus")
        #expect(notify.json?["src"] == .string(device))
        #expect(notify.json?["params"]?["switch:0"]?["output"] == true)
        #expect(notify.json?["params"]?["switch:0"]?["source"] == "MQTT")
        #expect(notify.json?["params"]?["ts"]?.isNumber == true)
        try await sim.recorder.waitFor(since: mark, "NotifyStatus apower") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["apower"] == 65
        }

        mark = sim.recorder.count
        try sim.rpc(["id": 8, "src": "hub-test", "method": "Switch.GetStatus", "params": ["id": 0]])
        let status = try await sim.recorder.waitFor(since: mark, "GetStatus reply") { $0.topic == "hub-test/rpc" }
        #expect(status.json?["id"] == 8)
        #expect(status.json?["result"]?["output"] == true)
        #expect(status.json?["result"]?["apower"] == 65)
        #expect(status.json?["result"]?["source"] == "MQTT")

        mark = sim.recorder.count
        try sim.rpc(["id": 9, "src": "hub-test", "method": "Shelly.GetStatus"])
        let whole = try await sim.recorder.waitFor(since: mark, "Shelly.GetStatus reply") { $0.topic == "hub-test/rpc" }
        #expect(whole.json?["result"]?["switch:0"]?["output"] == true)

        mark = sim.recorder.count
        try sim.rpc(["id": 10, "src": "hub-test", "method": "Foo.Bar"])
        let unknown = try await sim.recorder.waitFor(since: mark, "error reply") { $0.topic == "hub-test/rpc" }
        #expect(unknown.json == ["id": 10, "src": .string(device), "dst": "hub-test", "error": ["code": 404, "message": "No handler for Foo.Bar"]])

        mark = sim.recorder.count
        try sim.publish("\(Self.shelly2)/rpc", "{oops")
        try sim.rpc(["id": 11, "src": "hub-test", "method": "Switch.GetStatus", "params": ["id": 0]])
        let afterMalformed = try await sim.recorder.waitFor(since: mark, "reply after malformed request") { $0.topic == "hub-test/rpc" }
        #expect(afterMalformed.json?["id"] == 11, "the malformed request got no reply")

        mark = sim.recorder.count
        try sim.fault(Self.shelly2, "press")
        try await sim.recorder.waitFor(since: mark, "NotifyStatus button") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["output"] == false
                && $0.json?["params"]?["switch:0"]?["source"] == "button"
        }
    }

    @Test func shelly2ToggleAfterFlipsTheOutputBack() async throws {
        let sim = try await PlugSimulator()
        let mark = sim.recorder.count
        try sim.rpc(["id": 1, "src": "hub-test", "method": "Switch.Set", "params": ["id": 0, "on": true, "toggle_after": 2]])
        let on = try await sim.recorder.waitFor(since: mark, "on") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["output"] == true
        }
        #expect(on.json?["params"]?["switch:0"]?["timer_duration"] == 2)
        let off = try await sim.recorder.waitFor(since: mark, "flipped back") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["output"] == false
        }
        #expect(off.json?["params"]?["switch:0"]?["source"] == "timer")
        #expect((1.8...3.0).contains(off.time - on.time))
    }

    @Test func reportedWattsFollowTheConsole() async throws {
        let sim = try await PlugSimulator(telemetryInterval: 1)
        var mark = sim.recorder.count
        try sim.publish("cmnd/\(Self.tasmota)/POWER", "ON")
        try sim.publish("shellies/\(Self.shelly1)/relay/0/command", "on")
        try sim.rpc(["id": 1, "src": "hub-test", "method": "Switch.Set", "params": ["id": 0, "on": true]])
        try await sim.recorder.waitFor(since: mark, "playing") {
            $0.topic == "tele/\(Self.tasmota)/SENSOR" && $0.json?["ENERGY"]?["Power"] == 65 && $0.json?["ENERGY"]?["Voltage"] == 230
        }

        mark = sim.recorder.count
        for plug in [Self.tasmota, Self.shelly1, Self.shelly2] { try sim.fault(plug, "idle") }
        try await sim.recorder.waitFor(since: mark, "idle telemetry") {
            $0.topic == "tele/\(Self.tasmota)/SENSOR" && $0.json?["ENERGY"]?["Power"] == 2
        }
        try await sim.recorder.waitFor(since: mark, "idle Shelly1") { $0.topic == "shellies/\(Self.shelly1)/relay/0/power" && $0.payload == "2.00" }
        try await sim.recorder.waitFor(since: mark, "idle Shelly2") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["apower"] == 2
        }

        mark = sim.recorder.count
        try sim.fault(Self.shelly2, "play")
        try await sim.recorder.waitFor(since: mark, "playing again") {
            $0.topic == "\(Self.shelly2)/events/rpc" && $0.json?["params"]?["switch:0"]?["apower"] == 65
        }
    }

    @Test func invalidPlugNamesAreRefused() throws {
        for arguments in [["--tasmota", "a/b"], ["--shelly1", "x,x"], ["--shelly2", String(repeating: "p", count: 65)]] {
            let result = try runTool(binaryPath("playclock-sim"), arguments)
            #expect(result.status == 64, "\(arguments): \(result.output)")
        }
    }
}

/// A broker, a recorder on `#`, and `playclock-sim` with one plug of each kind and no PCs.
/// Teardown SIGKILLs the simulator, the recorder and the broker.
final class PlugSimulator {
    static let tasmota = "PS5-PLUG"
    static let shelly1 = "shellyplug-s-AB12"
    static let shelly2 = "plusplug-1"

    let broker: MosquittoBroker
    let recorder: WireRecorder
    let process: ChildProcess

    /// `retained` messages are on the broker before the simulator starts.
    init(retained: [(topic: String, payload: String)] = [], telemetryInterval: Int = 10) async throws {
        broker = try await MosquittoBroker()
        recorder = try await WireRecorder(port: broker.port, filter: "#")
        for message in retained {
            try Self.publish(port: broker.port, message.topic, message.payload, retain: true)
        }
        process = try ChildProcess(
            binaryPath("playclock-sim"),
            arguments: [
                "--broker", broker.url, "--tasmota", Self.tasmota, "--shelly1", Self.shelly1, "--shelly2", Self.shelly2,
                "--plug-telemetry-interval", "\(telemetryInterval)",
            ])
        try await recorder.waitFor(timeout: .seconds(10), "Tasmota online") { $0.topic == "tele/\(Self.tasmota)/LWT" && $0.payload == "Online" }
        try await recorder.waitFor("Shelly1 online") { $0.topic == "shellies/\(Self.shelly1)/online" && $0.payload == "true" }
        try await recorder.waitFor("Shelly2 online") { $0.topic == "\(Self.shelly2)/online" && $0.payload == "true" }
    }

    deinit {
        process.kill()
        recorder.stop()
        broker.stop()
    }

    /// Publishes at QoS 1; a nil payload is an empty message.
    func publish(_ topic: String, _ payload: String?) throws {
        try Self.publish(port: broker.port, topic, payload, retain: false)
    }

    func rpc(_ request: JSONValue) throws {
        try publish("\(Self.shelly2)/rpc", String(decoding: JSONCoding.encode(request), as: UTF8.self))
    }

    func fault(_ plug: String, _ fault: String) throws {
        try publish("playclock-sim/plugs/\(plug)/fault", fault)
    }

    /// The retained message on `topic`, read by a fresh subscriber, or nil after a second.
    /// (Not `mosquitto_sub -W`: its SIGALRM stays blocked in children of the test process.)
    func retained(_ topic: String) async throws -> String? {
        let subscriber = try ChildProcess(
            "/usr/bin/mosquitto_sub", arguments: ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", topic, "--retained-only", "-C", "1"])
        guard await subscriber.waitForExit(timeout: .seconds(1)) == 0 else { return nil }
        return subscriber.output.trimmingCharacters(in: .newlines)
    }

    /// The first line of the simulator's stdout that ends with `fragment`, waiting up to `timeout`.
    @discardableResult
    func waitForLine(_ fragment: String, timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> String
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            let output = process.output
            if let line = output.split(separator: "\n").first(where: { $0.hasSuffix(fragment) }) { return String(line) }
            if ContinuousClock.now >= deadline {
                Issue.record("no line ending with \"\(fragment)\"; output:\n\(output.suffix(3000))", sourceLocation: sourceLocation)
                throw ChildProcessError(description: "no line with \(fragment)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func publish(port: Int, _ topic: String, _ payload: String?, retain: Bool) throws {
        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "1"]
        arguments += payload.map { ["-m", $0] } ?? ["-n"]
        if retain { arguments.append("-r") }
        let result = try runTool("/usr/bin/mosquitto_pub", arguments)
        guard result.status == 0 else { throw ChildProcessError(description: "mosquitto_pub failed: \(result.output)") }
    }
}
