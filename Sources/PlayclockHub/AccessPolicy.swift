import PlayclockContract
import PlayclockCore

/// Who may do what. Staff accounts map to roles; the broker's ACL guarantees that a request on
/// `R/users/<user>/request/...` was published by `<user>`. The shared `R/hub/request/...` topic
/// carries no identity: it gets `sharedTopicRole`, which is `manager` on a hub without roles (a
/// development or single-operator setup) and nothing once roles are configured.
public struct AccessPolicy: Sendable, Equatable {
    public var roles: [String: StaffRole]
    public var sharedTopicRole: StaffRole?

    public init(roles: [String: StaffRole] = [:], sharedTopicRole: StaffRole?? = nil) {
        self.roles = roles
        self.sharedTopicRole = sharedTopicRole ?? (roles.isEmpty ? .manager : nil)
    }

    /// Why the command may not run, or nil when it may.
    public func refusal(of command: Command, verb: String, user: String?) -> CommandError? {
        let role: StaffRole
        if let user {
            guard let known = roles[user] else {
                return CommandError(.forbidden, "account \(user) has no staff role on this hub")
            }
            role = known
        } else {
            guard let shared = sharedTopicRole else {
                return CommandError(.unauthenticated, "this hub takes requests only on each account's own topic: <root>/users/<account>/request/<verb>")
            }
            role = shared
        }
        guard role.permits(command) else {
            return CommandError(.forbidden, "role \(role.rawValue) may not send \(verb) (needs \(StaffRole.required(for: command).rawValue))")
        }
        return nil
    }
}
