import PlayclockContract

/// What time does to a station's session: expiry, warnings, countdowns, the expired hold.
extension HubCore {
    /// The expired hold is over: the station shows `idle` (or `offline`) again. Returns whether
    /// it ended.
    func endExpiredHold(_ entry: inout StationEntry, now: Timestamp) -> Bool {
        guard let until = entry.expiredUntilMonoNanos, until <= now.monoNanos else { return false }
        entry.occupancy = .idle
        return true
    }

    /// Expires the session when its time is up, or announces the warning thresholds it crossed
    /// and sends the countdown when one is due. Returns whether the station's state changed.
    mutating func sessionTimers(_ entry: inout StationEntry, now: Timestamp, into actions: inout [HubAction]) -> Bool {
        guard case .running(var session, let nextCountdown) = entry.occupancy else { return false }
        let id = entry.station.id
        let remaining = session.remainingMillis(at: now)
        if remaining == 0 {
            session.reanchor(at: now)
            session.endedAtWallMillis = now.wallMillis
            session.endReason = .expired
            actions += settle(&session, station: id, now: now, actor: nil)
            entry.occupancy = .expired(session: session.id, untilMonoNanos: now.monoNanos + policy.expiredHoldSeconds * 1_000_000_000)
            actions.append(.saveSession(session))
            actions.append(event(.sessionExpired, station: id, session: session.id,
                                 data: ["used_s": .int(seconds(session.usedMillisAtAnchor))], now: now))
            actions += locking(id, session: session.id, reason: .expired, now: now)
            actions.append(publishCountdown(entry, now: now))
            actions += sessionLeft(&entry, session: session, now: now)
            return true
        }
        var stateChanged = false
        let due = policy.warnThresholdsSeconds.filter { !session.warnedThresholds.contains($0) && remaining <= $0 * 1000 }
        if let threshold = due.min() {
            session.warnedThresholds.append(contentsOf: due)
            session.warnedThresholds.sort()
            entry.update(session)
            actions.append(.saveSession(session))
            actions.append(publishControl(.warn(grant(id, session, now: now), thresholdSeconds: threshold)))
            actions.append(event(.sessionWarned, station: id, session: session.id,
                                 data: ["threshold_s": .int(threshold), "remaining_s": .int(seconds(remaining))], now: now))
            stateChanged = true
        }
        if let c = nextCountdown, c <= now.monoNanos {
            actions.append(publishCountdown(entry, now: now))
            if let next = self.nextCountdown(of: session, after: now) { entry.scheduleCountdown(at: next) }
        }
        return stateChanged
    }

    /// When the next countdown of a running session is due: every `countdownIntervalSeconds`
    /// (landing on the start of the final phase), then every `finalCountdownIntervalSeconds`.
    /// nil for a paused session, which sends none.
    func nextCountdown(of session: SessionRecord, after now: Timestamp) -> Int64? {
        guard !session.paused else { return nil }
        let remaining = session.remainingMillis(at: now)
        let finalPhase = policy.finalPhaseSeconds * 1000
        let step: Int64
        if remaining > finalPhase {
            step = min(policy.countdownIntervalSeconds * 1000, remaining - finalPhase)
        } else {
            step = policy.finalCountdownIntervalSeconds * 1000
        }
        return now.monoNanos + max(step, 1) * 1_000_000
    }
}
