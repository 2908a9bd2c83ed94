import PlayclockContract

/// One reading of the hub's clocks, taken by the runtime and handed to the core with every event.
///
/// - `monoNanos` is CLOCK_BOOTTIME: it never jumps, it counts time the box was suspended, and it
///   restarts from zero on a reboot (which `bootID` tells apart). All elapsed time is measured on it.
/// - `wallMillis` is the system clock (Unix epoch). It may jump (no RTC, NTP arriving late); it is
///   only used to *display* times (`ends_at`) and to estimate downtime across a reboot.
public struct Timestamp: Sendable, Equatable, Hashable {
    public var wallMillis: Int64
    public var monoNanos: Int64
    public var bootID: String

    public init(wallMillis: Int64, monoNanos: Int64, bootID: String) {
        self.wallMillis = wallMillis
        self.monoNanos = monoNanos
        self.bootID = bootID
    }

    /// The same clocks `millis` later, as a real clock would read them.
    public func advanced(byMillis millis: Int64) -> Timestamp {
        Timestamp(wallMillis: wallMillis + millis, monoNanos: monoNanos + millis * 1_000_000, bootID: bootID)
    }
}
