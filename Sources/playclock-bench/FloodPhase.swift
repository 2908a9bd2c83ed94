import Foundation
import Logging
import PlayclockContract
import PlayclockMQTT
import PlayclockSQLite
import PlayclockSim
import Synchronization

extension Runner {
    /// A hostile station account floods its own heartbeat topic (any agent account may publish
    /// there) while staff keep working: every staff request must still be answered, the hub must
    /// not write a log line per hostile message, and its memory must come back down.
    func floodPhase() async throws {
        let n = plan.floodStations
        let total = plan.floodMessages
        let requestCount = plan.floodRequests
        let settleSeconds = plan.quick ? 3 : 10
        progress("flood: starting broker, hub and \(n) agents")
        // The hub serves HTTP only so that its /metrics (shed counters) can be read.
        let httpPort = try freeLoopbackPort()
        let venue = try await Venue(
            name: "flood", outDir: outDir, pcCount: n, consoleCount: 0, heartbeatSeconds: plan.heartbeatSeconds,
            hubPath: hubPath, mosquitto: mosquitto, logger: logger, http: HubHTTPSettings(port: httpPort))
        defer { venue.close() }
        try await venue.waitUntilReady(timeout: .seconds(120))
        // Let the first round of heartbeats settle, as the scale phase does.
        try await Task.sleep(for: .seconds(min(plan.heartbeatSeconds, plan.steadySeconds)))
        guard let pid = venue.hub.pid else { throw BenchError("hub is not running") }

        // The hostile stations (their own agents keep heartbeating too) and the idle stations
        // the staff requests go to.
        let hostile = Array(venue.pcs.prefix(max(2, min(4, n / 4))))
        let idle = Array(venue.pcs.dropFirst(hostile.count))
        let floodTopics = try hostile.map { try MQTTTopic(venue.topics.heartbeat(StationID($0)!)) }

        // A witness subscribed to the hostile topics sees what the broker actually delivered, and when.
        let witness = try FloodWitness(broker: venue.broker.url, topics: floodTopics, logger: logger)
        witness.start()
        defer { witness.stop() }
        var floodConfig = try MQTTClientConfiguration(url: venue.broker.url, clientID: "playclock-bench-flood")
        floodConfig.eventBufferSize = 64
        let flooder = MQTTClient(configuration: floodConfig, logger: logger)
        flooder.start()
        defer { flooder.stop() }
        let drain = Task { for await _ in flooder.events {} }
        defer { drain.cancel() }
        guard await flooder.waitUntilConnected(timeout: .seconds(10)), await witness.waitUntilReady() else {
            throw BenchError("flood clients could not connect to the broker")
        }

        let metricsBefore = scrapeFloodMetrics(port: httpPort)
        let rssBefore = ProcessStats.memoryKB(pid: pid, field: "VmRSS") ?? 0
        let hwmBefore = ProcessStats.memoryKB(pid: pid, field: "VmHWM") ?? 0
        var rssPeak = rssBefore
        func sampleRSS() {
            if let kb = ProcessStats.memoryKB(pid: pid, field: "VmRSS") { rssPeak = max(rssPeak, kb) }
        }
        let hubLog = venue.hub.log
        let logBefore = logLines(hubLog)

        // The burst: of every ten payloads five are a bare `{"seq":n}`, two also change an agent
        // field (`user`: the hub republishes the station's state for each), two are as large as a
        // heartbeat may be (4 KiB, a `pad` field), one is malformed; a
        // staff request every `every` hostile messages, each with its own transaction (the probe
        // adds it).
        let malformed: [[UInt8]] = [
            Array("not json".utf8), Array("{\"seq\":\"x\"}".utf8), Array("[1,2,3]".utf8), Array("{\"seq\":1.5}".utf8),
            Array("{".utf8), Array("{\"seq\":1,\"pad\":\"\(String(repeating: "x", count: 5000))\"}".utf8),
        ]
        let every = max(1, total / (requestCount + 1))
        var transactions: [String] = []
        var malformedCount = 0
        var changingCount = 0
        var largeCount = 0
        let pad = String(repeating: "p", count: 4000)
        var refusedPublishes = 0
        func sendRequest(_ i: Int) {
            let station = idle[(i / 3) % idle.count]
            let t: String
            switch i % 3 {
            case 0: t = venue.probe.request(.stationGet(stationID(station)))
            case 1: t = venue.probe.request(.sessionStart(stationID(station), seconds: 3600))
            default: t = venue.probe.request(.sessionStop(stationID(station)))
            }
            transactions.append(t)
        }
        progress("flood: \(total) hostile heartbeats on \(hostile.count) topics, \(requestCount) staff requests interleaved")
        let burstStart = wallClockNanos()
        for i in 0..<total {
            let payload: [UInt8]
            if i % 10 == 9 {
                payload = malformed[(i / 10) % malformed.count]
                malformedCount += 1
            } else if i % 10 >= 7 {
                payload = Array("{\"seq\":\(i),\"pad\":\"\(pad.prefix(4000 - String(i).count))\"}".utf8)
                largeCount += 1
            } else if i % 10 >= 5 {
                payload = Array("{\"seq\":\(i),\"user\":\"flood-\(i)\"}".utf8)
                changingCount += 1
            } else {
                payload = Array("{\"seq\":\(i)}".utf8)
            }
            if case .sent = flooder.publish(floodTopics[i % floodTopics.count], payload: payload, qos: .atMostOnce) {} else {
                refusedPublishes += 1
            }
            if (i + 1) % every == 0, transactions.count < requestCount { sendRequest(transactions.count) }
            if i % 500 == 0 { sampleRSS() }
        }
        while transactions.count < requestCount { sendRequest(transactions.count) }
        let burstPublished = wallClockNanos()

        // Answers (or the bound), and the hub's memory `settleSeconds` after the burst, sampling
        // its peak meanwhile.
        let answerBound = plan.quick ? 30 : 60
        let answerDeadline = ContinuousClock.now + .seconds(answerBound)
        let settled = ContinuousClock.now + .seconds(settleSeconds)
        var rssAfterKB: Int?
        while ContinuousClock.now < settled || (ContinuousClock.now < answerDeadline
                                                && transactions.contains(where: { venue.probe.response($0) == nil })) {
            sampleRSS()
            if rssAfterKB == nil, ContinuousClock.now >= settled { rssAfterKB = ProcessStats.memoryKB(pid: pid, field: "VmRSS") }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard venue.hub.pid == pid else { throw BenchError("the hub died during the flood; see \(hubLog.path)") }
        let rssAfter = rssAfterKB ?? ProcessStats.memoryKB(pid: pid, field: "VmRSS") ?? 0
        let lastAnswer = transactions.compactMap { venue.probe.response($0)?.receivedNanos }.max()
        let hwmAfter = ProcessStats.memoryKB(pid: pid, field: "VmHWM") ?? 0
        if hwmAfter > hwmBefore { rssPeak = max(rssPeak, hwmAfter) }
        let logAfter = logLines(hubLog)
        let burstLog = logAfter.dropFirst(logBefore.count)
        // The staff requests log their own events (session started, stopped, ...) and refusals:
        // not the flood's doing. Everything else the hub logged meanwhile is.
        let requestStations = Set((0..<requestCount).map { idle[($0 / 3) % idle.count] })
        let floodLog = burstLog.filter { line in
            !line.contains("request refused") && !requestStations.contains { line.contains("station.id=\($0)") }
        }
        let bufferFull = floodLog.filter { $0.contains("buffer full") }.count
        let metricsAfter = scrapeFloodMetrics(port: httpPort)
        let delivered = witness.seen()

        var responseMs: [Double] = []
        var ok = 0
        for t in transactions {
            guard let sent = venue.probe.sentAt(t), let response = venue.probe.response(t) else { continue }
            responseMs.append(Double(response.receivedNanos - sent) / 1e6)
            if response.ok { ok += 1 }
        }
        samples.add("flood request->response", responseMs)
        let answered = responseMs.count

        let database = try SQLiteDatabase(path: venue.directory.appendingPathComponent("playclock.sqlite").path)
        defer { database.close() }
        let rejected = try database.queryOne("SELECT COUNT(*) AS n FROM events WHERE type = 'command.rejected'")?.int("n") ?? 0

        func mb(_ kb: Int) -> String { String(format: "%.1f", Double(kb) / 1024) }
        func rate(_ count: Int, _ nanos: Int64) -> String { String(format: "%.0f", Double(count) / max(Double(nanos) / 1e9, 1e-6)) }
        let publishNanos = burstPublished - burstStart
        let deliveredText: String
        if let last = delivered.lastNanos {
            deliveredText = "\(delivered.count) of \(total) in \(String(format: "%.0f", Double(last - burstStart) / 1e6)) ms "
                + "(\(rate(delivered.count, last - burstStart)) msg/s)"
        } else {
            deliveredText = "0 of \(total)"
        }
        let summary = Summary(responseMs)
        let logSample = floodLog.prefix(2).map { "`\(String($0.prefix(160)).replacingOccurrences(of: "|", with: "\\|"))`" }
        var table = Table(header: ["what", "measured"])
        table.rows.append(["flood", "\(total) heartbeats (\(total - malformedCount - changingCount - largeCount) `{\"seq\":n}`, "
                           + "\(changingCount) `{\"seq\":n,\"user\":\"flood-n\"}`, \(largeCount) of 4 KiB, \(malformedCount) malformed) on "
                           + "\(hostile.count) stations' topics, QoS 0"
                           + (refusedPublishes > 0 ? ", \(refusedPublishes) refused by the client" : "")])
        table.rows.append(["published by the bench in", "\(String(format: "%.0f", Double(publishNanos) / 1e6)) ms (\(rate(total, publishNanos)) msg/s)"])
        table.rows.append(["delivered by the broker (to a witness subscriber)", deliveredText])
        table.rows.append(["staff requests answered (ok / refused)", "\(answered) of \(requestCount) (\(ok) / \(answered - ok))"])
        table.rows.append(["request -> response during the flood p50 / p99 / max (ms)", summary.text])
        table.rows.append(["hub RSS before / peak / \(settleSeconds) s after the burst (MB)",
                           "\(mb(rssBefore)) / \(mb(rssPeak)) / \(mb(rssAfter))"])
        table.rows.append(["hub log lines during the burst: not about the staff requests (`buffer full` among them) / all",
                           "\(floodLog.count) (\(bufferFull)) / \(burstLog.count)"
                           + (logSample.isEmpty ? "" : "; first: " + logSample.joined(separator: " "))])
        table.rows.append(["`command.rejected` rows in SQLite", "\(rejected)"])
        table.rows.append(["/metrics shed or dropped counters before -> after",
                           metricsText(before: metricsBefore, after: metricsAfter)])
        sections.append("""
            ## Flood: \(total) hostile heartbeats with \(requestCount) staff requests interleaved \
            (\(n) PCs heartbeating every \(plan.heartbeatSeconds) s)

            Answers were awaited up to \(answerBound) s; the last one arrived \(lastAnswer.map { String(format: "%.1f s", Double($0 - burstStart) / 1e9) } ?? "never") \
            after the burst began. Log lines are counted from the burst until the answers were in and \(settleSeconds) s had passed; \
            lines about the staff requests' own stations and refusals are not the flood's.

            \(table.markdown)
            """)
        let rssGrowthMB = Double(rssAfter - rssBefore) / 1024
        let met = answered == requestCount && floodLog.count < 50 && rssGrowthMB <= 20
        targets.append(("flood: every request answered; log lines during burst < 50; RSS after burst within 20 MB of before",
                        "\(answered)/\(requestCount) answered; \(floodLog.count) log lines; RSS \(String(format: "%+.1f", rssGrowthMB)) MB", met))
    }

    /// The hub's log, one element per line.
    private func logLines(_ file: URL) -> [Substring] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    }

    /// `name value` of every /metrics series whose name mentions shedding or dropping, and the
    /// received-message counter; nil if /metrics could not be read.
    private func scrapeFloodMetrics(port: Int) -> [String: String]? {
        guard let socket = try? HTTPSocket(port: port, timeout: .seconds(5)) else { return nil }
        let request = HTTP1.request(method: "GET", path: "/metrics", port: port, headers: [("Connection", "close")], body: [])
        guard (try? socket.write(request)) != nil, let response = try? HTTP1.readResponse(socket), response.status == 200 else { return nil }
        var found: [String: String] = [:]
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            let name = String(parts[0])
            // Words of the metric's name (not its labels): "shed", "dropped", ... but not "publi-shed".
            let words = name.prefix { $0 != "{" }.lowercased().split(separator: "_")
            if words.contains(where: { $0.hasPrefix("shed") || $0.hasPrefix("drop") })
                || name.hasPrefix("playclock_mqtt_messages_received_total") {
                found[name] = String(parts[1])
            }
        }
        return found
    }

    private func metricsText(before: [String: String]?, after: [String: String]?) -> String {
        guard let after else { return "/metrics not readable" }
        let names = after.keys.sorted()
        let shed = names.filter { !$0.hasPrefix("playclock_mqtt_messages_received_total") }
        var parts = names.map { "`\($0)` \(before?[$0] ?? "-") -> \(after[$0]!)" }
        if shed.isEmpty { parts.insert("no shed/dropped counter exposed", at: 0) }
        return parts.joined(separator: "; ")
    }
}

/// Counts what the broker delivered on the hostile topics, and when the last one arrived.
final class FloodWitness: Sendable {
    private let client: MQTTClient
    private let counts = Mutex<(count: Int, lastNanos: Int64?)>((0, nil))
    private let consumer: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(broker: String, topics: [MQTTTopic], logger: Logger) throws {
        var config = try MQTTClientConfiguration(url: broker, clientID: "playclock-bench-flood-witness")
        config.eventBufferSize = 1 << 20
        client = MQTTClient(configuration: config, logger: logger)
        for topic in topics { client.subscribe(try MQTTTopicFilter(topic.value), qos: .atMostOnce) }
    }

    /// Connects and counts in a task of its own until `stop()`.
    func start() {
        client.start()
        let task = Task {
            for await event in self.client.events {
                guard case .message(let m) = event, !m.retain else { continue }
                // Only the bench's hostile payloads: the stations' own agents add "agent" fields.
                if m.payload.count < 2 || !String(decoding: m.payload.prefix(64), as: UTF8.self).contains("\"agent\"") {
                    self.counts.withLock { $0 = ($0.count + 1, m.receivedAtWallNanos) }
                }
            }
        }
        consumer.withLock { $0 = task }
    }

    func waitUntilReady() async -> Bool {
        guard await client.waitUntilConnected(timeout: .seconds(10)) else { return false }
        // The subscriptions go out on connect; give the broker a moment to register them.
        try? await Task.sleep(for: .milliseconds(300))
        return true
    }

    func seen() -> (count: Int, lastNanos: Int64?) { counts.withLock { $0 } }

    func stop() {
        client.stop()
        consumer.withLock { $0?.cancel() }
    }
}
