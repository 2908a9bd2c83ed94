/// A request as it arrives: the verb from the topic, the body, and the transaction id if any.
public struct Request: Sendable, Equatable {
    public var verb: String
    public var command: Command
    public var transaction: JSONValue?

    /// Decodes a request. On failure the error carries the transaction id when one could be read,
    /// so the refusal can still be matched by the client.
    public static func decode(
        verb: String, payload: [UInt8], limits: RequestLimits
    ) -> Result<Request, RequestDecodeError> {
        guard payload.count <= limits.maxRequestBytes else {
            return .failure(
                RequestDecodeError(
                    error: .init(.payloadTooLarge, "the request is \(payload.count) bytes; the limit is \(limits.maxRequestBytes)"),
                    transaction: nil))
        }
        let body: [String: JSONValue]
        if payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            body = [:]  // an empty body is an empty object: `station/list` needs nothing
        } else {
            guard let decoded = try? JSONCoding.decode(payload) else {
                return .failure(RequestDecodeError(error: .invalidJSON(), transaction: nil))
            }
            guard let object = decoded.objectValue else {
                return .failure(
                    RequestDecodeError(error: .init(.invalidRequest, "the request body must be a JSON object"), transaction: nil))
            }
            body = object
        }
        let transaction = body["transaction"]
        do {
            let command = try parse(verb: verb, body: body, limits: limits)
            return .success(Request(verb: verb, command: command, transaction: transaction))
        } catch {
            return .failure(RequestDecodeError(error: error, transaction: transaction))
        }
    }

    public static func parse(verb: String, body: [String: JSONValue], limits: RequestLimits) throws(CommandError) -> Command {
        guard let known = Verb(rawValue: verb) else {
            throw CommandError(.unknownVerb, "unknown verb \"\(verb)\"; known verbs: \(Command.verbs.joined(separator: ", "))")
        }
        switch known {
        case .stationAdd:
            let id = try station(body, "station")
            let name = try optionalString(body, "name", maxLength: 64) ?? id.value
            let kind = try optionalKind(body) ?? .pc
            let plug = try body["plug"].flatMap { $0 == .null ? nil : $0 }.map { value throws(CommandError) in try PlugBinding.parse(value) }
            let zone = try body["zone"].flatMap { $0 == .null ? nil : $0 }.map { value throws(CommandError) in try parseZone(value) }
            return .stationAdd(id: id, name: name, kind: kind, plug: plug, zone: zone)
        case .stationUpdate:
            let id = try station(body, "station")
            let plug = try fieldUpdate(body["plug"]) { value throws(CommandError) in try PlugBinding.parse(value) }
            let zone = try fieldUpdate(body["zone"]) { value throws(CommandError) in try parseZone(value) }
            return .stationUpdate(
                id, name: try optionalString(body, "name", maxLength: 64), kind: try optionalKind(body), plug: plug, zone: zone)
        case .stationRemove: return .stationRemove(try station(body, "station"))
        case .stationList: return .stationList
        case .stationGet: return .stationGet(try station(body, "station"))
        case .stationMaintenance:
            let id = try station(body, "station")
            guard let enabled = body["enabled"]?.boolValue else {
                throw CommandError(.invalidRequest, "\"enabled\" must be true or false")
            }
            return .stationMaintenance(id, enabled: enabled)
        case .sessionStart: return try sessionStart(body, limits)
        case .sessionExtend:
            let id = try station(body, "station")
            if body["payment"] == nil && body["package"] == nil {
                return .sessionExtend(id, seconds: try duration(body, limits))
            }
            let item = try MoneyRequests.timeItem(body, limits: limits) { () throws(CommandError) in try duration(body, limits) }
            return .sessionExtendPaid(id, item, try MoneyRequests.salePayment(body["payment"]))
        case .sessionPause: return .sessionPause(try station(body, "station"))
        case .sessionResume: return .sessionResume(try station(body, "station"))
        case .sessionStop: return .sessionStop(try station(body, "station"))
        case .sessionTransfer:
            let from = try station(body, "station")
            let to = try station(body, "to")
            guard from != to else { throw CommandError(.invalidRequest, "cannot transfer a session to the same station") }
            return .sessionTransfer(from: from, to: to)
        case .plugPower:
            let id = try station(body, "station")
            guard let on = body["on"]?.boolValue else { throw CommandError(.invalidRequest, "\"on\" must be true or false") }
            return .plugPower(id, on: on)
        case .stationLogout: return .stationOrder(try station(body, "station"), action: .logout)
        case .stationShutdown: return .stationOrder(try station(body, "station"), action: .shutdown)
        case .stationRestart: return .stationOrder(try station(body, "station"), action: .restart)
        case .stationMessage:
            let id = try station(body, "station")
            guard let raw = body["text"]?.stringValue, let text = OrderText.normalized(raw) else {
                throw CommandError(.invalidRequest,
                    "\"text\" must be a string of 1-\(OrderText.maxLength) characters (leading and trailing spaces are trimmed) without control characters other than line breaks (\\n)")
            }
            return .stationOrder(id, action: .message, text: text)
        case .pricingGet: return .pricingGet
        case .priceQuote:
            let id = try station(body, "station")
            let item = try MoneyRequests.timeItem(body, limits: limits) { () throws(CommandError) in try duration(body, limits) }
            let member = body["member"].flatMap { $0 == .null ? nil : $0 } == nil ? nil : try MoneyRequests.memberID(body)
            return .priceQuote(id, item, member: member)
        case .rateSet: return .rateSet(try RatePlan.parse(try MoneyRequests.object(body, "plan"), path: "plan"))
        case .rateRemove: return .rateRemove(try MoneyRequests.catalogID(body, "plan"))
        case .packageSet: return .packageSet(try PricePackage.parse(try MoneyRequests.object(body, "package"), path: "package"))
        case .packageRemove: return .packageRemove(try MoneyRequests.catalogID(body, "package"))
        case .tierSet: return .tierSet(try MemberTier.parse(try MoneyRequests.object(body, "tier"), path: "tier"))
        case .tierRemove: return .tierRemove(try MoneyRequests.catalogID(body, "tier"))
        case .memberAdd:
            let id = try MoneyRequests.memberID(body)
            let name = try MoneyRequests.text(body, "name", maxLength: MoneyLimits.maxNameLength, required: true) ?? id
            let contact = try MoneyRequests.text(body, "contact", maxLength: MoneyLimits.maxContactLength, required: false)
            let tier = body["tier"].flatMap { $0 == .null ? nil : $0 } == nil ? nil : try MoneyRequests.catalogID(body, "tier")
            let pin = try body["pin"].flatMap { $0 == .null ? nil : $0 }.map { v throws(CommandError) in try MoneyRequests.pin(v) }
            return .memberAdd(NewMember(id: id, name: name, contact: contact, tier: tier, pin: pin))
        case .memberGet: return .memberGet(try MoneyRequests.memberID(body))
        case .memberFind:
            guard let raw = body["query"]?.stringValue, let query = DisplayText.normalized(raw, maxLength: 64) else {
                throw CommandError(.invalidRequest, "\"query\" must be a string of 1-64 characters (part of a member's id or name)")
            }
            var limit = 20
            if let l = body["limit"] {
                guard case .int(let n) = l, n >= 1, n <= Int64(MoneyLimits.maxFindResults) else {
                    throw CommandError(.invalidRequest, "\"limit\" must be a whole number from 1 to \(MoneyLimits.maxFindResults)")
                }
                limit = Int(n)
            }
            return .memberFind(query: query, limit: limit)
        case .memberUpdate:
            let id = try MoneyRequests.memberID(body)
            let name = try MoneyRequests.text(body, "name", maxLength: MoneyLimits.maxNameLength, required: false)
            let contact = try fieldUpdate(body["contact"]) { v throws(CommandError) in
                try MoneyRequests.text(["contact": v], "contact", maxLength: MoneyLimits.maxContactLength, required: true) ?? ""
            }
            let tier = try fieldUpdate(body["tier"]) { v throws(CommandError) in try MoneyRequests.catalogID(["tier": v], "tier") }
            return .memberUpdate(id, name: name, contact: contact, tier: tier)
        case .memberTopup:
            return .memberTopup(
                try MoneyRequests.memberID(body), amount: try MoneyRequests.amount(body), tender: try MoneyRequests.tender(body["method"]))
        case .memberSetPIN:
            guard let pin = body["pin"] else { throw CommandError(.invalidRequest, "\"pin\" is required") }
            return .memberSetPIN(try MoneyRequests.memberID(body), pin: try MoneyRequests.pin(pin))
        case .memberDisable:
            let id = try MoneyRequests.memberID(body)
            var disabled = true
            if let d = body["disabled"] {
                guard let b = d.boolValue else { throw CommandError(.invalidRequest, "\"disabled\" must be true or false") }
                disabled = b
            }
            return .memberDisable(id, disabled: disabled)
        case .saleRefund:
            let sale = try MoneyRequests.saleID(body)
            let amount = body["amount"] == nil ? nil : try MoneyRequests.amount(body)
            let reason = try MoneyRequests.text(body, "reason", maxLength: MoneyLimits.maxReasonLength, required: true) ?? ""
            return .saleRefund(sale: sale, amount: amount, reason: reason)
        case .saleVoid:
            let sale = try MoneyRequests.saleID(body)
            let reason = try MoneyRequests.text(body, "reason", maxLength: MoneyLimits.maxReasonLength, required: true) ?? ""
            return .saleVoid(sale: sale, reason: reason)
        case .productList: return .productList
        case .productSet: return .productSet(try Product.parse(try MoneyRequests.object(body, "product"), path: "product"))
        case .productRemove: return .productRemove(try MoneyRequests.catalogID(body, "product"))
        case .saleCreate:
            let basket = try CounterRequests.basket(body, limits: limits)
            return .saleCreate(items: basket.lines, payments: basket.payments, member: basket.member)
        case .shiftOpen:
            return .shiftOpen(float: try CounterRequests.counted(body, "float"), note: try CounterRequests.note(body))
        case .shiftClose:
            return .shiftClose(counted: try CounterRequests.counted(body, "counted"), note: try CounterRequests.note(body))
        case .shiftPayIn, .shiftPayOut:
            let amount = try MoneyRequests.amount(body)
            let reason = try MoneyRequests.text(body, "reason", maxLength: MoneyLimits.maxReasonLength, required: true) ?? ""
            return known == .shiftPayIn ? .shiftPayIn(amount: amount, reason: reason) : .shiftPayOut(amount: amount, reason: reason)
        case .shiftGet: return .shiftGet(try CounterRequests.shiftID(body))
        }
    }

    /// `session/start`: without money as before (`minutes`/`seconds`); sold at the desk
    /// (`minutes`/`seconds` or `package`, and `payment`); on a member's balance (`member`); or
    /// paid later (`"payment": {"method": "later"}`).
    private static func sessionStart(_ body: [String: JSONValue], _ limits: RequestLimits) throws(CommandError) -> Command {
        let id = try station(body, "station")
        let payment = body["payment"]
        if let member = body["member"], member != .null {
            guard payment == nil, body["package"] == nil, body["minutes"] == nil, body["seconds"] == nil else {
                throw CommandError(.invalidRequest,
                    "\"member\" starts a session billed to the member's balance as it is used, with no minutes, package or payment; to sell a fixed time paid from the account, send \"payment\": {\"method\": \"account\", \"member\": \"<id>\"}")
            }
            return .sessionStartPaid(id, .balance(member: try MoneyRequests.memberID(body)))
        }
        if let payment, payment.objectValue?["method"]?.stringValue == "later" {
            guard payment.objectValue?.count == 1, body["package"] == nil, body["minutes"] == nil, body["seconds"] == nil else {
                throw CommandError(.invalidRequest, "a pay-later session takes no minutes or package: it runs up to the plan's limit and is charged when it ends")
            }
            return .sessionStartPaid(id, .later)
        }
        if payment == nil && body["package"] == nil {
            return .sessionStart(id, seconds: try duration(body, limits))
        }
        let item = try MoneyRequests.timeItem(body, limits: limits) { () throws(CommandError) in try duration(body, limits) }
        return .sessionStartPaid(id, .desk(item, try MoneyRequests.salePayment(payment)))
    }

    private static func station(_ body: [String: JSONValue], _ key: String) throws(CommandError) -> StationID {
        guard let value = body[key] else { throw CommandError(.invalidRequest, "\"\(key)\" is required") }
        guard let text = value.stringValue else { throw CommandError(.invalidRequest, "\"\(key)\" must be a string") }
        guard let id = StationID(text) else {
            throw CommandError(.invalidStationID, "\"\(key)\" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (no '+', '#' or '/')")
        }
        return id
    }

    /// An optional field of `station/update`: absent keeps it, `null` removes it, anything else is parsed.
    static func fieldUpdate<Value>(
        _ value: JSONValue?, _ parse: (JSONValue) throws(CommandError) -> Value
    ) throws(CommandError) -> Command.FieldUpdate<Value> {
        switch value {
        case nil: return .keep
        case .null?: return .remove
        case let value?: return .set(try parse(value))
        }
    }

    private static func parseZone(_ value: JSONValue) throws(CommandError) -> String {
        guard let text = value.stringValue, let zone = StationZone.normalized(text) else {
            throw CommandError(.invalidRequest,
                "\"zone\" must be a string of 1-\(StationZone.maxLength) characters (leading and trailing spaces are trimmed) without control characters")
        }
        return zone
    }

    private static func optionalKind(_ body: [String: JSONValue]) throws(CommandError) -> StationKind? {
        guard let text = try optionalString(body, "kind", maxLength: 16) else { return nil }
        guard let kind = StationKind(text) else {
            throw CommandError(.invalidRequest, "kind must be a lower-case word of 1-16 letters, digits or '-' (pc, console, ...)")
        }
        return kind
    }

    private static func optionalString(_ body: [String: JSONValue], _ key: String, maxLength: Int) throws(CommandError) -> String? {
        guard let value = body[key], value != .null else { return nil }
        guard let text = value.stringValue, !text.isEmpty, text.count <= maxLength else {
            throw CommandError(.invalidRequest, "\"\(key)\" must be a non-empty string of at most \(maxLength) characters")
        }
        return text
    }

    /// `minutes` or `seconds` (exactly one), a whole positive number no larger than the limits allow.
    static func duration(_ body: [String: JSONValue], _ limits: RequestLimits) throws(CommandError) -> Int64 {
        let minutes = body["minutes"], seconds = body["seconds"]
        let total: Int64
        switch (minutes, seconds) {
        case (.some, .some):
            throw CommandError(.invalidDuration, "give either \"minutes\" or \"seconds\", not both")
        case (nil, nil):
            throw CommandError(.invalidDuration, "\"minutes\" or \"seconds\" is required")
        case (.some(let m), nil):
            guard let value = m.intValue else { throw CommandError(.invalidDuration, "\"minutes\" must be a whole number") }
            guard value > 0, value <= limits.maxSessionSeconds / 60 else {
                throw CommandError(.invalidDuration, "\"minutes\" must be between 1 and \(limits.maxSessionSeconds / 60)")
            }
            total = value * 60
        case (nil, .some(let s)):
            guard let value = s.intValue else { throw CommandError(.invalidDuration, "\"seconds\" must be a whole number") }
            guard value > 0, value <= limits.maxSessionSeconds else {
                throw CommandError(.invalidDuration, "\"seconds\" must be between 1 and \(limits.maxSessionSeconds)")
            }
            total = value
        }
        return total
    }
}

public struct RequestDecodeError: Error, Sendable, Equatable {
    public var error: CommandError
    public var transaction: JSONValue?

    public init(error: CommandError, transaction: JSONValue?) {
        self.error = error
        self.transaction = transaction
    }
}

/// The bounds a request is decoded against (the hub takes them from its venue policy).
public struct RequestLimits: Sendable, Equatable {
    /// Largest request payload accepted, in bytes.
    public var maxRequestBytes: Int
    /// Longest session, and longest remaining time after an extension, a request may ask for.
    public var maxSessionSeconds: Int64

    public init(maxRequestBytes: Int = 16 * 1024, maxSessionSeconds: Int64 = 24 * 3600) {
        self.maxRequestBytes = maxRequestBytes
        self.maxSessionSeconds = maxSessionSeconds
    }
}
