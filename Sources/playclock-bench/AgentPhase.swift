import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT

extension Runner {
    /// The real `playclock-agent` on a private Xvfb, against a private broker and the real hub:
    /// its memory and CPU while it sits locked, and while a session runs (the overlay redraws
    /// every second).
    func agentPhase() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/Xvfb") else {
            throw BenchError("the agent phase needs Xvfb (apt-get install xvfb)")
        }
        guard FileManager.default.isExecutableFile(atPath: agentPath) else {
            throw BenchError("no playclock-agent at \(agentPath): build it or pass --agent")
        }
        let window = plan.quick ? 3 : 30
        progress("agent: starting broker, hub, Xvfb and playclock-agent")
        let dir = outDir.appendingPathComponent("agent")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let broker = try await Broker(directory: dir, mosquitto: mosquitto)
        defer { broker.child.kill() }
        let config = try writeHubFiles(directory: dir, broker: broker.url, pcs: ["PC-01"], consoles: [], heartbeatSeconds: 5)
        let hub = HubProcess(executable: hubPath, config: config, log: dir.appendingPathComponent("playclockd.log"))
        try hub.start()
        defer { hub.kill() }

        let xlog = dir.appendingPathComponent("xvfb.log")
        let xvfb = try Child("/usr/bin/Xvfb", ["-displayfd", "1", "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset"], log: xlog)
        defer { xvfb.kill() }
        var display: String?
        let xDeadline = ContinuousClock.now + .seconds(10)
        while display == nil {
            let text = (try? String(contentsOf: xlog, encoding: .utf8)) ?? ""
            display = text.split(separator: "\n").first(where: { !$0.isEmpty && $0.allSatisfy(\.isNumber) }).map { ":\($0)" }
            guard display == nil else { break }
            guard xvfb.isRunning, ContinuousClock.now < xDeadline else { throw BenchError("Xvfb did not start; see \(xlog.path)") }
            try await Task.sleep(for: .milliseconds(20))
        }

        // A client of the bench's own: it sends the session request and watches the agent's heartbeats.
        let heartbeats = SampleBox()
        var mqtt = try MQTTClientConfiguration(url: broker.url, clientID: "playclock-bench-agent")
        mqtt.eventBufferSize = 256
        let client = MQTTClient(configuration: mqtt, logger: logger)
        let station = StationID("PC-01")!
        let topics = TopicScheme(root: "playclock")!
        client.subscribe(try MQTTTopicFilter(topics.heartbeat(station)), qos: .atMostOnce)
        client.start()
        defer { client.stop() }
        let reader = Task {
            for await event in client.events {
                if case .message(let m) = event, let hb = try? HeartbeatMessage(payload: m.payload) { heartbeats.set(hb.locked) }
            }
        }
        defer { reader.cancel() }
        guard await client.waitUntilConnected(timeout: .seconds(10)) else { throw BenchError("bench client could not connect") }

        var env = ProcessInfo.processInfo.environment
        env["DISPLAY"] = display!
        let agentConfig = dir.appendingPathComponent("agent.json")
        try Data(#"{"station":"PC-01","venue_name":"Bench Arena","heartbeat_interval_s":5}"#.utf8).write(to: agentConfig)
        let agent = try Child(agentPath, ["--config", agentConfig.path, "--broker", broker.url,
                                          "--lease-file", dir.appendingPathComponent("lease.json").path],
                              log: dir.appendingPathComponent("playclock-agent.log"), environment: env)
        defer { agent.kill() }

        func waitFor(locked: Bool, _ what: String) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while heartbeats.get() != locked {
                guard agent.isRunning, ContinuousClock.now < deadline else { throw BenchError("agent: \(what) not seen; see \(dir.path)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await waitFor(locked: true, "a locked heartbeat")
        // Settled: the first draw and the connection are done.
        try await Task.sleep(for: .seconds(2))

        struct Window { var cpuPercent: Double; var rssMB: Double }
        func measure() async throws -> Window {
            let cpu0 = ProcessStats.cpuSeconds(pid: agent.pid) ?? 0
            let t0 = ContinuousClock.now
            try await Task.sleep(for: .seconds(window))
            let cpu1 = ProcessStats.cpuSeconds(pid: agent.pid) ?? 0
            let elapsed = ContinuousClock.now - t0
            let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Window(cpuPercent: (cpu1 - cpu0) / wall * 100, rssMB: Double(ProcessStats.memoryKB(pid: agent.pid, field: "VmRSS") ?? 0) / 1024)
        }
        progress("agent: idle and locked for \(window) s")
        let idle = try await measure()

        let body = JSONCoding.encode(.object(Command.sessionStart(station, seconds: Int64(window + 600)).body))
        client.publish(try MQTTTopic(topics.request(Verb.sessionStart.rawValue)), payload: body, qos: .atLeastOnce)
        try await waitFor(locked: false, "an unlocked heartbeat after session/start")
        try await Task.sleep(for: .seconds(1))
        progress("agent: in a session (overlay counting down) for \(window) s")
        let session = try await measure()
        let peakMB = Double(ProcessStats.memoryKB(pid: agent.pid, field: "VmHWM") ?? 0) / 1024

        var table = Table(header: ["agent state", "CPU (% of one core)", "RSS (MB)"])
        table.rows.append(["idle, locked (lock screen up, keyboard grabbed)", String(format: "%.2f", idle.cpuPercent), String(format: "%.1f", idle.rssMB)])
        table.rows.append(["in a session (overlay redrawn every second)", String(format: "%.2f", session.cpuPercent), String(format: "%.1f", session.rssMB)])
        sections.append("## PC agent (playclock-agent on Xvfb 1920x1080, \(window) s each)\n\n" + table.markdown
                        + "\n\nPeak RSS over the run: \(String(format: "%.1f", peakMB)) MB.")
        targets.append(("agent RSS under 50 MB, idle and in a session (a Python venue agent claims under 50 MB)",
                        String(format: "%.1f / %.1f MB (peak %.1f)", idle.rssMB, session.rssMB, peakMB), peakMB < 50))
        targets.append(("agent CPU under 1% of a core, idle and in a session",
                        String(format: "%.2f%% / %.2f%%", idle.cpuPercent, session.cpuPercent),
                        idle.cpuPercent < 1 && session.cpuPercent < 1))
    }
}

/// The last `locked` an agent's heartbeat said, shared with the MQTT reader task.
final class SampleBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Bool?
    func set(_ v: Bool?) { lock.withLock { value = v } }
    func get() -> Bool? { lock.withLock { value } }
}
