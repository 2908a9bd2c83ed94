import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The counter over the real broker and the real hub: baskets of products and time, cash with
/// change, split payments, stock, voids, shifts with pay-ins and pay-outs, and the X and Z
/// reports checked against the ledger itself and the real `playclock db check`.
@Suite(.serialized)
struct CounterTests {
    static func harness() async throws -> HubHarness {
        var config = MoneyFixture.config()
        config["counter"] = [
            "cash_requires_shift": true, "prices_include_tax": true, "taxes": ["drinks": 19, "time": 7],
            "venue_name": "Arena One", "venue_address": ["1 Main Street"],
        ]
        return try await HubHarness(policy: MoneyFixture.policy(), config: config)
    }

    static func addProducts(_ h: HubHarness) async throws {
        for product: JSONValue in [
            ["product": "cola", "name": "Cola 0.5 l", "category": "drinks", "price": 250, "stock": 10, "low_stock": 8],
            ["product": "chips", "name": "Chips", "category": "snacks", "price": 150],
        ] {
            let set = try await h.request(as: "boss", "product/set", ["product": product])
            #expect(set["status"] == "ok", "\(set)")
        }
    }

    func sql1(_ h: HubHarness, _ query: String) throws -> String { try h.sql(query).first ?? "" }

    @Test func aBasketOfProductsAndTimePaidInCashGivesChangeTakesStockAndUnlocks() async throws {
        let h = try await Self.harness()
        try await Self.addProducts(h)
        let opened = try await h.request(as: "till1", "shift/open", ["float": 10_000])
        #expect(opened["status"] == "ok", "\(opened)")
        let mark = h.recorder.count
        let sale = try await h.request(as: "till1", "sale/create", [
            "items": [["product": "cola", "qty": 2], ["product": "chips"], ["station": "PC-01", "package": "30m"]],
            "payment": ["method": "cash", "tendered": 2000],
        ])
        #expect(sale["status"] == "ok", "\(sale)")
        let data = try #require(sale["data"])
        #expect(data["amount"] == 1150)
        #expect(data["change"] == 850)
        #expect(data["kind"] == "basket")
        #expect(data["lines"]?.arrayValue?.count == 3)
        // 19 % in 500 of drinks is 80; 7 % in the 500 package is 33; snacks have no tax.
        #expect(data["tax"] == 113)

        let unlock = try await h.recorder.waitFor(since: mark, "unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["remaining_s"] == 1800)
        _ = try await h.recorder.waitFor(since: mark, "product.low_stock") { $0.topic == "playclock/events" && $0.json?["type"] == "product.low_stock" }
        let products = try await h.request(as: "till1", "product/list", [:])
        let cola = products["data"]?["products"]?.arrayValue?.first { $0["product"] == "cola" }
        #expect(cola?["stock"] == 8)

        #expect(try h.sql("SELECT from_account, to_account, amount FROM ledger WHERE kind = 'basket' ORDER BY id") == [
            "tender:cash|revenue:products|570", "tender:cash|revenue:package|467", "tender:cash|tax:collected|113",
        ])
        #expect(try h.sql("SELECT kind, ref, qty, amount, tax FROM sale_lines ORDER BY line") == [
            "product|cola|2|500|80", "product|chips|1|150|0", "package|PC-01|1|500|33",
        ])
        #expect(try sql1(h, "SELECT shift FROM sales WHERE kind = 'basket'") == "1")
        try h.expectCleanDBCheck()
    }

    @Test func splitPaymentsAddUpAndEveryBadBasketChangesNothing() async throws {
        let h = try await Self.harness()
        try await Self.addProducts(h)
        try await h.addMember("m-7", name: "Kim")
        let card = try await h.request(as: "till1", "member/topup", ["member": "m-7", "amount": 1000, "method": "card"])
        #expect(card["status"] == "ok", "card needs no shift: \(card)")

        // No shift: cash is refused, and so is everything else that is wrong, each with its code.
        let refusals: [(JSONValue, String)] = [
            (["items": [["product": "cola"]], "payment": ["method": "cash"]], "no_shift"),
            (["items": [["product": "cola"]], "payments": [["method": "card", "amount": 100], ["method": "account", "member": "m-7", "amount": 100]]], "payment_mismatch"),
            (["items": [["product": "water"]], "payment": ["method": "card"]], "unknown_product"),
            (["items": [["product": "cola", "qty": 11]], "payment": ["method": "card"]], "product_unavailable"),
            (["items": [["product": "cola", "qty": 0]], "payment": ["method": "card"]], "invalid_request"),
            (["items": [["product": "co+la"]], "payment": ["method": "card"]], "invalid_request"),
            (["items": [["station": "PC/01", "minutes": 30]], "payment": ["method": "card"]], "invalid_station_id"),
            (["items": [["product": "cola"]], "payment": ["method": "card", "amount": 12.5]], "invalid_amount"),
            (["items": [["product": "cola"]], "payment": ["method": "card", "tendered": 500]], "invalid_payment"),
        ]
        for (body, code) in refusals {
            let answer = try await h.request(as: "till1", "sale/create", body)
            #expect(answer["status"] == "error", "\(body): \(answer)")
            #expect(answer["error"]?["code"] == .string(code), "\(body): \(answer)")
        }
        #expect(try h.sql("SELECT COUNT(*) FROM sales WHERE kind = 'basket'") == ["0"])
        #expect(try sql1(h, "SELECT stock FROM products WHERE id = 'cola'") == "10")

        // A split: 300 from the member's balance, the rest by card.
        let split = try await h.request(as: "till1", "sale/create", [
            "items": [["product": "cola", "qty": 2], ["product": "chips"]],
            "payments": [["method": "account", "member": "m-7", "amount": 300], ["method": "card", "amount": 350]],
        ])
        #expect(split["status"] == "ok", "\(split)")
        #expect(split["data"]?["method"] == "split")
        #expect(try await h.balance("m-7") == 700)
        #expect(try h.sql("SELECT from_account, to_account, amount FROM ledger WHERE kind = 'basket' ORDER BY id") == [
            "member:m-7|revenue:products|300", "tender:card|revenue:products|270", "tender:card|tax:collected|80",
        ])
        try h.expectCleanDBCheck()
    }

    @Test func aShiftWithAVoidPayInsAndOutsClosesWithAZReportThatMatchesTheLedger() async throws {
        let h = try await Self.harness()
        try await Self.addProducts(h)
        #expect(try await h.request(as: "till1", "shift/open", ["float": 5000])["status"] == "ok")
        let again = try await h.request(as: "till1", "shift/open", ["float": 5000])
        #expect(again["error"]?["code"] == "shift_open")

        let sold = try await h.request(as: "till1", "sale/create", ["items": [["product": "cola", "qty": 3]], "payment": ["method": "cash"]])
        #expect(sold["status"] == "ok", "\(sold)")
        let saleID = try #require(sold["data"]?["sale"]?.intValue)
        let kept = try await h.request(as: "till1", "sale/create", ["items": [["product": "chips", "qty": 2]], "payment": ["method": "cash", "tendered": 500]])
        #expect(kept["data"]?["change"] == 200)
        #expect(try await h.request(as: "till1", "shift/payin", ["amount": 1000, "reason": "change from the bank"])["status"] == "ok")
        #expect(try await h.request(as: "till1", "shift/payout", ["amount": 400, "reason": "milk delivery"])["status"] == "ok")
        let tooMuch = try await h.request(as: "till1", "shift/payout", ["amount": 1_000_000, "reason": "everything"])
        #expect(tooMuch["error"]?["code"] == "invalid_amount")

        // The cashier may not void; the manager voids (from his own shift: the cash leaves his drawer).
        let denied = try await h.request(as: "till1", "sale/void", ["sale": .int(saleID), "reason": "wrong drink"])
        #expect(denied["status"] == "error")
        let noShift = try await h.request(as: "boss", "sale/void", ["sale": .int(saleID), "reason": "wrong drink"])
        #expect(noShift["error"]?["code"] == "no_shift")
        #expect(try await h.request(as: "boss", "shift/open", ["float": 0])["status"] == "ok")
        let void = try await h.request(as: "boss", "sale/void", ["sale": .int(saleID), "reason": "wrong drink"])
        #expect(void["status"] == "ok", "\(void)")
        #expect(try sql1(h, "SELECT stock FROM products WHERE id = 'cola'") == "10", "a void puts the stock back")

        // X report mid-shift: float 5000 + 300 (chips) + 1000 in - 400 out.
        let x = try await h.request(as: "till1", "shift/get", [:])
        #expect(x["status"] == "ok", "\(x)")
        let xr = try #require(x["data"]?["report"])
        #expect(xr["type"] == "X")
        let expected: Int64 = 5000 + 750 + 300 + 1000 - 400
        #expect(xr["cash"]?["expected"] == .int(expected))
        #expect(xr["sales_total"] == 1050)
        #expect(xr["pay_outs"]?.arrayValue?.first?["reason"] == "milk delivery")

        // Close with 50 missing.
        let closed = try await h.request(as: "till1", "shift/close", ["counted": .int(expected - 50), "note": "short"], transaction: "close-1")
        #expect(closed["status"] == "ok", "\(closed)")
        let z = try #require(closed["data"]?["report"])
        // A retry of the close (the cashier pressed twice) gets the same answer, report included.
        let retried = try await h.request(as: "till1", "shift/close", ["counted": .int(expected - 50), "note": "short"], transaction: "close-1")
        #expect(retried["data"]?["report"] == z)
        #expect(try h.sql("SELECT COUNT(*) FROM shifts WHERE closed_at_ms IS NOT NULL AND staff = 'till1'") == ["1"])
        #expect(z["type"] == "Z")
        #expect(z["cash"]?["difference"] == -50)
        #expect(z["cash"]?["counted"] == .int(expected - 50))
        #expect(z["sales_by_method"]?["cash"] == 1050)
        #expect(z["sales_by_category"]?.arrayValue?.map { $0["category"] } == ["drinks", "snacks"])
        // The Z report's cash is the ledger's.
        let ledgerIn = try sql1(h, "SELECT SUM(amount) FROM ledger WHERE shift = 1 AND from_account = 'tender:cash'")
        let ledgerOut = try sql1(h, "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE shift = 1 AND to_account = 'tender:cash'")
        #expect(z["cash"]?["cash_in"] == .int(Int64(ledgerIn) ?? -1))
        #expect(z["cash"]?["cash_out"] == .int(Int64(ledgerOut) ?? -1))
        // The boss's void is in his shift, with who and why.
        let bossX = try await h.request(as: "boss", "shift/get", [:])
        #expect(bossX["data"]?["report"]?["voids"]?.arrayValue?.first?["reason"] == "wrong drink")
        #expect(bossX["data"]?["report"]?["cash"]?["cash_out"] == 750)

        // Closed: the same Z report is read back, and cash needs a new shift.
        let again2 = try await h.request(as: "boss", "shift/get", ["shift": 1])
        #expect(again2["data"]?["report"] == z)
        let after = try await h.request(as: "till1", "sale/create", ["items": [["product": "chips"]], "payment": ["method": "cash"]])
        #expect(after["error"]?["code"] == "no_shift")
        try h.expectCleanDBCheck()
    }

    @Test func theCLISellsABasketAndPrintsTheShiftsReport() async throws {
        // The shared topic has the manager role in this fixture and no account: cash needs a
        // shift of an account, so the CLI sells by card and reads a cashier's report by number.
        let h = try await Self.harness()
        try await Self.addProducts(h)
        #expect(try await h.request(as: "till1", "shift/open", ["float": 1000])["status"] == "ok")
        let cli = try binaryPath("playclock")
        let (sold, status) = try runTool(cli, ["sell", "cola:2", "PC-01=@30m", "--card", "--broker", h.broker.url], timeout: .seconds(30))
        #expect(status == 0, "\(sold)")
        #expect(sold.contains("11.50 EUR") == false && sold.contains("10.00 EUR"), "\(sold)")
        let (cash, cashStatus) = try runTool(cli, ["sell", "chips", "--cash", "--broker", h.broker.url], timeout: .seconds(30))
        #expect(cashStatus != 0 && cash.contains("no_shift"), "\(cash)")
        let (report, reportStatus) = try runTool(cli, ["shift", "report", "--shift", "1", "--broker", h.broker.url], timeout: .seconds(30))
        #expect(reportStatus == 0, "\(report)")
        #expect(report.contains("X report") && report.contains("expected 1000"), "\(report)")
        try h.expectCleanDBCheck()
    }
}
