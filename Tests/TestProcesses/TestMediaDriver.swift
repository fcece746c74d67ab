public import Aeron
import Foundation
import Synchronization

/// One embedded media driver per test process, shared by every test (tests run in parallel on separate streams).
public enum TestMediaDriver {
    private static let started: Result<MediaDriver, AeronError> = {
        let result = Result { () throws(AeronError) -> MediaDriver in try MediaDriver(.forTesting()) }
        if case .success = result {
            atexit { TestMediaDriver.shutdown() }
        }
        return result
    }()

    /// The shared driver, started on first use.
    public static func driver() throws -> MediaDriver { try started.get() }

    /// A new client of the shared driver.
    public static func client(_ configure: (inout AeronContext) -> Void = { _ in }) throws -> AeronClient {
        var context = AeronContext(directory: try driver().directory)
        configure(&context)
        return try AeronClient(context: context)
    }

    /// Closes the shared driver (at exit).
    public static func shutdown() {
        if case .success(let driver) = started { driver.close() }
    }

    private static let nextStream = Atomic<Int32>(5000)

    /// A stream id no other test of this process uses.
    public static func uniqueStreamId() -> Int32 { nextStream.wrappingAdd(1, ordering: .relaxed).newValue }
}
