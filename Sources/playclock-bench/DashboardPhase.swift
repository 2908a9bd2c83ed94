import Foundation
import PlayclockAuth
import PlayclockContract
import PlayclockSim

extension Runner {
    /// The web dashboard's promise, "updates arrive live within a second of the hub's state
    /// changing": open live feeds on a venue at scale, commands over HTTP one at a time, and when
    /// each change reached every feed and the agent.
    func dashboardPhase() async throws {
        let n = plan.dashboardStations
        let consoles = max(2, n / 10)
        let feedCount = plan.dashboardWatchers
        let account = "bench"
        progress("dashboard: starting broker, hub (with HTTP) and \(n) agents + \(consoles) plugs")

        // Sign-in material, outside the venue's directory (the venue starts from an empty one).
        let credentials = outDir.appendingPathComponent("dashboard-credentials")
        try? FileManager.default.removeItem(at: credentials)
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        let password = String((0..<24).map { _ in alphabet.randomElement()! })
        let boardToken = String((0..<32).map { _ in alphabet.randomElement()! })
        let usersFile = credentials.appendingPathComponent("dashboard.passwd").path
        let tokenFile = credentials.appendingPathComponent("board.token").path
        var passwords = StaffPasswordFile()
        try passwords.setPassword(password, for: account, cost: 4)  // the hub checks it once per sign-in: keep it cheap
        try passwords.write(to: usersFile)
        try (boardToken + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)

        let port = try freeLoopbackPort()
        let venue = try await Venue(
            name: "dashboard", outDir: outDir, pcCount: n, consoleCount: consoles, heartbeatSeconds: plan.heartbeatSeconds,
            hubPath: hubPath, mosquitto: mosquitto, logger: logger,
            http: HubHTTPSettings(port: port, usersFile: usersFile, boardTokenFile: tokenFile, roles: [account: "manager"]))
        defer { venue.close() }
        try await venue.waitUntilReady(timeout: .seconds(120))
        let listening = ContinuousClock.now + .seconds(30)
        while !canConnect(port: port) {
            guard ContinuousClock.now < listening else { throw BenchError("the hub's dashboard is not listening on \(port); see \(venue.directory.path)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Let the first round of heartbeats settle, as the scale phase does.
        try await Task.sleep(for: .seconds(min(plan.heartbeatSeconds, plan.steadySeconds)))

        let client = DashboardClient(port: port)
        defer { client.close() }
        try await blocking { try client.signIn(account: account, password: password) }
        guard let cookie = client.cookie else { throw BenchError("no session cookie after signing in") }

        // Half the feeds are front desks (signed in), half wall boards (read-only token).
        progress("dashboard: opening \(feedCount) live feeds")
        var feeds: [LiveWatcher] = []
        defer { for feed in feeds { feed.stop() } }
        for i in 0..<feedCount {
            let feed = i % 2 == 0
                ? try LiveWatcher(port: port, path: "/api/live", headers: [("Cookie", cookie)])
                : try LiveWatcher(port: port, path: "/api/live?token=\(boardToken)", headers: [])
            feed.start(name: "live-feed-\(i)")
            feeds.append(feed)
        }
        let snapshots = ContinuousClock.now + .seconds(60)
        while !feeds.allSatisfy(\.snapshotReceived) {
            if let ended = feeds.compactMap(\.ended).first { throw BenchError("a live feed ended before its snapshot: \(ended)") }
            guard ContinuousClock.now < snapshots else { throw BenchError("live feeds without a snapshot after 60 s") }
            try await Task.sleep(for: .milliseconds(20))
        }

        // Commands one at a time: start (30 min) then stop on one station, then the next station.
        let stations = venue.pcs
        let count = plan.requests
        progress("dashboard: \(count) timed commands over HTTP")
        struct Command {
            var station: String
            var start: Bool
            var sent: Int64
            var answered: Int64?
            var ok = false
            var session: String?
        }
        var commands: [Command] = []
        var failures: [String] = []
        guard let pid = venue.hub.pid, let cpu0 = ProcessStats.cpuSeconds(pid: pid) else { throw BenchError("hub is not running") }
        let wall0 = wallClockNanos()
        for i in 0..<count {
            let station = stations[(i / 2) % stations.count]
            let start = i % 2 == 0
            let body: JSONValue = start ? ["station": .string(station), "minutes": 30] : ["station": .string(station)]
            let path = start ? "/api/request/session/start" : "/api/request/session/stop"
            do {
                let (response, sent, answered) = try await blocking { try client.post(path, json: body) }
                var command = Command(station: station, start: start, sent: sent, answered: answered)
                let json = try? JSONCoding.decode(response.body)
                command.ok = response.status == 200 && json?["status"]?.stringValue == "ok"
                command.session = json?["data"]?["session"]?["id"]?.stringValue
                if !command.ok, failures.count < 3 {
                    failures.append("\(path) \(station): \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                }
                commands.append(command)
            } catch {
                commands.append(Command(station: station, start: start, sent: wallClockNanos()))
                if failures.count < 3 { failures.append("\(path) \(station): \(error)") }
            }
            try await Task.sleep(for: .milliseconds(20))
        }

        // Every change at every feed and at the agent, or 5 s after its command.
        let limit: Int64 = 5_000_000_000
        func stateFrame(_ c: Command, _ feed: LiveWatcher) -> LiveWatcher.StateFrame? {
            // The frame that shows the change: a session after a start, none after a stop.
            feed.firstState(station: c.station, since: c.sent) { $0.hasSession == c.start }
        }
        func agentArrival(_ c: Command) -> Arrival? {
            c.start
                ? venue.arrivals.first(.unlock, device: c.station, since: c.sent, session: c.session)
                : venue.arrivals.first(.lock, device: c.station, since: c.sent)
        }
        let answered = commands.filter(\.ok)
        let lastSent = commands.map(\.sent).max() ?? wallClockNanos()
        while wallClockNanos() < lastSent + limit {
            let complete = answered.allSatisfy { c in agentArrival(c) != nil && feeds.allSatisfy { stateFrame(c, $0) != nil } }
            if complete { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let cpu1 = ProcessStats.cpuSeconds(pid: pid) else { throw BenchError("hub died during the dashboard phase") }
        let cpuPerSecond = (cpu1 - cpu0) / (Double(wallClockNanos() - wall0) / 1e9)
        let peakKB = ProcessStats.memoryKB(pid: pid, field: "VmHWM") ?? 0

        var responseMs: [Double] = []
        var stateMs: [Double] = []
        var agentMs: [Double] = []
        var missingStates = 0
        var missingAgent = 0
        // One line per command, to see when in the run the slow ones happened.
        var perCommand = ["sent_wall_ns,verb,station,response_ms,state_min_ms,state_max_ms,state_missing,agent_ms"]
        func ms(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "" }
        for c in commands {
            let verb = c.start ? Verb.sessionStart.rawValue : Verb.sessionStop.rawValue
            guard c.ok, let answeredAt = c.answered else {
                // A refused or failed command changes nothing: nothing can arrive for it.
                missingStates += feeds.count
                missingAgent += 1
                perCommand.append("\(c.sent),\(verb),\(c.station),,,,\(feeds.count),")
                continue
            }
            let response = Double(answeredAt - c.sent) / 1e6
            responseMs.append(response)
            var seen: [Double] = []
            for feed in feeds {
                if let frame = stateFrame(c, feed), frame.wallNanos - c.sent <= limit {
                    seen.append(Double(frame.wallNanos - c.sent) / 1e6)
                } else {
                    missingStates += 1
                }
            }
            stateMs += seen
            var agentLatency: Double?
            if let arrival = agentArrival(c), arrival.wallNanos - c.sent <= limit {
                agentLatency = Double(arrival.wallNanos - c.sent) / 1e6
                agentMs.append(agentLatency!)
            } else {
                missingAgent += 1
            }
            perCommand.append("\(c.sent),\(verb),\(c.station),\(ms(response)),\(ms(seen.min())),\(ms(seen.max())),"
                              + "\(feeds.count - seen.count),\(ms(agentLatency))")
        }
        try (perCommand.joined(separator: "\n") + "\n").write(
            to: venue.directory.appendingPathComponent("dashboard-commands.csv"), atomically: true, encoding: .utf8)
        let failed = commands.count - answered.count
        let openAtEnd = feeds.filter { $0.ended == nil }.count
        let framesPerFeed = feeds.map(\.frameCount)
        samples.add("dashboard command->response @\(n)", responseMs)
        samples.add("dashboard command->state @\(n)", stateMs)
        samples.add("dashboard command->agent @\(n)", agentMs)

        let response = Summary(responseMs)
        let state = Summary(stateMs)
        let agent = Summary(agentMs)
        var table = Table(header: ["what", "count", "p50 (ms)", "p99 (ms)", "max (ms)", "missing"])
        table.rows.append(["HTTP command sent -> HTTP response read", "\(response.count)", Summary.format(response.p50),
                           Summary.format(response.p99), Summary.format(response.max), "\(failed)"])
        table.rows.append(["command sent -> that station's `state` frame at each feed", "\(state.count)", Summary.format(state.p50),
                           Summary.format(state.p99), Summary.format(state.max), "\(missingStates)"])
        table.rows.append(["command sent -> agent `unlock` / `lock` (MQTT)", "\(agent.count)", Summary.format(agent.p50),
                           Summary.format(agent.p99), Summary.format(agent.max), "\(missingAgent)"])
        var hubTable = Table(header: ["hub CPU s per s (commands and their fan-out)", "hub peak RSS (MB)", "feeds open at the end",
                                      "frames per feed (min / max)"])
        hubTable.rows.append([String(format: "%.3f", cpuPerSecond), String(format: "%.1f", Double(peakKB) / 1024),
                              "\(openAtEnd) of \(feeds.count)",
                              "\(framesPerFeed.min() ?? 0) / \(framesPerFeed.max() ?? 0)"])
        var notes = ""
        if !failures.isEmpty { notes = "\n\nFailed commands (first \(failures.count)): " + failures.map { "`\($0)`" }.joined(separator: "; ") + "." }
        sections.append("""
            ## Dashboard: \(feedCount) live feeds, \(count) commands over HTTP (\(n) PCs + \(consoles) plugs, agents heartbeating every \(plan.heartbeatSeconds) s)

            The hub serves its dashboard on loopback; \((feedCount + 1) / 2) feeds are signed in as a manager and \(feedCount / 2) use the \
            wall-board token (`GET /api/live`, server-sent events, read by the bench's own HTTP/1.1 client, one thread per feed). \
            Commands alternate `session/start` (30 min) and `session/stop` on \(min(stations.count, (count + 1) / 2)) PCs, one at a time \
            over one keep-alive connection, 20 ms apart. A feed's sample is the arrival of the first `state` frame for that station \
            showing the change (a session after a start, none after a stop); one sample per feed per command, over 5 s counts as \
            missing. Agents: \(venue.fleetMode).

            \(table.markdown)

            \(hubTable.markdown)\(notes)
            """)
        let missing = failed + missingStates
        let label = n == 1000 && feedCount == 50 ? "" : " (run at \(n) stations, \(feedCount) feeds)"
        targets.append(("dashboard live update within 1 s (p99 command -> state at every watcher)" + label,
                        Summary.format(state.p99) + " ms" + (missing > 0 ? " (\(missing) missing)" : ""),
                        state.p99.map { $0 < 1000 && missing == 0 }))
    }
}

/// Runs blocking socket work off the concurrency pool's few threads.
private func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
