/// The two clocks the agent is given. Only `monoNanos` ever decides how much time is left.
public struct AgentTime: Sendable, Equatable {
    /// Nanoseconds of a clock that only moves forward and keeps counting while the PC is
    /// suspended (Linux `CLOCK_BOOTTIME`): setting the PC's clock, or suspending it, gains nothing.
    public var monoNanos: Int64
    /// The wall clock, milliseconds since 1970: for time stamps and for noticing clock changes.
    public var wallMillis: Int64

    public init(monoNanos: Int64, wallMillis: Int64) {
        self.monoNanos = monoNanos
        self.wallMillis = wallMillis
    }

    public func adding(milliseconds ms: Int64) -> AgentTime {
        AgentTime(monoNanos: monoNanos + ms * 1_000_000, wallMillis: wallMillis + ms)
    }
}
