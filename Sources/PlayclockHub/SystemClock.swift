#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PlayclockContract
import PlayclockCore

/// Where the runtime reads time and waits for it. Tests inject a manual clock; production uses
/// `SystemClock`.
public protocol HubClock: Sendable {
    func now() -> Timestamp
    /// Suspends until the monotonic reading of `now()` reaches `monoNanos`; throws
    /// `CancellationError` when the task is cancelled first.
    func sleep(untilMonoNanos monoNanos: Int64) async throws
}

extension HubClock {
    /// Waits on the real clock: `Task.sleep` for the remaining monotonic time.
    public func sleep(untilMonoNanos monoNanos: Int64) async throws {
        let delay = monoNanos - now().monoNanos
        if delay > 0 { try await Task.sleep(for: .nanoseconds(delay)) } else { try Task.checkCancellation() }
    }
}

/// The box's clocks: the wall clock (may jump), the boot-time monotonic clock (never jumps,
/// counts suspend) and the kernel's boot id (tells one boot's monotonic clock from another's).
public struct SystemClock: HubClock {
    public let bootID: String

    public init() {
        let raw = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // Without a boot id (not Linux) every start counts as a new boot: recovery then relies on
        // the last-alive record and the wall clock, which is the conservative choice.
        self.bootID = trimmed.isEmpty ? UUID().uuidString : trimmed
    }

    public func now() -> Timestamp {
        var wall = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        #if os(Linux)
        clock_gettime(CLOCK_BOOTTIME, &mono)
        #else
        clock_gettime(CLOCK_MONOTONIC, &mono)
        #endif
        return Timestamp(
            wallMillis: Int64(wall.tv_sec) * 1000 + Int64(wall.tv_nsec) / 1_000_000,
            monoNanos: Int64(mono.tv_sec) * 1_000_000_000 + Int64(mono.tv_nsec),
            bootID: bootID)
    }
}
