import Testing

@testable import DriverConfig

/// One valid profile and one stream using it: the smallest configuration that validates.
let minimalProfiles = """
    [profiles.p]
    payload_pools = [{ pool_id = 1, stride_bytes = 4096 }]
    """

let minimalStreams = """
    [streams.s]
    stream_id = 10000
    profile = "p"
    """

/// A document made of the given table bodies; `profiles` and `streams` default to the minimal valid ones.
func document(
    driver: String = "", shm: String = "", policies: String = "", profiles: String = minimalProfiles,
    streams: String = minimalStreams, extra: String = ""
) -> String {
    """
    [driver]
    \(driver)

    [shm]
    \(shm)

    [policies]
    \(policies)

    \(profiles)

    \(streams)

    \(extra)
    """
}

/// Parses `toml` and expects a ``ConfigurationError`` naming `key`.
func expectError(
    _ toml: String, environment: [String: String] = [:], key: String, messageContains fragment: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let configuration = try DriverConfiguration.parse(toml, environment: environment)
        Issue.record("expected an error for \(key), parsed \(configuration)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix("\(key): "), sourceLocation: sourceLocation)
        if let fragment {
            #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
        }
    }
}

/// Validates `configuration` and expects a ``ConfigurationError`` naming `key`.
func expectInvalid(
    _ configuration: DriverConfiguration, key: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        try configuration.validate()
        Issue.record("expected \(key) to be rejected", sourceLocation: sourceLocation)
    } catch {
        #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
    }
}
