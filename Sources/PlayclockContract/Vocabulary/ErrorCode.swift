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
        case .invalidJSON, .invalidRequest, .invalidStationID, .invalidDuration, .invalidPlug, .unknownVerb: return true
        default: return false
        }
    }
}
