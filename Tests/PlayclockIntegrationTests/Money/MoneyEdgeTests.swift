import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The edges of money against the real hub: a balance session across a SIGKILL, pausing one,
/// paying from the account while one runs, refunding its charge, pay-later sessions, and the
/// forms a `transaction` id may take.
@Suite(.serialized)
struct MoneyEdgeTests {
    @Test func aBalanceSessionThatEndsWhileTheHubIsDownIsChargedOnceForItsTime() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", topUp: 55)
        let start = try await h.request("session/start", ["station": "PC-01", "member": "m-1001"])
        #expect(start["data"]?["session"]?["granted_s"] == 5, "\(start)")
        let sessionID = try #require(start["data"]?["session"]?["id"]?.stringValue)
        h.killHub()
        // Down for longer than the balance lasts: the customer sat there, but only 5 s were bought.
        try await Task.sleep(for: .seconds(7))
        let mark = h.recorder.count
        try await h.startHub()
        let lock = try await h.recorder.waitFor(since: mark, "lock after the restart") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock"
        }
        #expect(lock.json?["reason"] == "expired" || lock.json?["reason"] == "idle", "\(lock.payload)")
        let m = try await h.member("m-1001")
        #expect(m["session"] == .null, "\(m)")
        #expect(m["balance"] == 5, "charged the 5 s the balance bought, not the downtime: \(m)")
        #expect(try h.sql("SELECT amount, session FROM sales WHERE kind = 'session_charge'") == ["50|\(sessionID)"])
        try h.expectCleanDBCheck()
    }

    @Test func aPausedBalanceSessionIsNotChargedForThePause() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", topUp: 1000)
        #expect(try await h.request("session/start", ["station": "PC-01", "member": "m-1001"])["status"] == "ok")
        try await Task.sleep(for: .seconds(1))
        let paused = try await h.request("session/pause", ["station": "PC-01"])
        #expect(paused["data"]?["status"] == "paused", "\(paused)")
        try await Task.sleep(for: .seconds(3))
        let resumed = try await h.request("session/resume", ["station": "PC-01"])
        #expect(resumed["status"] == "ok", "\(resumed)")
        let remaining = try #require(resumed["data"]?["session"]?["remaining_s"]?.intValue)
        #expect(remaining >= 96 && remaining <= 99, "the pause cost no time: \(remaining) s of 100 left")
        let mark = h.recorder.count
        #expect(try await h.request("session/stop", ["station": "PC-01"])["status"] == "ok")
        let charged = try await h.recorder.waitFor(since: mark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        let amount = try #require(charged.json?["data"]?["amount"]?.intValue)
        // About 1.2 s ran; a charge for the 3 s pause would be 40 or more.
        #expect(amount >= 10 && amount <= 30, "charged only for the running time: \(amount)")
        #expect(try await h.balance("m-1001") == 1000 - amount)
        try h.expectCleanDBCheck()
    }

    @Test func payingFromTheAccountDuringABalanceSessionShortensIt() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", topUp: 100)
        let start = try await h.request("session/start", ["station": "PC-01", "member": "m-1001"])
        let firstEnd = try #require(unixSeconds(start["data"]?["session"]?["ends_at"]?.stringValue), "\(start)")
        let mark = h.recorder.count
        // One console minute (10) from the balance that is paying for PC-01.
        let bought = try await h.request(
            "session/start", ["station": "CON-01", "minutes": 1, "payment": ["method": "account", "member": "m-1001"]])
        #expect(bought["status"] == "ok", "\(bought)")
        #expect(bought["data"]?["sale"]?["amount"] == 10)
        let changed = try await h.recorder.waitFor(since: mark, "PC-01's new end") {
            $0.topic == "playclock/stations/PC-01/state"
                && (unixSeconds($0.json?["session"]?["ends_at"]?.stringValue)).map { abs($0 - (firstEnd - 1)) < 0.05 } == true
        }
        #expect(changed.json?["session"]?["member"]?["balance"] == 90)
        let shortened = h.events(since: mark, "session.extended").filter { $0["station"] == "PC-01" }
        #expect(shortened.first?["data"]?["added_s"] == -1, "\(shortened)")
        // More than is available (what PC-01 has cost so far is held back) is refused.
        let tooMuch = try await h.request(
            "session/extend", ["station": "CON-01", "minutes": 9, "payment": ["method": "account", "member": "m-1001"]])
        #expect(tooMuch["error"]?["code"] == "insufficient_balance", "\(tooMuch)")
        let stopMark = h.recorder.count
        #expect(try await h.request("session/stop", ["station": "PC-01"])["status"] == "ok")
        let charged = try await h.recorder.waitFor(since: stopMark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        let amount = try #require(charged.json?["data"]?["amount"]?.intValue)
        #expect(try await h.balance("m-1001") == 90 - amount)

        // The session charge is refunded onto the balance it came from.
        let chargeSale = try #require(charged.json?["data"]?["sale"]?.intValue)
        let refund = try await h.request(as: "boss", "sale/refund", ["sale": .int(chargeSale), "reason": "PC was slow"])
        #expect(refund["status"] == "ok", "\(refund)")
        #expect(refund["data"]?["amount"]?.intValue == amount)
        #expect(refund["data"]?["method"] == "balance")
        #expect(try await h.balance("m-1001") == 90)
        #expect(try h.sql("SELECT from_account, to_account FROM ledger WHERE kind = 'refund'") == ["revenue:time|member:m-1001"])
        #expect(try await h.request("session/stop", ["station": "CON-01"])["status"] == "ok")
        try h.expectCleanDBCheck()
    }

    @Test func aPayLaterSessionIsChargedToDueWhenItEnds() async throws {
        let h = try await MoneyFixture.harness()
        let start = try await h.request(as: "till1", "session/start", ["station": "CON-01", "payment": ["method": "later"]])
        #expect(start["status"] == "ok", "\(start)")
        #expect(start["data"]?["session"]?["billing"] == "later")
        #expect(start["data"]?["session"]?["granted_s"] == 3600, "the plan's postpaid limit")
        let onPC = try await h.request("session/start", ["station": "PC-01", "payment": ["method": "later"]])
        #expect(onPC["error"]?["code"] == "invalid_payment", "the PC plan has no postpaid limit: \(onPC)")
        let extend = try await h.request("session/extend", ["station": "CON-01", "minutes": 10, "payment": ["method": "cash"]])
        #expect(extend["error"]?["code"] == "invalid_request", "a pay-later session is not extended at the desk: \(extend)")
        let mark = h.recorder.count
        #expect(try await h.request(as: "till1", "session/stop", ["station": "CON-01"])["status"] == "ok")
        let charged = try await h.recorder.waitFor(since: mark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        #expect(charged.json?["data"]?["amount"] == 10, "one started minute at 600 an hour: \(charged.payload)")
        #expect(charged.json?["data"]?["method"] == "later")
        #expect(charged.json?["data"]?["by"] == "till1")
        #expect(try h.sql("SELECT from_account, to_account, amount FROM ledger") == ["due:postpaid|revenue:time|10"])
        try h.expectCleanDBCheck()
    }

    @Test func theFormsOfATransactionID() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001")
        let body = #""member":"m-1001","amount":100,"method":"cash""#
        // A whole number works like a string, and is the same id as its digits.
        let first = try await h.requestRaw("member/topup", "{\(body),\"transaction\":42}", transaction: nil)
        #expect(first["status"] == "ok", "\(first)")
        #expect(first["transaction"] == 42)
        let again = try await h.requestRaw("member/topup", "{\(body),\"transaction\":42}", transaction: nil)
        #expect(again["data"]?["sale"] == first["data"]?["sale"], "\(again)")
        #expect(try await h.balance("m-1001") == 100)
        for bad in ["4.2", "true", #""""#, "\"" + String(repeating: "t", count: 65) + "\"", "[1]", #"{"id":1}"#] {
            let answer = try await h.requestRaw("member/topup", "{\(body),\"transaction\":\(bad)}", transaction: nil)
            #expect(answer["error"]?["code"] == "invalid_request", "transaction \(bad): \(answer)")
        }
        let sixtyFour = String(repeating: "t", count: 64)
        let long = try await h.requestKeepingTransaction("member/topup", ["member": "m-1001", "amount": 100, "method": "cash"], transaction: sixtyFour)
        #expect(long["status"] == "ok", "\(long)")
        #expect(try await h.balance("m-1001") == 200)

        let conflict = try await h.requestRaw("member/topup", #"{"member":"m-1001","amount":999,"method":"cash","transaction":42}"#)
        #expect(conflict["error"]?["code"] == "transaction_conflict", "\(conflict)")
        #expect(try await h.balance("m-1001") == 200)

        // member/add is idempotent too.
        let add = try await h.requestKeepingTransaction("member/add", ["member": "m-2", "name": "Two"], transaction: "add-1")
        let addAgain = try await h.requestKeepingTransaction("member/add", ["member": "m-2", "name": "Two"], transaction: "add-1")
        #expect(addAgain == add, "\(addAgain)")
        let exists = try await h.requestKeepingTransaction("member/add", ["member": "m-2", "name": "Two"], transaction: "add-2")
        #expect(exists["error"]?["code"] == "member_exists")
        try h.expectCleanDBCheck()
    }

    /// topics.md: "A refused request changes nothing and is stored as a `command.rejected`
    /// event." A `transaction_conflict`, or a money request's unusable `transaction`, is refused
    /// before the hub's change runs, and is neither published nor stored.
    @Test func aRefusedTransactionIsStoredAsCommandRejected() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001")
        let body: JSONValue = ["member": "m-1001", "amount": 100, "method": "cash"]
        #expect(try await h.requestKeepingTransaction("member/topup", body, transaction: "t-1")["status"] == "ok")
        let mark = h.recorder.count
        let conflict = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-1001", "amount": 999, "method": "cash"], transaction: "t-1")
        #expect(conflict["error"]?["code"] == "transaction_conflict", "\(conflict)")
        let unusable = try await h.requestRaw("member/topup", #"{"member":"m-1001","amount":5,"method":"cash","transaction":true}"#)
        #expect(unusable["error"]?["code"] == "invalid_request", "\(unusable)")
        // An ordinary refusal in between, which is stored: the events do flow.
        let unknown = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-404", "amount": 5, "method": "cash"], transaction: "t-2")
        #expect(unknown["error"]?["code"] == "unknown_member")
        try await h.recorder.waitFor(since: mark, "command.rejected for unknown_member") {
            $0.topic == "playclock/events" && $0.json?["type"] == "command.rejected" && $0.json?["data"]?["code"] == "unknown_member"
        }
        let codes = h.events(since: mark, "command.rejected").compactMap { $0["data"]?["code"]?.stringValue }
        #expect(codes.contains("transaction_conflict"), "published refusals: \(codes)")
        #expect(codes.contains("invalid_request"), "published refusals: \(codes)")
        let stored = try h.sql("SELECT json_extract(data, '$.code') FROM events WHERE type = 'command.rejected' ORDER BY id")
        #expect(stored.contains("transaction_conflict"), "stored refusals: \(stored)")
        #expect(try await h.balance("m-1001") == 100)
        try h.expectCleanDBCheck()
    }
}
