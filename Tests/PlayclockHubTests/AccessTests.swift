import Foundation
import Logging
import PlayclockContract
import PlayclockCore
import Testing

@testable import PlayclockHub

@Suite struct AccessPolicyTests {
    let start = Command.sessionStart(StationID("PC-01")!, seconds: 60)
    let transfer = Command.sessionTransfer(from: StationID("PC-01")!, to: StationID("PC-02")!)
    let list = Command.stationList

    @Test func rolesAreOrderedPermissions() {
        #expect(StaffRole.viewer.permits(list))
        #expect(!StaffRole.viewer.permits(start))
        #expect(StaffRole.cashier.permits(start))
        #expect(!StaffRole.cashier.permits(transfer))
        #expect(StaffRole.manager.permits(transfer))
        #expect(!StaffRole.cashier.permits(.stationAdd(id: StationID("X")!, name: "X", kind: .pc, plug: nil)))
    }

    @Test func onlyManagersPowerPlugsByHand() {
        let power = Command.plugPower(StationID("PS5-01")!, on: true)
        #expect(!StaffRole.viewer.permits(power))
        #expect(!StaffRole.cashier.permits(power))
        #expect(StaffRole.manager.permits(power))
        let policy = AccessPolicy(roles: ["ann": .cashier, "tv": .viewer, "max": .manager])
        let byCashier = policy.refusal(of: power, verb: "plug/power", user: "ann")
        #expect(byCashier?.code == .forbidden)
        #expect(byCashier?.message == "role cashier may not send plug/power (needs manager)")
        #expect(policy.refusal(of: power, verb: "plug/power", user: "tv")?.code == .forbidden)
        #expect(policy.refusal(of: .plugPower(StationID("PS5-01")!, on: false), verb: "plug/power", user: "ann")?.code == .forbidden)
        #expect(policy.refusal(of: power, verb: "plug/power", user: "max") == nil)
        #expect(AccessPolicy(roles: ["ann": .cashier], sharedTopicRole: .cashier).refusal(of: power, verb: "plug/power", user: nil)?.code
            == .forbidden)
    }

    @Test func aHubWithoutRolesLetsTheSharedTopicDoEverything() {
        let open = AccessPolicy()
        #expect(open.refusal(of: transfer, verb: "session/transfer", user: nil) == nil)
        #expect(open.refusal(of: start, verb: "session/start", user: "someone")?.code == .forbidden)
    }

    @Test func onceRolesExistEveryRequestNeedsAnAccountWithTheRightRole() {
        let policy = AccessPolicy(roles: ["ann": .cashier, "tv": .viewer, "max": .manager])
        #expect(policy.refusal(of: list, verb: "station/list", user: nil)?.code == .unauthenticated)
        #expect(policy.refusal(of: start, verb: "session/start", user: "ann") == nil)
        #expect(policy.refusal(of: transfer, verb: "session/transfer", user: "ann")?.code == .forbidden)
        #expect(policy.refusal(of: start, verb: "session/start", user: "tv")?.message.contains("viewer") == true)
        #expect(policy.refusal(of: transfer, verb: "session/transfer", user: "max") == nil)
        #expect(policy.refusal(of: list, verb: "station/list", user: "stranger")?.code == .forbidden)
        let board = AccessPolicy(roles: ["ann": .cashier], sharedTopicRole: .viewer)
        #expect(board.refusal(of: list, verb: "station/list", user: nil) == nil)
        #expect(board.refusal(of: start, verb: "session/start", user: nil)?.code == .forbidden)
    }

    @Test func rolesComeFromTheConfigFile() throws {
        let dir = try TemporaryDatabase()
        let path = dir.directory.appendingPathComponent("c.json").path
        try #"{"roles": {"ann": "cashier", "tv.board": "viewer"}, "shared_topic_role": "none"}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        var config = HubConfiguration()
        try config.apply(configFile: path)
        #expect(config.access.roles == ["ann": .cashier, "tv.board": .viewer])
        #expect(config.access.sharedTopicRole == nil)

        for bad in [#"{"roles": {"ann": "owner"}}"#, #"{"roles": {"a/b": "viewer"}}"#, #"{"shared_topic_role": "boss"}"#] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            var fresh = HubConfiguration()
            #expect(throws: HubConfiguration.Error.self) { try fresh.apply(configFile: path) }
        }
    }
}

@Suite struct StaffRequestTests {
    let db: TemporaryDatabase
    let topics = TopicScheme(root: "playclock")!

    init() throws {
        db = try TemporaryDatabase.with(stations: ["PC-01", "PC-02"])
    }

    @Test func accountsGetAnswersOnTheirOwnTopicAndEveryEventNamesThem() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: JumpableClock(),
            logger: quietLogger, access: AccessPolicy(roles: ["ann": .cashier, "tv": .viewer]))
        try await hub.start()
        #expect(publisher.subscriptions.contains("playclock/users/+/request/#"))

        func send(_ user: String?, _ verb: String, _ body: JSONValue) async -> JSONValue? {
            let topic = user.map { topics.userRequest($0, verb) } ?? topics.request(verb)
            await hub.receive(InboundMessage(topic: topic, payload: JSONCoding.encode(body)))
            let responseTopic = user.map { topics.userResponse($0, verb) } ?? topics.response(verb)
            return publisher.messages.last { $0.topic == responseTopic }?.json
        }

        let started = await send("ann", "session/start", ["station": "PC-01", "minutes": 10])
        #expect(started?["status"] == "ok")
        let byViewer = await send("tv", "session/stop", ["station": "PC-01"])
        #expect(byViewer?["error"]?["code"] == "forbidden")
        let anonymous = await send(nil, "station/list", [:])
        #expect(anonymous?["error"]?["code"] == "unauthenticated")
        let transfer = await send("ann", "session/transfer", ["station": "PC-01", "to": "PC-02"])
        #expect(transfer?["error"]?["code"] == "forbidden")
        #expect(await hub.state(of: StationID("PC-01")!)?["session"] != .null, "refusals changed nothing")

        let events = try HubStore(path: db.path).events()
        #expect(events.first { $0.type == "session.started" }?.data["by"] == "ann")
        #expect(events.first { $0.type == "station.unlocked" }?.data["by"] == "ann")
        let refusals = events.filter { $0.type == "command.rejected" }
        #expect(refusals.map { $0.data["by"] } == ["tv", .null, "ann"].map { $0 == .null ? nil : $0 })
        #expect(refusals.map { $0.data["code"] } == ["forbidden", "unauthenticated", "forbidden"])
        await hub.shutdown()
    }
}

@Suite struct PlugPowerAccessTests {
    let topics = TopicScheme(root: "playclock")!

    @Test func viewersAndCashiersMayNotPowerAPlugManagersMay() async throws {
        let db = try TemporaryDatabase()
        let console = Station(
            id: StationID("PS5-01")!, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-plug-1", relay: 1), zone: "Console lounge")
        do {
            let store = try HubStore(path: db.path)
            try store.importStations([console])
            store.close()
        }
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: JumpableClock(),
            logger: quietLogger, access: AccessPolicy(roles: ["ann": .cashier, "tv": .viewer, "max": .manager]))
        try await hub.start()

        func send(_ user: String, _ body: JSONValue) async -> JSONValue? {
            await hub.receive(InboundMessage(topic: topics.userRequest(user, "plug/power"), payload: JSONCoding.encode(body)))
            return publisher.messages.last { $0.topic == topics.userResponse(user, "plug/power") }?.json
        }
        func plugCommands() -> [String] {
            publisher.messages.filter { $0.topic.hasPrefix("cmnd/ps5-plug-1/") }.map { "\($0.topic) \(String(decoding: $0.payload, as: UTF8.self))" }
        }
        let before = plugCommands()

        for user in ["tv", "ann"] {
            let refused = await send(user, ["station": "PS5-01", "on": true, "transaction": .string(user)])
            #expect(refused?["status"] == "error")
            #expect(refused?["error"]?["code"] == "forbidden")
            #expect(refused?["transaction"] == .string(user))
        }
        #expect(plugCommands() == before, "a refused request sends nothing to the plug")
        #expect(await hub.state(of: console.id)?["plug"]?["hold"] == false)
        #expect(try HubStore(path: db.path).stations().first?.powerHold == false)

        let allowed = await send("max", ["station": "PS5-01", "on": true])
        #expect(allowed?["status"] == "ok")
        #expect(allowed?["data"]?["plug"]?["hold"] == true)
        #expect(allowed?["data"]?["zone"] == "Console lounge")
        #expect(Array(plugCommands().dropFirst(before.count)) == ["cmnd/ps5-plug-1/PulseTime1 0", "cmnd/ps5-plug-1/POWER1 ON"])
        let store = try HubStore(path: db.path)
        #expect(try store.stations().first?.powerHold == true)
        let events = try store.events()
        #expect(events.filter { $0.type == "command.rejected" }.map { $0.data["by"] } == ["tv", "ann"])
        #expect(events.filter { $0.type == "plug.manual" }.map(\.data) == [["on": true, "by": "max"]])
        await hub.shutdown()
    }
}

@Suite struct BrokerACLTests {
    let topics = TopicScheme(root: "playclock")!
    var stations: [Station] {
        [
            station("PC-01"),
            Station(id: StationID("PS5-1")!, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5-plug", relay: 1)),
            Station(id: StationID("PS5-2")!, name: "PS5 2", kind: .console, plug: .tasmota(topic: "ps5-plug", relay: 2)),
            Station(id: StationID("XB-1")!, name: "Xbox", kind: .console, plug: .shelly1(id: "shellyplug-s-1", relay: 0)),
            Station(id: StationID("SW-1")!, name: "Switch", kind: .console, plug: .shelly2(prefix: "venue/sw1", switchID: 0)),
        ]
    }

    @Test func everyDeviceGetsOnlyItsOwnTopics() throws {
        let acl = try BrokerACL.render(
            topics: topics, stations: stations, staff: ["ann": .cashier], hubAccount: "playclock-hub", rpcSource: topics.rpcSource)
        let blocks = Dictionary(
            uniqueKeysWithValues: acl.components(separatedBy: "\nuser ").dropFirst().map { block -> (String, [String]) in
                let lines = block.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
                return (lines[0], Array(lines.dropFirst()))
            })
        #expect(blocks["playclock-hub"] == ["topic readwrite #"])
        #expect(blocks["PC-01"] == [
            "topic write playclock/stations/PC-01/heartbeat", "topic write playclock/stations/PC-01/agent",
            "topic write playclock/stations/PC-01/event", "topic write playclock/stations/PC-01/signin",
            "topic read playclock/stations/PC-01/control", "topic read playclock/stations/PC-01/countdown",
            "topic read playclock/stations/PC-01/state", "topic read playclock/stations/PC-01/signin/result", "topic read playclock/hub/status",
        ])
        #expect(blocks["ps5-plug"] == ["topic read cmnd/ps5-plug/#", "topic write stat/ps5-plug/#", "topic write tele/ps5-plug/#"])
        #expect(blocks["shellyplug-s-1"]?.contains("topic read shellies/shellyplug-s-1/relay/+/command") == true)
        #expect(blocks["venue/sw1"]?.contains("topic write playclock-hub/rpc") == true)
        #expect(blocks["ann"]?.contains("topic write playclock/users/ann/request/#") == true)
        #expect(blocks["ann"]?.contains { $0.contains("control") } == false, "staff never read control")
        #expect(blocks["PS5-1"] == nil, "consoles have no agent account")
        #expect(acl.components(separatedBy: "\nuser ps5-plug\n").count == 2, "a shared plug is listed once")
        // Nobody but the hub may publish control, state, countdown or plug commands.
        for (account, lines) in blocks where account != "playclock-hub" {
            #expect(!lines.contains { $0.hasPrefix("topic write") && ($0.contains("/control") || $0.contains("/state") || $0.contains("cmnd/")) })
        }
    }

    @Test func oneAccountNeverServesTwoDevices() {
        #expect(throws: BrokerACL.Conflict.self) {
            try BrokerACL.render(topics: topics, stations: [station("PC-01")], staff: ["PC-01": .manager],
                                 hubAccount: "playclock-hub", rpcSource: "x")
        }
        #expect(throws: BrokerACL.Conflict.self) {
            try BrokerACL.render(topics: topics, stations: [station("playclock-hub")], staff: [:], hubAccount: "playclock-hub", rpcSource: "x")
        }
    }
}

@Suite struct SystemdNotifierTests {
    @Test func notificationsReachTheSocketAndTheWatchdogIntervalIsHalved() throws {
        let dir = try TemporaryDatabase()
        let path = dir.directory.appendingPathComponent("notify").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)

        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"])
        #expect(notifier.watchdogInterval == .seconds(15))
        #expect(notifier.notify("READY=1"))
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) == "READY=1")

        #expect(!SystemdNotifier(environment: [:]).notify("READY=1"), "not under systemd: nothing to do")
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]).watchdogInterval == nil,
                "a watchdog meant for another process")
    }
}

/// The hub publishes with rights no requester has: it must answer only where the requester could
/// read anyway, and never run what it published itself.
@Suite struct ResponseTopicTests {
    let db: TemporaryDatabase
    let topics = TopicScheme(root: "playclock")!

    init() throws {
        db = try TemporaryDatabase.with(stations: ["PC-01", "PC-02"])
    }

    @Test(arguments: [
        "playclock/stations/PC-02/control", "cmnd/ps5-plug-2/POWER1", "playclock/stations/PC-02/state",
        "playclock/hub/status", "shellyplusplug-2/rpc", "playclock/users/max/request/session/stop",
        "playclock/users/max/response/session/start", "playclock/hub/response/station/get", "playclock/users/tv/response",
        "playclock/users/tv/response/+", "tools/me",
    ])
    func aResponseTopicOutsideTheRequestersOwnIsRefused(_ responseTopic: String) async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: ManualHubClock(),
            logger: quietLogger, access: AccessPolicy(roles: ["tv": .viewer, "max": .manager]))
        try await hub.start()
        let before = publisher.messages.count
        await hub.receive(InboundMessage(
            topic: topics.userRequest("tv", "station/get"), payload: JSONCoding.encode(["station": "PC-02", "transaction": "t"]),
            responseTopic: responseTopic, correlationData: [9]))
        let sent = publisher.messages.dropFirst(before)
        #expect(Set(sent.map(\.topic)) == ["playclock/users/tv/response/station/get", "playclock/events"],
                "answered on the account's own topic only")
        let answer = try #require(sent.first { $0.topic == "playclock/users/tv/response/station/get" }?.json)
        #expect(answer["error"]?["code"] == "invalid_response_topic")
        #expect(answer["transaction"] == "t")
        let rejected = try #require(try HubStore(path: db.path).events().last)
        #expect(rejected.type == "command.rejected")
        #expect(rejected.data["by"] == "tv", "recorded as the account that sent it, never as anyone else")
        await hub.shutdown()
    }

    @Test func theAccountsOwnResponseTopicsAreAnswered() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: ManualHubClock(),
            logger: quietLogger, access: AccessPolicy(roles: ["tv": .viewer]))
        try await hub.start()
        await hub.receive(InboundMessage(
            topic: topics.userRequest("tv", "station/get"), payload: JSONCoding.encode(["station": "PC-02"]),
            responseTopic: "playclock/users/tv/response/cli/42", correlationData: [4, 2]))
        let reply = try #require(publisher.messages.first { $0.topic == "playclock/users/tv/response/cli/42" })
        #expect(reply.correlationData == [4, 2])
        #expect(reply.json?["status"] == "ok")
        await hub.shutdown()
    }

    @Test func requestsAreSubscribedWithoutOurOwnPublishesAndWithTheirRealRetainFlag() async throws {
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: ManualHubClock(),
            logger: quietLogger)
        try await hub.start()
        #expect(publisher.options["playclock/hub/request/#"] == .requests)
        #expect(publisher.options["playclock/users/+/request/#"] == .requests)
        #expect(SubscriptionOptions.requests.noLocal && SubscriptionOptions.requests.retainAsPublished)
        #expect(publisher.options["playclock/stations/+/heartbeat"]?.coalescing == true)
        await hub.shutdown()
    }
}

/// A flood of bad requests costs one recorded event (and one log line) per kind and window.
@Suite struct RejectionFloodTests {
    @Test func repeatsAreCountedIntoOneSummaryPerWindow() async throws {
        let db = try TemporaryDatabase.with(stations: ["PC-01"])
        let topics = TopicScheme(root: "playclock")!
        let clock = ManualHubClock()
        let publisher = RecordingPublisher(databasePath: db.path)
        let hub = try Hub(
            topics: topics, policy: HubPolicy(), store: try HubStore(path: db.path), publisher: publisher, clock: clock,
            logger: quietLogger, access: AccessPolicy(roles: ["tv": .viewer]))
        try await hub.startRunning()
        func stop(_ user: String) async {
            await hub.receive(InboundMessage(topic: topics.userRequest(user, "session/stop"), payload: JSONCoding.encode(["station": "PC-01"])))
        }
        for _ in 0..<500 { await stop("tv") }
        await stop("eve")  // another account: its own record
        let responses = publisher.messages.filter { $0.topic == "playclock/users/tv/response/session/stop" }
        #expect(responses.count == 500, "every request is still answered")
        var refusals = try HubStore(path: db.path).events().filter { $0.type == "command.rejected" }
        #expect(refusals.count == 2, "the first of each kind in full: \(refusals.map(\.data))")
        #expect(refusals.first?.data["by"] == "tv")
        #expect(refusals.last?.data["by"] == "eve")

        clock.advance(byMillis: 10_000)
        let summary = try await publisher.waitFor { $0.topic == "playclock/events" && $0.json?["data"]?["repeated"] != nil }
        #expect(summary.json?["data"]?["repeated"] == 499)
        #expect(summary.json?["data"]?["by"] == "tv")
        #expect(summary.json?["data"]?["code"] == "forbidden")
        #expect(summary.json?["data"]?["window_s"] == 10)
        refusals = try HubStore(path: db.path).events().filter { $0.type == "command.rejected" }
        #expect(refusals.count == 3)
        await hub.shutdown()
    }
}

