import CSQLite
import Foundation
@testable import PlayclockSQLite
import Testing

@Suite("Database")
struct SQLiteDatabaseTests {
    let scratch: Scratch

    init() throws {
        scratch = try Scratch()
    }

    @Test func opensWithWALFullSyncAndForeignKeys() throws {
        let path = scratch.path
        let db = try scratch.open()
        #expect(db.path == path)
        #expect(try db.queryOne("PRAGMA journal_mode")?.string("journal_mode") == "wal")
        #expect(try db.queryOne("PRAGMA synchronous")?.int("synchronous") == 2)
        #expect(try db.queryOne("PRAGMA foreign_keys")?.int("foreign_keys") == 1)
        #expect(try db.queryOne("PRAGMA busy_timeout")?.values.first == .integer(5000))
        try db.execute("CREATE TABLE t (x)")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func busyTimeoutIsConfigurable() throws {
        let db = try scratch.open(busyTimeoutMilliseconds: 250)
        #expect(try db.queryOne("PRAGMA busy_timeout")?.values.first == .integer(250))
    }

    @Test func foreignKeysAreEnforced() throws {
        let db = try scratch.open()
        try db.execute("""
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));
            """)
        let error = try #require(throws: SQLiteError.self) {
            try db.run("INSERT INTO child (parent_id) VALUES (?)", [99])
        }
        #expect(error.code == SQLITE_CONSTRAINT)
        #expect(try count(db, "child") == 0)
    }

    @Test func openingAnUnreachablePathThrows() throws {
        let path = scratch.path
        let error = try #require(throws: SQLiteError.self) {
            _ = try SQLiteDatabase(path: path + "/no/such/dir/db.sqlite")
        }
        #expect(error.code == SQLITE_CANTOPEN)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        try db.run("INSERT INTO t (name) VALUES (?)", ["kept"])
        db.close()
        db.close()  // idempotent
        #expect(throws: SQLiteError.self) { try db.query("SELECT * FROM t") }

        let reopened = try scratch.open()
        #expect(try reopened.query("SELECT name FROM t").map { $0.string("name") } == ["kept"])
    }

    @Test func useAfterCloseThrowsMisuse() throws {
        let db = try scratch.open()
        db.close()
        let error = try #require(throws: SQLiteError.self) { try db.execute("SELECT 1") }
        #expect(error.code == SQLITE_MISUSE)
        #expect(error.description.contains("closed"))
        #expect(db.changes == 0)
        #expect(db.lastInsertRowID == 0)
    }

    @Test func syntaxErrorNamesTheSQL() throws {
        let db = try scratch.open()
        let cachedAfterOpen = db.cachedStatementCount
        for attempt in [
            { try db.run("SELEKT 1") },
            { _ = try db.query("SELEKT 1") },
            { try db.execute("SELEKT 1") },
        ] as [() throws -> Void] {
            let error = try #require(throws: SQLiteError.self) { try attempt() }
            #expect(error.code == SQLITE_ERROR)
            #expect(error.sql == "SELEKT 1")
            #expect(error.message.contains("syntax error"))
            #expect(error.description.contains("SELEKT 1"))
        }
        #expect(db.cachedStatementCount == cachedAfterOpen)
    }

    @Test func uniqueViolationThrowsAndChangesNothing() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        try db.run("INSERT INTO t (name) VALUES (?)", ["a"])
        let error = try #require(throws: SQLiteError.self) {
            try db.run("INSERT INTO t (name) VALUES (?)", ["a"])
        }
        #expect(error.code == SQLITE_CONSTRAINT)
        #expect(error.extendedCode == SQLITE_CONSTRAINT | (8 << 8))  // SQLITE_CONSTRAINT_UNIQUE
        #expect(error.message.contains("UNIQUE"))
        #expect(try db.query("SELECT name FROM t").map { $0.string("name") } == ["a"])

        // A multi-row statement that violates the constraint part-way leaves nothing behind.
        #expect(throws: SQLiteError.self) {
            try db.run("INSERT INTO t (name) VALUES ('b'), ('a')")
        }
        #expect(try count(db, "t") == 1)

        // The cached statement was reset after the failure and is reusable.
        try db.run("INSERT INTO t (name) VALUES (?)", ["c"])
        #expect(try count(db, "t") == 2)
    }

    @Test func bindingCountMismatchIsRefused() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (a, b)")
        let error = try #require(throws: SQLiteError.self) {
            try db.run("INSERT INTO t VALUES (?, ?)", [1])
        }
        #expect(error.code == SQLITE_RANGE)
        #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t VALUES (?, ?)", [1, 2, 3]) }
        #expect(try count(db, "t") == 0)
    }

    @Test func runAndQueryRefuseMultipleStatements() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x)")
        let error = try #require(throws: SQLiteError.self) {
            try db.run("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
        }
        #expect(error.code == SQLITE_MISUSE)
        #expect(try count(db, "t") == 0)
        // Trailing semicolons, whitespace and comments are fine.
        try db.run("INSERT INTO t VALUES (3);  -- trailing comment\n")
        #expect(try count(db, "t") == 1)
        #expect(throws: SQLiteError.self) { try db.run("  ") }
    }

    @Test func bindingsAreClearedBetweenUses() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x)")
        try db.run("INSERT INTO t VALUES (?)", ["first"])
        try db.run("INSERT INTO t VALUES (?)", [nil])
        #expect(try db.query("SELECT x FROM t ORDER BY rowid").map { $0["x"] } == [.text("first"), .null])
        // Re-running a query after a partial read returns the full result again.
        #expect(try db.queryOne("SELECT x FROM t ORDER BY rowid")?["x"] == .text("first"))
        #expect(try db.query("SELECT x FROM t ORDER BY rowid").count == 2)
    }

    @Test func queryOneReturnsFirstRowOrNil() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
        #expect(try db.queryOne("SELECT x FROM t WHERE x > ? ORDER BY x", [5]) == nil)
        #expect(try db.queryOne("SELECT x FROM t ORDER BY x DESC")?.int("x") == 2)
    }

    @Test func lastInsertRowIDAndChanges() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        try db.run("INSERT INTO t (id, v) VALUES (?, ?)", [41, 0])
        #expect(db.lastInsertRowID == 41)
        try db.run("INSERT INTO t (v) VALUES (?)", [0])
        #expect(db.lastInsertRowID == 42)
        try db.run("UPDATE t SET v = v + 1")
        #expect(db.changes == 2)
        try db.run("DELETE FROM t WHERE id = ?", [41])
        #expect(db.changes == 1)
    }

    @Test func statementCacheHandlesManyCalls() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, label TEXT)")
        let cachedBefore = db.cachedStatementCount
        try db.transaction {
            for n in 1...10_000 {
                try db.run("INSERT INTO t (n, label) VALUES (?, ?)", [SQLiteValue(n), SQLiteValue("row \(n)")])
            }
        }
        #expect(db.cachedStatementCount == cachedBefore + 1)
        let row = try #require(try db.queryOne("SELECT count(*) AS c, sum(n) AS s, max(label) AS m FROM t"))
        #expect(row.int("c") == 10_000)
        #expect(row.int("s") == 50_005_000)
        #expect(row.string("m") == "row 9999")
        #expect(db.cachedStatementCount == cachedBefore + 2)
    }
}
