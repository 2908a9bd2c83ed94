import PlayclockContract

/// The stations' entries, with the two things every write must keep in step: the deadline
/// index (so the timer never scans every station) and, while a change is open, the undo
/// journal (so undoing a change never needs a copy of every station).
///
/// Every write goes through the subscript, which is what makes both impossible to forget.
struct StationTable: Sendable {
    let policy: HubPolicy
    private(set) var byID: [StationID: StationEntry] = [:]
    private var queue = DeadlineQueue()
    /// Station -> its entry before the open change first wrote it (nil inside: it did not
    /// exist). nil when no change is open.
    private var journal: [StationID: StationEntry?]?

    init(policy: HubPolicy) { self.policy = policy }

    subscript(id: StationID) -> StationEntry? {
        get { byID[id] }
        set {
            if journal != nil, journal?.index(forKey: id) == nil {
                journal?.updateValue(byID[id], forKey: id)
            }
            byID[id] = newValue
            queue.set(newValue.flatMap { Self.deadline(of: $0, policy: policy) }, for: id)
        }
    }

    /// The earliest moment anything about the station needs the hub's attention. Kept up to date
    /// on every write, so it is computed once per change of the entry, never per tick; it builds
    /// no array of candidates, because every heartbeat computes it too.
    static func deadline(of entry: StationEntry, policy: HubPolicy) -> Int64? {
        var best: Int64?
        func consider(_ candidate: Int64?) {
            guard let candidate else { return }
            if best.map({ candidate < $0 }) ?? true { best = candidate }
        }
        switch entry.occupancy {
        case .running(let session, let nextCountdown):
            let left = session.grantedMillis - session.usedMillisAtAnchor
            consider(session.anchor.monoNanos + left * 1_000_000)
            for t in policy.warnThresholdsSeconds where !session.warnedThresholds.contains(t) {
                consider(session.anchor.monoNanos + (left - t * 1000) * 1_000_000)
            }
            consider(nextCountdown)
        case .expired(_, let until):
            consider(until)
        case .idle, .paused:
            break
        }
        consider(entry.silenceDeadlineMonoNanos)
        if entry.station.plug != nil {
            consider(entry.plug.retryAtMonoNanos)
            consider(entry.plug.offAtMonoNanos)
        }
        return best
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
            && byID.allSatisfy { queue.deadline(of: $0.key) == Self.deadline(of: $0.value, policy: policy) }
    }

    /// Takes the due stations out of the index; `reindex` each once it has been fired.
    mutating func removeDue(through now: Int64) -> [StationID] { queue.removeDue(through: now) }

    mutating func reindex(_ id: StationID) {
        queue.set(byID[id].flatMap { Self.deadline(of: $0, policy: policy) }, for: id)
    }

    mutating func beginJournal() { journal = [:] }

    mutating func endJournal() { journal = nil }

    mutating func rollBackJournal() {
        guard let undo = journal else { return }
        journal = nil
        for (id, previous) in undo { self[id] = previous }
    }
}
