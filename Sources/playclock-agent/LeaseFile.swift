import Foundation
import PlayclockAgent

#if canImport(Glibc)
import Glibc
#endif

/// The agent's lease on disk: one small JSON file only the agent's own account may write.
/// Read at start; a file others could have written is not trusted (locked, and reported).
struct LeaseFile {
    let path: String

    /// `$XDG_STATE_HOME/playclock/lease-<station>.json` (default `~/.local/state/...`).
    static func defaultPath(station: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.local/state")
        return base + "/playclock/lease-\(station).json"
    }

    func read() -> LeaseRestore {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            return errno == ENOENT ? .none : .rejected("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .rejected("\(path) is not a regular file") }
        guard st.st_uid == geteuid() else { return .rejected("\(path) belongs to another account") }
        guard st.st_mode & 0o022 == 0 else { return .rejected("\(path) is writable by others") }
        let directory = (path as NSString).deletingLastPathComponent
        var dst = stat()
        if stat(directory, &dst) == 0, dst.st_mode & 0o022 != 0, dst.st_mode & S_ISVTX == 0 {
            return .rejected("\(directory) is writable by others")
        }
        guard let data = FileManager.default.contents(atPath: path) else { return .rejected("cannot read \(path)") }
        do {
            return .record(try LeaseRecord(bytes: Array(data)))
        } catch {
            return .rejected("\(path): \(error.description)")
        }
    }

    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes atomically (temporary file, fsync, rename, fsync of the folder), mode 0600.
    func write(_ record: LeaseRecord) throws(WriteError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch { throw WriteError(description: "cannot create \(directory): \(error)") }
        }
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = record.bytes
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw WriteError(description: "cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw WriteError(description: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
