import Foundation
import PlayclockContract
import PlayclockCore
import PlayclockSQLite
import Testing

@testable import PlayclockHub

@Suite struct HubStorePruneTests {
    /// A venue database plus `count` more events, one a second from `at(10)`, ids 3...
    func database(events count: Int) throws -> (TemporaryDatabase, HubStore) {
        let db = try venueDatabase()
        let store = try HubStore(path: db.path)
        try store.apply((0..<count).map { i in
            .saveEvent(HubEvent(id: Int64(3 + i), type: "station.offline", atWallMillis: at(10 + Int64(i)).wallMillis,
                                station: StationID("PC-02"), session: nil, data: [:]))
        })
        return (db, store)
    }

    func ids(_ store: HubStore) throws -> [Int64] { try store.events(limit: 10_000).map(\.id) }

    /// What must survive any prune: everything but the events table.
    func paidState(_ path: String) throws -> [String] { try dump(path).filter { !$0.hasPrefix("events ") } }

    @Test func byAgeDeletesOnlyEventsOlderThanTheCutoff() throws {
        let (db, store) = try database(events: 10)  // ids 1, 2 at at(0), at(1); 3...12 at at(10)...at(19)
        let before = try paidState(db.path)
        #expect(try store.pruneEvents(olderThanWallMillis: at(15).wallMillis, keepingAtMost: 1_000_000) == 7)
        #expect(try ids(store) == Array(8...12))
        #expect(try store.pruneEvents(olderThanWallMillis: at(15).wallMillis, keepingAtMost: 1_000_000) == 0, "nothing left to prune")
        #expect(try paidState(db.path) == before)
        #expect(try store.runningSessions().count == 2)
        #expect(try store.lastAlive() == at(2))
    }

    @Test func byCountKeepsTheNewestRows() throws {
        let (db, store) = try database(events: 23)  // 25 events, ids 1...25
        let before = try paidState(db.path)
        #expect(try store.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 10) == 15)
        #expect(try ids(store) == Array(16...25))
        #expect(try store.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 10) == 0)
        #expect(try store.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 25) == 0)
        #expect(try paidState(db.path) == before)
        // The next event the core writes still gets a fresh id.
        #expect(try store.lastEventID() == 25)
    }

    /// Oldest by id, not by time: a wall clock set back must not make the newest events go first.
    @Test func byCountGoesByIdNotByTime() throws {
        let (_, store) = try database(events: 0)
        try store.apply([.saveEvent(HubEvent(id: 3, type: "a", atWallMillis: 5, station: nil, session: nil, data: [:]))])
        #expect(try store.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 2) == 1)
        #expect(try ids(store) == [2, 3])
    }

    @Test func ageAndCountTogether() throws {
        let (_, store) = try database(events: 10)  // ids 1...12
        // Age removes 1...5 (before at(13)); then 7 remain and 4 are kept.
        #expect(try store.pruneEvents(olderThanWallMillis: at(13).wallMillis, keepingAtMost: 4) == 8)
        #expect(try ids(store) == Array(9...12))
    }

    @Test func eachCallIsBoundedAndWorksInBatches() throws {
        let (db, store) = try database(events: 48)  // 50 events
        let before = try paidState(db.path)
        let changesBefore = try store.db.queryOne("SELECT total_changes() AS n")?.int("n") ?? 0
        #expect(try store.pruneEvents(olderThanWallMillis: .max, keepingAtMost: 1_000_000, batchSize: 7, budget: 20) == 20)
        #expect(try ids(store) == Array(21...50), "the oldest go first")
        #expect(try store.db.queryOne("SELECT total_changes() AS n")?.int("n") == changesBefore + 20)
        #expect(try store.pruneEvents(olderThanWallMillis: .max, keepingAtMost: 1_000_000, batchSize: 7, budget: 20) == 20)
        #expect(try store.pruneEvents(olderThanWallMillis: .max, keepingAtMost: 1_000_000, batchSize: 7, budget: 20) == 10)
        #expect(try store.pruneEvents(olderThanWallMillis: .max, keepingAtMost: 1_000_000, batchSize: 7, budget: 20) == 0)
        #expect(try ids(store).isEmpty)

        let (_, counted) = try database(events: 48)
        #expect(try counted.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 5, batchSize: 4, budget: 30) == 30)
        #expect(try counted.pruneEvents(olderThanWallMillis: 0, keepingAtMost: 5, batchSize: 4, budget: 30) == 15)
        #expect(try ids(counted) == Array(46...50))
        #expect(try paidState(db.path) == before)
    }

    @Test func migrationFourIndexesEventsByTime() throws {
        let (_, store) = try database(events: 0)
        #expect(try store.db.userVersion >= 4)
        #expect(try store.db.queryOne("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'events_at'") != nil)
        let plan = try store.db.query("EXPLAIN QUERY PLAN SELECT id FROM events WHERE at_ms < 5 ORDER BY at_ms, id LIMIT 10")
            .compactMap { $0.string("detail") }.joined(separator: " | ")
        #expect(plan.contains("events_at"), "\(plan)")
    }
}
