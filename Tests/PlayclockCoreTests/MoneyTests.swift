import PlayclockContract
@testable import PlayclockCore
import Testing

// MARK: - Fixtures

/// A venue in UTC: PCs at 3.60 EUR an hour (6 cents a started minute, 1.00 minimum), 2.40 an hour
/// on weekdays 14:00-17:00; consoles at 6.00 an hour per started quarter hour, pay-later allowed.
let moneyCatalogJSON: JSONValue = [
    "currency": "EUR", "timezone": "UTC",
    "plans": [
        ["id": "console", "name": "Consoles", "kinds": ["console"], "per_hour": 600, "step_s": 900, "minimum": 0,
         "postpaid_limit_minutes": 120],
        ["id": "standard", "name": "PCs", "per_hour": 360, "step_s": 60, "minimum": 100,
         "rules": [["days": ["mon", "tue", "wed", "thu", "fri"], "from": "14:00", "to": "17:00", "per_hour": 240]]],
    ],
    "packages": [
        ["id": "3h", "name": "3 hours", "price": 800, "minutes": 180],
        ["id": "ps1h", "name": "Console hour", "price": 500, "minutes": 60, "plans": ["console"]],
    ],
    "tiers": [["id": "gold", "name": "Gold", "discount_percent": 10]],
]

func moneyHub(policy: HubPolicy = HubPolicy(), clock: ManualClock = ManualClock()) -> TestHub {
    let catalog = try! PricingCatalog.parse(moneyCatalogJSON)
    return TestHub(policy: policy, clock: clock, money: MoneyState(catalog: catalog))
}

extension TestHub {
    @discardableResult
    mutating func ok(_ verb: String, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue {
        let (result, _) = request(verb, body)
        switch result {
        case .success(let data): return data
        case .failure(let error):
            Issue.record("\(verb) refused: \(error.code) \(error.message)", sourceLocation: sourceLocation)
            return .null
        }
    }

    mutating func refused(_ verb: String, _ body: JSONValue) -> ErrorCode? {
        if case .failure(let error) = request(verb, body).result { return error.code }
        return nil
    }

    func balance(_ member: String) -> Int64 { core.money[member: member]?.balance ?? -1 }

    /// The ledger invariants `playclock db check` verifies, on what the core asked to store.
    func checkLedger(sourceLocation: SourceLocation = #_sourceLocation) {
        for (id, m) in store.members {
            #expect(m.balance == store.ledgerBalance(of: id), "member \(id): stored balance vs ledger", sourceLocation: sourceLocation)
            #expect(core.money[member: id]?.balance == m.balance, "member \(id): core vs store", sourceLocation: sourceLocation)
            #expect(m.balance >= 0, "member \(id) below zero", sourceLocation: sourceLocation)
        }
        for sale in store.sales {
            #expect(sale.entries.map(\.amount).reduce(0, +) == sale.amount, "sale \(sale.id) entries", sourceLocation: sourceLocation)
            #expect(sale.entries.allSatisfy { $0.amount > 0 && $0.from != $0.to && $0.sale == sale.id })
            if sale.kind == .sessionCharge {
                let detail = sale.detail.objectValue ?? [:]
                let segments = detail["segments"]?.arrayValue?.compactMap { $0.objectValue?["amount"]?.intValue }.reduce(0, +) ?? -1
                #expect(segments + (detail["minimum_extra"]?.intValue ?? 0) == sale.amount, "charge \(sale.id) vs segments",
                        sourceLocation: sourceLocation)
            }
        }
        let ids = store.sales.map(\.id)
        #expect(ids == Array(1...Int64(max(ids.count, 1))).prefix(ids.count).map { $0 }, "sale numbers are gapless", sourceLocation: sourceLocation)
        // Double entry: all accounts together hold nothing.
        var totals: [LedgerAccount: Int64] = [:]
        for e in store.sales.flatMap(\.entries) {
            totals[e.from, default: 0] -= e.amount
            totals[e.to, default: 0] += e.amount
        }
        #expect(totals.values.reduce(0, +) == 0, sourceLocation: sourceLocation)
    }

    func controls(_ actions: [HubAction], _ station: StationID) -> [JSONValue] {
        actions.compactMap { a -> JSONValue? in
            guard case .publish(let o) = a, o.topic == testTopics.control(station) else { return nil }
            return o.json
        }
    }
}

func body(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue { .object(Dictionary(uniqueKeysWithValues: pairs.map { ($0, $1) })) }

// MARK: - Tests

@Suite("Money in the core")
struct MoneyTests {
    // 2026-11-21T23:24:50Z is a Saturday: the standard rate all day.

    @Test func aDeskSaleOfMinutesIsOneSaleWithTheSession() {
        var hub = moneyHub()
        let data = hub.ok("session/start", ["station": "PC-01", "minutes": 30, "payment": ["method": "cash"]])
        #expect(data.objectValue?["sale"]?.objectValue?["amount"] == .int(180))
        #expect(data.objectValue?["session"]?.objectValue?["billing"] == "prepaid")
        #expect(hub.store.sales.count == 1)
        let sale = hub.store.sales[0]
        #expect(sale.kind == .time && sale.method == "cash" && sale.session == "S-1" && sale.station == pc1)
        #expect(sale.entries.map { "\($0.from)->\($0.to):\($0.amount)" } == ["tender:cash->revenue:time:180"])
        #expect(hub.store.sessions["S-1"]?.grantedMillis == Int64(30 * 60_000))
        #expect(hub.store.events.contains { $0.type == "sale.completed" })
        hub.checkLedger()
    }

    @Test func minutesAreRoundedUpToTheStepAndTheMinimumApplies() {
        var hub = moneyHub()
        // 10 minutes at 3.60/h = 0.60, below the 1.00 minimum; a console's 10 minutes bill a quarter hour.
        #expect(hub.ok("price/quote", ["station": "PC-01", "minutes": 10]).objectValue?["amount"] == .int(100))
        let ps = hub.ok("session/start", ["station": "PS-01", "minutes": 10, "payment": ["method": "card"]])
        #expect(ps.objectValue?["sale"]?.objectValue?["amount"] == .int(150))
        #expect(hub.store.sessions["S-1"]?.grantedMillis == Int64(15 * 60_000), "the customer gets the quarter hour they pay for")
        hub.checkLedger()
    }

    @Test func aPackageFromTheAccountNeedsTheBalanceAndChangesNothingWhenRefused() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 500, "method": "cash"])
        let before = hub.store
        #expect(hub.refused("session/start", ["station": "PC-01", "package": "3h", "payment": ["method": "account", "member": "m-1"]])
                == .insufficientBalance)
        #expect(hub.store.sales.count == before.sales.count && hub.store.sessions.isEmpty && hub.balance("m-1") == 500)
        hub.ok("member/topup", ["member": "m-1", "amount": 300, "method": "card"])
        hub.ok("session/start", ["station": "PC-01", "package": "3h", "payment": ["method": "account", "member": "m-1"]])
        #expect(hub.balance("m-1") == 0)
        #expect(hub.store.sessions["S-2"]?.grantedMillis == Int64(180 * 60_000))
        #expect(hub.refused("session/start", ["station": "PS-01", "package": "3h", "payment": ["method": "nope"]]) == .invalidPayment)
        #expect(hub.refused("session/start", ["station": "PC-02", "package": "ps1h", "payment": ["method": "cash"]]) == .packageUnavailable)
        #expect(hub.refused("session/start", ["station": "PC-02", "package": "none", "payment": ["method": "cash"]]) == .unknownPackage)
        hub.checkLedger()
    }

    @Test func aBalanceSessionRunsWhileTheBalanceLastsAndIsChargedWhenItExpires() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 250, "method": "cash"])
        let state = hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        // 2.50 at 6 cents a minute buys 41 whole minutes (2.46).
        #expect(state.objectValue?["session"]?.objectValue?["granted_s"] == .int(41 * 60))
        #expect(state.objectValue?["session"]?.objectValue?["member"]?.objectValue?["balance"] == .int(250))
        #expect(hub.core.money[member: "m-1"]?.activeSession == "S-1")
        #expect(hub.refused("session/start", ["station": "PC-02", "member": "m-1"]) == .memberBusy)
        hub.advance(seconds: 41 * 60)
        let actions = hub.tick()
        #expect(hub.controls(actions, pc1).contains { $0.objectValue?["action"] == "lock" })
        let charge = hub.store.sales.last
        #expect(charge?.kind == .sessionCharge && charge?.amount == 246 && charge?.method == "balance")
        #expect(hub.balance("m-1") == 4)
        #expect(hub.core.money[member: "m-1"]?.activeSession == nil)
        #expect(hub.store.events.contains { $0.type == "session.charged" })
        hub.checkLedger()
    }

    @Test func aTopUpReArmsTheConsolePlugsOwnOffTimer() {
        let catalog = try! PricingCatalog.parse(moneyCatalogJSON)
        var hub = TestHub(
            stations: [Station(id: ps1, name: "PS5", kind: .console, plug: .tasmota(topic: "ps5", relay: 1))],
            money: MoneyState(catalog: catalog))
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 150, "method": "cash"])
        hub.ok("session/start", ["station": "PS-01", "member": "m-1"])
        let (_, actions) = hub.request("member/topup", ["member": "m-1", "amount": 300, "method": "cash"])
        let plugCommands = actions.compactMap { a -> Outbound? in
            guard case .publish(let o) = a, o.topic.hasPrefix("cmnd/ps5/") else { return nil }
            return o
        }
        // 4.50 at 6.00 an hour, by the quarter hour: 45 minutes; the off-timer is 45 min + the margin.
        let pulse = plugCommands.first { $0.topic == "cmnd/ps5/PulseTime1" }
        #expect(pulse.map { String(decoding: $0.payload, as: UTF8.self) } == String(100 + 45 * 60 + hub.policy.plugFailsafeMarginSeconds),
                "the plug hears of the longer session")
        #expect(plugCommands.allSatisfy { !$0.retain })
    }

    @Test func aBalanceTooSmallForTheMinimumIsRefused() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 99, "method": "cash"])
        #expect(hub.refused("session/start", ["station": "PC-01", "member": "m-1"]) == .insufficientBalance)
        #expect(hub.store.sessions.isEmpty)
    }

    @Test func aTopUpDuringTheSessionExtendsItLive() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann", "tier": "gold"])
        hub.ok("member/topup", ["member": "m-1", "amount": 200, "method": "cash"])
        let state = hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        // Gold: 3.24 an hour, 5.4 cents a minute: 2.00 buys 37 minutes (1.998).
        #expect(state.objectValue?["session"]?.objectValue?["granted_s"] == .int(37 * 60))
        hub.advance(seconds: 600)
        let (_, actions) = hub.request("member/topup", ["member": "m-1", "amount": 100, "method": "card"])
        let extend = hub.controls(actions, pc1).first
        #expect(extend?.objectValue?["action"] == "extend")
        #expect(extend?.objectValue?["member"]?.objectValue?["balance"] == .int(300))
        // 3.00 buys 55 minutes (2.97); 10 are used.
        #expect(hub.store.sessions["S-1"]?.grantedMillis == Int64(55 * 60_000))
        #expect(hub.core.session(at: pc1)?.remainingMillis(at: hub.now) == Int64(45 * 60_000))
        hub.advance(seconds: 5 * 60)
        hub.ok("session/stop", ["station": "PC-01"])
        // 15 minutes at 5.4 cents = 0.81, under the 1.00 minimum (the minimum is not discounted).
        #expect(hub.store.sales.last?.amount == 100)
        #expect(hub.balance("m-1") == 200)
        hub.checkLedger()
    }

    @Test func pausedTimeIsNotChargedAndTheRestIsWorkedOutAgainOnResume() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 1000, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        hub.advance(seconds: 20 * 60)
        hub.ok("session/pause", ["station": "PC-01"])
        hub.advance(seconds: 3600)
        hub.ok("session/resume", ["station": "PC-01"])
        hub.advance(seconds: 20 * 60 + 1)
        hub.ok("session/stop", ["station": "PC-01"])
        // 40 minutes and a second, per started minute: 41 minutes = 2.46.
        let charge = hub.store.sales.last
        #expect(charge?.amount == 246)
        #expect(charge?.detail.objectValue?["segments"]?.arrayValue?.count == 2, "one segment per run")
        #expect(hub.balance("m-1") == 754)
        hub.checkLedger()
    }

    @Test func theHappyHourAheadMakesTheSessionLonger() {
        // Monday 2026-11-23 13:30 UTC: 30 minutes at 3.60, then 2.40 an hour from 14:00.
        let monday: Int64 = 1_795_440_600_000
        var hub = moneyHub(clock: ManualClock(wallMillis: monday))
        #expect(hub.core.pricing.localWeekdayAndMinute(atWallMillis: monday).0 == .mon)
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 300, "method": "cash"])
        let minute = hub.core.pricing.localWeekdayAndMinute(atWallMillis: monday).1
        let state = hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        let granted = state.objectValue?["session"]?.objectValue?["granted_s"]?.intValue ?? 0
        // Brute force: the most whole minutes whose price (by each minute's rate) fits in 3.00.
        var cost: Int64 = 0, minutes: Int64 = 0
        while true {
            let m = (minute + Int(minutes)) % 1440
            let rate: Int64 = (m >= 14 * 60 && m < 17 * 60) ? 240 : 360
            // Exact cost in hundredths of a cent per minute: rate/60 minor units.
            let next = cost + rate * 100 / 60
            guard (next + 50) / 100 <= 300 else { break }
            cost = next
            minutes += 1
        }
        #expect(granted == minutes * 60)
        #expect(granted > 50 * 60, "more than 3.00 buys at the standard rate")
    }

    @Test func aPaymentFromTheAccountMayNotTakeWhatTheRunningSessionHasCost() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 1000, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        hub.advance(seconds: 50 * 60)
        // 50 minutes have cost 3.00: 7.00 is available, the 8.00 package is not.
        #expect(hub.ok("member/get", ["member": "m-1"]).objectValue?["available"] == .int(700))
        #expect(hub.refused("session/start", ["station": "PC-02", "package": "3h", "payment": ["method": "account", "member": "m-1"]])
                == .insufficientBalance)
        hub.ok("session/start", ["station": "PC-02", "minutes": 60, "payment": ["method": "account", "member": "m-1"]])
        // 10.00 - 3.60 = 6.40 left for PC-01's session, 50 minutes used: 106 minutes in all.
        #expect(hub.store.sessions["S-1"]?.grantedMillis == Int64(106 * 60_000))
        hub.advance(seconds: 56 * 60)
        hub.tick()
        #expect(hub.balance("m-1") == 4)
        hub.checkLedger()
    }

    @Test func payLaterRunsToThePlansLimitAndIsChargedAsDue() {
        var hub = moneyHub()
        #expect(hub.refused("session/start", ["station": "PC-01", "payment": ["method": "later"]]) == .invalidPayment)
        let state = hub.ok("session/start", ["station": "PS-01", "payment": ["method": "later"]])
        #expect(state.objectValue?["session"]?.objectValue?["granted_s"] == .int(7200))
        #expect(state.objectValue?["session"]?.objectValue?["billing"] == "later")
        #expect(hub.refused("session/extend", ["station": "PS-01", "minutes": 10]) == .invalidRequest)
        hub.advance(seconds: 20 * 60)
        hub.ok("session/stop", ["station": "PS-01"])
        let charge = hub.store.sales.last
        #expect(charge?.amount == 300 && charge?.method == "later")
        #expect(charge?.entries.first?.from == .duePostpaid)
        hub.checkLedger()
    }

    @Test func refundsAreEntriesThatNeverExceedTheSale() {
        var hub = moneyHub()
        hub.actor = "boss"
        hub.ok("session/start", ["station": "PC-01", "package": "3h", "payment": ["method": "card"]])
        #expect(hub.refused("sale/refund", ["sale": 1, "amount": 801, "reason": "x"]) == .refundTooLarge)
        let refund = hub.ok("sale/refund", ["sale": 1, "amount": 300, "reason": "left early"])
        #expect(refund.objectValue?["refers_to"] == .int(1) && refund.objectValue?["kind"] == "refund")
        #expect(hub.store.sales.last?.entries.first.map { "\($0.from)->\($0.to)" } == "revenue:package->tender:card")
        #expect(hub.store.sales.last?.by == "boss")
        hub.ok("sale/refund", ["sale": 1, "reason": "the rest"])
        #expect(hub.store.sales.last?.amount == 500)
        #expect(hub.refused("sale/refund", ["sale": 1, "amount": 1, "reason": "x"]) == .refundTooLarge)
        #expect(hub.refused("sale/refund", ["sale": 99, "reason": "x"]) == .unknownSale)
        #expect(hub.refused("sale/refund", ["sale": 1, "amount": -5, "reason": "x"]) == .invalidAmount)
        #expect(hub.refused("sale/refund", ["sale": 1, "amount": 1]) == .invalidRequest, "a reason is required")
        hub.checkLedger()
    }

    @Test func aVoidReversesAWholeSaleOnceWithinTheWindow() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 2000, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "minutes": 60, "payment": ["method": "cash"]])
        #expect(hub.refused("sale/void", ["sale": 2, "reason": "wrong PC"]) == .notVoidable, "its session is still running")
        hub.ok("session/stop", ["station": "PC-01"])
        hub.ok("sale/void", ["sale": 2, "reason": "wrong PC"])
        #expect(hub.refused("sale/void", ["sale": 2, "reason": "again"]) == .notVoidable)
        #expect(hub.refused("sale/refund", ["sale": 2, "reason": "after void"]) == .notVoidable)
        // A top-up voided in time takes the money off the balance again.
        hub.ok("sale/void", ["sale": 1, "reason": "typed 2000 for 200"])
        #expect(hub.balance("m-1") == 0)
        hub.ok("member/topup", ["member": "m-1", "amount": 500, "method": "cash"])
        hub.advance(seconds: 16 * 60)
        #expect(hub.refused("sale/void", ["sale": 5, "reason": "too late"]) == .notVoidable)
        hub.checkLedger()
    }

    @Test func aSpentTopUpCannotBeVoided() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 800, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "package": "3h", "payment": ["method": "account", "member": "m-1"]])
        #expect(hub.refused("sale/void", ["sale": 1, "reason": "oops"]) == .insufficientBalance)
        hub.checkLedger()
    }

    @Test func badAmountsAndMembersChangeNothing() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        let before = hub.store.sales.count
        for amount: JSONValue in [0, -100, 12.5, "100", 100_000_001, .null, true] {
            #expect(hub.refused("member/topup", ["member": "m-1", "amount": amount, "method": "cash"]) == .invalidAmount, "\(amount)")
        }
        #expect(hub.refused("member/topup", ["member": "m-1", "amount": 100, "method": "cheque"]) == .invalidPayment)
        #expect(hub.refused("member/topup", ["member": "nobody", "amount": 100, "method": "cash"]) == .unknownMember)
        #expect(hub.refused("member/topup", ["member": "m/1", "amount": 100, "method": "cash"]) == .invalidRequest)
        #expect(hub.refused("member/topup", ["member": "m+1", "amount": 100, "method": "cash"]) == .invalidRequest)
        #expect(hub.refused("member/add", ["member": "m-1", "name": "Again"]) == .memberExists)
        #expect(hub.refused("member/add", ["member": "m-2", "name": "Bo", "tier": "platinum"]) == .unknownTier)
        hub.ok("member/disable", ["member": "m-1"])
        #expect(hub.refused("member/topup", ["member": "m-1", "amount": 100, "method": "cash"]) == .memberDisabled)
        #expect(hub.refused("session/start", ["station": "PC-01", "member": "m-1"]) == .memberDisabled)
        #expect(hub.store.sales.count == before && hub.balance("m-1") == 0)
    }

    @Test func aRefusedStoreWriteTakesTheMoneyBack() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 500, "method": "cash"])
        let saleID = hub.core.money.lastSaleID, ledgerID = hub.core.money.lastLedgerID
        hub.core.beginChange()
        let outcome = hub.core.handle(.memberTopup("m-1", amount: 700, tender: .card), verb: "member/topup", newSessionID: "x", now: hub.now)
        #expect((try? outcome.result.get()) != nil)
        #expect(hub.balance("m-1") == 1200)
        hub.core.rollbackChange()
        #expect(hub.balance("m-1") == 500)
        #expect(hub.core.money.lastSaleID == saleID && hub.core.money.lastLedgerID == ledgerID, "sale numbers stay gapless")
    }

    @Test func aRestartKeepsBalancesAndChargesTheSessionItRecovers() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 600, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        hub.advance(seconds: 30 * 60)
        let alive = hub.now
        var clock = hub.clock
        clock.reboot(wallDeltaMillis: 10 * 60_000)
        var restarted = TestHub(restartingFrom: hub.store, clock: clock)
        #expect(restarted.balance("m-1") == 600)
        restarted.recover(lastAlive: alive)
        restarted.ok("session/stop", ["station": "PC-01"])
        // 40 minutes, the downtime counted as played (the agent kept the PC unlocked on its lease).
        #expect(restarted.store.sales.last?.amount == 240)
        #expect(restarted.balance("m-1") == 360)
        restarted.checkLedger()
    }

    @Test func fivWrongPINsLockTheMemberAndARightOneStartsTheSession() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann", "pin": "2468"])
        hub.ok("member/topup", ["member": "m-1", "amount": 500, "method": "cash"])
        #expect(hub.core.signInCandidate(station: "PC-01", member: "m-1", now: hub.now) == .success("hash:2468"))
        for attempt in 1...4 {
            let outcome = hub.core.signIn(station: "PC-01", member: "m-1", pinMatches: false, sessionID: "X", now: hub.now)
            hub.record(outcome.actions)
            #expect(outcome.result.failureCode == .invalidCredentials, "attempt \(attempt)")
        }
        let fifth = hub.core.signIn(station: "PC-01", member: "m-1", pinMatches: false, sessionID: "X", now: hub.now)
        hub.record(fifth.actions)
        #expect(fifth.result.failureCode == .memberLocked)
        #expect(hub.store.events.filter { $0.type == "member.sign_in_failed" }.count == 4)
        #expect(hub.store.events.contains { $0.type == "member.locked" })
        #expect(hub.store.members["m-1"]?.lockedUntilWallMillis == hub.now.wallMillis + 15 * 60_000)
        // Locked: even the right PIN is refused until the lock ends.
        #expect(hub.core.signInCandidate(station: "PC-01", member: "m-1", now: hub.now).failureCode == .memberLocked)
        hub.advance(seconds: 15 * 60)
        let right = hub.core.signIn(station: "PC-01", member: "m-1", pinMatches: true, sessionID: "S-9", now: hub.now)
        hub.record(right.actions)
        #expect((try? right.result.get()) != nil)
        #expect(hub.controls(right.actions, pc1).first?.objectValue?["member"]?.objectValue?["member"] == "m-1")
        #expect(hub.store.events.contains { $0.type == "member.signed_in" })
        #expect(hub.core.signInCandidate(station: "PC-02", member: "nobody", now: hub.now).failureCode == .invalidCredentials)
        hub.advance(seconds: 600)
        let out = hub.core.signOut(station: "PC-01", now: hub.now)
        hub.record(out.actions)
        #expect(hub.store.sales.last?.kind == .sessionCharge && hub.store.sales.last?.amount == 100)
        #expect(hub.core.signOut(station: "PC-02", now: hub.now).result.failureCode == .noSession)
        hub.checkLedger()
    }

    @Test func pricesAreEditedByVersionAndNeverTouchASessionAlreadyRunning() {
        var hub = moneyHub()
        hub.ok("member/add", ["member": "m-1", "name": "Ann"])
        hub.ok("member/topup", ["member": "m-1", "amount": 600, "method": "cash"])
        hub.ok("session/start", ["station": "PC-01", "member": "m-1"])
        hub.ok("rate/set", ["plan": ["id": "standard", "name": "PCs", "per_hour": 720, "step_s": 60]])
        #expect(hub.store.pricing.count == 1)
        #expect(hub.ok("price/quote", ["station": "PC-02", "minutes": 60]).objectValue?["amount"] == .int(720))
        hub.advance(seconds: 3600)
        hub.ok("session/stop", ["station": "PC-01"])
        #expect(hub.store.sales.last?.amount == 360, "the session keeps the plan it started with")
        #expect(hub.refused("rate/remove", ["plan": "console"]) == .invalidPricing, "package ps1h is valid for it")
        #expect(hub.refused("tier/remove", ["tier": "nope"]) == .unknownTier)
        hub.checkLedger()
    }

    /// Random desk work against the invariants: whatever the order of sales, top-ups, balance
    /// sessions, pauses, refunds and the passing of time, the ledger and the balances agree.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomDeskWorkKeepsTheLedgerConsistent(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var hub = moneyHub()
        let members = ["m-1", "m-2", "m-3"]
        for m in members { hub.ok("member/add", ["member": .string(m), "name": .string(m)]) }
        let stations = ["PC-01", "PC-02", "PS-01"]
        for _ in 0..<300 {
            let station = JSONValue.string(stations[Int(rng.next() % 3)])
            let member = JSONValue.string(members[Int(rng.next() % 3)])
            switch rng.next() % 10 {
            case 0, 1: hub.request("member/topup", ["member": member, "amount": .int(Int64(rng.next() % 900) + 1), "method": "cash"])
            case 2: hub.request("session/start", ["station": station, "member": member])
            case 3: hub.request("session/start", ["station": station, "minutes": .int(Int64(rng.next() % 90) + 1),
                                                  "payment": ["method": "account", "member": member]])
            case 4: hub.request("session/stop", ["station": station])
            case 5: hub.request(rng.next() % 2 == 0 ? "session/pause" : "session/resume", ["station": station])
            case 6: hub.request("sale/refund", ["sale": .int(Int64(rng.next() % 20) + 1), "amount": .int(Int64(rng.next() % 300) + 1), "reason": "r"])
            case 7: hub.request("sale/void", ["sale": .int(Int64(rng.next() % 20) + 1), "reason": "r"])
            default:
                hub.advance(seconds: Int64(rng.next() % 1800))
                hub.tick()
            }
        }
        hub.checkLedger()
    }
}

extension Result where Failure == CommandError {
    var failureCode: ErrorCode? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
