import PlayclockContract
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
        SQLiteMigration(
            version: 4, name: "events by time, for retention",
            sql: "CREATE INDEX events_at ON events(at_ms);"),
        SQLiteMigration(version: 5, name: "money: members, sales, the ledger, prices, remembered requests", sql: HubStore.moneySchema),
        SQLiteMigration(version: 6, name: "counter: products, sale lines, cash shifts", sql: HubStore.counterSchema),
    ]

    /// Opens the hub's database, creating and migrating it as needed. With `readOnly` it only
    /// opens an existing file: nothing is created, migrated or written (for `playclock db check`).
    public init(path: String, readOnly: Bool = false) throws {
        db = try SQLiteDatabase(path: path, mode: readOnly ? .readOnly : .readWrite)
        if !readOnly { try db.migrate(Self.migrations) }
    }

    public func close() { db.close() }

    // MARK: - Loading

    /// Every station. Strict: a station row that does not decode, or a running session that cannot
    /// be resumed (see `runningSessions()`), throws `HubStoreError.damagedRows` naming every such
    /// row; nothing is dropped, nothing is changed.
    public func stations() throws -> [Station] {
        try loadPaidState().stations
    }

    /// The sessions still running, oldest first. Strict, like `stations()` (and with the same error,
    /// so whichever is called first names every damaged row): a row that does not decode, whose
    /// station row does not exist, or whose station already has another running session, throws.
    public func runningSessions() throws -> [SessionRecord] {
        try loadPaidState().sessions
    }

    /// One session, running or ended; nil when there is none. Throws `damagedRows` when the row
    /// exists but does not decode.
    public func session(id: String) throws -> SessionRecord? {
        guard let row = try db.queryOne("SELECT rowid AS row_id, * FROM sessions WHERE id = ?", [.text(id)]) else { return nil }
        switch StoreRows.session(row) {
        case .success(let session): return session
        case .failure(let damaged): throw HubStoreError.damagedRows(database: db.path, rows: [damaged])
        }
    }

    /// Stations and running sessions, validated together: every damaged row is named at once.
    private func loadPaidState() throws -> (stations: [Station], sessions: [SessionRecord]) {
        let state = try validatedPaidState()
        if !state.damaged.isEmpty { throw HubStoreError.damagedRows(database: db.path, rows: state.damaged) }
        return (state.stations, state.sessions)
    }

    private func validatedPaidState() throws -> (stations: [Station], sessions: [SessionRecord], damaged: [DamagedRow]) {
        var damaged: [DamagedRow] = []
        var stations: [Station] = []
        var stationIDs: Set<String> = []
        for row in try db.query("SELECT rowid AS row_id, * FROM stations ORDER BY id") {
            if let id = row.string("id") { stationIDs.insert(id) }
            switch StoreRows.station(row) {
            case .success(let station): stations.append(station)
            case .failure(let problem): damaged.append(problem)
            }
        }
        var sessions: [SessionRecord] = []
        var runningAt: [StationID: String] = [:]
        let rows = try db.query("SELECT rowid AS row_id, * FROM sessions WHERE ended_at_ms IS NULL ORDER BY started_at_ms, rowid")
        for row in rows {
            switch StoreRows.runningSession(row, stationIDs: stationIDs, runningAt: &runningAt) {
            case .success(let session): sessions.append(session)
            case .failure(let problem): damaged.append(problem)
            }
        }
        // Recovery counts downtime from the alive record: it is paid state too.
        for row in try db.query("SELECT rowid AS row_id, * FROM hub_alive") {
            if case .failure(let problem) = StoreRows.alive(row) { damaged.append(problem) }
        }
        return (stations, sessions, damaged)
    }

    public func lastEventID() throws -> Int64 {
        try db.queryOne("SELECT COALESCE(MAX(id), 0) AS id FROM events")?.int("id") ?? 0
    }

    /// Events in id order. A row that does not decode is returned with what can be read and
    /// `{"damaged": true, "reason": ...}` as its data (see `recentEvents`), never dropped.
    public func events(after id: Int64 = 0, limit: Int = 1000) throws -> [HubEvent] {
        try db.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [.integer(id), .integer(Int64(limit))])
            .map { StoreRows.event($0).event }
    }

    /// The last moment the hub was known alive; nil before its first start. Strict: a stored
    /// record that does not decode throws `damagedRows` (recovery counts downtime from it).
    public func lastAlive() throws -> Timestamp? {
        guard let row = try db.queryOne("SELECT rowid AS row_id, * FROM hub_alive WHERE singleton = 1") else { return nil }
        switch StoreRows.alive(row) {
        case .success(let alive): return alive
        case .failure(let damaged): throw HubStoreError.damagedRows(database: db.path, rows: [damaged])
        }
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
                case .saveMember(let m): try save(m)
                case .recordSale(let sale): try record(sale)
                case .savePricing(let catalog, let by, let at): try savePricing(catalog, by: by, atWallMillis: at)
                case .saveProduct(let p): try save(p)
                case .deleteProduct(let id): try deleteProduct(id)
                case .saveShift(let s): try save(s)
                case .rememberRequest(let r): try remember(r)
                case .publish: break
                }
            }
        }
    }

    /// Adds the stations that do not exist yet; existing ones are left exactly as they are.
    /// Returns the ids that were added. Refuses (`damagedRows`, adding nothing) when the stored
    /// stations or running sessions are damaged: an import must not paper over a missing station.
    @discardableResult
    public func importStations(_ stations: [Station]) throws -> [StationID] {
        _ = try loadPaidState()
        return try db.transaction {
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
                                  started_at_ms, warned, ended_at_ms, end_reason, billing)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET station = excluded.station, granted_ms = excluded.granted_ms,
                used_ms = excluded.used_ms, anchor_wall_ms = excluded.anchor_wall_ms,
                anchor_mono_ns = excluded.anchor_mono_ns, anchor_boot = excluded.anchor_boot, paused = excluded.paused,
                warned = excluded.warned, ended_at_ms = excluded.ended_at_ms, end_reason = excluded.end_reason,
                billing = excluded.billing
            """,
            [
                .text(s.id), .text(s.station.value), .integer(s.grantedMillis), .integer(s.usedMillisAtAnchor),
                .integer(s.anchor.wallMillis), .integer(s.anchor.monoNanos), .text(s.anchor.bootID), SQLiteValue(s.paused),
                .integer(s.startedAtWallMillis), .text(s.warnedThresholds.map(String.init).joined(separator: ",")),
                SQLiteValue(s.endedAtWallMillis), SQLiteValue(s.endReason?.rawValue),
                SQLiteValue(s.billing.map { String(decoding: JSONCoding.encode(StoreRows.billingJSON($0)), as: UTF8.self) }),
            ])
    }

    private func save(_ e: HubEvent) throws {
        try db.run(
            "INSERT INTO events (id, type, at_ms, station, session, data) VALUES (?, ?, ?, ?, ?, ?)",
            [.integer(e.id), .text(e.type), .integer(e.atWallMillis), SQLiteValue(e.station?.value), SQLiteValue(e.session),
             .text(String(decoding: JSONCoding.encode(e.data), as: UTF8.self))])
    }
}

// MARK: - Checking the whole file

/// What `playclock db check` found.
public struct StoreCheckReport: Sendable, Equatable {
    public var database: String
    public var schemaVersion = 0
    public var latestSchemaVersion = 0
    /// Problems that are not about one row: `PRAGMA integrity_check` lines, a schema this program
    /// does not know, a table that cannot be read.
    public var problems: [String] = []
    /// Every row that does not decode: stations, sessions (running or ended), events.
    public var damagedRows: [DamagedRow] = []
    /// Information that is not a problem (an older schema the hub migrates on its next start).
    public var notes: [String] = []
    public var stations = 0
    public var sessions = 0
    public var runningSessions = 0
    public var events = 0
    public var members = 0
    public var sales = 0
    public var ledgerEntries = 0

    public var isClean: Bool { problems.isEmpty && damagedRows.isEmpty }

    public init(database: String) { self.database = database }
}

extension HubStore {
    /// Checks the whole file without changing it (open the store `readOnly`): SQLite's own
    /// `PRAGMA integrity_check`, the schema version, then every row with the same validation as
    /// `stations()` and `runningSessions()`, plus ended sessions and events. Reads in pages of
    /// `pageSize` rows, so a large event log does not have to fit in memory.
    public func check(pageSize: Int = 5000) -> StoreCheckReport {
        var report = StoreCheckReport(database: db.path)
        report.latestSchemaVersion = Self.migrations.map(\.version).max() ?? 0
        do {
            let lines = try db.query("PRAGMA integrity_check").compactMap { $0.values.first?.stringValue }
            if lines != ["ok"] { report.problems += lines.map { "integrity check: \($0)" } }
            report.schemaVersion = try db.userVersion
        } catch {
            report.problems.append("cannot read the file: \(Self.plain(error))")
            return report
        }
        if report.schemaVersion > report.latestSchemaVersion {
            report.problems.append(
                "schema version \(report.schemaVersion) is newer than this program knows (\(report.latestSchemaVersion)): check it with the newer playclock")
            return report
        }
        let tables = (try? db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.string("name") }) ?? []
        let missing = ["stations", "sessions", "events"].filter { !tables.contains($0) }
        if !missing.isEmpty {
            report.problems.append("no \(missing.joined(separator: ", ")) table: not a Playclock database")
            return report
        }
        if report.schemaVersion < report.latestSchemaVersion {
            report.notes.append(
                "schema version \(report.schemaVersion): playclockd migrates it to \(report.latestSchemaVersion) on its next start")
        }
        let pageSize = Int64(max(1, pageSize))
        do {
            let paid = try validatedPaidState()
            report.damagedRows += paid.damaged
            report.stations = try db.queryOne("SELECT COUNT(*) AS n FROM stations")?.int("n").map(Int.init) ?? 0
            report.runningSessions = try db.queryOne("SELECT COUNT(*) AS n FROM sessions WHERE ended_at_ms IS NULL")?.int("n").map(Int.init) ?? 0
        } catch {
            report.problems.append("cannot read stations and running sessions: \(Self.plain(error))")
        }
        do {
            var after: Int64 = 0
            while true {
                let rows = try db.query(
                    "SELECT rowid AS row_id, * FROM sessions WHERE rowid > ? ORDER BY rowid LIMIT ?", [.integer(after), .integer(pageSize)])
                for row in rows {
                    report.sessions += 1
                    // Running sessions were checked above, with their stations.
                    guard !row["ended_at_ms"].isNull, case .failure(let damaged) = StoreRows.session(row) else { continue }
                    report.damagedRows.append(damaged)
                }
                guard rows.count == Int(pageSize), let last = rows.last?.int("row_id") else { break }
                after = last
            }
        } catch {
            report.problems.append("cannot read sessions: \(Self.plain(error))")
        }
        do {
            var after = Int64.min
            while true {
                let rows = try db.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [.integer(after), .integer(pageSize)])
                for row in rows {
                    report.events += 1
                    if let damaged = StoreRows.event(row).damaged { report.damagedRows.append(damaged) }
                }
                guard rows.count == Int(pageSize), let last = rows.last?.int("id") else { break }
                after = last
            }
        } catch {
            report.problems.append("cannot read events: \(Self.plain(error))")
        }
        if tables.contains("ledger") { checkMoney(into: &report, pageSize: pageSize) }
        return report
    }

    static func plain(_ error: any Error) -> String {
        if let error = error as? SQLiteError { return error.message }
        return "\(error)"
    }
}

// MARK: - Event retention

extension HubStore {
    /// Deletes old events, and nothing else: first every event stored before `olderThanWallMillis`
    /// (by its `at` time), then the oldest (by id) beyond the newest `keepingAtMost`.
    ///
    /// Bounded, so it can run on the hub actor: at most `budget` rows per call, each batch of at
    /// most `batchSize` rows in its own short transaction. Returns how many rows it deleted; when
    /// that equals `budget` more may be due, so call again (soon, not in a tight loop). Negative or
    /// zero sizes count as 1, a negative `keepingAtMost` as 0. Stations, sessions and the alive
    /// record are never touched, and event ids are never reused (the core numbers events from the
    /// highest id it loaded; pruning only ever removes the oldest).
    ///
    /// Call it with `HubConfiguration.events`: `pruneEvents(olderThanWallMillis:
    /// config.events.cutoffWallMillis(now: clock.now().wallMillis), keepingAtMost: config.events.maxRows)`.
    @discardableResult
    public func pruneEvents(olderThanWallMillis cutoff: Int64, keepingAtMost maxRows: Int, batchSize: Int = 1000, budget: Int = 20_000)
        throws -> Int
    {
        let batchSize = max(1, batchSize)
        let budget = max(1, budget)
        var deleted = 0
        while deleted < budget {
            let limit = Int64(min(batchSize, budget - deleted))
            let n = try db.transaction {
                try db.run(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < ? ORDER BY at_ms, id LIMIT ?)",
                    [.integer(cutoff), .integer(limit)])
                return db.changes
            }
            deleted += n
            if n < limit { break }
        }
        guard deleted < budget else { return deleted }
        let count = try db.queryOne("SELECT COUNT(*) AS n FROM events")?.int("n") ?? 0
        var excess = Int(count) - max(0, maxRows)
        while excess > 0 && deleted < budget {
            let limit = Int64(min(batchSize, budget - deleted, excess))
            let n = try db.transaction {
                try db.run("DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)", [.integer(limit)])
                return db.changes
            }
            deleted += n
            excess -= n
            if n < limit { break }
        }
        return deleted
    }
}

// MARK: - Reading the event log

extension HubStore {
    /// The newest events first (at most `limit`), optionally only those of one station. Events are
    /// not paid state: a row that does not decode is still shown, with what can be read (a type,
    /// time, station or session that does not decode is left out) and
    /// `{"damaged": true, "reason": "..."}` as its data; `playclock db check` reports it.
    public func recentEvents(station: StationID?, limit: Int) throws -> [HubEvent] {
        let limit = Int64(max(1, min(limit, 1000)))
        let rows: [SQLiteRow]
        if let station {
            rows = try db.query("SELECT * FROM events WHERE station = ? ORDER BY id DESC LIMIT ?", [.text(station.value), .integer(limit)])
        } else {
            rows = try db.query("SELECT * FROM events ORDER BY id DESC LIMIT ?", [.integer(limit)])
        }
        return rows.map { StoreRows.event($0).event }
    }
}

// MARK: - Damaged rows

/// A stored row the hub cannot use as it is, named so that staff can find it: its table, its
/// id (or SQLite rowid when the id itself is unreadable) and what is wrong, in plain words.
public struct DamagedRow: Error, Sendable, Equatable, CustomStringConvertible {
    /// `stations`, `sessions`, `events` or `hub_alive`.
    public var table: String
    /// The SQLite rowid (`DELETE FROM <table> WHERE rowid = N` reaches the row whatever its id).
    public var rowID: Int64
    /// The row's id as stored, when it is readable text or a number.
    public var id: String?
    /// What is wrong; several problems of one row are joined with "; ".
    public var reason: String
    /// A station or a running session: `playclockd` refuses to start while such a row is damaged.
    /// (Ended sessions and events are history: reported, shown as far as they can be read.)
    public var blocksStart: Bool

    public init(table: String, rowID: Int64, id: String?, reason: String, blocksStart: Bool) {
        self.table = table
        self.rowID = rowID
        self.id = id
        self.reason = reason
        self.blocksStart = blocksStart
    }

    /// "station PC-07", "session 3f2...", "event 12"; "station at rowid 4" when the id is unreadable.
    public var label: String {
        if table == "hub_alive" { return "hub alive record" }
        let noun = switch table {
        case "stations": "station"
        case "sessions": "session"
        case "events": "event"
        default: table
        }
        if let id, !id.isEmpty, id.utf8.count <= 64, id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) {
            return "\(noun) \(id)"
        }
        return "\(noun) at rowid \(rowID)"
    }

    /// "station PC-07: plug binding does not validate: ..."
    public var description: String { "\(label): \(reason)" }
}

/// Why the store refuses to load.
public enum HubStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stored stations or running sessions that cannot be loaded as they are. The hub refuses to
    /// start rather than forget a paid session or a station quietly.
    case damagedRows(database: String, rows: [DamagedRow])

    public var rows: [DamagedRow] {
        switch self {
        case .damagedRows(_, let rows): return rows
        }
    }

    /// Plain text, one damaged row a line, then what to do.
    public var description: String {
        switch self {
        case .damagedRows(let database, let rows):
            let count = rows.count == 1 ? "1 damaged row" : "\(rows.count) damaged rows"
            return (["database \(database) has \(count); refusing to use it rather than forget any of them:"]
                + rows.map { "  \($0)" }
                + ["run `playclock db check --database \(database)`, then restore a backup or fix the rows by hand (docs/deployment.md, \"Damaged database\")"])
                .joined(separator: "\n")
        }
    }
}

/// Decoding of stored rows, strict: every problem is collected and named.
enum StoreRows {
    /// A value as shown in a reason: `NULL`, `42`, `"text"` (escaped, shortened), `a blob of 3 bytes`.
    static func show(_ value: SQLiteValue) -> String {
        switch value {
        case .null: return "NULL"
        case .integer(let v): return "\(v)"
        case .real(let v): return "\(v)"
        case .blob(let v): return "a blob of \(v.count) bytes"
        case .text(let v):
            let short = v.count > 80 ? String(v.prefix(80)) + "..." : v
            return String(decoding: JSONCoding.encode(.string(short)), as: UTF8.self)
        }
    }

    static func idText(_ value: SQLiteValue) -> String? {
        switch value {
        case .text(let v): return v
        case .integer(let v): return "\(v)"
        default: return nil
        }
    }

    /// A session id as the hub makes them (a lower-case UUID): 1-64 characters of A-Z a-z 0-9 _ -.
    static func isValidSessionID(_ id: String) -> Bool { StationID.isValid(id) }

    /// Collects the problems of one row.
    struct Reader {
        let row: SQLiteRow
        var problems: [String] = []

        init(_ row: SQLiteRow) { self.row = row }

        mutating func problem(_ text: String) { problems.append(text) }

        /// A required integer, at least `minimum`.
        mutating func int(_ column: String, atLeast minimum: Int64) -> Int64 {
            let value = row[column]
            guard case .integer(let v) = value else {
                problem(value.isNull ? "\(column) is NULL" : "\(column) is \(Self.show(value)), not a whole number")
                return 0
            }
            guard v >= minimum else {
                problem("\(column) is \(v), below \(minimum)")
                return 0
            }
            return v
        }

        /// NULL or an integer of at least `minimum`.
        mutating func optionalInt(_ column: String, atLeast minimum: Int64) -> Int64? {
            row[column].isNull ? nil : int(column, atLeast: minimum)
        }

        /// A 0/1 flag; `fallback` when the column does not exist (a database before its migration).
        mutating func flag(_ column: String, fallback: Bool = false) -> Bool {
            guard row.hasColumn(column) else { return fallback }
            let value = row[column]
            guard case .integer(let v) = value, v == 0 || v == 1 else {
                problem("\(column) is \(Self.show(value)), not 0 or 1")
                return fallback
            }
            return v == 1
        }

        /// Required text.
        mutating func text(_ column: String, nonEmpty: Bool = false) -> String {
            let value = row[column]
            guard case .text(let v) = value else {
                problem(value.isNull ? "\(column) is NULL" : "\(column) is \(Self.show(value)), not text")
                return ""
            }
            if nonEmpty && v.isEmpty { problem("\(column) is empty") }
            return v
        }

        /// NULL or text.
        mutating func optionalText(_ column: String) -> String? {
            row[column].isNull ? nil : text(column)
        }

        mutating func stationID(_ column: String) -> StationID? {
            let value = row[column]
            guard let text = value.stringValue, let id = StationID(text) else {
                problem("\(column) \(Self.show(value)) is not a valid station id (1-64 characters of A-Z a-z 0-9 _ -)")
                return nil
            }
            return id
        }

        func damaged(_ table: String, blocksStart: Bool) -> DamagedRow {
            DamagedRow(
                table: table, rowID: row.int("row_id") ?? 0, id: StoreRows.idText(row["id"]), reason: problems.joined(separator: "; "),
                blocksStart: blocksStart)
        }

        private static func show(_ value: SQLiteValue) -> String { StoreRows.show(value) }
    }

    static func station(_ row: SQLiteRow) -> Result<Station, DamagedRow> {
        var r = Reader(row)
        let id = r.stationID("id")
        let name = r.text("name")
        let kindValue = row["kind"]
        let kind = kindValue.stringValue.flatMap(StationKind.init)
        if kind == nil { r.problem("kind \(show(kindValue)) is not a valid kind (1-16 characters of a-z 0-9 -)") }
        let maintenance = r.flag("maintenance")
        var plug: PlugBinding?
        if let text = r.optionalText("plug") {
            do {
                plug = try PlugBinding.parse(try JSONCoding.decode(Array(text.utf8)))
            } catch let error as CommandError {
                r.problem("plug binding does not validate: \(error.message)")
            } catch {
                r.problem("plug binding \(show(.text(text))) is not JSON")
            }
        }
        var zone: String?
        if let text = r.optionalText("zone") {
            zone = StationZone.normalized(text)
            if zone == nil { r.problem("zone \(show(.text(text))) is not a valid zone (1-32 characters, no control characters)") }
        }
        let powerHold = r.flag("power_hold")
        guard r.problems.isEmpty, let id, let kind else { return .failure(r.damaged("stations", blocksStart: true)) }
        return .success(Station(id: id, name: name, kind: kind, maintenance: maintenance, plug: plug, zone: zone, powerHold: powerHold))
    }

    /// Decodes every column of a session row, running or ended, collecting problems in `r`.
    static func sessionFields(_ r: inout Reader) -> SessionRecord? {
        let id = r.text("id")
        if case .text = r.row["id"], !isValidSessionID(id) {
            r.problem("id \(show(.text(id))) is not a valid session id (1-64 characters of A-Z a-z 0-9 _ -)")
        }
        let station = r.stationID("station")
        let granted = r.int("granted_ms", atLeast: 1)
        let used = r.int("used_ms", atLeast: 0)
        let wall = r.int("anchor_wall_ms", atLeast: 0)
        let mono = r.int("anchor_mono_ns", atLeast: 0)
        let boot = r.text("anchor_boot", nonEmpty: true)
        let paused = r.flag("paused")
        let started = r.int("started_at_ms", atLeast: 0)
        let warnedText = r.text("warned")
        var warned: [Int64] = []
        for part in warnedText.split(separator: ",", omittingEmptySubsequences: false) where !warnedText.isEmpty {
            guard let t = Int64(part), t > 0 else {
                r.problem("warned \(show(.text(warnedText))) is not a comma-separated list of positive whole seconds")
                break
            }
            warned.append(t)
        }
        let ended = r.optionalInt("ended_at_ms", atLeast: 0)
        // Only running sessions are ever loaded (their end_reason is NULL); an ended one read for
        // a tool keeps a reason this version does not know as none.
        let reason = r.optionalText("end_reason").flatMap(EndReason.init(rawValue:))
        var billing: SessionBilling?
        if r.row.hasColumn("billing"), let text = r.optionalText("billing") {
            switch StoreRows.billing(text) {
            case .success(let b): billing = b
            case .failure(let problem): r.problem(problem.text)
            }
        }
        guard r.problems.isEmpty, let station else { return nil }
        return SessionRecord(
            id: id, station: station, grantedMillis: granted, usedMillisAtAnchor: used,
            anchor: Timestamp(wallMillis: wall, monoNanos: mono, bootID: boot), paused: paused, startedAtWallMillis: started,
            warnedThresholds: warned, endedAtWallMillis: ended, endReason: reason, billing: billing)
    }

    static func session(_ row: SQLiteRow) -> Result<SessionRecord, DamagedRow> {
        var r = Reader(row)
        guard let session = sessionFields(&r) else { return .failure(r.damaged("sessions", blocksStart: row["ended_at_ms"].isNull)) }
        return .success(session)
    }

    /// A running session the hub can resume: it decodes, its station row exists (`stationIDs`:
    /// every stored station id), and no earlier running session holds the same station.
    static func runningSession(
        _ row: SQLiteRow, stationIDs: Set<String>, runningAt: inout [StationID: String]
    ) -> Result<SessionRecord, DamagedRow> {
        var r = Reader(row)
        let session = sessionFields(&r)
        if let station = row.string("station").flatMap(StationID.init) {
            if !stationIDs.contains(station.value) {
                r.problem("station \(station) does not exist")
            } else if let other = runningAt[station] {
                r.problem("station \(station) already has running session \(other)")
            } else if let id = row.string("id") {
                runningAt[station] = id
            }
        }
        guard r.problems.isEmpty, let session else { return .failure(r.damaged("sessions", blocksStart: true)) }
        return .success(session)
    }

    /// The hub's last alive moment (the single `hub_alive` row).
    static func alive(_ row: SQLiteRow) -> Result<Timestamp, DamagedRow> {
        var r = Reader(row)
        let wall = r.int("wall_ms", atLeast: 0)
        let mono = r.int("mono_ns", atLeast: 0)
        let boot = r.text("boot", nonEmpty: true)
        if row.int("singleton") != 1 { r.problem("singleton is \(show(row["singleton"])), not 1") }
        guard r.problems.isEmpty else {
            var damaged = r.damaged("hub_alive", blocksStart: true)
            damaged.id = nil
            return .failure(damaged)
        }
        return .success(Timestamp(wallMillis: wall, monoNanos: mono, bootID: boot))
    }

    /// An event with what can be read; `damaged` names the problems, if any. A damaged event's
    /// data is `{"damaged": true, "reason": "..."}`.
    static func event(_ row: SQLiteRow) -> (event: HubEvent, damaged: DamagedRow?) {
        var r = Reader(row)
        let id = row.int("id") ?? 0
        let type = r.text("type", nonEmpty: true)
        let at = r.int("at_ms", atLeast: Int64.min)
        var station: StationID?
        if !row["station"].isNull { station = r.stationID("station") }
        let session = r.optionalText("session")
        var data: JSONValue = .null
        let text = r.text("data")
        if case .text = row["data"] {
            do { data = try JSONCoding.decode(Array(text.utf8)) } catch { r.problem("data \(show(.text(text))) is not JSON") }
        }
        guard !r.problems.isEmpty else {
            return (HubEvent(id: id, type: type, atWallMillis: at, station: station, session: session, data: data), nil)
        }
        var damaged = r.damaged("events", blocksStart: false)
        damaged.rowID = id
        let shown = HubEvent(
            id: id, type: type.isEmpty ? "event.damaged" : type, atWallMillis: at, station: station, session: session,
            data: ["damaged": true, "reason": .string("stored event is damaged: \(damaged.reason)")])
        return (shown, damaged)
    }
}
