import Foundation
import PlayclockSQLite

/// A fresh temporary directory for one test. Suites hold one as a stored property, so it lives
/// exactly as long as the test; on deinit it closes every database it opened and removes itself.
///
/// Test bodies deliberately avoid wrapping their code in closures: with Swift 6.3, closures nested
/// inside a `#expect(throws:)` expansion within another closure can collide with ordinary closures.
final class Scratch {
    let directory: URL
    private var opened: [SQLiteDatabase] = []

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("playclock-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        for db in opened { db.close() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Path of the test's database file.
    var path: String { directory.appendingPathComponent("test.sqlite").path }

    /// Opens (or reopens) the test's database file.
    func open(busyTimeoutMilliseconds: Int32 = 5000) throws -> SQLiteDatabase {
        let db = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        opened.append(db)
        return db
    }
}

func count(_ db: SQLiteDatabase, _ table: String) throws -> Int64? {
    try db.queryOne("SELECT count(*) AS n FROM \(table)")?.int("n")
}

func tableExists(_ db: SQLiteDatabase, _ name: String) throws -> Bool {
    try db.queryOne("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(name)]) != nil
}

struct ExpectedFailure: Error, Equatable {}
