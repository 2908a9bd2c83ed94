import PlayclockContract

/// Money commands: prices and quotes, desk sales of time and packages, members and their
/// balances, refunds and voids. Every movement of money is a `SaleRecord` with its ledger
/// entries (`MoneyBook.post`), returned as one `.recordSale` action in the same step (so the
/// same SQLite transaction) as the session or member change it pays for.
extension HubCore {
    // MARK: - Lookups

    func catalog() throws(CommandError) -> PricingCatalog {
        guard let catalog = money.catalog else {
            throw CommandError(.noRatePlan, "this hub has no prices: add a \"pricing\" section (currency, timezone, plans) to its config file")
        }
        return catalog
    }

    func member(_ id: String) throws(CommandError) -> MemberAccount {
        guard let m = money[member: id] else { throw CommandError(.unknownMember, "there is no member \(id)") }
        return m
    }

    /// A member who may buy, top up or play: exists and is not disabled.
    func usableMember(_ id: String) throws(CommandError) -> MemberAccount {
        let m = try member(id)
        guard !m.disabled else { throw CommandError(.memberDisabled, "member \(id) is disabled") }
        return m
    }

    func plan(for entry: StationEntry) throws(CommandError) -> RatePlan {
        guard let plan = try catalog().plan(forZone: entry.station.zone, kind: entry.station.kind) else {
            throw CommandError(.noRatePlan, "no rate plan applies to station \(entry.station.id) (zone \(entry.station.zone ?? "none"), kind \(entry.station.kind))")
        }
        return plan
    }

    func discount(of member: MemberAccount?) -> Int64 {
        guard let tier = member?.tier, let t = money.catalog?.tier(id: tier) else { return 0 }
        return t.discountPercent
    }

    /// The station whose running or paused session is `id`.
    func station(ofSession id: String) -> StationID? {
        entries.byID.first { $0.value.session?.id == id }?.key
    }

    /// What the member's running balance session has cost so far (by the billing step): the
    /// part of the balance no other payment may take.
    func reserved(_ m: MemberAccount, now: Timestamp) -> Int64 {
        guard let sid = m.activeSession, let station = station(ofSession: sid), let session = entries[station]?.session,
            let billing = session.billing, let plan = billing.plan
        else { return 0 }
        return pricing.price(plan: plan, runs: chargedRuns(session, billing, now: now), discountPercent: billing.discountPercent).amount
    }

    func available(_ m: MemberAccount, now: Timestamp) -> Int64 { m.balance - reserved(m, now: now) }

    /// The runs a session is charged for: never empty (a session ended at once pays one step from its start).
    func chargedRuns(_ session: SessionRecord, _ billing: SessionBilling, now: Timestamp) -> [PricedRun] {
        let runs = billing.runs(used: session.usedMillis(at: now))
        if !runs.isEmpty { return runs }
        let start = billing.openRunStartWallMillis ?? billing.closedRuns.last?.startWallMillis ?? session.startedAtWallMillis
        return [PricedRun(startWallMillis: start, durationMillis: 0)]
    }

    func memberSummary(_ m: MemberAccount) -> MemberSummary {
        MemberSummary(member: m.id, name: m.name, balance: m.balance, currency: money.currency, balanceText: money.formatted(m.balance))
    }

    func memberJSON(_ m: MemberAccount, now: Timestamp) -> JSONValue {
        var body: [String: JSONValue] = [
            "member": .string(m.id), "name": .string(m.name), "contact": JSONValue(m.contact), "tier": JSONValue(m.tier),
            "discount_percent": .int(discount(of: m)), "balance": .int(m.balance), "available": .int(available(m, now: now)),
            "currency": .string(money.currency), "balance_text": .string(money.formatted(m.balance)),
            "available_text": .string(money.formatted(available(m, now: now))), "disabled": .bool(m.disabled),
            "has_pin": .bool(m.pinHash != nil), "created_at": .string(ISO8601.string(fromMillis: m.createdAtWallMillis)),
            "last_seen": m.lastSeenWallMillis.map { .string(ISO8601.string(fromMillis: $0)) } ?? .null,
            "locked_until": m.lockedUntilWallMillis.flatMap { $0 > now.wallMillis ? .string(ISO8601.string(fromMillis: $0)) : nil } ?? .null,
            "session": .null,
        ]
        if let sid = m.activeSession, let station = station(ofSession: sid) {
            body["session"] = ["id": .string(sid), "station": .string(station.value)]
        }
        return .object(body)
    }

    func saleJSON(_ sale: SaleRecord) -> JSONValue {
        var body = saleFields(sale)
        // What a desk sale bought, for people reading the events: the package, the time granted.
        if let detail = sale.detail.objectValue, sale.kind == .time || sale.kind == .package {
            if let package = detail["package"]?.objectValue {
                body["package"] = package["id"] ?? .null
                body["package_name"] = package["name"] ?? .null
            }
            body["granted_s"] = detail["granted_s"] ?? detail["billed_s"] ?? .null
        }
        return .object(body)
    }

    private func saleFields(_ sale: SaleRecord) -> [String: JSONValue] {
        ["sale": .int(sale.id), "kind": .string(sale.kind.rawValue), "amount": .int(sale.amount), "currency": .string(sale.currency),
         "amount_text": .string(money.formatted(sale.amount)), "method": .string(sale.method),
         "station": JSONValue(sale.station?.value), "session": JSONValue(sale.session), "member": JSONValue(sale.member),
         "refers_to": sale.refersTo.map { .int($0) } ?? .null, "reason": JSONValue(sale.reason),
         "at": .string(ISO8601.string(fromMillis: sale.atWallMillis))]
    }

    // MARK: - Quotes

    /// A desk price for time on a station: what it costs, the time it grants, what is recorded.
    struct DeskPrice {
        var amount: Int64
        var grantedMillis: Int64
        var revenue: LedgerAccount.RevenueKind
        var detail: JSONValue
    }

    /// Prices `item` on the station for `member` (their tier), the time starting at `startWall`
    /// (now for a start, the session's end for an extension). Minutes are priced like a session of
    /// that length: rounded up to the plan's billing step, which is also the time granted.
    func deskPrice(_ entry: StationEntry, item: TimeItem, member: MemberAccount?, startWall: Int64, now: Timestamp) throws(CommandError) -> DeskPrice {
        let catalog = try catalog()
        let pct = discount(of: member)
        switch item {
        case .seconds(let secs):
            let plan = try plan(for: entry)
            let q = pricing.price(plan: plan, runs: [PricedRun(startWallMillis: startWall, durationMillis: secs * 1000)], discountPercent: pct)
            guard q.billedMillis <= policy.maxSessionSeconds * 1000 else {
                throw CommandError(.invalidDuration, "\(secs / 60) minutes round up to \(q.billedMillis / 60_000) with the plan's step: more than the \(policy.maxSessionSeconds / 60) a session may have")
            }
            var detail = q.json.objectValue ?? [:]
            detail["item"] = "time"
            detail["requested_s"] = .int(secs)
            detail["plan_snapshot"] = plan.json
            return DeskPrice(amount: q.amount, grantedMillis: q.billedMillis, revenue: .time, detail: .object(detail))
        case .package(let pid):
            guard let package = catalog.package(id: pid) else { throw CommandError(.unknownPackage, "there is no package \(pid)") }
            guard pricing.isOnSale(package, atWallMillis: now.wallMillis) else {
                throw CommandError(.packageUnavailable, "package \(pid) is not on sale now (its hours or days of sale, or it has expired)")
            }
            if let plans = package.plans {
                let plan = try? plan(for: entry)
                guard let plan, plans.contains(plan.id) else {
                    throw CommandError(.packageUnavailable, "package \(pid) is not valid on station \(entry.station.id) (plan \(plan?.id ?? "none"))")
                }
            }
            if let zones = package.zones {
                guard let zone = entry.station.zone, zones.contains(zone) else {
                    throw CommandError(.packageUnavailable, "package \(pid) is not valid in zone \(entry.station.zone ?? "none")")
                }
            }
            let length = pricing.packageLengthMillis(package, soldAtWallMillis: startWall)
            let amount = pricing.packagePrice(package, discountPercent: pct)
            return DeskPrice(amount: amount, grantedMillis: length, revenue: .package, detail: [
                "item": "package", "package": package.json, "granted_s": .int(seconds(length)), "amount": .int(amount),
                "list_price": .int(package.price), "discount_percent": .int(pct),
            ])
        }
    }

    func quote(_ id: StationID, item: TimeItem, member memberID: String?, now: Timestamp) throws(CommandError) -> JSONValue {
        let entry = try entry(id)
        let m = try memberID.map { id throws(CommandError) in try member(id) }
        let price = try deskPrice(entry, item: item, member: m, startWall: now.wallMillis, now: now)
        var data = price.detail.objectValue ?? [:]
        data["station"] = .string(id.value)
        data["amount"] = .int(price.amount)
        data["currency"] = .string(money.currency)
        data["amount_text"] = .string(money.formatted(price.amount))
        data["granted_s"] = .int(seconds(price.grantedMillis))
        if data["segments"] == nil { data["segments"] = .array([]) }
        data["plan_snapshot"] = nil
        if let m { data["member"] = .string(m.id) }
        return .object(data)
    }

    // MARK: - Sales

    /// Numbers a sale, posts its entries (updating the members' cached balances) and returns it
    /// with the actions that store it, the members it touched and its event.
    mutating func sell(
        _ kind: SaleKind, amount: Int64, method: String, moves: [(from: LedgerAccount, to: LedgerAccount, amount: Int64)],
        station: StationID?, session: String?, member: String?, refersTo: Int64? = nil, reason: String? = nil, detail: JSONValue,
        event type: EventType, now: Timestamp, actor: String?, lines: [SaleLine] = []
    ) -> (sale: SaleRecord, actions: [HubAction]) {
        let id = money.nextSaleID()
        // Everything moved by an account with an open shift belongs to that shift; its cash
        // figures follow every entry into or out of `tender:cash`.
        let shift = actor.flatMap { money[shiftOf: $0] }
        let entries = money.post(
            sale: id, kind: kind, moves: moves, session: session, by: actor, atWallMillis: now.wallMillis, shift: shift?.id)
        let sale = SaleRecord(
            id: id, kind: kind, atWallMillis: now.wallMillis, amount: amount, currency: money.currency, method: method, station: station,
            session: session, member: member, by: actor, refersTo: refersTo, reason: reason, detail: detail, entries: entries,
            shift: shift?.id, lines: lines)
        var actions: [HubAction] = [.recordSale(sale)]
        if var open = shift, let actor {
            for e in entries {
                if e.from == .tender(.cash) { open.cashIn += e.amount }
                if e.to == .tender(.cash) { open.cashOut += e.amount }
            }
            if open != shift {
                money[shiftOf: actor] = open
                actions.append(.saveShift(open))
            }
        }
        var touched: [String] = []
        for e in entries {
            for m in [e.from.memberID, e.to.memberID].compactMap({ $0 }) where !touched.contains(m) { touched.append(m) }
        }
        for m in touched { if let account = money[member: m] { actions.append(.saveMember(account)) } }
        var data = saleJSON(sale).objectValue ?? [:]
        data["at"] = nil
        if let member, let m = money[member: member] { data["balance"] = .int(m.balance) }
        actions.append(event(type, station: station, session: session, data: .object(data), now: now))
        return (sale, actions)
    }

    /// The payer of a desk sale, checked: a usable member who can afford `amount` for `account`.
    func payer(_ payment: SalePayment) throws(CommandError) -> MemberAccount? {
        guard case .account(let id) = payment else { return nil }
        return try usableMember(id)
    }

    func requireAvailable(_ m: MemberAccount, _ amount: Int64, now: Timestamp) throws(CommandError) {
        let left = available(m, now: now)
        guard left >= amount else {
            throw CommandError(.insufficientBalance,
                "member \(m.id) has \(money.formatted(left)) available; this costs \(money.formatted(amount))")
        }
    }

    func source(_ payment: SalePayment) -> LedgerAccount {
        switch payment {
        case .tender(let t): return .tender(t)
        case .account(let m): return .member(m)
        }
    }

    mutating func startPaidSession(
        _ id: StationID, payment: SessionPayment, sessionID: String, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        let entry = try entry(id)
        if let session = entry.session { throw busy(id, session) }
        guard !entry.station.maintenance else { throw CommandError(.maintenance, "station \(id) is in maintenance") }
        switch payment {
        case .desk(let item, let pay):
            if pay == .tender(.cash) { try requireCashShift(actor) }
            let payer = try payer(pay)
            let price = try deskPrice(entry, item: item, member: payer, startWall: now.wallMillis, now: now)
            if let payer { try requireAvailable(payer, price.amount, now: now) }
            let billing = SessionBilling(mode: .prepaid, plan: nil, discountPercent: 0, openRunStartWallMillis: nil)
            var (data, actions) = try startSession(id, millis: price.grantedMillis, sessionID: sessionID, now: now, billing: billing)
            let kind: SaleKind = price.revenue == .package ? .package : .time
            let (sale, saleActions) = sell(
                kind, amount: price.amount, method: pay.method, moves: [(source(pay), .revenue(price.revenue), price.amount)], station: id,
                session: sessionID, member: payer?.id, detail: price.detail, event: .saleCompleted, now: now, actor: actor)
            actions += saleActions
            if let payer { actions += regrant(member: payer.id, now: now) }
            data = merged(data, ["sale": saleJSON(sale)])
            return (data, actions)
        case .balance(let memberID):
            let m = try usableMember(memberID)
            if let other = m.activeSession {
                throw CommandError(.memberBusy, "member \(m.id) is already playing on \(station(ofSession: other).map(\.value) ?? "another station")")
            }
            let plan = try plan(for: entry)
            let pct = discount(of: m)
            let granted = pricing.maxBilledMillis(
                plan: plan, runsSoFar: [], from: now.wallMillis, discountPercent: pct, budget: m.balance,
                capMillis: policy.maxSessionSeconds * 1000)
            guard granted > 0 else {
                let least = pricing.price(plan: plan, runs: [PricedRun(startWallMillis: now.wallMillis, durationMillis: 0)], discountPercent: pct).amount
                throw CommandError(.insufficientBalance,
                    "member \(m.id) has \(money.formatted(m.balance)); a session on \(id) needs at least \(money.formatted(least))")
            }
            let billing = SessionBilling(mode: .balance(member: m.id), plan: plan, discountPercent: pct, openRunStartWallMillis: now.wallMillis)
            var account = m
            account.activeSession = sessionID
            account.lastSeenWallMillis = now.wallMillis
            money[member: m.id] = account
            let (data, actions) = try startSession(id, millis: granted, sessionID: sessionID, now: now, billing: billing)
            return (data, [.saveMember(account)] + actions)
        case .later:
            let plan = try plan(for: entry)
            guard let limit = plan.postpaidLimitMinutes else {
                throw CommandError(.invalidPayment, "rate plan \(plan.id) does not allow pay-later sessions (no postpaid_limit_minutes)")
            }
            let billing = SessionBilling(mode: .postpaid, plan: plan, discountPercent: 0, openRunStartWallMillis: now.wallMillis)
            return try startSession(id, millis: min(limit * 60_000, policy.maxSessionSeconds * 1000), sessionID: sessionID, now: now, billing: billing)
        }
    }

    mutating func extendPaidSession(
        _ id: StationID, item: TimeItem, payment: SalePayment, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        let entry = try entry(id)
        guard let session = entry.session else { throw .noSession(id) }
        try requireDeskExtendable(session, id)
        if payment == .tender(.cash) { try requireCashShift(actor) }
        let payer = try payer(payment)
        let endWall = now.wallMillis + session.remainingMillis(at: now)
        let price = try deskPrice(entry, item: item, member: payer, startWall: endWall, now: now)
        if let payer { try requireAvailable(payer, price.amount, now: now) }
        var (data, actions) = try extendSession(id, millis: price.grantedMillis, now: now)
        let kind: SaleKind = price.revenue == .package ? .package : .time
        let (sale, saleActions) = sell(
            kind, amount: price.amount, method: payment.method, moves: [(source(payment), .revenue(price.revenue), price.amount)],
            station: id, session: session.id, member: payer?.id, detail: price.detail, event: .saleCompleted, now: now, actor: actor)
        actions += saleActions
        if let payer { actions += regrant(member: payer.id, now: now) }
        data = merged(data, ["sale": saleJSON(sale)])
        return (data, actions)
    }

    /// Balance and pay-later sessions get their time from the balance or the plan's limit, not
    /// from the desk.
    func requireDeskExtendable(_ session: SessionRecord, _ id: StationID) throws(CommandError) {
        switch session.billing?.mode {
        case .balance(let m)?:
            throw CommandError(.invalidRequest, "the session on \(id) runs on member \(m)'s balance: top the balance up (member/topup) to extend it")
        case .postpaid?:
            throw CommandError(.invalidRequest, "the session on \(id) is paid later and runs up to its plan's limit: it cannot be extended")
        case .prepaid?, nil:
            return
        }
    }

    func merged(_ data: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        var object = data.objectValue ?? [:]
        for (k, v) in extra { object[k] = v }
        return .object(object)
    }

    // MARK: - Balance sessions

    /// Recomputes how long the member's running balance session may go on, after their balance
    /// changed (a top-up, a payment from the account, a refund to it) or the session resumed.
    mutating func regrant(member id: String, now: Timestamp) -> [HubAction] {
        guard let sid = money[member: id]?.activeSession, let station = station(ofSession: sid) else { return [] }
        return regrant(station: station, now: now)
    }

    /// The largest billed time the member's balance pays for, priced exactly as the session will
    /// be charged: the runs so far, the open one continuing from where it started. A paused
    /// session keeps its time until it resumes.
    mutating func regrant(station id: StationID, now: Timestamp) -> [HubAction] {
        guard var entry = entries[id], case .running(var session, _) = entry.occupancy, let billing = session.billing,
            case .balance(let memberID) = billing.mode, let plan = billing.plan, let m = money[member: memberID],
            let openStart = billing.openRunStartWallMillis
        else { return [] }
        session.reanchor(at: now)
        let used = session.usedMillisAtAnchor
        var granted = pricing.maxBilledMillis(
            plan: plan, runsSoFar: billing.closedRuns, from: openStart, discountPercent: billing.discountPercent, budget: m.balance,
            capMillis: used + policy.maxSessionSeconds * 1000)
        granted = max(granted, used)
        let old = session.grantedMillis
        guard granted != old else { return [] }
        session.grantedMillis = granted
        let remaining = session.remainingMillis(at: now)
        session.warnedThresholds = prePassed(remaining: remaining)
        entry.hold(session, nextCountdownMonoNanos: nextCountdown(of: session, after: now))
        entries[id] = entry
        let change = granted - old
        var actions: [HubAction] = [
            .saveSession(session),
            event(.sessionExtended, station: id, session: session.id,
                  data: ["added_s": .int(change >= 0 ? seconds(change) : -seconds(-change)), "remaining_s": .int(seconds(remaining)),
                         "member": .string(memberID), "reason": "balance"], now: now),
        ]
        actions.append(publishControl(change > 0
            ? .extend(grant(id, session, now: now), addedSeconds: seconds(change))
            : unlock(id, session, now: now)))
        actions += [publishCountdown(entry, now: now), publishState(entry, now: now)]
        // A console's plug carries its own off-timer for the session's end: re-arm it.
        actions += reconcilePlug(id, now: now, force: true)
        return actions
    }

    /// Charges a balance or pay-later session that ends now (stop, expiry, sign-out): its runs
    /// priced by its plan, from the member's balance or to `due:postpaid`. `session` is the ended
    /// record; its billing's open run is closed here, so store it after this.
    mutating func settle(_ session: inout SessionRecord, station id: StationID, now: Timestamp, actor: String?) -> [HubAction] {
        guard var billing = session.billing, let plan = billing.plan else { return [] }
        let memberID: String?
        switch billing.mode {
        case .prepaid: return []
        case .balance(let m): memberID = m
        case .postpaid: memberID = nil
        }
        let runs = chargedRuns(session, billing, now: now)
        billing.closeRun(used: session.usedMillisAtAnchor)
        session.billing = billing
        let q = pricing.price(plan: plan, runs: runs, discountPercent: billing.discountPercent)
        var amount = q.amount
        if let memberID, let m = money[member: memberID], amount > m.balance {
            // Cannot happen while every payment from the account checks what the session has
            // cost so far; kept so a balance never goes below zero whatever went wrong.
            amount = max(0, m.balance)
        }
        var detail = q.json.objectValue ?? [:]
        detail["plan_snapshot"] = plan.json
        if amount != q.amount { detail["capped_at_balance"] = .int(amount) }
        let from: LedgerAccount = memberID.map { .member($0) } ?? .duePostpaid
        let (_, actions) = sell(
            .sessionCharge, amount: amount, method: memberID == nil ? "later" : "balance", moves: [(from, .revenue(.time), amount)],
            station: id, session: session.id, member: memberID, detail: .object(detail), event: .sessionCharged, now: now, actor: actor)
        var out = actions
        if let memberID, var m = money[member: memberID] {
            m.activeSession = nil
            m.lastSeenWallMillis = now.wallMillis
            money[member: memberID] = m
            out.removeAll { if case .saveMember(let a) = $0 { return a.id == memberID } else { return false } }
            out.insert(.saveMember(m), at: 0)
        }
        return out
    }

    // MARK: - Members

    mutating func addMember(_ new: NewMember, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard money[member: new.id] == nil else { throw CommandError(.memberExists, "member \(new.id) exists already") }
        if let tier = new.tier, try catalog().tier(id: tier) == nil { throw CommandError(.unknownTier, "there is no tier \(tier)") }
        var m = MemberAccount(id: new.id, name: new.name, contact: new.contact, tier: new.tier, createdAtWallMillis: now.wallMillis)
        if let pin = new.pin { m.pinHash = Self.hash(of: pin) }
        money[member: m.id] = m
        return (memberJSON(m, now: now), [
            .saveMember(m),
            event(.memberAdded, station: nil, session: nil, data: ["member": .string(m.id), "name": .string(m.name), "tier": JSONValue(m.tier)], now: now),
        ])
    }

    static func hash(of pin: MemberPIN) -> String {
        switch pin {
        case .hashed(let h): return h
        case .plain: preconditionFailure("the hub hashes a PIN before the core sees it")
        }
    }

    mutating func updateMember(
        _ id: String, name: String?, contact: Command.FieldUpdate<String>, tier: Command.FieldUpdate<String>, now: Timestamp
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        var m = try member(id)
        if let name { m.name = name }
        switch contact {
        case .keep: break
        case .remove: m.contact = nil
        case .set(let c): m.contact = c
        }
        switch tier {
        case .keep: break
        case .remove: m.tier = nil
        case .set(let t):
            guard try catalog().tier(id: t) != nil else { throw CommandError(.unknownTier, "there is no tier \(t)") }
            m.tier = t
        }
        money[member: id] = m
        return (memberJSON(m, now: now), [
            .saveMember(m),
            event(.memberUpdated, station: nil, session: nil, data: ["member": .string(id), "name": .string(m.name), "tier": JSONValue(m.tier)], now: now),
        ])
    }

    mutating func setPIN(_ id: String, pin: MemberPIN, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var m = try member(id)
        m.pinHash = Self.hash(of: pin)
        m.failedPINs = 0
        m.lockedUntilWallMillis = nil
        money[member: id] = m
        return (memberJSON(m, now: now), [.saveMember(m), event(.memberPINSet, station: nil, session: nil, data: ["member": .string(id)], now: now)])
    }

    mutating func disableMember(_ id: String, disabled: Bool, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var m = try member(id)
        m.disabled = disabled
        money[member: id] = m
        return (memberJSON(m, now: now), [
            .saveMember(m), event(.memberDisabled, station: nil, session: nil, data: ["member": .string(id), "disabled": .bool(disabled)], now: now),
        ])
    }

    mutating func topUp(_ id: String, amount: Int64, tender: PaymentTender, now: Timestamp, actor: String?) throws(CommandError) -> (JSONValue, [HubAction]) {
        _ = try catalog()
        if tender == .cash { try requireCashShift(actor) }
        let m = try usableMember(id)
        guard m.balance <= MoneyLimits.maxAmount - amount else {
            throw CommandError(.invalidAmount, "member \(id)'s balance would pass \(money.formatted(MoneyLimits.maxAmount))")
        }
        let (sale, saleActions) = sell(
            .topup, amount: amount, method: tender.rawValue, moves: [(.tender(tender), .member(id), amount)], station: nil, session: nil,
            member: id, detail: [:], event: .memberTopup, now: now, actor: actor)
        let actions = saleActions + regrant(member: id, now: now)
        return (merged(memberJSON(money[member: id] ?? m, now: now), ["sale": saleJSON(sale)]), actions)
    }

    // MARK: - Refunds and voids

    mutating func refund(
        _ saleID: Int64, amount: Int64?, reason: String, context: CommandContext, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard let sale = context.sale, sale.id == saleID else { throw CommandError(.unknownSale, "there is no sale \(saleID)") }
        guard !context.voided else { throw CommandError(.notVoidable, "sale \(saleID) was voided: there is nothing left to refund") }
        guard [.time, .package, .topup, .sessionCharge].contains(sale.kind), let original = sale.entries.first else {
            let hint = sale.kind == .basket ? " (a counter sale is voided whole: sale/void)" : ""
            throw CommandError(.notVoidable, "sale \(saleID) is a \(sale.kind.rawValue): only desk sales of time, top-ups and session charges can be refunded\(hint)")
        }
        if original.from == .tender(.cash) { try requireCashShift(actor) }
        let left = sale.amount - context.refundedAmount
        let give = amount ?? left
        guard left > 0, give <= left else {
            throw CommandError(.refundTooLarge, "sale \(saleID) has \(money.formatted(max(0, left))) left to refund; asked for \(money.formatted(give))")
        }
        if let m = original.to.memberID { try requireAvailable(try member(m), give, now: now) }
        let (refund, actions) = sell(
            .refund, amount: give, method: sale.method, moves: [(original.to, original.from, give)], station: sale.station,
            session: sale.session, member: sale.member, refersTo: saleID, reason: reason,
            detail: ["refunded_before": .int(context.refundedAmount), "sale_amount": .int(sale.amount)], event: .saleRefunded, now: now, actor: actor)
        var out = actions
        for m in [original.from.memberID, original.to.memberID].compactMap({ $0 }) { out += regrant(member: m, now: now) }
        return (saleJSON(refund), out)
    }

    mutating func void(
        _ saleID: Int64, reason: String, context: CommandContext, now: Timestamp, actor: String?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard let sale = context.sale, sale.id == saleID else { throw CommandError(.unknownSale, "there is no sale \(saleID)") }
        guard !context.voided else { throw CommandError(.notVoidable, "sale \(saleID) was voided already") }
        guard [.time, .package, .topup, .basket].contains(sale.kind) else {
            throw CommandError(.notVoidable, "sale \(saleID) is a \(sale.kind.rawValue): only desk sales, counter sales and top-ups can be voided (refund a session charge instead)")
        }
        if sale.entries.contains(where: { $0.from == .tender(.cash) }) { try requireCashShift(actor) }
        guard context.refundedAmount == 0 else { throw CommandError(.notVoidable, "sale \(saleID) was partly refunded: refund the rest instead") }
        guard now.wallMillis - sale.atWallMillis <= policy.voidWindowSeconds * 1000 else {
            throw CommandError(.notVoidable, "sale \(saleID) is more than \(policy.voidWindowSeconds / 60) minutes old: refund it instead")
        }
        for sid in Set([sale.session].compactMap { $0 } + sale.lines.compactMap(\.session)) {
            if let station = station(ofSession: sid) {
                throw CommandError(.notVoidable, "the session sale \(saleID) paid for is still on \(station): stop it first")
            }
        }
        for e in sale.entries { if let m = e.to.memberID { try requireAvailable(try member(m), e.amount, now: now) } }
        let (void, actions) = sell(
            .void, amount: sale.amount, method: sale.method, moves: sale.entries.map { ($0.to, $0.from, $0.amount) }, station: sale.station,
            session: sale.session, member: sale.member, refersTo: saleID, reason: reason, detail: ["voided_kind": .string(sale.kind.rawValue)],
            event: .saleVoided, now: now, actor: actor)
        var out = actions + restock(sale.lines)
        for e in sale.entries { for m in [e.from.memberID, e.to.memberID].compactMap({ $0 }) { out += regrant(member: m, now: now) } }
        return (saleJSON(void), out)
    }

    // MARK: - Prices

    mutating func editCatalog(
        now: Timestamp, actor: String?, _ edit: (inout PricingCatalog) throws(CommandError) -> Void
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        var catalog = try catalog()
        try edit(&catalog)
        money.catalog = catalog
        return (catalog.json, [
            .savePricing(catalog, by: actor, atWallMillis: now.wallMillis),
            event(.pricingChanged, station: nil, session: nil, data: [
                "plans": .array(catalog.plans.map { .string($0.id) }), "packages": .array(catalog.packages.map { .string($0.id) }),
                "tiers": .array(catalog.tiers.map { .string($0.id) }),
            ], now: now),
        ])
    }
}
