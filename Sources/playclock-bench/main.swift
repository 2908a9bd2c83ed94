import ArgumentParser
import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT
import PlayclockSim

// A main.swift next to other source files is top-level code, where `@main` is not allowed.
await PlayclockBench.start()

struct PlayclockBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playclock-bench",
        abstract: "Load, latency and failure benchmark: a private broker, the real playclockd and a simulated venue.",
        discussion: """
            Starts a private mosquitto on a free loopback port and a playclockd (release build \
            recommended) on a fresh SQLite file for every phase, drives it with simulated agents \
            and Tasmota plugs (one connection each up to 1,000 stations, multiplexed above), and \
            prints a Markdown report:
              scale     at each --scales N: broker round trip (the floor), request -> response and \
                        request -> unlock at the agent, the hub's CPU seconds per wall second and \
                        peak RSS, with N agents heartbeating every --heartbeat-interval seconds;
              expiry    --expiry-sessions sessions ending in the same second: lock and plug OFF \
                        arrival minus ends_at;
              recovery  SIGKILL with --recovery-sessions active sessions (a tenth overdue by the \
                        restart), time to hub/status online, every state republished, every \
                        overdue session locked;
              dashboard the hub also serves its dashboard, with --dashboard-watchers live \
                        feeds (/api/live) open at --dashboard-stations stations: --requests \
                        commands over HTTP, timed to the response, to the station's state frame \
                        at every feed and to the agent; the hub's CPU and peak RSS;
              flood     --flood-stations PCs heartbeating normally, then a burst of \
                        --flood-messages hostile heartbeats ({"seq":n}, some changing an agent field, some of \
                        4 KiB, a tenth malformed) \
                        published as fast as possible on a few stations' heartbeat topics, with \
                        --flood-requests staff requests (station/get, session/start, \
                        session/stop) interleaved: requests answered, request -> response during \
                        the flood, the hub's RSS before, at its peak and 10 s after, the lines \
                        the hub logged, command.rejected rows in SQLite and the shed counters \
                        of /metrics;
              soak      --soak-seconds of churn (start, extend, stop, agents dropping off, \
                        malformed payloads), then the SQLite ledger is checked against what the \
                        agents saw;
              agent     the real playclock-agent (--agent) on a private Xvfb: its CPU and RSS \
                        for 30 s idle and locked, then 30 s in a session.
            --phases picks some of scale (with expiry and recovery, which run in its venues), \
            dashboard, flood, soak and agent; the report then has only their sections and targets.
            --quick runs every phase at small N in seconds (the test suite does, so it cannot rot). \
            Latencies are wall-clock times taken on the MQTT network threads of the bench process \
            (the dashboard's on its HTTP reader threads).
            """)

    @Flag(name: .long, help: "Small N, seconds per phase (what the test suite runs).")
    var quick = false
    @Option(name: .long, help: "playclockd to benchmark (default: next to this executable).")
    var hub: String?
    @Option(name: .long, help: "playclock-agent to measure in the agent phase (default: next to this executable).")
    var agent: String?
    @Option(name: .long, help: "mosquitto executable (default /usr/sbin/mosquitto).")
    var mosquitto = "/usr/sbin/mosquitto"
    @Option(name: .long, help: "Comma-separated station counts (default 200,1000,5000,10000; quick 20,60).")
    var scales: String?
    @Option(name: .long, help: "Sessions ending in the same second (default 1000; quick 40).")
    var expirySessions: Int?
    @Option(name: .long, help: "Active sessions when the hub is killed (default 10000; quick 60).")
    var recoverySessions: Int?
    @Option(name: .long, help: "Soak duration in seconds (default 120; quick 10).")
    var soakSeconds: Int?
    @Option(name: .long, help: "Stations in the soak, one connection each (default 200; quick 30).")
    var soakStations: Int?
    @Option(name: .long, help: "Requests timed at each scale and dashboard commands timed (default 300; quick 20).")
    var requests: Int?
    @Option(name: .long, help: "Stations (PCs; plus a tenth as plug-switched consoles) in the dashboard phase (default 1000; quick 20).")
    var dashboardStations: Int?
    @Option(name: .long, help: "Live feeds open in the dashboard phase (default 50; quick 3).")
    var dashboardWatchers: Int?
    @Option(name: .long, help: "Hostile heartbeats in the flood phase's burst (default 10000; quick 2000).")
    var floodMessages: Int?
    @Option(name: .long, help: "Staff requests interleaved through the flood (default 100; quick 20).")
    var floodRequests: Int?
    @Option(name: .long, help: "PCs heartbeating normally in the flood phase (default 200; quick 20).")
    var floodStations: Int?
    @Option(name: .long, help: "Comma-separated phases to run, of scale, dashboard, flood, soak, agent (default all; scale includes expiry and recovery).")
    var phases: String?
    @Option(name: .long, help: "Agent heartbeat interval in seconds (default 5).")
    var heartbeatInterval = 5
    @Option(name: .long, help: "Directory for logs, databases and samples.csv (default: a new temporary directory).")
    var out: String?
    @Option(name: .long, help: "Also write the report to this Markdown file.")
    var report: String?
    @Flag(name: .long, help: .hidden)
    var ownProcessGroup = false
    @Option(name: .long, help: "Log level of the bench's own MQTT clients (default error).")
    var logLevel: String = "error"

    static func start() async { await main() }

    func validate() throws {
        for n in try scaleList() where !(10...50_000).contains(n) { throw ValidationError("--scales: each in 10...50000") }
        if let e = expirySessions, !(1...50_000).contains(e) { throw ValidationError("--expiry-sessions must be in 1...50000") }
        if let r = recoverySessions, !(10...50_000).contains(r) { throw ValidationError("--recovery-sessions must be in 10...50000") }
        if let s = soakSeconds, !(1...86_400).contains(s) { throw ValidationError("--soak-seconds must be in 1...86400") }
        if let s = soakStations, !(2...220).contains(s) { throw ValidationError("--soak-stations must be in 2...220 (in-process agents)") }
        if let r = requests, !(1...100_000).contains(r) { throw ValidationError("--requests must be in 1...100000") }
        if let n = dashboardStations, !(10...10_000).contains(n) { throw ValidationError("--dashboard-stations must be in 10...10000") }
        if let w = dashboardWatchers, !(1...200).contains(w) { throw ValidationError("--dashboard-watchers must be in 1...200") }
        if let m = floodMessages, !(100...1_000_000).contains(m) { throw ValidationError("--flood-messages must be in 100...1000000") }
        if let r = floodRequests, !(1...10_000).contains(r) { throw ValidationError("--flood-requests must be in 1...10000") }
        if let n = floodStations, !(10...1000).contains(n) { throw ValidationError("--flood-stations must be in 10...1000") }
        _ = try phaseList()
        guard (1...3600).contains(heartbeatInterval) else { throw ValidationError("--heartbeat-interval must be in 1...3600") }
    }

    func scaleList() throws -> [Int] {
        guard let scales else { return quick ? [20, 60] : [200, 1000, 5000, 10_000] }
        let list = scales.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !list.isEmpty, list.count == scales.split(separator: ",").count else { throw ValidationError("--scales: numbers, comma-separated") }
        return list.sorted()
    }

    static let allPhases = ["scale", "dashboard", "flood", "soak", "agent"]

    func phaseList() throws -> Set<String> {
        guard let phases else { return Set(Self.allPhases) }
        let list = phases.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !list.isEmpty, list.allSatisfy(Self.allPhases.contains) else {
            throw ValidationError("--phases: comma-separated, of \(Self.allPhases.joined(separator: ", "))")
        }
        return Set(list)
    }

    func run() async throws {
        if ownProcessGroup {
            // Lets a test runner SIGKILL the bench with everything it started (kill -- -PID).
            setpgid(0, 0)
        }
        var logger = Logger(label: "playclock-bench")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .error
        let hubPath = hub ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("playclockd").path
        guard FileManager.default.isExecutableFile(atPath: hubPath) else { throw BenchError("no playclockd at \(hubPath): build it or pass --hub") }
        guard FileManager.default.isExecutableFile(atPath: mosquitto) else { throw BenchError("no mosquitto at \(mosquitto) (apt-get install mosquitto)") }
        let outDir = URL(fileURLWithPath: out ?? NSTemporaryDirectory() + "playclock-bench-\(getpid())")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)

        let scales = try scaleList()
        let plan = Plan(
            scales: scales,
            requests: requests ?? (quick ? 20 : 300),
            steadySeconds: quick ? 3 : 30,
            expirySessions: expirySessions ?? (quick ? 40 : 1000),
            recoverySessions: recoverySessions ?? (quick ? 60 : 10_000),
            soakSeconds: soakSeconds ?? (quick ? 10 : 120),
            soakStations: soakStations ?? (quick ? 30 : 200),
            dashboardStations: dashboardStations ?? (quick ? 20 : 1000),
            dashboardWatchers: dashboardWatchers ?? (quick ? 3 : 50),
            floodMessages: floodMessages ?? (quick ? 2000 : 10_000),
            floodRequests: floodRequests ?? (quick ? 20 : 100),
            floodStations: floodStations ?? (quick ? 20 : 200),
            phases: try phaseList(),
            heartbeatSeconds: heartbeatInterval, quick: quick)
        let agentPath = agent ?? URL(fileURLWithPath: hubPath).deletingLastPathComponent().appendingPathComponent("playclock-agent").path
        let runner = Runner(plan: plan, hubPath: hubPath, agentPath: agentPath, mosquitto: mosquitto, outDir: outDir, logger: logger)
        let text = try await runner.runAll()
        print(text)
        if let report {
            try text.write(toFile: report, atomically: true, encoding: .utf8)
        }
        try runner.samples.write(to: outDir.appendingPathComponent("samples.csv"))
        FileHandle.standardError.write(Data("samples: \(outDir.path)/samples.csv\n".utf8))
    }
}

struct Plan {
    var scales: [Int]
    var requests: Int
    var steadySeconds: Int
    var expirySessions: Int
    var recoverySessions: Int
    var soakSeconds: Int
    var soakStations: Int
    var dashboardStations: Int
    var dashboardWatchers: Int
    var floodMessages: Int
    var floodRequests: Int
    var floodStations: Int
    /// Of PlayclockBench.allPhases.
    var phases: Set<String>
    var heartbeatSeconds: Int
    var quick: Bool
}
