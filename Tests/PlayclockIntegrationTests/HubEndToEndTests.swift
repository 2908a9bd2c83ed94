import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The real `playclockd` against a real Mosquitto on a free loopback port, with a real SQLite
/// file, observed by an independent `mosquitto_sub` and driven with `mosquitto_pub`.
@Suite(.serialized)
struct HubEndToEndTests {
    @Test func shortSessionUnlocksCountsDownWarnsAndLocksOnTime() async throws {
        let h = try await HubHarness()
        let mark = h.recorder.count
        let response = try await h.request("session/start", ["station": "PC-01", "seconds": 4])
        #expect(response["status"] == "ok")
        let session = try #require(response["data"]?["session"]?["id"]?.stringValue)
        let endsAt = try #require(unixSeconds(response["data"]?["session"]?["ends_at"]?.stringValue))

        let unlock = try await h.recorder.waitFor(since: mark, "unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["session"] == .string(session))
        #expect(unlock.json?["remaining_s"] == 4)
        #expect(unixSeconds(unlock.json?["ends_at"]?.stringValue) == endsAt)

        let warn = try await h.recorder.waitFor(since: mark, "warn") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "warn"
        }
        #expect(warn.json?["threshold_s"] == 2)
        #expect(warn.json?["remaining_s"] == 2)

        let lock = try await h.recorder.waitFor(since: mark, timeout: .seconds(8), "lock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock" && $0.json?["session"] == .string(session)
        }
        #expect(lock.json?["reason"] == "expired")
        #expect(lock.json?["session"] == .string(session))
        // Never early; on time to well within a second even on a loaded CI machine (the real
        // lateness figures are in the benchmark).
        #expect(lock.time >= endsAt - 0.05)
        #expect(lock.time - endsAt < 1.0)

        try await h.recorder.waitFor(since: mark, "final countdown") {
            $0.topic == "playclock/stations/PC-01/countdown" && $0.json?["remaining_s"] == 0
        }
        let countdowns = h.recorder.records().dropFirst(mark).filter { $0.topic == "playclock/stations/PC-01/countdown" }
        #expect(countdowns.count >= 4, "a countdown on start and every second after")
        #expect(countdowns.first?.json?["remaining_s"] == 4)
        #expect(countdowns.last?.json?["remaining_s"] == 0)

        // The retained state says expired, then idle again after the hold (2 s in this policy).
        try await h.recorder.waitFor(since: mark, "expired state") {
            $0.topic == "playclock/stations/PC-01/state" && $0.json?["status"] == "expired"
        }
        let expired = try #require(try h.retainedState("PC-01"))
        #expect(expired["status"] == "expired")
        #expect(expired["session"] == .null)
        try await h.recorder.waitFor(since: mark, "back to idle") {
            $0.topic == "playclock/stations/PC-01/state" && ($0.json?["status"] == "offline" || $0.json?["status"] == "idle")
        }

        let events = h.recorder.records().dropFirst(mark).filter { $0.topic == "playclock/events" }.compactMap { $0.json?["type"]?.stringValue }
        #expect(events.contains("session.started"))
        #expect(events.contains("session.warned"))
        #expect(events.contains("session.expired"))
        #expect(events.contains("station.locked"))
    }

    @Test func extendPauseResumeTransferAndStop() async throws {
        let h = try await HubHarness()
        let mark = h.recorder.count
        let start = try await h.request("session/start", ["station": "PC-01", "minutes": 1])
        let session = try #require(start["data"]?["session"]?["id"])

        let extended = try await h.request("session/extend", ["station": "PC-01", "seconds": 30])
        #expect(extended["status"] == "ok")
        let remainingAfterExtend = try #require(extended["data"]?["session"]?["remaining_s"]?.intValue)
        #expect((88...90).contains(remainingAfterExtend))
        try await h.recorder.waitFor(since: mark, "extend control") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "extend" && $0.json?["added_s"] == 30
        }

        let paused = try await h.request("session/pause", ["station": "PC-01"])
        #expect(paused["data"]?["status"] == "paused")
        let remainingAtPause = try #require(paused["data"]?["session"]?["remaining_s"]?.intValue)
        try await h.recorder.waitFor(since: mark, "lock paused") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["reason"] == "paused"
        }
        try await Task.sleep(for: .milliseconds(1500))
        let resumed = try await h.request("session/resume", ["station": "PC-01"])
        #expect(resumed["data"]?["session"]?["remaining_s"]?.intValue == remainingAtPause, "no time passes while paused")

        let transfer = try await h.request("session/transfer", ["station": "PC-01", "to": "PC-02"])
        #expect(transfer["status"] == "ok")
        #expect(transfer["data"]?["to"]?["session"]?["id"] == session)
        #expect(transfer["data"]?["from"]?["session"] == .null)
        try await h.recorder.waitFor(since: mark, "lock transferred") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["reason"] == "transferred"
        }
        try await h.recorder.waitFor(since: mark, "unlock on PC-02") {
            $0.topic == "playclock/stations/PC-02/control" && $0.json?["action"] == "unlock" && $0.json?["session"] == session
        }

        let stopped = try await h.request("session/stop", ["station": "PC-02"])
        #expect(stopped["data"]?["session"] == .null)
        try await h.recorder.waitFor(since: mark, "lock stopped") {
            $0.topic == "playclock/stations/PC-02/control" && $0.json?["reason"] == "stopped"
        }
        let again = try await h.request("session/stop", ["station": "PC-02"])
        #expect(again["error"]?["code"] == "no_session")
    }

    @Test func badRequestsGetClearErrorsAndChangeNothing() async throws {
        let h = try await HubHarness()
        let start = try await h.request("session/start", ["station": "PC-01", "minutes": 10])
        let before = try #require(start["data"]?["session"])

        func code(_ verb: String, _ body: JSONValue) async throws -> String? {
            try await h.request(verb, body)["error"]?["code"]?.stringValue
        }
        #expect(try await h.requestRaw("session/start", "{not json")["error"]?["code"] == "invalid_json")
        #expect(try await code("session/start", ["station": "NOPE", "minutes": 5]) == "unknown_station")
        #expect(try await code("session/start", ["station": "PC+01", "minutes": 5]) == "invalid_station_id")
        #expect(try await code("session/start", ["station": "PC#01", "minutes": 5]) == "invalid_station_id")
        #expect(try await code("station/add", ["station": "a/b"]) == "invalid_station_id")
        #expect(try await code("session/start", ["station": "PC-02", "minutes": -5]) == "invalid_duration")
        #expect(try await code("session/start", ["station": "PC-02", "seconds": 0]) == "invalid_duration")
        #expect(try await code("session/start", ["station": "PC-02", "minutes": 100_000]) == "invalid_duration")
        #expect(try await code("session/extend", ["station": "PC-01", "minutes": 1.5]) == "invalid_duration")
        #expect(try await code("session/start", ["station": "PC-01", "minutes": 5]) == "station_busy")
        #expect(try await code("station/remove", ["station": "PC-01"]) == "station_busy")
        #expect(try await code("session/frobnicate", ["station": "PC-01"]) == "unknown_verb")
        let oversize = "{\"station\":\"PC-02\",\"minutes\":5,\"pad\":\"\(String(repeating: "x", count: 20_000))\"}"
        #expect(try await h.requestRaw("session/start", oversize)["error"]?["code"] == "payload_too_large")

        let after = try await h.request("station/get", ["station": "PC-01"])
        #expect(after["data"]?["session"]?["id"] == before["id"])
        #expect(after["data"]?["session"]?["granted_s"] == before["granted_s"])
        let list = try await h.request("station/list", [:])
        guard case .array(let stations)? = list["data"]?["stations"] else { Issue.record("no station list"); return }
        #expect(stations.count == 4)
        #expect(stations.filter { $0["session"] != .null }.count == 1, "only PC-01 has a session")
    }

    @Test func sigkillMidSessionResumesWithTheRightTimeAndLocksWhatEndedMeanwhile() async throws {
        let h = try await HubHarness()
        let long = try await h.request("session/start", ["station": "PC-01", "seconds": 30])
        let longID = try #require(long["data"]?["session"]?["id"])
        let longEnds = try #require(unixSeconds(long["data"]?["session"]?["ends_at"]?.stringValue))
        let short = try await h.request("session/start", ["station": "PC-02", "seconds": 3])
        let shortID = try #require(short["data"]?["session"]?["id"])

        try await Task.sleep(for: .seconds(1))
        h.killHub()
        try await Task.sleep(for: .seconds(3))  // PC-02's session ends while the hub is down
        let mark = h.recorder.count
        try await h.startHub()

        let lock = try await h.recorder.waitFor(since: mark, "PC-02 locked after restart") {
            $0.topic == "playclock/stations/PC-02/control" && $0.json?["action"] == "lock"
        }
        #expect(lock.json?["reason"] == "expired")
        #expect(lock.json?["session"] == shortID)

        let unlock = try await h.recorder.waitFor(since: mark, "PC-01 unlocked after restart") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["session"] == longID)
        let endsAfterRestart = try #require(unixSeconds(unlock.json?["ends_at"]?.stringValue))
        #expect(abs(endsAfterRestart - longEnds) < 0.25, "the end did not move across the crash")

        let state = try #require(try h.retainedState("PC-01"))
        #expect(state["session"]?["id"] == longID)
        let remaining = try #require(state["session"]?["remaining_s"]?.intValue)
        #expect((20...27).contains(remaining))
        let shortState = try #require(try h.retainedState("PC-02"))
        #expect(shortState["status"] == "expired")
    }

    @Test func brokerRestartLosesNothing() async throws {
        let h = try await HubHarness()
        let start = try await h.request("session/start", ["station": "PC-03", "minutes": 30])
        let id = try #require(start["data"]?["session"]?["id"])

        try await h.broker.restart()  // SIGKILL: the new broker has no retained messages at all
        try await h.restartRecorder()
        try await h.recorder.waitFor(timeout: .seconds(10), "hub back online") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        try await h.recorder.waitFor("PC-03 state republished") { $0.topic == "playclock/stations/PC-03/state" }
        let state = try #require(try h.retainedState("PC-03"))
        #expect(state["session"]?["id"] == id, "retained state republished after the broker restart")
        let list = try await h.request("station/list", [:])
        #expect(list["status"] == "ok", "requests work again: the hub resubscribed")
    }

    @Test func agentsConvergeWhenTheyComeBack() async throws {
        let h = try await HubHarness()
        var mark = h.recorder.count
        try h.heartbeat("PC-01", seq: 1)
        let first = try await h.recorder.waitFor(since: mark, "idle lock on first heartbeat") {
            $0.topic == "playclock/stations/PC-01/control"
        }
        #expect(first.json?["action"] == "lock")
        #expect(first.json?["reason"] == "idle")
        try await h.recorder.waitFor(since: mark, "online state") {
            $0.topic == "playclock/stations/PC-01/state" && $0.json?["online"] == true
        }

        // The agent goes silent; its session ends while it is away.
        let start = try await h.request("session/start", ["station": "PC-01", "seconds": 2])
        let id = try #require(start["data"]?["session"]?["id"])
        try await h.recorder.waitFor(since: mark, timeout: .seconds(8), "offline after missed heartbeats") {
            $0.topic == "playclock/stations/PC-01/state" && $0.json?["online"] == false
        }
        try await h.recorder.waitFor(since: mark, timeout: .seconds(8), "expiry lock while away") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["session"] == id
                && $0.json?["reason"] == "expired"
        }
        mark = h.recorder.count
        try h.heartbeat("PC-01", seq: 2, locked: false)
        let relock = try await h.recorder.waitFor(since: mark, "lock re-sent on return") {
            $0.topic == "playclock/stations/PC-01/control"
        }
        #expect(relock.json?["action"] == "lock")
        #expect(relock.json?["session"] == id)
        #expect(relock.json?["reason"] == "expired")

        // Mid-session reconnect: the agent announces offline (its will), comes back, gets unlock.
        let running = try await h.request("session/start", ["station": "PC-02", "minutes": 5])
        let endsAt = running["data"]?["session"]?["ends_at"]
        try h.heartbeat("PC-02", seq: 1)
        try h.publish("playclock/stations/PC-02/agent", "offline", qos: 1)
        try await h.recorder.waitFor(since: mark, "PC-02 offline") {
            $0.topic == "playclock/stations/PC-02/state" && $0.json?["online"] == false
        }
        mark = h.recorder.count
        try h.heartbeat("PC-02", seq: 2)
        let unlock = try await h.recorder.waitFor(since: mark, "unlock on reconnect") {
            $0.topic == "playclock/stations/PC-02/control"
        }
        #expect(unlock.json?["action"] == "unlock")
        #expect(unlock.json?["ends_at"] == endsAt)

        // Garbage heartbeats are ignored and change nothing.
        try h.publish("playclock/stations/PC-02/heartbeat", "{broken")
        try h.publish("playclock/stations/GHOST/heartbeat", "{\"seq\":1}")
        let state = try await h.request("station/get", ["station": "PC-02"])
        #expect(state["data"]?["online"] == true)
        #expect(state["data"]?["session"]?["ends_at"] == endsAt)
    }

    @Test func mqttV5ResponseTopicAndCorrelationData() async throws {
        let h = try await HubHarness()
        let result = try runTool(
            "/usr/bin/mosquitto_rr",
            ["-h", "127.0.0.1", "-p", "\(h.broker.port)", "-V", "mqttv5", "-t", "playclock/hub/request/station/get",
             "-e", "playclock/hub/response/tools/one", "-m", "{\"station\":\"CON-01\"}"],
            timeout: .seconds(5))
        #expect(result.status == 0, "mosquitto_rr got no answer: \(result.output)")
        let answer = try #require(try? JSONCoding.decode(Array(result.output.utf8)))
        #expect(answer["status"] == "ok")
        #expect(answer["data"]?["kind"] == "console")
        #expect(answer["data"]?["online"] == .null, "a console without an agent has unknown presence")
    }

    @Test func cliDrivesTheHub() async throws {
        let h = try await HubHarness()
        let cli = binaryPath("playclock")
        let started = try runTool(cli, ["session", "start", "PC-01", "--minutes", "60", "--broker", h.broker.url])
        #expect(started.status == 0, "\(started.output)")
        #expect(started.output.contains("PC-01 active, 1:00:00 left"))

        let extended = try runTool(cli, ["session", "extend", "PC-01", "--minutes", "15", "--broker", h.broker.url, "--json"])
        #expect(extended.status == 0)
        let json = try #require(try? JSONCoding.decode(Array(extended.output.utf8)))
        #expect(json["session"]?["granted_s"] == 4500)

        let table = try runTool(cli, ["stations", "--broker", h.broker.url])
        #expect(table.status == 0)
        #expect(table.output.contains("STATION"))
        #expect(table.output.split(separator: "\n").contains { $0.hasPrefix("PC-01") && $0.contains("active") })

        let refused = try runTool(cli, ["session", "start", "NOPE", "--minutes", "5", "--broker", h.broker.url])
        #expect(refused.status == 1)
        #expect(refused.output.contains("unknown_station"))

        let noBroker = try runTool(cli, ["stations", "--broker", "mqtt://127.0.0.1:1", "--timeout", "1"])
        #expect(noBroker.status == 2)
    }
}
