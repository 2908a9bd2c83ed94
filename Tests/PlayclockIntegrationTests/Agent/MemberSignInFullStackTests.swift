import Foundation
import PlayclockContract
import Testing

/// A member signs in at a real PC's lock screen and the real hub bills their balance: Xvfb, the
/// real `playclock-agent`, a real Mosquitto and the real `playclockd` with prices. Keys typed with
/// xdotool; the unlock, the state, the charge and `playclock db check` checked from outside.
@Suite("Member sign-in, full stack (Xvfb, mosquitto, playclock-agent, playclockd)", .serialized,
       .enabled(if: XServer.isInstalled && FileManager.default.isExecutableFile(atPath: "/usr/bin/mosquitto_sub")))
struct MemberSignInFullStackTests {
    static let pricing: JSONValue = [
        "currency": "EUR", "timezone": "Europe/Berlin",
        "plans": [["id": "standard", "name": "PCs", "per_hour": 300, "step_s": 60, "minimum": 50]],
        "packages": [], "tiers": [],
    ]

    @Test func aMemberSignsInWithTheirPINPlaysOnTheirBalanceAndSignsOut() async throws {
        let harness = try await HubHarness(config: ["pricing": Self.pricing])
        #expect(try await harness.request("member/add", ["member": "M-1001", "name": "Anna K.", "pin": "4711"])["status"] == "ok")
        let topup = try await harness.request("member/topup", ["member": "M-1001", "amount": 500, "method": "cash"])
        #expect(topup["data"]?["balance"] == 500)

        let x = try XServer()
        defer { x.kill() }
        let config = harness.directory.appendingPathComponent("agent.json")
        try Data(JSONCoding.encode(["station": "PC-01", "venue_name": "Test Arena", "heartbeat_interval_s": 1])).write(to: config)
        let agent = try ChildProcess(binaryPath("playclock-agent"), arguments: [
            "--config", config.path, "--broker", harness.broker.url,
            "--lease-file", harness.directory.appendingPathComponent("lease.json").path,
        ], environment: x.environment, directory: harness.directory)
        defer { agent.kill() }
        try await x.waitForWindow(AgentProcess.lockName, "locked") { $0?.viewable == true && $0?.width == x.width }
        try await harness.recorder.waitFor(since: 0, timeout: .seconds(15), "the agent's heartbeat") {
            $0.topic == "playclock/stations/PC-01/heartbeat"
        }

        // A wrong PIN first: refused, the station stays locked.
        try x.run("xdotool", ["type", "--delay", "40", "M-1001"])
        try x.run("xdotool", ["key", "--delay", "40", "Tab"])
        try x.run("xdotool", ["type", "--delay", "40", "1234"])
        try x.run("xdotool", ["key", "--delay", "40", "Return"])
        let refusal = try await harness.recorder.waitFor(since: 0, timeout: .seconds(15), "the refusal") {
            $0.topic == "playclock/stations/PC-01/signin/result"
        }
        #expect(refusal.json?["error"]?["code"] == "invalid_credentials")
        // The hub takes one attempt per station a second; the agent cleared the PIN and kept the id.
        try await Task.sleep(for: .milliseconds(1200))
        let mark = harness.recorder.count
        try x.run("xdotool", ["type", "--delay", "40", "4711"])
        try x.run("xdotool", ["key", "--delay", "40", "Return"])
        let unlock = try await harness.recorder.waitFor(since: mark, timeout: .seconds(15), "the unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["member"]?["member"] == "M-1001")
        #expect(unlock.json?["member"]?["balance_text"] == "5.00 EUR")
        try await x.waitForWindow(AgentProcess.lockName, "unlocked") { $0?.viewable == false }
        let state = try #require(try harness.retainedState("PC-01"))
        #expect(state["session"]?["billing"] == "balance")
        // 5.00 at 3.00 an hour buys 100 minutes.
        #expect(state["session"]?["granted_s"] == 6000)

        // Sign out with the overlay's button: locked again, the session charged (the minimum).
        let button = try #require(try await eventuallyWindow(x, "Playclock sign out"))
        let beforeClick = harness.recorder.count
        try x.run("xdotool", ["mousemove", "\(button.x + button.width / 2)", "\(button.y + button.height / 2)", "click", "1"])
        let charged = try await harness.recorder.waitFor(since: beforeClick, timeout: .seconds(15), "the charge") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        #expect(charged.json?["data"]?["amount"] == 50)
        try await x.waitForWindow(AgentProcess.lockName, "locked again") { $0?.viewable == true }
        let member = try await harness.request("member/get", ["member": "M-1001"])
        #expect(member["data"]?["balance"] == 450)
        let (out, status) = try runTool(binaryPath("playclock"), ["db", "check", "--database", harness.database])
        #expect(status == 0, "\(out)")
        #expect(!agent.output.contains("4711") && !harness.hubLog.contains("4711"), "the PIN is in no log")
    }

    func eventuallyWindow(_ x: XServer, _ name: String) async throws -> XServer.WindowInfo? {
        var found: XServer.WindowInfo?
        _ = try await eventually {
            found = try x.window(named: name)
            return found?.viewable == true
        }
        return found
    }
}
