import Foundation
import Logging
import PlayclockContract
import PlayclockCore
import PlayclockSQLite
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
            paused: false, startedAtWallMillis: at(-55).wallMillis, endedAtWallMillis: at(5).wallMillis, endReason: .expired)
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
            startedAtWallMillis: at(0).wallMillis, endedAtWallMillis: at(1).wallMillis, endReason: .stopped)
        try store.apply([.saveStation(station("PC-09")), .saveSession(ended)])
        try store.apply([.deleteStation(StationID("PC-09")!)])
        #expect(try store.stations().isEmpty)
        #expect(try store.session(id: "old") == ended)
    }

    @Test func zoneAndPowerHoldSurviveReopening() throws {
        let db = try TemporaryDatabase()
        let held = Station(
            id: StationID("PS5-01")!, name: "PS5", kind: .console, maintenance: true, plug: .tasmota(topic: "ps5-plug-1", relay: 1),
            zone: "Console lounge", powerHold: true)
        let plain = Station(id: StationID("PC-01")!, name: "PC", kind: .pc, zone: "VIP room")
        do {
            let store = try HubStore(path: db.path)
            try store.apply([.saveStation(held), .saveStation(plain), .saveStation(station("PC-02"))])
            store.close()
        }
        var store = try HubStore(path: db.path)
        #expect(try store.stations() == [plain, station("PC-02"), held])

        // Updated in place: the zone cleared, the hold released.
        var released = held
        released.zone = nil
        released.powerHold = false
        try store.apply([.saveStation(released)])
        store.close()
        store = try HubStore(path: db.path)
        #expect(try store.stations().last == released)
        // An import never overwrites what the hub stored.
        try store.importStations([held])
        #expect(try store.stations().last == released)
    }

    /// A venue's database from before zones and holds (schema version 2), with a station bound to a
    /// plug and a session running, is migrated on open and keeps every row.
    @Test func migrationThreeKeepsAVersionTwoDatabase() throws {
        let db = try TemporaryDatabase()
        do {
            let old = try SQLiteDatabase(path: db.path)
            try old.migrate(HubStore.migrations.filter { $0.version <= 2 })
            #expect(try old.userVersion == 2)
            try old.run(
                "INSERT INTO stations (id, name, kind, maintenance, plug) VALUES (?, ?, ?, ?, ?)",
                ["PS5-01", "PS5", "console", 0, .text(#"{"type":"tasmota","topic":"ps5-plug-1","relay":1}"#)])
            try old.run("INSERT INTO stations (id, name, kind, maintenance, plug) VALUES (?, ?, ?, ?, ?)", ["PC-01", "PC", "pc", 1, nil])
            try old.run(
                """
                INSERT INTO sessions (id, station, granted_ms, used_ms, anchor_wall_ms, anchor_mono_ns, anchor_boot, paused,
                                      started_at_ms, warned, ended_at_ms, end_reason)
                VALUES ('s1', 'PS5-01', 3600000, 61500, ?, ?, 'boot-a', 0, ?, '300', NULL, NULL)
                """, [.integer(at(10).wallMillis), .integer(at(10).monoNanos), .integer(at(0).wallMillis)])
            try old.run(
                "INSERT INTO events (id, type, at_ms, station, session, data) VALUES (5, 'session.started', ?, 'PS5-01', 's1', '{}')",
                [.integer(at(0).wallMillis)])
            old.close()
        }

        let store = try HubStore(path: db.path)
        #expect(try store.db.userVersion == HubStore.migrations.map(\.version).max())
        #expect(try store.db.userVersion >= 3)
        #expect(try store.stations() == [
            Station(id: StationID("PC-01")!, name: "PC", kind: .pc, maintenance: true),
            Station(id: StationID("PS5-01")!, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-plug-1", relay: 1)),
        ])
        #expect(try store.stations().allSatisfy { $0.zone == nil && !$0.powerHold })
        #expect(try store.runningSessions() == [
            SessionRecord(
                id: "s1", station: StationID("PS5-01")!, grantedMillis: 3_600_000, usedMillisAtAnchor: 61_500, anchor: at(10),
                paused: false, startedAtWallMillis: at(0).wallMillis, warnedThresholds: [300]),
        ])
        #expect(try store.lastEventID() == 5)

        // The new columns take writes, and the next open does not migrate again.
        var zoned = try #require(try store.stations().last)
        zoned.zone = "Console lounge"
        zoned.powerHold = true
        try store.apply([.saveStation(zoned)])
        store.close()
        let reopened = try HubStore(path: db.path)
        #expect(try reopened.stations().last == zoned)
        #expect(try reopened.runningSessions().map(\.id) == ["s1"])
    }

    @Test func databaseIsInWALModeAndMigrated() throws {
        let db = try TemporaryDatabase()
        _ = try HubStore(path: db.path)
        let reopened = try HubStore(path: db.path)  // migrations are idempotent
        #expect(try reopened.stations().isEmpty)
        #expect(FileManager.default.fileExists(atPath: db.path + "-wal"))
    }
}
