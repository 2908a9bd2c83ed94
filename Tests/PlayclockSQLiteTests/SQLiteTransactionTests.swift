import CSQLite
import PlayclockSQLite
import Testing

@Suite("Transactions")
struct SQLiteTransactionTests {
    @Test func transactionCommitsAndReturnsValue() throws {
        try withTemporaryDatabasePath { path in
            let db = try SQLiteDatabase(path: path)
            try db.execute("CREATE TABLE t (x INTEGER)")
            let inserted = try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                try db.run("INSERT INTO t VALUES (2)")
                return db.lastInsertRowID
            }
            #expect(inserted == 2)
            db.close()

            let reopened = try SQLiteDatabase(path: path)
            defer { reopened.close() }
            #expect(try count(reopened, "t") == 2)
        }
    }

    @Test func thrownErrorRollsBackEverything() throws {
        try withTemporaryDatabase { db in
            try db.execute("CREATE TABLE t (x INTEGER)")
            #expect(throws: ExpectedFailure()) {
                try db.transaction {
                    try db.run("INSERT INTO t VALUES (1)")
                    try db.execute("CREATE TABLE other (y)")
                    throw ExpectedFailure()
                }
            }
            print("DBG A")
            #expect(try count(db, "t") == 0)
            print("DBG B")
            #expect(try !tableExists(db, "other"))
            print("DBG C")
            // The connection is back in autocommit mode: a new transaction works.
            try db.transaction { print("DBG body"); try db.run("INSERT INTO t VALUES (3)") }
            print("DBG D")
            #expect(try count(db, "t") == 1)
        }
    }

    @Test func sqlErrorInsideTransactionRollsBack() throws {
        try withTemporaryDatabase { db in
            try db.execute("CREATE TABLE t (x INTEGER UNIQUE)")
            #expect(throws: SQLiteError.self) {
                try db.transaction {
                    try db.run("INSERT INTO t VALUES (1)")
                    try db.run("INSERT INTO t VALUES (1)")
                }
            }
            #expect(try count(db, "t") == 0)
        }
    }

    @Test func nestedTransactionIsRefused() throws {
        try withTemporaryDatabase { db in
            try db.execute("CREATE TABLE t (x INTEGER)")
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                let error = try #require(throws: SQLiteError.self) {
                    try db.transaction { try db.run("INSERT INTO t VALUES (2)") }
                }
                #expect(error.code == SQLITE_MISUSE)
                #expect(error.message.contains("nested transaction"))
            }
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
    }

    @Test func transactionIsRefusedWhileAManualTransactionIsOpen() throws {
        try withTemporaryDatabase { db in
            try db.execute("CREATE TABLE t (x INTEGER); BEGIN;")
            #expect(throws: SQLiteError.self) { try db.transaction { try db.run("INSERT INTO t VALUES (1)") } }
            try db.execute("ROLLBACK")
            #expect(try count(db, "t") == 0)
        }
    }
}
