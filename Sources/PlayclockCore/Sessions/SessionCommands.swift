import PlayclockContract

/// Staff commands on sessions: start, extend, pause, resume, stop, transfer.
extension HubCore {
    mutating func startSession(_ id: StationID, seconds secs: Int64, sessionID: String, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        try startSession(id, millis: secs * 1000, sessionID: sessionID, now: now, billing: nil)
    }

    /// Starts a session of `granted` milliseconds, paid for as `billing` says (nil: no money).
    mutating func startSession(
        _ id: StationID, millis granted: Int64, sessionID: String, now: Timestamp, billing: SessionBilling?
    ) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        if let session = entry.session { throw busy(id, session) }
        guard !entry.station.maintenance else { throw CommandError(.maintenance, "station \(id) is in maintenance") }
        let session = SessionRecord(
            id: sessionID, station: id, grantedMillis: granted, usedMillisAtAnchor: 0, anchor: now, paused: false,
            startedAtWallMillis: now.wallMillis, warnedThresholds: prePassed(remaining: granted), billing: billing)
        let releasedHold = receive(session, on: &entry, now: now)
        entries[id] = entry
        var data: [String: JSONValue] = ["granted_s": .int(seconds(granted))]
        if let billing {
            data["billing"] = .string(billing.modeName)
            if let m = billing.member { data["member"] = .string(m) }
        }
        return (stateJSON(entry, now: now), (releasedHold ? [.saveStation(entry.station)] : []) + [
            .saveSession(session),
            event(.sessionStarted, station: id, session: session.id, data: .object(data), now: now),
        ] + unlocking(id, session, now: now) + [
            publishCountdown(entry, now: now),
            publishState(entry, now: now),
        ])
    }

    mutating func extendSession(_ id: StationID, seconds secs: Int64, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        if let session = try entry(id).session { try requireDeskExtendable(session, id) }
        return try extendSession(id, millis: secs * 1000, now: now)
    }

    mutating func extendSession(_ id: StationID, millis added: Int64, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        let secs = seconds(added)
        var entry = try entry(id)
        guard var session = entry.session else { throw .noSession(id) }
        session.reanchor(at: now)
        let remaining = session.remainingMillis(at: now) + added
        guard remaining <= policy.maxSessionSeconds * 1000 else {
            throw CommandError(.invalidDuration, "the session would have more than \(policy.maxSessionSeconds) seconds left")
        }
        session.grantedMillis += added
        session.warnedThresholds = prePassed(remaining: remaining)
        entry.hold(session, nextCountdownMonoNanos: nextCountdown(of: session, after: now))
        entries[id] = entry
        var actions: [HubAction] = [
            .saveSession(session),
            event(.sessionExtended, station: id, session: session.id,
                  data: ["added_s": .int(secs), "remaining_s": .int(seconds(remaining))], now: now),
        ]
        if !session.paused {
            actions.append(publishControl(.extend(grant(id, session, now: now), addedSeconds: secs)))
        }
        actions += [publishCountdown(entry, now: now), publishState(entry, now: now)]
        return (stateJSON(entry, now: now), actions)
    }

    mutating func pauseSession(_ id: StationID, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        guard var session = entry.session else { throw .noSession(id) }
        guard !session.paused else { throw CommandError(.sessionPaused, "the session on \(id) is already paused") }
        session.reanchor(at: now)
        session.paused = true
        session.billing?.closeRun(used: session.usedMillisAtAnchor)
        entry.occupancy = .paused(session)
        entries[id] = entry
        return (stateJSON(entry, now: now), [
            .saveSession(session),
            event(.sessionPaused, station: id, session: session.id,
                  data: ["remaining_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
        ] + locking(id, session: session.id, reason: .paused, now: now) + [
            publishCountdown(entry, now: now),
            publishState(entry, now: now),
        ])
    }

    mutating func resumeSession(_ id: StationID, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        guard var session = entry.session else { throw .noSession(id) }
        guard session.paused else { throw CommandError(.sessionNotPaused, "the session on \(id) is not paused") }
        session.paused = false
        session.anchor = now
        if session.billing?.plan != nil { session.billing?.openRun(atWallMillis: now.wallMillis, used: session.usedMillisAtAnchor) }
        entry.occupancy = .running(session, nextCountdownMonoNanos: nextCountdown(of: session, after: now))
        entries[id] = entry
        // Prices may differ now: a balance session's time is worked out again from here.
        let regranted = regrant(station: id, now: now)
        if let current = entries[id], let s = current.session { entry = current; session = s }
        return (stateJSON(entry, now: now), regranted.filter(\.isStoreWrite) + [
            .saveSession(session),
            event(.sessionResumed, station: id, session: session.id,
                  data: ["remaining_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
        ] + unlocking(id, session, now: now) + [
            publishCountdown(entry, now: now),
            publishState(entry, now: now),
        ])
    }

    mutating func stopSession(_ id: StationID, now: Timestamp, actor: String? = nil) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        guard var session = entry.session else { throw .noSession(id) }
        session.reanchor(at: now)
        session.endedAtWallMillis = now.wallMillis
        session.endReason = .stopped
        let charge = settle(&session, station: id, now: now, actor: actor)
        entry.occupancy = .idle
        let left = sessionLeft(&entry, session: session, now: now)
        entries[id] = entry
        return (stateJSON(entry, now: now), left + charge + [
            .saveSession(session),
            event(.sessionStopped, station: id, session: session.id,
                  data: ["used_s": .int(seconds(session.usedMillisAtAnchor)),
                         "unused_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
        ] + locking(id, session: session.id, reason: .stopped, now: now) + [
            publishCountdown(entry, now: now),
            publishState(entry, now: now),
        ])
    }

    mutating func transferSession(from fromID: StationID, to toID: StationID, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var from = try entry(fromID)
        var to = try entry(toID)
        guard var session = from.session else { throw .noSession(fromID) }
        if let other = to.session { throw busy(toID, other) }
        guard !to.station.maintenance else { throw CommandError(.maintenance, "station \(toID) is in maintenance") }
        session.reanchor(at: now)
        session.station = toID
        from.occupancy = .idle
        let releasedHold = receive(session, on: &to, now: now)
        let left = sessionLeft(&from, session: session, now: now)
        entries[fromID] = from
        entries[toID] = to
        var actions: [HubAction] = left + (releasedHold ? [.saveStation(to.station)] : []) + [
            .saveSession(session),
            event(.sessionTransferred, station: fromID, session: session.id,
                  data: ["to": .string(toID.value), "remaining_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
        ]
        actions += locking(fromID, session: session.id, reason: .transferred, now: now)
        actions += [publishCountdown(from, now: now), publishState(from, now: now)]
        actions += session.paused
            ? locking(toID, session: session.id, reason: .paused, now: now)
            : unlocking(toID, session, now: now)
        actions += [publishCountdown(to, now: now), publishState(to, now: now)]
        return (["from": stateJSON(from, now: now), "to": stateJSON(to, now: now)], actions)
    }

    // MARK: - Shared steps

    /// Puts a session (new, or arriving by transfer) on a station: it ends any expired hold,
    /// schedules the countdown, starts the plug's session record afresh, and releases a
    /// hand-set power hold (the session owns the power now; a hold would keep the plug on after
    /// it ends). Returns whether a hold was released, so the caller stores the station.
    mutating func receive(_ session: SessionRecord, on entry: inout StationEntry, now: Timestamp) -> Bool {
        entry.hold(session, nextCountdownMonoNanos: nextCountdown(of: session, after: now))
        entry.plug.sessionMaxWatts = nil
        entry.plug.offAtMonoNanos = nil
        let releasedHold = entry.station.powerHold
        entry.station.powerHold = false
        return releasedHold
    }

    func busy(_ id: StationID, _ session: SessionRecord) -> CommandError {
        CommandError(.stationBusy, "station \(id) has session \(session.id)")
    }

    /// Thresholds at or above the remaining time are not announced (a 3-minute session gets the
    /// 1-minute warning, not the 5-minute one).
    func prePassed(remaining: Int64) -> [Int64] {
        policy.warnThresholdsSeconds.filter { $0 * 1000 >= remaining }.sorted()
    }
}
