/// Every refusal code a client can get, on MQTT (`{"status":"error","error":{"code",...}}`) and
/// over the dashboard's HTTP API. Clients switch on these; `topics.md` lists what each means.
public enum ErrorCode: String, Sendable, CaseIterable, Codable {
    // The request itself.
    case invalidJSON = "invalid_json"
    case invalidRequest = "invalid_request"
    case invalidStationID = "invalid_station_id"
    case invalidPlug = "invalid_plug"
    case invalidDuration = "invalid_duration"
    case payloadTooLarge = "payload_too_large"
    case unknownVerb = "unknown_verb"
    case retainedRequest = "retained_request"
    case invalidResponseTopic = "invalid_response_topic"
    // Who sent it.
    case unauthenticated
    case forbidden
    // What it asks of the venue as it is now.
    case unknownStation = "unknown_station"
    case stationExists = "station_exists"
    case stationBusy = "station_busy"
    case noSession = "no_session"
    case sessionPaused = "session_paused"
    case sessionNotPaused = "session_not_paused"
    case maintenance
    case noPlug = "no_plug"
    case sessionRunning = "session_running"
    /// An order (`station/logout`, ...) for a station whose kind runs no agent (a console).
    case noAgent = "no_agent"
    // Money: members, prices, payments, the ledger.
    case invalidAmount = "invalid_amount"
    case invalidPayment = "invalid_payment"
    case invalidPricing = "invalid_pricing"
    case unknownMember = "unknown_member"
    case memberExists = "member_exists"
    case memberDisabled = "member_disabled"
    /// Too many wrong PINs: the member cannot sign in at a station for a while.
    case memberLocked = "member_locked"
    /// The member already has a session billed to their balance on another station.
    case memberBusy = "member_busy"
    case noPIN = "no_pin"
    case insufficientBalance = "insufficient_balance"
    case noRatePlan = "no_rate_plan"
    case unknownPlan = "unknown_plan"
    case unknownPackage = "unknown_package"
    /// Outside the package's hours or days of sale, past its `available_until`, or not valid
    /// for the station's plan or zone.
    case packageUnavailable = "package_unavailable"
    case unknownTier = "unknown_tier"
    case unknownSale = "unknown_sale"
    /// The sale was voided already, is older than the void window, or is not a kind that can be voided.
    case notVoidable = "not_voidable"
    /// A refund larger than what is left of the sale.
    case refundTooLarge = "refund_too_large"
    /// A `transaction` id already used by this account for a different request.
    case transactionConflict = "transaction_conflict"
    /// The station's session is not billed to a member (a sign-out at a station the desk paid for).
    case notMemberSession = "not_member_session"
    // The counter.
    case unknownProduct = "unknown_product"
    /// The product is inactive, or its counted stock is smaller than the sale asks for.
    case productUnavailable = "product_unavailable"
    /// The payments do not add up to the sale's total.
    case paymentMismatch = "payment_mismatch"
    /// A cash movement (or `shift/close`, `shift/get`) by an account with no open shift.
    case noShift = "no_shift"
    /// `shift/open` by an account whose shift is open already.
    case shiftOpen = "shift_open"
    case unknownShift = "unknown_shift"
    // The hub.
    case storageFailed = "storage_failed"
    // The dashboard's sign-in and live feed.
    case invalidCredentials = "invalid_credentials"
    case tooManyAttempts = "too_many_attempts"
    case signInUnavailable = "sign_in_unavailable"
    case tooManyLiveFeeds = "too_many_live_feeds"

    /// Whether the code says the request was malformed (HTTP 400), rather than refused for the
    /// state of the venue or of the hub.
    public var isMalformedRequest: Bool {
        switch self {
        case .invalidJSON, .invalidRequest, .invalidStationID, .invalidDuration, .invalidPlug, .unknownVerb, .invalidAmount, .invalidPayment,
            .invalidPricing:
            return true
        default: return false
        }
    }
}
