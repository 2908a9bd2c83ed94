import PlayclockContract

/// One station's live state: its configuration, what occupies it, what the hub knows of its
/// agent, and its plug. The two parts that used to be a bag of optionals are enums, so that a
/// station can never hold a session and an expired hold at once, a paused session can never have
/// a countdown scheduled, and a station of unknown presence can never have been seen.
struct StationEntry: Sendable {
    var station: Station
    var occupancy: Occupancy
    var presence: Presence
    /// The last heartbeat's fields other than `seq`.
    var agentInfo: [String: JSONValue] = [:]
    /// When control was last re-sent to converge a disagreeing agent (rate limit).
    var lastSyncMonoNanos: Int64?
    var plug = PlugRuntime()
    /// Orders sent to the agent and what it reported (bounded; see `AgentLog`).
    var agentLog = AgentLog()

    init(station: Station, presence: Presence) {
        self.station = station
        self.occupancy = .idle
        self.presence = presence
    }

    /// What occupies the station.
    enum Occupancy: Sendable {
        case idle
        /// A session running, and when its next countdown is due (nil: none scheduled yet, as for
        /// a session loaded at start until the broker is reached).
        case running(SessionRecord, nextCountdownMonoNanos: Int64?)
        /// A paused session: no time passes, no countdown is sent.
        case paused(SessionRecord)
        /// The last session expired; the station shows `expired` until then (`expired_hold_s`).
        case expired(session: String, untilMonoNanos: Int64)
    }

    /// What the hub knows of the station's agent.
    enum Presence: Sendable, Equatable {
        /// Not known: a station without an agent that never heartbeated, and every station from
        /// the hub's start (or a broker reconnect) until its agent is heard or a heartbeat window
        /// passes in silence (`silenceDeadline`): a restarted hub must not report heartbeating
        /// stations offline.
        case unknown(silenceDeadlineMonoNanos: Int64?)
        /// Heard at `lastSeen`; declared offline at `silenceDeadline` unless heard from first.
        /// No deadline while the broker is unreachable (silence then says nothing of the agents).
        case online(lastSeenMonoNanos: Int64, silenceDeadlineMonoNanos: Int64?)
        case offline(lastSeenMonoNanos: Int64?)
    }

    // MARK: - Reading

    var session: SessionRecord? {
        switch occupancy {
        case .running(let s, _), .paused(let s): return s
        case .idle, .expired: return nil
        }
    }

    var nextCountdownMonoNanos: Int64? {
        if case .running(_, let next) = occupancy { return next }
        return nil
    }

    /// The session that just expired, while the station shows `expired`.
    var expiredSession: String? {
        if case .expired(let session, _) = occupancy { return session }
        return nil
    }

    var expiredUntilMonoNanos: Int64? {
        if case .expired(_, let until) = occupancy { return until }
        return nil
    }

    /// nil: unknown.
    var online: Bool? {
        switch presence {
        case .unknown: return nil
        case .online: return true
        case .offline: return false
        }
    }

    var lastSeenMonoNanos: Int64? {
        switch presence {
        case .unknown: return nil
        case .online(let seen, _): return seen
        case .offline(let seen): return seen
        }
    }

    var silenceDeadlineMonoNanos: Int64? {
        switch presence {
        case .unknown(let deadline), .online(_, let deadline): return deadline
        case .offline: return nil
        }
    }

    // MARK: - Writing

    /// Puts `record` on the station, running (with its next countdown) or paused as it says.
    mutating func hold(_ record: SessionRecord, nextCountdownMonoNanos next: @autoclosure () -> Int64?) {
        occupancy = record.paused ? .paused(record) : .running(record, nextCountdownMonoNanos: next())
    }

    /// Replaces the session's record, keeping its countdown schedule. Only for a change that
    /// neither pauses nor resumes it.
    mutating func update(_ record: SessionRecord) {
        switch occupancy {
        case .running(let old, let next):
            precondition(!record.paused && old.id == record.id, "update may not pause or swap the session")
            occupancy = .running(record, nextCountdownMonoNanos: next)
        case .paused(let old):
            precondition(record.paused && old.id == record.id, "update may not resume or swap the session")
            occupancy = .paused(record)
        case .idle, .expired:
            preconditionFailure("update without a session")
        }
    }

    mutating func scheduleCountdown(at next: Int64) {
        guard case .running(let record, _) = occupancy else { preconditionFailure("countdown without a running session") }
        occupancy = .running(record, nextCountdownMonoNanos: next)
    }

    /// Moves the silence deadline, keeping what is known.
    mutating func setSilenceDeadline(_ deadline: Int64?) {
        switch presence {
        case .unknown: presence = .unknown(silenceDeadlineMonoNanos: deadline)
        case .online(let seen, _): presence = .online(lastSeenMonoNanos: seen, silenceDeadlineMonoNanos: deadline)
        case .offline: precondition(deadline == nil, "an offline station waits for no silence")
        }
    }
}
