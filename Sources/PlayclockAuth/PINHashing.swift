import HummingbirdBcrypt

/// Members' station PINs, hashed with the same bcrypt as the dashboard's passwords.
///
/// A PIN has few digits, so the hash alone would not keep it secret from someone holding the
/// database; what protects it is the lock-out after a few wrong tries (`HubPolicy.pinMaxAttempts`)
/// and that only the station's own agent account may send sign-ins. The cost is lower than the
/// dashboard's (10, about 50 ms here) because a PIN is set at the desk while a customer waits.
public enum PINHashing {
    public static let cost: UInt8 = 10

    public static func hash(_ pin: String) -> String { Bcrypt.hash(pin, cost: cost) }

    /// Whether `pin` matches `hash`. Slow on purpose: call it off the hub's actor.
    public static func verify(_ pin: String, hash: String) -> Bool { Bcrypt.verify(pin, hash: hash) }
}
