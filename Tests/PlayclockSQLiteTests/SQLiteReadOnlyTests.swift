import CSQLite
import Foundation
@testable import PlayclockSQLite
import Testing

@Suite("Read-only open")
struct SQLiteReadOnlyTests {
    let scratch: Scratch

    init() throws {
        scratch = try Scratch()
    }

    @Test func aMissingFileIsNotCreated() throws {
        let error = try #require(throws: SQLiteError.self) {
            try SQLiteDatabase(path: scratch.path, mode: .readOnly)
        }
        #expect(error.code == SQLITE_CANTOPEN)
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test func readsWhatTheWriterCommittedWhileItKeepsTheFileOpen() throws {
        let writer = try scratch.open()
        try writer.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
        let reader = try SQLiteDatabase(path: scratch.path, mode: .readOnly)
        defer { reader.close() }
        #expect(reader.isReadOnly)
        #expect(!writer.isReadOnly)
        #expect(try count(reader, "t") == 2)
        try writer.run("INSERT INTO t VALUES (3)")
        #expect(try count(reader, "t") == 3)
    }

    @Test func refusesEveryWriteAndChangesNothing() throws {
        let writer = try scratch.open()
        try writer.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); PRAGMA user_version = 7;")
        writer.close()
        let reader = try SQLiteDatabase(path: scratch.path, mode: .readOnly)
        defer { reader.close() }
        let insert = try #require(throws: SQLiteError.self) { try reader.run("INSERT INTO t VALUES (2)") }
        #expect(insert.code == SQLITE_READONLY)
        #expect(throws: SQLiteError.self) { try reader.execute("CREATE TABLE u (y)") }
        #expect(throws: SQLiteError.self) { try reader.migrate([SQLiteMigration(version: 8, name: "u", sql: "CREATE TABLE u (y);")]) }
        #expect(throws: SQLiteError.self) { try reader.execute("PRAGMA user_version = 9") }
        reader.close()

        let check = try scratch.open()
        #expect(try count(check, "t") == 1)
        #expect(try check.userVersion == 7)
        #expect(try !tableExists(check, "u"))
    }

    /// Reading a WAL file its owner closed creates no `-wal`/`-shm` (they would belong to whoever
    /// ran the check, e.g. root, and could lock the owner out); odd characters in the path work.
    @Test func leavesNoWALOrSharedMemoryFilesBehind() throws {
        let directory = scratch.directory.appendingPathComponent("odd dir ?#%", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hub?.sqlite").path
        do {
            let writer = try SQLiteDatabase(path: path)
            try writer.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
            writer.close()
        }
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        let reader = try SQLiteDatabase(path: path, mode: .readOnly)
        #expect(try count(reader, "t") == 2)
        #expect(throws: SQLiteError.self) { try reader.run("INSERT INTO t VALUES (3)") }
        reader.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        #expect(SQLiteDatabase.uriEscaped("/a b/c?d#e%f") == "/a%20b/c%3Fd%23e%25f")
    }

    /// A file in rollback-journal mode stays so: opening read-only does not switch it to WAL.
    @Test func leavesTheJournalModeAlone() throws {
        do {
            var raw: OpaquePointer?
            #expect(sqlite3_open_v2(scratch.path, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK)
            #expect(sqlite3_exec(raw, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", nil, nil, nil) == SQLITE_OK)
            sqlite3_close_v2(raw)
        }
        let reader = try SQLiteDatabase(path: scratch.path, mode: .readOnly)
        defer { reader.close() }
        #expect(try reader.queryOne("PRAGMA journal_mode")?.string("journal_mode") == "delete")
        #expect(try count(reader, "t") == 1)
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "-wal"))
    }
}
