import PlayclockContract

/// What the agent keeps on disk so that a killed agent comes back in the right state: the
/// session it was unlocked for and when its lease ends, on the boot-time clock of this boot.
/// A different boot (the PC was restarted) or anything doubtful means locked.
public struct LeaseRecord: Sendable, Equatable {
    public var station: StationID
    /// nil: locked (there is no lease).
    public var session: String?
    /// `/proc/sys/kernel/random/boot_id`: the boot the deadline belongs to.
    public var bootID: String
    /// The lease's end on `CLOCK_BOOTTIME`, nanoseconds (nil when locked).
    public var deadlineMonoNanos: Int64?
    /// The wall clock when saved, for people reading the file; never used to decide anything.
    public var savedAt: String

    public init(station: StationID, session: String?, bootID: String, deadlineMonoNanos: Int64?, savedAt: String) {
        self.station = station
        self.session = session
        self.bootID = bootID
        self.deadlineMonoNanos = deadlineMonoNanos
        self.savedAt = savedAt
    }

    /// Largest lease file the agent reads.
    public static let maxBytes = 4096

    public var json: JSONValue {
        ["station": .string(station.value), "session": JSONValue(session), "boot_id": .string(bootID),
         "deadline_boottime_ns": JSONValue(deadlineMonoNanos), "saved_at": .string(savedAt)]
    }

    public var bytes: [UInt8] { JSONCoding.encode(json) + [UInt8(ascii: "\n")] }

    public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count <= Self.maxBytes else { throw DecodingError(description: "lease file is larger than \(Self.maxBytes) bytes") }
        guard let value = try? JSONCoding.decode(bytes), let o = value.objectValue else {
            throw DecodingError(description: "lease file is not a JSON object")
        }
        guard let stationText = o["station"]?.stringValue, let station = StationID(stationText) else {
            throw DecodingError(description: "lease file has no valid \"station\"")
        }
        guard let bootID = o["boot_id"]?.stringValue, !bootID.isEmpty else {
            throw DecodingError(description: "lease file has no \"boot_id\"")
        }
        let session: String?
        switch o["session"] {
        case .string(let s)?: session = s
        case .null?, nil: session = nil
        default: throw DecodingError(description: "lease file's \"session\" must be a string or null")
        }
        let deadline: Int64?
        switch o["deadline_boottime_ns"] {
        case .int(let n)?: deadline = n
        case .null?, nil: deadline = nil
        default: throw DecodingError(description: "lease file's \"deadline_boottime_ns\" must be a whole number or null")
        }
        guard (session == nil) == (deadline == nil) else {
            throw DecodingError(description: "lease file must have both \"session\" and \"deadline_boottime_ns\", or neither")
        }
        self.init(station: station, session: session, bootID: bootID, deadlineMonoNanos: deadline,
                  savedAt: o["saved_at"]?.stringValue ?? "")
    }
}

/// What the runtime found in the lease file at start.
public enum LeaseRestore: Sendable, Equatable {
    /// No file: a first start (locked).
    case none
    case record(LeaseRecord)
    /// The file was there but could not be trusted (others may write it, wrong owner, damaged):
    /// locked, and reported as tamper.
    case rejected(String)
}
