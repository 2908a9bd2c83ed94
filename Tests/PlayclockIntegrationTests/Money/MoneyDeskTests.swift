import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Money at the desk over the real broker and the real hub: a package sold for cash, top-ups by
/// cash and card, bad amounts and ids refused without changing anything, refunds and voids with
/// their role checks. Every test ends with the real `playclock db check`.
@Suite(.serialized)
struct MoneyDeskTests {
    @Test func aPackageSoldForCashUnlocksTheStationAndIsOneSale() async throws {
        let h = try await MoneyFixture.harness()
        let mark = h.recorder.count
        let answer = try await h.request(as: "till1", "session/start", ["station": "PC-01", "package": "30m", "payment": ["method": "cash"]])
        #expect(answer["status"] == "ok", "\(answer)")
        let sale = try #require(answer["data"]?["sale"])
        #expect(sale["amount"]?.intValue == MoneyFixture.packagePrice)
        #expect(sale["kind"] == "package")
        #expect(sale["method"] == "cash")
        #expect(sale["currency"] == "EUR")
        #expect(sale["amount_text"] == "5.00 EUR")
        #expect(sale["station"] == "PC-01")
        let session = try #require(answer["data"]?["session"]?["id"]?.stringValue)
        #expect(sale["session"] == .string(session))
        #expect(answer["data"]?["session"]?["granted_s"] == 1800)
        #expect(answer["data"]?["session"]?["billing"] == "prepaid")

        let unlock = try await h.recorder.waitFor(since: mark, "unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["session"] == .string(session))
        #expect(unlock.json?["remaining_s"] == 1800)
        let completed = try await h.recorder.waitFor(since: mark, "sale.completed") {
            $0.topic == "playclock/events" && $0.json?["type"] == "sale.completed"
        }
        #expect(completed.json?["data"]?["by"] == "till1")
        #expect(completed.json?["data"]?["sale"] == sale["sale"])
        #expect(completed.json?["data"]?["amount"]?.intValue == MoneyFixture.packagePrice)
        #expect(completed.json?["data"]?["method"] == "cash")
        #expect(completed.json?["station"] == "PC-01")
        #expect(completed.json?["session"] == .string(session))

        // One answer, one sale, one ledger entry: cash in, package revenue.
        try await Task.sleep(for: .milliseconds(300))
        let answers = h.recorder.records().dropFirst(mark).filter {
            $0.topic == "playclock/users/till1/response/session/start" && $0.json?["transaction"] == answer["transaction"]
        }
        #expect(answers.count == 1)
        #expect(h.events(since: mark, "sale.completed").count == 1)
        #expect(try h.sql("SELECT from_account, to_account, amount, kind, by FROM ledger") == ["tender:cash|revenue:package|500|package|till1"])
        #expect(try h.retainedState("PC-01")?["session"]?["billing"] == "prepaid")
        try h.expectCleanDBCheck()
    }

    @Test func topUpsByCashAndCardAndBadInputChangesNothing() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", name: "Ann")
        let cash = try await h.request(as: "till1", "member/topup", ["member": "m-1001", "amount": 2000, "method": "cash"])
        #expect(cash["status"] == "ok", "\(cash)")
        #expect(cash["data"]?["balance"] == 2000)
        #expect(cash["data"]?["sale"]?["kind"] == "topup")
        #expect(cash["data"]?["sale"]?["method"] == "cash")
        let card = try await h.request(as: "till1", "member/topup", ["member": "m-1001", "amount": 550, "method": "card"])
        #expect(card["status"] == "ok", "\(card)")
        #expect(card["data"]?["balance"] == 2550)
        #expect(card["data"]?["sale"]?["method"] == "card")

        let m = try await h.member("m-1001")
        #expect(m["balance"] == 2550)
        #expect(m["available"] == 2550)
        #expect(m["currency"] == "EUR")
        #expect(m["balance_text"] == "25.50 EUR")
        #expect(m["history"]?.arrayValue?.count == 2)
        #expect(try h.sql("SELECT from_account, to_account, amount FROM ledger ORDER BY id")
            == ["tender:cash|member:m-1001|2000", "tender:card|member:m-1001|550"])

        try await h.addMember("m-off", name: "Off")
        #expect(try await h.request("member/disable", ["member": "m-off"])["status"] == "ok")

        let salesBefore = try h.sqlInt("SELECT COUNT(*) FROM sales")
        let ledgerBefore = try h.sqlInt("SELECT COUNT(*) FROM ledger")
        // Raw payloads, so fractions and exponents reach the hub exactly as written.
        let bad: [(String, String, String)] = [
            ("negative", #"{"member":"m-1001","amount":-500,"method":"cash"}"#, "invalid_amount"),
            ("zero", #"{"member":"m-1001","amount":0,"method":"cash"}"#, "invalid_amount"),
            ("fraction", #"{"member":"m-1001","amount":12.5,"method":"cash"}"#, "invalid_amount"),
            ("string", #"{"member":"m-1001","amount":"1250","method":"cash"}"#, "invalid_amount"),
            ("huge", #"{"member":"m-1001","amount":1e12,"method":"card"}"#, "invalid_amount"),
            ("huge integer", #"{"member":"m-1001","amount":1000000000000,"method":"card"}"#, "invalid_amount"),
            ("just above the limit", #"{"member":"m-1001","amount":100000001,"method":"card"}"#, "invalid_amount"),
            ("no amount", #"{"member":"m-1001","method":"cash"}"#, "invalid_amount"),
            ("null amount", #"{"member":"m-1001","amount":null,"method":"cash"}"#, "invalid_amount"),
            ("unknown method", #"{"member":"m-1001","amount":100,"method":"bitcoin"}"#, "invalid_payment"),
            ("no method", #"{"member":"m-1001","amount":100}"#, "invalid_payment"),
            ("unknown member", #"{"member":"m-404","amount":100,"method":"cash"}"#, "unknown_member"),
            ("disabled member", #"{"member":"m-off","amount":100,"method":"cash"}"#, "member_disabled"),
            ("plus in the id", #"{"member":"m+1001","amount":100,"method":"cash"}"#, "invalid_request"),
            ("hash in the id", #"{"member":"m#1001","amount":100,"method":"cash"}"#, "invalid_request"),
            ("slash in the id", #"{"member":"m/1001","amount":100,"method":"cash"}"#, "invalid_request"),
            ("empty id", #"{"member":"","amount":100,"method":"cash"}"#, "invalid_request"),
            ("numeric id", #"{"member":1001,"amount":100,"method":"cash"}"#, "invalid_request"),
            ("not an object", #"[1,2,3]"#, "invalid_request"),
            ("not JSON", #"{"member":"m-1001","amount":100,"#, "invalid_json"),
        ]
        for (index, (what, raw, code)) in bad.enumerated() {
            // Each gets its own transaction (added to the object) so its answer is told apart.
            let transaction = "bad-\(index)"
            var text = raw
            if raw.hasPrefix("{"), raw.hasSuffix("}") { text = String(raw.dropLast()) + #","transaction":"\#(transaction)"}"# }
            let answer = try await h.requestRaw("member/topup", text, transaction: text == raw ? nil : transaction)
            #expect(answer["status"] == "error", "\(what): \(answer)")
            #expect(answer["error"]?["code"] == .string(code), "\(what): \(answer)")
        }
        let oversize = #"{"member":"m-1001","amount":100,"method":"cash","note":""# + String(repeating: "x", count: 17 * 1024) + #""}"#
        let big = try await h.requestRaw("member/topup", oversize)
        #expect(big["error"]?["code"] == "payload_too_large", "\(big)")

        #expect(try await h.balance("m-1001") == 2550)
        #expect(try await h.balance("m-off") == 0)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM sales") == salesBefore)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM ledger") == ledgerBefore)
        #expect(try await h.member("m-1001")["history"]?.arrayValue?.count == 2)
        try h.expectCleanDBCheck()
    }

    /// `MoneyRequests.amount` says "Fractions (`12.5`, even `12.0`) ... are refused: money is never
    /// a float"; the JSON parser turns `1250.0` into the integer 1250 before it gets there.
    /// JSON has one kind of number: `1250.0` is the number 1250 (a JavaScript client cannot even
    /// tell them apart), so it tops up 12.50, while a real fraction is refused.
    @Test func aWholeAmountWrittenWithADecimalPointIsThatNumberAndAFractionIsRefused() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", topUp: 100)
        let whole = try await h.requestRaw(
            "member/topup", #"{"member":"m-1001","amount":1250.0,"method":"cash","transaction":"dot-0"}"#, transaction: "dot-0")
        #expect(whole["data"]?["sale"]?["amount"] == 1250, "\(whole)")
        let fraction = try await h.requestRaw(
            "member/topup", #"{"member":"m-1001","amount":1250.5,"method":"cash","transaction":"dot-1"}"#, transaction: "dot-1")
        #expect(fraction["error"]?["code"] == "invalid_amount", "\(fraction)")
        #expect(try await h.balance("m-1001") == 1350)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM sales") == 2)
        try h.expectCleanDBCheck()
    }

    @Test func refundsAndVoidsWithTheirLimitsAndRoles() async throws {
        let h = try await MoneyFixture.harness()
        let mark = h.recorder.count
        let sold = try await h.request(as: "till1", "session/start", ["station": "PC-01", "package": "30m", "payment": ["method": "cash"]])
        let sale = try #require(sold["data"]?["sale"]?["sale"]?.intValue, "\(sold)")

        // A cashier may not refund; nothing changes.
        let cashier = try await h.request(as: "till1", "sale/refund", ["sale": .int(sale), "amount": 100, "reason": "customer left"])
        #expect(cashier["error"]?["code"] == "forbidden", "\(cashier)")

        let part = try await h.request(as: "boss", "sale/refund", ["sale": .int(sale), "amount": 200, "reason": "game crashed"])
        #expect(part["status"] == "ok", "\(part)")
        #expect(part["data"]?["kind"] == "refund")
        #expect(part["data"]?["amount"] == 200)
        #expect(part["data"]?["refers_to"] == .int(sale))
        #expect(part["data"]?["method"] == "cash")
        #expect(part["data"]?["reason"] == "game crashed")

        let tooMuch = try await h.request(as: "boss", "sale/refund", ["sale": .int(sale), "amount": 301, "reason": "too much"])
        #expect(tooMuch["error"]?["code"] == "refund_too_large", "\(tooMuch)")
        let rest = try await h.request(as: "boss", "sale/refund", ["sale": .int(sale), "reason": "closing early"])
        #expect(rest["status"] == "ok", "\(rest)")
        #expect(rest["data"]?["amount"] == 300, "the default is all that is left")
        let more = try await h.request(as: "boss", "sale/refund", ["sale": .int(sale), "amount": 1, "reason": "one more"])
        #expect(more["error"]?["code"] == "refund_too_large", "\(more)")
        let voidRefunded = try await h.request(as: "boss", "sale/void", ["sale": .int(sale), "reason": "mistake"])
        #expect(voidRefunded["error"]?["code"] == "not_voidable", "a refunded sale cannot be voided: \(voidRefunded)")
        let unknown = try await h.request(as: "boss", "sale/refund", ["sale": 9999, "reason": "nothing"])
        #expect(unknown["error"]?["code"] == "unknown_sale", "\(unknown)")

        let refunded = h.events(since: mark, "sale.refunded")
        #expect(refunded.count == 2)
        #expect(refunded.allSatisfy { $0["data"]?["by"] == "boss" && $0["data"]?["refers_to"] == .int(sale) })
        #expect(try h.sql("SELECT from_account, to_account, amount, kind FROM ledger WHERE kind = 'refund' ORDER BY id")
            == ["revenue:package|tender:cash|200|refund", "revenue:package|tender:cash|300|refund"])

        // A top-up made by mistake is voided whole, once; a cashier may not void.
        try await h.addMember("m-1001")
        let topup = try await h.request(as: "till1", "member/topup", ["member": "m-1001", "amount": 1000, "method": "card"])
        let topupSale = try #require(topup["data"]?["sale"]?["sale"]?.intValue, "\(topup)")
        let cashierVoid = try await h.request(as: "till1", "sale/void", ["sale": .int(topupSale), "reason": "typo"])
        #expect(cashierVoid["error"]?["code"] == "forbidden", "\(cashierVoid)")
        let void = try await h.request(as: "boss", "sale/void", ["sale": .int(topupSale), "reason": "typo"])
        #expect(void["status"] == "ok", "\(void)")
        #expect(void["data"]?["kind"] == "void")
        #expect(void["data"]?["amount"] == 1000)
        #expect(void["data"]?["refers_to"] == .int(topupSale))
        #expect(try await h.balance("m-1001") == 0)
        let again = try await h.request(as: "boss", "sale/void", ["sale": .int(topupSale), "reason": "typo again"])
        #expect(again["error"]?["code"] == "not_voidable", "\(again)")
        let refundVoided = try await h.request(as: "boss", "sale/refund", ["sale": .int(topupSale), "amount": 1, "reason": "after void"])
        #expect(refundVoided["error"]?["code"] == "not_voidable", "\(refundVoided)")
        #expect(try await h.balance("m-1001") == 0)

        // A desk sale is voidable only once the session it paid for is stopped.
        let desk = try await h.request(as: "till1", "session/start", ["station": "PC-02", "minutes": 10, "payment": ["method": "card"]])
        let deskSale = try #require(desk["data"]?["sale"]?["sale"]?.intValue, "\(desk)")
        #expect(desk["data"]?["sale"]?["amount"]?.intValue == 600 * MoneyFixture.pcPerSecond)
        let running = try await h.request(as: "boss", "sale/void", ["sale": .int(deskSale), "reason": "wrong PC"])
        #expect(running["error"]?["code"] == "not_voidable", "\(running)")
        #expect(try await h.request("session/stop", ["station": "PC-02"])["status"] == "ok")
        let deskVoid = try await h.request(as: "boss", "sale/void", ["sale": .int(deskSale), "reason": "wrong PC"])
        #expect(deskVoid["status"] == "ok", "\(deskVoid)")
        #expect(deskVoid["data"]?["amount"]?.intValue == 6000)
        let voided = h.events(since: mark, "sale.voided")
        #expect(voided.count == 2)
        #expect(voided.allSatisfy { $0["data"]?["by"] == "boss" })
        #expect(try h.sqlInt("SELECT COUNT(*) FROM sales WHERE kind = 'void'") == 2)
        try h.expectCleanDBCheck()
    }

    @Test func aVoidOutsideTheWindowIsRefused() async throws {
        // A window of 0 minutes: any sale is already too old a moment later.
        let h = try await MoneyFixture.harness(policy: ["void_window_minutes": 0])
        try await h.addMember("m-1001")
        let topup = try await h.request(as: "till1", "member/topup", ["member": "m-1001", "amount": 1000, "method": "cash"])
        let sale = try #require(topup["data"]?["sale"]?["sale"]?.intValue, "\(topup)")
        try await Task.sleep(for: .milliseconds(50))
        let void = try await h.request(as: "boss", "sale/void", ["sale": .int(sale), "reason": "typo"])
        #expect(void["error"]?["code"] == "not_voidable", "\(void)")
        #expect(try await h.balance("m-1001") == 1000)
        let refund = try await h.request(as: "boss", "sale/refund", ["sale": .int(sale), "reason": "refund instead"])
        #expect(refund["status"] == "ok", "\(refund)")
        #expect(try await h.balance("m-1001") == 0)
        try h.expectCleanDBCheck()
    }
}
