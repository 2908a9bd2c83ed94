import PlayclockContract
@testable import PlayclockCore
import Testing

extension TestHub {
    /// Like `run(untilMono:)`, but keeps each tick's actions with the monotonic instant it happened at.
    mutating func runRecording(untilMono target: Int64) -> [(mono: Int64, actions: [HubAction])] {
        var log: [(mono: Int64, actions: [HubAction])] = []
        var guardCount = 0
        while let d = core.nextDeadline(), d <= target, guardCount < 100_000 {
            guardCount += 1
            if d > now.monoNanos { clock.advance(toMono: d) }
            log.append((now.monoNanos, tick()))
        }
        if target > now.monoNanos { clock.advance(toMono: target) }
        let last = tick()
        if !last.isEmpty { log.append((now.monoNanos, last)) }
        return log
    }
}

@Suite("Expiry, warnings and countdowns")
struct ExpiryWarningCountdownTests {
    static let second: Int64 = 1_000_000_000

    // MARK: expiry

    @Test func nextDeadlineIsTheEndWhenNothingIsEarlier() {
        var policy = HubPolicy()
        policy.warnThresholdsSeconds = []
        policy.finalPhaseSeconds = 0
        policy.countdownIntervalSeconds = 100_000
        var hub = TestHub(policy: policy)
        let s = hub.now.monoNanos
        hub.start(pc1, seconds: 600)
        #expect(hub.core.nextDeadline() == s + 600 * Self.second)
        // Time passing (with nothing due) does not move it.
        hub.advance(seconds: 123)
        #expect(hub.tick().isEmpty)
        #expect(hub.core.nextDeadline() == s + 600 * Self.second)
    }

    @Test func nextDeadlineReachesTheEndWithDefaultPolicy() {
        var hub = TestHub()
        let end = hub.now.monoNanos + 600 * Self.second
        hub.start(pc1, seconds: 600)
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + 10 * Self.second)  // first countdown
        hub.run(untilMono: end - Self.second)
        #expect(hub.core.nextDeadline() == end)
    }

    @Test func noDeadlineWithoutSessionsOrPresence() {
        let hub = TestHub()
        #expect(hub.core.nextDeadline() == nil)
        var h2 = hub
        #expect(h2.tick().isEmpty)
    }

    @Test func tickAtEndLocksWithReasonExpired() throws {
        var hub = TestHub()
        let t0 = hub.now
        let end = t0.monoNanos + 600 * Self.second
        hub.start(ps1, seconds: 600)

        let before = hub.run(untilMono: end - 1_000_000)
        #expect(!before.controls(ps1).contains { $0["action"] == "lock" })
        #expect(!before.eventTypes.contains("session.expired"))
        #expect(hub.core.session(at: ps1) != nil)
        #expect(hub.remainingMillis(ps1) == 1)
        #expect(hub.remainingSeconds(ps1) == 1)
        #expect(hub.status(ps1) == "warned")

        hub.clock.advance(millis: 1)
        #expect(hub.now.monoNanos == end)
        let actions = hub.tick()
        let lock = try #require(actions.controls(ps1).first)
        #expect(actions.controls(ps1).count == 1)
        #expect(lock["action"] == "lock")
        #expect(lock["reason"] == "expired")
        #expect(lock["session"] == "S-1")
        let saved = try #require(actions.savedSessions.first)
        #expect(saved.id == "S-1")
        #expect(saved.endReason == .expired)
        #expect(saved.endedAtWallMillis == t0.wallMillis + 600_000)
        #expect(saved.usedMillisAtAnchor == 600_000)
        #expect(actions.eventTypes.contains("session.expired"))
        #expect(actions.events.first { $0.type == "session.expired" }?.data["used_s"] == 600)
        #expect(actions.events.first { $0.type == "station.locked" }?.data["reason"] == "expired")
        #expect(actions.states(ps1).first?["status"] == "expired")
        #expect(actions.states(ps1).first?["session"] == .null)
        #expect(actions.countdowns(ps1).first?["remaining_s"] == 0)
        #expect(actions.countdowns(ps1).first?["session"] == .null)
        #expect(hub.core.session(at: ps1) == nil)
        #expect(hub.status(ps1) == "expired")
        #expect(hub.store.sessions["S-1"]?.isEnded == true)

        // Expired is shown for `expiredHoldSeconds`, then idle.
        let holdEnd = end + hub.policy.expiredHoldSeconds * Self.second
        #expect(hub.core.nextDeadline() == holdEnd)
        #expect(hub.run(untilMono: holdEnd - 1_000_000).isEmpty)
        #expect(hub.status(ps1) == "expired")
        hub.clock.advance(millis: 1)
        let idle = hub.tick()
        #expect(idle.states(ps1).first?["status"] == "idle")
        #expect(hub.status(ps1) == "idle")
        #expect(hub.core.nextDeadline() == nil)
        // Ticking again at the same time changes nothing more.
        #expect(hub.tick().isEmpty)
    }

    @Test func lateTickStillExpiresOnce() {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.advance(seconds: 3600)
        let actions = hub.tick()
        #expect(actions.eventTypes.filter { $0 == "session.expired" }.count == 1)
        #expect(actions.controls(pc1).filter { $0["action"] == "warn" }.isEmpty)
        #expect(actions.controls(pc1).map { $0["reason"] } == ["expired"])
        #expect(actions.savedSessions.last?.usedMillisAtAnchor == 600_000)
        #expect(hub.tick().isEmpty)
    }

    @Test func startingANewSessionClearsExpired() {
        var hub = TestHub()
        hub.start(ps1, seconds: 10)
        hub.run(seconds: 10)
        #expect(hub.status(ps1) == "expired")
        hub.start(ps1, seconds: 600)
        #expect(hub.status(ps1) == "active")
        // The old hold deadline is gone: the next deadline is the first countdown.
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + 10 * Self.second)
    }

    // MARK: warnings

    @Test func warningsAtDefaultThresholdsExactlyOnce() throws {
        var hub = TestHub()
        let s = hub.now.monoNanos
        hub.start(pc1, seconds: 600)
        let log = hub.runRecording(untilMono: s + 700 * Self.second)
        let warnTicks = log.flatMap { tick in tick.actions.controls(pc1).filter { $0["action"] == "warn" }.map { (tick.mono, $0) } }
        try #require(warnTicks.count == 2)
        #expect(warnTicks[0].0 == s + 300 * Self.second)
        #expect(warnTicks[0].1["threshold_s"] == 300)
        #expect(warnTicks[0].1["remaining_s"] == 300)
        #expect(warnTicks[0].1["session"] == "S-1")
        #expect(warnTicks[0].1["station"] == "PC-01")
        #expect(warnTicks[0].1["ends_at"] == .string(iso(startWallMillis + 600_000)))
        #expect(warnTicks[1].0 == s + 540 * Self.second)
        #expect(warnTicks[1].1["threshold_s"] == 60)
        #expect(warnTicks[1].1["remaining_s"] == 60)
        let all = log.flatMap(\.actions)
        let warnedEvents = all.events.filter { $0.type == "session.warned" }
        #expect(warnedEvents.map { $0.data["threshold_s"] } == [300, 60])
        // Saved with the thresholds recorded, so a restart does not repeat them.
        #expect(all.savedSessions.map(\.warnedThresholds).prefix(2) == [[300], [60, 300]])
        let warnOutbound = try #require(all.published(to: testTopics.control(pc1)).first { $0.json?["action"] == "warn" })
        #expect(warnOutbound.qos == .atLeastOnce)
        #expect(!warnOutbound.retain)
    }

    @Test func threeMinuteSessionGetsOnlyTheOneMinuteWarning() {
        var hub = TestHub()
        let start = hub.start(pc1, seconds: 180)
        #expect(start.savedSessions.first?.warnedThresholds == [300])
        let all = hub.run(seconds: 200)
        let warns = all.controls(pc1).filter { $0["action"] == "warn" }
        #expect(warns.map { $0["threshold_s"] } == [60])
        #expect(warns.first?["remaining_s"] == 60)
    }

    @Test func sessionOfExactlyAThresholdSkipsIt() {
        var hub = TestHub()
        hub.start(pc1, seconds: 300)
        let warns = hub.run(seconds: 300).controls(pc1).filter { $0["action"] == "warn" }
        #expect(warns.map { $0["threshold_s"] } == [60])
    }

    @Test func statusWarnedWithinTheLastFiveMinutes() {
        var hub = TestHub()
        hub.start(ps1, seconds: 600)
        hub.run(millis: 299_999)
        #expect(hub.status(ps1) == "active")
        #expect(hub.state(ps1)?["status"] == "active")
        let at300 = hub.run(millis: 1)
        #expect(hub.status(ps1) == "warned")
        #expect(at300.states(ps1).last?["status"] == "warned")
        hub.run(seconds: 290)
        #expect(hub.status(ps1) == "warned")
    }

    @Test func severalThresholdsCrossedAtOnceGiveOneWarning() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.advance(seconds: 570)  // no tick in between (e.g. a stalled runtime)
        let actions = hub.tick()
        let warns = actions.controls(pc1).filter { $0["action"] == "warn" }
        try #require(warns.count == 1)
        #expect(warns[0]["threshold_s"] == 60)
        #expect(warns[0]["remaining_s"] == 30)
        #expect(actions.eventTypes.filter { $0 == "session.warned" }.count == 1)
        #expect(hub.core.session(at: pc1)?.warnedThresholds == [60, 300])
        let rest = hub.run(seconds: 30)
        #expect(rest.controls(pc1).filter { $0["action"] == "warn" }.isEmpty)
        #expect(rest.eventTypes.contains("session.expired"))
    }

    @Test func customThresholds() {
        var policy = HubPolicy()
        policy.warnThresholdsSeconds = [120, 30, 10]
        var hub = TestHub(policy: policy)
        hub.start(pc1, seconds: 200)
        let warns = hub.run(seconds: 200).controls(pc1).filter { $0["action"] == "warn" }
        #expect(warns.map { $0["threshold_s"] } == [120, 30, 10])
        #expect(warns.map { $0["remaining_s"] } == [120, 30, 10])
    }

    // MARK: countdown

    @Test func countdownEveryTenSecondsThenEverySecond() throws {
        var hub = TestHub()
        let s = hub.now.monoNanos
        let start = hub.start(pc1, seconds: 600)
        #expect(start.countdowns(pc1).map { $0["remaining_s"] } == [600])

        let log = hub.runRecording(untilMono: s + 600 * Self.second)
        let countdowns = log.flatMap { tick in tick.actions.countdowns(pc1).map { (tick.mono, $0) } }
        var expected: [(Int64, Int64)] = []  // (seconds since start, remaining_s)
        for elapsed in stride(from: Int64(10), through: 540, by: 10) { expected.append((elapsed, 600 - elapsed)) }
        for elapsed in Int64(541)...599 { expected.append((elapsed, 600 - elapsed)) }
        expected.append((600, 0))
        try #require(countdowns.count == expected.count)
        for (got, want) in zip(countdowns, expected) {
            #expect(got.0 == s + want.0 * Self.second, "countdown for remaining \(want.1)")
            #expect(got.1["remaining_s"] == .int(want.1))
        }
        #expect(countdowns.last?.1["session"] == .null)
        #expect(countdowns.dropLast().allSatisfy { $0.1["session"] == "S-1" })
        #expect(countdowns.dropLast().allSatisfy { $0.1["ends_at"] == .string(iso(startWallMillis + 600_000)) })
    }

    @Test func countdownAlignsOnTheFinalMinute() throws {
        var hub = TestHub()
        let s = hub.now.monoNanos
        hub.start(pc1, seconds: 65)
        #expect(hub.core.nextDeadline() == s + 5 * Self.second)
        let log = hub.runRecording(untilMono: s + 70 * Self.second)
        let countdowns = log.flatMap { tick in tick.actions.countdowns(pc1).map { (tick.mono, $0["remaining_s"]) } }
        try #require(countdowns.count == 61)
        #expect(countdowns[0].0 == s + 5 * Self.second)
        #expect(countdowns[0].1 == 60)
        #expect(countdowns[1].0 == s + 6 * Self.second)
        #expect(countdowns[1].1 == 59)
        #expect(countdowns.map { $0.1 ?? .null } == (0...60).reversed().map { JSONValue.int(Int64($0)) })
    }

    @Test func extendingInTheFinalMinuteRestoresTheSlowCadence() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 90)
        hub.run(seconds: 60)  // 30 s left: one countdown per second
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + Self.second)
        _ = try hub.request("session/extend", ["station": "PC-01", "seconds": 120]).result.get()
        #expect(hub.remainingMillis(pc1) == 150_000)
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + 10 * Self.second)
        let next = hub.run(seconds: 10)
        #expect(next.countdowns(pc1).map { $0["remaining_s"] } == [140])
    }

    @Test func severalStationsExpireInOneTick() {
        var hub = TestHub()
        hub.start(pc1, seconds: 60)
        hub.start(pc2, seconds: 60)
        hub.start(ps1, seconds: 60)
        hub.advance(seconds: 60)
        let actions = hub.tick()
        #expect(actions.eventTypes.filter { $0 == "session.expired" }.count == 3)
        for id in [pc1, pc2, ps1] {
            #expect(actions.controls(id).map { $0["reason"] } == ["expired"], "\(id)")
            #expect(hub.status(id) == "expired")
        }
        #expect(Set(hub.store.sessions.values.compactMap(\.endReason)) == [.expired])
        #expect(hub.store.sessions.values.allSatisfy { $0.isEnded })
    }

    @Test func expiredHoldEndsEarlyOnRemoveMaintenanceOrTransfer() throws {
        var hub = TestHub()
        hub.start(ps1, seconds: 10)
        hub.start(pc1, seconds: 10)
        hub.start(pc2, seconds: 600)
        hub.run(seconds: 10)
        #expect(hub.status(ps1) == "expired")
        #expect(hub.status(pc1) == "expired")

        _ = try hub.request("station/maintenance", ["station": "PS-01", "enabled": true]).result.get()
        #expect(hub.status(ps1) == "maintenance")
        _ = try hub.request("session/transfer", ["station": "PC-02", "to": "PC-01"]).result.get()
        #expect(hub.status(pc1) == "active")
        #expect(hub.core.session(at: pc1)?.id == "S-3")
        // Only the transferred session's own deadlines remain.
        #expect(hub.core.nextDeadline() == hub.now.monoNanos + 10 * Self.second)
        _ = try hub.request("station/remove", ["station": "PS-01"]).result.get()
        #expect(hub.core.stationIDs == [pc1, pc2])
    }

    @Test func pausedSessionPublishesNoCountdown() {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.run(seconds: 25)
        _ = hub.request("session/pause", ["station": "PC-01"])
        let during = hub.run(seconds: 120)
        #expect(during.countdowns(pc1).isEmpty)
        _ = hub.request("session/resume", ["station": "PC-01"])
        let after = hub.run(seconds: 10)
        #expect(after.countdowns(pc1).map { $0["remaining_s"] } == [565])
    }
}
