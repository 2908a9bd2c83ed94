import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Sessions billed to a member's balance, with real seconds: PCs cost 10 minor units a second,
/// so a balance of 55 buys 5 s (the 5 left are less than one step).
@Suite(.serialized)
struct MoneyBalanceSessionTests {
    @Test func aBalanceSessionRunsOutLocksAndIsCharged() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", name: "Ann", topUp: 55)
        let mark = h.recorder.count
        let start = try await h.request(as: "till1", "session/start", ["station": "PC-01", "member": "m-1001"])
        #expect(start["status"] == "ok", "\(start)")
        let session = try #require(start["data"]?["session"])
        let sessionID = try #require(session["id"]?.stringValue)
        #expect(session["billing"] == "balance")
        #expect(session["member"]?["member"] == "m-1001")
        #expect(session["granted_s"] == 5, "55 buys five whole seconds at 10 a second: \(session)")
        let startedAt = try #require(unixSeconds(session["started_at"]?.stringValue))
        let endsAt = try #require(unixSeconds(session["ends_at"]?.stringValue))
        #expect(abs(endsAt - startedAt - 5) < 0.01, "ends_at is what the balance buys: \(session)")

        let unlock = try await h.recorder.waitFor(since: mark, "unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["member"]?["member"] == "m-1001")
        #expect(unlock.json?["member"]?["balance"] == 55)
        #expect(unlock.json?["member"]?["currency"] == "EUR")
        #expect(unixSeconds(unlock.json?["ends_at"]?.stringValue) == endsAt)
        // While it runs the member cannot pay for anything else from the account.
        let busy = try await h.request("session/start", ["station": "PC-02", "member": "m-1001"])
        #expect(busy["error"]?["code"] == "member_busy", "\(busy)")

        let lock = try await h.recorder.waitFor(since: mark, timeout: .seconds(15), "lock expired") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock" && $0.json?["session"] == .string(sessionID)
        }
        #expect(lock.json?["reason"] == "expired")
        #expect(lock.time >= endsAt - 0.05, "never early")
        #expect(lock.time - endsAt < 3, "on time, loosely: \(lock.time - endsAt) s late")

        let charged = try await h.recorder.waitFor(since: mark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        #expect(charged.json?["session"] == .string(sessionID))
        #expect(charged.json?["data"]?["amount"] == 50, "five seconds at 10: \(charged.payload)")
        #expect(charged.json?["data"]?["balance"] == 5)
        #expect(charged.json?["data"]?["member"] == "m-1001")
        #expect(charged.json?["data"]?["kind"] == "session_charge")
        #expect(h.events(since: mark, "session.charged").count == 1)

        let m = try await h.member("m-1001")
        #expect(m["balance"] == 5, "the remainder below one step is left: \(m)")
        #expect(m["session"] == .null)
        // 5 buys less than one step.
        let again = try await h.request("session/start", ["station": "PC-01", "member": "m-1001"])
        #expect(again["error"]?["code"] == "insufficient_balance", "\(again)")
        #expect(try h.sql("SELECT from_account, to_account, amount, kind FROM ledger WHERE kind = 'session_charge'")
            == ["member:m-1001|revenue:time|50|session_charge"])
        try h.expectCleanDBCheck()
    }

    @Test func aTopUpDuringABalanceSessionExtendsItLive() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-2002", name: "Bo", topUp: 100)
        let start = try await h.request("session/start", ["station": "PC-01", "member": "m-2002"])
        #expect(start["status"] == "ok", "\(start)")
        let sessionID = try #require(start["data"]?["session"]?["id"]?.stringValue)
        let firstEnd = try #require(unixSeconds(start["data"]?["session"]?["ends_at"]?.stringValue))
        #expect(start["data"]?["session"]?["granted_s"] == 10)

        let mark = h.recorder.count
        let topup = try await h.request(as: "till1", "member/topup", ["member": "m-2002", "amount": 100, "method": "cash"])
        #expect(topup["status"] == "ok", "\(topup)")
        #expect(topup["data"]?["balance"] == 200)
        #expect(topup["data"]?["session"]?["station"] == "PC-01")

        let extend = try await h.recorder.waitFor(since: mark, "extend") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "extend"
        }
        #expect(extend.json?["session"] == .string(sessionID))
        #expect(extend.json?["member"]?["balance"] == 200)
        #expect(extend.json?["added_s"] == 10, "100 more buys 10 more seconds: \(extend.payload)")
        let newEnd = try #require(unixSeconds(extend.json?["ends_at"]?.stringValue))
        #expect(abs(newEnd - firstEnd - 10) < 0.01, "ends_at moves by what the top-up buys")

        let extended = try await h.recorder.waitFor(since: mark, "session.extended") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.extended"
        }
        #expect(extended.json?["data"]?["reason"] == "balance")
        #expect(extended.json?["data"]?["member"] == "m-2002")
        let state = try await h.recorder.waitFor(since: mark, "state with the new end") {
            $0.topic == "playclock/stations/PC-01/state" && unixSeconds($0.json?["session"]?["ends_at"]?.stringValue) == newEnd
        }
        #expect(state.json?["session"]?["member"]?["balance"] == 200)
        #expect(unixSeconds(try h.retainedState("PC-01")?["session"]?["ends_at"]?.stringValue) == newEnd)
        #expect(h.controls("PC-01", "lock", since: mark).isEmpty, "not locked at the first end")

        // Stopped at the desk: charged for the whole seconds used, the rest stays on the balance.
        let stopMark = h.recorder.count
        let stop = try await h.request("session/stop", ["station": "PC-01"])
        #expect(stop["status"] == "ok", "\(stop)")
        let charged = try await h.recorder.waitFor(since: stopMark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        let amount = try #require(charged.json?["data"]?["amount"]?.intValue)
        #expect(amount > 0 && amount <= 200 && amount % MoneyFixture.pcPerSecond == 0, "charged by the second: \(amount)")
        #expect(try await h.balance("m-2002") == 200 - amount)
        #expect(charged.json?["data"]?["balance"]?.intValue == 200 - amount)
        try h.expectCleanDBCheck()
    }
}
