import PlayclockContract
@testable import PlayclockCore
import Testing

@Suite("Clock jumps")
struct ClockJumpTests {
    static let second: Int64 = 1_000_000_000
    static let hour: Int64 = 3_600_000

    @Test(arguments: [3 * hour, -5 * hour, 26 * hour, -1, 900, -1001])
    func wallClockJumpChangesNeitherRemainingNorDeadline(_ jump: Int64) throws {
        var hub = TestHub()
        let s = hub.now.monoNanos
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        let remaining = hub.remainingMillis(pc1)
        let deadline = hub.core.nextDeadline()
        #expect(remaining == 500_000)

        hub.clock.jumpWall(byMillis: jump)
        #expect(hub.remainingMillis(pc1) == remaining)
        #expect(hub.remainingSeconds(pc1) == 500)
        #expect(hub.core.nextDeadline() == deadline)
        #expect(hub.tick().isEmpty)
        // ends_at is shown on the (new) wall clock once the jump exceeds a second; a smaller
        // difference (clock reading jitter, NTP slewing) keeps the value already published.
        let shownEnd = abs(jump) > 1000 ? hub.now.wallMillis + 500_000 : hub.now.wallMillis - jump + 500_000
        #expect(hub.state(pc1)?["session"]?["ends_at"] == .string(iso(shownEnd)))
        #expect(hub.state(pc1)?["updated_at"] == .string(iso(hub.now.wallMillis)))
        let sync = try hub.heartbeat(pc1, #"{"seq":1}"#)
        #expect(sync.controls(pc1).first?["ends_at"] == .string(iso(shownEnd)))
        #expect(sync.controls(pc1).first?["remaining_s"] == 500)

        // The session still ends exactly 600 s of monotonic time after it started.
        let end = s + 600 * Self.second
        let before = hub.run(untilMono: end - 1_000_000)
        #expect(!before.eventTypes.contains("session.expired"))
        #expect(hub.core.session(at: pc1) != nil)
        let expiry = hub.run(untilMono: end)
        #expect(expiry.eventTypes.contains("session.expired"))
        #expect(expiry.savedSessions.last?.endedAtWallMillis == hub.now.wallMillis)
        #expect(expiry.savedSessions.last?.usedMillisAtAnchor == 600_000)
    }

    @Test func repeatedJumpsDuringTheCountdown() {
        var hub = TestHub()
        hub.start(pc1, seconds: 120)
        var expected: Int64 = 120_000
        for jump in [Self.hour, -2 * Self.hour, 10 * Self.hour, -9 * Self.hour] {
            hub.run(seconds: 10)
            expected -= 10_000
            let deadline = hub.core.nextDeadline()
            hub.clock.jumpWall(byMillis: jump)
            #expect(hub.remainingMillis(pc1) == expected)
            #expect(hub.core.nextDeadline() == deadline)
            #expect(hub.state(pc1)?["session"]?["ends_at"] == .string(iso(hub.now.wallMillis + expected)))
        }
        // 40 s used; the rest runs out 80 s later whatever the wall clock did.
        let fired = hub.run(seconds: 80)
        #expect(fired.eventTypes.contains("session.expired"))
        #expect(fired.countdowns(pc1).last?["remaining_s"] == 0)
        #expect(fired.countdowns(pc1).dropLast().last?["ends_at"] == .string(iso(hub.now.wallMillis)))
    }
}

@Suite("Restart recovery and resync")
struct RecoveryTests {
    static let second: Int64 = 1_000_000_000

    @Test func sameBootRestartKeepsExactRemainingTime() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        let lastAlive = hub.now

        // The hub is down for 50 s of monotonic time; the wall clock also jumps meanwhile.
        var clock = hub.clock
        clock.advance(seconds: 50)
        clock.jumpWall(byMillis: -2 * 3_600_000)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        #expect(restarted.core.session(at: pc1)?.id == "S-1")
        let actions = restarted.recover(lastAlive: lastAlive)
        #expect(actions.eventTypes.first == "hub.started")
        #expect(!actions.eventTypes.contains("session.recovered"))  // same boot: nothing to re-anchor
        #expect(actions.events.first?.id == hub.store.lastEventID + 1)
        #expect(restarted.remainingMillis(pc1) == 450_000)
        #expect(restarted.remainingSeconds(pc1) == 450)
        #expect(restarted.core.isOnline(pc1) == nil, "unknown until the restarted hub hears the agent")

        // The restarted hub expires it exactly on time.
        let end = hub.now.monoNanos + 500 * Self.second
        let early = restarted.run(untilMono: end - 1_000_000)
        #expect(!early.eventTypes.contains("session.expired"))
        let expiry = restarted.run(untilMono: end)
        #expect(expiry.eventTypes.contains("session.expired"))
        #expect(expiry.controls(pc1).contains { $0["reason"] == "expired" })
    }

    @Test func sessionThatEndedWhileDownIsExpiredByRecover() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.start(pc2, seconds: 3600)
        hub.run(seconds: 100)
        var clock = hub.clock
        clock.advance(seconds: 900)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        let actions = restarted.recover(lastAlive: hub.now)
        let lock = try #require(actions.controls(pc1).first { $0["action"] == "lock" })
        #expect(lock["reason"] == "expired")
        #expect(lock["session"] == "S-1")
        #expect(actions.eventTypes.contains("session.expired"))
        let ended = try #require(actions.savedSessions.first { $0.id == "S-1" })
        #expect(ended.endReason == .expired)
        #expect(ended.usedMillisAtAnchor == 600_000)
        #expect(restarted.core.session(at: pc1) == nil)
        #expect(restarted.status(pc1) == "expired")
        #expect(restarted.store.sessions["S-1"]?.isEnded == true)
        // The other session is intact, and its missed warning is not announced (still > 300 s left).
        #expect(restarted.remainingMillis(pc2) == 2_600_000)
        #expect(actions.controls(pc2).isEmpty)

        // A second restart does not resurrect the ended session.
        let again = TestHub(restartingFrom: restarted.store, clock: restarted.clock)
        #expect(again.core.session(at: pc1) == nil)
        #expect(again.core.session(at: pc2)?.id == "S-2")
    }

    @Test func rebootCountsTimeToLastAlivePlusWallDowntime() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        let lastAlive = hub.now  // 100 s used
        hub.run(seconds: 3)  // the hub ran a little longer, unrecorded, then the box rebooted

        var clock = hub.clock
        clock.reboot(wallDeltaMillis: 57_000)  // wall: 60 s after lastAlive
        #expect(clock.now.bootID != lastAlive.bootID)
        #expect(clock.now.monoNanos < lastAlive.monoNanos)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        let actions = restarted.recover(lastAlive: lastAlive)

        let saved = try #require(actions.savedSessions.first)
        #expect(saved.id == "S-1")
        #expect(saved.usedMillisAtAnchor == 160_000)
        #expect(saved.anchor == restarted.now)
        #expect(saved.grantedMillis == 600_000)
        let recovered = try #require(actions.events.first { $0.type == "session.recovered" })
        #expect(recovered.data["downtime_ms"] == 60_000)
        #expect(recovered.data["remaining_s"] == 440)
        #expect(restarted.remainingMillis(pc1) == 440_000)

        // It keeps running on the new boot's monotonic clock and ends 440 s later.
        let end = restarted.now.monoNanos + 440 * Self.second
        restarted.run(untilMono: end - 1_000_000)
        #expect(restarted.remainingMillis(pc1) == 1)
        let expiry = restarted.run(untilMono: end)
        #expect(expiry.eventTypes.contains("session.expired"))
    }

    @Test(arguments: [-3 * 3_600_000, -1, -103_000, 0])
    func wallClockBackwardsAcrossRebootNeverAddsTime(_ wallDelta: Int64) throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        let lastAlive = hub.now
        let remainingAtLastAlive = try #require(hub.remainingMillis(pc1))
        hub.run(seconds: 3)

        var clock = hub.clock
        // Wall after reboot is at or before lastAlive's wall clock.
        clock.reboot(wallDeltaMillis: wallDelta - 3_000)
        #expect(clock.now.wallMillis <= lastAlive.wallMillis)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        let actions = restarted.recover(lastAlive: lastAlive)
        let remaining = try #require(restarted.remainingMillis(pc1))
        #expect(remaining <= remainingAtLastAlive)
        #expect(remaining == remainingAtLastAlive)  // no negative downtime either
        let recovered = try #require(actions.events.first { $0.type == "session.recovered" })
        #expect(recovered.data["downtime_ms"] == 0)
    }

    @Test func rebootWithoutLastAliveCountsFromTheAnchor() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        var clock = hub.clock
        clock.reboot(wallDeltaMillis: 20_000)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        restarted.recover(lastAlive: nil)
        // anchor was the start: 100 s run + 20 s down.
        #expect(restarted.remainingMillis(pc1) == 480_000)
    }

    @Test func lastAliveFromAnotherBootOrBeforeTheAnchorIsIgnored() throws {
        var hub = TestHub()
        let early = hub.now
        hub.run(seconds: 30)
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        for alive in [early, Timestamp(wallMillis: hub.now.wallMillis, monoNanos: hub.now.monoNanos, bootID: "boot-0")] {
            var clock = hub.clock
            clock.reboot(wallDeltaMillis: 10_000)
            var restarted = TestHub(restartingFrom: hub.store, clock: clock)
            restarted.recover(lastAlive: alive)
            #expect(restarted.remainingMillis(pc1) == 490_000, "lastAlive \(alive)")
        }
    }

    @Test func rebootThatUsedUpTheSessionExpiresIt() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        var clock = hub.clock
        clock.reboot(wallDeltaMillis: 3_600_000)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        let actions = restarted.recover(lastAlive: hub.now)
        #expect(actions.eventTypes.contains("session.recovered"))
        #expect(actions.eventTypes.contains("session.expired"))
        #expect(actions.controls(pc1).contains { $0["action"] == "lock" && $0["reason"] == "expired" })
        #expect(restarted.store.sessions["S-1"]?.endReason == .expired)
        #expect(restarted.store.sessions["S-1"]?.usedMillisAtAnchor == 600_000)
        #expect(restarted.core.session(at: pc1) == nil)
    }

    @Test func pausedSessionLosesNoTimeAcrossRestarts() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        _ = hub.request("session/pause", ["station": "PC-01"])
        hub.run(seconds: 50)
        let lastAlive = hub.now
        hub.run(seconds: 2)

        // Same boot, long downtime.
        var sameBootClock = hub.clock
        sameBootClock.advance(seconds: 7200)
        var sameBoot = TestHub(restartingFrom: hub.store, clock: sameBootClock)
        sameBoot.recover(lastAlive: lastAlive)
        #expect(sameBoot.remainingMillis(pc1) == 500_000)
        #expect(sameBoot.core.session(at: pc1)?.paused == true)

        // Reboot, long downtime.
        var rebootClock = hub.clock
        rebootClock.reboot(wallDeltaMillis: 7_200_000)
        var rebooted = TestHub(restartingFrom: hub.store, clock: rebootClock)
        let actions = rebooted.recover(lastAlive: lastAlive)
        #expect(rebooted.remainingMillis(pc1) == 500_000)
        #expect(rebooted.core.session(at: pc1)?.paused == true)
        #expect(actions.events.first { $0.type == "session.recovered" }?.data["downtime_ms"] == 0)
        #expect(rebooted.status(pc1) == "paused")

        // Resuming on the new boot runs the remaining 500 s.
        _ = try rebooted.request("session/resume", ["station": "PC-01"]).result.get()
        rebooted.run(seconds: 499)
        #expect(rebooted.remainingMillis(pc1) == 1_000)
        #expect(rebooted.run(seconds: 1).eventTypes.contains("session.expired"))
    }

    @Test func warningsAlreadyGivenAreNotRepeatedAfterARestart() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 310)
        #expect(hub.core.session(at: pc1)?.warnedThresholds == [300])
        var clock = hub.clock
        clock.advance(seconds: 5)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        let recovered = restarted.recover(lastAlive: hub.now)
        #expect(recovered.controls(pc1).isEmpty)
        let rest = restarted.run(seconds: 285)
        #expect(rest.controls(pc1).filter { $0["action"] == "warn" }.map { $0["threshold_s"] } == [60])
    }

    @Test func resyncPublishesStateAndControlForEveryStation() throws {
        var hub = TestHub()
        try hub.heartbeat(pc2, #"{"seq":1}"#)
        hub.start(pc1, seconds: 600)
        _ = hub.request("station/maintenance", ["station": "PS-01", "enabled": true])
        hub.run(seconds: 7)
        let actions = hub.core.resync(now: hub.now)
        #expect(actions.allSatisfy { !$0.isStoreWrite })
        for id in [pc1, pc2, ps1] {
            let states = actions.published(to: testTopics.state(id))
            #expect(states.count == 1, "state for \(id)")
            #expect(states.first?.retain == true)
            #expect(states.first?.qos == .atLeastOnce)
            #expect(states.first?.json?["station"] == .string(id.value))
            let controls = actions.published(to: testTopics.control(id))
            #expect(controls.count == 1, "control for \(id)")
            #expect(controls.first?.retain == false)
            #expect(controls.first?.qos == .atLeastOnce)
        }
        #expect(actions.controls(pc1).first?["action"] == "unlock")
        #expect(actions.controls(pc1).first?["remaining_s"] == 593)
        #expect(actions.controls(pc1).first?["ends_at"] == .string(iso(startWallMillis + 600_000)))
        #expect(actions.controls(pc2).first?["action"] == "lock")
        #expect(actions.controls(pc2).first?["reason"] == "idle")
        #expect(actions.controls(ps1).first?["reason"] == "maintenance")
        #expect(actions.states(pc1).first?["status"] == "active")
        #expect(actions.states(pc2).first?["status"] == "idle")
        #expect(actions.states(ps1).first?["status"] == "maintenance")
        #expect(actions.countdowns(pc1).map { $0["remaining_s"] } == [593])
        #expect(actions.countdowns(pc2).isEmpty)
    }

    @Test func resyncAfterARebootRestartsCountdowns() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 100)
        var clock = hub.clock
        clock.reboot(wallDeltaMillis: 10_000)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        restarted.recover(lastAlive: hub.now)
        let sync = restarted.core.resync(now: restarted.now)
        #expect(sync.controls(pc1).first?["action"] == "unlock")
        #expect(sync.controls(pc1).first?["remaining_s"] == 490)
        #expect(sync.controls(pc1).first?["ends_at"] == .string(iso(restarted.now.wallMillis + 490_000)))
        #expect(restarted.core.nextDeadline() == restarted.now.monoNanos + 10 * Self.second)
        let next = restarted.run(seconds: 10)
        #expect(next.countdowns(pc1).map { $0["remaining_s"] } == [480])
    }

    @Test func resyncDuringTheExpiredHoldLocksWithReasonExpired() {
        var hub = TestHub()
        hub.start(pc1, seconds: 30)
        hub.run(seconds: 40)
        let sync = hub.core.resync(now: hub.now)
        #expect(sync.controls(pc1).first?["reason"] == "expired")
        #expect(sync.controls(pc1).first?["session"] == "S-1")
        #expect(sync.states(pc1).first?["status"] == "expired")
    }
}
