/// A configuration the driver refuses to start with: a TOML syntax error, a key of the wrong type, an unknown key, a
/// malformed environment override, or a value that breaks a startup rule of driver spec §11 or §17.
///
/// ``key`` always names the offending setting in its TOML spelling (`profiles.camera.header_nslots`,
/// `driver.stream_id_range`), so an operator can find it in the file; an override that came from the environment is
/// named by its configuration key, and ``message`` names the variable. Errors about the document as a whole (it cannot
/// be read, or is not valid TOML) use ``documentKey``.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key errors about the whole document use: an unreadable file or a TOML syntax error.
    public static let documentKey = "<file>"

    /// The offending key, dotted as in the TOML file (`policies.announce_period_ms`), or ``documentKey``.
    public var key: String

    /// What is wrong with the value of ``key``.
    public var message: String

    /// An error about `key`.
    ///
    /// - Parameters:
    ///   - key: The offending key, dotted as in the TOML file, or ``documentKey``.
    ///   - message: What is wrong with its value.
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// `"<key>: <message>"`, e.g. `profiles.camera.header_nslots: 1000 is not a power of two`.
    public var description: String { "\(key): \(message)" }
}
