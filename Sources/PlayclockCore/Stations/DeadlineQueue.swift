import HeapModule
import PlayclockContract

/// Stations ordered by their next deadline, so that the timer and `tick` only look at the
/// stations that are due instead of scanning every station.
///
/// `deadlines` holds each station's current deadline; the heap holds `(deadline, station)` items
/// and may also hold outdated ones. Replacing a deadline pushes a new item and leaves the old one
/// where it is (removing from the middle of a heap needs an index per station, and a heartbeat or
/// countdown moves a deadline several times per minute per station). An item is outdated when its
/// deadline is no longer the station's current one; outdated items are dropped when they reach
/// the top, and the heap is rebuilt from `deadlines` once they outnumber the live ones, which keeps
/// both the memory and the amortised cost of every operation bounded.
///
/// The top of the heap is always a live item, so `earliest` is a plain read.
///
/// The heap is swift-collections' `Heap` (a min-max heap; only its minimum end is used here). On
/// the hub's own pattern (every heartbeat moves a station's deadline to the latest) it took about
/// three quarters of the time of the hand-written binary heap it replaced (BENCHMARKS.md, issue 12).
struct DeadlineQueue: Sendable {
    private struct Item: Comparable, Sendable {
        var deadline: Int64
        var station: StationID

        /// Ties on the deadline are broken by station id so that what fires together fires in an
        /// order that does not depend on the history of the heap.
        static func < (a: Item, b: Item) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.station < b.station
        }
    }

    private(set) var deadlines: [StationID: Int64] = [:]
    private var heap = Heap<Item>()

    /// The earliest deadline of any station.
    var earliest: Int64? { heap.min?.deadline }

    /// Items in the heap, live or outdated (for tests of the compaction).
    var heapCount: Int { heap.count }

    func deadline(of station: StationID) -> Int64? { deadlines[station] }

    /// Records the station's current deadline (nil: nothing to do for it).
    mutating func set(_ deadline: Int64?, for station: StationID) {
        guard deadlines[station] != deadline else { return }
        deadlines[station] = deadline
        if let deadline {
            heap.insert(Item(deadline: deadline, station: station))
            // Outdated items beyond twice the live ones: rebuilding costs O(live) and happens at
            // most once per O(live) pushes. The constant keeps small venues from rebuilding often.
            if heap.count > 2 * deadlines.count + 1024 { rebuild() }
        }
        dropOutdatedTop()
    }

    /// Removes and returns every station whose deadline is at or before `now`, in order of
    /// (deadline, station id). The stations are no longer in the queue: the caller sets their
    /// deadline again once it has dealt with them. Whatever they are set to, even a deadline that
    /// is already due, waits for the next call: one call never hands out a station twice.
    mutating func removeDue(through now: Int64) -> [StationID] {
        var due: [StationID] = []
        while let top = heap.min, top.deadline <= now {
            heap.removeMin()
            // A station appears once even if the heap held its live deadline twice (a deadline
            // that moved away and back): the first one removes it from `deadlines`.
            if deadlines[top.station] == top.deadline {
                deadlines[top.station] = nil
                due.append(top.station)
            }
        }
        dropOutdatedTop()
        return due
    }

    // MARK: - Lazy deletion

    private func isLive(_ item: Item) -> Bool { deadlines[item.station] == item.deadline }

    private mutating func dropOutdatedTop() {
        while let top = heap.min, !isLive(top) { heap.removeMin() }
    }

    /// Only the live items, heapified in O(live).
    private mutating func rebuild() {
        heap = Heap(deadlines.map { Item(deadline: $0.value, station: $0.key) })
    }
}
