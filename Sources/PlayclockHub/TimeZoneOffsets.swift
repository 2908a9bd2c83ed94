import Foundation
import PlayclockCore

/// The venue's UTC offsets from the system's timezone database (tzdata), for prices by local time.
public struct TimeZoneOffsets: UTCOffsetProvider {
    public let identifier: String
    private let zone: TimeZone

    public struct UnknownTimeZone: Error, CustomStringConvertible {
        public var identifier: String
        public var description: String { "unknown timezone \"\(identifier)\": use an IANA name such as Europe/Berlin (see /usr/share/zoneinfo)" }
    }

    public init(identifier: String) throws(UnknownTimeZone) {
        guard let zone = TimeZone(identifier: identifier) else { throw UnknownTimeZone(identifier: identifier) }
        self.identifier = identifier
        self.zone = zone
    }

    public func offsetSeconds(atWallMillis millis: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(millis.dividedRoundingDown(by: 1000)))))
    }
}

extension Int64 {
    fileprivate func dividedRoundingDown(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
