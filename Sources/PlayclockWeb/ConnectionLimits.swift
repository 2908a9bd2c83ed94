import Logging
import NIOCore
import Synchronization

/// A fixed number of places (live feeds); a taken place is given back when its `Slot` is released.
final class SlotPool: Sendable {
    let limit: Int
    private let taken = Mutex(0)

    init(limit: Int) {
        self.limit = limit
    }

    var count: Int { taken.withLock { $0 } }

    /// A place, or nil when all are taken.
    func acquire() -> Slot? {
        let granted = taken.withLock { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        return granted ? Slot(pool: self) : nil
    }

    fileprivate func release() {
        taken.withLock { $0 = max(0, $0 - 1) }
    }

    /// Holds one place until it is freed (however the holder ends: finished, cancelled, dropped).
    final class Slot: Sendable {
        private let pool: SlotPool
        fileprivate init(pool: SlotPool) { self.pool = pool }
        deinit { pool.release() }
    }
}

/// Counts the dashboard's open TCP connections. A connection over the limit is closed as soon as
/// it arrives, before any request is read, so connections cannot exhaust the hub's descriptors.
/// Refusals are logged at most once a minute, with how many there were.
final class ConnectionLimiter: Sendable {
    let limit: Int
    private let logger: Logger
    private struct State {
        var open = 0
        var refused = 0
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    var open: Int { state.withLock { $0.open } }
    var refused: Int { state.withLock { $0.refused } }

    /// Takes a place for a new connection; false (and counted) when the limit is reached.
    func admit() -> Bool {
        let (admitted, report) = state.withLock { s -> (Bool, Int?) in
            if s.open < limit {
                s.open += 1
                return (true, nil)
            }
            s.refused += 1
            s.refusedSinceLog += 1
            // Log time only (never a measurement the tests look at).
            let now = ContinuousClock.now
            guard s.lastLog.map({ now - $0 >= .seconds(60) }) ?? true else { return (false, nil) }
            s.lastLog = now
            defer { s.refusedSinceLog = 0 }
            return (false, s.refusedSinceLog)
        }
        if let report {
            logger.warning("dashboard connections refused: http.max_connections reached", metadata: [
                "http.max_connections": "\(limit)", "http.connections.refused": "\(report)",
            ])
        }
        return admitted
    }

    func release() {
        state.withLock { $0.open = max(0, $0.open - 1) }
    }
}

/// Added to every HTTP/1 connection's pipeline: takes a place in the `ConnectionLimiter` when the
/// connection becomes active and gives it back when the connection closes; over the limit, it
/// closes the connection at once.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private let limiter: ConnectionLimiter
    private var decided = false
    private var refused = false

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { decide(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        decide(context)
        if !refused { context.fireChannelActive() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }  // nothing from a refused connection reaches the router
        context.fireChannelRead(data)
    }

    private func decide(_ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        if limiter.admit() {
            let limiter = self.limiter
            context.channel.closeFuture.whenComplete { _ in limiter.release() }
        } else {
            refused = true
            context.channel.close(promise: nil)
        }
    }
}
