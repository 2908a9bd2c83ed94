import Foundation
import PlayclockContract
import PlayclockCore
import Synchronization

@testable import PlayclockHub

/// A clock that moves only when the test says so: `advance` moves both the monotonic and the
/// wall clock and wakes every sleeper whose deadline has come; `jumpWall` moves only the wall
/// clock, as NTP or a missing RTC would. Nothing here waits for real time.
final class ManualHubClock: HubClock {
    private struct Sleeper {
        var id: Int
        var deadline: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    init(wallMillis: Int64 = 1_800_000_000_000, monoNanos: Int64 = 1_000_000_000_000, bootID: String = "test-boot") {
        state = Mutex(State(now: Timestamp(wallMillis: wallMillis, monoNanos: monoNanos, bootID: bootID)))
    }

    func now() -> Timestamp { state.withLock { $0.now } }

    /// How many tasks are waiting on this clock (the hub's timer and alive recorder).
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func advance(byMillis millis: Int64) {
        let due = state.withLock { state -> [Sleeper] in
            state.now.wallMillis += millis
            state.now.monoNanos += millis * 1_000_000
            let now = state.now.monoNanos
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        due.forEach { $0.continuation.resume() }
    }

    func jumpWall(byMillis millis: Int64) { state.withLock { $0.now.wallMillis += millis } }

    func sleep(untilMonoNanos deadline: Int64) async throws {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || deadline <= state.now.monoNanos { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            try Task.checkCancellation()
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
