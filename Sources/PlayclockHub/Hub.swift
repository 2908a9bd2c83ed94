import Foundation
import Logging
import PlayclockCore

/// The hub's side of the broker connection. The MQTT client in production; an in-memory recorder in tests.
public protocol MessageTransport: Sendable {
    /// Returns false when the message could not be handed to the broker connection.
    @discardableResult
    func publish(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]?) -> Bool
    /// Subscriptions are remembered and renewed on every reconnect.
    func subscribe(_ filter: String, qos: Outbound.QoS)
    func unsubscribe(_ filter: String)
}

/// An inbound message, already copied out of the MQTT library.
public struct InboundMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    /// Delivered from the broker's retained store rather than published just now.
    public var retained: Bool
    public var responseTopic: String?
    public var correlationData: [UInt8]?

    public init(
        topic: String, payload: [UInt8], retained: Bool = false, responseTopic: String? = nil, correlationData: [UInt8]? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.retained = retained
        self.responseTopic = responseTopic
        self.correlationData = correlationData
    }
}

/// The actor that owns the core and executes its actions: store writes first (one transaction),
/// then publishes. It schedules the core's next deadline as a timer, never polls.
public actor Hub {
    private var core: HubCore
    private let store: HubStore
    private let publisher: any MessageTransport
    private let clock: any HubClock
    private let logger: Logger
    private let aliveInterval: Duration
    private let access: AccessPolicy

    private var plugSubscriptions: Set<String> = []
    private var timer: Task<Void, Never>?
    private var timerDeadline: Int64?
    private var aliveTask: Task<Void, Never>?

    public init(
        topics: TopicScheme, policy: HubPolicy, store: HubStore, publisher: any MessageTransport, clock: any HubClock,
        logger: Logger, access: AccessPolicy = AccessPolicy(), aliveInterval: Duration = .seconds(2)
    ) throws {
        self.core = HubCore(
            topics: topics, policy: policy, stations: try store.stations(), sessions: try store.runningSessions(),
            lastEventID: try store.lastEventID())
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.logger = logger
        self.aliveInterval = aliveInterval
        self.access = access
    }

    public var topics: TopicScheme { core.topics }

    /// Recovers sessions from the store (locking what ended while the hub was down) and starts
    /// the timers. Publishes that cannot go out yet are repeated by `connected()`.
    public func start() throws {
        let now = clock.now()
        let lastAlive = try store.lastAlive()
        core.beginChange()
        let actions = core.recover(lastAlive: lastAlive, now: now)
        do {
            try execute(actions)
            try store.recordAlive(now)
        } catch {
            core.rollbackChange()
            throw error
        }
        core.commitChange()
        let topics = core.topics
        publisher.subscribe(topics.heartbeatFilter, qos: .atMostOnce)
        publisher.subscribe(topics.agentFilter, qos: .atLeastOnce)
        publisher.subscribe(topics.requestFilter, qos: .atLeastOnce)
        publisher.subscribe(topics.userRequestFilter, qos: .atLeastOnce)
        syncPlugSubscriptions()
        logger.info("hub started", metadata: ["hub.stations": "\(core.stationIDs.count)", "hub.boot": "\(now.bootID)"])
        reschedule()
        let interval = aliveInterval
        aliveTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.recordAlive()
            }
        }
    }

    /// Called on every (re)connect to the broker: announce, then republish everything.
    public func connected() {
        logger.info("hub connected to broker")
        publisher.publish(topic: core.topics.hubStatus, payload: Array("online".utf8), qos: .atLeastOnce, retain: true, correlationData: nil)
        let started = ContinuousClock.now
        let actions = core.resync(now: clock.now())
        publishAll(actions)
        reschedule()
        // How long republishing everything took on the hub's side (the broker then delivers it).
        logger.info("hub republished its state", metadata: [
            "hub.messages": "\(actions.count)", "hub.resync_ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
        ])
    }

    /// Stops timers and records the last alive moment. The caller then announces `offline`.
    public func shutdown() {
        timer?.cancel()
        aliveTask?.cancel()
        recordAlive()
        publisher.publish(topic: core.topics.hubStatus, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true, correlationData: nil)
        logger.info("hub stopped")
    }

    // MARK: - Inbound

    public func receive(_ message: InboundMessage) {
        let now = clock.now()
        switch core.topics.classify(message.topic) {
        case .heartbeat where message.retained:
            // A retained heartbeat is stale by definition: it would fake presence on every reconnect.
            logger.debug("ignored retained heartbeat", metadata: ["mqtt.topic": "\(message.topic)"])
        case .heartbeat(let station):
            apply(station: station, topic: message.topic, now: now) { core in
                try core.heartbeat(station: station, payload: message.payload, now: now)
            }
        case .agent(let station):
            apply(station: station, topic: message.topic, now: now) { core in
                try core.agentPresence(station: station, payload: message.payload, now: now)
            }
        case .request(let verb):
            handleRequest(verb: verb, user: nil, message: message, now: now)
        case .userRequest(let user, let verb):
            handleRequest(verb: verb, user: user, message: message, now: now)
        case nil:
            core.beginChange()
            guard let actions = core.plugMessage(topic: message.topic, payload: message.payload, now: now) else {
                // No plug is bound to the topic: nothing was changed.
                core.commitChange()
                logger.debug("ignored message on unexpected topic", metadata: ["mqtt.topic": "\(message.topic)"])
                return
            }
            do {
                try execute(actions)
                core.commitChange()
                if !actions.isEmpty { reschedule() }
            } catch {
                core.rollbackChange()
                logger.error("store write failed", metadata: ["mqtt.topic": "\(message.topic)", "error": "\(error)"])
            }
        }
    }

    /// Subscribes to the topics of newly bound plugs and drops those of unbound ones.
    private func syncPlugSubscriptions() {
        let wanted = core.plugSubscriptions
        guard wanted != plugSubscriptions else { return }
        for filter in wanted.subtracting(plugSubscriptions) { publisher.subscribe(filter, qos: .atLeastOnce) }
        for filter in plugSubscriptions.subtracting(wanted) { publisher.unsubscribe(filter) }
        plugSubscriptions = wanted
    }

    private func apply(
        station: String, topic: String, now: Timestamp, _ body: (inout HubCore) throws -> [HubAction]
    ) {
        core.beginChange()
        do {
            let actions = try body(&core)
            try execute(actions)
            core.commitChange()
            // A heartbeat that changes nothing only moves its own offline deadline later, which
            // can never make the scheduled timer late (at worst it fires once with nothing due):
            // skip replacing the timer task on every heartbeat.
            if !actions.isEmpty { reschedule() }
        } catch let error as CommandError {
            core.rollbackChange()
            logger.debug("ignored station message", metadata: [
                "station.id": "\(station)", "mqtt.topic": "\(topic)", "error.code": "\(error.code)",
            ])
        } catch {
            core.rollbackChange()
            logger.error("store write failed", metadata: ["mqtt.topic": "\(topic)", "error": "\(error)"])
        }
    }

    /// `user` is the staff account whose own request topic carried the request (nil: the shared
    /// `R/hub/request/...` topic, which only `access.sharedTopicRole` may use).
    private func handleRequest(verb: String, user: String?, message: InboundMessage, now: Timestamp) {
        let result: Result<JSONValue, CommandError>
        var transaction: JSONValue?
        var decoded: Result<Request, RequestDecodeError>
        if message.retained {
            // A retained request would run again every time the hub (re)subscribes.
            decoded = .failure(RequestDecodeError(
                error: CommandError("retained_request", "requests must not be retained; it was not executed"), transaction: nil))
        } else {
            decoded = Request.decode(verb: verb, payload: message.payload, policy: core.policy)
        }
        if case .success(let request) = decoded, let refusal = access.refusal(of: request.command, verb: verb, user: user) {
            decoded = .failure(RequestDecodeError(error: refusal, transaction: request.transaction))
        }
        switch decoded {
        case .failure(let failure):
            transaction = failure.transaction
            result = .failure(failure.error)
            try? execute(core.rejected(verb: verb, error: failure.error, now: now, actor: user))
        case .success(let request):
            transaction = request.transaction
            core.beginChange()
            let outcome = core.handle(
                request.command, verb: verb, newSessionID: UUID().uuidString.lowercased(), now: now, actor: user)
            do {
                try execute(outcome.actions)
                core.commitChange()
                result = outcome.result
                syncPlugSubscriptions()
            } catch {
                core.rollbackChange()
                logger.error("store write failed", metadata: ["request.verb": "\(verb)", "error": "\(error)"])
                result = .failure(CommandError("storage_failed", "the hub could not store the change; nothing was changed"))
            }
            reschedule()
        }
        if case .failure(let error) = result {
            logger.info("request refused", metadata: [
                "request.verb": "\(verb)", "request.user": "\(user ?? "-")", "error.code": "\(error.code)",
            ])
        }
        respond(verb: verb, user: user, result: result, transaction: transaction, to: message)
    }

    private func respond(
        verb: String, user: String?, result: Result<JSONValue, CommandError>, transaction: JSONValue?, to message: InboundMessage
    ) {
        var body: [String: JSONValue] = [:]
        switch result {
        case .success(let data):
            body["status"] = "ok"
            body["data"] = data
        case .failure(let error):
            body["status"] = "error"
            body["error"] = ["code": .string(error.code), "message": .string(error.message)]
        }
        body["transaction"] = transaction ?? .null
        let payload = JSONCoding.encode(.object(body))
        let topic = user.map { core.topics.userResponse($0, verb) } ?? core.topics.response(verb)
        publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: false, correlationData: nil)
        if let responseTopic = message.responseTopic {
            publisher.publish(topic: responseTopic, payload: payload, qos: .atLeastOnce, retain: false,
                              correlationData: message.correlationData)
        }
    }

    // MARK: - Executing actions

    /// Store writes of one step in one transaction, then every publish. Throws (having published
    /// nothing) when the store refuses; the caller rolls the core's change back.
    private func execute(_ actions: [HubAction]) throws {
        let writes = actions.filter(\.isStoreWrite)
        if !writes.isEmpty { try store.apply(writes) }
        publishAll(actions)
    }

    private func publishAll(_ actions: [HubAction]) {
        for action in actions {
            switch action {
            case .publish(let out):
                publisher.publish(topic: out.topic, payload: out.payload, qos: out.qos, retain: out.retain, correlationData: nil)
            case .saveEvent(let event):
                publisher.publish(topic: core.topics.events, payload: JSONCoding.encode(HubCore.eventJSON(event)),
                                  qos: .atLeastOnce, retain: false, correlationData: nil)
                logger.info("event", metadata: [
                    "event.type": "\(event.type)", "station.id": "\(event.station?.value ?? "-")",
                    "session.id": "\(event.session ?? "-")",
                ])
            default:
                break
            }
        }
    }

    // MARK: - Timers

    private func reschedule() {
        let deadline = core.nextDeadline()
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else { return }
        let delay = max(0, deadline - clock.now().monoNanos)
        timer = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.timerFired()
        }
    }

    private func timerFired() {
        timerDeadline = nil
        core.beginChange()
        do {
            try execute(core.tick(now: clock.now()))
            core.commitChange()
            reschedule()
        } catch {
            // Nothing was published; keep the previous state and try again shortly.
            core.rollbackChange()
            logger.error("store write failed on timer; retrying", metadata: ["error": "\(error)"])
            timer = Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(500))
                guard !Task.isCancelled else { return }
                await self?.timerFired()
            }
            timerDeadline = nil
        }
    }

    private func recordAlive() {
        do {
            try store.recordAlive(clock.now())
        } catch {
            logger.error("could not record hub alive time", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Introspection for tests and tools

    /// Answers as soon as the actor is free: the systemd watchdog is fed through it.
    public func ping() {}

    public func state(of station: StationID) -> JSONValue? { core.stationState(station, now: clock.now()) }
}
