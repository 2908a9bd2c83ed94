/// What a station is doing, as staff see it (`status` in its state). In order of precedence:
/// maintenance, a plug alarm, a session (paused, warned or active), the expired hold, offline, idle.
public enum StationStatus: String, Sendable, CaseIterable, Codable {
    case idle, active, warned, paused, expired, offline, maintenance, alarm
}
