/// What a staff account may do. The broker's ACL decides who may publish a request at all; the
/// hub decides, per role, which requests it executes.
public enum StaffRole: String, Sendable, CaseIterable, Comparable {
    /// Sees the floor (wall boards, read-only dashboards).
    case viewer
    /// Runs sessions at the counter: start, extend, pause, resume, stop; quotes prices, sells time
    /// and packages, adds members, tops them up and sets their PINs; sells baskets at the counter and
    /// runs their own cash shift (open, pay in, pay out, X report, close).
    case cashier
    /// Everything: also transfers sessions, edits stations, plugs and maintenance, powers plugs by hand,
    /// sends orders to PCs (log out, shut down, restart, a message), edits prices, updates and
    /// disables members, refunds and voids sales, edits the product catalogue.
    case manager

    public func permits(_ command: Command) -> Bool {
        self >= Self.required(for: command)
    }

    public static func required(for command: Command) -> StaffRole { required(for: command.verb) }

    /// Who may send what: the one table, also behind what the dashboard offers each account.
    public static func required(for verb: Verb) -> StaffRole {
        switch verb {
        case .stationList, .stationGet, .pricingGet, .productList:
            return .viewer
        case .sessionStart, .sessionExtend, .sessionPause, .sessionResume, .sessionStop, .priceQuote, .memberAdd, .memberGet,
            .memberFind, .memberTopup, .memberSetPIN, .saleCreate, .shiftOpen, .shiftClose, .shiftPayIn, .shiftPayOut, .shiftGet:
            return .cashier
        case .sessionTransfer, .stationAdd, .stationUpdate, .stationRemove, .stationMaintenance, .plugPower,
            .stationLogout, .stationShutdown, .stationRestart, .stationMessage, .rateSet, .rateRemove, .packageSet, .packageRemove,
            .tierSet, .tierRemove, .memberUpdate, .memberDisable, .saleRefund, .saleVoid, .productSet, .productRemove:
            return .manager
        }
    }

    /// The verbs this role may send, in `Command.verbs` order.
    public var permittedVerbs: [Verb] { Verb.allCases.filter { self >= Self.required(for: $0) } }

    private var rank: Int {
        switch self {
        case .viewer: return 0
        case .cashier: return 1
        case .manager: return 2
        }
    }

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool { lhs.rank < rhs.rank }
}
