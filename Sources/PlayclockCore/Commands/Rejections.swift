import PlayclockContract

/// Refused requests in the audit trail, through `RejectionDigest`.
extension HubCore {
    /// A request that could not even be decoded, or that `handle` refused: recorded for the audit
    /// trail. The first refusal of a kind (account, verb, code) in a window is recorded in full;
    /// repeats within it are counted and recorded as one summary when it closes (`tick`), so a
    /// flood of bad requests cannot grow the event log or keep the disk busy. Returns no action
    /// for a counted repeat.
    public mutating func rejected(verb: String, error: CommandError, now: Timestamp, actor: String? = nil) -> [HubAction] {
        guard rejections.admit(actor: actor, verb: verb, code: error.code.rawValue, message: error.message, now: now.monoNanos)
        else { return [] }
        var data: [String: JSONValue] = ["verb": .string(verb), "code": JSONValue(error.code), "message": .string(error.message)]
        if let actor { data["by"] = .string(actor) }
        return [event(.commandRejected, station: nil, session: nil, data: .object(data), now: now)]
    }

    /// One `command.rejected` summary (`"repeated": n`) per window that closed by `now`.
    mutating func closeRejectionWindows(now: Timestamp) -> [HubAction] {
        rejections.closeDue(now: now.monoNanos).map { summary in
            var data: [String: JSONValue] = [
                "verb": .string(summary.key.verb), "code": .string(summary.key.code), "message": .string(summary.message),
                "repeated": .int(Int64(summary.count)), "window_s": .int(summary.windowSeconds),
            ]
            if let actor = summary.key.actor { data["by"] = .string(actor) }
            return event(.commandRejected, station: nil, session: nil, data: .object(data), now: now)
        }
    }
}
