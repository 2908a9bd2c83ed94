import Foundation
import PlayclockContract
import Testing

/// The real `playclock-agent` on a real X server (Xvfb), against a real Mosquitto and the real
/// `playclockd`, checked from outside with xwininfo, xdotool and ImageMagick.
final class AgentProcess {
    static let lockName = "Playclock lock screen"
    static let overlayName = "Playclock overlay"

    let x: XServer
    let hub: HubHarness
    let directory: URL
    let station: String
    private(set) var process: ChildProcess?

    var leaseFile: URL { directory.appendingPathComponent("lease.json") }
    var configFile: URL { directory.appendingPathComponent("agent.json") }

    init(x: XServer, hub: HubHarness, station: String = "PC-01", config: [String: JSONValue] = [:]) throws {
        self.x = x
        self.hub = hub
        self.station = station
        directory = try makeTemporaryDirectory(prefix: "agent")
        var settings: [String: JSONValue] = [
            "station": .string(station), "venue_name": "Test Arena", "station_name": "PC 01", "warn_thresholds_s": [2],
            "heartbeat_interval_s": 1, "notice_s": 10,
        ]
        for (k, v) in config { settings[k] = v }
        try Data(JSONCoding.encode(.object(settings))).write(to: configFile)
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    func start() throws {
        process = try ChildProcess(
            binaryPath("playclock-agent"),
            arguments: ["--config", configFile.path, "--broker", hub.broker.url, "--lease-file", leaseFile.path, "--log-level", "debug"],
            environment: x.environment, directory: directory)
    }

    /// SIGKILL: no clean shutdown, no chance to unlock anything. The desktop the agent started
    /// (`session_command`, a process group of its own) is SIGKILLed too: the kiosk's logind would.
    func kill() {
        if let pid = process?.pid {
            for child in AgentOrderTests.children(of: pid) { Foundation.kill(-child, SIGKILL) }
        }
        process?.kill()
        process = nil
    }

    var log: String { process?.output ?? (try? String(contentsOf: directory.appendingPathComponent("playclock-agent.log"), encoding: .utf8)) ?? "" }

    func waitLocked(timeout: Duration = .seconds(10), _ what: String) async throws {
        try await x.waitForWindow(Self.lockName, timeout: timeout, what) { w in
            guard let w else { return false }
            return w.viewable && w.x == 0 && w.y == 0 && w.width == self.x.width && w.height == self.x.height
        }
    }

    func waitUnlocked(timeout: Duration = .seconds(10), _ what: String) async throws -> XServer.WindowInfo {
        try await x.waitForWindow(Self.lockName, timeout: timeout, what) { $0 != nil && $0?.viewable == false }
        return try #require(try await x.waitForWindow(Self.overlayName, timeout: timeout, "overlay shown") { $0?.viewable == true })
    }

    /// Starts a session with the real CLI, waits for the hub's `unlock` on the wire and for the
    /// agent to show its overlay; the unlock as recorded, its `ends_at` and the overlay.
    func startSession(seconds: Int) async throws -> (unlock: WireRecord, endsAt: Double, overlay: XServer.WindowInfo) {
        let mark = hub.recorder.count
        try PlayclockIntegrationTests.startSession(hub, station, seconds: seconds)
        let unlock = try await hub.recorder.waitFor(since: mark, "the hub's unlock") {
            $0.topic == "playclock/stations/\(self.station)/control" && $0.json?["action"] == "unlock"
        }
        let overlay = try await waitUnlocked("unlocked")
        return (unlock, try #require(unixSeconds(unlock.json?["ends_at"]?.stringValue)), overlay)
    }

    /// The last heartbeat the agent sent, as seen on the wire.
    func lastHeartbeat(since: Int = 0) -> JSONValue? {
        hub.recorder.records().dropFirst(since).last(where: { $0.topic == "playclock/stations/\(station)/heartbeat" })?.json
    }
}

/// Starts a session with the real CLI; the hub's answer.
@discardableResult
func startSession(_ hub: HubHarness, _ station: String, seconds: Int) throws -> JSONValue {
    let (out, status) = try runTool(binaryPath("playclock"), ["session", "start", station, "--seconds", "\(seconds)", "--broker", hub.broker.url])
    guard status == 0 else { throw ChildProcessError(description: "playclock session start failed (\(status)): \(out)") }
    return (try? JSONCoding.decode(Array(out.utf8))) ?? .null
}

@Suite("Agent end to end (Xvfb, mosquitto, playclockd, playclock-agent)", .serialized, .enabled(if: XServer.isInstalled))
struct AgentEndToEndTests {
    @Test func startsLockedUnlocksWithinASecondWarnsAndLocksAtEndsAt() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("the agent starts locked, covering the screen")
        try await hub.recorder.waitFor(timeout: .seconds(10), "a heartbeat saying locked") {
            $0.topic == "playclock/stations/PC-01/heartbeat" && $0.json?["locked"] == true
        }
        // The hub has sent its `lock idle` (the station is idle): the screen says what to do.
        try await Task.sleep(for: .milliseconds(500))
        let locked = agent.directory.appendingPathComponent("locked.png")
        try x.screenshot(locked)
        #expect(try x.colours(locked) > 16, "the lock screen is drawn, not a blank window")

        let mark = hub.recorder.count
        let (unlock, endsAt, overlay) = try await agent.startSession(seconds: 8)
        let unlockedAt = Date().timeIntervalSince1970
        print("agent.e2e unlock latency: \(String(format: "%.3f", unlockedAt - unlock.time)) s (hub's unlock on the wire -> lock window unmapped, polled)")
        #expect(unlockedAt - unlock.time < 2.0, "unlocked within a second of the hub's unlock (2 s: loosely, for a busy machine)")
        #expect(overlay.x > x.width / 2 && overlay.y < x.height / 4, "the overlay sits at the top right")
        #expect(overlay.width < x.width / 3 && overlay.height < x.height / 4, "and is small")

        // The hub's 2-second warning: the overlay grows to show the notice.
        try await hub.recorder.waitFor(since: mark, timeout: .seconds(10), "the hub's warn") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "warn"
        }
        let warned = try await x.waitForWindow(AgentProcess.overlayName, timeout: .seconds(3), "the warning notice") {
            ($0?.height ?? 0) > overlay.height
        }
        #expect(warned != nil)
        let shot = agent.directory.appendingPathComponent("overlay.png")
        try x.screenshot(shot)

        try await agent.waitLocked(timeout: .seconds(15), "locked at the end")
        let lockedAt = Date().timeIntervalSince1970
        print("agent.e2e lock lateness: \(String(format: "%.3f", lockedAt - endsAt)) s after ends_at (hub running)")
        #expect(lockedAt - endsAt < 2.0, "locked within a second of ends_at (2 s: loosely)")
        #expect(lockedAt - endsAt > -0.2, "and not before")
        try await hub.recorder.waitFor(timeout: .seconds(5), "a heartbeat saying locked again") { r in
            r.time > lockedAt && r.topic == "playclock/stations/PC-01/heartbeat" && r.json?["locked"] == true
        }
        _ = agent
    }

    @Test func keystrokesDoNotReachAWindowUnderTheLock() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let typed = try makeTemporaryDirectory(prefix: "xterm").appendingPathComponent("typed.txt")
        let xterm = try ChildProcess("/usr/bin/xterm", arguments: ["-geometry", "80x10+100+100", "-e", "sh", "-c", "cat > \(typed.path)"],
                                     environment: x.environment)
        defer { xterm.kill() }
        var terminal = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while terminal.isEmpty {
            terminal = try x.run("xdotool", ["search", "--onlyvisible", "--class", "xterm"]).output
                .split(separator: "\n").first.map(String.init) ?? ""
            guard ContinuousClock.now < deadline else { throw ChildProcessError(description: "xterm did not appear") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("locked")

        try x.run("xdotool", ["windowfocus", terminal])
        try x.run("xdotool", ["type", "--delay", "20", "secret-while-locked"])
        try x.run("xdotool", ["key", "Return"])
        try await Task.sleep(for: .seconds(1))
        let whileLocked = (try? String(contentsOf: typed, encoding: .utf8)) ?? ""
        #expect(!whileLocked.contains("secret"), "the lock's keyboard grab takes every key: \(whileLocked)")

        // The same keys reach the terminal once unlocked, so the check above means something.
        _ = try await agent.startSession(seconds: 60)
        try x.run("xdotool", ["windowfocus", terminal])
        try x.run("xdotool", ["type", "--delay", "20", "typed-after-unlock"])
        try x.run("xdotool", ["key", "Return"])
        let until = ContinuousClock.now + .seconds(5)
        var after = ""
        while !after.contains("typed-after-unlock"), ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(100))
            after = (try? String(contentsOf: typed, encoding: .utf8)) ?? ""
        }
        #expect(after.contains("typed-after-unlock"), "after unlocking, typing reaches the terminal: \(after)")
        #expect(!after.contains("secret"))
        let focus = try x.run("xdotool", ["getwindowfocus"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(UInt64(focus) == UInt64(terminal), "the overlay never takes the focus")
        _ = agent
    }

    @Test func locksOnTimeWhenTheHubIsKilledMidSession() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("locked")
        let endsAt = try await agent.startSession(seconds: 6).endsAt
        hub.killHub()  // SIGKILL: no lock will ever come from the hub
        let killedAt = Date().timeIntervalSince1970
        try await agent.waitLocked(timeout: .seconds(15), "locked by its own lease")
        let lateness = Date().timeIntervalSince1970 - endsAt
        print("agent.e2e lock lateness with the hub SIGKILLed: \(String(format: "%.3f", lateness)) s")
        #expect(lateness < 2.0 && lateness > -0.2, "within a second of ends_at (2 s: loosely): \(lateness)")
        #expect(!hub.recorder.records().contains {
            $0.time > killedAt && $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock"
        }, "the lock came from the agent's own lease, not from the dead hub")
    }

    @Test func locksOnTimeWhenTheBrokerIsKilledMidSession() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("locked")
        let endsAt = try await agent.startSession(seconds: 6).endsAt
        hub.broker.stop()  // SIGKILL
        try await agent.waitLocked(timeout: .seconds(15), "locked by its own lease")
        let lateness = Date().timeIntervalSince1970 - endsAt
        print("agent.e2e lock lateness with the broker SIGKILLed: \(String(format: "%.3f", lateness)) s")
        #expect(lateness < 2.0 && lateness > -0.2, "within a second of ends_at (2 s: loosely): \(lateness)")
    }

    @Test func killingTheAgentsXConnectionEndsTheAgentInsteadOfLeavingAnOpenScreen() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("locked")
        let lock = try #require(try x.window(named: AgentProcess.lockName))
        // XKillClient on the lock window (what xkill does): the agent's connection to X is cut.
        try x.run("xdotool", ["windowkill", lock.id])
        let status = await agent.process?.waitForExit(timeout: .seconds(10))
        #expect(status == 1, "the agent exits with an error (the kiosk session then restarts it locked): \(agent.log)")
        #expect(agent.log.contains("display connection lost"))
    }

    @Test func aKilledAgentComesBackInTheRightStateHubOrNoHub() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let agent = try AgentProcess(x: x, hub: hub)
        try await agent.waitLocked("locked")
        let endsAt = try await agent.startSession(seconds: 25).endsAt

        // SIGKILL with the hub up: restarted, it is unlocked with the time that is really left.
        agent.kill()
        try await x.waitForWindow(AgentProcess.overlayName, "the killed agent's windows are gone") { $0 == nil }
        let beat = hub.recorder.count
        try agent.start()
        _ = try await agent.waitUnlocked("unlocked again after a restart")
        let heartbeat = try await hub.recorder.waitFor(since: beat, "a heartbeat of the restarted agent") {
            $0.topic == "playclock/stations/PC-01/heartbeat" && $0.json?["lease_s"] != nil
        }
        let lease = Double(heartbeat.json?["lease_s"]?.intValue ?? -100)
        #expect(abs(lease - (endsAt - heartbeat.time)) <= 1.5, "lease_s \(lease) vs \(endsAt - heartbeat.time) really left")

        // SIGKILL the hub, then the agent again: the lease file alone brings it back unlocked.
        hub.killHub()
        agent.kill()
        try await x.waitForWindow(AgentProcess.overlayName, "gone again") { $0 == nil }
        try agent.start()
        _ = try await agent.waitUnlocked("unlocked from the lease file, hub gone")

        // A lease file others could have written is not trusted: restarted, it comes up locked.
        agent.kill()
        chmod(agent.leaseFile.path, 0o666)
        try agent.start()
        try await agent.waitLocked("locked: the lease file is not trusted")
        #expect(agent.log.contains("lease file not trusted"))
        agent.kill()
        chmod(agent.leaseFile.path, 0o600)
        try agent.start()
        _ = try await agent.waitUnlocked("the same file, its own again: unlocked")

        try await agent.waitLocked(timeout: .seconds(30), "and locked at the end all the same")
        let lateness = Date().timeIntervalSince1970 - endsAt
        print("agent.e2e lock lateness after four agent restarts, hub dead: \(String(format: "%.3f", lateness)) s")
        #expect(lateness < 2.0 && lateness > -0.2, "\(lateness)")
    }
}

@Suite("Agent orders end to end (Xvfb, mosquitto, playclockd, playclock CLI, playclock-agent)", .serialized,
       .enabled(if: XServer.isInstalled))
struct AgentOrderTests {
    /// Children of a process, from /proc (the desktop the agent runs as `session_command`).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    func cli(_ hub: HubHarness, _ arguments: [String]) throws -> (output: String, status: Int32) {
        try runTool(binaryPath("playclock"), arguments + ["--broker", hub.broker.url])
    }

    @Test func messageShutdownRestartAndLogoutAreCarriedOutAndConfirmed() async throws {
        let x = try XServer()
        let hub = try await HubHarness()
        let marker = try makeTemporaryDirectory(prefix: "orders")
        let shutdownFile = marker.appendingPathComponent("shutdown-ran")
        let agent = try AgentProcess(x: x, hub: hub, config: [
            "session_command": ["sleep", "1000"],
            "commands": ["shutdown": .array(["sh", "-c", .string("echo ran > \(shutdownFile.path)")]), "restart": .null],
        ])
        try await agent.waitLocked("locked")
        try await hub.recorder.waitFor(timeout: .seconds(10), "the agent online") {
            $0.topic == "playclock/stations/PC-01/heartbeat" && $0.json?["locked"] == true
        }
        let pid = try #require(agent.process?.pid)
        var desktop: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while desktop.isEmpty, ContinuousClock.now < deadline {
            desktop = Self.children(of: pid)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(desktop.count == 1, "the session command runs as the agent's child")
        let inherited = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(desktop.first ?? 0)/fd")) ?? []
        #expect(inherited.sorted() == ["0", "1", "2"], "the desktop holds none of the agent's descriptors: \(inherited)")

        // A staff message: shown on the screen, confirmed, stored as agent.order_done.
        var mark = hub.recorder.count
        let before = agent.directory.appendingPathComponent("before.png")
        try x.screenshot(before)
        let sent = try cli(hub, ["station", "message", "PC-01", "Closing in 10 minutes"])
        #expect(sent.status == 0, "\(sent.output)")
        try await hub.recorder.waitFor(since: mark, "agent.order_done for the message") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_done" && $0.json?["data"]?["action"] == "message"
        }
        try await Task.sleep(for: .milliseconds(500))
        let after = agent.directory.appendingPathComponent("after.png")
        try x.screenshot(after)
        let (diff, _) = try runTool("/usr/bin/compare", ["-metric", "AE", before.path, after.path, "null:"])
        #expect((Int(diff.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 1000, "the message is drawn on the lock screen: \(diff)")

        // Shutdown runs the configured command; restart is turned off on this PC: refused, reported.
        mark = hub.recorder.count
        #expect(try cli(hub, ["station", "shutdown", "PC-01"]).status == 0)
        try await hub.recorder.waitFor(since: mark, "agent.order_done for the shutdown") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_done" && $0.json?["data"]?["action"] == "shutdown"
        }
        #expect(FileManager.default.fileExists(atPath: shutdownFile.path))
        mark = hub.recorder.count
        #expect(try cli(hub, ["station", "restart", "PC-01"]).status == 0)
        let failed = try await hub.recorder.waitFor(since: mark, "agent.order_failed for the restart") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_failed"
        }
        #expect(failed.json?["data"]?["detail"]?.stringValue?.contains("no restart command") == true)

        // Logout: the desktop's process group ends and a fresh one starts.
        mark = hub.recorder.count
        #expect(try cli(hub, ["station", "logout", "PC-01"]).status == 0)
        try await hub.recorder.waitFor(since: mark, "agent.order_done for the logout") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.order_done" && $0.json?["data"]?["action"] == "logout"
        }
        var fresh: [Int32] = []
        let until = ContinuousClock.now + .seconds(10)
        while (fresh.isEmpty || fresh == desktop), ContinuousClock.now < until {
            fresh = Self.children(of: pid).filter { kill($0, 0) == 0 }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!fresh.isEmpty && fresh != desktop, "a new desktop process replaced \(desktop): \(fresh)")
        #expect(kill(desktop[0], 0) != 0 || Self.children(of: pid).contains(desktop[0]) == false, "the old desktop is gone")
        #expect(agent.process?.isRunning == true)
    }
}

@Suite("Agent configuration errors (Xvfb, playclock-agent)", .serialized, .enabled(if: XServer.isInstalled))
struct AgentConfigurationErrorTests {
    @Test func aBrokenConfigIsRefusedWithAClearMessage() async throws {
        let x = try XServer()
        let dir = try makeTemporaryDirectory(prefix: "agent-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("agent.json")
        try Data(#"{"station":"PC-01","heartbeat_intervl_s":5}"#.utf8).write(to: config)
        let (out, status) = try runTool("/usr/bin/env", ["DISPLAY=\(x.display)", binaryPath("playclock-agent"), "--config", config.path])
        #expect(status == 2)
        #expect(out.contains("unknown key \"heartbeat_intervl_s\""), "\(out)")
        #expect(try x.window(named: AgentProcess.lockName) == nil)
    }

    @Test func inTheKioskSessionABrokenConfigShowsTheErrorOnTheLockScreen() async throws {
        let x = try XServer()
        let dir = try makeTemporaryDirectory(prefix: "agent-kiosk")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("agent.json")
        try Data(#"{"station":"PC 01"}"#.utf8).write(to: config)
        let agent = try ChildProcess(binaryPath("playclock-agent"), arguments: ["--kiosk", "--config", config.path],
                                     environment: x.environment, directory: dir)
        defer { agent.kill() }
        try await x.waitForWindow(AgentProcess.lockName, "the lock screen with the error") { w in
            w?.viewable == true && w?.width == x.width && w?.height == x.height
        }
        let shot = dir.appendingPathComponent("error.png")
        try x.screenshot(shot)
        #expect(try x.colours(shot) > 16)
        try await Task.sleep(for: .seconds(1))
        #expect(agent.isRunning, "it stays up, locked, instead of exiting to an open desktop")
        #expect(agent.output.contains("not a valid station id"), "\(agent.output)")
    }
}

/// The agent as a venue installs it: the station's own account over TLS with the venue CA, on
/// the shipped broker config with the ACL from `playclock broker acl`. Everything the agent
/// needs must be allowed by that ACL: its presence and heartbeats, its control topic, the hub's
/// status and its reports.
@Suite("Agent on the secure broker (TLS, accounts, generated ACL)", .serialized, .enabled(if: XServer.isInstalled))
struct AgentSecureBrokerTests {
    @Test func theAgentWorksWithItsOwnAccountOverTLSWithinTheACL() async throws {
        let v = try await SecureBrokerTests.Venue()
        let recorder = try await v.recorder()
        try v.startHub(tls: true)
        try await recorder.waitFor(timeout: .seconds(10), "hub online") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        let x = try XServer()
        let password = v.directory.appendingPathComponent("PC-01.password")
        try Data((v.broker.passwords["PC-01"] ?? "").utf8).write(to: password)
        let config = v.directory.appendingPathComponent("agent.json")
        try Data(JSONCoding.encode([
            "station": "PC-01", "broker": .string("mqtts://localhost:\(v.broker.tlsPort)"), "tls_ca_file": .string(v.broker.caFile),
            "password_file": .string(password.path), "lease_file": .string(v.directory.appendingPathComponent("lease.json").path),
            "heartbeat_interval_s": 1,
        ])).write(to: config)
        let agent = try ChildProcess(binaryPath("playclock-agent"), arguments: ["--config", config.path, "--log-level", "debug"],
                                     environment: x.environment, directory: v.directory, logName: "agent")
        defer {
            agent.kill()
            x.kill()
        }
        // Presence and heartbeats (writes the ACL allows), and the hub's idle lock (a read).
        try await recorder.waitFor(timeout: .seconds(10), "the agent online") {
            $0.topic == "playclock/stations/PC-01/agent" && $0.payload == "online"
        }
        try await recorder.waitFor(timeout: .seconds(10), "a heartbeat saying locked") {
            $0.topic == "playclock/stations/PC-01/heartbeat" && $0.json?["locked"] == true
        }
        try await x.waitForWindow(AgentProcess.lockName, "locked") { $0?.viewable == true }

        // A cashier starts a session over the plain listener: the agent reads its control topic.
        let cashier = ["--broker", "mqtt://127.0.0.1:\(v.broker.plainPort)", "--username", "ann", "--password", v.broker.passwords["ann"] ?? ""]
        let started = try runTool(binaryPath("playclock"), ["session", "start", "PC-01", "--minutes", "30"] + cashier)
        #expect(started.status == 0, "\(started.output)")
        try await x.waitForWindow(AgentProcess.lockName, "unlocked") { $0?.viewable == false }
        try await recorder.waitFor(timeout: .seconds(10), "a heartbeat saying unlocked, with its lease") {
            $0.topic == "playclock/stations/PC-01/heartbeat" && $0.json?["locked"] == false && $0.json?["lease_s"] != nil
        }

        // Its reports (the third write): unmapping the overlay is reported and stored by the hub.
        let overlay = try #require(try x.window(named: AgentProcess.overlayName))
        try x.run("xdotool", ["windowunmap", overlay.id])
        try await recorder.waitFor(timeout: .seconds(10), "agent.tamper on R/events") {
            $0.topic == "playclock/events" && $0.json?["type"] == "agent.tamper" && $0.json?["data"]?["reason"] == "window_unmapped"
        }
        #expect(!v.broker.log.contains("Denied PUBLISH from PC-01"), "the ACL refused one of the agent's publishes")
    }
}
