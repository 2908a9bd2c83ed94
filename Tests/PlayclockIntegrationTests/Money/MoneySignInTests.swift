import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// A member signs in at a station as its agent would (`mosquitto_pub` on `R/stations/<id>/signin`),
/// against the real hub with roles configured, on an anonymous development broker.
@Suite(.serialized)
struct MoneySignInTests {
    static let signIn = "playclock/stations/PC-01/signin"
    static let result = "playclock/stations/PC-01/signin/result"

    /// Sends one sign-in message as the agent and waits for its result. The hub takes at most
    /// one attempt per station a second, so each call first waits until the last one is that old.
    final class Agent {
        let h: HubHarness
        let station: String
        private var lastSent: ContinuousClock.Instant?
        private var counter = 0

        init(_ h: HubHarness, station: String = "PC-01") {
            self.h = h
            self.station = station
        }

        func send(_ fields: [String: JSONValue], sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
            if let lastSent { try await Task.sleep(until: lastSent + .milliseconds(1200), clock: .continuous) }
            counter += 1
            let request = "req-\(counter)"
            var body = fields
            body["station"] = .string(station)
            body["request"] = .string(request)
            let mark = h.recorder.count
            lastSent = ContinuousClock.now
            try h.publish("playclock/stations/\(station)/signin", payload(.object(body)), qos: 1)
            let answer = try await h.recorder.waitFor(since: mark, "sign-in result \(request)", sourceLocation: sourceLocation) {
                $0.topic == "playclock/stations/\(self.station)/signin/result" && $0.json?["request"] == .string(request)
            }
            return try #require(answer.json, sourceLocation: sourceLocation)
        }

        func signIn(_ member: String, pin: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
            try await send(["action": "sign_in", "member": .string(member), "pin": .string(pin)], sourceLocation: sourceLocation)
        }

        func signOut(sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
            try await send(["action": "sign_out"], sourceLocation: sourceLocation)
        }
    }

    @Test func signInUnlocksWrongPINsLockTheMemberAndSignOutCharges() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", name: "Ann", pin: "4821", topUp: 3000)
        let agent = Agent(h)

        var mark = h.recorder.count
        let ok = try await agent.signIn("m-1001", pin: "4821")
        #expect(ok["status"] == "ok", "\(ok)")
        #expect(ok["station"] == "PC-01")
        #expect(ok["member"]?["member"] == "m-1001")
        #expect(ok["member"]?["name"] == "Ann")
        #expect(ok["member"]?["balance"] == 3000)
        #expect(ok["member"]?["balance_text"] == "30.00 EUR")
        let unlock = try await h.recorder.waitFor(since: mark, "unlock with member") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["member"]?["member"] == "m-1001")
        let sessionID = try #require(unlock.json?["session"]?.stringValue)
        #expect(unlock.json?["remaining_s"] == 300, "3000 buys 300 s at 10 a second: \(unlock.payload)")
        let signedIn = h.events(since: mark, "member.signed_in")
        #expect(signedIn.count == 1 && signedIn.first?["data"]?["member"] == "m-1001")
        #expect(signedIn.first?["session"] == .string(sessionID))
        #expect(try await h.request("station/get", ["station": "PC-01"])["data"]?["session"]?["billing"] == "balance")

        // Another sign-in at a busy station is refused.
        let busy = try await agent.signIn("m-1001", pin: "4821")
        #expect(busy["error"]?["code"] == "station_busy", "\(busy)")

        mark = h.recorder.count
        let out = try await agent.signOut()
        #expect(out["status"] == "ok", "\(out)")
        let lock = try await h.recorder.waitFor(since: mark, "lock after sign-out") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "lock"
        }
        #expect(lock.json?["reason"] == "stopped")
        #expect(lock.json?["session"] == .string(sessionID))
        let charged = try await h.recorder.waitFor(since: mark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        let amount = try #require(charged.json?["data"]?["amount"]?.intValue)
        #expect(amount >= MoneyFixture.pcPerSecond && amount % MoneyFixture.pcPerSecond == 0, "charged by the second: \(amount)")
        #expect(charged.json?["data"]?["by"] == nil, "a sign-out is no staff account's: \(charged.payload)")
        #expect(h.events(since: mark, "member.signed_out").count == 1)
        #expect(try await h.balance("m-1001") == 3000 - amount)
        let again = try await agent.signOut()
        #expect(again["error"]?["code"] == "no_session", "\(again)")

        // Five wrong PINs in a row lock the member; then even the right one is refused.
        mark = h.recorder.count
        var codes: [String] = []
        for _ in 0..<5 { codes.append(try await agent.signIn("m-1001", pin: "0000")["error"]?["code"]?.stringValue ?? "none") }
        #expect(codes == ["invalid_credentials", "invalid_credentials", "invalid_credentials", "invalid_credentials", "member_locked"])
        let locked = try await agent.signIn("m-1001", pin: "4821")
        #expect(locked["error"]?["code"] == "member_locked", "\(locked)")
        try await Task.sleep(for: .milliseconds(300))
        let failed = h.events(since: mark, "member.sign_in_failed").filter { $0["data"]?["reason"] == "wrong_pin" }
        #expect(failed.count == 4, "\(failed)")
        #expect(failed.compactMap { $0["data"]?["attempts_left"]?.intValue } == [4, 3, 2, 1])
        let lockedEvents = h.events(since: mark, "member.locked")
        #expect(lockedEvents.count == 1 && lockedEvents.first?["data"]?["member"] == "m-1001")
        #expect(lockedEvents.first?["data"]?["until"]?.stringValue != nil)
        #expect(h.controls("PC-01", "unlock", since: mark).isEmpty, "no unlock for a locked member")
        #expect(try await h.member("m-1001")["locked_until"]?.stringValue != nil)
        // Staff setting a new PIN unlocks the member.
        #expect(try await h.request("member/set-pin", ["member": "m-1001", "pin": "13579"])["status"] == "ok")
        let fresh = try await agent.signIn("m-1001", pin: "13579")
        #expect(fresh["status"] == "ok", "\(fresh)")
        #expect(try await agent.signOut()["status"] == "ok")
        try h.expectCleanDBCheck()
    }

    @Test func signInRefusalsAndMessagesThatAreIgnored() async throws {
        let h = try await MoneyFixture.harness()
        try await h.addMember("m-1001", name: "Ann", pin: "4821", topUp: 5)
        try await h.addMember("m-nopin", name: "No PIN", topUp: 1000)
        try await h.addMember("m-off", name: "Off", pin: "1234", topUp: 1000)
        #expect(try await h.request("member/disable", ["member": "m-off"])["status"] == "ok")
        let agent = Agent(h)
        #expect(try await agent.signIn("m-404", pin: "4821")["error"]?["code"] == "invalid_credentials")
        #expect(try await agent.signIn("m-nopin", pin: "4821")["error"]?["code"] == "no_pin")
        #expect(try await agent.signIn("m-off", pin: "1234")["error"]?["code"] == "member_disabled")
        #expect(try await agent.signIn("m-1001", pin: "4821")["error"]?["code"] == "insufficient_balance")

        // A desk-paid session cannot be signed out at the station.
        let desk = try await h.request("session/start", ["station": "PC-01", "minutes": 5, "payment": ["method": "cash"]])
        #expect(desk["status"] == "ok", "\(desk)")
        #expect(try await agent.signOut()["error"]?["code"] == "not_member_session")
        #expect(try h.retainedState("PC-01")?["session"]?["id"] == desk["data"]?["session"]?["id"])

        // Two attempts within a second: the second is refused at once.
        let mark = h.recorder.count
        let first = payload(["action": "sign_in", "station": "PC-02", "member": "m-404", "pin": "1111", "request": "fast-1"])
        let second = payload(["action": "sign_in", "station": "PC-02", "member": "m-404", "pin": "1111", "request": "fast-2"])
        let publisher = try MoneyRetryTests.publishLines(h, topic: "playclock/stations/PC-02/signin", [first, second], name: "fast")
        #expect(await publisher.waitForExit(timeout: .seconds(10)) == 0)
        let fast = try await h.recorder.waitFor(since: mark, "the second attempt's result") {
            $0.topic == "playclock/stations/PC-02/signin/result" && $0.json?["request"] == "fast-2"
        }
        #expect(fast.json?["error"]?["code"] == "too_many_attempts", "\(fast.payload)")

        // Another station's id in the body, a retained sign-in, or garbage: no answer, no session.
        let ignoredMark = h.recorder.count
        try h.publish(Self.signIn, payload(["action": "sign_in", "station": "PC-03", "member": "m-nopin", "pin": "4821", "request": "x-1"]), qos: 1)
        try h.publish(Self.signIn, "not json", qos: 1)
        let retained = try runTool("/usr/bin/mosquitto_pub", [
            "-h", "127.0.0.1", "-p", "\(h.broker.port)", "-q", "1", "-r", "-t", "playclock/stations/PC-03/signin",
            "-m", payload(["action": "sign_in", "station": "PC-03", "member": "m-nopin", "pin": "4821", "request": "x-2"]),
        ])
        #expect(retained.status == 0)
        try await Task.sleep(for: .milliseconds(1500))
        let answered = h.recorder.records().dropFirst(ignoredMark).filter { $0.topic.hasSuffix("/signin/result") }
        #expect(answered.isEmpty, "\(answered.map(\.payload))")
        #expect(try h.retainedState("PC-03")?["session"] == .null)
        try h.expectCleanDBCheck()
    }
}
