import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// A hub that restarts, or whose broker restarts, must not flash stations `offline` whose agents
/// keep heartbeating: until it has heard a heartbeat window's worth it does not know (`online`:
/// null), it does not say "gone". Real playclockd, real playclock-sim agents, states read by an
/// independent `mosquitto_sub`.
@Suite(.serialized)
struct RestartPresenceTests {
    static let agentCount = 50
    /// `HubHarness.defaultPolicy`: heartbeats every 1 s, offline after 3 missed.
    static let heartbeatSeconds = 1
    static let window: Duration = .seconds(3)
    static var agents: [String] { (1...agentCount).map { String(format: "PC-%02d", $0) } }

    /// A hub knowing 50 PCs (and the harness's console), 50 simulated agents heartbeating every
    /// second, a state recorder, and every agent shown online.
    private func venue() async throws -> (HubHarness, ChildProcess, WireRecorder) {
        let extra: [JSONValue] = Self.agents.filter { !HubHarness.stations.contains($0) }
            .map { ["station": .string($0), "name": .string($0), "kind": "pc"] }
        let h = try await HubHarness(extraStations: extra)
        let sim = try ChildProcess(
            binaryPath("playclock-sim"),
            arguments: ["--broker", h.broker.url, "--pcs", "\(Self.agentCount)", "--heartbeat-interval", "\(Self.heartbeatSeconds)"],
            directory: h.directory)
        let states = try await WireRecorder(port: h.broker.port, filter: "playclock/stations/+/state")
        try await waitAllOnline([states], since: [0], what: "every agent online before the test")
        return (h, sim, states)
    }

    /// Waits until the latest state of every agent's station (across `recorders`, from their
    /// `since` marks) says online.
    private func waitAllOnline(
        _ recorders: [WireRecorder], since: [Int], timeout: Duration = .seconds(30), what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var notOnline: [String] = []
        while ContinuousClock.now < deadline {
            let latest = latestStates(recorders, since: since)
            notOnline = Self.agents.filter { latest[$0]?["online"] != .bool(true) }
            if notOnline.isEmpty { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(what): \(notOnline.count) stations not online after \(timeout): \(notOnline.prefix(10))", sourceLocation: sourceLocation)
        throw ChildProcessError(description: "\(what): timed out")
    }

    private func stateRecords(_ recorders: [WireRecorder], since: [Int]) -> [WireRecord] {
        zip(recorders, since).flatMap { recorder, mark in recorder.records().dropFirst(mark) }
            .filter { $0.topic.hasPrefix("playclock/stations/") && $0.topic.hasSuffix("/state") }
            .sorted { $0.time < $1.time }
    }

    private func latestStates(_ recorders: [WireRecorder], since: [Int]) -> [String: JSONValue] {
        var latest: [String: JSONValue] = [:]
        for record in stateRecords(recorders, since: since) {
            guard let json = record.json, let station = json["station"]?.stringValue else { continue }
            latest[station] = json
        }
        return latest
    }

    /// Every state published from the marks on that shows a station offline.
    private func offlineStates(_ recorders: [WireRecorder], since: [Int]) -> [(station: String, online: String, status: String)] {
        stateRecords(recorders, since: since).compactMap { record in
            guard let json = record.json, let station = json["station"]?.stringValue else { return nil }
            guard json["online"] == .bool(false) || json["status"] == "offline" else { return nil }
            return (station, json["online"].map { "\($0)" } ?? "missing", json["status"]?.stringValue ?? "missing")
        }
    }

    private func report(_ offline: [(station: String, online: String, status: String)]) -> String {
        let stations = Set(offline.map(\.station))
        let sample = offline.prefix(5).map { "\($0.station): online=\($0.online) status=\($0.status)" }.joined(separator: "; ")
        return "\(offline.count) states (as seen by the recorders) showed \(stations.count) of \(Self.agentCount) heartbeating stations offline (first: \(sample))"
    }

    @Test(.timeLimit(.minutes(2)))
    func hubSigkillAndRestartNeverShowsHeartbeatingStationsOffline() async throws {
        let (h, sim, states) = try await venue()
        defer { sim.kill() }
        let mark = states.count

        h.killHub()
        try await h.startHub()
        // About three heartbeat windows (3 missed heartbeats of 1 s) after the restart.
        try await Task.sleep(for: Self.window * 3)

        let published = stateRecords([states], since: [mark])
        let republished = Set(published.compactMap { $0.json?["station"]?.stringValue })
        #expect(republished.isSuperset(of: Self.agents),
                "the restarted hub republished every station's state")
        let offline = offlineStates([states], since: [mark])
        let offlineCount = offline.count
        #expect(offlineCount == 0, "after a hub SIGKILL and restart: \(report(offline))")
        try await waitAllOnline([states], since: [mark], timeout: .seconds(5), what: "every agent online after the restart")
        #expect(sim.isRunning)
    }

    @Test(.timeLimit(.minutes(2)))
    func brokerRestartNeverShowsHeartbeatingStationsOffline() async throws {
        let (h, sim, states) = try await venue()
        defer { sim.kill() }
        let mark = states.count

        // SIGKILL the broker, keep it down 2 s, bring it back on the same port (no retained
        // messages: persistence is off). The hub and the agents reconnect by themselves.
        h.broker.stop()
        try await Task.sleep(for: .seconds(2))
        try await h.broker.restart()
        // A fresh subscriber besides the old one (which may or may not reconnect).
        let after = try await WireRecorder(port: h.broker.port, filter: "playclock/stations/+/state")
        defer { after.stop() }
        try await h.restartRecorder()
        try await h.recorder.waitFor(timeout: .seconds(15), "hub back online") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        try await Task.sleep(for: Self.window * 3)

        let recorders = [states, after]
        let marks = [mark, 0]
        let published = stateRecords(recorders, since: marks)
        let republished = Set(published.compactMap { $0.json?["station"]?.stringValue })
        #expect(republished.isSuperset(of: Self.agents),
                "the reconnected hub republished every station's state")
        let offline = offlineStates(recorders, since: marks)
        let offlineCount = offline.count
        #expect(offlineCount == 0, "after a broker restart: \(report(offline))")
        try await waitAllOnline(recorders, since: marks, timeout: .seconds(5), what: "every agent online after the broker restart")
        #expect(sim.isRunning)
    }
}
