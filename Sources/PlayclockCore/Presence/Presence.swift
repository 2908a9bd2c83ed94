import PlayclockContract

/// What the hub knows of each station's agent: heartbeats, the agent's own presence topic, and
/// the silence after which a station is declared offline.
extension HubCore {
    /// An agent heartbeat on `R/stations/<id>/heartbeat` (`HeartbeatMessage`).
    ///
    /// An online station's heartbeats closer together than a fifth of the heartbeat interval are
    /// redundant and ignored unread (`redundantHeartbeats`): an agent account flooding its own
    /// topic, say with a field that changes every time, cannot make the hub republish the
    /// station's state (to every dashboard) more than five times an interval.
    public mutating func heartbeat(station raw: String, payload: [UInt8], now: Timestamp) throws(CommandError) -> [HubAction] {
        let id = try knownStation(raw)
        if let entry = entries[id], case .online(let seen, _) = entry.presence,
           now.monoNanos - seen < policy.heartbeatIntervalSeconds * 200_000_000 {
            redundantHeartbeats += 1
            return []
        }
        guard payload.count <= policy.maxHeartbeatBytes else {
            throw CommandError(.payloadTooLarge, "heartbeat is \(payload.count) bytes; the limit is \(policy.maxHeartbeatBytes)")
        }
        guard let body = try? JSONCoding.decode(payload), body.objectValue != nil else { throw .invalidJSON() }
        let beat: HeartbeatMessage
        do { beat = try HeartbeatMessage(json: body) } catch { throw CommandError(.invalidRequest, error.message) }
        return seen(id, info: beat.info, now: now)
    }

    /// The agent's own presence topic `R/stations/<id>/agent`: `online`, or `offline` (its will).
    public mutating func agentPresence(station raw: String, payload: [UInt8], now: Timestamp) throws(CommandError) -> [HubAction] {
        let id = try knownStation(raw)
        switch String(decoding: payload, as: UTF8.self) {
        case "online":
            return seen(id, info: nil, now: now)
        case "offline":
            guard var entry = entries[id], entry.online != false else { return [] }
            entry.presence = .offline(lastSeenMonoNanos: entry.lastSeenMonoNanos)
            entries[id] = entry
            return [
                event(.stationOffline, station: id, session: entry.session?.id, data: ["reason": JSONValue(OfflineReason.agentOffline)], now: now),
                publishState(entry, now: now),
            ]
        default:
            throw CommandError(.invalidRequest, "agent presence must be \"online\" or \"offline\"")
        }
    }

    /// The broker connection is gone: nothing can be heard, so silence stops counting (no station
    /// goes offline for heartbeats the hub could not receive). `resync` restarts the windows.
    public mutating func brokerLost() {
        for id in entries.idsWithSilenceDeadline {
            entries[id]?.setSilenceDeadline(nil)
        }
    }

    /// The station was heard from: online now, with a fresh silence window. Control is re-sent
    /// when it just came online, or (at most once a heartbeat interval) when its agent reports a
    /// lock state other than the one the hub wants.
    private mutating func seen(_ id: StationID, info: [String: JSONValue]?, now: Timestamp) -> [HubAction] {
        guard var entry = entries[id] else { return [] }
        var actions: [HubAction] = []
        let cameOnline = entry.online != true
        entry.presence = .online(lastSeenMonoNanos: now.monoNanos, silenceDeadlineMonoNanos: now.monoNanos + policy.offlineAfterNanos)
        let infoChanged = info.map { $0 != entry.agentInfo } ?? false
        if let info { entry.agentInfo = info }

        var sync = cameOnline
        if !cameOnline, let locked = entry.agentInfo["locked"]?.boolValue, locked != shouldBeLocked(entry) {
            // The agent disagrees with the hub: re-send, at most once per heartbeat interval.
            let interval = policy.heartbeatIntervalSeconds * 1_000_000_000
            sync = entry.lastSyncMonoNanos.map { now.monoNanos - $0 >= interval } ?? true
        }
        if sync { entry.lastSyncMonoNanos = now.monoNanos }
        entries[id] = entry

        if cameOnline {
            actions.append(event(.stationOnline, station: id, session: entry.session?.id, data: [:], now: now))
        }
        if sync { actions.append(controlSync(entry, now: now)) }
        if cameOnline || infoChanged { actions.append(publishState(entry, now: now)) }
        return actions
    }

    private func shouldBeLocked(_ entry: StationEntry) -> Bool {
        switch entry.occupancy {
        case .running: return false
        case .idle, .paused, .expired: return true
        }
    }

    /// The silence window passed: a station not already offline goes offline, `heartbeat_timeout`
    /// if it had been heard, `no_heartbeat` if not since the hub (re)connected. Returns whether
    /// the station's state changed.
    mutating func silenceElapsed(_ entry: inout StationEntry, now: Timestamp, into actions: inout [HubAction]) -> Bool {
        guard let silence = entry.silenceDeadlineMonoNanos, silence <= now.monoNanos else { return false }
        let reason: OfflineReason
        switch entry.presence {
        case .online: reason = .heartbeatTimeout
        case .unknown: reason = .noHeartbeat
        case .offline: return false
        }
        entry.presence = .offline(lastSeenMonoNanos: entry.lastSeenMonoNanos)
        actions.append(event(.stationOffline, station: entry.station.id, session: entry.session?.id,
                             data: ["reason": JSONValue(reason)], now: now))
        return true
    }
}
