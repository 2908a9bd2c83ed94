import Foundation
import PlayclockSQLite

/// Creates a fresh temporary directory, passes a database file path inside it to `body`,
/// and removes the directory afterwards.
func withTemporaryDatabasePath<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("playclock-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory.appendingPathComponent("test.sqlite").path)
}

/// Opens a database on a real file in a fresh temporary directory.
func withTemporaryDatabase<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
    try withTemporaryDatabasePath { path in
        let db = try SQLiteDatabase(path: path)
        defer { db.close() }
        return try body(db)
    }
}

func count(_ db: SQLiteDatabase, _ table: String) throws -> Int64? {
    try db.queryOne("SELECT count(*) AS n FROM \(table)")?.int("n")
}

func tableExists(_ db: SQLiteDatabase, _ name: String) throws -> Bool {
    try db.queryOne("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(name)]) != nil
}

struct ExpectedFailure: Error, Equatable {}
