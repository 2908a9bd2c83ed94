import CAgentSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program the agent starts: orders (`systemctl poweroff`) and the customer's desktop
/// (`session_command`). Each runs in a process group of its own, with the signal mask and
/// dispositions reset (the agent may have inherited blocked signals), so that ending it ends
/// everything it started, and with only stdin, stdout and stderr open: the customer's desktop
/// must not hold the agent's broker socket, its X connection or anything the agent inherited.
final class ChildProcess: Sendable {
    let pid: pid_t

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    init(argv: [String]) throws(SpawnError) {
        precondition(!argv.isEmpty)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        playclock_spawn_file_actions_addclosefrom(&actions, 3)
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard rc == 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Waits for the process to end (on a thread of its own: `waitpid` blocks) and returns how.
    func wait() async -> String? {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let exited = (status & 0x7f) == 0
                if exited {
                    let code = (status >> 8) & 0xff
                    continuation.resume(returning: code == 0 ? nil : "exit status \(code)")
                } else {
                    continuation.resume(returning: "killed by signal \(status & 0x7f)")
                }
            }
            thread.name = "wait-\(pid)"
            thread.start()
        }
    }

    /// Signals the whole process group.
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }
}
