import PlayclockCore
import PlayclockSQLite

/// The hub's durable state in SQLite: stations, sessions (running and ended), the event log and
/// the last moment the hub was known alive. Confined to the hub actor.
public final class HubStore: @unchecked Sendable {
    let db: SQLiteDatabase

    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            version: 1, name: "stations, sessions, events, hub_alive",
            sql: """
                CREATE TABLE stations (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    maintenance INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    station TEXT NOT NULL,
                    granted_ms INTEGER NOT NULL CHECK (granted_ms > 0),
                    used_ms INTEGER NOT NULL CHECK (used_ms >= 0),
                    anchor_wall_ms INTEGER NOT NULL,
                    anchor_mono_ns INTEGER NOT NULL,
                    anchor_boot TEXT NOT NULL,
                    paused INTEGER NOT NULL,
                    started_at_ms INTEGER NOT NULL,
                    warned TEXT NOT NULL,
                    ended_at_ms INTEGER,
                    end_reason TEXT
                );
                CREATE INDEX sessions_running ON sessions(station) WHERE ended_at_ms IS NULL;
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY,
                    type TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    station TEXT,
                    session TEXT,
                    data TEXT NOT NULL
                );
                CREATE INDEX events_station ON events(station, id);
                CREATE TABLE hub_alive (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    wall_ms INTEGER NOT NULL,
                    mono_ns INTEGER NOT NULL,
                    boot TEXT NOT NULL
                );
                """),
        SQLiteMigration(
            version: 2, name: "station plug binding",
            sql: "ALTER TABLE stations ADD COLUMN plug TEXT;"),
        SQLiteMigration(
            version: 3, name: "station zone and plug power hold",
            sql: """
                ALTER TABLE stations ADD COLUMN zone TEXT;
                ALTER TABLE stations ADD COLUMN power_hold INTEGER NOT NULL DEFAULT 0;
                """),
    ]

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.migrate(Self.migrations)
    }

    public func close() { db.close() }

    // MARK: - Loading

    public func stations() throws -> [Station] {
        try db.query("SELECT id, name, kind, maintenance, plug, zone, power_hold FROM stations ORDER BY id").compactMap { row in
            guard let id = row.string("id").flatMap(StationID.init), let name = row.string("name"),
                let kind = row.string("kind").flatMap(StationKind.init)
            else { return nil }
            let plug = row.string("plug").flatMap { try? PlugBinding.parse(JSONCoding.decode(Array($0.utf8))) }
            return Station(
                id: id, name: name, kind: kind, maintenance: row.bool("maintenance") ?? false, plug: plug,
                zone: row.string("zone").flatMap(StationZone.normalized), powerHold: row.bool("power_hold") ?? false)
        }
    }

    public func runningSessions() throws -> [SessionRecord] {
        try db.query("SELECT * FROM sessions WHERE ended_at_ms IS NULL ORDER BY started_at_ms").compactMap(Self.session)
    }

    public func session(id: String) throws -> SessionRecord? {
        try db.queryOne("SELECT * FROM sessions WHERE id = ?", [.text(id)]).flatMap(Self.session)
    }

    public func lastEventID() throws -> Int64 {
        try db.queryOne("SELECT COALESCE(MAX(id), 0) AS id FROM events")?.int("id") ?? 0
    }

    public func events(after id: Int64 = 0, limit: Int = 1000) throws -> [HubEvent] {
        try db.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [.integer(id), .integer(Int64(limit))])
            .compactMap(Self.event)
    }

    public func lastAlive() throws -> Timestamp? {
        guard let row = try db.queryOne("SELECT wall_ms, mono_ns, boot FROM hub_alive WHERE singleton = 1"),
            let wall = row.int("wall_ms"), let mono = row.int("mono_ns"), let boot = row.string("boot")
        else { return nil }
        return Timestamp(wallMillis: wall, monoNanos: mono, bootID: boot)
    }

    // MARK: - Writing

    /// Applies the store writes of one core step in a single transaction: all or nothing.
    public func apply(_ actions: [HubAction]) throws {
        try db.transaction {
            for action in actions {
                switch action {
                case .saveStation(let s): try save(s)
                case .deleteStation(let id): try db.run("DELETE FROM stations WHERE id = ?", [.text(id.value)])
                case .saveSession(let s): try save(s)
                case .saveEvent(let e): try save(e)
                case .publish: break
                }
            }
        }
    }

    /// Adds the stations that do not exist yet; existing ones are left exactly as they are.
    /// Returns the ids that were added.
    @discardableResult
    public func importStations(_ stations: [Station]) throws -> [StationID] {
        try db.transaction {
            var added: [StationID] = []
            for s in stations {
                try db.run(
                    "INSERT OR IGNORE INTO stations (id, name, kind, maintenance, plug, zone, power_hold) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    Self.bindings(s))
                if db.changes > 0 { added.append(s.id) }
            }
            return added
        }
    }

    /// A consistent copy of the whole database, taken online (`VACUUM INTO`): the hub may keep
    /// writing meanwhile. Refuses to overwrite an existing file.
    public func backup(to path: String) throws {
        try db.run("VACUUM INTO ?", [.text(path)])
    }

    public func recordAlive(_ now: Timestamp) throws {
        try db.run(
            """
            INSERT INTO hub_alive (singleton, wall_ms, mono_ns, boot) VALUES (1, ?, ?, ?)
            ON CONFLICT(singleton) DO UPDATE SET wall_ms = excluded.wall_ms, mono_ns = excluded.mono_ns, boot = excluded.boot
            """, [.integer(now.wallMillis), .integer(now.monoNanos), .text(now.bootID)])
    }

    private func save(_ s: Station) throws {
        try db.run(
            """
            INSERT INTO stations (id, name, kind, maintenance, plug, zone, power_hold) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind, maintenance = excluded.maintenance,
                plug = excluded.plug, zone = excluded.zone, power_hold = excluded.power_hold
            """, Self.bindings(s))
    }

    private static func bindings(_ s: Station) -> [SQLiteValue] {
        let plug = s.plug.map { String(decoding: JSONCoding.encode($0.json), as: UTF8.self) }
        return [
            .text(s.id.value), .text(s.name), .text(s.kind.value), SQLiteValue(s.maintenance), SQLiteValue(plug), SQLiteValue(s.zone),
            SQLiteValue(s.powerHold),
        ]
    }

    private func save(_ s: SessionRecord) throws {
        try db.run(
            """
            INSERT INTO sessions (id, station, granted_ms, used_ms, anchor_wall_ms, anchor_mono_ns, anchor_boot, paused,
                                  started_at_ms, warned, ended_at_ms, end_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET station = excluded.station, granted_ms = excluded.granted_ms,
                used_ms = excluded.used_ms, anchor_wall_ms = excluded.anchor_wall_ms,
                anchor_mono_ns = excluded.anchor_mono_ns, anchor_boot = excluded.anchor_boot, paused = excluded.paused,
                warned = excluded.warned, ended_at_ms = excluded.ended_at_ms, end_reason = excluded.end_reason
            """,
            [
                .text(s.id), .text(s.station.value), .integer(s.grantedMillis), .integer(s.usedMillisAtAnchor),
                .integer(s.anchor.wallMillis), .integer(s.anchor.monoNanos), .text(s.anchor.bootID), SQLiteValue(s.paused),
                .integer(s.startedAtWallMillis), .text(s.warnedThresholds.map(String.init).joined(separator: ",")),
                SQLiteValue(s.endedAtWallMillis), SQLiteValue(s.endReason),
            ])
    }

    private func save(_ e: HubEvent) throws {
        try db.run(
            "INSERT INTO events (id, type, at_ms, station, session, data) VALUES (?, ?, ?, ?, ?, ?)",
            [.integer(e.id), .text(e.type), .integer(e.atWallMillis), SQLiteValue(e.station?.value), SQLiteValue(e.session),
             .text(String(decoding: JSONCoding.encode(e.data), as: UTF8.self))])
    }

    private static func session(_ row: SQLiteRow) -> SessionRecord? {
        guard let id = row.string("id"), let station = row.string("station").flatMap(StationID.init),
            let granted = row.int("granted_ms"), let used = row.int("used_ms"), let wall = row.int("anchor_wall_ms"),
            let mono = row.int("anchor_mono_ns"), let boot = row.string("anchor_boot"), let started = row.int("started_at_ms")
        else { return nil }
        let warned = (row.string("warned") ?? "").split(separator: ",").compactMap { Int64($0) }
        return SessionRecord(
            id: id, station: station, grantedMillis: granted, usedMillisAtAnchor: used,
            anchor: Timestamp(wallMillis: wall, monoNanos: mono, bootID: boot), paused: row.bool("paused") ?? false,
            startedAtWallMillis: started, warnedThresholds: warned, endedAtWallMillis: row.int("ended_at_ms"),
            endReason: row.string("end_reason"))
    }
}

// MARK: - Reading the event log

extension HubStore {
    /// The newest events first (at most `limit`), optionally only those of one station.
    public func recentEvents(station: StationID?, limit: Int) throws -> [HubEvent] {
        let limit = Int64(max(1, min(limit, 1000)))
        let rows: [SQLiteRow]
        if let station {
            rows = try db.query("SELECT * FROM events WHERE station = ? ORDER BY id DESC LIMIT ?", [.text(station.value), .integer(limit)])
        } else {
            rows = try db.query("SELECT * FROM events ORDER BY id DESC LIMIT ?", [.integer(limit)])
        }
        return rows.compactMap(Self.event)
    }

    static func event(_ row: SQLiteRow) -> HubEvent? {
        guard let id = row.int("id"), let type = row.string("type"), let at = row.int("at_ms") else { return nil }
        let data = row.string("data").flatMap { try? JSONCoding.decode(Array($0.utf8)) } ?? .null
        return HubEvent(id: id, type: type, atWallMillis: at, station: row.string("station").flatMap(StationID.init),
                        session: row.string("session"), data: data)
    }
}
