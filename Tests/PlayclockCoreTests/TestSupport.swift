import PlayclockContract
@testable import PlayclockCore
import Testing

// MARK: - Fixtures

let testTopics = TopicScheme(root: "playclock")!
let pc1 = StationID("PC-01")!
let pc2 = StationID("PC-02")!
let ps1 = StationID("PS-01")!

/// 2026-11-21T23:24:50.123Z
let startWallMillis: Int64 = 1_795_303_490_123

// MARK: - Manual clock

/// A hand-driven reading of the hub clocks.
///
/// `advance` moves wall and monotonic time together, as a real clock does; `jumpWall` moves only
/// the wall clock (NTP/RTC correction); `reboot` simulates a new boot (new boot id, monotonic time
/// restarting near zero, wall clock as given).
struct ManualClock {
    private(set) var now: Timestamp
    private var boots = 1

    init(wallMillis: Int64 = startWallMillis, monoNanos: Int64 = 3_600_000_000_000, bootID: String = "boot-1") {
        now = Timestamp(wallMillis: wallMillis, monoNanos: monoNanos, bootID: bootID)
    }

    mutating func advance(millis: Int64) {
        precondition(millis >= 0, "monotonic time never goes backwards")
        now = now.advanced(byMillis: millis)
    }

    mutating func advance(seconds: Int64) { advance(millis: seconds * 1000) }

    /// Moves both clocks forward until the monotonic clock reads `monoNanos`.
    mutating func advance(toMono monoNanos: Int64) {
        let delta = monoNanos - now.monoNanos
        precondition(delta >= 0, "monotonic time never goes backwards")
        now = Timestamp(wallMillis: now.wallMillis + delta / 1_000_000, monoNanos: monoNanos, bootID: now.bootID)
    }

    /// Only the wall clock moves (forwards or backwards); the monotonic clock does not.
    mutating func jumpWall(byMillis millis: Int64) {
        now = Timestamp(wallMillis: now.wallMillis + millis, monoNanos: now.monoNanos, bootID: now.bootID)
    }

    /// A reboot: new boot id, monotonic clock restarting near zero, the wall clock moved by
    /// `wallDeltaMillis` (the downtime as the wall clock sees it; may be negative for a clock that
    /// went backwards across the reboot).
    mutating func reboot(wallDeltaMillis: Int64, monoAfterBootMillis: Int64 = 2_500) {
        boots += 1
        now = Timestamp(
            wallMillis: now.wallMillis + wallDeltaMillis, monoNanos: monoAfterBootMillis * 1_000_000, bootID: "boot-\(boots)")
    }
}

// MARK: - Fake store

/// Keeps what the core asks to save, as the SQLite store would (sessions upserted by id).
struct FakeStore {
    var stations: [StationID: Station] = [:]
    var sessions: [String: SessionRecord] = [:]
    var events: [HubEvent] = []
    var members: [String: MemberAccount] = [:]
    var sales: [SaleRecord] = []
    var pricing: [PricingCatalog] = []
    var products: [String: Product] = [:]
    var shifts: [Int64: ShiftRecord] = [:]

    mutating func apply(_ actions: [HubAction]) {
        for action in actions {
            switch action {
            case .saveStation(let s): stations[s.id] = s
            case .deleteStation(let id): stations[id] = nil
            case .saveSession(let s): sessions[s.id] = s
            case .saveEvent(let e): events.append(e)
            case .saveMember(let m): members[m.id] = m
            case .recordSale(let sale): sales.append(sale)
            case .savePricing(let c, _, _): pricing.append(c)
            case .saveProduct(let p): products[p.id] = p
            case .deleteProduct(let id): products[id] = nil
            case .saveShift(let s): shifts[s.id] = s
            case .rememberRequest: break
            case .publish: break
            }
        }
    }

    var lastEventID: Int64 { events.map(\.id).max() ?? 0 }

    /// What a member's ledger entries add up to (the truth the cached balance must equal).
    func ledgerBalance(of member: String) -> Int64 {
        sales.flatMap(\.entries).reduce(0) { sum, e in
            sum + (e.to == .member(member) ? e.amount : 0) - (e.from == .member(member) ? e.amount : 0)
        }
    }

    /// A sale and what was refunded or voided of it, as `HubStore.sale(id:)` answers.
    func context(ofSale id: Int64) -> CommandContext {
        guard let sale = sales.first(where: { $0.id == id }) else { return CommandContext() }
        let later = sales.filter { $0.refersTo == id }
        return CommandContext(
            sale: sale, refundedAmount: later.filter { $0.kind == .refund }.map(\.amount).reduce(0, +),
            voided: later.contains { $0.kind == .void })
    }
    var stationList: [Station] { stations.values.sorted { $0.id < $1.id } }
    var sessionList: [SessionRecord] { sessions.values.sorted { $0.id < $1.id } }
}

// MARK: - Harness

/// A `HubCore` wired to a manual clock and a fake store; every action is applied to the store.
struct TestHub {
    var core: HubCore
    var clock: ManualClock
    var store = FakeStore()
    var sessionCounter = 0
    /// Orders sent: the n-th gets command id `C-n`.
    var orderCounter = 0

    var now: Timestamp { clock.now }
    var policy: HubPolicy { core.policy }
    /// The staff account requests are sent as (nil: none).
    var actor: String?

    init(
        policy: HubPolicy = HubPolicy(),
        stations: [Station] = [
            Station(id: pc1, name: "PC 1", kind: .pc), Station(id: pc2, name: "PC 2", kind: .pc),
            Station(id: ps1, name: "PS5", kind: .console),
        ],
        clock: ManualClock = ManualClock(), money: MoneyState = MoneyState()
    ) {
        self.clock = clock
        core = HubCore(topics: testTopics, policy: policy, stations: stations, sessions: [], lastEventID: 0, money: money)
        for s in stations { store.stations[s.id] = s }
    }

    /// A restarted hub: a fresh core built from what the store holds.
    init(restartingFrom store: FakeStore, policy: HubPolicy = HubPolicy(), clock: ManualClock, offsets: any UTCOffsetProvider = FixedUTCOffset(seconds: 0)) {
        self.clock = clock
        self.store = store
        let money = MoneyState(
            catalog: store.pricing.last, members: store.members.values.map { m in
                var m = m
                m.balance = store.ledgerBalance(of: m.id)
                return m
            }, lastSaleID: store.sales.map(\.id).max() ?? 0, lastLedgerID: store.sales.flatMap(\.entries).map(\.id).max() ?? 0,
            offsets: offsets)
        core = HubCore(
            topics: testTopics, policy: policy, stations: store.stationList, sessions: store.sessionList,
            lastEventID: store.lastEventID, money: money)
        sessionCounter = store.sessions.count
    }

    @discardableResult
    mutating func record(_ actions: [HubAction]) -> [HubAction] {
        store.apply(actions)
        return actions
    }

    /// Sends a request as the runtime would: decode, then handle or record the refusal.
    @discardableResult
    mutating func request(_ verb: String, _ body: JSONValue) -> (result: Result<JSONValue, CommandError>, actions: [HubAction]) {
        requestRaw(verb, JSONCoding.encode(body))
    }

    mutating func requestRaw(_ verb: String, _ payload: [UInt8]) -> (result: Result<JSONValue, CommandError>, actions: [HubAction]) {
        switch Request.decode(verb: verb, payload: payload, policy: core.policy) {
        case .failure(let failure):
            let actions = core.rejected(verb: verb, error: failure.error, now: now)
            return (.failure(failure.error), record(actions))
        case .success(let request):
            switch request.command {
            case .sessionStart, .sessionStartPaid: sessionCounter += 1
            default: break
            }
            var newID = "S-\(sessionCounter)"
            if case .stationOrder = request.command {
                orderCounter += 1
                newID = "C-\(orderCounter)"
            }
            // As the hub does: PINs are hashed before the core sees them (a stand-in hash here),
            // and a refund or void comes with the sale it names.
            var command = request.command
            switch command {
            case .memberSetPIN(let m, .plain(let pin)): command = .memberSetPIN(m, pin: .hashed("hash:" + pin))
            case .memberAdd(var new):
                if case .plain(let pin)? = new.pin { new.pin = .hashed("hash:" + pin) }
                command = .memberAdd(new)
            default: break
            }
            var context = CommandContext()
            switch command {
            case .saleRefund(let id, _, _), .saleVoid(let id, _): context = store.context(ofSale: id)
            default: break
            }
            let outcome = core.handle(command, verb: verb, newSessionID: newID, now: now, actor: actor, context: context)
            record(outcome.actions)
            return (outcome.result, outcome.actions)
        }
    }

    /// Starts a session and fails the test if it is refused.
    @discardableResult
    mutating func start(_ station: StationID, seconds: Int64, sourceLocation: SourceLocation = #_sourceLocation) -> [HubAction] {
        let (result, actions) = request("session/start", ["station": .string(station.value), "seconds": .int(seconds)])
        if case .failure(let error) = result { Issue.record("session/start refused: \(error)", sourceLocation: sourceLocation) }
        return actions
    }

    @discardableResult
    mutating func heartbeat(_ station: StationID, _ json: String) throws -> [HubAction] {
        let actions = try core.heartbeat(station: station.value, payload: Array(json.utf8), now: now)
        return record(actions)
    }

    /// The broker connection is up (again): `HubCore.resync`, recorded.
    @discardableResult
    mutating func connect() -> [HubAction] {
        record(core.resync(now: now))
    }

    @discardableResult
    mutating func tick() -> [HubAction] {
        let actions = core.tick(now: now)
        return record(actions)
    }

    /// `HubCore.recover` at the current time, recorded in the store.
    @discardableResult
    mutating func recover(lastAlive: Timestamp?) -> [HubAction] {
        let actions = core.recover(lastAlive: lastAlive, now: now)
        return record(actions)
    }

    @discardableResult
    mutating func agent(_ station: StationID, _ text: String) throws -> [HubAction] {
        let actions = try core.agentPresence(station: station.value, payload: Array(text.utf8), now: now)
        return record(actions)
    }

    /// Advances the clock (wall and mono together) without ticking.
    mutating func advance(seconds: Int64) { clock.advance(seconds: seconds) }
    mutating func advance(millis: Int64) { clock.advance(millis: millis) }

    /// Advances to the monotonic instant `target`, ticking at every deadline on the way (as the runtime does).
    @discardableResult
    mutating func run(untilMono target: Int64) -> [HubAction] {
        var actions: [HubAction] = []
        var iterations = 0
        while let d = core.nextDeadline(), d <= target {
            iterations += 1
            if iterations > 200_000 {
                Issue.record("deadlines never settle")
                break
            }
            if d > now.monoNanos { clock.advance(toMono: d) }
            let fired = tick()
            actions += fired
            if fired.isEmpty && d <= now.monoNanos && core.nextDeadline() == d {
                Issue.record("tick at a due deadline did nothing (deadline \(d))")
                break
            }
        }
        if target > now.monoNanos { clock.advance(toMono: target) }
        actions += tick()
        return actions
    }

    @discardableResult
    mutating func run(seconds: Int64) -> [HubAction] { run(untilMono: now.monoNanos + seconds * 1_000_000_000) }

    @discardableResult
    mutating func run(millis: Int64) -> [HubAction] { run(untilMono: now.monoNanos + millis * 1_000_000) }

    func state(_ id: StationID) -> JSONValue? { core.stationState(id, now: now) }
    func status(_ id: StationID) -> String? { core.status(of: id, now: now)?.rawValue }
    func remainingSeconds(_ id: StationID) -> Int64? { state(id)?["session"]?["remaining_s"]?.intValue }
    func remainingMillis(_ id: StationID) -> Int64? { core.session(at: id)?.remainingMillis(at: now) }
}

// MARK: - Action helpers

extension Array where Element == HubAction {
    var outbounds: [Outbound] {
        compactMap { if case .publish(let o) = $0 { return o } else { return nil } }
    }

    func published(to topic: String) -> [Outbound] { outbounds.filter { $0.topic == topic } }

    func controls(_ id: StationID) -> [JSONValue] { published(to: testTopics.control(id)).compactMap(\.json) }
    func states(_ id: StationID) -> [JSONValue] { published(to: testTopics.state(id)).compactMap(\.json) }
    func countdowns(_ id: StationID) -> [JSONValue] { published(to: testTopics.countdown(id)).compactMap(\.json) }

    var events: [HubEvent] {
        compactMap { if case .saveEvent(let e) = $0 { return e } else { return nil } }
    }

    var eventTypes: [String] { events.map(\.type) }

    var savedSessions: [SessionRecord] {
        compactMap { if case .saveSession(let s) = $0 { return s } else { return nil } }
    }

    var savedStations: [Station] {
        compactMap { if case .saveStation(let s) = $0 { return s } else { return nil } }
    }
}

extension JSONValue {
    /// Parses JSON text written in a test (fails the test on bad JSON).
    static func parse(_ text: String) throws -> JSONValue { try JSONCoding.decode(Array(text.utf8)) }
}

func iso(_ millis: Int64) -> String { ISO8601.string(fromMillis: millis) }
