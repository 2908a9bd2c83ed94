import PlayclockContract

/// Every payload the hub publishes about a station, built as the contract's message types.
extension HubCore {
    /// The wall-clock end shown to people. Computed from the anchor so that every message about
    /// the same session carries the same value (no millisecond jitter between readings); if the
    /// wall clock has drifted or jumped more than a second against the monotonic clock since the
    /// anchor, it follows the wall clock as it is now.
    func endsAt(_ session: SessionRecord, now: Timestamp) -> String? {
        guard !session.paused else { return nil }
        let live = now.wallMillis + session.remainingMillis(at: now)
        let anchored = session.anchor.wallMillis + session.grantedMillis - session.usedMillisAtAnchor
        return ISO8601.string(fromMillis: abs(live - anchored) <= 1000 ? anchored : live)
    }

    /// What staff see, in order of precedence: maintenance, a plug alarm, a session (paused,
    /// warned or active), the expired hold, offline, idle.
    func status(_ entry: StationEntry, now: Timestamp) -> StationStatus {
        if entry.station.maintenance { return .maintenance }
        if entry.station.plug != nil, entry.plug.alarm != nil { return .alarm }
        switch entry.occupancy {
        case .paused: return .paused
        case .running(let session, _):
            let warnAt = (policy.warnThresholdsSeconds.max() ?? 0) * 1000
            return session.remainingMillis(at: now) <= warnAt ? .warned : .active
        case .expired: return .expired
        case .idle: return entry.online == false ? .offline : .idle
        }
    }

    func stateJSON(_ entry: StationEntry, now: Timestamp) -> JSONValue { stateMessage(entry, now: now).json }

    func stateMessage(_ entry: StationEntry, now: Timestamp) -> StationStateMessage {
        let session = entry.session.map { s in
            StationStateMessage.Session(
                id: s.id, startedAt: ISO8601.string(fromMillis: s.startedAtWallMillis), endsAt: endsAt(s, now: now),
                remainingSeconds: seconds(s.remainingMillis(at: now)), grantedSeconds: seconds(s.grantedMillis), paused: s.paused,
                billing: s.billing?.modeName, member: payingMember(s))
        }
        return StationStateMessage(
            station: entry.station.id, name: entry.station.name, kind: entry.station.kind, zone: entry.station.zone,
            online: entry.online, status: status(entry, now: now), maintenance: entry.station.maintenance, session: session,
            agent: entry.agentInfo, plug: plugState(entry), updatedAt: ISO8601.string(fromMillis: now.wallMillis))
    }

    private func plugState(_ entry: StationEntry) -> StationStateMessage.Plug? {
        guard let binding = entry.station.plug else { return nil }
        let p = entry.plug
        return StationStateMessage.Plug(
            binding: binding, online: p.online, power: p.power, watts: p.watts.map { ($0 * 10).rounded() / 10 },
            confirmed: p.confirmed, alarm: p.alarm, hold: entry.station.powerHold)
    }

    func publishState(_ entry: StationEntry, now: Timestamp) -> HubAction {
        .publish(Outbound(topic: topics.state(entry.station.id), payload: stateMessage(entry, now: now).payload,
                          qos: .atLeastOnce, retain: true))
    }

    func publishCountdown(_ entry: StationEntry, now: Timestamp) -> HubAction {
        let message = entry.session.map { s in
            CountdownMessage(station: entry.station.id, session: s.id, remainingSeconds: seconds(s.remainingMillis(at: now)),
                             endsAt: endsAt(s, now: now), paused: s.paused)
        } ?? .none(entry.station.id)
        return .publish(Outbound(topic: topics.countdown(entry.station.id), payload: message.payload, qos: .atMostOnce, retain: false))
    }

    func publishControl(_ message: ControlMessage) -> HubAction {
        .publish(Outbound(topic: topics.control(message.station), payload: message.payload, qos: .atLeastOnce, retain: false))
    }

    /// The control the station should be under right now (sent on reconnect, when it comes
    /// online, and to converge an agent that disagrees).
    func controlSync(_ entry: StationEntry, now: Timestamp) -> HubAction {
        let id = entry.station.id
        switch entry.occupancy {
        case .running(let session, _): return publishControl(unlock(id, session, now: now))
        case .paused(let session): return publishControl(lock(id, session: session.id, reason: .paused, now: now))
        case .expired(let session, _):
            return publishControl(lock(id, session: session, reason: entry.station.maintenance ? .maintenance : .expired, now: now))
        case .idle: return publishControl(lock(id, session: nil, reason: entry.station.maintenance ? .maintenance : .idle, now: now))
        }
    }

    /// A lock sent for a session-changing reason, and its audit event.
    mutating func locking(_ id: StationID, session: String, reason: LockReason, now: Timestamp) -> [HubAction] {
        [publishControl(lock(id, session: session, reason: reason, now: now)),
         event(.stationLocked, station: id, session: session, data: ["reason": JSONValue(reason)], now: now)]
    }

    mutating func unlocking(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> [HubAction] {
        [publishControl(unlock(id, session, now: now)),
         event(.stationUnlocked, station: id, session: session.id, data: [:], now: now)]
    }

    func grant(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> ControlMessage.Grant {
        ControlMessage.Grant(station: id, session: session.id, endsAt: endsAt(session, now: now),
                             remainingSeconds: seconds(session.remainingMillis(at: now)), sentAt: ISO8601.string(fromMillis: now.wallMillis),
                             member: payingMember(session))
    }

    /// The member whose balance pays for the session, as stations show them.
    func payingMember(_ session: SessionRecord) -> MemberSummary? {
        session.billing?.member.flatMap { money[member: $0] }.map(memberSummary)
    }

    func unlock(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> ControlMessage {
        .unlock(grant(id, session, now: now))
    }

    func lock(_ id: StationID, session: String?, reason: LockReason, now: Timestamp) -> ControlMessage {
        .lock(.init(station: id, session: session, reason: reason, sentAt: ISO8601.string(fromMillis: now.wallMillis)))
    }
}
