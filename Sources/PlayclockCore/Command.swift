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

    /// What `station/update` does to an optional field: absent keeps it, `null` removes it, a
    /// value sets it.
    public enum FieldUpdate<Value: Sendable & Equatable>: Sendable, Equatable {
        case keep
        case remove
        case set(Value)
    }

    /// What `station/update` does to the plug binding.
    public typealias PlugUpdate = FieldUpdate<PlugBinding>

    /// Every request verb (`R/hub/request/<verb>`), one per command.
    public enum Verb: String, Sendable, CaseIterable {
        case stationAdd = "station/add", stationUpdate = "station/update", stationRemove = "station/remove"
        case stationList = "station/list", stationGet = "station/get", stationMaintenance = "station/maintenance"
        case sessionStart = "session/start", sessionExtend = "session/extend", sessionPause = "session/pause"
        case sessionResume = "session/resume", sessionStop = "session/stop", sessionTransfer = "session/transfer"
        case plugPower = "plug/power"
    }

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
        }
    }

    /// The stations whose state the command may change.
    public var stations: [StationID] {
        switch self {
        case .stationList, .stationGet: return []
        case .stationAdd(let id, _, _, _, _), .stationUpdate(let id, _, _, _, _), .stationRemove(let id),
            .stationMaintenance(let id, _), .sessionStart(let id, _), .sessionExtend(let id, _), .sessionPause(let id),
            .sessionResume(let id), .sessionStop(let id), .plugPower(let id, _):
            return [id]
        case .sessionTransfer(let from, let to): return [from, to]
        }
    }
}

/// Why a request was refused. `code` is stable (clients switch on it); `message` is for people.
public struct CommandError: Error, Sendable, Equatable {
    public var code: String
    public var message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    static func invalidJSON() -> CommandError { .init("invalid_json", "the request body is not valid JSON") }
    static func unknownStation(_ id: StationID) -> CommandError {
        .init("unknown_station", "station \(id) does not exist")
    }
    static func noSession(_ id: StationID) -> CommandError {
        .init("no_session", "station \(id) has no session")
    }
}

/// A request as it arrives: the verb from the topic, the body, and the transaction id if any.
public struct Request: Sendable, Equatable {
    public var verb: String
    public var command: Command
    public var transaction: JSONValue?

    /// Decodes a request. On failure the error carries the transaction id when one could be read,
    /// so the refusal can still be matched by the client.
    public static func decode(
        verb: String, payload: [UInt8], policy: HubPolicy
    ) -> Result<Request, RequestDecodeError> {
        guard payload.count <= policy.maxRequestBytes else {
            return .failure(
                RequestDecodeError(
                    error: .init("payload_too_large", "the request is \(payload.count) bytes; the limit is \(policy.maxRequestBytes)"),
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
                    RequestDecodeError(error: .init("invalid_request", "the request body must be a JSON object"), transaction: nil))
            }
            body = object
        }
        let transaction = body["transaction"]
        do {
            let command = try parse(verb: verb, body: body, policy: policy)
            return .success(Request(verb: verb, command: command, transaction: transaction))
        } catch {
            return .failure(RequestDecodeError(error: error, transaction: transaction))
        }
    }

    public static func parse(verb: String, body: [String: JSONValue], policy: HubPolicy) throws(CommandError) -> Command {
        switch verb {
        case "station/add":
            let id = try station(body, "station")
            let name = try optionalString(body, "name", maxLength: 64) ?? id.value
            let kind = try optionalKind(body) ?? .pc
            let plug = try body["plug"].flatMap { $0 == .null ? nil : $0 }.map { value throws(CommandError) in try PlugBinding.parse(value) }
            let zone = try body["zone"].flatMap { $0 == .null ? nil : $0 }.map { value throws(CommandError) in try parseZone(value) }
            return .stationAdd(id: id, name: name, kind: kind, plug: plug, zone: zone)
        case "station/update":
            let id = try station(body, "station")
            let plug = try fieldUpdate(body["plug"]) { value throws(CommandError) in try PlugBinding.parse(value) }
            let zone = try fieldUpdate(body["zone"]) { value throws(CommandError) in try parseZone(value) }
            return .stationUpdate(
                id, name: try optionalString(body, "name", maxLength: 64), kind: try optionalKind(body), plug: plug, zone: zone)
        case "station/remove": return .stationRemove(try station(body, "station"))
        case "station/list": return .stationList
        case "station/get": return .stationGet(try station(body, "station"))
        case "station/maintenance":
            let id = try station(body, "station")
            guard let enabled = body["enabled"]?.boolValue else {
                throw CommandError("invalid_request", "\"enabled\" must be true or false")
            }
            return .stationMaintenance(id, enabled: enabled)
        case "session/start": return .sessionStart(try station(body, "station"), seconds: try duration(body, policy))
        case "session/extend": return .sessionExtend(try station(body, "station"), seconds: try duration(body, policy))
        case "session/pause": return .sessionPause(try station(body, "station"))
        case "session/resume": return .sessionResume(try station(body, "station"))
        case "session/stop": return .sessionStop(try station(body, "station"))
        case "session/transfer":
            let from = try station(body, "station")
            let to = try station(body, "to")
            guard from != to else { throw CommandError("invalid_request", "cannot transfer a session to the same station") }
            return .sessionTransfer(from: from, to: to)
        case "plug/power":
            let id = try station(body, "station")
            guard let on = body["on"]?.boolValue else { throw CommandError("invalid_request", "\"on\" must be true or false") }
            return .plugPower(id, on: on)
        default:
            throw CommandError("unknown_verb", "unknown verb \"\(verb)\"; known verbs: \(Command.verbs.joined(separator: ", "))")
        }
    }

    private static func station(_ body: [String: JSONValue], _ key: String) throws(CommandError) -> StationID {
        guard let value = body[key] else { throw CommandError("invalid_request", "\"\(key)\" is required") }
        guard let text = value.stringValue else { throw CommandError("invalid_request", "\"\(key)\" must be a string") }
        guard let id = StationID(text) else {
            throw CommandError(
                "invalid_station_id", "\"\(key)\" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (no '+', '#' or '/')")
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
            throw CommandError(
                "invalid_request",
                "\"zone\" must be a string of 1-\(StationZone.maxLength) characters (leading and trailing spaces are trimmed) without control characters")
        }
        return zone
    }

    private static func optionalKind(_ body: [String: JSONValue]) throws(CommandError) -> StationKind? {
        guard let text = try optionalString(body, "kind", maxLength: 16) else { return nil }
        guard let kind = StationKind(text) else {
            throw CommandError("invalid_request", "kind must be a lower-case word of 1-16 letters, digits or '-' (pc, console, ...)")
        }
        return kind
    }

    private static func optionalString(_ body: [String: JSONValue], _ key: String, maxLength: Int) throws(CommandError) -> String? {
        guard let value = body[key], value != .null else { return nil }
        guard let text = value.stringValue, !text.isEmpty, text.count <= maxLength else {
            throw CommandError("invalid_request", "\"\(key)\" must be a non-empty string of at most \(maxLength) characters")
        }
        return text
    }

    /// `minutes` or `seconds` (exactly one), a whole positive number no larger than the policy allows.
    private static func duration(_ body: [String: JSONValue], _ policy: HubPolicy) throws(CommandError) -> Int64 {
        let minutes = body["minutes"], seconds = body["seconds"]
        let total: Int64
        switch (minutes, seconds) {
        case (.some, .some):
            throw CommandError("invalid_duration", "give either \"minutes\" or \"seconds\", not both")
        case (nil, nil):
            throw CommandError("invalid_duration", "\"minutes\" or \"seconds\" is required")
        case (.some(let m), nil):
            guard let value = m.intValue else { throw CommandError("invalid_duration", "\"minutes\" must be a whole number") }
            guard value > 0, value <= policy.maxSessionSeconds / 60 else {
                throw CommandError("invalid_duration", "\"minutes\" must be between 1 and \(policy.maxSessionSeconds / 60)")
            }
            total = value * 60
        case (nil, .some(let s)):
            guard let value = s.intValue else { throw CommandError("invalid_duration", "\"seconds\" must be a whole number") }
            guard value > 0, value <= policy.maxSessionSeconds else {
                throw CommandError("invalid_duration", "\"seconds\" must be between 1 and \(policy.maxSessionSeconds)")
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
