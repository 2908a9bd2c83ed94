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
        }
    }

    /// The stations whose state the command may change (an order changes none: it is sent, and
    /// the agent reports it).
    public var stations: [StationID] {
        switch self {
        case .stationList, .stationGet, .stationOrder: return []
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
        case .stationList:
            return [:]
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
}
