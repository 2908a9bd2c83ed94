import PlayclockContract

/// Driving each station's plug toward what the station needs, and reading what plugs report.
extension HubCore {
    /// Every plug topic the hub must be subscribed to for the current bindings.
    public var plugSubscriptions: Set<String> { Set(plugIndex.keys) }

    mutating func rebuildPlugIndex() {
        var index: [String: [StationID]] = [:]
        for (id, entry) in entries.byID {
            guard let binding = entry.station.plug else { continue }
            for topic in binding.statusTopics(rpcSource: rpcSource) { index[topic, default: []].append(id) }
        }
        plugIndex = index.mapValues { $0.sorted() }
        plugIndexGeneration += 1
    }

    mutating func nextRPCID() -> Int64 {
        lastRPCID += 1
        return lastRPCID
    }

    /// `plug/power`: switches the station's plug on (a power hold) or off by hand, outside a session.
    mutating func powerPlug(_ id: StationID, on: Bool, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        var entry = try entry(id)
        guard entry.station.plug != nil else { throw CommandError(.noPlug, "station \(id) has no plug") }
        if let session = entry.session {
            throw CommandError(
                .sessionRunning,
                "station \(id) has session \(session.id): power follows the session; pause or stop the session instead")
        }
        entry.station.powerHold = on
        // Power is by hand from now on: what is left of the last session's graceful delay no longer applies.
        entry.plug.offAtMonoNanos = nil
        entries[id] = entry
        return (stateJSON(entry, now: now), [
            .saveStation(entry.station),
            event(.plugManual, station: id, session: nil, data: ["on": .bool(on)], now: now),
            publishState(entry, now: now),
        ])
    }

    /// Whether the station's plug should be on now: a running session, the graceful delay after
    /// one, or a hold set by hand while there is no session (it wins over maintenance: power for a
    /// console update).
    func wantsPower(_ entry: StationEntry, now: Timestamp) -> Bool {
        switch entry.occupancy {
        case .running: return !entry.station.maintenance
        case .paused: return false
        case .idle, .expired:
            if entry.station.powerHold { return true }
            if entry.station.maintenance { return false }
            return entry.plug.offAtMonoNanos.map { $0 > now.monoNanos } ?? false
        }
    }

    /// When a session leaves a station: start the graceful delay and report a session that never drew power.
    mutating func sessionLeft(_ entry: inout StationEntry, session: SessionRecord, now: Timestamp) -> [HubAction] {
        guard entry.station.plug != nil else { return [] }
        var actions: [HubAction] = []
        if let most = entry.plug.sessionMaxWatts, most < policy.plugActiveWatts {
            actions.append(event(.sessionIdlePower, station: entry.station.id, session: session.id,
                                 data: ["max_watts": .double(most)], now: now))
        }
        entry.plug.sessionMaxWatts = nil
        // A paused session's plug is already off: no grace period to give.
        if policy.plugOffDelaySeconds > 0, !session.paused {
            entry.plug.offAtMonoNanos = now.monoNanos + policy.plugOffDelaySeconds * 1_000_000_000
        }
        return actions
    }

    /// Drives the plug toward what the station needs: sends when the wanted state changes (or
    /// `force`), re-sends with backoff until a report confirms it, and raises `unconfirmed` after
    /// `plugAlarmAfterAttempts` silent sends. Nothing is sent to a plug known to be offline: it is
    /// re-asserted when it comes back.
    mutating func reconcilePlug(_ id: StationID, now: Timestamp, force: Bool = false) -> [HubAction] {
        guard var entry = entries[id], let binding = entry.station.plug else { return [] }
        var actions: [HubAction] = []
        if let off = entry.plug.offAtMonoNanos, off <= now.monoNanos { entry.plug.offAtMonoNanos = nil }
        let want = wantsPower(entry, now: now)
        var send = false
        if entry.plug.commanded != want || force {
            entry.plug.commanded = want
            entry.plug.attempts = 0
            entry.plug.retryAtMonoNanos = nil
            send = true
        } else if let retry = entry.plug.retryAtMonoNanos, retry <= now.monoNanos {
            entry.plug.retryAtMonoNanos = nil
            send = !entry.plug.confirmed
        }
        if send, entry.plug.online != false {
            entry.plug.attempts += 1
            if entry.plug.attempts > policy.plugAlarmAfterAttempts, entry.plug.alarm == nil {
                entry.plug.alarm = .unconfirmed
                actions.append(event(.plugAlarm, station: id, session: entry.session?.id,
                                     data: ["reason": JSONValue(PlugAlarm.unconfirmed), "attempts": .int(Int64(entry.plug.attempts - 1))], now: now))
            }
            let driver = binding.driver
            var offTimer = PlugOffTimer.unchanged
            if want, driver.hasOffTimer, let session = entry.session {
                // Covers the graceful delay too, or the plug would cut power in the middle of it.
                offTimer = .after(
                    seconds: seconds(session.remainingMillis(at: now)) + policy.plugOffDelaySeconds + policy.plugFailsafeMarginSeconds)
            } else if want, driver.hasOffTimer, entry.station.powerHold {
                // Held by hand: no paid time to enforce, and a timer left armed by the last session
                // (Tasmota's PulseTime is a setting) must not cut the console off in the middle of an update.
                offTimer = .disarmed
            }
            for message in driver.switchCommands(on: want, offTimer: offTimer, rpcSource: rpcSource, rpcID: nextRPCID()) {
                actions.append(.publish(message))
            }
            let backoff = min(policy.plugRetryMaxSeconds, policy.plugRetryInitialSeconds << min(entry.plug.attempts - 1, 20))
            entry.plug.retryAtMonoNanos = now.monoNanos + backoff * 1_000_000_000
        }
        let alarmChanged = entry.plug.alarm != entries[id]?.plug.alarm
        entries[id] = entry
        if alarmChanged { actions.append(publishState(entry, now: now)) }
        return actions
    }

    /// A message on a plug topic. Returns nil when the topic belongs to no bound plug.
    public mutating func plugMessage(topic: String, payload: [UInt8], now: Timestamp) -> [HubAction]? {
        guard let ids = plugIndex[topic] else { return nil }
        return ids.flatMap { plugReport($0, topic: topic, payload: payload, now: now) }
    }

    private mutating func plugReport(_ id: StationID, topic: String, payload: [UInt8], now: Timestamp) -> [HubAction] {
        guard var entry = entries[id], let binding = entry.station.plug else { return [] }
        let reports = binding.driver.interpret(topic: topic, payload: payload, rpcSource: rpcSource, queryID: entry.plug.statusQueryID)
        guard !reports.isEmpty else { return [] }
        let before = entry.plug
        var actions: [HubAction] = []
        var reassert = false
        for report in reports {
            switch report {
            case .online(true) where entry.plug.online != true:
                entry.plug.online = true
                if before.online == false {
                    actions.append(event(.plugOnline, station: id, session: entry.session?.id, data: [:], now: now))
                }
                if entry.plug.alarm == .offline {
                    entry.plug.alarm = nil
                    actions.append(event(.plugAlarmCleared, station: id, session: entry.session?.id,
                                         data: ["reason": JSONValue(PlugAlarm.offline)], now: now))
                }
                reassert = true
            case .online(false) where entry.plug.online != false:
                entry.plug.online = false
                entry.plug.alarm = .offline
                actions.append(event(.plugAlarm, station: id, session: entry.session?.id, data: ["reason": JSONValue(PlugAlarm.offline)], now: now))
            case .online:
                break
            case .power(let on):
                entry.plug.power = on
                guard let commanded = entry.plug.commanded else { break }
                if on == commanded {
                    entry.plug.attempts = 0
                    entry.plug.retryAtMonoNanos = nil
                    if entry.plug.alarm == .unconfirmed {
                        entry.plug.alarm = nil
                        actions.append(event(.plugAlarmCleared, station: id, session: entry.session?.id,
                                             data: ["reason": JSONValue(PlugAlarm.unconfirmed)], now: now))
                    }
                } else if entry.plug.retryAtMonoNanos == nil {
                    // It was confirmed, and now it is not: a button press, a power cut restoring it.
                    actions.append(event(.plugMismatch, station: id, session: entry.session?.id,
                                         data: ["reported": .bool(on), "wanted": .bool(commanded)], now: now))
                    reassert = true
                }
            case .implausibleWatts:
                implausiblePlugReadings += 1
            case .watts(let watts) where watts > policy.plugMaxWatts:
                implausiblePlugReadings += 1
            case .watts(let watts):
                entry.plug.watts = watts
                if entry.session != nil {
                    entry.plug.sessionMaxWatts = max(entry.plug.sessionMaxWatts ?? 0, watts)
                } else if watts >= policy.plugActiveWatts, !entry.plug.bypassReported, !wantsPower(entry, now: now) {
                    entry.plug.bypassReported = true
                    actions.append(event(.plugBypass, station: id, session: nil, data: ["watts": .double(watts)], now: now))
                }
                if watts < policy.plugActiveWatts { entry.plug.bypassReported = false }
            }
        }
        entries[id] = entry
        if reassert { actions += reconcilePlug(id, now: now, force: true) }
        let after = entries[id]?.plug ?? entry.plug
        let wattsMoved = abs((after.watts ?? -1) - (before.watts ?? -1)) >= 1
        if after.online != before.online || after.power != before.power || after.confirmed != before.confirmed
            || after.alarm != before.alarm || wattsMoved
        {
            actions.append(publishState(entries[id] ?? entry, now: now))
        }
        return actions
    }
}
