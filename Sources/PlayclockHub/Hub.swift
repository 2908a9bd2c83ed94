import Foundation
import Logging
import PlayclockAuth
import PlayclockContract
import PlayclockCore

/// The hub's side of the broker connection. The MQTT client in production; an in-memory recorder in tests.
public protocol MessageTransport: Sendable {
    /// Returns false when the message could not be handed to the broker connection.
    @discardableResult
    func publish(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]?) -> Bool
    /// Subscriptions are remembered and renewed on every reconnect.
    func subscribe(_ filter: String, qos: Outbound.QoS, options: SubscriptionOptions)
    func unsubscribe(_ filter: String)
    /// What the connection's inbound queue did: heartbeats shed under a flood, entries waiting.
    var inboundStatistics: InboundStatistics { get }
}

extension MessageTransport {
    public var inboundStatistics: InboundStatistics { InboundStatistics() }
}

/// The inbound side of the broker connection, for `/metrics`.
public struct InboundStatistics: Sendable, Equatable {
    /// Redundant heartbeats shed since the start (a newer one on a topic that already had one
    /// waiting, or past the bound on waiting heartbeats). Nothing else is ever shed.
    public var shed = 0
    /// Messages and connection events waiting for the hub now.
    public var queued = 0
    /// Times reading from the broker paused because requests and reports were waiting.
    public var backpressureEvents = 0

    public init(shed: Int = 0, queued: Int = 0, backpressureEvents: Int = 0) {
        self.shed = shed
        self.queued = queued
        self.backpressureEvents = backpressureEvents
    }
}

/// How the hub wants the broker (and its client) to treat a subscription.
public struct SubscriptionOptions: Sendable, Hashable {
    /// MQTT v5 No Local: the broker never sends the hub its own publishes on these topics, so
    /// nothing the hub publishes can come back to it as a request.
    public var noLocal = false
    /// MQTT v5 Retain As Published: the retain flag is kept on live messages, so a request
    /// published with retain is seen as retained (and refused) even while the hub is connected.
    public var retainAsPublished = false
    /// While a message on a topic is waiting to be handled, newer ones on the same topic may be
    /// shed (and counted): for heartbeats, so a flood of them never crowds out anything else.
    public var coalescing = false

    public init(noLocal: Bool = false, retainAsPublished: Bool = false, coalescing: Bool = false) {
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.coalescing = coalescing
    }

    public static let plain = SubscriptionOptions()
    /// Staff requests: never our own publishes, and the real retain flag.
    public static let requests = SubscriptionOptions(noLocal: true, retainAsPublished: true)
    /// Agent heartbeats: the newest redundant one per station may be shed under a flood.
    public static let heartbeats = SubscriptionOptions(coalescing: true)
    /// Agent reports: the real retain flag (a retained report is ignored), never our own publishes.
    public static let agentReports = SubscriptionOptions(noLocal: true, retainAsPublished: true)
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
///
/// `start()` recovers; `run()` is the hub's long-running work (the timer loop and the alive
/// recorder, as child tasks) and is run by `HubService` until shutdown; `shutdown()` stops it.
public actor Hub {
    private var core: HubCore
    private let store: HubStore
    private let publisher: any MessageTransport
    private let clock: any HubClock
    private let logger: Logger
    private let aliveInterval: Duration
    private let access: AccessPolicy
    private let metrics: HubMetrics
    /// The venue policy the hub runs with.
    public nonisolated let policy: HubPolicy
    /// Every retained state and stored event, for live watchers (the dashboard).
    public nonisolated let feed: LiveFeed
    /// Whether the broker connection is up, as last reported by the client.
    public private(set) var brokerConnected = false

    private var plugSubscriptions: Set<String> = []
    /// The core's `plugIndexGeneration` that `plugSubscriptions` was last brought in line with.
    private var syncedPlugIndexGeneration = -1
    /// The deadline last published to the timer loop (nil: none, or one that must be published
    /// again by the next `reschedule()`, as after a retry was scheduled).
    private var timerDeadline: Int64?
    /// Deadline changes for the timer loop in `run()`: only the newest one matters.
    private nonisolated let deadlines: AsyncStream<Int64?>
    private nonisolated let deadlineChanges: AsyncStream<Int64?>.Continuation
    /// The alive recorder's first deadline, taken by `start()`.
    private var firstAliveMonoNanos: Int64?
    /// Set by `shutdown()`: the timer loop and the alive recorder act no more.
    private var stopped = false
    /// How long events are kept, and when (monotonic) the next pruning pass is due.
    private let retention: HubConfiguration.EventRetention
    private var nextPruneMonoNanos: Int64 = .min
    static let pruneInterval: Duration = .seconds(600)
    /// How long the answer of a money request is kept for retries with its `transaction` id.
    static let rememberedRequestDays: Int64 = 7
    /// Agent reports ignored since they were last logged, by reason (a fixed set of labels).
    private var ignoredReports: [String: Int] = [:]
    private var nextIgnoredReportLogMonoNanos: Int64 = .min
    static let ignoredReportLogInterval: Duration = .seconds(60)
    /// Station sign-ins whose PIN is being checked, by station: one at a time per station.
    private var pendingSignIns: [String: String] = [:]
    /// When each station last tried to sign in (monotonic): at most one try per `signInInterval`.
    private var lastSignInMonoNanos: [String: Int64] = [:]
    static let signInInterval: Duration = .seconds(1)
    /// PINs to check, for the checker in `run()` (bcrypt is slow: never on the actor).
    private nonisolated let pinChecks: AsyncStream<PINCheck>
    private nonisolated let pinCheckQueue: AsyncStream<PINCheck>.Continuation

    struct PINCheck: Sendable {
        var station: String
        var member: String
        var pin: String
        var hash: String
        var request: String
    }

    public init(
        topics: TopicScheme, policy: HubPolicy, store: HubStore, publisher: any MessageTransport, clock: any HubClock,
        logger: Logger, access: AccessPolicy = AccessPolicy(), aliveInterval: Duration = .seconds(2),
        metrics: HubMetrics = HubMetrics(), feed: LiveFeed = LiveFeed(),
        retention: HubConfiguration.EventRetention = HubConfiguration.EventRetention(), pricing seed: PricingCatalog? = nil,
        counter: CounterSettings = CounterSettings()
    ) throws {
        let catalog = try store.loadPricing(seed: seed, atWallMillis: clock.now().wallMillis)
        let money = MoneyState(
            catalog: catalog, members: try store.members(), lastSaleID: try store.lastSaleID(), lastLedgerID: try store.lastLedgerID(),
            offsets: try TimeZoneOffsets(identifier: catalog?.timezone ?? "UTC"), products: try store.products(),
            openShifts: try store.openShifts(), lastShiftID: try store.lastShiftID(), counter: counter)
        self.core = HubCore(
            topics: topics, policy: policy, stations: try store.stations(), sessions: try store.runningSessions(),
            lastEventID: try store.lastEventID(), money: money)
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.logger = logger
        self.aliveInterval = aliveInterval
        self.access = access
        self.metrics = metrics
        self.policy = policy
        self.feed = feed
        self.retention = retention
        (deadlines, deadlineChanges) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        // One pending check per station (`pendingSignIns`) bounds this queue by the station count.
        (pinChecks, pinCheckQueue) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    public var topics: TopicScheme { core.topics }

    /// The broker connection's inbound queue (read without waiting for the actor).
    public nonisolated var inboundStatistics: InboundStatistics { publisher.inboundStatistics }

    /// Recovers sessions from the store (locking what ended while the hub was down) and takes
    /// the timers' first deadlines; `run()` then keeps time. Publishes that cannot go out yet are
    /// repeated by `connected()`.
    public func start() throws {
        let now = clock.now()
        let lastAlive = try store.lastAlive()
        try transact { core in core.recover(lastAlive: lastAlive, now: now) }
        try store.recordAlive(now)
        let topics = core.topics
        publisher.subscribe(topics.heartbeatFilter, qos: .atMostOnce, options: .heartbeats)
        publisher.subscribe(topics.agentFilter, qos: .atLeastOnce, options: .plain)
        publisher.subscribe(topics.agentReportFilter, qos: .atLeastOnce, options: .agentReports)
        publisher.subscribe(topics.signInFilter, qos: .atLeastOnce, options: .agentReports)
        publisher.subscribe(topics.requestFilter, qos: .atLeastOnce, options: .requests)
        publisher.subscribe(topics.userRequestFilter, qos: .atLeastOnce, options: .requests)
        syncPlugSubscriptions()
        logger.info("hub started", metadata: ["hub.stations": "\(core.stationIDs.count)", "hub.boot": "\(now.bootID)"])
        reschedule()
        // Deadlines are absolute and taken now, so none is lost however late `run()` starts.
        firstAliveMonoNanos = clock.now().monoNanos + Int64(aliveInterval / .nanoseconds(1))
    }

    /// The hub's long-running work, after `start()`: the timer loop and the alive recorder, as
    /// child tasks of this call. Returns when the task running it is cancelled or `shutdown()`
    /// is called. Call it once.
    public nonisolated func run() async {
        let firstAlive = await firstAliveMonoNanos
        await withDiscardingTaskGroup { group in
            group.addTask { await self.recordAliveEveryInterval(from: firstAlive) }
            group.addTask { await self.checkPINs() }
            // Ends when the deadline stream does: at shutdown, or when this task is cancelled.
            await runTimers()
            group.cancelAll()
        }
    }

    /// Called on every (re)connect to the broker: announce, then republish everything.
    public func connected() {
        logger.info("hub connected to broker")
        brokerConnected = true
        feed.send(.broker(connected: true))
        send(topic: core.topics.hubStatus, payload: Array("online".utf8), qos: .atLeastOnce, retain: true)
        let started = ContinuousClock.now
        let actions = core.resync(now: clock.now())
        publishAll(actions)
        reschedule()
        // How long republishing everything took on the hub's side (the broker then delivers it).
        logger.info("hub republished its state", metadata: [
            "hub.messages": "\(actions.count)", "hub.resync_ms": "\((ContinuousClock.now - started) / .milliseconds(1))",
        ])
    }

    /// Called when the broker connection drops (the client keeps reconnecting by itself).
    public func disconnected() {
        brokerConnected = false
        feed.send(.broker(connected: false))
        // Heartbeats cannot arrive now: no station goes offline for the silence of the broker.
        core.brokerLost()
        reschedule()
    }

    /// Stops timers and records the last alive moment. The caller then announces `offline`.
    public func shutdown() {
        feed.finishAll()
        stopped = true
        deadlineChanges.finish()  // `run()` ends
        pinCheckQueue.finish()
        recordAlive()
        send(topic: core.topics.hubStatus, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
        logger.info("hub stopped")
    }

    // MARK: - Inbound

    public func receive(_ message: InboundMessage) {
        let now = clock.now()
        metrics.messagesIn.increment()
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
        case .agentReport(let station):
            agentReport(station: station, message: message, now: now)
        case .signIn(let station):
            signInMessage(station: station, message: message, now: now)
        case .request(let verb):
            handleRequest(verb: verb, user: nil, message: message, now: now)
        case .userRequest(let user, let verb):
            handleRequest(verb: verb, user: user, message: message, now: now)
        case nil:
            let implausibleBefore = core.implausiblePlugReadings
            defer {
                let ignored = core.implausiblePlugReadings - implausibleBefore
                if ignored > 0 {
                    metrics.plugReadingsIgnored.increment(by: ignored)
                    logger.debug("ignored implausible plug reading", metadata: ["mqtt.topic": "\(message.topic)"])
                }
            }
            do {
                let bound = try transact { core in
                    let actions = core.plugMessage(topic: message.topic, payload: message.payload, now: now)
                    return (value: actions != nil, actions: actions ?? [])
                }
                if !bound.value {
                    // No plug is bound to the topic: nothing was changed.
                    logger.debug("ignored message on unexpected topic", metadata: ["mqtt.topic": "\(message.topic)"])
                } else if !bound.actions.isEmpty {
                    reschedule()
                }
            } catch {
                logger.error("store write failed", metadata: ["mqtt.topic": "\(message.topic)", "error": "\(error)"])
            }
        }
    }

    /// An agent's report: stored as an event, or ignored (counted on `/metrics` and logged at
    /// debug level as counts, at most once per `ignoredReportLogInterval`).
    private func agentReport(station: String, message: InboundMessage, now: Timestamp) {
        let outcome: AgentReportOutcome
        if message.retained {
            // A retained report would come back on every reconnect: it reports nothing new.
            outcome = .ignored(.retained)
        } else {
            do {
                outcome = try transact { core in
                    let outcome = core.agentReport(station: station, payload: message.payload, now: now)
                    return (value: outcome, actions: outcome.actions)
                }.value
            } catch {
                logger.error("store write failed", metadata: ["mqtt.topic": "\(message.topic)", "error": "\(error)"])
                return
            }
        }
        switch outcome {
        case .stored: break
        case .counted: metrics.recordIgnoredAgentReport("repeated_tamper")
        case .ignored(let reason):
            metrics.recordIgnoredAgentReport(reason.rawValue)
            ignoredReports[reason.rawValue, default: 0] += 1
            logIgnoredReports(now: now)
        }
    }

    /// Logs the agent reports ignored since the last time, if any and if that was long enough ago.
    private func logIgnoredReports(now: Timestamp) {
        guard !ignoredReports.isEmpty, now.monoNanos >= nextIgnoredReportLogMonoNanos else { return }
        var metadata: Logger.Metadata = [:]
        for (reason, count) in ignoredReports { metadata["reports.\(reason)"] = "\(count)" }
        logger.debug("ignored agent reports", metadata: metadata)
        ignoredReports = [:]
        nextIgnoredReportLogMonoNanos = now.monoNanos + Int64(Self.ignoredReportLogInterval / .nanoseconds(1))
    }

    /// Subscribes to the topics of newly bound plugs and drops those of unbound ones.
    private func syncPlugSubscriptions() {
        // Only a station edit rebuilds the plug index: every other request skips the O(plugs) set.
        guard core.plugIndexGeneration != syncedPlugIndexGeneration else { return }
        syncedPlugIndexGeneration = core.plugIndexGeneration
        let wanted = core.plugSubscriptions
        guard wanted != plugSubscriptions else { return }
        for filter in wanted.subtracting(plugSubscriptions) { publisher.subscribe(filter, qos: .atLeastOnce, options: .plain) }
        for filter in plugSubscriptions.subtracting(wanted) { publisher.unsubscribe(filter) }
        plugSubscriptions = wanted
    }

    private func apply(
        station: String, topic: String, now: Timestamp, _ body: (inout HubCore) throws -> [HubAction]
    ) {
        do {
            let actions = try transact(body)
            // A heartbeat that changes nothing only moves its own offline deadline later, which
            // can never make the scheduled timer late (at worst it fires once with nothing due):
            // skip replacing the timer task on every heartbeat.
            if !actions.isEmpty { reschedule() }
        } catch let error as CommandError {
            logger.debug("ignored station message", metadata: [
                "station.id": "\(station)", "mqtt.topic": "\(topic)", "error.code": "\(error.code)",
            ])
        } catch {
            logger.error("store write failed", metadata: ["mqtt.topic": "\(topic)", "error": "\(error)"])
        }
    }

    /// A request on an MQTT request topic: run it, then answer on the response topic(s).
    /// `user` is the staff account whose own request topic carried the request (nil: the shared
    /// `R/hub/request/...` topic, which only `access.sharedTopicRole` may use).
    ///
    /// Refused before anything runs: a retained request (it would run again on every
    /// resubscribe; the hub also clears it from the broker), and one naming a Response Topic the
    /// requester could not read itself (the hub would publish there with its own rights).
    private func handleRequest(verb: String, user: String?, message: InboundMessage, now: Timestamp) {
        if message.retained, message.payload.isEmpty {
            // The broker forwarding the deletion of a retained request: nothing was asked.
            logger.debug("ignored cleared retained request", metadata: ["mqtt.topic": "\(message.topic)"])
            return
        }
        var refusal: CommandError?
        var replyTopic = message.responseTopic
        if message.retained {
            refusal = CommandError(.retainedRequest, "requests must not be retained; it was not executed and was cleared")
            // An empty retained message deletes it, so no later subscriber runs it again.
            send(topic: message.topic, payload: [], qos: .atLeastOnce, retain: true)
        } else if let topic = replyTopic, !core.topics.isReplyTopic(topic, forUser: user) {
            replyTopic = nil
            let allowed = user.map { core.topics.userResponse($0, "...") } ?? core.topics.response("...")
            refusal = CommandError(.invalidResponseTopic, "the hub answers only under \(allowed); the request was not executed")
        }
        let outcome = run(verb: verb, payload: message.payload, user: user, refusal: refusal, via: "mqtt", now: now)
        respond(verb: verb, user: user, outcome: outcome, replyTopic: replyTopic, correlationData: message.correlationData)
    }

    /// A staff request from another front end (the dashboard), by a signed-in account: the same
    /// decoding, role check, core handler, store and publishes as a request over MQTT.
    public func request(verb: String, payload: [UInt8], user: String, via source: String) -> RequestOutcome {
        run(verb: verb, payload: payload, user: user, refusal: nil, via: source, now: clock.now())
    }

    /// The one code path of every staff request: decode, check the account's role, apply to the
    /// core, store, publish. A refusal changes nothing but the audit log (`command.rejected`,
    /// where repeats of the same refusal are counted into one summary per window).
    /// `refusal`, when given, refuses the request whatever it says (its transaction is still echoed).
    private func run(
        verb: String, payload: [UInt8], user: String?, refusal: CommandError?, via source: String, now: Timestamp
    ) -> RequestOutcome {
        let started = ContinuousClock.now
        let result: Result<JSONValue, CommandError>
        var transaction: JSONValue?
        var recordedRefusal = false
        var decoded = Request.decode(verb: verb, payload: payload, policy: core.policy)
        if let refusal {
            let echoed: JSONValue? = switch decoded {
            case .success(let request): request.transaction
            case .failure(let failure): failure.transaction
            }
            decoded = .failure(RequestDecodeError(error: refusal, transaction: echoed))
        }
        if case .success(let request) = decoded, let refusal = access.refusal(of: request.command, verb: verb, user: user) {
            decoded = .failure(RequestDecodeError(error: refusal, transaction: request.transaction))
        }
        switch decoded {
        case .failure(let failure):
            transaction = failure.transaction
            result = .failure(failure.error)
            do {
                let actions = try transact { core in core.rejected(verb: verb, error: failure.error, now: now, actor: user) }
                recordedRefusal = !actions.isEmpty
            } catch {
                logger.error("store write failed", metadata: ["request.verb": "\(verb)", "error": "\(error)"])
            }
            reschedule()
        case .success(let request):
            transaction = request.transaction
            // A session's id if the command starts one, an order's command id if it sends one.
            let newID = UUID().uuidString.lowercased()
            do {
                let command = Self.hashingPINs(request.command)
                let memory = try idempotency(of: command, verb: verb, transaction: request.transaction, user: user)
                if case .answered(let replay) = memory {
                    metrics.recordCommand(verb: verb, via: source, refused: (try? replay.result.get()) == nil,
                                          nanoseconds: Int64((ContinuousClock.now - started) / .nanoseconds(1)))
                    // The remembered answer is the core's; a closed shift's Z report is added again.
                    return RequestOutcome(result: try withHistory(replay.result, command: command), transaction: replay.transaction)
                }
                let context = try commandContext(for: command)
                let outcome = try transact { core in
                    var outcome = core.handle(command, verb: verb, newSessionID: newID, now: now, actor: user, context: context)
                    if case .remember(let key) = memory, case .success = outcome.result {
                        let response = RequestOutcome(result: outcome.result, transaction: request.transaction).response.payload
                        outcome.actions.append(.rememberRequest(RememberedRequest(
                            key: key, verb: verb, body: command.idempotencyBody, response: response, atWallMillis: now.wallMillis)))
                    }
                    return (value: outcome.result, actions: outcome.actions)
                }
                result = try withHistory(outcome.value, command: command)
                if case .failure = outcome.value { recordedRefusal = outcome.actions.contains(where: \.isStoreWrite) }
                syncPlugSubscriptions()
            } catch let error as CommandError {
                // Refused before the core ran (a reused or malformed `transaction`): audited like
                // every other refusal.
                result = .failure(error)
                do {
                    let actions = try transact { core in core.rejected(verb: verb, error: error, now: now, actor: user) }
                    recordedRefusal = !actions.isEmpty
                } catch {
                    logger.error("store write failed", metadata: ["request.verb": "\(verb)", "error": "\(error)"])
                }
            } catch {
                logger.error("store write failed", metadata: ["request.verb": "\(verb)", "error": "\(error)"])
                result = .failure(CommandError(.storageFailed, "the hub could not store the change; nothing was changed"))
            }
            reschedule()
        }
        let refused = (try? result.get()) == nil
        if recordedRefusal, case .failure(let error) = result {
            // Repeats of a refusal are counted, not logged: one line per window at most.
            logger.info("request refused", metadata: [
                "request.verb": "\(verb)", "request.user": "\(user ?? "-")", "request.source": "\(source)",
                "error.code": "\(error.code)",
            ])
        }
        metrics.recordCommand(verb: verb, via: source, refused: refused,
                              nanoseconds: Int64((ContinuousClock.now - started) / .nanoseconds(1)))
        return RequestOutcome(result: result, transaction: transaction)
    }

    /// Answers on the account's (or the shared) response topic, and on the request's own MQTT v5
    /// Response Topic when it was allowed (`TopicScheme.isReplyTopic`).
    private func respond(verb: String, user: String?, outcome: RequestOutcome, replyTopic: String?, correlationData: [UInt8]?) {
        let payload = JSONCoding.encode(outcome.responseJSON)
        let topic = user.map { core.topics.userResponse($0, verb) } ?? core.topics.response(verb)
        send(topic: topic, payload: payload, qos: .atLeastOnce, retain: false)
        if let replyTopic, replyTopic != topic {
            send(topic: replyTopic, payload: payload, qos: .atLeastOnce, retain: false, correlationData: correlationData)
        }
    }

    // MARK: - Money requests

    /// What a money request's `transaction` id means here.
    enum RequestMemory {
        /// Not a money request, or no usable `transaction`: run it as it is.
        case none
        /// Run it, and keep its answer under this key.
        case remember(String)
        /// Answered before: this is the first answer, and nothing runs again.
        case answered(RequestOutcome)
    }

    /// Money requests with a `transaction` id (a string or whole number, at most 64 characters)
    /// are idempotent per account: a retry of the same request gets the first answer back; the
    /// same id for a different request is refused with `transaction_conflict`.
    private func idempotency(of command: Command, verb: String, transaction: JSONValue?, user: String?) throws -> RequestMemory {
        guard command.isIdempotentByTransaction, let transaction else { return .none }
        let id: String
        switch transaction {
        case .string(let s) where !s.isEmpty && s.utf8.count <= 64: id = s
        case .int(let n): id = String(n)
        default:
            throw CommandError(.invalidRequest, "\"transaction\" of a money request must be a string of 1-64 characters or a whole number")
        }
        let key = "\(user ?? "-")\u{1F}\(id)"
        guard let remembered = try store.rememberedRequest(key: key) else { return .remember(key) }
        guard remembered.verb == verb, remembered.body == command.idempotencyBody else {
            throw CommandError(.transactionConflict,
                "transaction \(id) was already used for another request (\(remembered.verb)); use a new id for a new request")
        }
        let response = try ResponseMessage(payload: remembered.response)
        logger.debug("replayed money request", metadata: ["request.verb": "\(verb)"])
        return .answered(RequestOutcome(result: response.result, transaction: transaction))
    }

    /// PINs are hashed before the core sees a command: only hashes are stored.
    static func hashingPINs(_ command: Command) -> Command {
        switch command {
        case .memberSetPIN(let member, .plain(let pin)):
            return .memberSetPIN(member, pin: .hashed(PINHashing.hash(pin)))
        case .memberAdd(var new):
            if case .plain(let pin)? = new.pin { new.pin = .hashed(PINHashing.hash(pin)) }
            return .memberAdd(new)
        default:
            return command
        }
    }

    /// The sale a refund or void names, read from the store (the core keeps no sales history).
    private func commandContext(for command: Command) throws -> CommandContext {
        switch command {
        case .saleRefund(let sale, _, _), .saleVoid(let sale, _): return try store.sale(id: sale)
        case .shiftGet(let id?): return CommandContext(shift: try store.shift(id: id))
        default: return CommandContext()
        }
    }

    /// `member/get` answers with the member's newest sales too.
    /// A closed or read shift answers with its report (the stored Z report, or the X report now).
    private func withHistory(_ result: Result<JSONValue, CommandError>, command: Command) throws -> Result<JSONValue, CommandError> {
        guard case .success(.object(var data)) = result else { return result }
        switch command {
        case .memberGet(let id):
            data["history"] = .array(try store.memberHistory(id, limit: 20))
        case .shiftGet, .shiftClose:
            guard case .int(let shift)? = data["shift"] else { return result }
            data["report"] = try store.report(ofShift: shift) ?? .null
        default:
            return result
        }
        return .success(.object(data))
    }

    // MARK: - Sign-in at stations

    /// A sign-in or sign-out from a station's lock screen. The broker's ACL lets only the station's
    /// own agent account publish here. Answered on `R/stations/<id>/signin/result` unless the
    /// message cannot be answered at all (retained, not a sign-in, another station's id).
    private func signInMessage(station raw: String, message: InboundMessage, now: Timestamp) {
        guard !message.retained, message.payload.count <= 1024, let id = StationID(raw),
            let request = try? SignInRequest(payload: message.payload), request.station == id
        else {
            metrics.recordIgnoredAgentReport("sign_in")
            return
        }
        guard pendingSignIns[raw] == nil else {
            answerSignIn(id, request: request.request, result: .failure(CommandError(.tooManyAttempts, "one sign-in at a time: try again in a moment")))
            return
        }
        if case .signIn = request.action {
            // PIN guessing is slowed per station (and stopped per member by the lock-out).
            let last = lastSignInMonoNanos[raw] ?? .min
            guard last == .min || now.monoNanos - last >= Int64(Self.signInInterval / .nanoseconds(1)) else {
                answerSignIn(id, request: request.request, result: .failure(CommandError(.tooManyAttempts, "one sign-in a second: try again in a moment")))
                return
            }
            lastSignInMonoNanos[raw] = now.monoNanos
        }
        switch request.action {
        case .signOut:
            finishSignIn(id, request: request.request) { core in core.signOut(station: raw, now: now) }
        case .signIn(let member, let pin):
            switch core.signInCandidate(station: raw, member: member, now: now) {
            case .success(let hash):
                pendingSignIns[raw] = request.request
                pinCheckQueue.yield(PINCheck(station: raw, member: member, pin: pin, hash: hash, request: request.request))
            case .failure:
                // The same checks again, inside a change, so the refusal is stored as an event.
                finishSignIn(id, request: request.request) { core in
                    core.signIn(station: raw, member: member, pinMatches: false, sessionID: UUID().uuidString.lowercased(), now: now)
                }
            }
        }
    }

    /// The PIN checker: one bcrypt comparison at a time, off the actor.
    private nonisolated func checkPINs() async {
        for await check in pinChecks {
            let matches = PINHashing.verify(check.pin, hash: check.hash)
            await pinChecked(check, matches: matches)
        }
    }

    private func pinChecked(_ check: PINCheck, matches: Bool) {
        guard !stopped else { return }
        pendingSignIns[check.station] = nil
        guard let id = StationID(check.station) else { return }
        let now = clock.now()
        finishSignIn(id, request: check.request) { core in
            core.signIn(station: check.station, member: check.member, pinMatches: matches, sessionID: UUID().uuidString.lowercased(), now: now)
        }
    }

    private func finishSignIn(_ id: StationID, request: String, _ step: (inout HubCore) -> CommandOutcome) {
        let result: Result<JSONValue, CommandError>
        do {
            result = try transact { core in
                let outcome = step(&core)
                return (value: outcome.result, actions: outcome.actions)
            }.value
        } catch {
            logger.error("store write failed", metadata: ["station.id": "\(id)", "error": "\(error)"])
            result = .failure(CommandError(.storageFailed, "the hub could not store the sign-in; try again"))
        }
        reschedule()
        answerSignIn(id, request: request, result: result)
    }

    private func answerSignIn(_ id: StationID, request: String, result: Result<JSONValue, CommandError>) {
        var answer = SignInResult(station: id, request: request)
        switch result {
        case .success: answer.member = core.signedInMember(at: id) ?? Self.member(in: result)
        case .failure(let error): answer.error = SignInResult.Failure(code: error.code, message: error.message)
        }
        send(topic: core.topics.signInResult(id), payload: answer.payload, qos: .atLeastOnce, retain: false)
    }

    private static func member(in result: Result<JSONValue, CommandError>) -> MemberSummary? {
        guard case .success(let data) = result, let m = data.objectValue?["member"] else { return nil }
        return try? MemberSummary(json: m)
    }

    // MARK: - Executing actions

    /// One step of the hub: applies `step` to the core inside a change, then carries out its
    /// actions (store writes in one transaction, then every publish). If the step throws or the
    /// store refuses, the core is put back exactly as it was, nothing is published, and the
    /// error is rethrown. Every change to the core goes through here.
    @discardableResult
    private func transact<Value>(
        _ step: (inout HubCore) throws -> (value: Value, actions: [HubAction])
    ) throws -> (value: Value, actions: [HubAction]) {
        core.beginChange()
        do {
            let result = try step(&core)
            try execute(result.actions)
            core.commitChange()
            return result
        } catch {
            core.rollbackChange()
            throw error
        }
    }

    /// `transact` for a step that only returns actions.
    @discardableResult
    private func transact(_ step: (inout HubCore) throws -> [HubAction]) throws -> [HubAction] {
        try transact { core in (value: (), actions: try step(&core)) }.actions
    }

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
                send(topic: out.topic, payload: out.payload, qos: out.qos, retain: out.retain)
                if out.retain, let station = core.topics.stationOfState(out.topic) {
                    feed.send(out.payload.isEmpty ? .removed(station: station) : .state(station: station, json: out.payload))
                }
            case .saveEvent(let event):
                let json = JSONCoding.encode(HubCore.eventJSON(event))
                send(topic: core.topics.events, payload: json, qos: .atLeastOnce, retain: false)
                feed.send(.event(json: json))
                logger.info("event", metadata: [
                    "event.type": "\(event.type)", "station.id": "\(event.station?.value ?? "-")",
                    "session.id": "\(event.session ?? "-")",
                ])
            default:
                break
            }
        }
    }

    private func send(topic: String, payload: [UInt8], qos: Outbound.QoS, retain: Bool, correlationData: [UInt8]? = nil) {
        if publisher.publish(topic: topic, payload: payload, qos: qos, retain: retain, correlationData: correlationData) {
            metrics.messagesOut.increment()
        } else {
            metrics.publishFailures.increment()
        }
    }

    // MARK: - Timers

    /// Publishes the core's next deadline to the timer loop when it changed (nil: none).
    private func reschedule() {
        let deadline = core.nextDeadline()
        guard deadline != timerDeadline else { return }
        timerDeadline = deadline
        deadlineChanges.yield(deadline)
    }

    /// The timer loop: sleeps until the newest published deadline, then fires. The sleeper is a
    /// child task of a group of its own, cancelled as soon as the deadline moves.
    private nonisolated func runTimers() async {
        let clock = self.clock
        var changes = deadlines.makeAsyncIterator()
        var next = await changes.next()
        while let published = next {
            guard let deadline = published else {
                next = await changes.next()
                continue
            }
            next = await withDiscardingTaskGroup { group in
                group.addTask {
                    do { try await clock.sleep(untilMonoNanos: deadline) } catch { return }
                    await self.timerFired()
                }
                let moved = await changes.next()
                group.cancelAll()
                return moved
            }
        }
    }

    private func timerFired() {
        guard !stopped else { return }
        timerDeadline = nil
        let now = clock.now()
        do {
            try transact { core in core.tick(now: now) }
            reschedule()
        } catch {
            // Nothing was published; keep the previous state and try again shortly.
            logger.error("store write failed on timer; retrying", metadata: ["error": "\(error)"])
            deadlineChanges.yield(clock.now().monoNanos + 500_000_000)
            // Any change before the retry is due replaces it with the core's own deadline.
            timerDeadline = nil
        }
    }

    /// The alive recorder: absolute deadlines `aliveInterval` apart, so none is lost however late
    /// one wakes (a late one is followed at once by the next).
    private nonisolated func recordAliveEveryInterval(from first: Int64?) async {
        let clock = self.clock
        let interval = Int64(aliveInterval / .nanoseconds(1))
        var next = first ?? clock.now().monoNanos + interval
        while !Task.isCancelled {
            do { try await clock.sleep(untilMonoNanos: next) } catch { return }
            next = max(next + interval, clock.now().monoNanos)
            await aliveTick()
        }
    }

    private func aliveTick() {
        guard !stopped else { return }
        recordAlive()
        logIgnoredReports(now: clock.now())
    }

    private func recordAlive() {
        let now = clock.now()
        do {
            try store.recordAlive(now)
        } catch {
            logger.error("could not record hub alive time", metadata: ["error": "\(error)"])
        }
        if now.monoNanos >= nextPruneMonoNanos { pruneEvents(now: now) }
    }

    /// Deletes events past their retention (`events.retention_days`, `events.max_rows`), a bounded
    /// batch at a time: when a pass hit its budget the next one runs at the next alive tick,
    /// otherwise after `pruneInterval`. Stations and sessions are never touched.
    private func pruneEvents(now: Timestamp) {
        let budget = 20_000
        do {
            let deleted = try store.pruneEvents(
                olderThanWallMillis: retention.cutoffWallMillis(now: now.wallMillis), keepingAtMost: retention.maxRows, budget: budget)
            // Remembered answers of money requests serve retries (a reconnect, a double click);
            // a week later an id is free again.
            try store.pruneRememberedRequests(olderThanWallMillis: now.wallMillis - Self.rememberedRequestDays * 86_400_000)
            let wait = deleted >= budget ? aliveInterval : Self.pruneInterval
            nextPruneMonoNanos = now.monoNanos + Int64(wait / .nanoseconds(1))
            if deleted > 0 { logger.info("old events deleted", metadata: ["events.deleted": "\(deleted)"]) }
        } catch {
            nextPruneMonoNanos = now.monoNanos + Int64(Self.pruneInterval / .nanoseconds(1))
            logger.error("could not delete old events", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Introspection for tests and tools

    /// Answers as soon as the actor is free: the systemd watchdog is fed through it.
    public func ping() {}

    public func state(of station: StationID) -> JSONValue? { core.stationState(station, now: clock.now()) }

    // MARK: - Views for front ends

    /// Every station's current state, sorted by id.
    public func stations() -> [JSONValue] { stations(at: clock.now()) }

    private func stations(at now: Timestamp) -> [JSONValue] {
        core.stationIDs.compactMap { core.stationState($0, now: now) }
    }

    /// A consistent start for a live watcher: the stations as they are now and a stream of every
    /// change after that moment (taken together on the actor, so nothing falls in between).
    public func watch() -> (stations: [JSONValue], serverTimeMillis: Int64, changes: AsyncStream<LiveItem>) {
        let changes = feed.watch()
        let now = clock.now()
        return (stations(at: now), now.wallMillis, changes)
    }

    /// The newest stored events first, optionally of one station.
    public func recentEvents(station: StationID?, limit: Int) throws -> [JSONValue] {
        try store.recentEvents(station: station, limit: limit).map(HubCore.eventJSON)
    }

    /// Counts for health checks and metrics.
    public func summary() -> HubSummary {
        let now = clock.now()
        var summary = HubSummary(brokerConnected: brokerConnected)
        summary.redundantHeartbeats = core.redundantHeartbeats
        for id in core.stationIDs {
            summary.stations += 1
            if core.isOnline(id) == true { summary.online += 1 }
            if let session = core.session(at: id) {
                if session.paused { summary.paused += 1 } else { summary.active += 1 }
            }
            if let status = core.status(of: id, now: now) { summary.byStatus[status, default: 0] += 1 }
        }
        return summary
    }
}

/// The answer to one staff request: the same JSON body on MQTT and HTTP.
public struct RequestOutcome: Sendable {
    public var result: Result<JSONValue, CommandError>
    public var transaction: JSONValue?

    /// The response message (`ResponseMessage`): the same bytes on MQTT and HTTP.
    public var response: ResponseMessage { ResponseMessage(result: result, transaction: transaction) }

    /// `{"status":"ok","data":...}` or `{"status":"error","error":{"code","message"}}`, with `transaction`.
    public var responseJSON: JSONValue { response.json }
}

/// Station and session counts at one moment.
public struct HubSummary: Sendable, Equatable {
    public var brokerConnected: Bool
    public var stations = 0
    public var online = 0
    /// Sessions running (not paused).
    public var active = 0
    public var paused = 0
    public var byStatus: [StationStatus: Int] = [:]
    /// Heartbeats ignored since the start because the station's previous one was too recent.
    public var redundantHeartbeats = 0
}
