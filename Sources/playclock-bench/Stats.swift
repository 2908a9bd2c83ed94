import Foundation

/// Percentiles of a sample, nearest-rank; empty samples report as "-".
struct Summary {
    let count: Int
    let p50: Double?
    let p99: Double?
    let max: Double?

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ p: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let index = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        p50 = rank(0.50)
        p99 = rank(0.99)
        max = sorted.last
    }

    static func format(_ value: Double?, digits: Int = 1) -> String {
        guard let value else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    /// "p50 / p99 / max" in ms.
    var text: String { "\(Self.format(p50)) / \(Self.format(p99)) / \(Self.format(max))" }
}

/// A Markdown table assembled row by row.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    var markdown: String {
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in "---" }.joined(separator: "|") + "|"]
        lines += rows.map { "| " + $0.joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n")
    }
}

/// Raw samples kept for the plot: one CSV line per sample, `series,ms`.
final class SampleFile {
    private var lines = ["series,ms"]

    func add(_ series: String, _ samples: [Double]) {
        lines += samples.map { "\(series),\(String(format: "%.3f", $0))" }
    }

    func write(to url: URL) throws {
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }
}
