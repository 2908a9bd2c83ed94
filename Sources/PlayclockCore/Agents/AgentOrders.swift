import PlayclockContract

/// Staff orders to a PC's agent (log out, shut down, restart, show a message) and what the agent
/// reports back on `R/stations/<id>/event`.
extension HubCore {
    /// `station/logout`, `station/shutdown`, `station/restart`, `station/message`: stores
    /// `station.order` and publishes the order on the station's control topic, once. The hub never
    /// repeats an order (unlike lock and unlock); an agent that is offline never gets it (its
    /// session with the broker is clean). Allowed with or without a session, online or not.
    mutating func sendOrder(
        _ id: StationID, action: OrderAction, text: String?, command: String, now: Timestamp
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        guard entry.station.kind.expectsAgent else {
            throw CommandError(.noAgent, "station \(id) is a \(entry.station.kind) and runs no agent to carry out \(action.rawValue)")
        }
        entry.agentLog.sent(command, action)
        entries[id] = entry
        let order = ControlMessage.Order(station: id, command: command, action: action, text: text,
                                         sentAt: ISO8601.string(fromMillis: now.wallMillis))
        var data: [String: JSONValue] = ["action": JSONValue(action), "command": .string(command)]
        if let text = order.text { data["text"] = .string(text) }
        return (["station": .string(id.value), "action": JSONValue(action), "command": .string(command)], [
            event(.stationOrder, station: id, session: entry.session?.id, data: .object(data), now: now),
            publishControl(.order(order)),
        ])
    }

    /// An agent report on `R/stations/<id>/event` (`AgentReportMessage`), as it arrived (`raw` is
    /// the station level of the topic). Stored as `agent.order_done`, `agent.order_failed` or
    /// `agent.tamper`; everything else is ignored and changes nothing but the per-station counts
    /// that keep a flood out of the event log (see `AgentLog`).
    public mutating func agentReport(station raw: String, payload: [UInt8], now: Timestamp) -> AgentReportOutcome {
        guard let id = StationID(raw) else { return .ignored(.invalidStation) }
        guard var entry = entries[id] else { return .ignored(.unknownStation) }
        guard payload.count <= policy.maxAgentReportBytes else { return .ignored(.tooLarge) }
        guard let message = try? AgentReportMessage(payload: payload) else { return .ignored(.invalid) }
        guard message.station == id else { return .ignored(.stationMismatch) }
        let type: EventType
        var data: [String: JSONValue]
        switch message.report {
        case .orderDone(let command, let action), .orderFailed(let command, let action, _):
            switch entry.agentLog.report(command, action) {
            case .accepted: break
            case .duplicate: return .ignored(.duplicateOrder)
            case .unknown: return .ignored(.unknownOrder)
            case .mismatch: return .ignored(.invalid)
            }
            data = ["action": JSONValue(action), "command": .string(command)]
            if case .orderFailed(_, _, let detail) = message.report {
                type = .agentOrderFailed
                data["detail"] = .string(detail)
            } else {
                type = .agentOrderDone
            }
        case .tamper(let reason):
            guard let repeats = entry.agentLog.tamper(reason, now: now.monoNanos) else {
                entries[id] = entry
                return .counted
            }
            type = .agentTamper
            data = ["reason": JSONValue(reason)]
            if repeats > 0 { data["repeated"] = .int(Int64(repeats)) }
        }
        entries[id] = entry
        return .stored([event(type, station: id, session: entry.session?.id, data: .object(data), now: now)])
    }
}

/// What became of an agent report.
public enum AgentReportOutcome: Sendable, Equatable {
    /// Stored as an event.
    case stored([HubAction])
    /// A tamper report within the window of the last one stored for its reason: counted, and
    /// stored as `"repeated": n` with the next one.
    case counted
    case ignored(AgentReportIgnored)

    public var actions: [HubAction] {
        if case .stored(let actions) = self { return actions }
        return []
    }
}

/// Why an agent report changed nothing (a label of `playclock_agent_reports_ignored_total`).
public enum AgentReportIgnored: String, Sendable, CaseIterable {
    case retained
    case invalidStation = "invalid_station"
    case unknownStation = "unknown_station"
    case tooLarge = "too_large"
    /// Not JSON, not an `AgentReportMessage`, or an order report whose action is not the one sent.
    case invalid
    /// `station` in the payload is not the topic's station.
    case stationMismatch = "station_mismatch"
    /// An order report for a command id already reported.
    case duplicateOrder = "duplicate_order"
    /// An order report for a command id the hub did not send the station (or sent too long ago).
    case unknownOrder = "unknown_order"
}
