import NIOCore
import PlayclockContract
import PlayclockCore
import PlayclockHub

/// Server-sent event frames (the `text/event-stream` format browsers read with `EventSource`).
enum LiveEvents {
    /// `event: NAME` and one `data:` line. The hub's JSON never contains a raw newline (the
    /// writer escapes them inside strings), so one data line always carries the whole document.
    static func frame(event: String, data: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: \(event)\ndata: ")
        buffer.writeBytes(data.filter { $0 != 0x0A && $0 != 0x0D })
        buffer.writeString("\n\n")
        return buffer
    }

    static func frame(_ item: LiveItem) -> ByteBuffer {
        switch item {
        case .state(_, let json): return frame(event: "state", data: json)
        case .removed(let station): return frame(event: "removed", data: JSONCoding.encode(["station": .string(station)]))
        case .event(let json): return frame(event: "event", data: json)
        case .broker(let connected): return frame(event: "broker", data: JSONCoding.encode(["connected": .bool(connected)]))
        }
    }

    /// How long the browser waits before reconnecting.
    static func frame(retryMillis: Int) -> ByteBuffer {
        ByteBuffer(string: "retry: \(retryMillis)\n\n")
    }

    /// A comment line: keeps proxies and idle timers from closing a quiet stream.
    static func comment(_ text: String) -> ByteBuffer {
        ByteBuffer(string: ": \(text)\n\n")
    }
}
