import PlayclockContract

/// The hub's domain as a sans-I/O state machine.
///
/// It takes events (commands, heartbeats, plug reports, the passing of time) together with a
/// `Timestamp` and returns `HubAction`s; it never reads a clock, touches a socket or a file. The
/// runtime executes the actions and asks `nextDeadline()` when to call `tick(now:)` again.
///
/// This file is the façade: the state, the change (undo) protocol, and the routing of each event
/// to the concern that handles it. The concerns are extensions in their own folders:
/// `Sessions/` (session commands, expiry, warnings, countdowns), `Presence/` (heartbeats and
/// silence), `Plugs/` (driving plugs through a `PlugDriver` per vendor), `Stations/` (the table,
/// the deadline index, station commands), `Recovery/` (start and broker reconnect) and
/// `Rendering/` (every payload, through the contract's message types), `Agents/` (staff orders
/// to PCs and their agents' reports).
public struct HubCore: Sendable {
    public let topics: TopicScheme
    public let policy: HubPolicy
    var entries: StationTable
    var lastEventID: Int64
    /// Plug status topic -> stations bound to that plug (a multi-relay strip serves several).
    var plugIndex: [String: [StationID]] = [:]
    /// Counts rebuilds of `plugIndex`, so the runtime can tell in O(1) whether the plug topics it
    /// must subscribe to may have changed (`plugSubscriptions` costs O(plugs)).
    public internal(set) var plugIndexGeneration = 0
    var lastRPCID: Int64 = 0
    /// Refused requests: the first of a kind per window in full, repeats as one summary.
    var rejections = RejectionDigest()
    /// Plug power readings ignored as implausible (not a number, negative, not finite, above
    /// `policy.plugMaxWatts`) since the core was made: they change nothing and raise no alarm.
    public internal(set) var implausiblePlugReadings = 0
    /// Heartbeats ignored because the station's previous one was too recent (see `heartbeat`).
    public internal(set) var redundantHeartbeats = 0
    /// Prices, members and their balances, the sale and ledger counters (`Money/`).
    var money: MoneyBook
    /// Prices time in the venue's local time (its timezone's offsets).
    let pricing: PricingEngine
    /// What `rollbackChange` restores besides the journaled entries; nil when no change is open.
    private var checkpoint: Checkpoint?

    private struct Checkpoint: Sendable {
        var lastEventID: Int64
        var lastRPCID: Int64
        var plugIndex: [String: [StationID]]
        var plugIndexGeneration: Int
        var rejections: RejectionDigest
        var catalog: PricingCatalog?
        var lastSaleID: Int64
        var lastLedgerID: Int64
        var lastShiftID: Int64
    }

    public init(
        topics: TopicScheme, policy: HubPolicy, stations: [Station], sessions: [SessionRecord], lastEventID: Int64,
        money: MoneyState = MoneyState()
    ) {
        self.topics = topics
        self.policy = policy
        self.lastEventID = lastEventID
        self.money = MoneyBook(
            catalog: money.catalog, members: money.members, lastSaleID: money.lastSaleID, lastLedgerID: money.lastLedgerID,
            products: money.products, openShifts: money.openShifts, lastShiftID: money.lastShiftID, counter: money.counter)
        self.pricing = PricingEngine(offsets: money.offsets)
        self.entries = StationTable(policy: policy)
        for station in stations {
            // Unknown until the broker is reached and the agent heard (or a heartbeat window passes).
            entries[station.id] = StationEntry(station: station, presence: .unknown(silenceDeadlineMonoNanos: nil))
        }
        for session in sessions where !session.isEnded {
            // Countdowns are scheduled when the broker is reached (`resync`).
            entries[session.station]?.hold(session, nextCountdownMonoNanos: nil)
        }
        rebuildPlugIndex()
    }

    /// The Shelly RPC `src` of this hub: replies come back on `<src>/rpc`.
    public var rpcSource: String { topics.rpcSource }

    // MARK: - Queries

    /// Sorted: O(n log n), for start-up, resync and listings only.
    public var stationIDs: [StationID] { entries.sortedIDs }

    public func session(at station: StationID) -> SessionRecord? { entries[station]?.session }

    public func isOnline(_ station: StationID) -> Bool? { entries[station]?.online }

    public func stationState(_ id: StationID, now: Timestamp) -> JSONValue? {
        entries[id].map { stateJSON($0, now: now) }
    }

    public func status(of id: StationID, now: Timestamp) -> StationStatus? {
        entries[id].map { status($0, now: now) }
    }

    // MARK: - Changes

    /// Opens a change that `rollbackChange` can undo.
    ///
    /// The runtime applies an event to the core before the store has accepted its writes, and
    /// must put the core back if the store refuses. Keeping a copy of the whole core for that
    /// would copy every station on the first write after it; instead the first write to each
    /// station records what it replaced, so a change costs what it touches. The counters and the
    /// plug index are saved whole: they are small or (the plug index) only rebuilt on station edits.
    ///
    /// Changes do not nest. Outside a change nothing is recorded.
    public mutating func beginChange() {
        precondition(checkpoint == nil, "beginChange while a change is open")
        checkpoint = Checkpoint(
            lastEventID: lastEventID, lastRPCID: lastRPCID, plugIndex: plugIndex, plugIndexGeneration: plugIndexGeneration,
            rejections: rejections, catalog: money.catalog, lastSaleID: money.lastSaleID, lastLedgerID: money.lastLedgerID,
            lastShiftID: money.lastShiftID)
        entries.beginJournal()
        money.beginJournal()
    }

    /// Keeps everything done since `beginChange`.
    public mutating func commitChange() {
        precondition(checkpoint != nil, "commitChange without beginChange")
        checkpoint = nil
        entries.endJournal()
        money.endJournal()
    }

    /// Puts every station, its deadline, the event and RPC counters and the plug index back as
    /// they were at `beginChange`.
    ///
    /// Calling it with no change open is a programming error and stops the process: there would be
    /// nothing to restore, and carrying on would leave the core ahead of the store it must match.
    public mutating func rollbackChange() {
        guard let saved = checkpoint else { preconditionFailure("rollbackChange without beginChange") }
        checkpoint = nil
        entries.rollBackJournal()
        money.rollBackJournal()
        money.catalog = saved.catalog
        money.lastSaleID = saved.lastSaleID
        money.lastLedgerID = saved.lastLedgerID
        money.lastShiftID = saved.lastShiftID
        lastEventID = saved.lastEventID
        lastRPCID = saved.lastRPCID
        plugIndex = saved.plugIndex
        plugIndexGeneration = saved.plugIndexGeneration
        rejections = saved.rejections
    }

    // MARK: - Time

    /// The next monotonic instant at which `tick` has something to do, if any.
    public func nextDeadline() -> Int64? {
        switch (entries.earliestDeadline, rejections.nextDeadline) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    /// Fires everything due at `now`: presence timeouts, the end of expired holds, expiries,
    /// warnings, countdowns, plug retries, and the refusal summaries whose window closed.
    ///
    /// Only the due stations are visited, in order of (deadline, station id) so that the actions
    /// of one tick come out the same way every time. Each fires once: a station whose next
    /// deadline is still not after `now` waits for the next tick, which the runtime schedules at
    /// once, so a deadline that does not move can never keep one tick busy forever.
    public mutating func tick(now: Timestamp) -> [HubAction] {
        var actions: [HubAction] = []
        for id in entries.removeDue(through: now.monoNanos) {
            actions += fire(id, now: now)
            entries.reindex(id)
        }
        actions += closeRejectionWindows(now: now)
        return actions
    }

    /// One due station: presence first, then its session, then its plug, then its state if any
    /// of that changed what staff see.
    private mutating func fire(_ id: StationID, now: Timestamp) -> [HubAction] {
        guard var entry = entries[id] else { return [] }
        var actions: [HubAction] = []
        var stateChanged = false
        if endExpiredHold(&entry, now: now) { stateChanged = true }
        if silenceElapsed(&entry, now: now, into: &actions) { stateChanged = true }
        if sessionTimers(&entry, now: now, into: &actions) { stateChanged = true }
        entries[id] = entry
        actions += reconcilePlug(id, now: now)
        if stateChanged { actions.append(publishState(entries[id] ?? entry, now: now)) }
        return actions
    }

    // MARK: - Commands

    /// Applies a decoded command. `newSessionID` is a fresh id, used if the command starts a session
    /// (the session's id) or sends an order (its `command` id); `actor`
    /// (the staff account that sent it) is recorded as `by` in every event it causes.
    public mutating func handle(
        _ command: Command, verb: String, newSessionID: String, now: Timestamp, actor: String? = nil,
        context: CommandContext = CommandContext()
    ) -> CommandOutcome {
        var outcome = apply(command, verb: verb, newSessionID: newSessionID, now: now, actor: actor, context: context)
        if let actor {
            outcome.actions = outcome.actions.map { action in
                guard case .saveEvent(var e) = action, case .object(var data) = e.data, data["by"] == nil else { return action }
                data["by"] = .string(actor)
                e.data = .object(data)
                return .saveEvent(e)
            }
        }
        return outcome
    }

    private mutating func apply(
        _ command: Command, verb: String, newSessionID: String, now: Timestamp, actor: String?, context: CommandContext
    ) -> CommandOutcome {
        do {
            var (data, actions) = try route(command, newSessionID: newSessionID, now: now, actor: actor, context: context)
            for id in command.stations where entries[id] != nil {
                actions += reconcilePlug(id, now: now, force: true)
            }
            switch command {
            case .stationAdd, .stationUpdate, .stationRemove: rebuildPlugIndex()
            default: break
            }
            return CommandOutcome(result: .success(data), actions: actions)
        } catch {
            return CommandOutcome(result: .failure(error), actions: rejected(verb: verb, error: error, now: now, actor: actor))
        }
    }

    /// Each command to the concern that owns it. A new verb is a case here and a handler there.
    private mutating func route(
        _ command: Command, newSessionID: String, now: Timestamp, actor: String?, context: CommandContext
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        switch command {
        case .stationList: return (["stations": .array(stationIDs.compactMap { stationState($0, now: now) })], [])
        case .stationGet(let id): return (stateJSON(try entry(id), now: now), [])
        case .stationAdd(let id, let name, let kind, let plug, let zone):
            return try addStation(id, name: name, kind: kind, plug: plug, zone: zone, now: now)
        case .stationUpdate(let id, let name, let kind, let plug, let zone):
            return try updateStation(id, name: name, kind: kind, plug: plug, zone: zone, now: now)
        case .stationRemove(let id): return try removeStation(id, now: now)
        case .stationMaintenance(let id, let enabled): return try setMaintenance(id, enabled: enabled, now: now)
        case .sessionStart(let id, let seconds): return try startSession(id, seconds: seconds, sessionID: newSessionID, now: now)
        case .sessionExtend(let id, let seconds): return try extendSession(id, seconds: seconds, now: now)
        case .sessionPause(let id): return try pauseSession(id, now: now)
        case .sessionResume(let id): return try resumeSession(id, now: now)
        case .sessionStop(let id): return try stopSession(id, now: now, actor: actor)
        case .sessionTransfer(let from, let to): return try transferSession(from: from, to: to, now: now)
        case .plugPower(let id, let on): return try powerPlug(id, on: on, now: now)
        case .stationOrder(let id, let action, let text):
            return try sendOrder(id, action: action, text: text, command: newSessionID, now: now)
        case .sessionStartPaid(let id, let payment):
            return try startPaidSession(id, payment: payment, sessionID: newSessionID, now: now, actor: actor)
        case .sessionExtendPaid(let id, let item, let payment):
            return try extendPaidSession(id, item: item, payment: payment, now: now, actor: actor)
        case .pricingGet: return (try catalog().json, [])
        case .priceQuote(let id, let item, let member): return (try quote(id, item: item, member: member, now: now), [])
        case .rateSet(let plan): return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.set(plan) }
        case .rateRemove(let id): return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.removePlan(id) }
        case .packageSet(let p): return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.set(p) }
        case .packageRemove(let id): return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.removePackage(id) }
        case .tierSet(let t): return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.set(t) }
        case .tierRemove(let id):
            if let user = money.allMembers.first(where: { $0.tier == id }) {
                throw CommandError(.invalidPricing, "tier \(id) is still given to member \(user.id) (and maybe others): move them to another tier first")
            }
            return try editCatalog(now: now, actor: actor) { c throws(CommandError) in try c.removeTier(id) }
        case .memberAdd(let m): return try addMember(m, now: now)
        case .memberGet(let id): return (memberJSON(try member(id), now: now), [])
        case .memberFind(let query, let limit):
            return (["members": .array(money.find(query, limit: limit).map { memberJSON($0, now: now) })], [])
        case .memberUpdate(let id, let name, let contact, let tier):
            return try updateMember(id, name: name, contact: contact, tier: tier, now: now)
        case .memberTopup(let id, let amount, let tender): return try topUp(id, amount: amount, tender: tender, now: now, actor: actor)
        case .memberSetPIN(let id, let pin): return try setPIN(id, pin: pin, now: now)
        case .memberDisable(let id, let disabled): return try disableMember(id, disabled: disabled, now: now)
        case .saleRefund(let sale, let amount, let reason):
            return try refund(sale, amount: amount, reason: reason, context: context, now: now, actor: actor)
        case .saleVoid(let sale, let reason): return try void(sale, reason: reason, context: context, now: now, actor: actor)
        case .productList: return (productsJSON(), [])
        case .productSet(let product): return try setProduct(product, now: now)
        case .productRemove(let id): return try removeProduct(id, now: now)
        case .saleCreate(let items, let payments, let member):
            // A basket changes several stations, products and members: it is worked out on a copy
            // and kept only whole, so a line refused half-way leaves nothing behind.
            var scratch = self
            let result = try scratch.sellBasket(items, payments: payments, member: member, newSessionID: newSessionID, now: now, actor: actor)
            self = scratch
            return result
        case .shiftOpen(let float, let note): return try openShift(float: float, note: note, now: now, actor: actor)
        case .shiftClose(let counted, let note): return try closeShift(counted: counted, note: note, now: now, actor: actor)
        case .shiftPayIn(let amount, let reason): return try moveDrawerCash(.payIn, amount: amount, reason: reason, now: now, actor: actor)
        case .shiftPayOut(let amount, let reason): return try moveDrawerCash(.payOut, amount: amount, reason: reason, now: now, actor: actor)
        case .shiftGet(let id): return try shiftSummary(id, context: context, now: now, actor: actor)
        }
    }

    // MARK: - Shared helpers

    func entry(_ id: StationID) throws(CommandError) -> StationEntry {
        guard let entry = entries[id] else { throw .unknownStation(id) }
        return entry
    }

    func knownStation(_ raw: String) throws(CommandError) -> StationID {
        guard let id = StationID(raw) else { throw CommandError(.invalidStationID, "invalid station id") }
        guard entries[id] != nil else { throw .unknownStation(id) }
        return id
    }

    /// Whole seconds shown to people and agents, rounded up.
    func seconds(_ millis: Int64) -> Int64 { (millis + 999) / 1000 }

    /// Numbers the event and returns the action that stores and publishes it.
    mutating func event(_ type: EventType, station: StationID?, session: String?, data: JSONValue, now: Timestamp) -> HubAction {
        lastEventID += 1
        return .saveEvent(HubEvent(id: lastEventID, kind: type, atWallMillis: now.wallMillis, station: station, session: session, data: data))
    }

    /// The JSON published on `R/events` for a stored event.
    public static func eventJSON(_ e: HubEvent) -> JSONValue { eventMessage(e).json }

    public static func eventMessage(_ e: HubEvent) -> EventMessage {
        EventMessage(id: e.id, type: e.type, at: ISO8601.string(fromMillis: e.atWallMillis), station: e.station?.value,
                     session: e.session, data: e.data)
    }
}

// MARK: - Checks for tests

extension HubCore {
    /// The earliest deadline found by computing every station's deadline afresh: the reference
    /// the deadline index is checked against.
    func scannedNextDeadline() -> Int64? {
        (entries.byID.values.compactMap { StationTable.deadline(of: $0, policy: policy) } + [rejections.nextDeadline].compactMap { $0 }).min()
    }

    /// The earliest deadline of any station (leaving out the refusal summaries' windows).
    var nextStationDeadline: Int64? { entries.earliestDeadline }

    /// The station's deadline computed afresh from its entry.
    func scannedDeadline(of id: StationID) -> Int64? {
        entries[id].flatMap { StationTable.deadline(of: $0, policy: policy) }
    }

    /// The deadline the index holds for a station.
    func indexedDeadline(of id: StationID) -> Int64? { entries.indexedDeadline(of: id) }

    /// Whether every station's indexed deadline equals its deadline computed afresh, and the
    /// index holds nothing for stations that do not exist.
    func deadlineIndexIsConsistent() -> Bool { entries.indexIsConsistent }

    /// Items in the deadline heap, live or outdated.
    var deadlineHeapCount: Int { entries.heapCount }
}
