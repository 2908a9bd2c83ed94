import Foundation
import Logging
import PlayclockContract
import PlayclockSQLite
import PlayclockSim

/// Runs the phases in order and assembles the report.
final class Runner {
    let plan: Plan
    let hubPath: String
    let agentPath: String
    let mosquitto: String
    let outDir: URL
    let logger: Logger
    let samples = SampleFile()

    private var scaleTable = Table(header: [
        "stations (PCs + plugs)", "simulator", "broker round trip p50 / p99 / max (ms)", "request -> response p50 / p99 / max (ms)",
        "request -> unlock p50 / p99 / max (ms)", "hub CPU s per s", "hub peak RSS (MB)",
    ])
    // Not private: the dashboard phase (DashboardPhase.swift) adds to them.
    var sections: [String] = []
    var targets: [(String, String, Bool?)] = []

    init(plan: Plan, hubPath: String, agentPath: String, mosquitto: String, outDir: URL, logger: Logger) {
        self.plan = plan
        self.hubPath = hubPath
        self.agentPath = agentPath
        self.mosquitto = mosquitto
        self.outDir = outDir
        self.logger = logger
    }

    func progress(_ text: String) {
        FileHandle.standardError.write(Data("[\(ISO8601.string(fromMillis: wallClockNanos() / 1_000_000))] \(text)\n".utf8))
    }

    func runAll() async throws -> String {
        let expiryScale = plan.scales.first { $0 >= plan.expirySessions } ?? plan.scales.last!
        let recoveryScale = plan.scales.first { $0 >= plan.recoverySessions } ?? plan.scales.last!
        if plan.phases.contains("scale") {
            for n in plan.scales {
                try await scale(n, expiry: n == expiryScale, recovery: n == recoveryScale)
            }
        }
        if plan.phases.contains("dashboard") { try await dashboardPhase() }
        if plan.phases.contains("flood") { try await floodPhase() }
        if plan.phases.contains("soak") { try await soak() }
        if plan.phases.contains("agent") { try await agentPhase() }

        var text = ""
        if plan.phases.contains("scale") {
            text += "## Scale (agents heartbeating every \(plan.heartbeatSeconds) s, \(plan.requests) timed requests each)\n\n"
            text += scaleTable.markdown + "\n\n"
        }
        if !sections.isEmpty { text += sections.joined(separator: "\n\n") + "\n\n" }
        var targetTable = Table(header: ["target", "measured", "met"])
        for (target, measured, met) in targets {
            targetTable.rows.append([target, measured, met.map { $0 ? "yes" : "**no**" } ?? "not measured"])
        }
        text += "## Targets\n\n" + targetTable.markdown + "\n"
        return text
    }

    // MARK: - Scale

    private func scale(_ n: Int, expiry: Bool, recovery: Bool) async throws {
        let consoles = max(2, n / 10)
        progress("scale \(n): starting broker, hub and \(n) agents + \(consoles) plugs")
        let venue = try await Venue(
            name: "scale-\(n)", outDir: outDir, pcCount: n, consoleCount: consoles, heartbeatSeconds: plan.heartbeatSeconds,
            hubPath: hubPath, mosquitto: mosquitto, logger: logger)
        defer { venue.close() }
        try await venue.waitUntilReady(timeout: .seconds(120))
        // Let the first round of heartbeats settle.
        try await Task.sleep(for: .seconds(min(plan.heartbeatSeconds, plan.steadySeconds)))

        progress("scale \(n): broker round trip")
        let floor = await venue.probe.brokerRoundTrips(count: plan.requests, pace: .milliseconds(10))
        samples.add("broker round trip @\(n)", floor)

        progress("scale \(n): \(plan.requests) timed session/start requests")
        let targets = Array(venue.pcs.prefix(plan.requests))
        var responseMs: [Double] = []
        var unlockMs: [Double] = []
        var transactions: [(String, String)] = []
        for station in targets {
            let t = venue.probe.request(.sessionStart(stationID(station), seconds: 3600))
            transactions.append((t, station))
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = await venue.probe.waitForResponses(transactions.map(\.0), timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(500))
        var failed = 0
        for (t, station) in transactions {
            guard let sent = venue.probe.sentAt(t), let response = venue.probe.response(t), response.ok else { failed += 1; continue }
            responseMs.append(Double(response.receivedNanos - sent) / 1e6)
            if let unlock = venue.arrivals.first(.unlock, device: station, since: sent, session: response.sessionID) {
                unlockMs.append(Double(unlock.wallNanos - sent) / 1e6)
            }
        }
        samples.add("request->response @\(n)", responseMs)
        samples.add("request->unlock @\(n)", unlockMs)

        progress("scale \(n): \(plan.steadySeconds) s steady state for CPU")
        guard let pid = venue.hub.pid, let cpu0 = ProcessStats.cpuSeconds(pid: pid) else { throw BenchError("hub is not running") }
        let wall0 = wallClockNanos()
        try await Task.sleep(for: .seconds(plan.steadySeconds))
        guard let cpu1 = ProcessStats.cpuSeconds(pid: pid) else { throw BenchError("hub died during the steady window") }
        let cpuPerSecond = (cpu1 - cpu0) / (Double(wallClockNanos() - wall0) / 1e9)

        _ = await venue.send(count: transactions.count, window: 64, timeout: .seconds(60)) { i in
            (Verb.sessionStop.rawValue, ["station": .string(transactions[i].1)])
        }

        let unlockSummary = Summary(unlockMs)
        let responseSummary = Summary(responseMs)
        if expiry { try await expiryPhase(venue) }
        if recovery { try await recoveryPhase(venue) }
        let peakKB = ProcessStats.memoryKB(pid: venue.hub.pid ?? pid, field: "VmHWM") ?? 0
        var row = [
            "\(n) + \(consoles)", venue.fleetMode, Summary(floor).text, responseSummary.text,
            unlockSummary.text + (unlockMs.count < targets.count ? " (\(targets.count - unlockMs.count) missing)" : ""),
            String(format: "%.3f", cpuPerSecond), String(format: "%.1f", Double(peakKB) / 1024),
        ]
        if failed > 0 { row[3] += " (\(failed) failed)" }
        scaleTable.rows.append(row)
        if n == 5000 || (plan.scales.count <= 2 && n == plan.scales.last) {
            self.targets.append(("request -> unlock p99 < 10 ms at 5,000 stations" + (n == 5000 ? "" : " (run at \(n))"),
                                 Summary.format(unlockSummary.p99) + " ms", unlockSummary.p99.map { $0 < 10 }))
        }
        if n == 10_000 || (plan.scales.count <= 2 && n == plan.scales.last) {
            let label = n == 10_000 ? "" : " (run at \(n))"
            self.targets.append(("10,000 stations under 0.2 of a core" + label, String(format: "%.3f", cpuPerSecond), cpuPerSecond < 0.2))
            self.targets.append(("10,000 stations under 100 MB RSS" + label, String(format: "%.1f MB", Double(peakKB) / 1024),
                                 Double(peakKB) / 1024 < 100))
        }
    }

    // MARK: - Expiry

    /// Sessions ending in the same second: every lock and plug OFF timed against its `ends_at`.
    private func expiryPhase(_ venue: Venue) async throws {
        let plugCount = min(venue.consoles.count, plan.expirySessions / 10)
        let pcCount = min(venue.pcs.count, plan.expirySessions - plugCount)
        let stations = Array(venue.pcs.suffix(pcCount)) + venue.consoles.prefix(plugCount).map(\.station)
        progress("expiry: \(stations.count) sessions (\(plugCount) on plugs) ending in the same second")
        // Durations are whole seconds: aiming every session at the same instant puts every end
        // in the second after it.
        let lead = Int64((plan.quick ? 4_000 : 8_000) + stations.count * 6)
        let target = wallClockNanos() / 1_000_000 + lead
        // Few requests in flight, so each is applied within milliseconds of being sent and its
        // whole-second duration, computed as it is sent, still lands the end next to `target`.
        let transactions = await venue.send(count: stations.count, window: 8, timeout: .seconds(60)) { i in
            let seconds = max(1, (target - wallClockNanos() / 1_000_000 + 999) / 1000)
            return (Verb.sessionStart.rawValue, ["station": .string(stations[i]), "seconds": .int(seconds)])
        }
        let startedBy = wallClockNanos() / 1_000_000
        var ends: [(station: String, session: String, endsAt: Int64)] = []
        for (t, station) in zip(transactions, stations) {
            if let r = venue.probe.response(t), r.ok, let id = r.sessionID, let end = r.endsAtMillis { ends.append((station, id, end)) }
        }
        let latestEnd = ends.map(\.endsAt).max() ?? target
        let earliestEnd = ends.map(\.endsAt).min() ?? target
        try await Task.sleep(for: .milliseconds(max(0, latestEnd - wallClockNanos() / 1_000_000) + 3000))

        var lockLate: [Double] = []
        var plugLate: [Double] = []
        var missingLocks = 0
        var missingPlugs = 0
        var early = 0
        let plugOf = Dictionary(uniqueKeysWithValues: venue.consoles.map { ($0.station, $0.plug) })
        for end in ends {
            let since = (end.endsAt - 2000) * 1_000_000
            if let plug = plugOf[end.station] {
                if let off = venue.arrivals.first(.plugOff, device: plug, since: since) {
                    plugLate.append(Double(off.wallNanos - end.endsAt * 1_000_000) / 1e6)
                } else {
                    missingPlugs += 1
                }
            } else if let lock = venue.arrivals.first(.lock, device: end.station, since: since, session: end.session) {
                lockLate.append(Double(lock.wallNanos - end.endsAt * 1_000_000) / 1e6)
            } else {
                missingLocks += 1
            }
        }
        early = (lockLate + plugLate).filter { $0 < -1 }.count
        samples.add("expiry lock lateness", lockLate)
        samples.add("expiry plug OFF lateness", plugLate)
        let locks = Summary(lockLate)
        let offs = Summary(plugLate)
        var table = Table(header: ["what", "count", "p50 (ms)", "p99 (ms)", "max (ms)", "missing"])
        table.rows.append(["PC `lock` arrival - `ends_at`", "\(locks.count)", Summary.format(locks.p50), Summary.format(locks.p99),
                           Summary.format(locks.max), "\(missingLocks)"])
        table.rows.append(["plug `POWER OFF` arrival - `ends_at`", "\(offs.count)", Summary.format(offs.p50), Summary.format(offs.p99),
                           Summary.format(offs.max), "\(missingPlugs)"])
        sections.append("""
            ## Expiry: \(ends.count) sessions ending in the same second (of \(stations.count) requested; \
            \(venue.pcs.count) PCs + \(venue.consoles.count) plugs in the venue)

            Starts were sent in \(startedBy - (target - lead)) ms; the ends fell within \(latestEnd - earliestEnd) ms. \
            Negative lateness would be an early lock: \(early) arrived more than 1 ms before `ends_at`.

            \(table.markdown)
            """)
        let worst = [locks.p99, offs.p99].compactMap { $0 }.max()
        targets.append(("expiry lateness p99 < 50 ms with \(ends.count) simultaneous expiries",
                        Summary.format(worst) + " ms", worst.map { $0 < 50 && missingLocks + missingPlugs == 0 }))
    }

    // MARK: - Recovery

    /// SIGKILL with every PC in session (a tenth of them due to end while the hub is down), restart.
    private func recoveryPhase(_ venue: Venue) async throws {
        let count = min(plan.recoverySessions, venue.pcs.count)
        let shortCount = max(1, count / 10)
        let stations = Array(venue.pcs.prefix(count))
        let long = stations.dropLast(shortCount)
        let short = Array(stations.suffix(shortCount))
        progress("recovery: starting \(count) sessions (\(shortCount) short)")
        let began = wallClockNanos()
        let longTransactions = await venue.send(count: long.count, window: 64, timeout: .seconds(300)) { i in
            (Verb.sessionStart.rawValue, ["station": .string(long[long.startIndex + i]), "minutes": 120])
        }
        let shortTransactions = await venue.send(count: short.count, window: 64, timeout: .seconds(120)) { i in
            (Verb.sessionStart.rawValue, ["station": .string(short[i]), "seconds": 6])
        }
        let startSeconds = Double(wallClockNanos() - began) / 1e9
        let okCount = (longTransactions + shortTransactions).filter { venue.probe.response($0)?.ok == true }.count
        var overdue: [(station: String, session: String, endsAt: Int64)] = []
        for (t, station) in zip(shortTransactions, short) {
            if let r = venue.probe.response(t), r.ok, let id = r.sessionID, let end = r.endsAtMillis { overdue.append((station, id, end)) }
        }
        let rssBeforeKill = venue.hub.pid.flatMap { ProcessStats.memoryKB(pid: $0, field: "VmHWM") } ?? 0
        progress("recovery: \(okCount) sessions active; SIGKILL the hub")
        venue.hub.kill()
        let lastEnd = overdue.map(\.endsAt).max() ?? wallClockNanos() / 1_000_000
        try await Task.sleep(for: .milliseconds(max(0, lastEnd - wallClockNanos() / 1_000_000) + 1000))

        let restart = wallClockNanos()
        try venue.hub.start()
        let everyStation = Set(venue.allStations)
        var online: Int64?
        var republished: Int64?
        var locked: Int64?
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, online == nil || republished == nil || locked == nil {
            if online == nil, let s = venue.probe.statuses(since: restart).first(where: { $0.status == "online" }) { online = s.nanos }
            if republished == nil {
                let states = venue.probe.states()
                let fresh = everyStation.compactMap { s in states[s].flatMap { $0.nanos >= restart ? $0.nanos : nil } }
                if fresh.count == everyStation.count { republished = fresh.max() }
            }
            if locked == nil {
                var latest: Int64 = 0
                var all = true
                for o in overdue {
                    guard let lock = venue.arrivals.first(.lock, device: o.station, since: restart, session: o.session) else { all = false; break }
                    latest = max(latest, lock.wallNanos)
                }
                if all { locked = latest }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        func ms(_ t: Int64?) -> String { t.map { String(format: "%.0f", Double($0 - restart) / 1e6) } ?? "not within 120 s" }
        let total = [online, republished, locked].allSatisfy { $0 != nil } ? [online!, republished!, locked!].max()! : nil
        var table = Table(header: ["after restart (exec of playclockd)", "ms"])
        table.rows.append(["`hub/status` is `online`", ms(online)])
        table.rows.append(["every station's state republished (\(everyStation.count))", ms(republished)])
        table.rows.append(["every overdue session locked (\(overdue.count))", ms(locked)])
        table.rows.append(["all of the above", ms(total)])
        sections.append("""
            ## Recovery: SIGKILL with \(okCount) active sessions, \(overdue.count) of them overdue at restart

            Starting the sessions took \(String(format: "%.1f", startSeconds)) s (\(String(format: "%.0f", Double(okCount) / max(startSeconds, 0.001))) \
            session/start per second, each one a committed SQLite transaction); the hub's peak RSS before the kill was \
            \(String(format: "%.1f", Double(rssBeforeKill) / 1024)) MB.

            \(table.markdown)
            """)
        let seconds = total.map { Double($0 - restart) / 1e9 }
        targets.append(("recovery under 2 s with \(okCount) active sessions", seconds.map { String(format: "%.2f s", $0) } ?? "incomplete",
                        seconds.map { $0 < 2 }))
    }

    // MARK: - Soak

    private struct SoakSession {
        var station: String
        var id: String
        var paidSeconds: Int64
        var endsAt: Int64
        var stopped = false
        var startedNanos: Int64
    }

    /// Churn for a bounded time, then the ledger (SQLite) against what the agents saw.
    private func soak() async throws {
        let n = plan.soakStations
        let consoles = max(1, n / 10)
        progress("soak: \(plan.soakSeconds) s of churn on \(n) PCs + \(consoles) plugs")
        let venue = try await Venue(
            name: "soak", outDir: outDir, pcCount: n, consoleCount: consoles, heartbeatSeconds: plan.heartbeatSeconds, hubPath: hubPath,
            mosquitto: mosquitto, logger: logger)
        defer { venue.close() }
        try await venue.waitUntilReady(timeout: .seconds(120))

        var generator = SystemRandomNumberGenerator()
        var active: [String: SoakSession] = [:]
        var sessions: [String: SoakSession] = [:]
        var drops: [String: [(Int64, Int64)]] = [:]
        var counts = (starts: 0, extends: 0, stops: 0, drops: 0, malformed: 0, refused: 0)
        // Money in the churn: members topped up (some requests sent twice with one transaction
        // id, as a retry would), sessions sold for cash or from an account.
        var money = SoakMoney()
        let members = (1...5).map { "m-\($0)" }
        for m in members {
            let t = venue.probe.request(.memberAdd(NewMember(id: m, name: m)))
            _ = await venue.probe.waitForResponses([t], timeout: .seconds(10))
        }
        let stations = venue.allStations
        let end = ContinuousClock.now + .seconds(plan.soakSeconds)
        var lastMalformed = ContinuousClock.now
        while ContinuousClock.now < end {
            let now = wallClockNanos()
            for (station, s) in active where !s.stopped && s.endsAt * 1_000_000 + 1_000_000_000 < now { active[station] = nil }
            let roll = Int.random(in: 0..<100, using: &generator)
            let station = stations.randomElement(using: &generator)!
            if roll < 45, active[station] == nil {
                let seconds = Int64.random(in: plan.quick ? 2...6 : 3...20, using: &generator)
                let payer = members.randomElement(using: &generator)!
                let command: Command
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: command = .sessionStart(stationID(station), seconds: seconds)
                case 1: command = .sessionStartPaid(stationID(station), .desk(.seconds(seconds), .tender(.cash)))
                default: command = .sessionStartPaid(stationID(station), .desk(.seconds(seconds), .account(member: payer)))
                }
                let t = venue.probe.request(command)
                if await venue.probe.waitForResponses([t], timeout: .seconds(10)) == 1, let r = venue.probe.response(t) {
                    if r.ok, let id = r.sessionID, let endsAt = r.endsAtMillis {
                        let s = SoakSession(station: station, id: id, paidSeconds: seconds, endsAt: endsAt, startedNanos: now)
                        active[station] = s
                        sessions[id] = s
                        counts.starts += 1
                        if let amount = r.body["data"]?["sale"]?["amount"]?.intValue {
                            money.sales += 1
                            if case .sessionStartPaid(_, .desk(_, .account(let m))) = command { money.expected[m, default: 0] -= amount }
                        }
                    } else {
                        counts.refused += 1
                    }
                }
            } else if roll >= 88, roll < 94 {
                let m = members.randomElement(using: &generator)!
                let amount = Int64.random(in: 1...900, using: &generator)
                let command = Command.memberTopup(m, amount: amount, tender: Bool.random(using: &generator) ? .cash : .card)
                let t = venue.probe.request(command)
                if Int.random(in: 0..<3, using: &generator) == 0 {
                    venue.probe.request(command.verb.rawValue, command.body, transaction: t)
                    money.retried += 1
                }
                if await venue.probe.waitForResponses([t], timeout: .seconds(10)) == 1, let r = venue.probe.response(t), r.ok {
                    money.expected[m, default: 0] += amount
                    money.topups += 1
                }
            } else if roll < 65, var s = active.values.randomElement(using: &generator), !s.stopped {
                let seconds = Int64.random(in: 2...10, using: &generator)
                let t = venue.probe.request(.sessionExtend(stationID(s.station), seconds: seconds))
                if await venue.probe.waitForResponses([t], timeout: .seconds(10)) == 1, let r = venue.probe.response(t) {
                    if r.ok, r.sessionID == s.id, let endsAt = r.endsAtMillis {
                        s.paidSeconds += seconds
                        s.endsAt = endsAt
                        active[s.station] = s
                        sessions[s.id] = s
                        counts.extends += 1
                    } else {
                        counts.refused += 1  // it ended between our pick and the hub's answer
                    }
                }
            } else if roll < 80, var s = active.values.randomElement(using: &generator), !s.stopped {
                let t = venue.probe.request(.sessionStop(stationID(s.station)))
                if await venue.probe.waitForResponses([t], timeout: .seconds(10)) == 1, let r = venue.probe.response(t) {
                    if r.ok {
                        s.stopped = true
                        sessions[s.id] = s
                        active[s.station] = nil
                        counts.stops += 1
                    } else {
                        counts.refused += 1
                    }
                }
            } else if roll < 88, let pc = venue.pcs.randomElement(using: &generator), let id = StationID(pc) {
                let millis = Int64.random(in: 500...3000, using: &generator)
                venue.fleet.drop([id], for: .milliseconds(millis))
                drops[pc, default: []].append((now, now + millis * 1_000_000 + 200_000_000))
                counts.drops += 1
            }
            if ContinuousClock.now - lastMalformed > .seconds(3) {
                venue.fleet.publishMalformed(count: 12)
                counts.malformed += 12
                lastMalformed = ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...60, using: &generator)))
        }
        // Let every session run out (the longest can end long after its last extension), then
        // give agents that were away time to come back and be re-locked.
        let lastEnd = sessions.values.filter { !$0.stopped }.map(\.endsAt).max() ?? 0
        progress("soak: churn over; waiting for the last sessions to end")
        try await Task.sleep(for: .milliseconds(max(0, lastEnd - wallClockNanos() / 1_000_000) + 4000))

        let database = try SQLiteDatabase(path: venue.directory.appendingPathComponent("playclock.sqlite").path)
        defer { database.close() }
        var ledger: [String: (station: String, granted: Int64, used: Int64, ended: Int64?, reason: String?)] = [:]
        for row in try database.query("SELECT id, station, granted_ms, used_ms, ended_at_ms, end_reason FROM sessions") {
            guard let id = row.string("id") else { continue }
            let station = row.string("station") ?? ""
            let granted = row.int("granted_ms") ?? -1
            let used = row.int("used_ms") ?? -1
            ledger[id] = (station, granted, used, row.int("ended_at_ms"), row.string("end_reason"))
        }
        var lost = 0, unended = 0, wrongGrant = 0, wrongUse = 0, missedLocks = 0, stillUnlocked = 0
        var differences: [Double] = []
        let isPC = Set(venue.pcs)
        for s in sessions.values {
            guard let l = ledger[s.id] else { lost += 1; continue }
            guard let endedAt = l.ended else { unended += 1; continue }
            if l.granted != s.paidSeconds * 1000 { wrongGrant += 1 }
            if s.stopped ? l.used > l.granted : l.used != l.granted { wrongUse += 1 }
            guard isPC.contains(s.station) else { continue }
            // The agent must have been locked after the end: directly, or when it came back.
            guard let lock = venue.arrivals.first(.lock, device: s.station, since: (endedAt - 50) * 1_000_000) else {
                missedLocks += 1
                continue
            }
            // Paid time as the agent lived it, for sessions no agent drop overlapped.
            let overlapped = (drops[s.station] ?? []).contains { $0.0 <= endedAt * 1_000_000 + 1_000_000_000 && $0.1 >= s.startedNanos }
            if !overlapped, let unlock = venue.arrivals.first(.unlock, device: s.station, since: s.startedNanos, session: s.id) {
                let lived = Double(lock.wallNanos - unlock.wallNanos) / 1e6
                differences.append(lived - Double(l.used))
            }
        }
        for pc in venue.pcs {
            if let id = StationID(pc), venue.fleet.isLocked(id) == false { stillUnlocked += 1 }
        }
        // Money: every acknowledged top-up and sale in the ledger exactly once, balances as the
        // acknowledged answers add up, and `playclock db check` clean.
        let topupSales = try database.queryOne("SELECT COUNT(*) AS n FROM sales WHERE kind = 'topup'")?.int("n") ?? -1
        let deskSales = try database.queryOne("SELECT COUNT(*) AS n FROM sales WHERE kind = 'time'")?.int("n") ?? -1
        var wrongBalances = 0
        for m in members {
            let stored = try database.queryOne("SELECT balance FROM members WHERE id = ?", [.text(m)])?.int("balance") ?? -1
            if stored != money.expected[m, default: 0] { wrongBalances += 1 }
        }
        let check = try runDBCheck(database: venue.directory.appendingPathComponent("playclock.sqlite").path)
        samples.add("soak agent-lived minus ledger", differences)
        let diff = Summary(differences.map(abs))
        var table = Table(header: ["check", "result"])
        table.rows.append(["sessions started / extended / stopped (and refused requests)",
                           "\(counts.starts) / \(counts.extends) / \(counts.stops) (\(counts.refused))"])
        table.rows.append(["agent drop-offs / malformed payloads injected", "\(counts.drops) / \(counts.malformed)"])
        table.rows.append(["sessions lost (acknowledged, not in SQLite)", "\(lost)"])
        table.rows.append(["sessions not ended in SQLite after their end", "\(unended)"])
        table.rows.append(["granted time differing from what was paid (start + extensions)", "\(wrongGrant)"])
        table.rows.append(["used time wrong (expired: != granted; stopped: > granted)", "\(wrongUse)"])
        table.rows.append(["sessions whose agent never got a lock after the end", "\(missedLocks)"])
        table.rows.append(["agents still unlocked at the end", "\(stillUnlocked)"])
        table.rows.append(["|unlocked time seen by the agent - used time in SQLite|, p50 / p99 / max ms (\(diff.count) sessions without drop-offs)",
                           diff.text])
        table.rows.append(["money: top-ups acknowledged / in the ledger (of which sent twice with one transaction id)",
                           "\(money.topups) / \(topupSales) (\(money.retried))"])
        table.rows.append(["money: desk sales acknowledged / in the ledger", "\(money.sales) / \(deskSales)"])
        table.rows.append(["money: member balances differing from the acknowledged top-ups minus account sales", "\(wrongBalances)"])
        table.rows.append(["money: `playclock db check`", check.ok ? "ok" : "FAILED: \(check.output)"])
        sections.append("""
            ## Soak: \(plan.soakSeconds) s of churn on \(n) PCs + \(consoles) plugs

            \(table.markdown)
            """)
        let clean = lost + unended + wrongGrant + wrongUse + missedLocks + stillUnlocked == 0 && (diff.max ?? 0) < 1000
        targets.append(("soak: no session lost, no lock missed, no paid second granted or stolen",
                        clean ? "all checks passed" : "see the soak table", clean))
        let moneyClean = Int64(money.topups) == topupSales && Int64(money.sales) == deskSales && wrongBalances == 0 && check.ok
        targets.append(("soak: every acknowledged top-up and sale in the ledger once, balances right, db check clean",
                        moneyClean ? "all checks passed" : "see the soak table", moneyClean))
    }

    private struct SoakMoney {
        var topups = 0
        var retried = 0
        var sales = 0
        /// Member -> acknowledged top-ups minus acknowledged sales paid from the account.
        var expected: [String: Int64] = [:]
    }

    /// The real `playclock db check` (next to playclockd) on the soak's database, after the hub stopped writing.
    private func runDBCheck(database: String) throws -> (ok: Bool, output: String) {
        let tool = URL(fileURLWithPath: hubPath).deletingLastPathComponent().appendingPathComponent("playclock")
        let process = Process()
        process.executableURL = tool
        process.arguments = ["db", "check", "--database", database]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus == 0, output.split(separator: "\n").suffix(3).joined(separator: " / "))
    }
}
