/// ISO 8601 UTC with milliseconds (`2026-11-21T23:24:50.123Z`), without Foundation formatters.
public enum ISO8601 {
    public static func string(fromMillis millis: Int64) -> String {
        let ms = Int(((millis % 1000) + 1000) % 1000)
        let totalSeconds = (millis - Int64(ms)) / 1000
        var days = totalSeconds / 86_400
        var secondsOfDay = totalSeconds % 86_400
        if secondsOfDay < 0 {
            secondsOfDay += 86_400
            days -= 1
        }
        let (y, m, d) = civilFromDays(days)
        let hh = Int(secondsOfDay / 3600), mm = Int(secondsOfDay / 60 % 60), ss = Int(secondsOfDay % 60)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2)).\(pad(ms, 3))Z"
    }

    /// The inverse of `string(fromMillis:)`: exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`, anything else nil.
    /// Agents use it to take the time left from two hub times (`ends_at - sent_at`), which no
    /// clock on the PC can skew.
    public static func millis(from text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "."), b[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var n: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") else { return nil }
                n = n * 10 + Int64(b[i] - UInt8(ascii: "0"))
            }
            return n
        }
        guard let y = number(0, 4), let m = number(5, 2), let d = number(8, 2), let hh = number(11, 2),
            let mm = number(14, 2), let ss = number(17, 2), let ms = number(20, 3),
            (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 60
        else { return nil }
        let days = daysFromCivil(y, m, d)
        guard civilFromDays(days) == (Int(y), Int(m), Int(d)) else { return nil }  // 2026-02-30
        return ((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms
    }

    /// Howard Hinnant's civil-to-days algorithm.
    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    private static func civilFromDays(_ z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
