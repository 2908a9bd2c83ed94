import PlayclockContract

/// The hub's domain as a sans-I/O state machine.
///
/// It takes events (commands, heartbeats, the passing of time) together with a `Timestamp` and
/// returns `HubAction`s; it never reads a clock, touches a socket or a file. The runtime executes
/// the actions and asks `nextDeadline()` when to call `tick(now:)` again.
public struct HubCore: Sendable {
    public let topics: TopicScheme
    public let policy: HubPolicy
    private var entries: StationTable
    private var lastEventID: Int64
    /// Plug status topic -> stations bound to that plug (a multi-relay strip serves several).
    private var plugIndex: [String: [StationID]] = [:]
    private var lastRPCID: Int64 = 0
    /// Refused requests: the first of a kind per window in full, repeats as one summary.
    private var rejections = RejectionDigest()
    /// Plug power readings ignored as implausible (not a number, negative, not finite, above
    /// `policy.plugMaxWatts`) since the core was made: they change nothing and raise no alarm.
    public private(set) var implausiblePlugReadings = 0
    /// Heartbeats ignored because the station's previous one was too recent (see `heartbeat`).
    public private(set) var redundantHeartbeats = 0
    /// What `rollbackChange` restores besides the journaled entries; nil when no change is open.
    private var checkpoint: Checkpoint?

    private struct Checkpoint: Sendable {
        var lastEventID: Int64
        var lastRPCID: Int64
        var plugIndex: [String: [StationID]]
        var rejections: RejectionDigest
    }

    /// Per-station live state: configuration, session, presence and scheduling.
    struct Entry: Sendable {
        var station: Station
        var session: SessionRecord?
        /// nil: unknown. A station without an agent that never heartbeated, and every station from
        /// the hub's start (or a broker reconnect) until its agent is heard or a heartbeat window
        /// passes in silence: a restarted hub must not report heartbeating stations offline.
        var online: Bool?
        var lastSeenMonoNanos: Int64?
        /// When the station is declared offline unless its agent is heard from first. Set by every
        /// heartbeat and, for stations not known to be offline, by a (re)connect to the broker;
        /// cleared while the broker is unreachable (silence then says nothing about the agents).
        var silenceDeadlineMonoNanos: Int64?
        /// The last heartbeat's fields other than `seq`.
        var agentInfo: [String: JSONValue] = [:]
        /// Set after an expiry: the station shows `expired` until then.
        var expiredUntilMonoNanos: Int64?
        var expiredSession: String?
        var nextCountdownMonoNanos: Int64?
        /// When control was last re-sent to converge a disagreeing agent (rate limit).
        var lastSyncMonoNanos: Int64?
        var plug = PlugRuntime()
    }

    public init(topics: TopicScheme, policy: HubPolicy, stations: [Station], sessions: [SessionRecord], lastEventID: Int64) {
        self.topics = topics
        self.policy = policy
        self.lastEventID = lastEventID
        self.entries = StationTable(policy: policy)
        for station in stations {
            // Unknown until the broker is reached and the agent heard (or a heartbeat window passes).
            entries[station.id] = Entry(station: station, online: nil)
        }
        for session in sessions where !session.isEnded {
            entries[session.station]?.session = session
        }
        rebuildPlugIndex()
    }

    /// The Shelly RPC `src` of this hub: replies come back on `<src>/rpc`.
    public var rpcSource: String { topics.rpcSource }

    // MARK: - Queries

    /// Sorted: O(n log n), for start-up, resync and listings only.
    public var stationIDs: [StationID] { entries.sortedIDs }

    public func session(at station: StationID) -> SessionRecord? { entries[station]?.session }

    public func isOnline(_ station: StationID) -> Bool? { entries[station]?.online }

    public func stationState(_ id: StationID, now: Timestamp) -> JSONValue? {
        entries[id].map { stateJSON($0, now: now) }
    }

    public func status(of id: StationID, now: Timestamp) -> StationStatus? {
        entries[id].map { status($0, now: now) }
    }

    // MARK: - Changes

    /// Opens a change that `rollbackChange` can undo.
    ///
    /// The runtime applies an event to the core before the store has accepted its writes, and
    /// must put the core back if the store refuses. Keeping a copy of the whole core for that
    /// would copy every station on the first write after it; instead the first write to each
    /// station records what it replaced, so a change costs what it touches. The counters and the
    /// plug index are saved whole: they are small or (the plug index) only rebuilt on station edits.
    ///
    /// Changes do not nest. Outside a change nothing is recorded.
    public mutating func beginChange() {
        precondition(checkpoint == nil, "beginChange while a change is open")
        checkpoint = Checkpoint(lastEventID: lastEventID, lastRPCID: lastRPCID, plugIndex: plugIndex, rejections: rejections)
        entries.beginJournal()
    }

    /// Keeps everything done since `beginChange`.
    public mutating func commitChange() {
        precondition(checkpoint != nil, "commitChange without beginChange")
        checkpoint = nil
        entries.endJournal()
    }

    /// Puts every station, its deadline, the event and RPC counters and the plug index back as
    /// they were at `beginChange`.
    ///
    /// Calling it with no change open is a programming error and stops the process: there would be
    /// nothing to restore, and carrying on would leave the core ahead of the store it must match.
    public mutating func rollbackChange() {
        guard let saved = checkpoint else { preconditionFailure("rollbackChange without beginChange") }
        checkpoint = nil
        entries.rollBackJournal()
        lastEventID = saved.lastEventID
        lastRPCID = saved.lastRPCID
        plugIndex = saved.plugIndex
        rejections = saved.rejections
    }

    // MARK: - Recovery and resync

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
            guard var session = entries[id]?.session, session.anchor.bootID != now.bootID else { continue }
            let reference: (wall: Int64, used: Int64)
            if let alive = lastAlive, alive.bootID == session.anchor.bootID, alive.monoNanos >= session.anchor.monoNanos {
                reference = (alive.wallMillis, session.usedMillis(at: alive))
            } else {
                reference = (session.anchor.wallMillis, session.usedMillisAtAnchor)
            }
            let downtime = session.paused ? 0 : max(0, now.wallMillis - reference.wall)
            session.usedMillisAtAnchor = min(session.grantedMillis, reference.used + downtime)
            session.anchor = now
            entries[id]?.session = session
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
            if entry.online != false, entry.online == true || entry.station.kind.expectsAgent,
               (entry.silenceDeadlineMonoNanos ?? .min) < grace {
                entry.silenceDeadlineMonoNanos = grace
                entries[id] = entry
            }
            actions += reconcilePlug(id, now: now, force: true)
            if let binding = entry.station.plug, entry.plug.online != false {
                let queryID = nextRPCID()
                if let query = binding.statusQuery(rpcSource: rpcSource, rpcID: queryID) {
                    entries[id]?.plug.statusQueryID = queryID
                    actions.append(.publish(query))
                }
            }
            actions.append(publishState(entries[id] ?? entry, now: now))
            actions.append(controlSync(entry, now: now))
            if entry.session != nil {
                actions.append(publishCountdown(entry, now: now))
                let next = nextCountdown(after: now, entry: entry)
                entries[id]?.nextCountdownMonoNanos = next
            }
        }
        return actions
    }

    /// The broker connection is gone: nothing can be heard, so silence stops counting (no station
    /// goes offline for heartbeats the hub could not receive). `resync` restarts the windows.
    public mutating func brokerLost() {
        for id in entries.idsWithSilenceDeadline {
            entries[id]?.silenceDeadlineMonoNanos = nil
        }
    }

    // MARK: - Time

    /// The next monotonic instant at which `tick` has something to do, if any.
    public func nextDeadline() -> Int64? {
        switch (entries.earliestDeadline, rejections.nextDeadline) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    /// The earliest moment anything about the station needs the hub's attention. Kept up to date
    /// by `StationTable` on every write, so it is computed once per change of the entry, never
    /// per tick; it builds no array of candidates, because every heartbeat computes it too.
    fileprivate static func deadline(of entry: Entry, policy: HubPolicy) -> Int64? {
        var best: Int64?
        func consider(_ candidate: Int64?) {
            guard let candidate else { return }
            if best.map({ candidate < $0 }) ?? true { best = candidate }
        }
        if let session = entry.session, !session.paused {
            let left = session.grantedMillis - session.usedMillisAtAnchor
            consider(session.anchor.monoNanos + left * 1_000_000)
            for t in policy.warnThresholdsSeconds where !session.warnedThresholds.contains(t) {
                consider(session.anchor.monoNanos + (left - t * 1000) * 1_000_000)
            }
            consider(entry.nextCountdownMonoNanos)
        }
        consider(entry.silenceDeadlineMonoNanos)
        consider(entry.expiredUntilMonoNanos)
        if entry.station.plug != nil {
            consider(entry.plug.retryAtMonoNanos)
            consider(entry.plug.offAtMonoNanos)
        }
        return best
    }

    /// Fires everything due at `now`: expiries, warnings, countdowns, presence timeouts.
    ///
    /// Only the due stations are visited, in order of (deadline, station id) so that the actions
    /// of one tick come out the same way every time. Each fires once: a station whose next
    /// deadline is still not after `now` waits for the next tick, which the runtime schedules at
    /// once, so a deadline that does not move can never keep one tick busy forever.
    public mutating func tick(now: Timestamp) -> [HubAction] {
        var actions: [HubAction] = []
        for id in entries.removeDue(through: now.monoNanos) {
            actions += fire(id, now: now)
            entries.reindex(id)
        }
        for summary in rejections.closeDue(now: now.monoNanos) {
            var data: [String: JSONValue] = [
                "verb": .string(summary.key.verb), "code": .string(summary.key.code), "message": .string(summary.message),
                "repeated": .int(Int64(summary.count)), "window_s": .int(summary.windowSeconds),
            ]
            if let actor = summary.key.actor { data["by"] = .string(actor) }
            actions.append(event(.commandRejected, station: nil, session: nil, data: .object(data), now: now))
        }
        return actions
    }

    private mutating func fire(_ id: StationID, now: Timestamp) -> [HubAction] {
        guard var entry = entries[id] else { return [] }
        var actions: [HubAction] = []
        var stateChanged = false

        if let until = entry.expiredUntilMonoNanos, until <= now.monoNanos {
            entry.expiredUntilMonoNanos = nil
            entry.expiredSession = nil
            stateChanged = true
        }
        if let silence = entry.silenceDeadlineMonoNanos, silence <= now.monoNanos {
            entry.silenceDeadlineMonoNanos = nil
            if entry.online != false {
                // Heard before and gone quiet, or not heard at all since the hub (re)connected.
                let reason: OfflineReason = entry.online == true ? .heartbeatTimeout : .noHeartbeat
                entry.online = false
                actions.append(event(.stationOffline, station: id, session: entry.session?.id, data: ["reason": JSONValue(reason)], now: now))
                stateChanged = true
            }
        }
        if var session = entry.session, !session.paused {
            let remaining = session.remainingMillis(at: now)
            if remaining == 0 {
                session.reanchor(at: now)
                session.endedAtWallMillis = now.wallMillis
                session.endReason = .expired
                entry.session = nil
                entry.expiredUntilMonoNanos = now.monoNanos + policy.expiredHoldSeconds * 1_000_000_000
                entry.expiredSession = session.id
                entry.nextCountdownMonoNanos = nil
                actions.append(.saveSession(session))
                actions.append(event(.sessionExpired, station: id, session: session.id,
                                     data: ["used_s": .int(seconds(session.usedMillisAtAnchor))], now: now))
                actions += locking(id, session: session.id, reason: .expired, now: now)
                actions.append(publishCountdown(entry, now: now))
                actions += sessionLeft(&entry, session: session, now: now)
                stateChanged = true
            } else {
                let due = policy.warnThresholdsSeconds.filter { !session.warnedThresholds.contains($0) && remaining <= $0 * 1000 }
                if let threshold = due.min() {
                    session.warnedThresholds.append(contentsOf: due)
                    session.warnedThresholds.sort()
                    entry.session = session
                    actions.append(.saveSession(session))
                    actions.append(publishControl(.warn(grant(id, session, now: now), thresholdSeconds: threshold)))
                    actions.append(event(.sessionWarned, station: id, session: session.id,
                                         data: ["threshold_s": .int(threshold), "remaining_s": .int(seconds(remaining))], now: now))
                    stateChanged = true
                }
                if let c = entry.nextCountdownMonoNanos, c <= now.monoNanos {
                    actions.append(publishCountdown(entry, now: now))
                    entry.nextCountdownMonoNanos = nextCountdown(after: now, entry: entry)
                }
            }
        }
        entries[id] = entry
        actions += reconcilePlug(id, now: now)
        if stateChanged { actions.append(publishState(entries[id] ?? entry, now: now)) }
        return actions
    }

    private func nextCountdown(after now: Timestamp, entry: Entry) -> Int64? {
        guard let session = entry.session, !session.paused else { return nil }
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

    // MARK: - Presence

    /// An agent heartbeat on `R/stations/<id>/heartbeat`: a JSON object with at least `{"seq": n}`.
    ///
    /// An online station's heartbeats closer together than a fifth of the heartbeat interval are
    /// redundant and ignored unread (`redundantHeartbeats`): an agent account flooding its own
    /// topic, say with a field that changes every time, cannot make the hub republish the
    /// station's state (to every dashboard) more than five times an interval.
    public mutating func heartbeat(station raw: String, payload: [UInt8], now: Timestamp) throws(CommandError) -> [HubAction] {
        let id = try knownStation(raw)
        if let entry = entries[id], entry.online == true, let seen = entry.lastSeenMonoNanos,
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
            entry.online = false
            entry.silenceDeadlineMonoNanos = nil
            entries[id] = entry
            return [
                event(.stationOffline, station: id, session: entry.session?.id, data: ["reason": JSONValue(OfflineReason.agentOffline)], now: now),
                publishState(entry, now: now),
            ]
        default:
            throw CommandError(.invalidRequest, "agent presence must be \"online\" or \"offline\"")
        }
    }

    private mutating func seen(_ id: StationID, info: [String: JSONValue]?, now: Timestamp) -> [HubAction] {
        guard var entry = entries[id] else { return [] }
        var actions: [HubAction] = []
        let cameOnline = entry.online != true
        entry.online = true
        entry.lastSeenMonoNanos = now.monoNanos
        entry.silenceDeadlineMonoNanos = now.monoNanos + policy.offlineAfterNanos
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

    private func shouldBeLocked(_ entry: Entry) -> Bool {
        guard let session = entry.session else { return true }
        return session.paused
    }

    // MARK: - Commands

    /// A request that could not even be decoded, or that `handle` refused: recorded for the audit
    /// trail. The first refusal of a kind (account, verb, code) in a window is recorded in full;
    /// repeats within it are counted and recorded as one summary when it closes (`tick`), so a
    /// flood of bad requests cannot grow the event log or keep the disk busy. Returns no action
    /// for a counted repeat.
    public mutating func rejected(verb: String, error: CommandError, now: Timestamp, actor: String? = nil) -> [HubAction] {
        guard rejections.admit(actor: actor, verb: verb, code: error.code.rawValue, message: error.message, now: now.monoNanos)
        else { return [] }
        var data: [String: JSONValue] = ["verb": .string(verb), "code": .string(error.code.rawValue), "message": .string(error.message)]
        if let actor { data["by"] = .string(actor) }
        return [event(.commandRejected, station: nil, session: nil, data: .object(data), now: now)]
    }

    /// Applies a decoded command. `newSessionID` is used if the command starts a session; `actor`
    /// (the staff account that sent it) is recorded as `by` in every event it causes.
    public mutating func handle(
        _ command: Command, verb: String, newSessionID: String, now: Timestamp, actor: String? = nil
    ) -> CommandOutcome {
        var outcome = apply(command, verb: verb, newSessionID: newSessionID, now: now, actor: actor)
        if let actor {
            outcome.actions = outcome.actions.map { action in
                guard case .saveEvent(var e) = action, case .object(var data) = e.data, data["by"] == nil else { return action }
                data["by"] = .string(actor)
                e.data = .object(data)
                return .saveEvent(e)
            }
        }
        return outcome
    }

    private mutating func apply(
        _ command: Command, verb: String, newSessionID: String, now: Timestamp, actor: String?
    ) -> CommandOutcome {
        do {
            var (data, actions) = try apply(command, newSessionID: newSessionID, now: now)
            for id in command.stations where entries[id] != nil {
                actions += reconcilePlug(id, now: now, force: true)
            }
            if case .stationAdd = command { rebuildPlugIndex() }
            if case .stationUpdate = command { rebuildPlugIndex() }
            if case .stationRemove = command { rebuildPlugIndex() }
            return CommandOutcome(result: .success(data), actions: actions)
        } catch {
            return CommandOutcome(result: .failure(error), actions: rejected(verb: verb, error: error, now: now, actor: actor))
        }
    }

    private mutating func apply(_ command: Command, newSessionID: String, now: Timestamp) throws(CommandError) -> (JSONValue, [HubAction]) {
        switch command {
        case .stationList:
            return (["stations": .array(stationIDs.compactMap { stationState($0, now: now) })], [])
        case .stationGet(let id):
            return (stateJSON(try entry(id), now: now), [])
        case .stationAdd(let id, let name, let kind, let plug, let zone):
            guard entries[id] == nil else { throw CommandError(.stationExists, "station \(id) already exists") }
            let station = Station(id: id, name: name, kind: kind, plug: plug, zone: zone)
            let entry = Entry(station: station, online: kind.expectsAgent ? false : nil)
            entries[id] = entry
            return (stateJSON(entry, now: now), [
                .saveStation(station),
                event(.stationAdded, station: id, session: nil,
                      data: ["name": .string(name), "kind": .string(kind.value), "zone": JSONValue(zone)], now: now),
                publishState(entry, now: now),
                publishControl(lock(id, session: nil, reason: .idle, now: now)),
            ])
        case .stationUpdate(let id, let name, let kind, let plug, let zone):
            var entry = try entry(id)
            if let name { entry.station.name = name }
            if let kind {
                let hadAgent = entry.station.kind.expectsAgent
                entry.station.kind = kind
                if !kind.expectsAgent, entry.lastSeenMonoNanos == nil {
                    entry.online = nil
                    entry.silenceDeadlineMonoNanos = nil
                }
                if kind.expectsAgent, !hadAgent, entry.online == nil { entry.online = false }
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
        case .stationRemove(let id):
            let entry = try entry(id)
            if let session = entry.session { throw busy(id, session) }
            entries[id] = nil
            return (["station": .string(id.value), "removed": true], [
                .deleteStation(id),
                event(.stationRemoved, station: id, session: nil, data: [:], now: now),
                .publish(Outbound(topic: topics.state(id), payload: [], qos: .atLeastOnce, retain: true)),
            ])
        case .stationMaintenance(let id, let enabled):
            var entry = try entry(id)
            if enabled, let session = entry.session { throw busy(id, session) }
            entry.station.maintenance = enabled
            if enabled { entry.expiredUntilMonoNanos = nil; entry.expiredSession = nil }
            entries[id] = entry
            var actions: [HubAction] = [
                .saveStation(entry.station),
                event(.stationMaintenance, station: id, session: nil, data: ["enabled": .bool(enabled)], now: now),
            ]
            if enabled { actions.append(publishControl(lock(id, session: nil, reason: .maintenance, now: now))) }
            actions.append(publishState(entry, now: now))
            return (stateJSON(entry, now: now), actions)
        case .sessionStart(let id, let secs):
            var entry = try entry(id)
            if let session = entry.session { throw busy(id, session) }
            guard !entry.station.maintenance else { throw CommandError(.maintenance, "station \(id) is in maintenance") }
            let granted = secs * 1000
            let session = SessionRecord(
                id: newSessionID, station: id, grantedMillis: granted, usedMillisAtAnchor: 0, anchor: now, paused: false,
                startedAtWallMillis: now.wallMillis, warnedThresholds: prePassed(remaining: granted))
            entry.session = session
            entry.expiredUntilMonoNanos = nil
            entry.expiredSession = nil
            entry.nextCountdownMonoNanos = nextCountdown(after: now, entry: entry)
            entry.plug.sessionMaxWatts = nil
            entry.plug.offAtMonoNanos = nil
            // The session owns the power now; a hand-set hold would keep the plug on after it ends.
            let releasedHold = entry.station.powerHold
            entry.station.powerHold = false
            entries[id] = entry
            return (stateJSON(entry, now: now), (releasedHold ? [.saveStation(entry.station)] : []) + [
                .saveSession(session),
                event(.sessionStarted, station: id, session: session.id, data: ["granted_s": .int(secs)], now: now),
            ] + unlocking(id, session, now: now) + [
                publishCountdown(entry, now: now),
                publishState(entry, now: now),
            ])
        case .sessionExtend(let id, let secs):
            var entry = try entry(id)
            guard var session = entry.session else { throw .noSession(id) }
            session.reanchor(at: now)
            let remaining = session.remainingMillis(at: now) + secs * 1000
            guard remaining <= policy.maxSessionSeconds * 1000 else {
                throw CommandError(.invalidDuration, "the session would have more than \(policy.maxSessionSeconds) seconds left")
            }
            session.grantedMillis += secs * 1000
            session.warnedThresholds = prePassed(remaining: remaining)
            entry.session = session
            entry.nextCountdownMonoNanos = nextCountdown(after: now, entry: entry)
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
        case .sessionPause(let id):
            var entry = try entry(id)
            guard var session = entry.session else { throw .noSession(id) }
            guard !session.paused else { throw CommandError(.sessionPaused, "the session on \(id) is already paused") }
            session.reanchor(at: now)
            session.paused = true
            entry.session = session
            entry.nextCountdownMonoNanos = nil
            entries[id] = entry
            return (stateJSON(entry, now: now), [
                .saveSession(session),
                event(.sessionPaused, station: id, session: session.id,
                      data: ["remaining_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
            ] + locking(id, session: session.id, reason: .paused, now: now) + [
                publishCountdown(entry, now: now),
                publishState(entry, now: now),
            ])
        case .sessionResume(let id):
            var entry = try entry(id)
            guard var session = entry.session else { throw .noSession(id) }
            guard session.paused else { throw CommandError(.sessionNotPaused, "the session on \(id) is not paused") }
            session.paused = false
            session.anchor = now
            entry.session = session
            entry.nextCountdownMonoNanos = nextCountdown(after: now, entry: entry)
            entries[id] = entry
            return (stateJSON(entry, now: now), [
                .saveSession(session),
                event(.sessionResumed, station: id, session: session.id,
                      data: ["remaining_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
            ] + unlocking(id, session, now: now) + [
                publishCountdown(entry, now: now),
                publishState(entry, now: now),
            ])
        case .sessionStop(let id):
            var entry = try entry(id)
            guard var session = entry.session else { throw .noSession(id) }
            session.reanchor(at: now)
            session.endedAtWallMillis = now.wallMillis
            session.endReason = .stopped
            entry.session = nil
            entry.nextCountdownMonoNanos = nil
            let left = sessionLeft(&entry, session: session, now: now)
            entries[id] = entry
            return (stateJSON(entry, now: now), left + [
                .saveSession(session),
                event(.sessionStopped, station: id, session: session.id,
                      data: ["used_s": .int(seconds(session.usedMillisAtAnchor)),
                             "unused_s": .int(seconds(session.remainingMillis(at: now)))], now: now),
            ] + locking(id, session: session.id, reason: .stopped, now: now) + [
                publishCountdown(entry, now: now),
                publishState(entry, now: now),
            ])
        case .sessionTransfer(let fromID, let toID):
            var from = try entry(fromID)
            var to = try entry(toID)
            guard var session = from.session else { throw .noSession(fromID) }
            if let other = to.session { throw busy(toID, other) }
            guard !to.station.maintenance else { throw CommandError(.maintenance, "station \(toID) is in maintenance") }
            session.reanchor(at: now)
            session.station = toID
            from.session = nil
            from.nextCountdownMonoNanos = nil
            to.session = session
            to.expiredUntilMonoNanos = nil
            to.expiredSession = nil
            to.nextCountdownMonoNanos = nextCountdown(after: now, entry: to)
            to.plug.sessionMaxWatts = nil
            to.plug.offAtMonoNanos = nil
            let releasedHold = to.station.powerHold
            to.station.powerHold = false
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
        case .plugPower(let id, let on):
            var entry = try entry(id)
            guard entry.station.plug != nil else { throw CommandError(.noPlug, "station \(id) has no plug") }
            if let session = entry.session {
                throw CommandError(.sessionRunning,
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
    }

    private func entry(_ id: StationID) throws(CommandError) -> Entry {
        guard let entry = entries[id] else { throw .unknownStation(id) }
        return entry
    }

    private func knownStation(_ raw: String) throws(CommandError) -> StationID {
        guard let id = StationID(raw) else { throw CommandError(.invalidStationID, "invalid station id") }
        guard entries[id] != nil else { throw .unknownStation(id) }
        return id
    }

    private func busy(_ id: StationID, _ session: SessionRecord) -> CommandError {
        CommandError(.stationBusy, "station \(id) has session \(session.id)")
    }

    /// Thresholds at or above the remaining time are not announced (a 3-minute session gets the
    /// 1-minute warning, not the 5-minute one).
    private func prePassed(remaining: Int64) -> [Int64] {
        policy.warnThresholdsSeconds.filter { $0 * 1000 >= remaining }.sorted()
    }

    // MARK: - Plugs

    /// Every plug topic the hub must be subscribed to for the current bindings.
    public var plugSubscriptions: Set<String> { Set(plugIndex.keys) }

    private mutating func rebuildPlugIndex() {
        var index: [String: [StationID]] = [:]
        for (id, entry) in entries.byID {
            guard let binding = entry.station.plug else { continue }
            for topic in binding.statusTopics(rpcSource: rpcSource) { index[topic, default: []].append(id) }
        }
        plugIndex = index.mapValues { $0.sorted() }
    }

    private mutating func nextRPCID() -> Int64 {
        lastRPCID += 1
        return lastRPCID
    }

    /// Whether the station's plug should be on now: a running session, the graceful delay after
    /// one, or a hold set by hand while there is no session (it wins over maintenance: power for a
    /// console update).
    private func wantsPower(_ entry: Entry, now: Timestamp) -> Bool {
        if entry.station.powerHold, entry.session == nil { return true }
        if entry.station.maintenance { return false }
        if let session = entry.session { return !session.paused }
        return entry.plug.offAtMonoNanos.map { $0 > now.monoNanos } ?? false
    }

    /// When a session leaves a station: start the graceful delay and report a session that never drew power.
    private mutating func sessionLeft(_ entry: inout Entry, session: SessionRecord, now: Timestamp) -> [HubAction] {
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
    private mutating func reconcilePlug(_ id: StationID, now: Timestamp, force: Bool = false) -> [HubAction] {
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
            var offTimer = PlugBinding.OffTimer.unchanged
            if want, binding.hasOffTimer, let session = entry.session {
                // Covers the graceful delay too, or the plug would cut power in the middle of it.
                offTimer = .after(
                    seconds: seconds(session.remainingMillis(at: now)) + policy.plugOffDelaySeconds + policy.plugFailsafeMarginSeconds)
            } else if want, binding.hasOffTimer, entry.station.powerHold {
                // Held by hand: no paid time to enforce, and a timer left armed by the last session
                // (Tasmota's PulseTime is a setting) must not cut the console off in the middle of an update.
                offTimer = .disarmed
            }
            for message in binding.switchCommands(on: want, offTimer: offTimer, rpcSource: rpcSource, rpcID: nextRPCID()) {
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
        let reports = binding.interpret(topic: topic, payload: payload, rpcSource: rpcSource, queryID: entry.plug.statusQueryID)
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
                    actions.append(event(.plugAlarmCleared, station: id, session: entry.session?.id, data: ["reason": JSONValue(PlugAlarm.offline)], now: now))
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

    private func plugState(_ entry: Entry) -> StationStateMessage.Plug? {
        guard let binding = entry.station.plug else { return nil }
        let p = entry.plug
        return StationStateMessage.Plug(
            binding: binding, online: p.online, power: p.power, watts: p.watts.map { ($0 * 10).rounded() / 10 },
            confirmed: p.confirmed, alarm: p.alarm, hold: entry.station.powerHold)
    }

    // MARK: - Payloads

    private func seconds(_ millis: Int64) -> Int64 { (millis + 999) / 1000 }

    /// The wall-clock end shown to people. Computed from the anchor so that every message about
    /// the same session carries the same value (no millisecond jitter between readings); if the
    /// wall clock has drifted or jumped more than a second against the monotonic clock since the
    /// anchor, it follows the wall clock as it is now.
    private func endsAt(_ session: SessionRecord, now: Timestamp) -> String? {
        guard !session.paused else { return nil }
        let live = now.wallMillis + session.remainingMillis(at: now)
        let anchored = session.anchor.wallMillis + session.grantedMillis - session.usedMillisAtAnchor
        return ISO8601.string(fromMillis: abs(live - anchored) <= 1000 ? anchored : live)
    }

    private func status(_ entry: Entry, now: Timestamp) -> StationStatus {
        if entry.station.maintenance { return .maintenance }
        if entry.station.plug != nil, entry.plug.alarm != nil { return .alarm }
        if let session = entry.session {
            if session.paused { return .paused }
            let warnAt = (policy.warnThresholdsSeconds.max() ?? 0) * 1000
            return session.remainingMillis(at: now) <= warnAt ? .warned : .active
        }
        if entry.expiredUntilMonoNanos != nil { return .expired }
        if entry.online == false { return .offline }
        return .idle
    }

    func stateJSON(_ entry: Entry, now: Timestamp) -> JSONValue { stateMessage(entry, now: now).json }

    func stateMessage(_ entry: Entry, now: Timestamp) -> StationStateMessage {
        let session = entry.session.map { s in
            StationStateMessage.Session(
                id: s.id, startedAt: ISO8601.string(fromMillis: s.startedAtWallMillis), endsAt: endsAt(s, now: now),
                remainingSeconds: seconds(s.remainingMillis(at: now)), grantedSeconds: seconds(s.grantedMillis), paused: s.paused)
        }
        return StationStateMessage(
            station: entry.station.id, name: entry.station.name, kind: entry.station.kind, zone: entry.station.zone,
            online: entry.online, status: status(entry, now: now), maintenance: entry.station.maintenance, session: session,
            agent: entry.agentInfo, plug: plugState(entry), updatedAt: ISO8601.string(fromMillis: now.wallMillis))
    }

    private func publishState(_ entry: Entry, now: Timestamp) -> HubAction {
        .publish(Outbound(topic: topics.state(entry.station.id), payload: stateMessage(entry, now: now).payload,
                          qos: .atLeastOnce, retain: true))
    }

    private func publishCountdown(_ entry: Entry, now: Timestamp) -> HubAction {
        let message = entry.session.map { s in
            CountdownMessage(station: entry.station.id, session: s.id, remainingSeconds: seconds(s.remainingMillis(at: now)),
                             endsAt: endsAt(s, now: now), paused: s.paused)
        } ?? .none(entry.station.id)
        return .publish(Outbound(topic: topics.countdown(entry.station.id), payload: message.payload, qos: .atMostOnce, retain: false))
    }

    private func publishControl(_ message: ControlMessage) -> HubAction {
        .publish(Outbound(topic: topics.control(message.station), payload: message.payload, qos: .atLeastOnce, retain: false))
    }

    private func controlSync(_ entry: Entry, now: Timestamp) -> HubAction {
        let id = entry.station.id
        if let session = entry.session {
            return publishControl(session.paused ? lock(id, session: session.id, reason: .paused, now: now) : unlock(id, session, now: now))
        }
        let reason: LockReason = entry.station.maintenance ? .maintenance : (entry.expiredSession != nil ? .expired : .idle)
        return publishControl(lock(id, session: entry.expiredSession, reason: reason, now: now))
    }

    /// A lock sent for a session-changing reason, and its audit event.
    private mutating func locking(_ id: StationID, session: String, reason: LockReason, now: Timestamp) -> [HubAction] {
        [publishControl(lock(id, session: session, reason: reason, now: now)),
         event(.stationLocked, station: id, session: session, data: ["reason": JSONValue(reason)], now: now)]
    }

    private mutating func unlocking(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> [HubAction] {
        [publishControl(unlock(id, session, now: now)),
         event(.stationUnlocked, station: id, session: session.id, data: [:], now: now)]
    }

    private func grant(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> ControlMessage.Grant {
        ControlMessage.Grant(station: id, session: session.id, endsAt: endsAt(session, now: now),
                             remainingSeconds: seconds(session.remainingMillis(at: now)), sentAt: ISO8601.string(fromMillis: now.wallMillis))
    }

    private func unlock(_ id: StationID, _ session: SessionRecord, now: Timestamp) -> ControlMessage {
        .unlock(grant(id, session, now: now))
    }

    private func lock(_ id: StationID, session: String?, reason: LockReason, now: Timestamp) -> ControlMessage {
        .lock(.init(station: id, session: session, reason: reason, sentAt: ISO8601.string(fromMillis: now.wallMillis)))
    }

    private mutating func event(_ type: EventType, station: StationID?, session: String?, data: JSONValue, now: Timestamp) -> HubAction {
        lastEventID += 1
        return .saveEvent(HubEvent(id: lastEventID, kind: type, atWallMillis: now.wallMillis, station: station, session: session, data: data))
    }

    /// The JSON published on `R/events` for a stored event.
    public static func eventJSON(_ e: HubEvent) -> JSONValue { eventMessage(e).json }

    public static func eventMessage(_ e: HubEvent) -> EventMessage {
        EventMessage(id: e.id, type: e.type, at: ISO8601.string(fromMillis: e.atWallMillis), station: e.station?.value,
                     session: e.session, data: e.data)
    }
}

// MARK: - Checks for tests

extension HubCore {
    /// The earliest deadline found by computing every station's deadline afresh: the reference
    /// the deadline index is checked against.
    func scannedNextDeadline() -> Int64? {
        (entries.byID.values.compactMap { Self.deadline(of: $0, policy: policy) } + [rejections.nextDeadline].compactMap { $0 }).min()
    }

    /// The earliest deadline of any station (leaving out the refusal summaries' windows).
    var nextStationDeadline: Int64? { entries.earliestDeadline }

    /// The station's deadline computed afresh from its entry.
    func scannedDeadline(of id: StationID) -> Int64? {
        entries[id].flatMap { Self.deadline(of: $0, policy: policy) }
    }

    /// The deadline the index holds for a station.
    func indexedDeadline(of id: StationID) -> Int64? { entries.indexedDeadline(of: id) }

    /// Whether every station's indexed deadline equals its deadline computed afresh, and the
    /// index holds nothing for stations that do not exist.
    func deadlineIndexIsConsistent() -> Bool { entries.indexIsConsistent }

    /// Items in the deadline heap, live or outdated.
    var deadlineHeapCount: Int { entries.heapCount }
}

// MARK: - Station table

extension HubCore {
    /// The stations' entries, with the two things every write must keep in step: the deadline
    /// index (so the timer never scans every station) and, while a change is open, the undo
    /// journal (so undoing a change never needs a copy of every station).
    ///
    /// Every write goes through the subscript, which is what makes both impossible to forget.
    fileprivate struct StationTable: Sendable {
        let policy: HubPolicy
        private(set) var byID: [StationID: Entry] = [:]
        private var queue = DeadlineQueue()
        /// Station -> its entry before the open change first wrote it (nil inside: it did not
        /// exist). nil when no change is open.
        private var journal: [StationID: Entry?]?

        init(policy: HubPolicy) { self.policy = policy }

        subscript(id: StationID) -> Entry? {
            get { byID[id] }
            set {
                if journal != nil, journal?.index(forKey: id) == nil {
                    journal?.updateValue(byID[id], forKey: id)
                }
                byID[id] = newValue
                queue.set(newValue.flatMap { HubCore.deadline(of: $0, policy: policy) }, for: id)
            }
        }

        var sortedIDs: [StationID] { byID.keys.sorted() }

        var idsWithSilenceDeadline: [StationID] {
            byID.compactMap { $0.value.silenceDeadlineMonoNanos == nil ? nil : $0.key }
        }

        var earliestDeadline: Int64? { queue.earliest }

        func indexedDeadline(of id: StationID) -> Int64? { queue.deadline(of: id) }

        var heapCount: Int { queue.heapCount }

        var indexIsConsistent: Bool {
            queue.deadlines.keys.allSatisfy { byID[$0] != nil }
                && byID.allSatisfy { queue.deadline(of: $0.key) == HubCore.deadline(of: $0.value, policy: policy) }
        }

        /// Takes the due stations out of the index; `reindex` each once it has been fired.
        mutating func removeDue(through now: Int64) -> [StationID] { queue.removeDue(through: now) }

        mutating func reindex(_ id: StationID) {
            queue.set(byID[id].flatMap { HubCore.deadline(of: $0, policy: policy) }, for: id)
        }

        mutating func beginJournal() { journal = [:] }

        mutating func endJournal() { journal = nil }

        mutating func rollBackJournal() {
            guard let undo = journal else { return }
            journal = nil
            for (id, previous) in undo { self[id] = previous }
        }
    }
}
