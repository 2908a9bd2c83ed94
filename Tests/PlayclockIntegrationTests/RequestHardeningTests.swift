import Foundation
import PlayclockContract
import PlayclockCore
import Testing

/// Against the real broker and the real hub: a request cannot make the hub publish where the
/// requester could not, and a retained request is never executed and does not stay on the broker.
@Suite(.serialized) struct RequestHardeningTests {
    static let roles: [String: JSONValue] = ["roles": ["tv": "viewer", "max": "manager"]]

    /// `mosquitto_pub` as an MQTT v5 client, optionally naming a Response Topic.
    func publish(_ harness: HubHarness, _ topic: String, _ payload: String, responseTopic: String? = nil, retain: Bool = false) throws {
        var arguments = ["-h", "127.0.0.1", "-p", "\(harness.broker.port)", "-V", "mqttv5", "-q", "1", "-t", topic, "-m", payload]
        if let responseTopic { arguments += ["-D", "publish", "response-topic", responseTopic] }
        if retain { arguments.append("-r") }
        let result = try runTool("/usr/bin/mosquitto_pub", arguments)
        guard result.status == 0 else { throw ChildProcessError(description: "mosquitto_pub failed: \(result.output)") }
    }

    @Test(arguments: [
        "playclock/stations/PC-02/control", "cmnd/ps5-plug-2/POWER1", "playclock/stations/PC-02/state", "playclock/hub/status",
        "shellyplusplugs-ps5-2/rpc", "playclock/users/max/request/session/stop", "playclock/users/max/response/station/get",
    ])
    func aViewerCannotMakeTheHubPublishElsewhere(responseTopic: String) async throws {
        let harness = try await HubHarness(recordEverything: true, config: Self.roles)
        let mark = harness.recorder.count
        try publish(harness, "playclock/users/tv/request/station/get", #"{"station":"PC-02","transaction":"rt"}"#,
                    responseTopic: responseTopic)
        let answer = try await harness.recorder.waitFor(since: mark, "the refusal") {
            $0.topic == "playclock/users/tv/response/station/get"
        }
        #expect(answer.json?["error"]?["code"] == "invalid_response_topic")
        #expect(answer.json?["transaction"] == "rt")
        // Let anything the hub might still send arrive, then look at everything since the request.
        try await Task.sleep(for: .milliseconds(300))
        let since = harness.recorder.records().dropFirst(mark)
        #expect(!since.contains { $0.topic == responseTopic }, "the hub published on \(responseTopic)")
        let events = since.filter { $0.topic == "playclock/events" }.compactMap(\.json)
        #expect(events.allSatisfy { $0["data"]?["by"] == "tv" }, "an event in another account's name: \(events)")
        #expect(!events.contains { $0["type"] == "session.stopped" })
        #expect(harness.hub?.isRunning == true)
    }

    @Test func theAccountsOwnResponseTopicIsAnswered() async throws {
        let harness = try await HubHarness(recordEverything: true, config: Self.roles)
        let mark = harness.recorder.count
        try publish(harness, "playclock/users/tv/request/station/get", #"{"station":"PC-02"}"#,
                    responseTopic: "playclock/users/tv/response/tool/7")
        let reply = try await harness.recorder.waitFor(since: mark, "the reply") { $0.topic == "playclock/users/tv/response/tool/7" }
        #expect(reply.json?["status"] == "ok")
    }

    @Test func aRetainedRequestIsNeverExecutedAndIsCleared() async throws {
        let harness = try await HubHarness(recordEverything: true)
        // Published with retain while the hub is connected: the broker forwards it live.
        var mark = harness.recorder.count
        try publish(harness, "playclock/hub/request/station/add", #"{"station":"RET-1","transaction":"r1"}"#, retain: true)
        let refused = try await harness.recorder.waitFor(since: mark, "the refusal") {
            $0.topic == "playclock/hub/response/station/add" && $0.json?["transaction"] == "r1"
        }
        #expect(refused.json?["error"]?["code"] == "retained_request")
        #expect(try await harness.request("station/get", ["station": "RET-1"])["error"]?["code"] == "unknown_station")

        // Left on the broker while the hub is down: refused on start, and cleared.
        harness.killHub()
        try publish(harness, "playclock/hub/request/session/start", #"{"station":"PC-01","seconds":600,"transaction":"r2"}"#, retain: true)
        mark = harness.recorder.count
        try await harness.startHub()
        try await harness.recorder.waitFor(since: mark, "the refusal after the restart") {
            $0.topic == "playclock/hub/response/session/start" && $0.json?["transaction"] == "r2"
        }
        #expect(try await harness.request("station/get", ["station": "PC-01"])["data"]?["session"] == .null)
        for topic in ["playclock/hub/request/station/add", "playclock/hub/request/session/start"] {
            let left = try runTool(
                "/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(harness.broker.port)", "-t", topic, "-C", "1", "-W", "1"],
                timeout: .seconds(5))
            #expect(left.output.isEmpty, "a retained request is still on the broker at \(topic): \(left.output)")
        }
    }
}
