import PlayclockContract
@testable import PlayclockCore
import Testing

// MARK: - Support

/// SplitMix64: a fixed seed gives the same operations on every run and every platform, so a
/// failure found here can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E5E6_2F3B
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The long-running tests here are CPU-bound; they let other work run now and then, or the
/// real-time hub tests running in parallel (on the same few cooperative threads) would see
/// their clocks jump by seconds.
func shareTheCPU(every period: Int, _ count: Int) async {
    if count % period == 0 { await Task.yield() }
}

/// Plug bindings whose topics name their station, so that a plug command can be traced back to it.
func tracedTasmota(_ id: StationID) -> PlugBinding { .tasmota(topic: "plug-\(id.value)", relay: 1) }
func tracedShelly2(_ id: StationID) -> PlugBinding { .shelly2(prefix: "sh/\(id.value)", switchID: 0) }

/// The station an action is about: its event's station, its hub topic's station level, or the
/// station named in a traced plug topic.
func stationOf(_ action: HubAction) -> StationID? {
    switch action {
    case .saveEvent(let e): return e.station
    case .saveSession(let s): return s.station
    case .saveStation(let s): return s.id
    case .deleteStation(let id): return id
    case .recordSale(let sale): return sale.station
    case .saveMember, .savePricing, .rememberRequest, .saveProduct, .deleteProduct, .saveShift: return nil
    case .publish(let o):
        let levels = o.topic.split(separator: "/").map(String.init)
        if levels.count >= 3, levels[0] == testTopics.root, levels[1] == "stations" { return StationID(levels[2]) }
        if levels.count >= 2, levels[0] == "cmnd", levels[1].hasPrefix("plug-") { return StationID(String(levels[1].dropFirst(5))) }
        if levels.count >= 3, levels[0] == "sh" { return StationID(levels[1]) }
        return nil
    }
}

/// The stations the actions are about, each run of consecutive actions for one station counted once.
func stationRuns(_ actions: [HubAction]) -> [StationID] {
    var runs: [StationID] = []
    for id in actions.compactMap(stationOf) where runs.last != id { runs.append(id) }
    return runs
}

extension TestHub {
    /// A command applied straight to the core (no JSON round trip), recorded in the store.
    @discardableResult
    mutating func command(_ command: Command) -> CommandOutcome {
        if case .sessionStart = command { sessionCounter += 1 }
        let outcome = core.handle(command, verb: "test", newSessionID: "S-\(sessionCounter)", now: now)
        record(outcome.actions)
        return outcome
    }

    @discardableResult
    mutating func plugMessage(_ report: (topic: String, payload: String)) -> [HubAction] {
        record(core.plugMessage(topic: report.topic, payload: Array(report.payload.utf8), now: now) ?? [])
    }

    /// Ticks and checks, against deadlines computed afresh before the tick, that only due stations
    /// fired, in order of (deadline, station id), each in one contiguous run of actions.
    @discardableResult
    mutating func checkedTick(sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        let t = now.monoNanos
        let due = core.stationIDs
            .compactMap { id in core.scannedDeadline(of: id).flatMap { $0 <= t ? (deadline: $0, id: id) : nil } }
            .sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            .map(\.id)
        let actions = tick()
        let runs = stationRuns(actions)
        #expect(Set(runs).count == runs.count, "a station fired in more than one run", sourceLocation: sourceLocation)
        #expect(Set(runs).isSubset(of: due), "a station that was not due fired", sourceLocation: sourceLocation)
        #expect(runs == due.filter(Set(runs).contains), "due stations fired out of deadline order", sourceLocation: sourceLocation)
        return actions
    }

    /// Every station's indexed deadline, the earliest one and the heap size, against the same
    /// things computed afresh. Returns false (having recorded why) on the first difference.
    func deadlineIndexMatchesScan(_ step: Int, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard core.nextDeadline() == core.scannedNextDeadline() else {
            let indexed = String(describing: core.nextDeadline()), scanned = String(describing: core.scannedNextDeadline())
            Issue.record("step \(step): nextDeadline \(indexed) but the scan says \(scanned)", sourceLocation: sourceLocation)
            return false
        }
        guard core.deadlineIndexIsConsistent() else {
            Issue.record("step \(step): a station's indexed deadline differs from its entry", sourceLocation: sourceLocation)
            return false
        }
        guard core.deadlineHeapCount <= 2 * core.stationIDs.count + 1025 else {
            Issue.record("step \(step): the deadline heap holds \(core.deadlineHeapCount) items", sourceLocation: sourceLocation)
            return false
        }
        return true
    }
}

/// Random staff commands, agent and plug traffic and the passing of time, drawn from a seeded
/// generator. Choices depend only on the generator and on the core's state, so two drivers with
/// the same seed do the same thing to two cores in the same state.
struct RandomOperations {
    var rng: SeededGenerator
    private var added = 0
    private var seq: Int64 = 0

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    private mutating func pick(_ hub: TestHub) -> StationID {
        hub.core.stationIDs.randomElement(using: &rng) ?? pc1
    }

    /// One operation; `tick` decides how ticks happen (checked or not).
    mutating func step(_ hub: inout TestHub, tick: (inout TestHub) -> [HubAction]) -> [HubAction] {
        let id = pick(hub)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<14:
            return hub.command(.sessionStart(id, seconds: Int64.random(in: 1...900, using: &rng))).actions
        case 14..<19:
            return hub.command(.sessionExtend(id, seconds: Int64.random(in: 1...400, using: &rng))).actions
        case 19..<24:
            return hub.command(.sessionPause(id)).actions
        case 24..<29:
            return hub.command(.sessionResume(id)).actions
        case 29..<33:
            return hub.command(.sessionStop(id)).actions
        case 33..<35:
            return hub.command(.sessionTransfer(from: id, to: pick(hub))).actions
        case 35..<37:
            return hub.command(.stationMaintenance(id, enabled: Bool.random(using: &rng))).actions
        case 37..<52:
            seq += 1
            let locked = Bool.random(using: &rng) ? "true" : "false"
            let payload = Array(#"{"seq":\#(seq),"locked":\#(locked)}"#.utf8)
            return hub.record((try? hub.core.heartbeat(station: id.value, payload: payload, now: hub.now)) ?? [])
        case 52..<55:
            let presence = Bool.random(using: &rng) ? "online" : "offline"
            return hub.record((try? hub.core.agentPresence(station: id.value, payload: Array(presence.utf8), now: hub.now)) ?? [])
        case 55..<63:
            guard let binding = plugBinding(of: id, hub) else { return [] }
            let report = Bool.random(using: &rng)
                ? powerReport(binding, on: Bool.random(using: &rng))
                : onlineReport(binding, online: Int.random(in: 0..<4, using: &rng) > 0)
            return hub.plugMessage(report)
        case 63..<66:
            added += 1
            let new = StationID("NEW-\(added)")!
            let plug: PlugBinding? = [nil, tracedTasmota(new), tracedShelly2(new)].randomElement(using: &rng)!
            let kind: StationKind = Bool.random(using: &rng) ? .pc : .console
            return hub.command(.stationAdd(id: new, name: new.value, kind: kind, plug: plug)).actions
        case 66..<68:
            return hub.command(.stationRemove(id)).actions
        case 68..<70:
            let plug: Command.PlugUpdate = [.remove, .set(tracedTasmota(id)), .set(tracedShelly2(id))].randomElement(using: &rng)!
            return hub.command(.stationUpdate(id, name: nil, kind: nil, plug: plug)).actions
        case 70..<80:
            hub.advance(millis: Int64.random(in: 0...20_000, using: &rng))
            return []
        case 80..<88:
            return tick(&hub)
        default:
            // Straight to the next deadline, as the runtime's timer does.
            if let d = hub.core.nextDeadline(), d > hub.now.monoNanos, d - hub.now.monoNanos <= 60_000_000_000 {
                hub.clock.advance(toMono: d)
            }
            return tick(&hub)
        }
    }

    private func plugBinding(of id: StationID, _ hub: TestHub) -> PlugBinding? {
        guard let plug = hub.core.stationState(id, now: hub.now)?["plug"], plug != .null else { return nil }
        return try? PlugBinding.parse(plug)
    }
}

/// Stations of every kind: agents that heartbeat, consoles without an agent, plugs of two makes.
func mixedStations(count: Int) -> [Station] {
    (0..<count).map { i in
        let id = StationID("ST-\(1000 + i)")!
        switch i % 4 {
        case 0, 1: return Station(id: id, name: id.value, kind: .pc)
        case 2: return Station(id: id, name: id.value, kind: .console, plug: i % 8 == 2 ? tracedTasmota(id) : tracedShelly2(id))
        default: return Station(id: id, name: id.value, kind: .console)
        }
    }
}

func mixedPolicy() -> HubPolicy {
    var policy = HubPolicy()
    policy.plugOffDelaySeconds = 30
    return policy
}

// MARK: - The deadline index

@Suite("Deadline index")
struct DeadlineIndexTests {
    static let second: Int64 = 1_000_000_000

    @Test func queueHandsOutDueStationsInDeadlineThenIDOrder() {
        var queue = DeadlineQueue()
        let a = StationID("A")!, b = StationID("B")!, c = StationID("C")!, d = StationID("D")!
        queue.set(30, for: c)
        queue.set(10, for: b)
        queue.set(10, for: a)
        queue.set(50, for: d)
        #expect(queue.earliest == 10)
        #expect(queue.removeDue(through: 30) == [a, b, c])
        #expect(queue.earliest == 50)
        #expect(queue.deadline(of: a) == nil)
        #expect(queue.removeDue(through: 49).isEmpty)
    }

    @Test func queueHandsOutAStationOnceEvenIfItsDeadlineCameBack() {
        var queue = DeadlineQueue()
        let a = StationID("A")!, b = StationID("B")!
        queue.set(10, for: a)
        queue.set(20, for: a)
        queue.set(10, for: a)
        queue.set(15, for: b)
        queue.set(nil, for: b)
        #expect(queue.earliest == 10)
        #expect(queue.removeDue(through: 100) == [a])
        #expect(queue.earliest == nil)
        #expect(queue.heapCount == 0)
    }

    @Test func queueDropsOutdatedItemsAtTheTopAndCompactsTheRest() {
        var queue = DeadlineQueue()
        let ids = (0..<10).map { StationID("Q-\($0)")! }
        for round in Int64(0)..<5_000 {
            for (i, id) in ids.enumerated() { queue.set(1_000_000 - round * 10 + Int64(i), for: id) }
            #expect(queue.heapCount <= 2 * ids.count + 1025)
        }
        // Every deadline moved earlier each round, so the outdated items are all below the top.
        #expect(queue.earliest == Int64(950_010))
        for (i, id) in ids.enumerated() { queue.set(2_000_000 + Int64(i), for: id) }
        #expect(queue.earliest == 2_000_000)
        #expect(queue.removeDue(through: 2_000_004) == Array(ids[0...4]))
    }

    /// Random operations against a brute-force reference: after every one the index agrees with
    /// deadlines computed afresh for every station, and every tick fires exactly the due stations
    /// in (deadline, id) order.
    @Test(arguments: [UInt64(1), 2, 3])
    func indexAgreesWithAScanAfterRandomOperations(seed: UInt64) async {
        var hub = TestHub(policy: mixedPolicy(), stations: mixedStations(count: 40))
        var ops = RandomOperations(seed: seed)
        for step in 0..<2_000 {
            _ = ops.step(&hub) { $0.checkedTick() }
            guard hub.deadlineIndexMatchesScan(step) else { return }
            await shareTheCPU(every: 20, step)
        }
    }

    @Test func manyStationsWithRandomDeadlinesFireInDeadlineOrder() async throws {
        var rng = SeededGenerator(seed: 42)
        let stations = (0..<600).map { Station(id: StationID("R-\(1000 + $0)")!, name: "R", kind: .pc) }
        var hub = TestHub(stations: stations)
        for station in stations.shuffled(using: &rng) {
            hub.advance(millis: Int64.random(in: 0...400, using: &rng))
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: hub.start(station.id, seconds: Int64.random(in: 1...120, using: &rng))
            case 1: try hub.heartbeat(station.id, #"{"seq":1}"#)
            default: break
            }
        }
        // Everything due at once: one tick must fire them all, earliest deadline first.
        let due = stations.compactMap { s in hub.core.scannedDeadline(of: s.id).map { (deadline: $0, id: s.id) } }
        #expect(due.count > 300)
        hub.advance(seconds: 3_600)
        let actions = hub.checkedTick()
        let expected = due.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }.map(\.id)
        #expect(stationRuns(actions) == expected)
        #expect(hub.deadlineIndexMatchesScan(0))

        // Then follow the deadlines one by one, as the runtime's timer does, until nothing is left.
        var ticks = 0
        while let d = hub.core.nextDeadline() {
            ticks += 1
            guard ticks < 100_000 else {
                Issue.record("deadlines never settle")
                break
            }
            #expect(d >= hub.now.monoNanos)
            hub.clock.advance(toMono: d)
            #expect(!hub.checkedTick().isEmpty)
            guard hub.deadlineIndexMatchesScan(ticks) else { break }
            await shareTheCPU(every: 20, ticks)
        }
        #expect(stations.allSatisfy { hub.core.session(at: $0.id) == nil })
    }

    /// A station put back with a deadline that is already due is not handed out again by the same
    /// call: that is what keeps one tick from looping on a deadline that does not move.
    @Test func aDeadlineDueAgainWaitsForTheNextRemoval() {
        var queue = DeadlineQueue()
        let a = StationID("A")!, b = StationID("B")!
        queue.set(10, for: a)
        queue.set(20, for: b)
        let due = queue.removeDue(through: 30)
        #expect(due == [a, b])
        queue.set(10, for: a)
        queue.set(nil, for: b)
        #expect(queue.earliest == 10)
        #expect(queue.removeDue(through: 30) == [a])
    }

    /// One tick fires every due station once, in deadline order, and leaves nothing due.
    @Test func oneTickFiresEveryDueStationOnce() throws {
        var hub = TestHub()
        hub.start(pc1, seconds: 600)
        hub.start(pc2, seconds: 5)
        try hub.heartbeat(ps1, #"{"seq":1}"#)
        hub.advance(seconds: 3_600)
        let first = hub.checkedTick()
        #expect(first.events("session.expired").map(\.station) == [pc2, pc1])
        // The first tick expired both and took ps1 offline; only the expiry holds are left.
        #expect(hub.core.nextDeadline().map { $0 > hub.now.monoNanos } == true)
        #expect(hub.checkedTick().isEmpty)
    }
}

// MARK: - Changes and rollback

@Suite("Change rollback")
struct ChangeRollbackTests {
    struct Snapshot: Equatable {
        var ids: [StationID]
        var states: [JSONValue?]
        var sessions: [SessionRecord?]
        var deadlines: [Int64?]
        var next: Int64?
        var plugTopics: Set<String>
    }

    /// Everything observable about the core, rendered at a fixed instant so that the clock moving
    /// on during the change does not show in the comparison.
    static func snapshot(_ core: HubCore, at now: Timestamp) -> Snapshot {
        let ids = core.stationIDs
        return Snapshot(
            ids: ids, states: ids.map { core.stationState($0, now: now) }, sessions: ids.map { core.session(at: $0) },
            deadlines: ids.map { core.indexedDeadline(of: $0) }, next: core.nextDeadline(), plugTopics: core.plugSubscriptions)
    }

    /// A venue mid-evening: sessions running and paused, agents online, plugs confirmed.
    static func busyHub() async -> TestHub {
        var hub = TestHub(policy: mixedPolicy(), stations: mixedStations(count: 24))
        var ops = RandomOperations(seed: 7)
        for step in 0..<400 {
            _ = ops.step(&hub) { $0.tick() }
            await shareTheCPU(every: 50, step)
        }
        return hub
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func rollbackRestoresEveryStationDeadlineAndCounter(seed: UInt64) async throws {
        var hub = await Self.busyHub()
        let t0 = hub.now
        let before = Self.snapshot(hub.core, at: t0)
        let reference = hub.core
        #expect(before.sessions.contains { $0 != nil })

        hub.core.beginChange()
        var ops = RandomOperations(seed: seed)
        var changed = 0
        for _ in 0..<150 { changed += ops.step(&hub) { $0.tick() }.count }
        #expect(changed > 0)
        #expect(Self.snapshot(hub.core, at: t0) != before)
        hub.core.rollbackChange()

        #expect(Self.snapshot(hub.core, at: t0) == before)
        #expect(hub.deadlineIndexMatchesScan(0))

        // The counters and the plug index came back too: from here on the rolled-back core and a
        // copy taken before the change answer everything identically (event ids, RPC ids, routing).
        var original = hub
        original.core = reference
        var replayA = RandomOperations(seed: seed &+ 100)
        var replayB = RandomOperations(seed: seed &+ 100)
        for step in 0..<300 {
            let a = replayA.step(&hub) { $0.tick() }
            let b = replayB.step(&original) { $0.tick() }
            guard a == b else {
                Issue.record("step \(step): the rolled-back core and the original diverge")
                return
            }
            await shareTheCPU(every: 50, step)
        }
        #expect(hub.store.events.count == original.store.events.count)
    }

    @Test func rollbackUndoesOnlyTheOpenChange() async throws {
        var hub = await Self.busyHub()
        let idle = try #require(hub.core.stationIDs.first { hub.core.session(at: $0) == nil && hub.status($0) != "maintenance" })
        hub.core.beginChange()
        hub.command(.sessionStart(idle, seconds: 600))
        hub.core.commitChange()
        let committed = Self.snapshot(hub.core, at: hub.now)
        let t0 = hub.now
        let nextEvent = hub.core.rejected(verb: "probe-1", error: CommandError(.invalidRequest, "probe"), now: t0).events.first?.id

        hub.core.beginChange()
        _ = hub.core.rejected(verb: "probe-2", error: CommandError(.invalidRequest, "probe"), now: t0)
        hub.command(.sessionStop(idle))
        hub.command(.stationRemove(idle))
        hub.command(.stationAdd(id: StationID("LATE")!, name: "late", kind: .pc, plug: tracedShelly2(StationID("LATE")!)))
        hub.advance(seconds: 900)
        hub.tick()
        hub.core.rollbackChange()

        #expect(Self.snapshot(hub.core, at: t0) == committed)
        #expect(hub.core.session(at: idle) != nil)
        let again = hub.core.rejected(verb: "probe-3", error: CommandError(.invalidRequest, "probe"), now: t0).events.first?.id
        #expect(again == nextEvent.map { $0 + 1 })
    }

    /// The runtime's retry after a store failure on the timer: the rolled-back tick fires the same
    /// stations again with the same actions.
    @Test func aRolledBackTickFiresAgainTheSameWay() async throws {
        var hub = await Self.busyHub()
        hub.advance(seconds: 120)
        hub.core.beginChange()
        let first = hub.core.tick(now: hub.now)
        hub.core.rollbackChange()
        #expect(!first.isEmpty)
        hub.core.beginChange()
        let second = hub.core.tick(now: hub.now)
        hub.core.commitChange()
        #expect(first == second)
        #expect(hub.deadlineIndexMatchesScan(0))
    }
}

// MARK: - Scale

@Suite("Scale")
struct ScaleTests {
    /// 10,000 stations, each with a session that runs out within a few simulated minutes, driven
    /// by the timer deadline to deadline: every session expires exactly once and is locked exactly
    /// once. (No timing is asserted; a scan per tick would make this run for a very long time.)
    ///
    /// The countdown and heartbeat cadences are slower than a venue's: the payloads are JSON
    /// encoded and decoded for real, and at the default cadences that work, not the deadline
    /// index under test, would take most of a minute in a debug build.
    @Test func tenThousandSessionsExpireOnceEach() async throws {
        var policy = HubPolicy()
        policy.countdownIntervalSeconds = 60
        policy.finalPhaseSeconds = 30
        policy.finalCountdownIntervalSeconds = 15
        policy.heartbeatIntervalSeconds = 45
        var rng = SeededGenerator(seed: 10_000)
        let stations = (0..<10_000).map { i -> Station in
            let id = StationID("S\(10_000 + i)")!
            return Station(id: id, name: id.value, kind: i % 2 == 0 ? .pc : .console)
        }
        var hub = TestHub(policy: policy, stations: stations)
        var expectedSessions: Set<String> = []
        for (i, station) in stations.enumerated() {
            await shareTheCPU(every: 100, i)
            hub.advance(millis: Int64.random(in: 0...2, using: &rng))
            hub.command(.sessionStart(station.id, seconds: Int64.random(in: 60...180, using: &rng)))
            expectedSessions.insert("S-\(hub.sessionCounter)")
        }
        #expect(expectedSessions.count == 10_000)
        #expect(stations.allSatisfy { hub.core.session(at: $0.id) != nil })

        let lockBytes = Array(#""lock""#.utf8)
        var expired: [String: Int] = [:]
        var locks: [String: Int] = [:]
        let end = hub.now.monoNanos + 4 * 60 * 1_000_000_000
        var heartbeatDue = hub.now.monoNanos
        var seq: Int64 = 0
        var ticks = 0
        while let d = hub.core.nextDeadline(), d <= end {
            ticks += 1
            guard ticks < 2_000_000 else {
                Issue.record("deadlines never settle")
                break
            }
            hub.clock.advance(toMono: max(d, hub.now.monoNanos))
            // Every agent heartbeats on time, as the PCs of a full venue would.
            if hub.now.monoNanos >= heartbeatDue {
                seq += 1
                for (i, station) in stations.enumerated() where station.kind == .pc {
                    try hub.heartbeat(station.id, #"{"seq":\#(seq)}"#)
                    await shareTheCPU(every: 200, i)
                }
                heartbeatDue += policy.heartbeatIntervalSeconds * 1_000_000_000
            }
            let actions = hub.tick()
            await shareTheCPU(every: 50, ticks)
            for event in actions.events where event.type == "session.expired" { expired[event.session ?? "", default: 0] += 1 }
            // Only a lock has `"lock"` as a whole JSON string ("unlock" does not match with the quote).
            for control in actions.outbounds where control.topic.hasSuffix("/control") && control.payload.contains(lockBytes) {
                guard let json = control.json, json["action"] == "lock", let session = json["session"]?.stringValue else { continue }
                #expect(json["reason"] == "expired")
                locks[session, default: 0] += 1
            }
        }

        #expect(Set(expired.keys) == expectedSessions)
        #expect(expired.values.allSatisfy { $0 == 1 })
        #expect(Set(locks.keys) == expectedSessions)
        #expect(locks.values.allSatisfy { $0 == 1 })
        #expect(stations.allSatisfy { hub.core.session(at: $0.id) == nil })
        #expect(hub.store.sessions.values.allSatisfy { $0.endReason == .expired })
        #expect(hub.core.deadlineHeapCount <= 2 * stations.count + 1025)
    }
}
