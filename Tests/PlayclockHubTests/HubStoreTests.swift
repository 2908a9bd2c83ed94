import Foundation
import Logging
import PlayclockCore
import Testing

@testable import PlayclockHub

/// A fresh directory with a database path in it, removed afterwards.
final class TemporaryDatabase {
    let directory: URL
    var path: String { directory.appendingPathComponent("playclock.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hubstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// A database that already holds the given PC stations.
    static func with(stations ids: [String]) throws -> TemporaryDatabase {
        let db = try TemporaryDatabase()
        let store = try HubStore(path: db.path)
        try store.importStations(ids.map { station($0) })
        store.close()
        return db
    }
}

/// Hub logs in tests: warnings and worse only.
let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    return logger
}()

let boot = "boot-a"
func at(_ seconds: Int64, boot: String = boot) -> Timestamp {
    Timestamp(wallMillis: 1_800_000_000_000 + seconds * 1000, monoNanos: 5_000_000_000 + seconds * 1_000_000_000, bootID: boot)
}

func station(_ id: String, kind: StationKind = .pc) -> Station {
    Station(id: StationID(id)!, name: "Station \(id)", kind: kind)
}

@Suite struct HubStoreTests {
    @Test func stationsSessionsEventsAndAliveSurviveReopening() throws {
        let db = try TemporaryDatabase()
        let session = SessionRecord(
            id: "s1", station: StationID("PC-01")!, grantedMillis: 3_600_000, usedMillisAtAnchor: 61_500, anchor: at(10),
            paused: true, startedAtWallMillis: at(0).wallMillis, warnedThresholds: [60, 300])
        let ended = SessionRecord(
            id: "s0", station: StationID("PC-02")!, grantedMillis: 60_000, usedMillisAtAnchor: 60_000, anchor: at(5),
            paused: false, startedAtWallMillis: at(-55).wallMillis, endedAtWallMillis: at(5).wallMillis, endReason: "expired")
        let event = HubEvent(id: 7, type: "session.started", atWallMillis: at(0).wallMillis, station: StationID("PC-01"), session: "s1",
                             data: ["granted_s": 3600])
        do {
            let store = try HubStore(path: db.path)
            try store.apply([
                .saveStation(station("PC-01")), .saveStation(station("PC-02")), .saveStation(station("CON-1", kind: .console)),
                .saveSession(session), .saveSession(ended), .saveEvent(event),
                .publish(Outbound(topic: "x", payload: [], qos: .atMostOnce, retain: false)),
            ])
            try store.recordAlive(at(12))
            store.close()
        }
        let store = try HubStore(path: db.path)
        #expect(try store.stations().map(\.id.value) == ["CON-1", "PC-01", "PC-02"])
        #expect(try store.stations().first?.kind == .console)
        #expect(try store.runningSessions() == [session], "ended sessions are not running")
        #expect(try store.session(id: "s0") == ended)
        #expect(try store.events() == [event])
        #expect(try store.lastEventID() == 7)
        #expect(try store.lastAlive() == at(12))
    }

    @Test func aFailingWriteRollsBackTheWholeStep() throws {
        let db = try TemporaryDatabase()
        let store = try HubStore(path: db.path)
        try store.apply([.saveStation(station("PC-01"))])
        let event = HubEvent(id: 1, type: "a", atWallMillis: 0, station: nil, session: nil, data: [:])
        try store.apply([.saveEvent(event)])
        // Same event id again: the primary key refuses it, and the station saved before it in
        // the same step must not stay behind.
        #expect(throws: (any Error).self) {
            try store.apply([.saveStation(station("PC-02")), .saveEvent(event)])
        }
        #expect(try store.stations().map(\.id.value) == ["PC-01"])
        #expect(try store.events().count == 1)
    }

    @Test func importKeepsExistingStationsAsTheyAre() throws {
        let db = try TemporaryDatabase()
        let store = try HubStore(path: db.path)
        var renamed = station("PC-01")
        renamed.name = "Front row"
        renamed.maintenance = true
        try store.apply([.saveStation(renamed)])
        let added = try store.importStations([station("PC-01"), station("PC-02")])
        #expect(added.map(\.value) == ["PC-02"])
        let stored = try store.stations()
        #expect(stored.first { $0.id.value == "PC-01" } == renamed)
        #expect(stored.count == 2)
    }

    @Test func deletingAStationKeepsItsSessionHistory() throws {
        let db = try TemporaryDatabase()
        let store = try HubStore(path: db.path)
        let ended = SessionRecord(
            id: "old", station: StationID("PC-09")!, grantedMillis: 1000, usedMillisAtAnchor: 1000, anchor: at(1), paused: false,
            startedAtWallMillis: at(0).wallMillis, endedAtWallMillis: at(1).wallMillis, endReason: "stopped")
        try store.apply([.saveStation(station("PC-09")), .saveSession(ended)])
        try store.apply([.deleteStation(StationID("PC-09")!)])
        #expect(try store.stations().isEmpty)
        #expect(try store.session(id: "old") == ended)
    }

    @Test func databaseIsInWALModeAndMigrated() throws {
        let db = try TemporaryDatabase()
        _ = try HubStore(path: db.path)
        let reopened = try HubStore(path: db.path)  // migrations are idempotent
        #expect(try reopened.stations().isEmpty)
        #expect(FileManager.default.fileExists(atPath: db.path + "-wal"))
    }
}
