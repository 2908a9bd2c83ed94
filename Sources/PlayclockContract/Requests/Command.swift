/// A staff command, decoded and validated from a request (`R/hub/request/<verb>` + JSON body).
public enum Command: Sendable, Equatable {
    case stationAdd(id: StationID, name: String, kind: StationKind, plug: PlugBinding?, zone: String? = nil)
    case stationUpdate(StationID, name: String?, kind: StationKind?, plug: PlugUpdate, zone: FieldUpdate<String> = .keep)
    case stationRemove(StationID)
    case stationList
    case stationGet(StationID)
    case stationMaintenance(StationID, enabled: Bool)
    case sessionStart(StationID, seconds: Int64)
    case sessionExtend(StationID, seconds: Int64)
    case sessionPause(StationID)
    case sessionResume(StationID)
    case sessionStop(StationID)
    case sessionTransfer(from: StationID, to: StationID)
    /// Switches the station's plug on (a power hold) or off by hand, outside a session.
    case plugPower(StationID, on: Bool)
    /// A one-off order to the station's agent (`station/logout`, `station/shutdown`,
    /// `station/restart`, `station/message`). `text` is the message's (normalized, see
    /// `OrderText`), nil for every other action.
    case stationOrder(StationID, action: OrderAction, text: String? = nil)
    /// `session/start` with money: sold at the desk, billed to a member's balance, or paid later.
    case sessionStartPaid(StationID, SessionPayment)
    /// `session/extend` sold at the desk (minutes or a package, paid by cash, card or account).
    case sessionExtendPaid(StationID, TimeItem, SalePayment)
    case pricingGet
    case priceQuote(StationID, TimeItem, member: String?)
    case rateSet(RatePlan)
    case rateRemove(String)
    case packageSet(PricePackage)
    case packageRemove(String)
    case tierSet(MemberTier)
    case tierRemove(String)
    case memberAdd(NewMember)
    case memberGet(String)
    case memberFind(query: String, limit: Int)
    case memberUpdate(String, name: String?, contact: FieldUpdate<String>, tier: FieldUpdate<String>)
    case memberTopup(String, amount: Int64, tender: PaymentTender)
    case memberSetPIN(String, pin: MemberPIN)
    case memberDisable(String, disabled: Bool)
    /// Gives back `amount` of a sale (nil: all that is left of it), the way it was paid.
    case saleRefund(sale: Int64, amount: Int64?, reason: String)
    case saleVoid(sale: Int64, reason: String)
    case productList
    case productSet(Product)
    case productRemove(String)
    /// A basket of products and time on stations, paid in one or more payments: one sale.
    case saleCreate(items: [BasketLine], payments: [BasketPayment], member: String?)
    /// Opens the sending account's shift with the float counted into the drawer.
    case shiftOpen(float: Int64, note: String?)
    /// Closes the sending account's shift with the cash counted: the Z report.
    case shiftClose(counted: Int64, note: String?)
    case shiftPayIn(amount: Int64, reason: String)
    case shiftPayOut(amount: Int64, reason: String)
    /// A shift's report: nil, the sending account's open shift (an X report); a closed one's Z report.
    case shiftGet(Int64?)

    /// What `station/update` does to an optional field: absent keeps it, `null` removes it, a
    /// value sets it.
    public enum FieldUpdate<Value: Sendable & Equatable>: Sendable, Equatable {
        case keep
        case remove
        case set(Value)
    }

    /// What `station/update` does to the plug binding.
    public typealias PlugUpdate = FieldUpdate<PlugBinding>

    /// Every verb's topic level, in declaration order.
    public static let verbs = Verb.allCases.map(\.rawValue)

    public var verb: Verb {
        switch self {
        case .stationAdd: return .stationAdd
        case .stationUpdate: return .stationUpdate
        case .stationRemove: return .stationRemove
        case .stationList: return .stationList
        case .stationGet: return .stationGet
        case .stationMaintenance: return .stationMaintenance
        case .sessionStart: return .sessionStart
        case .sessionExtend: return .sessionExtend
        case .sessionPause: return .sessionPause
        case .sessionResume: return .sessionResume
        case .sessionStop: return .sessionStop
        case .sessionTransfer: return .sessionTransfer
        case .plugPower: return .plugPower
        case .stationOrder(_, let action, _): return Verb(order: action)
        case .sessionStartPaid: return .sessionStart
        case .sessionExtendPaid: return .sessionExtend
        case .pricingGet: return .pricingGet
        case .priceQuote: return .priceQuote
        case .rateSet: return .rateSet
        case .rateRemove: return .rateRemove
        case .packageSet: return .packageSet
        case .packageRemove: return .packageRemove
        case .tierSet: return .tierSet
        case .tierRemove: return .tierRemove
        case .memberAdd: return .memberAdd
        case .memberGet: return .memberGet
        case .memberFind: return .memberFind
        case .memberUpdate: return .memberUpdate
        case .memberTopup: return .memberTopup
        case .memberSetPIN: return .memberSetPIN
        case .memberDisable: return .memberDisable
        case .saleRefund: return .saleRefund
        case .saleVoid: return .saleVoid
        case .productList: return .productList
        case .productSet: return .productSet
        case .productRemove: return .productRemove
        case .saleCreate: return .saleCreate
        case .shiftOpen: return .shiftOpen
        case .shiftClose: return .shiftClose
        case .shiftPayIn: return .shiftPayIn
        case .shiftPayOut: return .shiftPayOut
        case .shiftGet: return .shiftGet
        }
    }

    /// The stations whose state the command may change (an order changes none: it is sent, and
    /// the agent reports it).
    public var stations: [StationID] {
        switch self {
        case .stationList, .stationGet, .stationOrder, .pricingGet, .priceQuote, .rateSet, .rateRemove, .packageSet, .packageRemove,
            .tierSet, .tierRemove, .memberAdd, .memberGet, .memberFind, .memberUpdate, .memberSetPIN, .memberDisable, .saleRefund,
            .saleVoid, .memberTopup, .productList, .productSet, .productRemove, .shiftOpen, .shiftClose, .shiftPayIn, .shiftPayOut,
            .shiftGet:
            // A top-up may extend the member's running session: the core finds that station itself.
            return []
        case .sessionStartPaid(let id, _), .sessionExtendPaid(let id, _, _): return [id]
        case .saleCreate(let items, _, _):
            return items.compactMap { if case .time(let id, _) = $0 { return id } else { return nil } }
        case .stationAdd(let id, _, _, _, _), .stationUpdate(let id, _, _, _, _), .stationRemove(let id),
            .stationMaintenance(let id, _), .sessionStart(let id, _), .sessionExtend(let id, _), .sessionPause(let id),
            .sessionResume(let id), .sessionStop(let id), .plugPower(let id, _):
            return [id]
        case .sessionTransfer(let from, let to): return [from, to]
        }
    }
}

extension Command {
    /// The request body that asks for this command: the one encoding, whose decoding is
    /// `Request.parse` (`parse(verb: c.verb.rawValue, body: c.body)` gives `c` back). Durations
    /// are sent as `seconds`.
    public var body: [String: JSONValue] {
        switch self {
        case .stationList, .pricingGet, .productList:
            return [:]
        case .productSet(let p): return ["product": p.json]
        case .productRemove(let id): return ["product": .string(id)]
        case .saleCreate(let items, let payments, let member):
            var body: [String: JSONValue] = ["items": .array(items.map(\.json)), "payments": .array(payments.map(\.json))]
            if let member { body["member"] = .string(member) }
            return body
        case .shiftOpen(let float, let note):
            var body: [String: JSONValue] = ["float": .int(float)]
            if let note { body["note"] = .string(note) }
            return body
        case .shiftClose(let counted, let note):
            var body: [String: JSONValue] = ["counted": .int(counted)]
            if let note { body["note"] = .string(note) }
            return body
        case .shiftPayIn(let amount, let reason), .shiftPayOut(let amount, let reason):
            return ["amount": .int(amount), "reason": .string(reason)]
        case .shiftGet(let id): return id.map { ["shift": .int($0)] } ?? [:]
        case .sessionStartPaid(let id, let payment):
            var body: [String: JSONValue] = ["station": .string(id.value)]
            switch payment {
            case .desk(let item, let pay):
                Self.put(item, into: &body)
                body["payment"] = pay.json
            case .balance(let member): body["member"] = .string(member)
            case .later: body["payment"] = ["method": "later"]
            }
            return body
        case .sessionExtendPaid(let id, let item, let pay):
            var body: [String: JSONValue] = ["station": .string(id.value), "payment": pay.json]
            Self.put(item, into: &body)
            return body
        case .priceQuote(let id, let item, let member):
            var body: [String: JSONValue] = ["station": .string(id.value)]
            Self.put(item, into: &body)
            if let member { body["member"] = .string(member) }
            return body
        case .rateSet(let plan): return ["plan": plan.json]
        case .rateRemove(let id): return ["plan": .string(id)]
        case .packageSet(let package): return ["package": package.json]
        case .packageRemove(let id): return ["package": .string(id)]
        case .tierSet(let tier): return ["tier": tier.json]
        case .tierRemove(let id): return ["tier": .string(id)]
        case .memberAdd(let m):
            var body: [String: JSONValue] = ["member": .string(m.id), "name": .string(m.name)]
            if let contact = m.contact { body["contact"] = .string(contact) }
            if let tier = m.tier { body["tier"] = .string(tier) }
            if case .plain(let pin)? = m.pin { body["pin"] = .string(pin) }
            return body
        case .memberGet(let id): return ["member": .string(id)]
        case .memberFind(let query, let limit): return ["query": .string(query), "limit": .int(Int64(limit))]
        case .memberUpdate(let id, let name, let contact, let tier):
            var body: [String: JSONValue] = ["member": .string(id)]
            if let name { body["name"] = .string(name) }
            for (key, update) in [("contact", contact), ("tier", tier)] {
                switch update {
                case .keep: break
                case .remove: body[key] = .null
                case .set(let v): body[key] = .string(v)
                }
            }
            return body
        case .memberTopup(let id, let amount, let tender):
            return ["member": .string(id), "amount": .int(amount), "method": .string(tender.rawValue)]
        case .memberSetPIN(let id, let pin):
            if case .plain(let text) = pin { return ["member": .string(id), "pin": .string(text)] }
            return ["member": .string(id)]
        case .memberDisable(let id, let disabled): return ["member": .string(id), "disabled": .bool(disabled)]
        case .saleRefund(let sale, let amount, let reason):
            var body: [String: JSONValue] = ["sale": .int(sale), "reason": .string(reason)]
            if let amount { body["amount"] = .int(amount) }
            return body
        case .saleVoid(let sale, let reason): return ["sale": .int(sale), "reason": .string(reason)]
        case .stationAdd(let id, let name, let kind, let plug, let zone):
            var body: [String: JSONValue] = ["station": .string(id.value), "name": .string(name), "kind": .string(kind.value)]
            if let plug { body["plug"] = plug.json }
            if let zone { body["zone"] = .string(zone) }
            return body
        case .stationUpdate(let id, let name, let kind, let plug, let zone):
            var body: [String: JSONValue] = ["station": .string(id.value)]
            if let name { body["name"] = .string(name) }
            if let kind { body["kind"] = .string(kind.value) }
            switch plug {
            case .keep: break
            case .remove: body["plug"] = .null
            case .set(let binding): body["plug"] = binding.json
            }
            switch zone {
            case .keep: break
            case .remove: body["zone"] = .null
            case .set(let text): body["zone"] = .string(text)
            }
            return body
        case .stationRemove(let id), .stationGet(let id), .sessionPause(let id), .sessionResume(let id), .sessionStop(let id):
            return ["station": .string(id.value)]
        case .stationMaintenance(let id, let enabled):
            return ["station": .string(id.value), "enabled": .bool(enabled)]
        case .sessionStart(let id, let seconds), .sessionExtend(let id, let seconds):
            return ["station": .string(id.value), "seconds": .int(seconds)]
        case .sessionTransfer(let from, let to):
            return ["station": .string(from.value), "to": .string(to.value)]
        case .plugPower(let id, let on):
            return ["station": .string(id.value), "on": .bool(on)]
        case .stationOrder(let id, _, let text):
            var body: [String: JSONValue] = ["station": .string(id.value)]
            if let text { body["text"] = .string(text) }
            return body
        }
    }

    private static func put(_ item: TimeItem, into body: inout [String: JSONValue]) {
        switch item {
        case .seconds(let s): body["seconds"] = .int(s)
        case .package(let p): body["package"] = .string(p)
        }
    }
}

extension Command {
    /// Commands that move money or create accounts: with a `transaction` id they are idempotent
    /// (a retry with the same id gets the first answer again and changes nothing).
    public var isIdempotentByTransaction: Bool {
        switch self {
        case .sessionStartPaid, .sessionExtendPaid, .memberAdd, .memberTopup, .saleRefund, .saleVoid, .saleCreate, .shiftOpen, .shiftClose,
            .shiftPayIn, .shiftPayOut:
            return true
        default: return false
        }
    }

    /// The body a retry must repeat, as canonical JSON, without secrets (a PIN is never kept).
    public var idempotencyBody: String {
        var body = self.body
        body["pin"] = nil
        return String(decoding: JSONCoding.encode(.object(body)), as: UTF8.self)
    }
}
