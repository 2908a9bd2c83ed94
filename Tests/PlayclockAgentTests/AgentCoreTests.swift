import PlayclockAgent
import PlayclockContract
import Testing

/// A manual clock and the core, with helpers to speak the hub's side of the contract.
struct Harness {
    static let station = StationID("PC-01")!
    static let topics = TopicScheme(root: "playclock")!
    static let boot = "boot-1"
    /// The hub's wall clock (ms) at `mono == 0`: deliberately far from the PC's.
    static let hubWallAtZero: Int64 = 1_795_000_000_000

    var now = AgentTime(monoNanos: 1_000_000_000_000, wallMillis: 1_700_000_000_000)
    var core: AgentCore
    var actions: [AgentAction] = []

    init(restored: LeaseRestore = .none, configure: (inout AgentSettings) -> Void = { _ in }) {
        var settings = AgentSettings(station: Self.station, stationName: "PC 01", venueName: "Pixel Arena", topics: Self.topics, version: "1.0.0")
        configure(&settings)
        core = AgentCore(settings: settings, bootID: Self.boot, restored: restored, now: now)
    }

    var hubMillis: Int64 { Self.hubWallAtZero + now.monoNanos / 1_000_000 }
    func hubTime(plusMillis ms: Int64 = 0) -> String { ISO8601.string(fromMillis: hubMillis + ms) }

    @discardableResult
    mutating func send(_ event: AgentEvent) -> [AgentAction] {
        let out = core.handle(event, now: now)
        actions += out
        return out
    }

    mutating func advance(seconds: Double) {
        now = now.adding(milliseconds: Int64(seconds * 1000))
        send(.tick)
    }

    @discardableResult
    mutating func control(_ message: ControlMessage, retained: Bool = false) -> [AgentAction] {
        send(.message(topic: Self.topics.control(Self.station), payload: message.payload, retained: retained))
    }

    func grant(session: String = "s1", seconds: Int64, roundedRemaining: Int64? = nil) -> ControlMessage.Grant {
        ControlMessage.Grant(station: Self.station, session: session, endsAt: hubTime(plusMillis: seconds * 1000),
                             remainingSeconds: roundedRemaining ?? seconds, sentAt: hubTime())
    }

    mutating func unlock(session: String = "s1", seconds: Int64) {
        control(.unlock(grant(session: session, seconds: seconds)))
    }

    mutating func lock(_ reason: LockReason, session: String? = "s1") {
        control(.lock(.init(station: Self.station, session: session, reason: reason, sentAt: hubTime())))
    }

    mutating func countdown(session: String? = "s1", remaining: Int64, paused: Bool = false) {
        let c = CountdownMessage(station: Self.station, session: session, remainingSeconds: remaining,
                                 endsAt: hubTime(plusMillis: remaining * 1000), paused: paused)
        send(.message(topic: Self.topics.countdown(Self.station), payload: c.payload, retained: false))
    }

    var screen: AgentScreen { core.screen(now: now) }

    var lockReason: LockScreenReason? {
        if case .locked(let l) = screen { return l.reason }
        return nil
    }

    var overlay: Overlay? {
        if case .unlocked(let o) = screen { return o }
        return nil
    }

    var published: [AgentPublication] {
        actions.compactMap { if case .publish(let p) = $0 { return p } else { return nil } }
    }

    var heartbeats: [HeartbeatMessage] {
        published.filter { $0.topic == Self.topics.heartbeat(Self.station) }.compactMap { try? HeartbeatMessage(payload: $0.payload) }
    }

    var reports: [AgentReportMessage] {
        published.filter { $0.topic == Self.topics.agentReport(Self.station) }.compactMap { try? AgentReportMessage(payload: $0.payload) }
    }

    var savedLeases: [LeaseRecord] {
        actions.compactMap { if case .saveLease(let r) = $0 { return r } else { return nil } }
    }
}

@Suite("Agent core: fail closed, unlock, lock")
struct AgentLockingTests {
    @Test func startsLockedAndSaysStartingThenIdleOrHubOffline() {
        var h = Harness()
        #expect(h.core.isLocked)
        #expect(h.lockReason == .starting)
        h.advance(seconds: 6)
        #expect(h.lockReason == .hubOffline, "no broker after the grace: the customer is told the hub is offline")
        h.send(.connected)
        #expect(h.lockReason == .idle)
    }

    @Test func unlocksOnlyOnTheHubsWordAndLocksWithTheReason() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 3600)
        #expect(!h.core.isLocked)
        #expect(h.overlay?.remainingSeconds == 3600)
        #expect(h.overlay?.tone == .green)
        for (reason, shown) in [(LockReason.paused, LockScreenReason.paused), (.maintenance, .maintenance), (.stopped, .stopped),
                                (.expired, .expired), (.transferred, .transferred), (.idle, .idle)] {
            h.unlock(seconds: 600)
            h.lock(reason)
            #expect(h.lockReason == shown)
        }
        if case .locked(let screen) = h.screen {
            #expect(screen.venueName == "Pixel Arena")
            #expect(screen.stationName == "PC 01")
        }
    }

    @Test func expiredHeadlineIsTheVenuesText() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 10)
        h.advance(seconds: 10)
        guard case .locked(let screen) = h.screen else {
            Issue.record("not locked")
            return
        }
        #expect(screen.headline == "Time is up - please see the front desk")
        #expect(screen.reason == .expired)
    }

    @Test func lockWithAReasonThisVersionDoesNotKnowStillLocks() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        let payload = Array(#"{"action":"lock","station":"PC-01","session":"s1","reason":"fire_alarm","sent_at":"2026-11-21T20:00:00.000Z"}"#.utf8)
        h.send(.message(topic: Harness.topics.control(Harness.station), payload: payload, retained: false))
        #expect(h.core.isLocked)
    }

    @Test func aGrantWithNothingLeftLocks() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 0)
        #expect(h.lockReason == .expired)
    }

    @Test func overlayColoursFollowTheThresholds() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 601)
        #expect(h.overlay?.tone == .green)
        h.advance(seconds: 1)
        #expect(h.overlay?.tone == .orange, "10 minutes is orange")
        h.advance(seconds: 300)
        #expect(h.overlay?.tone == .orange, "5 minutes is still orange")
        h.advance(seconds: 1)
        #expect(h.overlay?.tone == .red, "4:59 is red")
    }
}

@Suite("Agent core: the self-enforcing lease")
struct AgentLeaseTests {
    @Test func leaseRunsOutWithTheHubSilent() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 120)
        h.advance(seconds: 119.9)
        #expect(!h.core.isLocked)
        h.advance(seconds: 0.1)
        #expect(h.lockReason == .expired, "locks by itself at the hub's ends_at")
    }

    @Test func leaseIsTakenFromTwoHubTimesNotTheRoundedSeconds() {
        var h = Harness()
        h.send(.connected)
        // 99.2 s left at the hub: remaining_s says 100 (rounded up), ends_at - sent_at says 99.2.
        let g = ControlMessage.Grant(station: Harness.station, session: "s1", endsAt: h.hubTime(plusMillis: 99_200),
                                     remainingSeconds: 100, sentAt: h.hubTime())
        h.control(.unlock(g))
        h.advance(seconds: 99.2)
        #expect(h.core.isLocked, "rounding never grants the extra 0.8 s")
    }

    @Test func remainingSecondsCapsWhatTheTimesSay() {
        var h = Harness()
        h.send(.connected)
        let g = ControlMessage.Grant(station: Harness.station, session: "s1", endsAt: h.hubTime(plusMillis: 9_999_000),
                                     remainingSeconds: 60, sentAt: h.hubTime())
        h.control(.unlock(g))
        h.advance(seconds: 60)
        #expect(h.core.isLocked)
    }

    @Test func brokerLossDoesNotStopTheLeaseAndTheHubsWordWinsOnReturn() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.send(.disconnected)
        #expect(h.overlay?.hubReachable == false)
        #expect(h.overlay?.offlineText == "Hub offline - your time keeps running")
        h.advance(seconds: 100)
        #expect(h.overlay?.remainingSeconds == 500)
        h.send(.connected)
        // Meanwhile staff added 10 minutes: the hub's unlock on reconnect says 1100 s left.
        h.unlock(seconds: 1100)
        #expect(h.overlay?.remainingSeconds == 1100)
        h.send(.disconnected)
        h.advance(seconds: 1100)
        #expect(h.lockReason == .expired)
    }

    @Test func brokerLossThenTheSessionWasStoppedConverges() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.send(.disconnected)
        h.advance(seconds: 30)
        h.send(.connected)
        h.lock(.idle, session: nil)
        #expect(h.lockReason == .idle)
    }

    @Test func hubOfflineStatusIsShownButChangesNoTime() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.send(.message(topic: Harness.topics.hubStatus, payload: Array("offline".utf8), retained: true))
        #expect(h.overlay?.hubReachable == false)
        h.advance(seconds: 600)
        #expect(h.lockReason == .expired)
        h.send(.message(topic: Harness.topics.hubStatus, payload: Array("online".utf8), retained: true))
        #expect(h.core.hubReachable)
    }

    @Test func countdownsKeepTheLeaseWithinASecondOfTheHub() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.advance(seconds: 10)
        // In step (590 s left, the hub says 590): nothing changes.
        h.countdown(remaining: 590)
        #expect(h.overlay?.remainingSeconds == 590)
        // The hub says less than the agent counts (the agent's timer ran slow): the hub wins.
        h.countdown(remaining: 580)
        #expect(h.overlay?.remainingSeconds == 580)
        // The hub says more (e.g. it corrected after a restart): the hub wins too.
        h.countdown(remaining: 700)
        #expect(h.overlay?.remainingSeconds == 700)
        // Another session's countdown, a paused one, or none at all changes nothing.
        h.countdown(session: "other", remaining: 5)
        h.countdown(remaining: 5, paused: true)
        h.countdown(session: nil, remaining: 0)
        #expect(h.overlay?.remainingSeconds == 700)
    }

    @Test func wallClockJumpsChangeNothingAndAreReported() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        // Someone sets the PC's clock back two hours, then forward a day.
        h.now.wallMillis -= 2 * 3_600_000
        h.send(.tick)
        h.advance(seconds: 10)
        h.now.wallMillis += 86_400_000
        h.send(.tick)
        #expect(h.reports.map(\.report) == [.tamper(.wallClockChanged)], "reported once per minute, not per jump")
        #expect(h.core.heartbeat(now: h.now).info["tamper"] == .array(["wall_clock_changed"]))
        h.advance(seconds: 290)
        #expect(h.overlay?.remainingSeconds == 300)
        h.advance(seconds: 300)
        #expect(h.core.isLocked, "the lease follows the monotonic clock only")
    }

    @Test func warnsFromTheHubAndByItselfOnce() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 400)
        h.advance(seconds: 100)
        // The hub's 5-minute warning.
        h.control(.warn(h.grant(seconds: 300), thresholdSeconds: 300))
        #expect(h.overlay?.notice == "5 minutes left")
        h.advance(seconds: 21)
        #expect(h.overlay?.notice == nil, "a notice shows for notice_s")
        // The hub is gone before the 1-minute warning: the agent warns by itself.
        h.send(.disconnected)
        h.advance(seconds: 219)
        #expect(h.overlay?.notice == "1 minute left")
        #expect(h.overlay?.remainingSeconds == 60)
    }

    @Test func aShortSessionSkipsWarningsAboveItsLength() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 180)
        h.advance(seconds: 1)
        #expect(h.overlay?.notice == nil, "no 5-minute warning for a 3-minute session")
        h.advance(seconds: 120)
        #expect(h.overlay?.notice == "1 minute left")
    }

    @Test func extendReArmsWarningsAndMovesTheEnd() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 100)
        h.advance(seconds: 50)
        #expect(h.overlay?.notice == "1 minute left")
        h.control(.extend(h.grant(seconds: 650), addedSeconds: 600))
        #expect(h.overlay?.notice == nil)
        #expect(h.overlay?.remainingSeconds == 650)
        h.advance(seconds: 350)
        #expect(h.overlay?.notice == "5 minutes left")
        h.advance(seconds: 300)
        #expect(h.core.isLocked)
    }

    @Test func pauseLocksAndResumeUnlocks() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.advance(seconds: 100)
        h.lock(.paused)
        #expect(h.lockReason == .paused)
        h.advance(seconds: 1000)
        #expect(h.lockReason == .paused, "no lease while paused")
        h.unlock(seconds: 500)
        #expect(h.overlay?.remainingSeconds == 500)
    }
}

@Suite("Agent core: restart from the lease file")
struct AgentRestartTests {
    @Test func savesTheLeaseAndRestoresItOnTheSameBoot() throws {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        let saved = try #require(h.savedLeases.last)
        #expect(saved.session == "s1")
        // The file survives the round trip.
        let reread = try LeaseRecord(bytes: saved.bytes)
        #expect(reread == saved)
        // Killed 30 s later and restarted, hub unreachable.
        var later = h.now.adding(milliseconds: 30_000)
        later.wallMillis += 3_600_000  // and someone moved the clock: irrelevant
        var settings = h.core.settings
        settings.stationName = "PC 01"
        let restarted = AgentCore(settings: settings, bootID: Harness.boot, restored: .record(reread), now: later)
        #expect(!restarted.isLocked)
        if case .unlocked(let o) = restarted.screen(now: later) { #expect(o.remainingSeconds == 570) }
    }

    @Test func lockingSavesALockedRecord() throws {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        h.lock(.stopped)
        let saved = try #require(h.savedLeases.last)
        #expect(saved.session == nil)
        #expect(saved.deadlineMonoNanos == nil)
        let restarted = AgentCore(settings: h.core.settings, bootID: Harness.boot, restored: .record(saved), now: h.now)
        #expect(restarted.isLocked)
    }

    @Test func anotherBootAnExpiredLeaseOrAnotherStationStartLocked() {
        let h = Harness()
        let record = LeaseRecord(station: Harness.station, session: "s1", bootID: Harness.boot,
                                 deadlineMonoNanos: h.now.monoNanos + 60_000_000_000, savedAt: "")
        #expect(!AgentCore(settings: h.core.settings, bootID: Harness.boot, restored: .record(record), now: h.now).isLocked)
        #expect(AgentCore(settings: h.core.settings, bootID: "boot-2", restored: .record(record), now: h.now).isLocked,
                "after a reboot the boot-time clock means nothing: locked")
        #expect(AgentCore(settings: h.core.settings, bootID: Harness.boot, restored: .record(record),
                          now: h.now.adding(milliseconds: 60_000)).isLocked)
        var foreign = record
        foreign.station = StationID("PC-02")!
        #expect(AgentCore(settings: h.core.settings, bootID: Harness.boot, restored: .record(foreign), now: h.now).isLocked)
    }

    @Test func aRejectedLeaseFileLocksAndIsReportedOnceConnected() {
        var h = Harness(restored: .rejected("lease file is writable by others"))
        #expect(h.core.isLocked)
        h.send(.connected)
        #expect(h.reports.map(\.report) == [.tamper(.leaseFileRejected)])
    }

    @Test func damagedLeaseFilesAreRefused() {
        for text in ["", "{", "[]", #"{"station":"PC 01","boot_id":"b"}"#, #"{"station":"PC-01"}"#,
                     #"{"station":"PC-01","boot_id":"b","session":"s1"}"#,
                     #"{"station":"PC-01","boot_id":"b","session":"s1","deadline_boottime_ns":1.5}"#] {
            #expect(throws: LeaseRecord.DecodingError.self) { try LeaseRecord(bytes: Array(text.utf8)) }
        }
        #expect(throws: LeaseRecord.DecodingError.self) { try LeaseRecord(bytes: [UInt8](repeating: 32, count: 5000)) }
    }

    @Test func theLeaseIsNotRewrittenOnEveryCountdown() {
        var h = Harness()
        h.send(.connected)
        h.unlock(seconds: 600)
        for _ in 0..<30 {
            h.advance(seconds: 1)
            h.countdown(remaining: h.overlay!.remainingSeconds)
        }
        #expect(h.savedLeases.count == 1)
    }
}

@Suite("Agent core: what it ignores")
struct AgentIgnoresTests {
    @Test func malformedForeignRetainedAndHugeControlMessagesChangeNothing() {
        var h = Harness()
        h.send(.connected)
        let topic = Harness.topics.control(Harness.station)
        let other = ControlMessage.unlock(.init(station: StationID("PC-02")!, session: "x", endsAt: nil, remainingSeconds: 600,
                                                sentAt: h.hubTime()))
        let payloads: [[UInt8]] = [
            Array("not json".utf8), Array("[]".utf8), Array(#"{"action":"unlock"}"#.utf8),
            Array(#"{"action":"dance","station":"PC-01","sent_at":"x"}"#.utf8),
            Array(#"{"action":"unlock","station":"PC-01","session":"s","remaining_s":"lots","sent_at":"x"}"#.utf8),
            Array(#"{"action":"unlock","station":"PC-01","session":"s","remaining_s":1e400,"sent_at":"x"}"#.utf8),
            other.payload,
            Array(#"{"action":"unlock","station":"PC-01","session":"s","remaining_s":600,"sent_at":"x","pad":""#.utf8)
                + [UInt8](repeating: 97, count: 5000) + Array(#""}"#.utf8),
        ]
        for p in payloads { h.send(.message(topic: topic, payload: p, retained: false)) }
        // Another station's control topic, and a retained unlock (the hub never retains one).
        h.send(.message(topic: Harness.topics.control(StationID("PC-02")!), payload: h.grantPayload(), retained: false))
        h.send(.message(topic: topic, payload: h.grantPayload(), retained: true))
        #expect(h.core.isLocked)
        #expect(h.core.ignoredMessages == payloads.count + 2)
    }

    @Test func absurdRemainingIsCappedAtAWeek() {
        var h = Harness()
        h.send(.connected)
        h.control(.unlock(.init(station: Harness.station, session: "s1", endsAt: nil, remainingSeconds: Int64.max, sentAt: h.hubTime())))
        #expect(h.overlay?.remainingSeconds == Int64(7 * 86_400))
    }
}

extension Harness {
    func grantPayload() -> [UInt8] { ControlMessage.unlock(grant(seconds: 600)).payload }
}

@Suite("Agent core: presence, heartbeats, orders, tamper")
struct AgentPresenceTests {
    @Test func connectPublishesOnlineAndHeartbeatsWithTheRealLockState() throws {
        var h = Harness { $0.user = "kiosk" }
        h.send(.connected)
        #expect(h.published.first == AgentPublication(topic: "playclock/stations/PC-01/agent", payload: Array("online".utf8), qos: 1))
        #expect(h.core.will == AgentPublication(topic: "playclock/stations/PC-01/agent", payload: Array("offline".utf8), qos: 1))
        let first = try #require(h.heartbeats.first)
        #expect(first.seq == 1)
        #expect(first.locked == true)
        #expect(first.info["agent"] == "playclock-agent")
        #expect(first.info["version"] == "1.0.0")
        #expect(first.info["user"] == "kiosk")
        h.advance(seconds: 4.9)
        #expect(h.heartbeats.count == 1)
        h.advance(seconds: 0.1)
        #expect(h.heartbeats.count == 2)
        h.unlock(seconds: 600)
        h.advance(seconds: 5)
        let unlocked = try #require(h.heartbeats.last)
        #expect(unlocked.locked == false)
        #expect(unlocked.info["lease_s"] == .int(595))
        #expect(h.heartbeats.map(\.seq) == Array(1...Int64(h.heartbeats.count)))
    }

    @Test func noHeartbeatsWhileDisconnected() {
        var h = Harness()
        h.advance(seconds: 30)
        #expect(h.published.isEmpty)
    }

    @Test func ordersRunOnceAndAreConfirmed() throws {
        var h = Harness()
        h.send(.connected)
        let order = ControlMessage.Order(station: Harness.station, command: "c1", action: .shutdown, sentAt: h.hubTime())
        let first = h.control(.order(order))
        #expect(first.contains(.runOrder(order)))
        #expect(!h.control(.order(order)).contains(.runOrder(order)), "a redelivered order does not run twice")
        h.send(.orderFinished(order, failure: nil))
        h.send(.orderFinished(ControlMessage.Order(station: Harness.station, command: "c2", action: .restart, sentAt: ""),
                              failure: "no restart command is configured"))
        #expect(h.reports.map(\.report) == [.orderDone(command: "c1", action: .shutdown),
                                            .orderFailed(command: "c2", action: .restart, detail: "no restart command is configured")])
    }

    @Test func aStaffMessageShowsForAWhileAndIsConfirmed() {
        var h = Harness()
        h.send(.connected)
        h.control(.order(.init(station: Harness.station, command: "m1", action: .message, text: "Closing in 10 minutes", sentAt: h.hubTime())))
        if case .locked(let l) = h.screen { #expect(l.staffMessage == "Closing in 10 minutes") }
        h.unlock(seconds: 600)
        #expect(h.overlay?.staffMessage == "Closing in 10 minutes")
        h.advance(seconds: 30)
        #expect(h.overlay?.staffMessage == nil)
        #expect(h.reports.map(\.report) == [.orderDone(command: "m1", action: .message)])
    }

    @Test func logoutOnLockEndsTheDesktopSessionWhenASessionEnds() {
        var h = Harness { $0.policy.logoutOnLock = true }
        h.send(.connected)
        h.unlock(seconds: 60)
        h.advance(seconds: 60)
        #expect(h.actions.filter { $0 == .endDesktopSession }.count == 1)
        h.unlock(seconds: 60)
        h.lock(.paused)
        #expect(h.actions.filter { $0 == .endDesktopSession }.count == 1, "pausing keeps the customer's programs")
        h.lock(.maintenance)
        #expect(h.actions.filter { $0 == .endDesktopSession }.count == 1, "already locked")
    }

    @Test func tamperIsReportedOncePerMinuteAndQueuedWhileDisconnected() {
        var h = Harness()
        h.send(.tamper(.grabLost))
        #expect(h.reports.isEmpty)
        h.send(.connected)
        #expect(h.reports.map(\.report) == [.tamper(.grabLost)])
        for _ in 0..<100 { h.send(.tamper(.grabLost)) }
        #expect(h.reports.count == 1)
        #expect(h.core.heartbeat(now: h.now).info["tamper"] == .array(["grab_lost"]))
        h.advance(seconds: 60)
        h.send(.tamper(.grabLost))
        #expect(h.reports.count == 2)
        h.advance(seconds: 61)
        #expect(h.core.heartbeat(now: h.now).info["tamper"] == nil)
    }
}

@Suite("Agent core: when it needs the clock")
struct AgentWakeupTests {
    func wake(_ h: Harness) -> Double? {
        h.core.nextWakeup(now: h.now).map { Double($0 - h.now.monoNanos) / 1e9 }
    }

    @Test func lockedAndAloneItSleepsUntilSomethingHappens() {
        var h = Harness()
        #expect(wake(h) == 5, "only the end of the start-up grace")
        h.advance(seconds: 5)
        #expect(wake(h) == nil, "locked, no broker: nothing to do until an event")
        h.send(.connected)
        #expect(wake(h) == 5, "connected: the next heartbeat")
    }

    @Test func unlockedItWakesForTheOverlaysNextSecondAndTheEnd() {
        var h = Harness()
        h.send(.connected)
        h.lock(.idle, session: nil)
        let g = ControlMessage.Grant(station: Harness.station, session: "s1", endsAt: h.hubTime(plusMillis: 600_500),
                                     remainingSeconds: 601, sentAt: h.hubTime())
        h.control(.unlock(g))
        #expect(wake(h) == 0.5, "the overlay shows 601 until 600.000 s are left")
        h.advance(seconds: 0.5)
        #expect(h.overlay?.remainingSeconds == 600)
        #expect(wake(h) == 1)
        #expect(h.core.nextWakeup(now: h.now.adding(milliseconds: 299_999)) == h.now.monoNanos + 300_000_000_000,
                "the second the 300 s threshold falls on is a wake-up")
        h.advance(seconds: 300)
        #expect(h.overlay?.notice == "5 minutes left")
        h.send(.disconnected)
        h.advance(seconds: 299.5)
        #expect(wake(h) == 0.5, "the end, which is also the last second")
        h.advance(seconds: 0.5)
        #expect(h.core.isLocked)
        #expect(wake(h) == nil)
    }

    @Test func noticesAndMessagesEndOnAWakeUp() {
        var h = Harness()
        h.send(.connected)
        h.advance(seconds: 4)
        h.control(.order(.init(station: Harness.station, command: "m1", action: .message, text: "hi", sentAt: h.hubTime())))
        #expect(wake(h) == 1, "the heartbeat comes first")
        h.advance(seconds: 1)
        #expect(wake(h) == 5)
        h.send(.disconnected)
        #expect(wake(h) == 29, "then the message's end (message_s 30 s after it came)")
    }
}
