import Foundation
import PlayclockContract
import Testing

/// The real `playclock-agent` on Xvfb against a real Mosquitto, with no hub: the test plays the
/// hub with mosquitto_pub and watches the station's topics with mosquitto_sub. A member types
/// their id and PIN into the lock screen with xdotool; the request on the wire, the refusal on
/// the screen, the member's session and the sign-out button are checked from outside.
@Suite("Agent sign-in end to end (Xvfb, mosquitto, playclock-agent; the test is the hub)", .serialized,
       .enabled(if: XServer.isInstalled && FileManager.default.isExecutableFile(atPath: "/usr/bin/mosquitto_sub")))
struct AgentSignInEndToEndTests {
    static let station = "PC-01"
    static let signInTopic = "playclock/stations/PC-01/signin"

    /// Everything published under the station's topics, one `topic payload` line each.
    final class Watch {
        let process: ChildProcess
        init(broker: MosquittoBroker, directory: URL) throws {
            process = try ChildProcess(
                "/usr/bin/mosquitto_sub",
                arguments: ["-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-v", "-t", "playclock/stations/\(AgentSignInEndToEndTests.station)/#"],
                directory: directory, logName: "watch")
        }

        func payloads(on topic: String) -> [String] {
            process.output.split(separator: "\n").compactMap { line in
                line.hasPrefix(topic + " ") ? String(line.dropFirst(topic.count + 1)) : nil
            }
        }
    }

    func publish(_ broker: MosquittoBroker, _ topic: String, _ payload: [UInt8]) throws {
        let (out, status) = try runTool("/usr/bin/mosquitto_pub", [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", topic, "-m", String(decoding: payload, as: UTF8.self),
        ])
        guard status == 0 else { throw ChildProcessError(description: "mosquitto_pub failed (\(status)): \(out)") }
    }

    /// How many pixels of exactly `rgb` (`#ee5d50`) the `crop` of `file` has.
    func pixels(_ x: XServer, _ file: URL, crop: String, rgb: String) throws -> Int {
        let (out, _) = try x.run("convert", [
            file.path, "-crop", crop, "+repage", "-fill", "black", "+opaque", rgb, "-fill", "white", "-opaque", rgb,
            "-format", "%[fx:round(mean*w*h)]", "info:",
        ])
        guard let n = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw XTestError("convert: \(out)") }
        return n
    }

    func requests(_ watch: Watch) -> [SignInRequest] {
        watch.payloads(on: Self.signInTopic).compactMap { try? SignInRequest(payload: Array($0.utf8)) }
    }

    @Test func aMemberSignsInAtTheLockScreenIsRefusedThenSignsOutWithTheButton() async throws {
        let x = try XServer()
        defer { x.kill() }
        let broker = try await MosquittoBroker()
        let dir = try makeTemporaryDirectory(prefix: "agent-signin")
        defer { try? FileManager.default.removeItem(at: dir) }
        let watch = try Watch(broker: broker, directory: dir)
        defer { watch.process.kill() }
        let config = dir.appendingPathComponent("agent.json")
        try Data(JSONCoding.encode([
            "station": .string(Self.station), "venue_name": "Test Arena", "station_name": "PC 01", "heartbeat_interval_s": 1,
        ])).write(to: config)
        let agent = try ChildProcess(binaryPath("playclock-agent"), arguments: [
            "--config", config.path, "--broker", broker.url, "--lease-file", dir.appendingPathComponent("lease.json").path,
            "--log-level", "debug",
        ], environment: x.environment, directory: dir)
        defer { agent.kill() }

        try await x.waitForWindow(AgentProcess.lockName, "locked") { $0?.viewable == true && $0?.width == x.width }
        // Its heartbeat on the wire: the agent is connected and the watch subscribed.
        #expect(try await eventually { !watch.payloads(on: "playclock/stations/PC-01/heartbeat").isEmpty }, "no heartbeat: \(agent.output)")

        // The member types their id, Tab, the PIN, Enter; then Enter twice more (ignored while waiting).
        try x.run("xdotool", ["type", "--delay", "40", "M-1001"])
        try x.run("xdotool", ["key", "--delay", "40", "Tab"])
        try x.run("xdotool", ["type", "--delay", "40", "4711"])
        try x.run("xdotool", ["key", "--delay", "40", "Return"])
        #expect(try await eventually { !watch.payloads(on: Self.signInTopic).isEmpty }, "no sign-in request arrived")
        let shot = dir.appendingPathComponent("shot.png")
        try x.screenshot(shot)
        try x.run("xdotool", ["key", "--delay", "40", "Return", "Return"])
        try await Task.sleep(for: .seconds(1))
        let sent = watch.payloads(on: Self.signInTopic)
        #expect(sent.count == 1, "exactly one request: \(sent)")
        let request = try #require(try? SignInRequest(payload: Array((sent.first ?? "").utf8)), "well-formed: \(sent)")
        #expect(request.station == StationID(Self.station))
        #expect(request.action == .signIn(member: "M-1001", pin: "4711"))
        #expect(!agent.output.contains("4711"), "the PIN is in no log line")

        // Results for another request and another station change nothing; this one's refusal is shown.
        let band = "1100x260+410+600"  // the form: fields, note and hint (one or two headline lines above)
        let errorColour = "#ee5d50"
        #expect(try pixels(x, shot, crop: band, rgb: errorColour) == 0, "no error shown yet")
        let topic = "playclock/stations/PC-01/signin/result"
        let refusal = SignInResult.Failure(code: .unknownMember, message: "Wrong member id or PIN")
        try publish(broker, topic, SignInResult(station: StationID(Self.station)!, request: "someone-else", error: refusal).payload)
        try publish(broker, topic, SignInResult(station: StationID("PC-02")!, request: request.request, error: refusal).payload)
        try await Task.sleep(for: .milliseconds(700))
        try x.screenshot(shot)
        #expect(try pixels(x, shot, crop: band, rgb: errorColour) == 0, "foreign results are ignored")
        try publish(broker, topic, SignInResult(station: StationID(Self.station)!, request: request.request, error: refusal).payload)
        var red = 0
        _ = try await eventually {
            try x.screenshot(shot)
            red = try pixels(x, shot, crop: band, rgb: errorColour)
            return red > 100
        }
        #expect(red > 100, "the refusal is drawn in the error colour on the lock screen (\(red) pixels)")

        // The hub's unlock of a session billed to the member: the overlay and a sign-out button.
        let nowMillis = Int64(Date().timeIntervalSince1970 * 1000)
        let member = MemberSummary(member: "M-1001", name: "Anna K.", balance: 1250, currency: "EUR", balanceText: "12.50 EUR")
        let grant = ControlMessage.Grant(
            station: StationID(Self.station)!, session: "s-member-1", endsAt: ISO8601.string(fromMillis: nowMillis + 600_000),
            remainingSeconds: 600, sentAt: ISO8601.string(fromMillis: nowMillis), member: member)
        try publish(broker, "playclock/stations/PC-01/control", ControlMessage.unlock(grant).payload)
        try await x.waitForWindow(AgentProcess.lockName, "unlocked") { $0?.viewable == false }
        var found = ""
        _ = try await eventually {
            found = (try x.run("xdotool", ["search", "--onlyvisible", "--name", "Playclock sign out"]).output)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return !found.isEmpty
        }
        #expect(!found.isEmpty, "xdotool finds the sign-out window")
        let button = try #require(try x.window(named: "Playclock sign out"))
        try x.run("xdotool", ["mousemove", "\(button.x + button.width / 2)", "\(button.y + button.height / 2)", "click", "1"])
        #expect(try await eventually { requests(watch).count >= 2 }, "no sign-out request arrived")
        try await Task.sleep(for: .milliseconds(500))
        let all = requests(watch)
        #expect(watch.payloads(on: Self.signInTopic).count == 2 && all.count == 2, "one sign-in, one sign-out: \(all)")
        #expect(all.last?.action == .signOut)
        #expect(all.last?.station == StationID(Self.station))
        #expect(all.last.map { $0.request != request.request } == true, "a fresh request id")

        // The hub answers and locks: the station is locked again, the button gone.
        try publish(broker, topic, SignInResult(station: StationID(Self.station)!, request: all.last?.request ?? "", member: member).payload)
        try publish(broker, "playclock/stations/PC-01/control", ControlMessage.lock(.init(
            station: StationID(Self.station)!, session: "s-member-1", reason: .stopped,
            sentAt: ISO8601.string(fromMillis: Int64(Date().timeIntervalSince1970 * 1000)))).payload)
        try await x.waitForWindow(AgentProcess.lockName, "locked again") { $0?.viewable == true }
        try await x.waitForWindow("Playclock sign out", "the button gone") { $0?.viewable != true }
        #expect(!agent.output.contains("4711"))
    }
}
