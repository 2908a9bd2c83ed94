import Foundation
import Hummingbird
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub
@testable import PlayclockWeb

@Suite struct LiveFeedTests {
    @Test(.timeLimit(.minutes(1))) func aWatcherGetsTheSnapshotThenEveryChangeInOrder() async throws {
        let fixture = try DashboardFixture()
        let start = await fixture.hub.watch()
        #expect(start.stations.compactMap { $0["station"]?.stringValue } == ["PC-01", "PC-02", "PC-03"])
        _ = await fixture.hub.request(verb: "session/start", payload: Array(#"{"station":"PC-02","minutes":30}"#.utf8),
                                      user: "max", via: "http")
        _ = await fixture.hub.request(verb: "station/remove", payload: Array(#"{"station":"PC-03"}"#.utf8), user: "max", via: "http")
        var seen: [LiveItem] = []
        for await item in start.changes {
            seen.append(item)
            if case .removed = item { break }
        }
        let states = seen.compactMap { item -> JSONValue? in
            if case .state(_, let json) = item { return try? JSONCoding.decode(json) }
            return nil
        }
        #expect(states.last?["station"] == "PC-02")
        #expect(states.last?["status"] == "active")
        let events = seen.compactMap { item -> String? in
            if case .event(let json) = item { return (try? JSONCoding.decode(json))?["type"]?.stringValue }
            return nil
        }
        #expect(events.contains("session.started"))
        #expect(events.contains("station.removed"))
        #expect(seen.last == .removed(station: "PC-03"))
    }

    @Test(.timeLimit(.minutes(1))) func aWatcherThatFallsBehindIsCutOffInsteadOfMissingChanges() async {
        let feed = LiveFeed(bufferSize: 3)
        let slow = feed.watch()
        for i in 0..<10 { feed.send(.broker(connected: i % 2 == 0)) }
        var received = 0
        for await _ in slow { received += 1 }  // ends: the feed finished it on overflow
        #expect(received == 3)
        #expect(feed.watcherCount == 0)
    }

    @Test(.timeLimit(.minutes(1))) func stoppingTheHubEndsEveryWatcherAndRefusesNewOnes() async {
        let feed = LiveFeed()
        let a = feed.watch(), b = feed.watch()
        #expect(feed.watcherCount == 2)
        feed.finishAll()
        for await _ in a {}
        for await _ in b {}
        var late = 0
        for await _ in feed.watch() { late += 1 }
        #expect(late == 0)
        #expect(feed.watcherCount == 0)
    }

    @Test func framesAreOneDataLineEach() {
        let frame = String(buffer: LiveEvents.frame(event: "state", data: Array("{\"a\":\"x\"}\n".utf8)))
        #expect(frame == "event: state\ndata: {\"a\":\"x\"}\n\n")
        #expect(String(buffer: LiveEvents.frame(.removed(station: "PC-01"))) == "event: removed\ndata: {\"station\":\"PC-01\"}\n\n")
        #expect(String(buffer: LiveEvents.comment("ping")) == ": ping\n\n")
    }
}
