import PlayclockContract

/// Coming back: after the hub starts (sessions loaded from the store) and after every
/// (re)connect to the broker.
extension HubCore {
    /// Brings sessions loaded from the store up to date after a start.
    ///
    /// Within the same boot the monotonic clock says exactly how long the hub was down. Across a
    /// reboot (new `bootID`) the monotonic clock restarted, so time used is taken up to the last
    /// moment the previous run was known alive (`lastAlive`, recorded every few seconds), and the
    /// downtime after it from the wall clock, never negative: a wall clock that went backwards
    /// grants at most the heartbeat interval of the previous run, never steals.
    public mutating func recover(lastAlive: Timestamp?, now: Timestamp) -> [HubAction] {
        var actions: [HubAction] = [event(.hubStarted, station: nil, session: nil, data: [:], now: now)]
        for id in stationIDs {
            guard var entry = entries[id], var session = entry.session, session.anchor.bootID != now.bootID else { continue }
            let reference: (wall: Int64, used: Int64)
            if let alive = lastAlive, alive.bootID == session.anchor.bootID, alive.monoNanos >= session.anchor.monoNanos {
                reference = (alive.wallMillis, session.usedMillis(at: alive))
            } else {
                reference = (session.anchor.wallMillis, session.usedMillisAtAnchor)
            }
            let downtime = session.paused ? 0 : max(0, now.wallMillis - reference.wall)
            session.usedMillisAtAnchor = min(session.grantedMillis, reference.used + downtime)
            session.anchor = now
            entry.update(session)
            entries[id] = entry
            actions.append(.saveSession(session))
            actions.append(
                event(.sessionRecovered, station: id, session: session.id,
                      data: ["downtime_ms": .int(downtime), "remaining_s": .int(seconds(session.remainingMillis(at: now)))],
                      now: now))
        }
        actions += tick(now: now)
        return actions
    }

    /// Everything a freshly (re)connected broker must see: every retained state, and the control
    /// each station should be under right now (agents treat repeated lock/unlock as idempotent).
    ///
    /// Agents may have heartbeated unheard while the hub was away from the broker: every station
    /// not known to be offline gets one heartbeat window from now before silence counts.
    public mutating func resync(now: Timestamp) -> [HubAction] {
        var actions: [HubAction] = []
        let grace = now.monoNanos + policy.offlineAfterNanos
        for id in stationIDs {
            guard var entry = entries[id] else { continue }
            let waitsForAgent: Bool
            switch entry.presence {
            case .online: waitsForAgent = true
            case .unknown: waitsForAgent = entry.station.kind.expectsAgent
            case .offline: waitsForAgent = false
            }
            if waitsForAgent, (entry.silenceDeadlineMonoNanos ?? .min) < grace {
                entry.setSilenceDeadline(grace)
                entries[id] = entry
            }
            actions += reconcilePlug(id, now: now, force: true)
            if let binding = entry.station.plug, entry.plug.online != false {
                let queryID = nextRPCID()
                if let query = binding.driver.statusQuery(rpcSource: rpcSource, rpcID: queryID) {
                    entries[id]?.plug.statusQueryID = queryID
                    actions.append(.publish(query))
                }
            }
            actions.append(publishState(entries[id] ?? entry, now: now))
            actions.append(controlSync(entry, now: now))
            if let session = entry.session {
                actions.append(publishCountdown(entry, now: now))
                if let next = nextCountdown(of: session, after: now) { entries[id]?.scheduleCountdown(at: next) }
            }
        }
        return actions
    }
}
