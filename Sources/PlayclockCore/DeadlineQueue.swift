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
struct DeadlineQueue: Sendable {
    private struct Item: Sendable {
        var deadline: Int64
        var station: StationID

        /// Ties on the deadline are broken by station id so that what fires together fires in an
        /// order that does not depend on the history of the heap.
        static func precedes(_ a: Item, _ b: Item) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.station < b.station
        }
    }

    private(set) var deadlines: [StationID: Int64] = [:]
    private var heap: [Item] = []

    /// The earliest deadline of any station.
    var earliest: Int64? { heap.first?.deadline }

    /// Items in the heap, live or outdated (for tests of the compaction).
    var heapCount: Int { heap.count }

    func deadline(of station: StationID) -> Int64? { deadlines[station] }

    /// Records the station's current deadline (nil: nothing to do for it).
    mutating func set(_ deadline: Int64?, for station: StationID) {
        guard deadlines[station] != deadline else { return }
        deadlines[station] = deadline
        if let deadline {
            push(Item(deadline: deadline, station: station))
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
        while let top = heap.first, top.deadline <= now {
            popTop()
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

    // MARK: - Heap

    private func isLive(_ item: Item) -> Bool { deadlines[item.station] == item.deadline }

    private mutating func dropOutdatedTop() {
        while let top = heap.first, !isLive(top) { popTop() }
    }

    private mutating func rebuild() {
        heap = deadlines.map { Item(deadline: $0.value, station: $0.key) }
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func push(_ item: Item) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Item.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var first = left
            if left + 1 < heap.count, Item.precedes(heap[left + 1], heap[left]) { first = left + 1 }
            guard Item.precedes(heap[first], heap[parent]) else { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
