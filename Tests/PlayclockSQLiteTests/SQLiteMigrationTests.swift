import CSQLite
import PlayclockSQLite
import Testing

@Suite("Migrations")
struct SQLiteMigrationTests {
    let scratch: Scratch

    init() throws {
        scratch = try Scratch()
    }

    static let v1 = SQLiteMigration(version: 1, name: "create teams", sql: """
        CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE log (step TEXT);
        INSERT INTO log VALUES ('v1');
        """)
    static let v2 = SQLiteMigration(version: 2, name: "create players", sql: """
        CREATE TABLE players (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES teams(id));
        INSERT INTO log VALUES ('v2');
        """)
    static let v3 = SQLiteMigration(version: 3, name: "add player name", sql: """
        ALTER TABLE players ADD COLUMN name TEXT;
        INSERT INTO log VALUES ('v3');
        """)

    @Test func appliesInAscendingOrder() throws {
        let db = try scratch.open()
        #expect(try db.userVersion == 0)
        try db.migrate([Self.v3, Self.v1, Self.v2])
        #expect(try db.userVersion == 3)
        #expect(try db.query("SELECT step FROM log ORDER BY rowid").map { $0.string("step") } == ["v1", "v2", "v3"])
        try db.run("INSERT INTO teams (name) VALUES ('Owls')")
        try db.run("INSERT INTO players (team_id, name) VALUES (?, ?)", [SQLiteValue(db.lastInsertRowID), "Ada"])
        #expect(try count(db, "players") == 1)
    }

    @Test func isIdempotentOnReopenAndAppliesOnlyNewMigrations() throws {
        let first = try scratch.open()
        try first.migrate([Self.v1, Self.v2])
        try first.run("INSERT INTO teams (name) VALUES ('Owls')")
        first.close()

        let second = try scratch.open()
        try second.migrate([Self.v1, Self.v2])
        #expect(try second.userVersion == 2)
        #expect(try count(second, "log") == 2)
        #expect(try count(second, "teams") == 1)
        second.close()

        let third = try scratch.open()
        try third.migrate([Self.v1, Self.v2, Self.v3])
        #expect(try third.userVersion == 3)
        #expect(try third.query("SELECT step FROM log ORDER BY rowid").map { $0.string("step") } == ["v1", "v2", "v3"])
    }

    @Test func failingMigrationRollsBackEntirely() throws {
        let broken = SQLiteMigration(version: 2, name: "broken", sql: """
            CREATE TABLE extra (x);
            INSERT INTO teams (name) VALUES ('ghost');
            INSERT INTO no_such_table VALUES (1);
            """)
        let db = try scratch.open()
        let error = try #require(throws: SQLiteError.self) {
            try db.migrate([Self.v1, broken, Self.v3])
        }
        #expect(error.message.contains("migration 2 'broken'"))
        #expect(error.message.contains("no_such_table"))
        #expect(try db.userVersion == 1)
        #expect(try !tableExists(db, "extra"))
        #expect(try !tableExists(db, "players"))
        #expect(try count(db, "teams") == 0)
        #expect(try count(db, "log") == 1)
    }

    @Test func migrationMustNotEndTheTransaction() throws {
        let sneaky = SQLiteMigration(version: 1, name: "commits itself", sql: "CREATE TABLE a (x); COMMIT;")
        let db = try scratch.open()
        #expect(throws: SQLiteError.self) { try db.migrate([sneaky]) }
        #expect(try db.userVersion == 0)
    }

    @Test func refusesNewerSchema() throws {
        let newer = try scratch.open()
        try newer.migrate([Self.v1, Self.v2, Self.v3])
        newer.close()

        let older = try scratch.open()
        let error = try #require(throws: SQLiteError.self) { try older.migrate([Self.v1, Self.v2]) }
        #expect(error.message.contains("newer"))
        #expect(try older.userVersion == 3)
        #expect(throws: SQLiteError.self) { try older.migrate([]) }
        #expect(try older.userVersion == 3)
    }

    @Test func refusesDuplicateVersions() throws {
        let duplicate = SQLiteMigration(version: 1, name: "also one", sql: "CREATE TABLE dup (x);")
        let db = try scratch.open()
        let error = try #require(throws: SQLiteError.self) { try db.migrate([Self.v1, Self.v2, duplicate]) }
        #expect(error.message.contains("duplicate migration version 1"))
        #expect(try db.userVersion == 0)
        #expect(try !tableExists(db, "teams"))
        #expect(try !tableExists(db, "dup"))
    }

    @Test func refusesNonPositiveVersions() throws {
        let zero = SQLiteMigration(version: 0, name: "zero", sql: "CREATE TABLE z (x);")
        let db = try scratch.open()
        #expect(throws: SQLiteError.self) { try db.migrate([zero, Self.v1]) }
        #expect(try db.userVersion == 0)
        #expect(try !tableExists(db, "z"))
    }
}
