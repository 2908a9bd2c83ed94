import Foundation
import PlayclockContract
import PlayclockCore
import PlayclockSQLite
import Testing

@testable import PlayclockHub

/// Money through the real hub actor and the real SQLite store: what is acknowledged is stored,
/// the ledger cannot be edited, retries are applied once, `db check` sees tampering.
@Suite struct MoneyStoreTests {
    let db: TemporaryDatabase
    let topics = TopicScheme(root: "playclock")!
    let catalog: PricingCatalog

    init() throws {
        db = try TemporaryDatabase.with(stations: ["PC-01", "PC-02"])
        catalog = try PricingCatalog.parse([
            "currency": "EUR", "timezone": "Europe/Berlin",
            "plans": [["id": "standard", "name": "PCs", "per_hour": 360, "step_s": 60, "minimum": 100]],
            "packages": [["id": "3h", "name": "3 hours", "price": 800, "minutes": 180]],
            "tiers": [["id": "gold", "name": "Gold", "discount_percent": 10]],
        ])
    }

    func makeHub(_ publisher: RecordingPublisher, pricing: PricingCatalog? = nil) throws -> Hub {
        try Hub(topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: JumpableClock(),
                logger: quietLogger, pricing: pricing ?? catalog)
    }

    func send(_ hub: Hub, _ publisher: RecordingPublisher, _ verb: String, _ body: JSONValue) async throws -> JSONValue {
        let before = publisher.messages.count
        await hub.receive(InboundMessage(topic: topics.request(verb), payload: JSONCoding.encode(body)))
        let response = try #require(publisher.messages.dropFirst(before).last { $0.topic == topics.response(verb) })
        return try #require(response.json)
    }

    func check() throws -> StoreCheckReport {
        let store = try HubStore(path: db.path, readOnly: true)
        defer { store.close() }
        return store.check()
    }

    @Test func theConfigSeedsPricesOnceAndEditsAreNewVersions() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        let set = try await send(hub, publisher, "rate/set", ["plan": ["id": "standard", "name": "PCs", "per_hour": 480, "step_s": 60]])
        #expect(set["status"] == "ok")
        // A restart with another seed keeps the stored prices: the config only seeds a new database.
        var other = catalog
        other.plans[0].perHour = 9999
        let publisher2 = RecordingPublisher(databasePath: db.path)
        let hub2 = try makeHub(publisher2, pricing: other)
        try await hub2.start()
        let quote = try await send(hub2, publisher2, "price/quote", ["station": "PC-01", "minutes": 60])
        #expect(quote["data"]?["amount"] == 480)
        let versions = try HubStore(path: db.path).db.query("SELECT version, by FROM pricing ORDER BY version")
        #expect(versions.map { $0.string("by") } == ["config", nil])
    }

    @Test func moneyIsStoredBeforeItIsAcknowledgedAndSurvivesARestart() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        #expect(try await send(hub, publisher, "member/add", ["member": "m-1", "name": "Ann"])["status"] == "ok")
        let topup = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 1500, "method": "cash"])
        #expect(topup["data"]?["balance"] == 1500)
        let sold = try await send(hub, publisher, "session/start", ["station": "PC-01", "package": "3h", "payment": ["method": "account", "member": "m-1"]])
        #expect(sold["data"]?["sale"]?["amount"] == 800)
        let store = try HubStore(path: db.path)
        #expect(try store.members().first?.balance == 700)
        #expect(try store.lastSaleID() == 2 && store.lastLedgerID() == 2)
        let restarted = RecordingPublisher(databasePath: db.path)
        let hub2 = try makeHub(restarted)
        try await hub2.start()
        let member = try await send(hub2, restarted, "member/get", ["member": "m-1"])
        #expect(member["data"]?["balance"] == 700 && member["data"]?["currency"] == "EUR")
        #expect(member["data"]?["history"]?.arrayValue?.count == 2)
        let report = try check()
        #expect(report.isClean, "\(report.problems)")
        #expect(report.sales == 2 && report.ledgerEntries == 2 && report.members == 1)
    }

    @Test func theLedgerAndSalesRefuseEveryUpdateAndDelete() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        _ = try await send(hub, publisher, "member/add", ["member": "m-1", "name": "Ann"])
        _ = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 1500, "method": "card"])
        let raw = try SQLiteDatabase(path: db.path)
        for sql in ["UPDATE ledger SET amount = 1", "DELETE FROM ledger", "UPDATE sales SET amount = 1", "DELETE FROM sales"] {
            #expect(throws: (any Error).self, "\(sql)") { try raw.run(sql) }
        }
        #expect(try raw.queryOne("SELECT SUM(amount) AS n FROM ledger")?.int("n") == 1500)
    }

    @Test func dbCheckReportsABalanceThatDisagreesWithTheLedger() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        _ = try await send(hub, publisher, "member/add", ["member": "m-1", "name": "Ann"])
        _ = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 1500, "method": "card"])
        #expect(try check().isClean)
        let raw = try SQLiteDatabase(path: db.path)
        try raw.run("UPDATE members SET balance = balance + 100 WHERE id = 'm-1'")
        var report = try check()
        #expect(report.problems.contains { $0.contains("member m-1: the balance column says 1600, the ledger entries add up to 1500") })
        try raw.run("UPDATE members SET balance = 1500 WHERE id = 'm-1'")
        // A sale without its ledger entries (as if written by something else).
        try raw.run("INSERT INTO sales (id, kind, at_ms, amount, currency, method, detail) VALUES (99, 'topup', 0, 500, 'EUR', 'cash', '{}')")
        report = try check()
        #expect(report.problems.contains { $0.contains("sale 99 (topup) is for 500 but its ledger entries move 0") })
        #expect(!report.isClean)
    }

    @Test func aRetriedMoneyRequestIsAppliedOnceEvenAcrossARestart() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        try await hub.start()
        _ = try await send(hub, publisher, "member/add", ["member": "m-1", "name": "Ann", "transaction": "add-1"])
        let body: JSONValue = ["member": "m-1", "amount": 1000, "method": "cash", "transaction": "till-7"]
        let first = try await send(hub, publisher, "member/topup", body)
        let again = try await send(hub, publisher, "member/topup", body)
        #expect(first == again, "the retry gets the first answer, byte for byte")
        let conflict = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 2000, "method": "cash", "transaction": "till-7"])
        #expect(conflict["error"]?["code"] == "transaction_conflict")
        let badID = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 10, "method": "cash", "transaction": ["x": 1]])
        #expect(badID["error"]?["code"] == "invalid_request")
        let restarted = RecordingPublisher(databasePath: db.path)
        let hub2 = try makeHub(restarted)
        try await hub2.start()
        #expect(try await send(hub2, restarted, "member/topup", body) == first)
        #expect(try await send(hub2, restarted, "member/add", ["member": "m-1", "name": "Ann", "transaction": "add-1"])["status"] == "ok")
        #expect(try HubStore(path: db.path).members().first?.balance == 1000)
        #expect(try check().sales == 1)
    }

    @Test func aMemberSignsInAtTheStationWithTheirPIN() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try makeHub(publisher)
        let running = try await hub.startRunning()
        defer { running.cancel() }
        _ = try await send(hub, publisher, "member/add", ["member": "m-1", "name": "Ann", "pin": "2468"])
        _ = try await send(hub, publisher, "member/topup", ["member": "m-1", "amount": 500, "method": "cash"])
        let stored = try SQLiteDatabase(path: db.path).queryOne("SELECT pin_hash FROM members")?.string("pin_hash") ?? ""
        #expect(stored.hasPrefix("$2") && !stored.contains("2468"), "only a bcrypt hash is stored")
        let pc1 = StationID("PC-01")!
        func signIn(_ pin: String, _ request: String) async throws -> JSONValue {
            let message = SignInRequest(station: pc1, action: .signIn(member: "m-1", pin: pin), request: request)
            await hub.receive(InboundMessage(topic: topics.signIn(pc1), payload: message.payload))
            let result = try await publisher.waitFor { $0.topic == topics.signInResult(pc1) && $0.json?["request"] == .string(request) }
            return try #require(result.json)
        }
        let wrong = try await signIn("1111", "r1")
        #expect(wrong["error"]?["code"] == "invalid_credentials")
        // One attempt per second per station: wait past it (loosely) before the right PIN.
        try await Task.sleep(for: .milliseconds(1100))
        let right = try await signIn("2468", "r2")
        #expect(right["status"] == "ok")
        #expect(right["member"]?["balance_text"] == "5.00 EUR")
        let unlock = try await publisher.waitFor { $0.topic == topics.control(pc1) && $0.json?["action"] == "unlock" }
        #expect(unlock.json?["member"]?["member"] == "m-1")
        // A sign-in for another station on this station's topic is not answered at all.
        let forged = SignInRequest(station: StationID("PC-02")!, action: .signIn(member: "m-1", pin: "2468"), request: "r3")
        await hub.receive(InboundMessage(topic: topics.signIn(pc1), payload: forged.payload))
        try await Task.sleep(for: .milliseconds(1100))
        let out = SignInRequest(station: pc1, action: .signOut, request: "r4")
        await hub.receive(InboundMessage(topic: topics.signIn(pc1), payload: out.payload))
        let signedOut = try await publisher.waitFor { $0.topic == topics.signInResult(pc1) && $0.json?["request"] == "r4" }
        #expect(signedOut.json?["status"] == "ok")
        #expect(!publisher.messages.contains { $0.json?["request"] == "r3" })
        let events = try HubStore(path: db.path).events().map(\.type)
        #expect(events.contains("member.sign_in_failed") && events.contains("member.signed_in") && events.contains("session.charged"))
        #expect(try check().isClean)
        await hub.shutdown()
    }
}
