import PlayclockContract
@testable import PlayclockCore
import Testing

/// The per-station model: what occupies a station and what is known of its agent are enums, and
/// the few ways to change them keep the combinations the hub relies on.
@Suite("Station entry model")
struct StationEntryTests {
    private let t0 = Timestamp(wallMillis: startWallMillis, monoNanos: 1_000_000_000, bootID: "b")

    private func record(paused: Bool) -> SessionRecord {
        SessionRecord(id: "S-1", station: pc1, grantedMillis: 60_000, usedMillisAtAnchor: 0, anchor: t0, paused: paused,
                      startedAtWallMillis: t0.wallMillis)
    }

    @Test func holdingAPausedSessionSchedulesNoCountdown() {
        var entry = StationEntry(station: Station(id: pc1, name: "PC 01", kind: .pc), presence: .unknown(silenceDeadlineMonoNanos: nil))
        entry.hold(record(paused: true), nextCountdownMonoNanos: 5)
        guard case .paused = entry.occupancy else { Issue.record("a paused record is held paused"); return }
        #expect(entry.nextCountdownMonoNanos == nil)
        entry.hold(record(paused: false), nextCountdownMonoNanos: 5)
        #expect(entry.nextCountdownMonoNanos == 5)
        #expect(entry.session?.id == "S-1" && entry.expiredSession == nil)
    }

    @Test func anExpiredHoldIsNotASession() {
        var entry = StationEntry(station: Station(id: pc1, name: "PC 01", kind: .pc), presence: .offline(lastSeenMonoNanos: nil))
        entry.occupancy = .expired(session: "S-1", untilMonoNanos: 9)
        #expect(entry.session == nil && entry.expiredSession == "S-1" && entry.expiredUntilMonoNanos == 9)
        // Only a running session has a deadline of its own besides the hold's end.
        #expect(StationTable.deadline(of: entry, policy: HubPolicy()) == 9)
        entry.hold(record(paused: false), nextCountdownMonoNanos: 2)
        #expect(entry.expiredSession == nil && entry.expiredUntilMonoNanos == nil)
    }

    @Test func presenceKeepsWhatWasSeen() {
        var entry = StationEntry(station: Station(id: pc1, name: "PC 01", kind: .pc), presence: .unknown(silenceDeadlineMonoNanos: nil))
        #expect(entry.online == nil && entry.lastSeenMonoNanos == nil)
        entry.setSilenceDeadline(7)
        #expect(entry.presence == .unknown(silenceDeadlineMonoNanos: 7) && entry.online == nil)
        entry.presence = .online(lastSeenMonoNanos: 3, silenceDeadlineMonoNanos: 8)
        entry.setSilenceDeadline(nil)  // the broker went away
        #expect(entry.presence == .online(lastSeenMonoNanos: 3, silenceDeadlineMonoNanos: nil) && entry.online == true)
        entry.presence = .offline(lastSeenMonoNanos: entry.lastSeenMonoNanos)
        #expect(entry.lastSeenMonoNanos == 3 && entry.silenceDeadlineMonoNanos == nil && entry.online == false)
    }

    /// Every vendor's driver owns its topics: what it subscribes to, what its account may use.
    @Test(arguments: [
        PlugBinding.tasmota(topic: "ps5-01", relay: 2), .shelly1(id: "shelly-01", relay: 1), .shelly2(prefix: "lounge/ps5-02", switchID: 0),
    ])
    func driversKeepToTheirOwnTopics(binding: PlugBinding) {
        let driver = binding.driver
        #expect(driver.account == binding.account && !driver.account.isEmpty)
        for topic in driver.statusTopics(rpcSource: "playclock-hub") where topic != "playclock-hub/rpc" {
            #expect(topic.contains(driver.account), "\(topic)")
        }
        for message in driver.switchCommands(on: true, offTimer: .after(seconds: 60), rpcSource: "playclock-hub", rpcID: 1) {
            #expect(message.topic.contains(driver.account) && !message.retain && message.qos == .atLeastOnce)
            #expect(driver.aclTopics(rpcSource: "playclock-hub").contains { $0.hasPrefix("topic read") && Self.matches($0.dropFirst(11), message.topic) })
        }
    }

    private static func matches(_ filter: Substring, _ topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        for (i, level) in f.enumerated() {
            if level == "#" { return true }
            guard i < t.count, level == "+" || level == t[i] else { return false }
        }
        return f.count == t.count
    }
}

/// The runtime resubscribes to plug topics only when the plug index was rebuilt, which only a
/// station edit does; undoing a change undoes its rebuild too.
@Suite("Plug index generation")
struct PlugIndexGenerationTests {
    @Test func onlyStationEditsMoveTheGeneration() {
        var hub = TestHub(stations: allPlugStations)
        let atStart = hub.core.plugIndexGeneration
        _ = hub.request("session/start", ["station": .string(tasStation.value), "minutes": 30])
        _ = hub.request("session/stop", ["station": .string(tasStation.value)])
        #expect(hub.core.plugIndexGeneration == atStart, "sessions leave the plug topics alone")
        _ = hub.request("station/add", ["station": "PS-NEW", "kind": "console", "plug": ["type": "tasmota", "topic": "ps5new"]])
        #expect(hub.core.plugIndexGeneration == atStart + 1)
        #expect(hub.core.plugSubscriptions.contains("stat/ps5new/POWER1"))
        _ = hub.request("station/add", ["station": "PS-NEW", "kind": "console"])  // refused: exists
        #expect(hub.core.plugIndexGeneration == atStart + 1, "a refused edit rebuilds nothing")
    }

    @Test func rollingBackAChangeRestoresTheGeneration() {
        var hub = TestHub(stations: allPlugStations)
        let before = hub.core.plugIndexGeneration
        let subscriptions = hub.core.plugSubscriptions
        hub.core.beginChange()
        _ = hub.core.handle(.stationRemove(tasStation), verb: "station/remove", newSessionID: "S-x", now: hub.now)
        #expect(hub.core.plugIndexGeneration == before + 1)
        hub.core.rollbackChange()
        #expect(hub.core.plugIndexGeneration == before)
        #expect(hub.core.plugSubscriptions == subscriptions)
    }
}
