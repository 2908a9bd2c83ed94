import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// The shipped broker configuration, ACL generator, account tool and certificates, with the real
/// hub: what a venue gets from `scripts/install.sh`.
@Suite(.serialized)
struct SecureBrokerTests {
    /// A hub directory with a venue (two PCs, a console on a Tasmota plug, another plug) and roles.
    final class Venue {
        let directory: URL
        let venueFile: URL
        let configFile: URL
        let broker: SecureBroker
        var hub: ChildProcess?

        init() async throws {
            directory = try makeTemporaryDirectory(prefix: "secure-venue")
            venueFile = directory.appendingPathComponent("venue.json")
            configFile = directory.appendingPathComponent("config.json")
            let venue: JSONValue = ["stations": [
                ["station": "PC-01", "kind": "pc"], ["station": "PC-02", "kind": "pc"],
                ["station": "PS5-1", "kind": "console", "plug": ["type": "tasmota", "topic": "tas-1"]],
                ["station": "PS5-2", "kind": "console", "plug": ["type": "tasmota", "topic": "tas-2"]],
            ]]
            try Data(JSONCoding.encode(venue)).write(to: venueFile)
            try Data(JSONCoding.encode(["roles": ["ann": "cashier", "tv": "viewer"]])).write(to: configFile)
            broker = try await SecureBroker(
                venue: venueFile, config: configFile,
                accounts: ["playclock-hub", "monitor", "PC-01", "PC-02", "tas-1", "tas-2", "ann", "tv"])
        }

        deinit {
            hub?.kill()
            try? FileManager.default.removeItem(at: directory)
        }

        /// Starts the hub with its account, over plain MQTT or TLS.
        func startHub(tls: Bool) throws {
            let password = directory.appendingPathComponent("hub.password")
            try Data((broker.passwords["playclock-hub"] ?? "").utf8).write(to: password)
            let url = tls ? "mqtts://localhost:\(broker.tlsPort)" : "mqtt://127.0.0.1:\(broker.plainPort)"
            hub = try ChildProcess(
                binaryPath("playclockd"),
                arguments: [
                    "--broker", url, "--tls-ca-file", broker.caFile, "--username", "playclock-hub", "--password-file", password.path,
                    "--client-id", "playclock-hub", "--config", configFile.path, "--venue", venueFile.path,
                    "--database", directory.appendingPathComponent("hub.sqlite").path, "--http", "off",
                ],
                directory: directory)
        }

        /// A recorder with the read-only monitor account; PC-01 publishes its probes.
        func recorder() async throws -> WireRecorder {
            try await WireRecorder(
                port: broker.plainPort, filter: "#", auth: ["-u", "monitor", "-P", broker.passwords["monitor"] ?? ""]
            ) { token in
                let topic = "playclock/stations/PC-01/agent"
                return (topic, try self.publish(as: "PC-01", topic, token).status == 0)
            }
        }

        func publish(as account: String, _ topic: String, _ payload: String) throws -> (output: String, status: Int32) {
            try runTool("/usr/bin/mosquitto_pub", broker.login(account) + ["-t", topic, "-m", payload, "-q", "1", "-V", "mqttv5"])
        }

        /// What `account` receives on `filter` within a second, while `action` runs.
        func received(as account: String, _ filter: String, during action: () throws -> Void) throws -> String {
            let directory = try makeTemporaryDirectory(prefix: "sub")
            let sub = try ChildProcess(
                "/usr/bin/mosquitto_sub", arguments: broker.login(account) + ["-t", filter, "-v"], directory: directory)
            defer { sub.kill() }
            Thread.sleep(forTimeInterval: 0.3)
            try action()
            Thread.sleep(forTimeInterval: 0.7)
            return sub.output
        }
    }

    /// The broker's three listeners (`mosquitto/playclock.conf`).
    enum Listener: String, CaseIterable, Sendable {
        case plain, tls, websockets
    }

    /// Another account (a PC agent) connects with the hub's client id on each listener: the
    /// broker must give it its own client id (its account name, `use_username_as_clientid`
    /// under every listener), so the hub is not kicked off, its will (`offline`) is not
    /// published and it keeps answering requests.
    @Test(arguments: Listener.allCases)
    func noAccountCanTakeOverTheHubsClientID(listener: Listener) async throws {
        let v = try await Venue()
        let recorder = try await v.recorder()
        try v.startHub(tls: true)
        try await recorder.waitFor(timeout: .seconds(10), "hub online") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        let cli = binaryPath("playclock")
        let viewer = ["--broker", "mqtt://127.0.0.1:\(v.broker.plainPort)", "--username", "tv", "--password", v.broker.passwords["tv"] ?? ""]
        let before = try runTool(cli, ["stations"] + viewer)
        #expect(before.status == 0, "the hub answers before: \(before.output)")

        let mark = recorder.count
        let logMark = v.broker.log.count
        let password = v.broker.passwords["PC-01"] ?? ""
        // The hub's client id as install.sh configures it (= its account), and the default one.
        for clientID in ["playclock-hub", "playclockd"] {
            let attack: (output: String, status: Int32)
            switch listener {
            case .plain:
                attack = try runTool("/usr/bin/mosquitto_sub", [
                    "-h", "127.0.0.1", "-p", "\(v.broker.plainPort)", "-u", "PC-01", "-P", password, "-i", clientID,
                    "-t", "playclock/hub/status", "-C", "1", "-v",
                ])
            case .tls:
                attack = try runTool("/usr/bin/mosquitto_sub", [
                    "-h", "localhost", "-p", "\(v.broker.tlsPort)", "--cafile", v.broker.caFile, "-u", "PC-01", "-P", password,
                    "-i", clientID, "-t", "playclock/hub/status", "-C", "1", "-v",
                ])
            case .websockets:
                // Debian's mosquitto_sub cannot speak WebSockets: paho-mqtt (python3-paho-mqtt) can.
                let script = v.directory.appendingPathComponent("ws_client.py")
                try Data(Self.webSocketClient.utf8).write(to: script)
                attack = try runTool("/usr/bin/python3", [
                    script.path, "localhost", "\(v.broker.websocketPort)", v.broker.caFile, "PC-01", password, clientID,
                    "playclock/hub/status",
                ], timeout: .seconds(20))
            }
            // The attacker did get in (so the test is not vacuous): it read the retained hub status.
            #expect(attack.output.contains("playclock/hub/status"), "\(listener) attacker as \(clientID): \(attack.output)")
        }
        // A takeover publishes the hub's will at once; give it time to show.
        try await Task.sleep(for: .milliseconds(1500))

        let statuses = recorder.records().dropFirst(mark).filter { $0.topic == "playclock/hub/status" }.map(\.payload)
        #expect(!statuses.contains("offline"), "the hub was kicked off over \(listener): \(statuses)")
        let log = String(v.broker.log.dropFirst(logMark))
        let takeovers = log.split(separator: "\n").filter { $0.contains("already connected, closing old connection") }
        #expect(takeovers.isEmpty, "\(listener): \(takeovers)")
        #expect(log.contains("u'PC-01'"), "the attacker's connections are in the broker log")
        #expect(v.hub?.isRunning == true)
        let after = try runTool(cli, ["stations"] + viewer)
        #expect(after.status == 0, "the hub still answers: \(after.output)")
    }

    /// A WebSockets-over-TLS client: connects, subscribes to a topic, prints what it receives
    /// (`topic payload` lines) and exits 0 once it has one message (1 otherwise, within 8 s).
    static let webSocketClient = #"""
    import ssl, sys, threading, time
    import paho.mqtt.client as mqtt

    host, port, ca, user, password, client_id, topic = sys.argv[1:8]
    got = threading.Event()

    def on_connect(client, userdata, flags, rc):
        print("connack", rc, flush=True)
        if rc == 0:
            client.subscribe(topic, qos=1)

    def on_message(client, userdata, msg):
        print(msg.topic, msg.payload.decode(errors="replace"), flush=True)
        got.set()

    client = mqtt.Client(client_id=client_id, transport="websockets")
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=ca)
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    ok = got.wait(8)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    sys.exit(0 if ok else 1)
    """#

    @Test func anonymousClientsAndWrongPasswordsAreRefused() async throws {
        let v = try await Venue()
        let anonymous = try runTool("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(v.broker.plainPort)", "-t", "x", "-m", "x"])
        #expect(anonymous.status != 0)
        #expect(anonymous.output.lowercased().contains("not authorised") || anonymous.output.lowercased().contains("not authorized"))
        let wrong = try runTool("/usr/bin/mosquitto_pub",
                                ["-h", "127.0.0.1", "-p", "\(v.broker.plainPort)", "-u", "ann", "-P", "nope", "-t", "x", "-m", "x"])
        #expect(wrong.status != 0)
    }

    @Test func anAgentTouchesOnlyItsOwnStation() async throws {
        let v = try await Venue()
        let recorder = try await v.recorder()
        let mark = recorder.count
        #expect(try v.publish(as: "PC-01", "playclock/stations/PC-01/heartbeat", #"{"seq":1}"#).status == 0)
        _ = try v.publish(as: "PC-01", "playclock/stations/PC-02/heartbeat", #"{"seq":666}"#)
        _ = try v.publish(as: "PC-01", "playclock/hub/request/session/start", #"{"station":"PC-01","minutes":60}"#)
        _ = try v.publish(as: "PC-01", "playclock/users/ann/request/session/start", #"{"station":"PC-01","minutes":60}"#)
        _ = try v.publish(as: "PC-01", "playclock/stations/PC-01/control", #"{"action":"unlock"}"#)
        try await recorder.waitFor(since: mark, "own heartbeat") { $0.topic == "playclock/stations/PC-01/heartbeat" }
        try await Task.sleep(for: .milliseconds(500))
        let seen = recorder.records().dropFirst(mark).map(\.topic)
        #expect(!seen.contains("playclock/stations/PC-02/heartbeat"))
        #expect(!seen.contains { $0.contains("/request/") }, "agents may not send requests")
        #expect(!seen.contains("playclock/stations/PC-01/control"), "only the hub publishes control")

        let overheard = try v.received(as: "PC-01", "playclock/stations/PC-02/control") {
            _ = try v.publish(as: "playclock-hub", "playclock/stations/PC-02/control", #"{"action":"lock"}"#)
        }
        #expect(overheard.isEmpty, "PC-01 read PC-02's control: \(overheard)")
        let own = try v.received(as: "PC-01", "playclock/stations/PC-01/control") {
            _ = try v.publish(as: "playclock-hub", "playclock/stations/PC-01/control", #"{"action":"lock"}"#)
        }
        #expect(own.contains("playclock/stations/PC-01/control"))
    }

    @Test func aPlugTouchesOnlyItsOwnTopics() async throws {
        let v = try await Venue()
        let recorder = try await v.recorder()
        let mark = recorder.count
        _ = try v.publish(as: "tas-1", "stat/tas-1/POWER", "ON")
        _ = try v.publish(as: "tas-1", "stat/tas-2/POWER", "ON")
        _ = try v.publish(as: "tas-1", "cmnd/tas-2/POWER1", "ON")
        try await recorder.waitFor(since: mark, "own state") { $0.topic == "stat/tas-1/POWER" }
        try await Task.sleep(for: .milliseconds(500))
        let seen = recorder.records().dropFirst(mark).map(\.topic)
        #expect(!seen.contains("stat/tas-2/POWER"))
        #expect(!seen.contains("cmnd/tas-2/POWER1"))
        let overheard = try v.received(as: "tas-1", "cmnd/#") {
            _ = try v.publish(as: "playclock-hub", "cmnd/tas-2/POWER1", "OFF")
        }
        #expect(overheard.isEmpty, "tas-1 read tas-2's commands: \(overheard)")
    }

    @Test func rolesDecideOverTheRealHubAndTheHubWorksOverTLS() async throws {
        let v = try await Venue()
        let recorder = try await v.recorder()
        try v.startHub(tls: true)
        try await recorder.waitFor(timeout: .seconds(10), "hub online over TLS") {
            $0.topic == "playclock/hub/status" && $0.payload == "online"
        }
        let cli = binaryPath("playclock")
        func run(as account: String, _ args: [String]) throws -> (output: String, status: Int32) {
            try runTool(cli, args + ["--broker", "mqtt://127.0.0.1:\(v.broker.plainPort)", "--username", account,
                                     "--password", v.broker.passwords[account] ?? ""])
        }
        let refused = try run(as: "tv", ["session", "start", "PC-01", "--minutes", "5"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("forbidden"))
        let listed = try run(as: "tv", ["stations"])
        #expect(listed.status == 0, "a viewer may look: \(listed.output)")
        let started = try run(as: "ann", ["session", "start", "PC-01", "--minutes", "5"])
        #expect(started.status == 0, "\(started.output)")
        let transfer = try run(as: "ann", ["session", "transfer", "PC-01", "PC-02"])
        #expect(transfer.output.contains("forbidden"), "a cashier may not transfer")
        try await recorder.waitFor(timeout: .seconds(5), "session start audited with the account") {
            $0.topic == "playclock/events" && $0.json?["type"] == "session.started" && $0.json?["data"]?["by"] == "ann"
        }
        try await recorder.waitFor(timeout: .seconds(5), "refusal audited") {
            $0.topic == "playclock/events" && $0.json?["type"] == "command.rejected" && $0.json?["data"]?["by"] == "tv"
        }
    }

    @Test func tlsNeedsTheVenueCA() async throws {
        let v = try await Venue()
        let auth = ["-u", "ann", "-P", v.broker.passwords["ann"] ?? ""]
        let withCA = try runTool(
            "/usr/bin/mosquitto_pub",
            ["-h", "localhost", "-p", "\(v.broker.tlsPort)", "--cafile", v.broker.caFile, "-t", "playclock/users/ann/request/station/list",
             "-m", "{}"] + auth)
        #expect(withCA.status == 0, "\(withCA.output)")
        let withoutCA = try runTool(
            "/usr/bin/mosquitto_pub",
            ["-h", "localhost", "-p", "\(v.broker.tlsPort)", "--capath", "/etc/ssl/certs", "-t", "playclock/users/ann/request/station/list",
             "-m", "{}"] + auth)
        #expect(withoutCA.status != 0, "a client that does not trust the venue CA must fail")
    }

    @Test func shippedSystemdUnitsVerify() throws {
        let result = try runTool(repositoryRoot.appendingPathComponent("scripts/verify-units.sh").path, [], timeout: .seconds(300))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("ok: playclockd.service"))
    }

    @Test func anOnlineBackupIsAConsistentCopyTakenWhileTheHubRuns() async throws {
        let h = try await HubHarness()
        _ = try await h.request("session/start", ["station": "PC-01", "minutes": 30])
        let backup = h.directory.appendingPathComponent("backup.sqlite").path
        let result = try runTool(binaryPath("playclock"), ["db", "backup", "--database", h.database, "--out", backup])
        #expect(result.status == 0, "\(result.output)")
        let again = try runTool(binaryPath("playclock"), ["db", "backup", "--database", h.database, "--out", backup])
        #expect(again.status != 0, "never overwrites")
        let check = try runTool("/usr/bin/sqlite3", [backup, "PRAGMA integrity_check; SELECT count(*) FROM sessions WHERE ended_at_ms IS NULL;"])
        #expect(check.output.split(separator: "\n") == ["ok", "1"])
    }
}
