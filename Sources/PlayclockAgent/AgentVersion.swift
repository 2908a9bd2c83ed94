/// The agent's version, sent in every heartbeat (`version`).
public enum AgentVersion {
    public static let current = "1.0.0"
}
