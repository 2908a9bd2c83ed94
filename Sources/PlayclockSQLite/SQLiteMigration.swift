/// One schema step. `version` is written to `PRAGMA user_version` in the same transaction as `sql`.
/// `sql` may contain several statements but must not contain transaction control (BEGIN/COMMIT/ROLLBACK).
public struct SQLiteMigration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
