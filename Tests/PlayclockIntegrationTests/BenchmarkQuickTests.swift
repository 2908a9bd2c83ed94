import Foundation
import Testing

/// The benchmark's quick mode runs in the suite so that it cannot rot: every phase against the
/// real playclockd, simulator and mosquitto. Its figures are printed, never asserted (timing
/// belongs to BENCHMARKS.md); what is asserted is that every phase ran, that the soak's ledger
/// checks found nothing lost, that every dashboard change reached every live feed and agent, and
/// that every staff request sent during the flood was answered.
@Suite struct BenchmarkQuickTests {
    @Test func quickBenchmarkRunsEveryPhaseAndLosesNothing() async throws {
        let directory = try makeTemporaryDirectory(prefix: "bench")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("report.md")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath("playclock-bench"))
        process.arguments = [
            "--quick", "--own-process-group", "--hub", binaryPath("playclockd"), "--out", directory.path, "--report", report.path,
        ]
        let log = directory.appendingPathComponent("bench.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        // The bench leads its own process group: on a timeout, SIGKILL takes the broker, hubs
        // and simulators it started down with it.
        defer { kill(-pid, SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(400)
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        if process.isRunning {
            kill(-pid, SIGKILL)
            process.waitUntilExit()
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        print(output)
        #expect(process.terminationStatus == 0, "bench failed:\n\(output)")
        let text = try String(contentsOf: report, encoding: .utf8)
        for heading in ["## Scale", "## Expiry", "## Recovery", "## Dashboard", "## Flood", "## Soak", "## PC agent", "## Targets"] {
            #expect(text.contains(heading), "missing \(heading) in:\n\(text)")
        }
        // Two scales measured, each with a figure in every column.
        let scaleRows = text.split(separator: "\n").filter { $0.hasPrefix("| 20 + ") || $0.hasPrefix("| 60 + ") }
        #expect(scaleRows.count == 2, "\(text)")
        #expect(!scaleRows.contains { $0.contains("| - /") }, "a scale measurement has no samples:\n\(text)")
        for check in [
            "| sessions lost (acknowledged, not in SQLite) | 0 |",
            "| sessions not ended in SQLite after their end | 0 |",
            "| granted time differing from what was paid (start + extensions) | 0 |",
            "| used time wrong (expired: != granted; stopped: > granted) | 0 |",
        ] {
            #expect(text.contains(check), "soak check failed: \(check)\n\(text)")
        }
        // Dashboard: 20 commands, each answered and seen by all 3 feeds and by its agent.
        let lines = text.split(separator: "\n").map(String.init)
        for (row, count) in [
            ("| HTTP command sent -> HTTP response read |", 20),
            ("| command sent -> that station's `state` frame at each feed |", 60),
            ("| command sent -> agent `unlock` / `lock` (MQTT) |", 20),
        ] {
            let line = lines.first { $0.hasPrefix(row) }
            #expect(line?.hasPrefix("\(row) \(count) |") == true, "dashboard row \(row) should count \(count):\n\(text)")
            #expect(line?.hasSuffix("| 0 |") == true, "dashboard row \(row) has missing samples:\n\(text)")
        }
        #expect(lines.contains { $0.contains("| 3 of 3 |") }, "a live feed ended during the dashboard phase:\n\(text)")
        // Flood: 2,000 hostile heartbeats; every one of the 20 staff requests sent meanwhile is answered.
        let flood = lines.first { $0.hasPrefix("| staff requests answered (ok / refused) |") }
        #expect(flood?.hasPrefix("| staff requests answered (ok / refused) | 20 of 20 ") == true,
                "a staff request sent during the flood was not answered:\n\(text)")
        let samples = try String(contentsOf: directory.appendingPathComponent("samples.csv"), encoding: .utf8)
        #expect(samples.split(separator: "\n").count > 100)
        // The agent's rows have figures (the agent ran on Xvfb, locked, then unlocked).
        let agentRows = text.split(separator: "\n").filter { $0.hasPrefix("| idle, locked") || $0.hasPrefix("| in a session") }
        #expect(agentRows.count == 2 && agentRows.allSatisfy { !$0.contains("| 0.0 |") }, "agent rows:\n\(text)")
    }
}
