import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Money requests retried with their `transaction` id: a retry is answered with the first answer
/// and applied once, across QoS 1 duplicates, a hub restart, and a SIGKILL in the middle of a burst.
@Suite(.serialized)
struct MoneyRetryTests {
    /// Publishes every line of `lines` as one QoS 1 message on `topic`, back to back on one
    /// connection (`mosquitto_pub -l`), and returns the running publisher.
    static func publishLines(_ h: HubHarness, topic: String, _ lines: [String], name: String) throws -> ChildProcess {
        let file = h.directory.appendingPathComponent("\(name).lines")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        let command = "exec /usr/bin/mosquitto_pub -h 127.0.0.1 -p \(h.broker.port) -q 1 -t '\(topic)' -l < '\(file.path)'"
        return try ChildProcess("/bin/sh", arguments: ["-c", command], directory: h.directory, logName: name)
    }

    @Test func aRetriedTopUpIsAppliedOnceEvenAfterARestart() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001")
        let body: JSONValue = ["member": "m-1001", "amount": 700, "method": "cash"]
        let first = try await h.requestKeepingTransaction("member/topup", body, transaction: "till1-0001")
        #expect(first["status"] == "ok", "\(first)")
        #expect(first["data"]?["balance"] == 700)
        let sale = try #require(first["data"]?["sale"]?["sale"])
        let retry = try await h.requestKeepingTransaction("member/topup", body, transaction: "till1-0001")
        #expect(retry == first, "the retry gets the first answer")
        #expect(try await h.balance("m-1001") == 700)

        // Two QoS 1 publishes back to back, as a client resending after a reconnect would.
        let mark = h.recorder.count
        let twice = payload(["member": "m-1001", "amount": 300, "method": "card", "transaction": "till1-0002"])
        let publisher = try Self.publishLines(h, topic: "playclock/hub/request/member/topup", [twice, twice], name: "twice")
        #expect(await publisher.waitForExit(timeout: .seconds(10)) == 0, "\(publisher.output)")
        let deadline = ContinuousClock.now + .seconds(5)
        while h.responses("member/topup", transaction: "till1-0002", since: mark).count < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let answers = h.responses("member/topup", transaction: "till1-0002", since: mark)
        #expect(answers.count == 2, "both duplicates answered: \(answers)")
        #expect(answers.allSatisfy { $0["status"] == "ok" }, "\(answers)")
        #expect(Set(answers.compactMap { $0["data"]?["sale"]?["sale"] }).count == 1, "one sale: \(answers)")
        #expect(answers.first == answers.last)
        #expect(try await h.balance("m-1001") == 1000)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM ledger WHERE to_account = 'member:m-1001' AND kind = 'topup'") == 2)
        #expect(try await h.member("m-1001")["history"]?.arrayValue?.count == 2)

        // The same id for another request is refused and changes nothing.
        let conflict = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-1001", "amount": 701, "method": "cash"], transaction: "till1-0001")
        #expect(conflict["error"]?["code"] == "transaction_conflict", "\(conflict)")
        let otherVerb = try await h.requestKeepingTransaction(
            "session/start", ["station": "PC-01", "minutes": 5, "payment": ["method": "cash"]], transaction: "till1-0001")
        #expect(otherVerb["error"]?["code"] == "transaction_conflict", "\(otherVerb)")
        #expect(try h.retainedState("PC-01")?["session"] == .null)
        #expect(try await h.balance("m-1001") == 1000)

        // A refused request is not remembered: the same id may be tried again once it can work.
        let refused = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-later", "amount": 50, "method": "cash"], transaction: "till1-0003")
        #expect(refused["error"]?["code"] == "unknown_member", "\(refused)")
        try await h.addMember("m-later")
        let accepted = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-later", "amount": 50, "method": "cash"], transaction: "till1-0003")
        #expect(accepted["status"] == "ok", "\(accepted)")
        #expect(try await h.balance("m-later") == 50)

        // The same transaction id on another account's topic is that account's own.
        let own = try await h.request(
            as: "till1", "member/topup", ["member": "m-later", "amount": 5, "method": "cash"], transaction: "till1-0001")
        #expect(own["status"] == "ok", "\(own)")
        #expect(try await h.balance("m-later") == 55)

        // SIGKILL and a start on the same database: the retry still gets the first answer.
        h.killHub()
        try await h.startHub()
        let afterRestart = try await h.requestKeepingTransaction("member/topup", body, transaction: "till1-0001")
        #expect(afterRestart == first, "the first answer survives a restart: \(afterRestart)")
        #expect(afterRestart["data"]?["sale"]?["sale"] == sale)
        let conflictAfter = try await h.requestKeepingTransaction(
            "member/topup", ["member": "m-1001", "amount": 1, "method": "cash"], transaction: "till1-0002")
        #expect(conflictAfter["error"]?["code"] == "transaction_conflict", "\(conflictAfter)")
        #expect(try await h.balance("m-1001") == 1000)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM ledger WHERE to_account = 'member:m-1001'") == 2)
        try h.expectCleanDBCheck()
    }

    /// 300 money requests as fast as one client can send them, the hub SIGKILLed midway and
    /// started again on the same database, then all 300 re-sent with the same ids.
    @Test func aBurstSurvivesSIGKILLAndIsAppliedExactlyOnce() async throws {
        let h = try await MoneyFixture.harness(policy: ["max_session_minutes": 600])
        try await h.addMember("m-burst", topUp: 100_000)
        let desk = try await h.request("session/start", ["station": "PC-01", "seconds": 60, "payment": ["method": "cash"]])
        #expect(desk["status"] == "ok", "\(desk)")

        // 200 top-ups of 1...200 and 100 extensions of a minute paid from the balance (600 each).
        var topups: [(id: String, amount: Int64, line: String)] = []
        var extends: [(id: String, line: String)] = []
        for i in 0..<300 {
            let id = "burst-\(i)"
            if i % 3 == 2 {
                extends.append((id, payload([
                    "station": "PC-01", "seconds": 60, "payment": ["method": "account", "member": "m-burst"], "transaction": .string(id),
                ])))
            } else {
                let amount = Int64(topups.count + 1)
                topups.append((id, amount, payload([
                    "member": "m-burst", "amount": .int(amount), "method": i % 2 == 0 ? "cash" : "card", "transaction": .string(id),
                ])))
            }
        }
        let extendPrice: Int64 = 60 * MoneyFixture.pcPerSecond
        let verbOf = Dictionary(uniqueKeysWithValues: topups.map { ($0.id, "member/topup") } + extends.map { ($0.id, "session/extend") })

        /// The first ok answer to each transaction since `since`.
        func okAnswers(since: Int) -> [String: JSONValue] {
            var found: [String: JSONValue] = [:]
            for record in h.recorder.records().dropFirst(since) {
                guard record.topic == "playclock/hub/response/member/topup" || record.topic == "playclock/hub/response/session/extend",
                    let json = record.json, json["status"] == "ok", let id = json["transaction"]?.stringValue, found[id] == nil
                else { continue }
                found[id] = json
            }
            return found
        }

        let mark = h.recorder.count
        let topupPublisher = try Self.publishLines(h, topic: "playclock/hub/request/member/topup", topups.map(\.line), name: "topups")
        let extendPublisher = try Self.publishLines(h, topic: "playclock/hub/request/session/extend", extends.map(\.line), name: "extends")
        var deadline = ContinuousClock.now + .seconds(20)
        while okAnswers(since: mark).count < 40, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        h.killHub()
        // Whatever reached the wire was answered before the kill; let it all arrive.
        try await Task.sleep(for: .milliseconds(500))
        let acknowledged = okAnswers(since: mark)
        #expect(acknowledged.count >= 40, "the hub answered \(acknowledged.count) before the kill")
        #expect(acknowledged.count < 300, "the kill came midway: \(acknowledged.count) of 300 were answered already")
        #expect(await topupPublisher.waitForExit(timeout: .seconds(20)) == 0, "\(topupPublisher.output)")
        #expect(await extendPublisher.waitForExit(timeout: .seconds(20)) == 0, "\(extendPublisher.output)")

        try await h.startHub()
        let resend = h.recorder.count
        let againTopups = try Self.publishLines(h, topic: "playclock/hub/request/member/topup", topups.map(\.line), name: "topups-again")
        let againExtends = try Self.publishLines(h, topic: "playclock/hub/request/session/extend", extends.map(\.line), name: "extends-again")
        #expect(await againTopups.waitForExit(timeout: .seconds(20)) == 0, "\(againTopups.output)")
        #expect(await againExtends.waitForExit(timeout: .seconds(20)) == 0, "\(againExtends.output)")
        deadline = ContinuousClock.now + .seconds(60)
        while okAnswers(since: resend).count < 300, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let final = okAnswers(since: resend)
        #expect(final.count == 300, "every re-sent request answered ok: \(final.count); missing \(Set(verbOf.keys).subtracting(final.keys).sorted().prefix(10))")
        let errors = h.recorder.records().dropFirst(resend).filter {
            ($0.topic == "playclock/hub/response/member/topup" || $0.topic == "playclock/hub/response/session/extend") && $0.json?["status"] == "error"
        }
        #expect(errors.isEmpty, "refusals on the resend: \(errors.prefix(5).map(\.payload))")

        // Every acknowledged request got its first answer back: the same sale.
        for (id, first) in acknowledged {
            #expect(final[id]?["data"]?["sale"]?["sale"] == first["data"]?["sale"]?["sale"], "\(id) was applied again")
        }
        let saleIDs = final.values.compactMap { $0["data"]?["sale"]?["sale"]?.intValue }
        #expect(saleIDs.count == 300 && Set(saleIDs).count == 300, "300 distinct sales")

        // Exactly one sale and one ledger entry per transaction, and the balance adds up.
        #expect(try h.sqlInt("SELECT COUNT(*) FROM sales WHERE kind = 'topup' AND member = 'm-burst'") == 201)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM sales WHERE kind = 'time' AND member = 'm-burst'") == 100)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM ledger WHERE to_account = 'member:m-burst'") == 201)
        #expect(try h.sqlInt("SELECT COUNT(*) FROM ledger WHERE from_account = 'member:m-burst'") == 100)
        let stored = Set(try h.sql("SELECT id FROM sales WHERE member = 'm-burst'").compactMap { Int64($0) })
        #expect(Set(saleIDs).isSubset(of: stored), "every answered sale is in the ledger")
        let expected = 100_000 + topups.reduce(0) { $0 + $1.amount } - Int64(extends.count) * extendPrice
        #expect(try await h.balance("m-burst") == expected)
        #expect(try h.sqlInt("SELECT balance FROM members WHERE id = 'm-burst'") == expected)
        let granted = try #require(try await h.request("station/get", ["station": "PC-01"])["data"]?["session"]?["granted_s"]?.intValue)
        #expect(granted == 60 + 100 * 60, "the session has exactly 100 extensions: \(granted) s")
        try h.expectCleanDBCheck()
    }
}
