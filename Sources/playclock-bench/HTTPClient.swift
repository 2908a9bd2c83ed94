import Foundation
import PlayclockContract
import PlayclockSim
import Synchronization

// A minimal HTTP/1.1 client over a plain loopback TCP socket: just enough to sign in, send
// dashboard commands and read the live feed (server-sent events) the way a browser would.
// Blocking POSIX sockets, each used by one thread at a time (URLSession's streaming on Linux is
// not reliable enough to time a live feed with).

/// A connected TCP socket with a read buffer.
final class HTTPSocket {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Wall-clock time (ns) at which the latest bytes were received.
    private(set) var lastReceiveNanos: Int64 = 0

    /// Connects to 127.0.0.1:`port`; `timeout` bounds every later read and write (nil: none).
    init(port: Int, timeout: Duration?) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            let reason = String(cString: strerror(errno))
            Foundation.close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port): \(reason)")
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    deinit { Foundation.close(fd) }

    /// Unblocks a read in progress on another thread (it then sees the end of the stream).
    func shutdown() { _ = Foundation.shutdown(fd, Int32(SHUT_RDWR)) }

    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw BenchError("HTTP write failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Receives more bytes into the buffer; false at the end of the stream.
    private func fill() throws -> Bool {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw BenchError("HTTP read failed: \(String(cString: strerror(errno)))") }
            if n == 0 { return false }
            lastReceiveNanos = wallClockNanos()
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    /// The next line without its CR LF (or bare LF); nil at the end of the stream.
    func readLine() throws -> [UInt8]? {
        var scanned = start
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                return line
            }
            scanned = buffer.count
            let offset = start
            guard try fill() else { return nil }
            scanned -= offset - start  // fill() may have moved the unread bytes to the front
        }
    }

    /// Exactly `count` bytes; nil if the stream ends first.
    func read(count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            guard try fill() else { return nil }
        }
        let bytes = Array(buffer[start..<(start + count)])
        start += count
        return bytes
    }

    /// Whatever is left until the end of the stream.
    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        let bytes = Array(buffer[start...])
        start = buffer.count
        return bytes
    }
}

/// The server closed the connection without answering (an idle keep-alive connection it dropped).
struct ClosedBeforeResponse: Error, CustomStringConvertible {
    var description: String { "HTTP connection closed before a response" }
}

struct HTTPResponse: Sendable {
    var status: Int
    /// Header names in lower case.
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

enum HTTP1 {
    static func request(method: String, path: String, port: Int, headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method != "GET" || !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Reads a status line and headers.
    static func readHead(_ socket: HTTPSocket) throws -> (status: Int, headers: [(name: String, value: String)]) {
        guard let statusLine = try socket.readLine() else { throw ClosedBeforeResponse() }
        let parts = String(decoding: statusLine, as: UTF8.self).split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw BenchError("not an HTTP/1.1 status line: \(String(decoding: statusLine, as: UTF8.self))")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            guard let line = try socket.readLine() else { throw BenchError("HTTP connection closed in the headers") }
            if line.isEmpty { break }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { throw BenchError("bad HTTP header line: \(text)") }
            headers.append((text[..<colon].lowercased(), text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return (status, headers)
    }

    static func isChunked(_ headers: [(name: String, value: String)]) -> Bool {
        headers.contains { $0.name == "transfer-encoding" && $0.value.lowercased().contains("chunked") }
    }

    /// The size line of the next chunk (extensions ignored); 0 is the last chunk.
    static func readChunkSize(_ socket: HTTPSocket) throws -> Int {
        guard let line = try socket.readLine() else { throw BenchError("HTTP stream ended inside the chunked body") }
        let text = String(decoding: line, as: UTF8.self)
        guard let size = Int(text.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? "", radix: 16), size >= 0 else {
            throw BenchError("bad chunk size line: \(text)")
        }
        return size
    }

    /// A whole response: body by Content-Length, chunked, or until the connection closes.
    static func readResponse(_ socket: HTTPSocket) throws -> HTTPResponse {
        let (status, headers) = try readHead(socket)
        var body: [UInt8] = []
        if isChunked(headers) {
            while true {
                let size = try readChunkSize(socket)
                if size == 0 {
                    // Trailers, if any, end with an empty line.
                    while let line = try socket.readLine(), !line.isEmpty {}
                    break
                }
                guard let data = try socket.read(count: size), try socket.readLine() != nil else {
                    throw BenchError("HTTP stream ended inside a chunk")
                }
                body += data
            }
        } else if let length = headers.first(where: { $0.name == "content-length" }).flatMap({ Int($0.value) }) {
            guard let data = try socket.read(count: length) else { throw BenchError("HTTP body shorter than its Content-Length") }
            body = data
        } else if status != 204, status != 304 {
            body = try socket.readToEnd()
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }
}

/// A staff client on one keep-alive connection: signs in, then sends JSON requests with its
/// session cookie. Used from one thread at a time.
final class DashboardClient: @unchecked Sendable {
    let port: Int
    private var socket: HTTPSocket?
    private(set) var cookie: String?

    init(port: Int) {
        self.port = port
    }

    /// POST `path` with a JSON body; returns the response, when the request was written (wall ns,
    /// just before the first byte went out) and when the response's last bytes were received.
    func post(_ path: String, json: JSONValue) throws -> (response: HTTPResponse, sentNanos: Int64, receivedNanos: Int64) {
        var headers = [("Content-Type", "application/json")]
        if let cookie { headers.append(("Cookie", cookie)) }
        let bytes = HTTP1.request(method: "POST", path: path, port: port, headers: headers, body: JSONCoding.encode(json))
        while true {
            let reused = socket != nil
            let connection = try socket ?? HTTPSocket(port: port, timeout: .seconds(10))
            socket = connection
            let sent = wallClockNanos()
            do {
                try connection.write(bytes)
                let response = try HTTP1.readResponse(connection)
                if response.header("connection")?.lowercased() == "close" { socket = nil }
                return (response, sent, connection.lastReceiveNanos)
            } catch is ClosedBeforeResponse where reused {
                // The server had closed this idle keep-alive connection: nothing was done, send again
                // on a new one. (Any other failure is not retried: a command must not go twice.)
                socket = nil
            } catch {
                socket = nil
                throw error
            }
        }
    }

    /// Signs in; later requests carry the session cookie.
    func signIn(account: String, password: String) throws {
        let (response, _, _) = try post("/api/login", json: ["account": .string(account), "password": .string(password)])
        guard response.status == 200 else {
            throw BenchError("dashboard sign-in refused (\(response.status)): \(String(decoding: response.body, as: UTF8.self))")
        }
        for (name, value) in response.headers where name == "set-cookie" {
            let pair = value.split(separator: ";").first.map(String.init) ?? ""
            if pair.hasPrefix("playclock_session="), pair.count > "playclock_session=".count { cookie = pair }
        }
        guard cookie != nil else { throw BenchError("dashboard sign-in set no playclock_session cookie") }
    }

    func close() { socket = nil }
}

/// One open live feed (`GET /api/live`), read on its own thread: every `state` frame is timed on
/// arrival (wall ns, when the bytes that completed it were received) with its station and status.
final class LiveWatcher: @unchecked Sendable {
    struct StateFrame {
        var wallNanos: Int64
        var status: String
        var hasSession: Bool
    }

    private struct Seen {
        var snapshotNanos: Int64?
        var states: [String: [StateFrame]] = [:]
        var frames = 0
        var ended: String?
    }

    let socket: HTTPSocket
    private let seen = Mutex(Seen())

    /// Connects and sends the request; `start()` reads the feed.
    init(port: Int, path: String, headers: [(String, String)]) throws {
        socket = try HTTPSocket(port: port, timeout: nil)
        try socket.write(HTTP1.request(method: "GET", path: path, port: port,
                                       headers: headers + [("Accept", "text/event-stream")], body: []))
    }

    func start(name: String) {
        let thread = Thread { [self] in
            let reason: String
            do {
                try read()
                reason = "the hub ended the feed"
            } catch {
                reason = "\(error)"
            }
            seen.withLock { $0.ended = reason }
        }
        thread.name = name
        thread.start()
    }

    /// Ends the feed from the bench's side (the reading thread then finishes).
    func stop() { socket.shutdown() }

    var snapshotReceived: Bool { seen.withLock { $0.snapshotNanos != nil } }
    /// Why the feed ended, or nil while it is open.
    var ended: String? { seen.withLock { $0.ended } }
    var frameCount: Int { seen.withLock { $0.frames } }

    /// The first `state` frame for `station` received at or after `since` that matches.
    func firstState(station: String, since: Int64, where matches: (StateFrame) -> Bool) -> StateFrame? {
        seen.withLock { $0.states[station]?.first { $0.wallNanos >= since && matches($0) } }
    }

    private func read() throws {
        let (status, headers) = try HTTP1.readHead(socket)
        guard status == 200 else { throw BenchError("GET /api/live answered \(status)") }
        let chunked = HTTP1.isChunked(headers)
        var parser = EventStreamParser()
        if !chunked {
            // Not what Hummingbird sends for a streamed body, but a plain stream reads the same.
            while let line = try socket.readLine() {
                if let frame = parser.feedLine(line) { record(frame) }
            }
            return
        }
        while true {
            let size = try HTTP1.readChunkSize(socket)
            if size == 0 { return }
            guard let data = try socket.read(count: size), try socket.readLine() != nil else {
                throw BenchError("live feed ended inside a chunk")
            }
            for frame in parser.feed(data) { record(frame) }
        }
    }

    private func record(_ frame: EventStreamParser.Frame) {
        let now = socket.lastReceiveNanos
        switch frame.event {
        case "snapshot":
            seen.withLock {
                $0.snapshotNanos = now
                $0.frames += 1
            }
        case "state":
            guard let body = try? JSONCoding.decode(frame.data), let station = body["station"]?.stringValue else { return }
            let state = StateFrame(wallNanos: now, status: body["status"]?.stringValue ?? "",
                                   hasSession: body["session"].map { $0 != .null } ?? false)
            seen.withLock {
                $0.states[station, default: []].append(state)
                $0.frames += 1
            }
        default:
            seen.withLock { $0.frames += 1 }
        }
    }
}

/// Splits a `text/event-stream` into frames (event name and data); comments and `retry:` are
/// skipped. Data lines of one frame are joined with newlines, as a browser does.
struct EventStreamParser {
    struct Frame {
        var event: String
        var data: [UInt8]
    }

    private var partial: [UInt8] = []
    private var event = ""
    private var data: [UInt8] = []
    private var hasData = false

    /// Feeds raw bytes (any split); returns the frames they completed.
    mutating func feed(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var lineStart = 0
        for (i, byte) in bytes.enumerated() where byte == 0x0A {
            var line = partial + bytes[lineStart..<i]
            partial = []
            if line.last == 0x0D { line.removeLast() }
            if let frame = feedLine(line) { frames.append(frame) }
            lineStart = i + 1
        }
        partial += bytes[lineStart...]
        return frames
    }

    /// One line without its terminator; returns a frame when the line ends one.
    mutating func feedLine(_ line: [UInt8]) -> Frame? {
        if line.isEmpty {
            defer {
                event = ""
                data = []
                hasData = false
            }
            guard hasData else { return nil }
            return Frame(event: event.isEmpty ? "message" : event, data: data)
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var value = colon < line.count ? Array(line[(colon + 1)...]) : []
        if value.first == UInt8(ascii: " ") { value.removeFirst() }
        switch field {
        case "event": event = String(decoding: value, as: UTF8.self)
        case "data":
            if hasData { data.append(0x0A) }
            data += value
            hasData = true
        default: break  // retry, id
        }
        return nil
    }
}
