import PlayclockContract

/// Members signing in and out at a station's lock screen (`R/stations/<id>/signin`).
///
/// Checking a PIN is slow on purpose (bcrypt), so it happens outside the core in two steps: the
/// runtime asks `signInCandidate` for the hash to check (refusing at once what cannot work), checks
/// it off the hub's actor, then applies the answer with `signIn`, which checks everything again
/// (the station or member may have changed meanwhile).
extension HubCore {
    /// The PIN hash to check for a sign-in, or why it cannot work.
    public func signInCandidate(station raw: String, member id: String, now: Timestamp) -> Result<String, CommandError> {
        do throws(CommandError) {
            let entry = try self.entry(try knownStation(raw))
            try requireSignInStation(entry)
            let m = try signInMember(id, now: now)
            guard let hash = m.pinHash else { return .failure(CommandError(.noPIN, "no PIN is set for this member: ask at the desk")) }
            return .success(hash)
        } catch {
            return .failure(error)
        }
    }

    private func requireSignInStation(_ entry: StationEntry) throws(CommandError) {
        guard entry.station.kind.expectsAgent else { throw CommandError(.noAgent, "station \(entry.station.id) has no lock screen") }
        if let session = entry.session { throw busy(entry.station.id, session) }
        guard !entry.station.maintenance else { throw CommandError(.maintenance, "this station is in maintenance") }
    }

    private func signInMember(_ id: String, now: Timestamp) throws(CommandError) -> MemberAccount {
        // An unknown member and a wrong PIN get the same answer: the lock screen is public.
        guard let m = money[member: id] else { throw CommandError(.invalidCredentials, "wrong member id or PIN") }
        guard !m.disabled else { throw CommandError(.memberDisabled, "this member account is disabled: ask at the desk") }
        if let until = m.lockedUntilWallMillis, until > now.wallMillis {
            throw CommandError(.memberLocked, "too many wrong PINs: try again after \(ISO8601.string(fromMillis: until)) or ask at the desk")
        }
        return m
    }

    /// Applies a checked PIN. A right one starts a session billed to the member's balance; a wrong
    /// one counts against the member (and after `policy.pinMaxAttempts` in a row locks them out for
    /// `policy.pinLockSeconds`). Either way the attempt is an event; the counts are stored even
    /// though the answer is a refusal.
    public mutating func signIn(station raw: String, member id: String, pinMatches: Bool, sessionID: String, now: Timestamp) -> CommandOutcome {
        let stationID = StationID(raw)
        do throws(CommandError) {
            let entry = try self.entry(try knownStation(raw))
            try requireSignInStation(entry)
            var m = try signInMember(id, now: now)
            guard m.pinHash != nil else { throw CommandError(.noPIN, "no PIN is set for this member: ask at the desk") }
            guard pinMatches else {
                m.failedPINs += 1
                var actions: [HubAction]
                let error: CommandError
                if m.failedPINs >= policy.pinMaxAttempts {
                    m.failedPINs = 0
                    m.lockedUntilWallMillis = now.wallMillis + policy.pinLockSeconds * 1000
                    error = CommandError(.memberLocked, "too many wrong PINs: sign-in is locked for \(policy.pinLockSeconds / 60) minutes")
                    actions = [event(.memberLocked, station: entry.station.id, session: nil, data: [
                        "member": .string(id), "until": .string(ISO8601.string(fromMillis: m.lockedUntilWallMillis ?? 0)),
                    ], now: now)]
                } else {
                    error = CommandError(.invalidCredentials, "wrong member id or PIN")
                    actions = [event(.memberSignInFailed, station: entry.station.id, session: nil, data: [
                        "member": .string(id), "reason": "wrong_pin", "attempts_left": .int(Int64(policy.pinMaxAttempts - m.failedPINs)),
                    ], now: now)]
                }
                money[member: id] = m
                return CommandOutcome(result: .failure(error), actions: [.saveMember(m)] + actions)
            }
            m.failedPINs = 0
            money[member: id] = m
            var (data, actions) = try startPaidSession(entry.station.id, payment: .balance(member: id), sessionID: sessionID, now: now, actor: nil)
            actions.append(event(.memberSignedIn, station: entry.station.id, session: sessionID, data: ["member": .string(id)], now: now))
            actions += reconcilePlug(entry.station.id, now: now, force: true)
            data = merged(data, ["member": memberSummary(money[member: id] ?? m).json])
            return CommandOutcome(result: .success(data), actions: actions)
        } catch {
            let actions: [HubAction] = [event(.memberSignInFailed, station: stationID, session: nil, data: [
                "member": .string(id), "reason": .string(error.code.rawValue),
            ], now: now)]
            return CommandOutcome(result: .failure(error), actions: stationID == nil ? [] : actions)
        }
    }

    /// The member ends their session at the station: it stops and is charged like a stop at the desk.
    public mutating func signOut(station raw: String, now: Timestamp) -> CommandOutcome {
        do throws(CommandError) {
            let id = try knownStation(raw)
            guard let session = try entry(id).session else { throw CommandError.noSession(id) }
            guard let member = session.billing?.member else {
                throw CommandError(.notMemberSession, "this session was paid at the desk: ask staff to end it")
            }
            var (data, actions) = try stopSession(id, now: now, actor: nil)
            actions.append(event(.memberSignedOut, station: id, session: session.id, data: ["member": .string(member)], now: now))
            actions += reconcilePlug(id, now: now, force: true)
            if let m = money[member: member] { data = merged(data, ["member": memberSummary(m).json]) }
            return CommandOutcome(result: .success(data), actions: actions)
        } catch {
            return CommandOutcome(result: .failure(error), actions: [])
        }
    }

    /// The member whose balance pays for the session on the station now, if any.
    public func signedInMember(at station: StationID) -> MemberSummary? {
        entries[station]?.session.flatMap(payingMember)
    }
}
