import PlayclockContract

/// Staff commands on the venue's stations: add, update, remove, maintenance.
extension HubCore {
    mutating func addStation(
        _ id: StationID, name: String, kind: StationKind, plug: PlugBinding?, zone: String?, now: Timestamp
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        guard entries[id] == nil else { throw CommandError(.stationExists, "station \(id) already exists") }
        let station = Station(id: id, name: name, kind: kind, plug: plug, zone: zone)
        // A new PC's agent has not been heard; a console without one is of unknown presence.
        let entry = StationEntry(station: station, presence: kind.expectsAgent ? .offline(lastSeenMonoNanos: nil) : .unknown(silenceDeadlineMonoNanos: nil))
        entries[id] = entry
        return (stateJSON(entry, now: now), [
            .saveStation(station),
            event(.stationAdded, station: id, session: nil,
                  data: ["name": .string(name), "kind": .string(kind.value), "zone": JSONValue(zone)], now: now),
            publishState(entry, now: now),
            publishControl(lock(id, session: nil, reason: .idle, now: now)),
        ])
    }

    mutating func updateStation(
        _ id: StationID, name: String?, kind: StationKind?, plug: Command.PlugUpdate, zone: Command.FieldUpdate<String>, now: Timestamp
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        if let name { entry.station.name = name }
        if let kind {
            let hadAgent = entry.station.kind.expectsAgent
            entry.station.kind = kind
            // Without an agent, a station never heard from is of unknown presence, not offline;
            // with one, it is offline until its agent is heard.
            if !kind.expectsAgent, entry.lastSeenMonoNanos == nil { entry.presence = .unknown(silenceDeadlineMonoNanos: nil) }
            if kind.expectsAgent, !hadAgent, entry.online == nil { entry.presence = .offline(lastSeenMonoNanos: nil) }
        }
        switch plug {
        case .keep: break
        case .remove:
            entry.station.plug = nil
            entry.station.powerHold = false
            entry.plug = PlugRuntime()
        case .set(let binding):
            if binding != entry.station.plug { entry.plug = PlugRuntime() }
            entry.station.plug = binding
        }
        switch zone {
        case .keep: break
        case .remove: entry.station.zone = nil
        case .set(let zone): entry.station.zone = zone
        }
        entries[id] = entry
        return (stateJSON(entry, now: now), [
            .saveStation(entry.station),
            event(.stationUpdated, station: id, session: nil,
                  data: ["name": .string(entry.station.name), "kind": .string(entry.station.kind.value),
                         "plug": entry.station.plug?.json ?? .null, "zone": JSONValue(entry.station.zone)], now: now),
            publishState(entry, now: now),
        ])
    }

    mutating func removeStation(_ id: StationID, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        let entry = try entry(id)
        if let session = entry.session { throw busy(id, session) }
        entries[id] = nil
        return (["station": .string(id.value), "removed": true], [
            .deleteStation(id),
            event(.stationRemoved, station: id, session: nil, data: [:], now: now),
            // An empty retained message clears the station's state from the broker.
            .publish(Outbound(topic: topics.state(id), payload: [], qos: .atLeastOnce, retain: true)),
        ])
    }

    mutating func setMaintenance(_ id: StationID, enabled: Bool, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        if enabled, let session = entry.session { throw busy(id, session) }
        entry.station.maintenance = enabled
        if enabled { entry.occupancy = .idle }  // ends an expired hold
        entries[id] = entry
        var actions: [HubAction] = [
            .saveStation(entry.station),
            event(.stationMaintenance, station: id, session: nil, data: ["enabled": .bool(enabled)], now: now),
        ]
        if enabled { actions.append(publishControl(lock(id, session: nil, reason: .maintenance, now: now))) }
        actions.append(publishState(entry, now: now))
        return (stateJSON(entry, now: now), actions)
    }
}
