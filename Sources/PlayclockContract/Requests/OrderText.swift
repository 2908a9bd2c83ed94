/// The text of a `station/message` order, as the hub accepts and sends it: trimmed of leading and
/// trailing whitespace, 1 to `maxLength` characters, and no control characters but line breaks
/// (`\n`), so an agent can show it as it is.
public enum OrderText {
    public static let maxLength = 280

    /// The text as sent to the agent (trimmed), or nil when `text` is not a valid message.
    public static func normalized(_ text: String) -> String? {
        DisplayText.normalized(text, maxLength: maxLength, lineBreaks: true)
    }
}
