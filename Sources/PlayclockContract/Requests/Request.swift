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
        case .sessionStart: return .sessionStart(try station(body, "station"), seconds: try duration(body, limits))
        case .sessionExtend: return .sessionExtend(try station(body, "station"), seconds: try duration(body, limits))
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
        }
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
    private static func fieldUpdate<Value>(
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
    private static func duration(_ body: [String: JSONValue], _ limits: RequestLimits) throws(CommandError) -> Int64 {
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
