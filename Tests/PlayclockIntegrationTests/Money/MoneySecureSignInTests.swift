import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Sign-in through the shipped broker configuration with the ACL `playclock broker acl`
/// generates: the station's own agent account may sign in on its topic and read the result;
/// another station's account cannot sign in for it.
@Suite(.serialized)
struct MoneySecureSignInTests {
    @Test func onlyTheStationsOwnAgentSignsInThroughTheGeneratedACL() async throws {
        let directory = try makeTemporaryDirectory(prefix: "money-secure")
        defer { try? FileManager.default.removeItem(at: directory) }
        let venue = directory.appendingPathComponent("venue.json")
        let config = directory.appendingPathComponent("config.json")
        let database = directory.appendingPathComponent("hub.sqlite").path
        try Data(JSONCoding.encode(["stations": [["station": "PC-01", "kind": "pc"], ["station": "PC-02", "kind": "pc"]]])).write(to: venue)
        try Data(JSONCoding.encode([
            "roles": MoneyFixture.roles, "pricing": MoneyFixture.pricing, "policy": HubHarness.defaultPolicy,
        ])).write(to: config)
        let broker = try await SecureBroker(
            venue: venue, config: config, accounts: ["playclock-hub", "monitor", "PC-01", "PC-02", "boss"])
        let password = directory.appendingPathComponent("hub.password")
        try Data((broker.passwords["playclock-hub"] ?? "").utf8).write(to: password)

        let recorder = try await WireRecorder(
            port: broker.plainPort, filter: "#", auth: ["-u", "monitor", "-P", broker.passwords["monitor"] ?? ""]
        ) { token in
            let topic = "playclock/stations/PC-01/agent"
            let sent = try runTool("/usr/bin/mosquitto_pub", broker.login("PC-01") + ["-t", topic, "-m", token, "-q", "1"])
            return (topic, sent.status == 0)
        }
        let hub = try ChildProcess(
            binaryPath("playclockd"),
            arguments: [
                "--broker", "mqtt://127.0.0.1:\(broker.plainPort)", "--username", "playclock-hub", "--password-file", password.path,
                "--client-id", "playclock-hub", "--config", config.path, "--venue", venue.path, "--database", database, "--http", "off",
            ],
            directory: directory)
        defer { hub.kill() }
        try await recorder.waitFor(timeout: .seconds(10), "hub online") { $0.topic == "playclock/hub/status" && $0.payload == "online" }

        func publish(as account: String, _ topic: String, _ body: JSONValue) throws {
            let sent = try runTool("/usr/bin/mosquitto_pub", broker.login(account) + ["-t", topic, "-m", payload(body), "-q", "1", "-V", "mqttv5"])
            #expect(sent.status == 0, "\(account) publishing on \(topic): \(sent.output)")
        }
        func staff(_ verb: String, _ body: JSONValue, transaction: String) async throws -> JSONValue {
            let mark = recorder.count
            var fields = body.objectValue ?? [:]
            fields["transaction"] = .string(transaction)
            try publish(as: "boss", "playclock/users/boss/request/\(verb)", .object(fields))
            let answer = try await recorder.waitFor(since: mark, "boss's \(verb)") {
                $0.topic == "playclock/users/boss/response/\(verb)" && $0.json?["transaction"] == .string(transaction)
            }
            return try #require(answer.json)
        }
        #expect(try await staff("member/add", ["member": "m-1001", "name": "Ann", "pin": "4821"], transaction: "a1")["status"] == "ok")
        #expect(try await staff("member/topup", ["member": "m-1001", "amount": 3000, "method": "card"], transaction: "a2")["status"] == "ok")

        // PC-02's account cannot sign in for PC-01: the broker drops it, the hub never sees it.
        var mark = recorder.count
        try publish(as: "PC-02", "playclock/stations/PC-01/signin",
                    ["action": "sign_in", "station": "PC-01", "member": "m-1001", "pin": "4821", "request": "evil-1"])
        try await Task.sleep(for: .milliseconds(1500))
        let leaked = recorder.records().dropFirst(mark).filter { $0.topic.hasPrefix("playclock/stations/PC-01/signin") || $0.json?["action"] == "unlock" }
        #expect(leaked.isEmpty, "\(leaked.map { "\($0.topic) \($0.payload)" })")

        // The agent signs in on one connection that also reads the result (the broker names each
        // connection after its account, so a second PC-01 connection would replace the first).
        mark = recorder.count
        let rr = try runTool("/usr/bin/mosquitto_rr", broker.login("PC-01") + [
            "-V", "mqttv5", "-q", "1", "-t", "playclock/stations/PC-01/signin", "-e", "playclock/stations/PC-01/signin/result",
            "-m", payload(["action": "sign_in", "station": "PC-01", "member": "m-1001", "pin": "4821", "request": "ok-1"]),
        ], timeout: .seconds(10))
        let answer = try? JSONCoding.decode(Array(rr.output.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        #expect(answer?["request"] == "ok-1", "PC-01's account read its result: \(rr.output)")
        #expect(answer?["status"] == "ok", "\(rr.output)")
        #expect(answer?["member"]?["balance"] == 3000)
        let unlock = try await recorder.waitFor(since: mark, "unlock") {
            $0.topic == "playclock/stations/PC-01/control" && $0.json?["action"] == "unlock"
        }
        #expect(unlock.json?["member"]?["member"] == "m-1001")

        mark = recorder.count
        try publish(as: "PC-01", "playclock/stations/PC-01/signin", ["action": "sign_out", "station": "PC-01", "request": "out-1"])
        let out = try await recorder.waitFor(since: mark, "sign-out result") {
            $0.topic == "playclock/stations/PC-01/signin/result" && $0.json?["request"] == "out-1"
        }
        #expect(out.json?["status"] == "ok", "\(out.payload)")
        let charged = try await recorder.waitFor(since: mark, "session.charged") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.charged"
        }
        #expect((charged.json?["data"]?["amount"]?.intValue ?? 0) > 0)

        let check = try runTool(binaryPath("playclock"), ["db", "check", "--database", database], timeout: .seconds(30))
        #expect(check.status == 0, "\(check.output)")
        #expect(!check.output.contains("money:"), "\(check.output)")
    }
}
