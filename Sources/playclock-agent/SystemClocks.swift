import Foundation
import PlayclockAgent

#if canImport(Glibc)
import Glibc
#endif

/// The agent's clocks: `CLOCK_BOOTTIME` (monotonic, counts suspend) and the wall clock.
enum SystemClocks {
    static func now() -> AgentTime {
        var boot = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        return AgentTime(monoNanos: Int64(boot.tv_sec) * 1_000_000_000 + Int64(boot.tv_nsec),
                         wallMillis: Int64(wall.tv_sec) * 1000 + Int64(wall.tv_nsec) / 1_000_000)
    }

    /// This boot's id: a lease saved on another boot means nothing.
    static func bootID() -> String {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? "unknown-boot" : id
    }

    static func userName() -> String? {
        guard let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
