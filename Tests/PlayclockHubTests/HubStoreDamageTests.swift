import Foundation
import PlayclockContract
import PlayclockCore
import PlayclockSQLite
import Testing

@testable import PlayclockHub

/// A venue database with two running sessions and some events, written by the store itself;
/// tests then damage rows with raw SQL through a second connection.
func venueDatabase() throws -> TemporaryDatabase {
    let db = try TemporaryDatabase()
    let store = try HubStore(path: db.path)
    try store.apply([
        .saveStation(station("PC-01")), .saveStation(station("PC-02")),
        .saveStation(Station(id: StationID("PS5-01")!, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-plug-1", relay: 1))),
        .saveSession(running("3f2a9c1e-0000-4000-8000-000000000001", at: "PC-01")),
        .saveSession(running("3f2a9c1e-0000-4000-8000-000000000002", at: "PS5-01")),
        .saveEvent(HubEvent(id: 1, type: "session.started", atWallMillis: at(0).wallMillis, station: StationID("PC-01"),
                            session: "3f2a9c1e-0000-4000-8000-000000000001", data: ["granted_s": 3600])),
        .saveEvent(HubEvent(id: 2, type: "command.rejected", atWallMillis: at(1).wallMillis, station: nil, session: nil,
                            data: ["reason": "forbidden"])),
    ])
    try store.recordAlive(at(2))
    store.close()
    return db
}

func running(_ id: String, at station: String, startedAt seconds: Int64 = 0) -> SessionRecord {
    SessionRecord(
        id: id, station: StationID(station)!, grantedMillis: 3_600_000, usedMillisAtAnchor: 0, anchor: at(seconds), paused: false,
        startedAtWallMillis: at(seconds).wallMillis, warnedThresholds: [])
}

/// Every row of every table and the schema version: what "nothing is modified" compares.
func dump(_ path: String) throws -> [String] {
    let db = try SQLiteDatabase(path: path, mode: .readOnly)
    defer { db.close() }
    var lines = ["user_version \(try db.userVersion)"]
    for table in ["stations", "sessions", "events", "hub_alive"] {
        for row in try db.query("SELECT rowid AS row_id, * FROM \(table) ORDER BY rowid") {
            lines.append("\(table) \(zip(row.columns, row.values).map { "\($0)=\($1)" }.joined(separator: " "))")
        }
    }
    return lines
}

/// Raw SQL through a second connection, as a damaged file or a careless hand edit would leave it.
func damage(_ path: String, _ sql: String) throws {
    let raw = try SQLiteDatabase(path: path)
    defer { raw.close() }
    try raw.execute(sql)
}

func damagedRows(_ body: () throws -> Void) -> [DamagedRow]? {
    do {
        try body()
        return nil
    } catch let error as HubStoreError {
        return error.rows
    } catch {
        return nil
    }
}

@Suite struct HubStoreDamageTests {
    @Test func aCleanDatabaseLoadsAndChecksClean() throws {
        let db = try venueDatabase()
        let store = try HubStore(path: db.path)
        #expect(try store.stations().map(\.id.value) == ["PC-01", "PC-02", "PS5-01"])
        #expect(try store.runningSessions().map(\.station.value) == ["PC-01", "PS5-01"])
        store.close()
        let reader = try HubStore(path: db.path, readOnly: true)
        let report = reader.check()
        #expect(report.isClean, "\(report)")
        #expect(report.stations == 3 && report.sessions == 2 && report.runningSessions == 2 && report.events == 2)
        #expect(report.schemaVersion == report.latestSchemaVersion)
    }

    /// Every kind of damage at once: loading names every row (stations and sessions alike, from
    /// either call) and changes nothing; nothing is dropped.
    @Test func loadingThrowsNamingEveryDamagedRowAndChangesNothing() throws {
        let db = try venueDatabase()
        try damage(db.path, """
            UPDATE stations SET kind = 'Big PC' WHERE id = 'PC-02';
            UPDATE stations SET plug = '{"type":"zigbee","topic":"x"}' WHERE id = 'PS5-01';
            INSERT INTO stations (id, name, kind) VALUES ('PC 07', 'PC 7', 'pc');
            INSERT INTO stations (id, name, kind, plug, maintenance) VALUES ('PC-08', 'PC 8', 'pc', '{oops', 2);
            INSERT INTO sessions (id, station, granted_ms, used_ms, anchor_wall_ms, anchor_mono_ns, anchor_boot, paused,
                                  started_at_ms, warned, ended_at_ms, end_reason)
            VALUES ('9d0c', 'PC-99', 600000, 0, 1800000000000, 5000000000, 'boot-a', 0, 1800000000000, '', NULL, NULL),
                   ('b7e1', 'PC-02', 'lots', 0, 1800000000000, -5, 'boot-a', 0, 1800000000001, '300,x', NULL, NULL),
                   ('dup1', 'PC-01', 600000, 0, 1800000000000, 5000000000, 'boot-a', 0, 1800000000002, '', NULL, NULL),
                   ('bad id!', 'PC-01', 600000, 0, 1800000000000, 5000000000, '', 7, 1800000000003, '', NULL, NULL);
            """)
        let before = try dump(db.path)
        let store = try HubStore(path: db.path)
        let fromStations = try #require(damagedRows { _ = try store.stations() })
        let fromSessions = try #require(damagedRows { _ = try store.runningSessions() })
        #expect(fromStations == fromSessions)
        let lines = fromStations.map(\.description)
        let expected = [
            #"station PC 07 at rowid"#,  // the label falls back to the rowid for an unreadable id (below)
            #"station PC-02: kind "Big PC" is not a valid kind (1-16 characters of a-z 0-9 -)"#,
            #"station PC-08: maintenance is 2, not 0 or 1; plug binding "{oops" is not JSON"#,
            #"station PS5-01: plug binding does not validate: unknown plug type "zigbee"; use tasmota, shelly1 or shelly2"#,
            #"session 9d0c: station PC-99 does not exist"#,
            #"session b7e1: granted_ms is "lots", not a whole number; anchor_mono_ns is -5, below 0; warned "300,x" is not a comma-separated list of positive whole seconds"#,
            #"session dup1: station PC-01 already has running session 3f2a9c1e-0000-4000-8000-000000000001"#,
        ]
        #expect(lines.count == 8, "\(lines.joined(separator: "\n"))")
        for text in expected.dropFirst() {
            #expect(lines.contains(text), "missing: \(text)\nin:\n\(lines.joined(separator: "\n"))")
        }
        let unreadable = try #require(fromStations.first { $0.id == "PC 07" })
        #expect(unreadable.label.hasPrefix("station at rowid "))
        #expect(unreadable.reason == #"id "PC 07" is not a valid station id (1-64 characters of A-Z a-z 0-9 _ -)"#)
        let badSession = try #require(fromStations.first { $0.id == "bad id!" })
        #expect(badSession.label == "session at rowid \(badSession.rowID)")
        #expect(badSession.reason.contains(#"id "bad id!" is not a valid session id"#))
        #expect(badSession.reason.contains("anchor_boot is empty"))
        #expect(badSession.reason.contains("paused is 7, not 0 or 1"))
        #expect(badSession.reason.contains("station PC-01 already has running session"))

        // The error reads as plain text naming each row and pointing at db check.
        let error = HubStoreError.damagedRows(database: db.path, rows: fromStations)
        #expect(error.description.hasPrefix("database \(db.path) has 8 damaged rows; refusing to use it"))
        for line in lines { #expect(error.description.contains("\n  \(line)")) }
        #expect(error.description.contains("playclock db check --database \(db.path)"))

        // An import is refused too (it would add PC-99 and hide the damage), and adds nothing.
        #expect(damagedRows { try store.importStations([station("PC-99")]) } == fromStations)
        store.close()
        #expect(try dump(db.path) == before, "loading changed the file")
    }

    @Test func aRunningSessionWhoseStationRowIsGoneIsNotDropped() throws {
        let db = try venueDatabase()
        try damage(db.path, "DELETE FROM stations WHERE id = 'PS5-01'")
        let store = try HubStore(path: db.path)
        let rows = try #require(damagedRows { _ = try store.runningSessions() })
        #expect(rows.map(\.description) == ["session 3f2a9c1e-0000-4000-8000-000000000002: station PS5-01 does not exist"])
        #expect(rows.first?.table == "sessions")
        // An ended session of a removed station is history, not damage.
        try damage(db.path, "UPDATE sessions SET ended_at_ms = 1800000001000, end_reason = 'stopped' WHERE station = 'PS5-01'")
        #expect(try store.runningSessions().map(\.station.value) == ["PC-01"])
    }

    /// Recovery counts downtime from the alive record: a damaged one must not read as "never ran".
    @Test func aDamagedAliveRecordIsNamedNotReadAsMissing() throws {
        let db = try venueDatabase()
        try damage(db.path, "UPDATE hub_alive SET mono_ns = 'soon', boot = ''")
        let store = try HubStore(path: db.path)
        let expected = [#"hub alive record: mono_ns is "soon", not a whole number; boot is empty"#]
        #expect(damagedRows { _ = try store.lastAlive() }?.map(\.description) == expected)
        #expect(damagedRows { _ = try store.stations() }?.map(\.description) == expected)
        #expect(damagedRows { _ = try store.runningSessions() }?.map(\.description) == expected)
    }

    @Test func aDamagedEndedSessionIsNamedNotHidden() throws {
        let db = try venueDatabase()
        try damage(db.path, """
            INSERT INTO sessions (id, station, granted_ms, used_ms, anchor_wall_ms, anchor_mono_ns, anchor_boot, paused,
                                  started_at_ms, warned, ended_at_ms, end_reason)
            VALUES ('old', 'PC-02', 600000, 0, 1800000000000, 5000000000, 'boot-a', 0, 1800000000000, '', 'yesterday', 'stopped');
            """)
        let store = try HubStore(path: db.path)
        #expect(try store.runningSessions().count == 2, "an ended session is not paid state")
        let rows = try #require(damagedRows { _ = try store.session(id: "old") })
        #expect(rows.map(\.description) == [#"session old: ended_at_ms is "yesterday", not a whole number"#])
        store.close()
        let report = try HubStore(path: db.path, readOnly: true).check()
        #expect(report.damagedRows == rows)
    }

    /// Events are not paid state: they load, and a damaged one is shown with what can be read
    /// and a flag instead of being dropped.
    @Test func damagedEventsAreShownFlaggedNotDropped() throws {
        let db = try venueDatabase()
        try damage(db.path, """
            INSERT INTO events (id, type, at_ms, station, session, data) VALUES (3, 'station.offline', 1800000003000, 'PC-02', NULL, '{not json');
            INSERT INTO events (id, type, at_ms, station, session, data) VALUES (4, 'session.stopped', 'later', 'PC 02', NULL, '{}');
            """)
        let store = try HubStore(path: db.path)
        #expect(try store.stations().count == 3)
        let recent = try store.recentEvents(station: nil, limit: 10)
        try #require(recent.map(\.id) == [4, 3, 2, 1])
        #expect(recent[1].type == "station.offline")
        #expect(recent[1].station == StationID("PC-02"))
        #expect(recent[1].atWallMillis == 1_800_000_003_000)
        #expect(recent[1].data["damaged"] == .bool(true))
        #expect(recent[1].data["reason"]?.stringValue == #"stored event is damaged: data "{not json" is not JSON"#)
        #expect(recent[0].type == "session.stopped" && recent[0].station == nil)
        #expect(recent[0].data["damaged"] == .bool(true))
        #expect(try store.recentEvents(station: StationID("PC-02"), limit: 10).map(\.id) == [3])
        #expect(try store.events().map(\.id) == [1, 2, 3, 4])
        #expect(recent[2].data == ["reason": "forbidden"], "intact events are untouched")
        store.close()

        let report = try HubStore(path: db.path, readOnly: true).check()
        #expect(report.damagedRows.map(\.description) == [
            #"event 3: data "{not json" is not JSON"#,
            #"event 4: at_ms is "later", not a whole number; station "PC 02" is not a valid station id (1-64 characters of A-Z a-z 0-9 _ -)"#,
        ])
    }

    @Test func checkReportsEveryDamagedRowAndChangesNothing() throws {
        let db = try venueDatabase()
        try damage(db.path, """
            UPDATE stations SET zone = '   ' WHERE id = 'PC-02';
            INSERT INTO events (id, type, at_ms, station, session, data) VALUES (3, '', 1800000003000, NULL, NULL, '{}');
            DELETE FROM stations WHERE id = 'PC-01';
            """)
        let before = try dump(db.path)
        let store = try HubStore(path: db.path, readOnly: true)
        let report = store.check(pageSize: 1)  // one row a page: the paging itself is covered
        #expect(!report.isClean)
        #expect(report.problems.isEmpty)
        #expect(report.damagedRows.map(\.description) == [
            #"station PC-02: zone "   " is not a valid zone (1-32 characters, no control characters)"#,
            "session 3f2a9c1e-0000-4000-8000-000000000001: station PC-01 does not exist",
            "event 3: type is empty",
        ])
        #expect(report.stations == 2 && report.sessions == 2 && report.runningSessions == 2 && report.events == 3)
        // Read-only: no write gets through.
        #expect(throws: SQLiteError.self) { try store.pruneEvents(olderThanWallMillis: .max, keepingAtMost: 0) }
        store.close()
        #expect(try dump(db.path) == before)
    }

    /// A file from an older schema is checked as it is, not migrated.
    @Test func checkDoesNotMigrateAnOlderFile() throws {
        let db = try TemporaryDatabase()
        do {
            let old = try SQLiteDatabase(path: db.path)
            try old.migrate(HubStore.migrations.filter { $0.version <= 2 })
            try old.run("INSERT INTO stations (id, name, kind, maintenance, plug) VALUES ('PC-01', 'PC', 'pc', 0, NULL)")
            old.close()
        }
        let report = try HubStore(path: db.path, readOnly: true).check()
        #expect(report.isClean, "\(report)")
        #expect(report.schemaVersion == 2)
        #expect(report.notes == ["schema version 2: playclockd migrates it to \(report.latestSchemaVersion) on its next start"])
        #expect(try SQLiteDatabase(path: db.path, mode: .readOnly).userVersion == 2)
    }

    @Test func checkRefusesAFileThatIsNotAPlayclockDatabase() throws {
        let db = try TemporaryDatabase()
        try Data("hello, this is not sqlite at all, just some text to fill a page".utf8).write(to: URL(fileURLWithPath: db.path))
        let report = try HubStore(path: db.path, readOnly: true).check()
        #expect(!report.isClean)
        #expect(report.problems.first?.hasPrefix("cannot read the file: ") == true, "\(report.problems)")

        let other = try TemporaryDatabase()
        try damage(other.path, "CREATE TABLE notes (x)")
        let second = try HubStore(path: other.path, readOnly: true).check()
        #expect(second.problems == ["no stations, sessions, events table: not a Playclock database"])
    }
}
