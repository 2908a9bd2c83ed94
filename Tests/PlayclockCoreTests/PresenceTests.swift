import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Presence")
struct PresenceTests {
    static let second: Int64 = 1_000_000_000

    @Test func pcIsUnknownUntilItHeartbeats() throws {
        var hub = TestHub()
        #expect(hub.core.isOnline(pc1) == nil)
        #expect(hub.status(pc1) == "idle")
        #expect(hub.state(pc1)?["online"] == .null)
        #expect(hub.core.isOnline(ps1) == nil)
        #expect(hub.state(ps1)?["online"] == .null)
        #expect(hub.status(ps1) == "idle")
        #expect(hub.core.isOnline(StationID("NOPE")!) == nil)
        #expect(hub.core.nextDeadline() == nil, "no silence counts before the broker is reached")

        let actions = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(hub.core.isOnline(pc1) == true)
        #expect(actions.eventTypes == ["station.online"])
        #expect(actions.events.first?.station == pc1)
        let lock = try #require(actions.controls(pc1).first)
        #expect(actions.controls(pc1).count == 1)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "idle")
        #expect(lock["session"] == .null)
        let state = try #require(actions.states(pc1).first)
        #expect(state["online"] == true)
        #expect(state["status"] == "idle")
        #expect(state["agent"] == [:])
        #expect(hub.status(pc1) == "idle")
    }

    /// After a start (or a broker reconnect) a station is unknown for one heartbeat window: a
    /// heartbeating agent is never reported offline, a silent one is after the window.
    @Test func afterConnectingSilenceCountsOnlyAfterOneHeartbeatWindow() throws {
        var hub = TestHub()
        let resync = hub.connect()
        #expect(resync.states(pc1).first?["online"] == .null, "published as unknown, not offline")
        #expect(resync.states(pc1).first?["status"] == "idle")
        #expect(!resync.eventTypes.contains("station.offline"))
        hub.run(seconds: 14)
        #expect(hub.core.isOnline(pc1) == nil)
        try hub.heartbeat(pc2, #"{"seq":1}"#)
        let fired = hub.run(seconds: 1)
        #expect(fired.eventTypes == ["station.offline"])
        #expect(fired.events.first?.station == pc1)
        #expect(fired.events.first?.data["reason"] == "no_heartbeat")
        #expect(fired.states(pc1).first?["online"] == false)
        #expect(hub.core.isOnline(pc2) == true, "pc2 heartbeated inside the window")
        #expect(hub.core.isOnline(ps1) == nil, "a console has no agent: never declared offline")
    }

    @Test func aBrokerOutageSuspendsSilenceAndReconnectingGivesAWindow() throws {
        var hub = TestHub()
        hub.connect()
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        hub.core.brokerLost()
        #expect(hub.core.nextDeadline() == nil)
        let during = hub.run(seconds: 60)
        #expect(!during.eventTypes.contains("station.offline"), "heartbeats cannot arrive while the broker is away")
        #expect(hub.core.isOnline(pc1) == true)
        let back = hub.connect()
        #expect(back.states(pc1).first?["online"] == true)
        hub.run(seconds: 10)
        try hub.heartbeat(pc1, #"{"seq":2}"#)
        let window = hub.run(seconds: 14)
        #expect(window.events.filter { $0.type == "station.offline" }.map(\.station) == [pc2], "pc2 stayed silent through its window")
        let gone = hub.run(seconds: 1)
        #expect(gone.eventTypes == ["station.offline"])
        #expect(gone.events.first?.station == pc1)
        #expect(gone.events.first?.data["reason"] == "heartbeat_timeout")
    }

    @Test func heartbeatDuringASessionUnlocksWithTheRightEnd() throws {
        var hub = TestHub()
        let t0 = hub.now
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 30)
        let actions = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(actions.eventTypes == ["station.online"])
        #expect(actions.events.first?.session == "S-1")
        let unlock = try #require(actions.controls(pc1).first)
        #expect(unlock["action"] == "unlock")
        #expect(unlock["session"] == "S-1")
        #expect(unlock["remaining_s"] == 570)
        #expect(unlock["ends_at"] == .string(iso(t0.wallMillis + 600_000)))
        #expect(actions.states(pc1).first?["status"] == "active")
        #expect(actions.states(pc1).first?["online"] == true)
    }

    @Test func heartbeatDuringAPausedSessionLocksWithReasonPaused() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        _ = hub.request("session/pause", ["station": "PC-01"])
        let actions = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(actions.controls(pc1).first?["action"] == "lock")
        #expect(actions.controls(pc1).first?["reason"] == "paused")
        #expect(actions.controls(pc1).first?["session"] == "S-1")
    }

    @Test func heartbeatWhileInMaintenanceLocksWithReasonMaintenance() throws {
        var hub = TestHub()
        _ = hub.request("station/maintenance", ["station": "PC-01", "enabled": true])
        let actions = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(actions.controls(pc1).first?["reason"] == "maintenance")
        #expect(hub.status(pc1) == "maintenance")
    }

    @Test func missingThreeHeartbeatsGoesOffline() throws {
        var hub = TestHub()
        let t = hub.now.monoNanos
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(hub.core.nextDeadline() == t + 15 * Self.second)
        #expect(hub.run(untilMono: t + 15 * Self.second - 1_000_000).isEmpty)
        #expect(hub.core.isOnline(pc1) == true)
        hub.clock.advance(millis: 1)
        let actions = hub.tick()
        #expect(actions.eventTypes == ["station.offline"])
        #expect(actions.events.first?.data["reason"] == "heartbeat_timeout")
        #expect(actions.states(pc1).first?["online"] == false)
        #expect(actions.states(pc1).first?["status"] == "offline")
        #expect(hub.core.isOnline(pc1) == false)
        #expect(hub.core.nextDeadline() == nil)
        // Offline is not announced twice.
        #expect(hub.run(seconds: 60).isEmpty)
    }

    @Test func offlineTimeoutFollowsThePolicy() throws {
        var policy = HubPolicy()
        policy.heartbeatIntervalSeconds = 2
        policy.missedHeartbeats = 5
        #expect(policy.offlineAfterNanos == 10 * Self.second)
        var hub = TestHub(policy: policy)
        let t = hub.now.monoNanos
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(hub.core.nextDeadline() == t + 10 * Self.second)
    }

    @Test func regularHeartbeatsKeepAStationOnline() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":0}"#)
        for seq in 1...30 {
            let fired = hub.run(seconds: 5)
            #expect(!fired.eventTypes.contains("station.offline"))
            let again = try hub.heartbeat(pc1, #"{"seq":\#(seq)}"#)
            #expect(again.isEmpty, "an unchanged heartbeat needs no action")
        }
        #expect(hub.core.isOnline(pc1) == true)
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + 15 * Self.second)
    }

    @Test func agentOfflineIsImmediate() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        let actions = try hub.agent(pc1, "offline")
        #expect(actions.eventTypes == ["station.offline"])
        #expect(actions.events.first?.data["reason"] == "agent_offline")
        #expect(actions.states(pc1).first?["online"] == false)
        #expect(hub.core.isOnline(pc1) == false)
        #expect(hub.core.nextDeadline() == nil)
        // Already offline: nothing more.
        let again = try hub.core.agentPresence(station: "PC-01", payload: Array("offline".utf8), now: hub.now)
        #expect(again.isEmpty)
        // `online` on the agent topic brings it back like a heartbeat.
        let back = try hub.agent(pc1, "online")
        #expect(back.eventTypes == ["station.online"])
        #expect(back.controls(pc1).first?["action"] == "lock")
        #expect(hub.core.isOnline(pc1) == true)
    }

    @Test func agentPresenceRefusesOtherPayloadsAndStations() {
        var hub = TestHub()
        for (station, payload, code) in [
            ("PC-01", "maybe", "invalid_request"), ("PC-01", "", "invalid_request"), ("PC-01", "OFFLINE", "invalid_request"),
            ("PC-99", "offline", "unknown_station"), ("PC+1", "offline", "invalid_station_id"),
        ] {
            do {
                _ = try hub.core.agentPresence(station: station, payload: Array(payload.utf8), now: hub.now)
                Issue.record("accepted \(station) \(payload)")
            } catch {
                #expect(error.code.rawValue == code, "\(station) \(payload)")
            }
        }
        #expect(hub.core.isOnline(pc1) == nil)
    }

    @Test func agentThatWasOfflineWhenItsSessionEndedGetsLockOnReturn() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        hub.start(pc1, seconds: 120)
        hub.run(seconds: 10)
        try hub.heartbeat(pc1, #"{"seq":2}"#)
        _ = try hub.agent(pc1, "offline")
        let expiry = hub.run(seconds: 110)
        #expect(expiry.eventTypes.contains("session.expired"))
        #expect(hub.status(pc1) == "expired")

        hub.run(seconds: 60)
        let back = try hub.heartbeat(pc1, #"{"seq":3,"locked":false}"#)
        let lock = try #require(back.controls(pc1).first)
        #expect(back.controls(pc1).count == 1)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "expired")
        #expect(lock["session"] == "S-1")
        #expect(back.eventTypes == ["station.online"])
    }

    @Test func agentOfflineThroughTheWholeHoldGetsIdleLock() throws {
        var hub = TestHub()
        hub.connect()
        hub.start(pc1, seconds: 60)
        hub.run(seconds: 60 + 300 + 1)
        #expect(hub.status(pc1) == "offline")
        let back = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(back.controls(pc1).first?["reason"] == "idle")
    }

    @Test func disagreeingAgentGetsControlResentRateLimited() throws {
        var hub = TestHub()
        let first = try hub.heartbeat(pc1, #"{"seq":1,"locked":true}"#)
        #expect(first.controls(pc1).count == 1)

        // Agent says it is unlocked though it should be locked. A lock went out at this very
        // interval (on coming online), so the next one waits for the interval.
        hub.run(seconds: 1)
        let early = try hub.heartbeat(pc1, #"{"seq":2,"locked":false}"#)
        #expect(early.controls(pc1).isEmpty)
        #expect(early.states(pc1).first?["agent"]?["locked"] == false)  // info changed: state republished

        hub.run(seconds: 4)  // 5 s since the last control
        let resent = try hub.heartbeat(pc1, #"{"seq":3,"locked":false}"#)
        let lock = try #require(resent.controls(pc1).first)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "idle")
        #expect(resent.states(pc1).isEmpty)

        hub.run(seconds: 1)
        #expect(try hub.heartbeat(pc1, #"{"seq":4,"locked":false}"#).controls(pc1).isEmpty)
        hub.run(seconds: 3)
        #expect(try hub.heartbeat(pc1, #"{"seq":5,"locked":false}"#).controls(pc1).isEmpty)
        hub.run(seconds: 1)
        #expect(try hub.heartbeat(pc1, #"{"seq":6,"locked":false}"#).controls(pc1).count == 1)

        // Agreement: no control.
        hub.run(seconds: 5)
        #expect(try hub.heartbeat(pc1, #"{"seq":7,"locked":true}"#).controls(pc1).isEmpty)
    }

    @Test func disagreementAfterALongAgreementIsCorrectedAtOnce() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1,"locked":true}"#)
        for seq in 2...12 {
            hub.run(seconds: 5)
            #expect(try hub.heartbeat(pc1, #"{"seq":\#(seq),"locked":true}"#).controls(pc1).isEmpty)
        }
        hub.run(seconds: 1)
        let actions = try hub.heartbeat(pc1, #"{"seq":13,"locked":false}"#)
        #expect(actions.controls(pc1).map { $0["action"] } == ["lock"])
        #expect(actions.controls(pc1).first?["reason"] == "idle")
    }

    @Test func agentUnlockedAfterExpiryGetsLockWithReasonExpired() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1,"locked":false}"#)
        hub.start(pc1, seconds: 30)
        var seq = 2
        while hub.core.session(at: pc1) != nil {
            hub.run(seconds: 5)
            try hub.heartbeat(pc1, #"{"seq":\#(seq),"locked":false}"#)
            seq += 1
        }
        hub.run(seconds: 5)
        let actions = try hub.heartbeat(pc1, #"{"seq":\#(seq),"locked":false}"#)
        #expect(actions.controls(pc1).first?["action"] == "lock")
        #expect(actions.controls(pc1).first?["reason"] == "expired")
        #expect(actions.controls(pc1).first?["session"] == "S-1")
    }

    @Test func lockedAgentDuringASessionGetsUnlockResent() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1,"locked":true}"#)
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 5)
        let actions = try hub.heartbeat(pc1, #"{"seq":2,"locked":true}"#)
        let unlock = try #require(actions.controls(pc1).first)
        #expect(unlock["action"] == "unlock")
        #expect(unlock["remaining_s"] == 595)
        hub.run(seconds: 5)
        #expect(try hub.heartbeat(pc1, #"{"seq":3,"locked":false}"#).controls(pc1).isEmpty)
    }

    @Test(arguments: [
        "not json", "[1,2]", "1", "\"seq\"", "{}", #"{"seq":"1"}"#, #"{"seq":1.5}"#, #"{"seq":null}"#, #"{"locked":true}"#,
        #"{"seq":true}"#, "{\"seq\":1",
    ])
    func malformedHeartbeatsThrowAndChangeNothing(_ payload: String) {
        var hub = TestHub()
        let before = hub.state(pc1)
        do {
            _ = try hub.core.heartbeat(station: "PC-01", payload: Array(payload.utf8), now: hub.now)
            Issue.record("accepted heartbeat \(payload)")
        } catch {
            #expect([.invalidJSON, .invalidRequest].contains(error.code))
        }
        #expect(hub.core.isOnline(pc1) == nil)
        #expect(hub.state(pc1) == before)
        #expect(hub.core.nextDeadline() == nil)
    }

    @Test func oversizedHeartbeatIsRefused() {
        var hub = TestHub()
        let pad = String(repeating: "x", count: hub.policy.maxHeartbeatBytes)
        do {
            _ = try hub.core.heartbeat(station: "PC-01", payload: Array(#"{"seq":1,"pad":"\#(pad)"}"#.utf8), now: hub.now)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .payloadTooLarge)
        }
        #expect(hub.core.isOnline(pc1) == nil)
    }

    @Test(arguments: [("PC-99", "unknown_station"), ("PC/01", "invalid_station_id"), ("", "invalid_station_id"),
                      ("+", "invalid_station_id"), ("#", "invalid_station_id")])
    func heartbeatsForUnknownOrInvalidStationsThrow(_ station: String, _ code: String) {
        var hub = TestHub()
        let before = hub.core.stationIDs.map { hub.state($0) }
        do {
            _ = try hub.core.heartbeat(station: station, payload: Array(#"{"seq":1}"#.utf8), now: hub.now)
            Issue.record("accepted heartbeat for \(station)")
        } catch {
            #expect(error.code.rawValue == code)
        }
        #expect(hub.core.stationIDs.map { hub.state($0) } == before)
        #expect(hub.core.stationIDs == [pc1, pc2, ps1])
    }

    @Test func extraHeartbeatFieldsAppearUnderAgent() throws {
        var hub = TestHub()
        let actions = try hub.heartbeat(pc1, #"{"seq":17,"locked":true,"version":"1.4.2","user":"guest","temps":[41,43]}"#)
        let agent = try #require(actions.states(pc1).first?["agent"])
        #expect(agent == ["locked": true, "version": "1.4.2", "user": "guest", "temps": [41, 43]])
        #expect(agent["seq"] == nil)
        #expect(hub.state(pc1)?["agent"] == agent)

        // Same fields, new seq: nothing to publish. Changed fields: state republished.
        hub.run(seconds: 1)
        #expect(try hub.heartbeat(pc1, #"{"seq":18,"locked":true,"version":"1.4.2","user":"guest","temps":[41,43]}"#).isEmpty)
        hub.run(seconds: 1)
        let changed = try hub.heartbeat(pc1, #"{"seq":19,"locked":true,"version":"1.5.0"}"#)
        #expect(changed.states(pc1).first?["agent"] == ["locked": true, "version": "1.5.0"])
        #expect(changed.eventTypes.isEmpty)
    }

    /// An agent account flooding its own topic with a field that changes every time cannot make
    /// the hub republish the station's state more than five times a heartbeat interval.
    @Test func heartbeatsCloserThanAFifthOfTheIntervalAreIgnored() throws {
        var hub = TestHub()  // heartbeat interval 5 s: at most one heartbeat a second counts
        try hub.heartbeat(pc1, #"{"seq":1,"user":"a"}"#)
        var republished = 0
        for i in 0..<1000 {
            hub.advance(millis: 10)
            let actions = try hub.heartbeat(pc1, #"{"seq":\#(i + 2),"user":"u\#(i)"}"#)
            republished += actions.states(pc1).count
        }
        #expect(republished == 10, "10 s of flood: one state a second")
        #expect(hub.core.redundantHeartbeats == 990)
        #expect(hub.core.isOnline(pc1) == true)
        // Ignored unread: even a malformed one inside the gap changes nothing and throws nothing.
        #expect(try hub.heartbeat(pc1, "not json").isEmpty)
    }

    @Test func consoleBecomesOnlineAndTimesOut() throws {
        var hub = TestHub()
        let actions = try hub.heartbeat(ps1, #"{"seq":1}"#)
        #expect(actions.eventTypes == ["station.online"])
        #expect(hub.core.isOnline(ps1) == true)
        hub.run(seconds: 15)
        #expect(hub.core.isOnline(ps1) == false)
        #expect(hub.status(ps1) == "offline")
    }

    @Test func goingOfflineDoesNotAffectTheSession() throws {
        var hub = TestHub()
        try hub.heartbeat(pc1, #"{"seq":1}"#)
        hub.start(pc1, seconds: 600)
        let fired = hub.run(seconds: 20)
        #expect(fired.eventTypes.contains("station.offline"))
        #expect(fired.events.first { $0.type == "station.offline" }?.session == "S-1")
        #expect(hub.remainingMillis(pc1) == 580_000)
        #expect(hub.status(pc1) == "active")
    }
}
