import PlayclockContract

/// What the hub remembers per station of the orders it sent and the reports its agent made,
/// so that a flooding or replaying agent cannot flood the event log: an order is reported once,
/// and each tamper reason is stored at most once per `AgentLog.tamperWindowNanos`.
/// Every list is bounded. Lives in the station's entry, so a refused store write undoes it.
struct AgentLog: Sendable, Equatable {
    /// Orders sent and not yet reported, oldest first (at most `maxRemembered`).
    private(set) var pending: [Order] = []
    /// Command ids already reported, oldest first (at most `maxRemembered`).
    private(set) var reported: [String] = []
    /// Per tamper reason: when one was last stored, and the repeats counted since.
    private(set) var tamper: [TamperReason: TamperWindow] = [:]

    struct Order: Sendable, Equatable {
        var command: String
        var action: OrderAction
    }

    struct TamperWindow: Sendable, Equatable {
        var storedAtMonoNanos: Int64
        var repeats: Int
    }

    static let maxRemembered = 32
    static let tamperWindowNanos: Int64 = 60 * 1_000_000_000

    /// An order sent: its report will be accepted once.
    mutating func sent(_ command: String, _ action: OrderAction) {
        pending.append(Order(command: command, action: action))
        if pending.count > Self.maxRemembered { pending.removeFirst(pending.count - Self.maxRemembered) }
    }

    enum OrderCheck: Equatable {
        case accepted
        /// Already reported.
        case duplicate
        /// Not an order the hub sent this station (or one it no longer remembers).
        case unknown
        /// The hub sent that command id for another action.
        case mismatch
    }

    /// Takes an order report: accepted once per command id the hub sent, for the action it sent.
    mutating func report(_ command: String, _ action: OrderAction) -> OrderCheck {
        if reported.contains(command) { return .duplicate }
        guard let index = pending.firstIndex(where: { $0.command == command }) else { return .unknown }
        guard pending[index].action == action else { return .mismatch }
        pending.remove(at: index)
        reported.append(command)
        if reported.count > Self.maxRemembered { reported.removeFirst(reported.count - Self.maxRemembered) }
        return .accepted
    }

    /// A tamper report at `now`: nil when it falls in the window of the last stored one (then it
    /// is counted), else the repeats counted since that one (0 for none), to store with it.
    mutating func tamper(_ reason: TamperReason, now: Int64) -> Int? {
        if var window = tamper[reason], now - window.storedAtMonoNanos < Self.tamperWindowNanos {
            window.repeats += 1
            tamper[reason] = window
            return nil
        }
        let repeats = tamper[reason]?.repeats ?? 0
        tamper[reason] = TamperWindow(storedAtMonoNanos: now, repeats: 0)
        return repeats
    }
}
