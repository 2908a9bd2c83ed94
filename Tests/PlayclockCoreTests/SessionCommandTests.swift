import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Session commands")
struct SessionCommandTests {
    // MARK: start

    @Test func startUnlocksPublishesStateCountdownAndSaves() throws {
        var hub = TestHub()
        let t0 = hub.now
        let (result, actions) = hub.request("session/start", ["station": "PC-01", "minutes": 30, "transaction": "t1"])
        let data = try result.get()
        #expect(data["status"] == "active")
        #expect(data["session"]?["id"] == "S-1")

        // Control: unlock on the station's control topic, QoS 1, not retained.
        let controls = actions.published(to: "playclock/stations/PC-01/control")
        try #require(controls.count == 1)
        #expect(controls[0].qos == .atLeastOnce)
        #expect(controls[0].retain == false)
        let unlock = try #require(controls[0].json)
        #expect(unlock["action"] == "unlock")
        #expect(unlock["station"] == "PC-01")
        #expect(unlock["session"] == "S-1")
        #expect(unlock["remaining_s"] == 1800)
        #expect(unlock["ends_at"] == .string(iso(t0.wallMillis + 1_800_000)))
        #expect(unlock["ends_at"] == "2026-11-21T23:54:50.123Z")
        #expect(unlock["sent_at"] == .string(iso(t0.wallMillis)))

        // State: retained, QoS 1, active with the session.
        let states = actions.published(to: "playclock/stations/PC-01/state")
        try #require(states.count == 1)
        #expect(states[0].qos == .atLeastOnce)
        #expect(states[0].retain == true)
        let state = try #require(states[0].json)
        #expect(state["status"] == "active")
        #expect(state["station"] == "PC-01")
        #expect(state["name"] == "PC 1")
        #expect(state["kind"] == "pc")
        #expect(state["maintenance"] == false)
        #expect(state["session"]?["id"] == "S-1")
        #expect(state["session"]?["remaining_s"] == 1800)
        #expect(state["session"]?["granted_s"] == 1800)
        #expect(state["session"]?["paused"] == false)
        #expect(state["session"]?["started_at"] == .string(iso(t0.wallMillis)))
        #expect(state["session"]?["ends_at"] == .string(iso(t0.wallMillis + 1_800_000)))
        #expect(state["updated_at"] == .string(iso(t0.wallMillis)))

        // Countdown: QoS 0, not retained.
        let countdowns = actions.published(to: "playclock/stations/PC-01/countdown")
        try #require(countdowns.count == 1)
        #expect(countdowns[0].qos == .atMostOnce)
        #expect(countdowns[0].retain == false)
        #expect(countdowns[0].json?["remaining_s"] == 1800)
        #expect(countdowns[0].json?["session"] == "S-1")
        #expect(countdowns[0].json?["paused"] == false)

        // Saved session and event.
        let saved = try #require(actions.savedSessions.first)
        #expect(actions.savedSessions.count == 1)
        #expect(saved.id == "S-1")
        #expect(saved.station == pc1)
        #expect(saved.grantedMillis == 1_800_000)
        #expect(saved.usedMillisAtAnchor == 0)
        #expect(saved.anchor == t0)
        #expect(saved.paused == false)
        #expect(saved.startedAtWallMillis == t0.wallMillis)
        #expect(saved.endedAtWallMillis == nil)
        #expect(saved.warnedThresholds.isEmpty)
        #expect(actions.eventTypes.contains("session.started"))
        #expect(actions.eventTypes.contains("station.unlocked"))
        let started = try #require(actions.events.first { $0.type == "session.started" })
        #expect(started.station == pc1)
        #expect(started.session == "S-1")
        #expect(started.data["granted_s"] == 1800)
        #expect(started.atWallMillis == t0.wallMillis)
        #expect(!actions.eventTypes.contains("command.rejected"))

        #expect(actions.contains(.saveSession(saved)))
        #expect(actions.filter { !$0.isStoreWrite }.count == 3)  // control, countdown, state

        // Queries agree.
        #expect(hub.core.session(at: pc1) == saved)
        #expect(hub.status(pc1) == "active")
        #expect(hub.store.sessions["S-1"] == saved)
    }

    @Test func eventIDsIncreaseAndEventJSON() throws {
        var hub = TestHub()
        let a = hub.start(pc1, seconds: 600)
        let b = hub.request("session/stop", ["station": "PC-01"]).actions
        let ids = (a + b).events.map(\.id)
        #expect(ids == Array(1...Int64(ids.count)))
        let e = try #require(a.events.first { $0.type == "session.started" })
        let json = HubCore.eventJSON(e)
        #expect(json["type"] == "session.started")
        #expect(json["station"] == "PC-01")
        #expect(json["session"] == "S-1")
        #expect(json["at"] == .string(iso(hub.now.wallMillis)))
        #expect(json["id"] == .int(e.id))
        #expect(json["data"]?["granted_s"] == 600)
    }

    // MARK: refusals

    /// A refused command must leave every station as it was and only record `command.rejected`.
    /// Each is sent in a window of its own (repeats within one are counted into a summary).
    func expectRefusal(
        _ hub: inout TestHub, _ verb: String, _ body: JSONValue, code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        hub.run(seconds: 11)
        let before = hub.core.stationIDs.map { hub.state($0) }
        let sessionsBefore = hub.core.stationIDs.map { hub.core.session(at: $0) }
        let deadlineBefore = hub.core.nextStationDeadline
        let (result, actions) = hub.request(verb, body)
        guard case .failure(let error) = result else {
            Issue.record("\(verb) was accepted", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code.rawValue == code, sourceLocation: sourceLocation)
        #expect(actions.count == 1, sourceLocation: sourceLocation)
        #expect(actions.eventTypes == ["command.rejected"], sourceLocation: sourceLocation)
        #expect(actions.events.first?.data["code"] == .string(code), sourceLocation: sourceLocation)
        #expect(actions.events.first?.data["verb"] == .string(verb), sourceLocation: sourceLocation)
        #expect(hub.core.stationIDs.map { hub.state($0) } == before, sourceLocation: sourceLocation)
        #expect(hub.core.stationIDs.map { hub.core.session(at: $0) } == sessionsBefore, sourceLocation: sourceLocation)
        #expect(hub.core.nextStationDeadline == deadlineBefore, sourceLocation: sourceLocation)
    }

    @Test func refusalsChangeNothing() {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.advance(seconds: 7)
        _ = hub.request("station/maintenance", ["station": "PS-01", "enabled": true])

        expectRefusal(&hub, "session/start", ["station": "NOPE", "minutes": 5], code: "unknown_station")
        expectRefusal(&hub, "session/start", ["station": "PC-01", "minutes": 5], code: "station_busy")
        expectRefusal(&hub, "session/start", ["station": "PS-01", "minutes": 5], code: "maintenance")
        expectRefusal(&hub, "session/stop", ["station": "PC-02"], code: "no_session")
        expectRefusal(&hub, "session/pause", ["station": "PC-02"], code: "no_session")
        expectRefusal(&hub, "session/resume", ["station": "PC-02"], code: "no_session")
        expectRefusal(&hub, "session/extend", ["station": "PC-02", "minutes": 5], code: "no_session")
        expectRefusal(&hub, "session/transfer", ["station": "PC-02", "to": "PC-01"], code: "no_session")
        expectRefusal(&hub, "session/transfer", ["station": "PC-01", "to": "NOPE"], code: "unknown_station")
        expectRefusal(&hub, "session/transfer", ["station": "NOPE", "to": "PC-02"], code: "unknown_station")
        expectRefusal(&hub, "session/transfer", ["station": "PC-01", "to": "PS-01"], code: "maintenance")
        expectRefusal(&hub, "session/transfer", ["station": "PC-01", "to": "PC-01"], code: "invalid_request")
        expectRefusal(&hub, "session/resume", ["station": "PC-01"], code: "session_not_paused")
        expectRefusal(&hub, "session/extend", ["station": "PC-01", "seconds": 86_000], code: "invalid_duration")
        expectRefusal(&hub, "session/start", ["station": "PC-02", "minutes": 0], code: "invalid_duration")
        expectRefusal(&hub, "session/start", ["station": "PC/02", "minutes": 5], code: "invalid_station_id")
        expectRefusal(&hub, "station/add", ["station": "PC-01"], code: "station_exists")
        expectRefusal(&hub, "station/remove", ["station": "PC-01"], code: "station_busy")
        expectRefusal(&hub, "station/maintenance", ["station": "PC-01", "enabled": true], code: "station_busy")
        expectRefusal(&hub, "station/get", ["station": "NOPE"], code: "unknown_station")
        expectRefusal(&hub, "session/frobnicate", ["station": "PC-01"], code: "unknown_verb")

        _ = hub.request("session/pause", ["station": "PC-01"])
        expectRefusal(&hub, "session/pause", ["station": "PC-01"], code: "session_paused")
        #expect(hub.store.sessions.count == 1)
    }

    @Test func transferToABusyStationIsRefused() {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.start(pc2, seconds: 900)
        expectRefusal(&hub, "session/transfer", ["station": "PC-01", "to": "PC-02"], code: "station_busy")
        #expect(hub.core.session(at: pc1)?.id == "S-1")
        #expect(hub.core.session(at: pc2)?.id == "S-2")
    }

    @Test func transferToTheSameStationViaHandleIsRefused() {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        let before = hub.state(pc1)
        let outcome = hub.core.handle(.sessionTransfer(from: pc1, to: pc1), verb: "session/transfer", newSessionID: "X", now: hub.now)
        guard case .failure = outcome.result else { Issue.record("transfer to self accepted"); return }
        #expect(outcome.actions.eventTypes == ["command.rejected"])
        #expect(hub.state(pc1) == before)
        #expect(hub.core.session(at: pc1)?.station == pc1)
    }

    // MARK: extend

    @Test func extendAddsTimeAndRearmsWarnings() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        // Run into the last minute: both warnings fire.
        var fired = hub.run(seconds: 550)
        #expect(fired.controls(pc1).filter { $0["action"] == "warn" }.count == 2)
        #expect(hub.core.session(at: pc1)?.warnedThresholds == [60, 300])
        #expect(hub.remainingMillis(pc1) == 50_000)

        let (result, actions) = hub.request("session/extend", ["station": "PC-01", "minutes": 10, "transaction": 1])
        _ = try result.get()
        #expect(hub.remainingMillis(pc1) == 650_000)
        let saved = try #require(actions.savedSessions.first)
        #expect(saved.grantedMillis == 1_200_000)
        #expect(saved.warnedThresholds.isEmpty)
        #expect(saved.anchor == hub.now)
        #expect(saved.usedMillisAtAnchor == 550_000)
        let control = try #require(actions.controls(pc1).first)
        #expect(control["action"] == "extend")
        #expect(control["added_s"] == 600)
        #expect(control["remaining_s"] == 650)
        #expect(control["session"] == "S-1")
        #expect(control["ends_at"] == .string(iso(hub.now.wallMillis + 650_000)))
        #expect(actions.states(pc1).first?["status"] == "active")
        #expect(actions.states(pc1).first?["session"]?["remaining_s"] == 650)
        #expect(actions.countdowns(pc1).first?["remaining_s"] == 650)
        let event = try #require(actions.events.first { $0.type == "session.extended" })
        #expect(event.data["added_s"] == 600)
        #expect(event.data["remaining_s"] == 650)

        // Warnings fire again, once each.
        fired = hub.run(seconds: 640)
        let warns = fired.controls(pc1).filter { $0["action"] == "warn" }
        #expect(warns.map { $0["threshold_s"] } == [300, 60])
        #expect(hub.remainingMillis(pc1) == 10_000)
    }

    @Test func extendOnlyRearmsThresholdsBelowTheNewRemainingTime() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 120)  // only the 60 s warning
        hub.run(seconds: 90)
        #expect(hub.core.session(at: pc1)?.warnedThresholds == [60, 300])
        _ = try hub.request("session/extend", ["station": "PC-01", "seconds": 120]).result.get()
        // 150 s remain: the 300 s threshold stays passed, the 60 s one is re-armed.
        #expect(hub.core.session(at: pc1)?.warnedThresholds == [300])
        let fired = hub.run(seconds: 100)
        #expect(fired.controls(pc1).filter { $0["action"] == "warn" }.map { $0["threshold_s"] } == [60])
    }

    @Test func extendWhilePausedSendsNoUnlock() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.advance(seconds: 100)
        _ = hub.request("session/pause", ["station": "PC-01"])
        hub.advance(seconds: 100)
        let actions = hub.request("session/extend", ["station": "PC-01", "seconds": 60]).actions
        #expect(actions.controls(pc1).isEmpty)
        #expect(hub.remainingMillis(pc1) == 560_000)
        #expect(hub.core.session(at: pc1)?.paused == true)
        #expect(actions.states(pc1).first?["status"] == "paused")
        #expect(hub.core.nextDeadline() == nil)
    }

    @Test func extendBeyondTheMaximumIsRefused() {
        var hub = TestHub()
        hub.start(pc1, seconds: 86_000)
        let r = hub.request("session/extend", ["station": "PC-01", "seconds": 401])
        guard case .failure(let e) = r.result else { Issue.record("accepted"); return }
        #expect(e.code == .invalidDuration)
        #expect(hub.core.session(at: pc1)?.grantedMillis == 86_000_000)
        // Exactly the maximum is fine.
        let ok = hub.request("session/extend", ["station": "PC-01", "seconds": 400])
        #expect((try? ok.result.get()) != nil)
        #expect(hub.remainingMillis(pc1) == 86_400_000)
    }

    // MARK: pause / resume

    @Test func pauseFreezesTimeAndResumeUnlocks() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        let (result, actions) = hub.request("session/pause", ["station": "PC-01"])
        _ = try result.get()
        let lock = try #require(actions.controls(pc1).first)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "paused")
        #expect(lock["session"] == "S-1")
        let saved = try #require(actions.savedSessions.first)
        #expect(saved.paused)
        #expect(saved.usedMillisAtAnchor == 100_000)
        #expect(actions.eventTypes.contains("session.paused"))
        #expect(actions.events.first { $0.type == "station.locked" }?.data["reason"] == "paused")
        #expect(actions.states(pc1).first?["status"] == "paused")
        #expect(actions.states(pc1).first?["session"]?["ends_at"] == .null)
        #expect(actions.states(pc1).first?["session"]?["paused"] == true)
        #expect(actions.countdowns(pc1).first?["paused"] == true)
        #expect(actions.countdowns(pc1).first?["ends_at"] == .null)
        #expect(hub.status(pc1) == "paused")

        // Ten minutes pass while paused: nothing is due, nothing is used.
        #expect(hub.core.nextDeadline() == nil)
        let during = hub.run(seconds: 600)
        #expect(during.isEmpty)
        #expect(hub.remainingMillis(pc1) == 500_000)
        #expect(hub.remainingSeconds(pc1) == 500)
        #expect(hub.core.session(at: pc1) != nil)

        let resumed = hub.request("session/resume", ["station": "PC-01"])
        _ = try resumed.result.get()
        let unlock = try #require(resumed.actions.controls(pc1).first)
        #expect(unlock["action"] == "unlock")
        #expect(unlock["remaining_s"] == 500)
        #expect(unlock["ends_at"] == .string(iso(hub.now.wallMillis + 500_000)))
        #expect(resumed.actions.eventTypes.contains("session.resumed"))
        #expect(resumed.actions.savedSessions.first?.paused == false)
        #expect(resumed.actions.savedSessions.first?.anchor == hub.now)
        #expect(hub.status(pc1) == "active")

        // Time runs again.
        hub.run(seconds: 30)
        #expect(hub.remainingMillis(pc1) == 470_000)
        // ...and the session ends 500 s after the resume.
        let end = hub.now.monoNanos + 470 * 1_000_000_000
        hub.run(untilMono: end - 1_000_000)
        #expect(hub.core.session(at: pc1) != nil)
        let expiry = hub.run(untilMono: end)
        #expect(expiry.eventTypes.contains("session.expired"))
    }

    // MARK: stop

    @Test func stopLocksAndEndsTheSession() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 125)
        let (result, actions) = hub.request("session/stop", ["station": "PC-01"])
        let data = try result.get()
        #expect(data["status"] == "idle")  // a pc not heard from yet: unknown, not offline
        #expect(data["session"] == .null)
        let lock = try #require(actions.controls(pc1).first)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "stopped")
        #expect(lock["session"] == "S-1")
        let saved = try #require(actions.savedSessions.first)
        #expect(saved.id == "S-1")
        #expect(saved.endedAtWallMillis == hub.now.wallMillis)
        #expect(saved.endReason == .stopped)
        #expect(saved.usedMillisAtAnchor == 125_000)
        #expect(saved.isEnded)
        let stopped = try #require(actions.events.first { $0.type == "session.stopped" })
        #expect(stopped.data["used_s"] == 125)
        #expect(stopped.data["unused_s"] == 475)
        #expect(actions.events.first { $0.type == "station.locked" }?.data["reason"] == "stopped")
        #expect(actions.states(pc1).first?["session"] == .null)
        #expect(actions.countdowns(pc1).first?["session"] == .null)
        #expect(actions.countdowns(pc1).first?["remaining_s"] == 0)
        #expect(hub.core.session(at: pc1) == nil)
        #expect(hub.core.nextDeadline() == nil)
        #expect(hub.store.sessions["S-1"]?.endReason == .stopped)
        // The station can be used again at once.
        hub.start(pc1, seconds: 60)
        #expect(hub.core.session(at: pc1)?.id == "S-2")
    }

    @Test func stopOnAnIdleConsoleShowsIdle() throws {
        var hub = TestHub()
        hub.start(ps1, seconds: 60)
        let data = try hub.request("session/stop", ["station": "PS-01"]).result.get()
        #expect(data["status"] == "idle")
        #expect(data["online"] == .null)
    }

    // MARK: transfer

    @Test func transferMovesTheSessionWithItsRemainingTime() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 200)
        let remainingBefore = hub.remainingMillis(pc1)
        #expect(remainingBefore == 400_000)

        let (result, actions) = hub.request("session/transfer", ["station": "PC-01", "to": "PC-02"])
        let data = try result.get()
        #expect(data["from"]?["session"] == .null)
        #expect(data["to"]?["session"]?["id"] == "S-1")

        let lock = try #require(actions.controls(pc1).first)
        #expect(actions.controls(pc1).count == 1)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "transferred")
        #expect(lock["session"] == "S-1")

        let unlock = try #require(actions.controls(pc2).first)
        #expect(actions.controls(pc2).count == 1)
        #expect(unlock["action"] == "unlock")
        #expect(unlock["session"] == "S-1")
        #expect(unlock["remaining_s"] == 400)
        #expect(unlock["ends_at"] == .string(iso(hub.now.wallMillis + 400_000)))

        let saved = try #require(actions.savedSessions.first)
        #expect(saved.id == "S-1")
        #expect(saved.station == pc2)
        #expect(saved.endedAtWallMillis == nil)
        #expect(hub.core.session(at: pc1) == nil)
        #expect(hub.core.session(at: pc2)?.id == "S-1")
        #expect(hub.remainingMillis(pc2) == remainingBefore)
        #expect(actions.states(pc1).first?["session"] == .null)
        #expect(actions.states(pc2).first?["session"]?["id"] == "S-1")
        #expect(actions.states(pc2).first?["session"]?["remaining_s"] == 400)
        #expect(actions.countdowns(pc2).first?["remaining_s"] == 400)
        let event = try #require(actions.events.first { $0.type == "session.transferred" })
        #expect(event.data["to"] == "PC-02")
        #expect(event.data["remaining_s"] == 400)

        // The session goes on running on the new station and expires there.
        let expiry = hub.run(seconds: 400)
        #expect(expiry.controls(pc2).contains { $0["action"] == "lock" && $0["reason"] == "expired" })
        #expect(expiry.controls(pc1).isEmpty)
        #expect(hub.core.session(at: pc2) == nil)
        #expect(hub.store.sessions["S-1"]?.endReason == .expired)
        #expect(hub.store.sessions["S-1"]?.station == pc2)
    }

    @Test func transferOfAPausedSessionLocksTheNewStation() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.advance(seconds: 50)
        _ = hub.request("session/pause", ["station": "PC-01"])
        hub.advance(seconds: 500)
        let actions = hub.request("session/transfer", ["station": "PC-01", "to": "PC-02"]).actions
        let control = try #require(actions.controls(pc2).first)
        #expect(control["action"] == "lock")
        #expect(control["reason"] == "paused")
        #expect(hub.core.session(at: pc2)?.paused == true)
        #expect(hub.remainingMillis(pc2) == 550_000)
        #expect(hub.status(pc2) == "paused")
    }

    // MARK: stations

    @Test func stationAddListGetRemove() throws {
        var hub = TestHub()
        let (result, actions) = hub.request("station/add", ["station": "VR-1", "name": "VR corner", "kind": "vr"])
        let data = try result.get()
        #expect(data["status"] == "idle")  // no agent expected: not offline
        #expect(data["online"] == .null)
        let vr = StationID("VR-1")!
        #expect(actions.savedStations == [Station(id: vr, name: "VR corner", kind: StationKind("vr")!)])
        #expect(actions.eventTypes.contains("station.added"))
        #expect(actions.states(vr).first?["name"] == "VR corner")
        #expect(actions.controls(vr).first?["action"] == "lock")
        #expect(actions.controls(vr).first?["reason"] == "idle")

        let pcAdd = try hub.request("station/add", ["station": "PC-09"]).result.get()
        #expect(pcAdd["status"] == "offline")
        #expect(pcAdd["online"] == false)

        let list = hub.request("station/list", [:])
        let stations = try #require(try list.result.get()["stations"])
        guard case .array(let items) = stations else { Issue.record("not an array"); return }
        #expect(items.map { $0["station"] } == ["PC-01", "PC-02", "PC-09", "PS-01", "VR-1"])
        #expect(list.actions.isEmpty)

        let get = hub.request("station/get", ["station": "PC-02"])
        #expect(try get.result.get()["station"] == "PC-02")
        #expect(get.actions.isEmpty)

        let removed = hub.request("station/remove", ["station": "VR-1"])
        #expect(try removed.result.get()["removed"] == true)
        #expect(removed.actions.contains(.deleteStation(vr)))
        // The retained state is cleared with an empty retained payload.
        let clear = try #require(removed.actions.published(to: testTopics.state(vr)).first)
        #expect(clear.payload.isEmpty)
        #expect(clear.retain)
        #expect(hub.core.stationIDs == [pc1, pc2, StationID("PC-09")!, ps1])
        #expect(hub.store.stations[vr] == nil)
    }

    @Test func maintenanceLocksAndBlocksSessions() throws {
        var hub = TestHub()
        let on = hub.request("station/maintenance", ["station": "PC-01", "enabled": true])
        #expect(try on.result.get()["status"] == "maintenance")
        #expect(on.actions.controls(pc1).first?["reason"] == "maintenance")
        #expect(on.actions.savedStations.first?.maintenance == true)
        #expect(hub.status(pc1) == "maintenance")
        let off = hub.request("station/maintenance", ["station": "PC-01", "enabled": false])
        #expect(try off.result.get()["maintenance"] == false)
        #expect(off.actions.savedStations.first?.maintenance == false)
        #expect(hub.status(pc1) == "idle")
        hub.start(pc1, seconds: 60)
        #expect(hub.core.session(at: pc1) != nil)
    }
}
