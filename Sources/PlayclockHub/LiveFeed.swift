import PlayclockContract
import PlayclockCore
import Synchronization

/// What the hub tells live watchers (the dashboard's event stream): every retained station state
/// it publishes, every event it stores, and its broker connection.
public enum LiveItem: Sendable, Equatable {
    /// A station's full state document, exactly as published on `R/stations/<id>/state`.
    case state(station: String, json: [UInt8])
    /// A station was removed (its retained state was cleared).
    case removed(station: String)
    /// A stored event, as published on `R/events`.
    case event(json: [UInt8])
    /// The hub's broker connection changed.
    case broker(connected: Bool)
}

/// Fans hub changes out to any number of watchers without ever blocking the hub.
///
/// Each watcher has a bounded buffer. A watcher that falls so far behind that its buffer
/// overflows is cut off (its stream finishes) rather than silently missing changes: a browser's
/// EventSource reconnects and starts again from a fresh snapshot.
public final class LiveFeed: Sendable {
    private struct Watchers {
        var nextID = 0
        var closed = false
        var streams: [Int: AsyncStream<LiveItem>.Continuation] = [:]
    }

    private let watchers = Mutex(Watchers())
    private let bufferSize: Int

    public init(bufferSize: Int = 4096) {
        self.bufferSize = bufferSize
    }

    public var watcherCount: Int { watchers.withLock { $0.streams.count } }

    /// A new watcher's stream. It ends when the watcher's task is cancelled, when it falls behind,
    /// or when `finishAll` is called.
    func watch() -> AsyncStream<LiveItem> {
        let (stream, continuation) = AsyncStream<LiveItem>.makeStream(bufferingPolicy: .bufferingOldest(bufferSize))
        let id: Int? = watchers.withLock { w in
            guard !w.closed else { return nil }
            let id = w.nextID
            w.nextID += 1
            w.streams[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()  // the hub is stopping: nothing more will come
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.watchers.withLock { $0.streams.removeValue(forKey: id) }
        }
        return stream
    }

    func send(_ item: LiveItem) {
        let streams = watchers.withLock { Array($0.streams) }
        for (id, continuation) in streams {
            if case .dropped = continuation.yield(item) {
                // Behind by a whole buffer: end it (the client resynchronises) instead of skipping changes.
                continuation.finish()
                _ = watchers.withLock { $0.streams.removeValue(forKey: id) }
            }
        }
    }

    /// Ends every watcher's stream and refuses new ones (the hub is stopping).
    public func finishAll() {
        let streams = watchers.withLock { w in
            w.closed = true
            let all = Array(w.streams.values)
            w.streams.removeAll()
            return all
        }
        for continuation in streams { continuation.finish() }
    }
}
