import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A single SQLite connection with a per-SQL prepared-statement cache.
///
/// Not thread-safe: an instance must be confined to one isolation domain (for example, owned
/// and used only by one actor). It is `@unchecked Sendable` only so that it can be handed to
/// that owner; concurrent use from several domains is undefined behaviour.
public final class SQLiteDatabase: @unchecked Sendable {
    public let path: String
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// How a connection opens its file.
    public enum OpenMode: Sendable, Equatable {
        /// Created if missing, switched to WAL, `synchronous=FULL`, `foreign_keys=ON`.
        case readWrite
        /// The file must exist; nothing is configured, created or migrated, and every write is
        /// refused (`SQLITE_OPEN_READONLY` plus `PRAGMA query_only`). For inspecting a database,
        /// possibly while its owner keeps writing to it. No `-wal`/`-shm` file is left behind: when
        /// there is no `-wal` next to the file (its owner is not running, or checkpointed and closed
        /// it), the file is opened `immutable` (SQLite would otherwise create both, owned by
        /// whoever runs the reader, which can lock the owner out).
        case readOnly
    }

    /// Whether this connection was opened `.readOnly`.
    public let isReadOnly: Bool

    /// Opens the database at `path`. `.readWrite` (the default) creates it if needed and configures
    /// it with WAL journaling, `synchronous=FULL`, `foreign_keys=ON` and the given busy timeout, and
    /// throws if the file database could not be switched to WAL. `.readOnly` only opens an existing
    /// file, with the busy timeout, and changes nothing in it.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5000, mode: OpenMode = .readWrite) throws {
        self.path = path
        self.isReadOnly = mode == .readOnly
        var db: OpaquePointer?
        var flags = mode == .readOnly
            ? SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX
            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        var name = path
        if mode == .readOnly && access(path, F_OK) == 0 && access(path + "-wal", F_OK) != 0 {
            name = "file:" + Self.uriEscaped(path) + "?immutable=1"
            flags |= SQLITE_OPEN_URI
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc & 0xFF, extendedCode: rc, message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        do {
            try check(sqlite3_busy_timeout(db, busyTimeoutMilliseconds), sql: nil)
            if mode == .readOnly {
                try execute("PRAGMA query_only=ON")
                return
            }
            let journalMode = try queryOne("PRAGMA journal_mode=WAL")?.values.first?.stringValue?.lowercased()
            let isFileDatabase = !String(cString: sqlite3_db_filename(db, "main")).isEmpty
            if isFileDatabase && journalMode != "wal" {
                throw SQLiteError(
                    code: SQLITE_ERROR,
                    message: "could not enable WAL journal mode for \(path) (journal_mode is \(journalMode ?? "unknown"))")
            }
            try execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// A path as the path part of an SQLite `file:` URI: `%`, `?`, `#` and anything outside
    /// printable ASCII percent-encoded.
    static func uriEscaped(_ path: String) -> String {
        var text = ""
        for byte in path.utf8 {
            if byte > 0x20 && byte < 0x7F && byte != 0x25 && byte != 0x3F && byte != 0x23 {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return text
    }

    /// Finalizes all cached statements and closes the connection. Idempotent.
    public func close() {
        for statement in statements.values {
            sqlite3_finalize(statement)
        }
        statements.removeAll()
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    // MARK: - Executing SQL

    /// Runs one or more `;`-separated statements without bindings.
    public func execute(_ sql: String) throws {
        let db = try openHandle(sql: sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        defer { sqlite3_free(errorMessage) }
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            throw SQLiteError(code: rc & 0xFF, extendedCode: sqlite3_extended_errcode(db), message: message, sql: sql)
        }
    }

    /// Runs exactly one statement with positional `?` bindings, stepping it to completion.
    public func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws {
        try withStatement(sql, bindings) { statement in
            while try step(statement, sql: sql) {}
        }
    }

    /// Runs exactly one statement with positional `?` bindings and returns all result rows.
    public func query(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> [SQLiteRow] {
        try withStatement(sql, bindings) { statement in
            let count = sqlite3_column_count(statement)
            let columns = (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) }
            var rows: [SQLiteRow] = []
            while try step(statement, sql: sql) {
                let values = (0..<count).map { columnValue(statement, $0) }
                rows.append(SQLiteRow(columns: columns, values: values))
            }
            return rows
        }
    }

    /// Like `query`, returning only the first row (or `nil` when there is none).
    public func queryOne(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> SQLiteRow? {
        try query(sql, bindings).first
    }

    // MARK: - Transactions

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back and rethrowing if `body` or
    /// the commit throws. Throws `SQLITE_MISUSE` if a transaction is already open (no nesting).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let db = try openHandle(sql: nil)
        guard sqlite3_get_autocommit(db) != 0 else {
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "nested transaction refused: a transaction is already open on this connection")
        }
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(db) == 0 {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    // MARK: - Migrations

    /// Applies, in ascending version order, every migration whose version is above the current
    /// `PRAGMA user_version`, each in its own transaction together with the version bump.
    /// Throws on duplicate or non-positive versions, and when the database is newer than the
    /// highest known migration (a schema written by a newer program is never downgraded).
    public func migrate(_ migrations: [SQLiteMigration]) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "duplicate migration version \(next.version) ('\(previous.name)' and '\(next.name)')")
        }
        if let invalid = sorted.first, invalid.version <= 0 {
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "migration '\(invalid.name)' has version \(invalid.version); versions must be positive")
        }
        let current = try userVersion
        let latest = sorted.last?.version ?? 0
        if current > latest {
            throw SQLiteError(
                code: SQLITE_ERROR,
                message: "database schema version \(current) is newer than the latest known migration \(latest); refusing to use it")
        }
        for migration in sorted where migration.version > current {
            do {
                try transaction {
                    try execute(migration.sql)
                    guard let db = handle, sqlite3_get_autocommit(db) == 0 else {
                        throw SQLiteError(code: SQLITE_MISUSE, message: "migration ended the enclosing transaction")
                    }
                    try execute("PRAGMA user_version = \(migration.version)")
                }
            } catch let error as SQLiteError {
                throw SQLiteError(
                    code: error.code,
                    extendedCode: error.extendedCode,
                    message: "migration \(migration.version) '\(migration.name)' failed: \(error.message)",
                    sql: error.sql)
            }
        }
    }

    // MARK: - Connection state

    /// `PRAGMA user_version`.
    public var userVersion: Int {
        get throws {
            Int(try queryOne("PRAGMA user_version")?.values.first?.int64Value ?? 0)
        }
    }

    /// Row id of the most recent successful INSERT on this connection (0 if none or closed).
    public var lastInsertRowID: Int64 {
        handle.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Rows changed by the most recent INSERT/UPDATE/DELETE on this connection (0 if closed).
    public var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    /// Number of cached prepared statements (for tests).
    var cachedStatementCount: Int { statements.count }

    // MARK: - Internals

    private func openHandle(sql: String?) throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "database \(path) is closed", sql: sql)
        }
        return handle
    }

    private func error(_ rc: Int32, sql: String?) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return SQLiteError(code: rc & 0xFF, extendedCode: rc, message: message, sql: sql)
    }

    private func check(_ rc: Int32, sql: String?) throws {
        if rc != SQLITE_OK { throw error(rc, sql: sql) }
    }

    /// Fetches (or prepares and caches) the statement for `sql`, binds `bindings`, runs `body`,
    /// then resets the statement and clears its bindings for the next use.
    private func withStatement<T>(
        _ sql: String, _ bindings: [SQLiteValue], _ body: (OpaquePointer) throws -> T
    ) throws -> T {
        let statement = try cachedStatement(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard bindings.count == expected else {
            throw SQLiteError(
                code: SQLITE_RANGE,
                message: "statement expects \(expected) binding(s), got \(bindings.count)",
                sql: sql)
        }
        for (offset, value) in bindings.enumerated() {
            try check(bind(value, to: statement, at: Int32(offset + 1)), sql: sql)
        }
        return try body(statement)
    }

    private func cachedStatement(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        let db = try openHandle(sql: sql)
        var statement: OpaquePointer?
        var hasTrailingStatement = false
        let rc = sql.withCString { start in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(db, start, -1, &statement, &tail)
            if rc == SQLITE_OK, let tail, tail.pointee != 0 {
                // Anything after the first statement must be whitespace or comments only.
                var extra: OpaquePointer?
                if sqlite3_prepare_v2(db, tail, -1, &extra, nil) != SQLITE_OK || extra != nil {
                    hasTrailingStatement = true
                }
                sqlite3_finalize(extra)
            }
            return rc
        }
        guard rc == SQLITE_OK else {
            throw error(rc, sql: sql)
        }
        guard let statement else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "SQL contains no statement", sql: sql)
        }
        if hasTrailingStatement {
            sqlite3_finalize(statement)
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "run/query accept exactly one statement; use execute for several",
                sql: sql)
        }
        statements[sql] = statement
        return statement
    }

    /// Steps once: `true` when a row is available, `false` when done.
    private func step(_ statement: OpaquePointer, sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw error(rc, sql: sql)
        }
    }
}

/// `SQLITE_TRANSIENT`: SQLite copies the bound bytes before the bind call returns.
private var transient: sqlite3_destructor_type {
    unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

private func bind(_ value: SQLiteValue, to statement: OpaquePointer, at index: Int32) -> Int32 {
    switch value {
    case .null:
        return sqlite3_bind_null(statement, index)
    case .integer(let v):
        return sqlite3_bind_int64(statement, index, v)
    case .real(let v):
        return sqlite3_bind_double(statement, index, v)
    case .text(let v):
        // Bound by UTF-8 byte count, so embedded NULs survive; the pointer is never nil (nil would bind NULL).
        return v.withCString { text in
            sqlite3_bind_text64(statement, index, text, UInt64(v.utf8.count), transient, UInt8(SQLITE_UTF8))
        }
    case .blob(let v):
        // A nil pointer would bind NULL, so an empty blob is bound as a zero-length blob.
        if v.isEmpty { return sqlite3_bind_zeroblob(statement, index, 0) }
        return v.withUnsafeBytes { bytes in
            sqlite3_bind_blob64(statement, index, bytes.baseAddress, UInt64(bytes.count), transient)
        }
    }
}

private func columnValue(_ statement: OpaquePointer, _ index: Int32) -> SQLiteValue {
    switch sqlite3_column_type(statement, index) {
    case SQLITE_INTEGER:
        return .integer(sqlite3_column_int64(statement, index))
    case SQLITE_FLOAT:
        return .real(sqlite3_column_double(statement, index))
    case SQLITE_TEXT:
        guard let text = sqlite3_column_text(statement, index) else { return .text("") }
        let count = Int(sqlite3_column_bytes(statement, index))
        return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
    case SQLITE_BLOB:
        guard let blob = sqlite3_column_blob(statement, index) else { return .blob([]) }
        let count = Int(sqlite3_column_bytes(statement, index))
        return .blob(Array(UnsafeRawBufferPointer(start: blob, count: count)))
    default:
        return .null
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
