import CSQLite
import PlayclockSQLite
import Testing

@Suite("Transactions")
struct SQLiteTransactionTests {
    let scratch: Scratch

    init() throws {
        scratch = try Scratch()
    }

    @Test func transactionCommitsAndReturnsValue() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER)")
        let inserted = try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            try db.run("INSERT INTO t VALUES (2)")
            return db.lastInsertRowID
        }
        #expect(inserted == 2)
        db.close()

        let reopened = try scratch.open()
        #expect(try count(reopened, "t") == 2)
    }

    @Test func thrownErrorRollsBackEverything() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: ExpectedFailure()) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                try db.execute("CREATE TABLE other (y)")
                throw ExpectedFailure()
            }
        }
        #expect(try count(db, "t") == 0)
        #expect(try !tableExists(db, "other"))
        // The connection is back in autocommit mode: a new transaction works.
        try db.transaction { try db.run("INSERT INTO t VALUES (3)") }
        #expect(try count(db, "t") == 1)
    }

    @Test func sqlErrorInsideTransactionRollsBack() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER UNIQUE)")
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                try db.run("INSERT INTO t VALUES (1)")
            }
        }
        #expect(try count(db, "t") == 0)
    }

    @Test func nestedTransactionIsRefused() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER)")
        let refusal: SQLiteError? = try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            do {
                try db.transaction { try db.run("INSERT INTO t VALUES (2)") }
                return nil
            } catch let error as SQLiteError {
                return error
            }
        }
        let error = try #require(refusal)
        #expect(error.code == SQLITE_MISUSE)
        #expect(error.message.contains("nested transaction"))
        // The inner body never ran; the outer transaction committed its own work.
        #expect(try db.query("SELECT x FROM t").map { $0.int("x") } == [1])

        // Propagating the refusal rolls back the outer transaction too.
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (3)")
                try db.transaction { try db.run("INSERT INTO t VALUES (4)") }
            }
        }
        #expect(try count(db, "t") == 1)
    }

    @Test func transactionIsRefusedWhileAManualTransactionIsOpen() throws {
        let db = try scratch.open()
        try db.execute("CREATE TABLE t (x INTEGER); BEGIN;")
        #expect(throws: SQLiteError.self) { try db.transaction { try db.run("INSERT INTO t VALUES (1)") } }
        try db.execute("ROLLBACK")
        #expect(try count(db, "t") == 0)
    }
}
