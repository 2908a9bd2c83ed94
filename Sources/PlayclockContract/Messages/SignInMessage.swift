/// `R/stations/<id>/signin` (agent -> hub, QoS 1, never retained): a member signing in at the
/// station's lock screen with their member id and PIN, or signing out. Only the station's own
/// agent account may publish here (the generated broker ACL); the hub answers each `request`
/// on `R/stations/<id>/signin/result`.
public struct SignInRequest: ContractMessage {
    public enum Action: Sendable, Equatable {
        /// Start a session billed to the member's balance. The PIN is 4-12 digits.
        case signIn(member: String, pin: String)
        /// End the member's session on this station and charge it.
        case signOut
    }

    public var station: StationID
    public var action: Action
    /// The agent's id for this attempt (1-64 characters of A-Z a-z 0-9 _ -), echoed in the result.
    public var request: String

    public init(station: StationID, action: Action, request: String) {
        self.station = station
        self.action = action
        self.request = request
    }

    /// Longest member id and PIN the lock screen accepts (and the hub reads).
    public static let maxMemberLength = 64
    public static let pinLengths = 4...12

    public var json: JSONValue {
        var body: [String: JSONValue] = ["station": .string(station.value), "request": .string(request)]
        switch action {
        case .signIn(let member, let pin):
            body["action"] = "sign_in"
            body["member"] = .string(member)
            body["pin"] = .string(pin)
        case .signOut:
            body["action"] = "sign_out"
        }
        return .object(body)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a sign-in request")
        station = try f.station()
        request = try f.string("request")
        guard StationID.isValid(request) else {
            throw MessageDecodingError("\"request\" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        }
        switch try f.string("action") {
        case "sign_in":
            let member = try f.string("member")
            let pin = try f.string("pin")
            guard MemberID.isValid(member) else { throw MessageDecodingError("\"member\" is not a valid member id") }
            guard Self.isWellFormedPIN(pin) else { throw MessageDecodingError("\"pin\" must be 4-12 digits") }
            action = .signIn(member: member, pin: pin)
        case "sign_out":
            action = .signOut
        default:
            throw MessageDecodingError("\"action\" must be \"sign_in\" or \"sign_out\"")
        }
    }

    /// 4-12 ASCII digits.
    public static func isWellFormedPIN(_ pin: String) -> Bool {
        pinLengths.contains(pin.utf8.count) && pin.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// `R/stations/<id>/signin/result` (hub -> that station's agent, QoS 1, never retained): the
/// answer to one `SignInRequest`. On success the session itself arrives as an ordinary `unlock`
/// (sign-in) or `lock` (sign-out) on the control topic.
public struct SignInResult: ContractMessage {
    public var station: StationID
    public var request: String
    /// nil: it worked.
    public var error: Failure?
    /// The member signed in (or out), when it worked.
    public var member: MemberSummary?

    public struct Failure: Sendable, Equatable {
        /// The code as sent; `ErrorCode(rawValue:)` is nil for a code this version does not know.
        public var code: String
        /// For people: the lock screen shows it as it is.
        public var message: String

        public init(code: ErrorCode, message: String) { self.init(code: code.rawValue, message: message) }
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public init(station: StationID, request: String, error: Failure? = nil, member: MemberSummary? = nil) {
        self.station = station
        self.request = request
        self.error = error
        self.member = member
    }

    public var json: JSONValue {
        var body: [String: JSONValue] = ["station": .string(station.value), "request": .string(request)]
        if let error {
            body["status"] = "error"
            body["error"] = ["code": .string(error.code), "message": .string(error.message)]
        } else {
            body["status"] = "ok"
        }
        if let member { body["member"] = member.json }
        return .object(body)
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a sign-in result")
        station = try f.station()
        request = try f.string("request")
        switch try f.string("status") {
        case "ok": error = nil
        case "error":
            let e = try Fields(f.object["error"] ?? .null, "\"error\"")
            error = Failure(code: try e.string("code"), message: try e.string("message"))
        default: throw MessageDecodingError("\"status\" must be \"ok\" or \"error\"")
        }
        member = try f.object["member"].flatMap { $0 == .null ? nil : $0 }.map { v throws(MessageDecodingError) in try MemberSummary(json: v) }
    }
}

/// A member as a station shows them: who is signed in and what their balance is. Sent in
/// `unlock`, `extend` and `warn` of a session billed to a member's balance, and in a sign-in
/// result. `balance_text` is formatted by the hub in the venue's currency (`12.50 EUR`), so an
/// agent needs no currency table.
public struct MemberSummary: ContractMessage {
    public var member: String
    public var name: String
    /// Minor units of `currency`, before the running session's charge.
    public var balance: Int64
    public var currency: String
    public var balanceText: String

    public init(member: String, name: String, balance: Int64, currency: String, balanceText: String) {
        self.member = member
        self.name = name
        self.balance = balance
        self.currency = currency
        self.balanceText = balanceText
    }

    public var json: JSONValue {
        ["member": .string(member), "name": .string(name), "balance": .int(balance), "currency": .string(currency),
         "balance_text": .string(balanceText)]
    }

    public init(json: JSONValue) throws(MessageDecodingError) {
        let f = try Fields(json, "a member summary")
        member = try f.string("member")
        name = try f.string("name")
        balance = try f.int("balance")
        currency = try f.string("currency")
        balanceText = try f.string("balance_text")
    }
}
