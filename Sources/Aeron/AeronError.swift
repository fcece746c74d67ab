import CAeron

/// An error from the Aeron C client or media driver, or from the wrapper's own checks.
///
/// Errors raised by the C library carry Aeron's error code (`aeron_errcode()`: an `errno` value, an Aeron client code
/// such as ``ClientCode/driverTimeout``, or a negative driver error code) and its message (`aeron_errmsg()`), read on
/// the failing thread right after the failing call.
public struct AeronError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// The C library reported the failure; ``AeronError/code`` and ``AeronError/message`` are Aeron's.
        case library
        /// A bounded wait (adding a resource, connecting) ran out of time.
        case timedOut
        /// The resource or its client is already closed.
        case closed
        /// An argument was rejected before reaching the C library.
        case invalidArgument
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// The C function or wrapper operation that failed, e.g. `aeron_init`.
    public let operation: String
    /// Aeron's error code (`aeron_errcode()`), or 0 when the error did not come from the C library.
    public let code: Int32
    /// The full message, which for C-library errors may span several lines (Aeron appends a call trace).
    public let message: String

    /// Creates an error value.
    public init(kind: Kind, operation: String, code: Int32 = 0, message: String) {
        self.kind = kind
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// The first line of ``message``.
    public var summary: String {
        message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init)
            ?? message
    }

    /// `operation: summary (code N)`.
    public var description: String {
        code == 0 ? "\(operation): \(summary)" : "\(operation): \(summary) (code \(code))"
    }

    /// Captures `aeron_errcode()` and `aeron_errmsg()` of the calling thread for the failed `operation`.
    @usableFromInline
    static func lastError(_ operation: String) -> AeronError {
        let code = aeron_errcode()
        let text = aeron_errmsg().map { String(cString: $0) } ?? ""
        return AeronError(
            kind: .library,
            operation: operation,
            code: code,
            message: text.isEmpty ? "failed without an Aeron error message" : text
        )
    }

    /// The Aeron client's own error codes (`AERON_CLIENT_ERROR_*`), reported to ``AeronContext/errorHandler``.
    public enum ClientCode {
        /// The media driver stopped answering or shut down (`AERON_CLIENT_ERROR_DRIVER_TIMEOUT`).
        public static let driverTimeout: Int32 = 1000
        /// The driver timed this client out (`AERON_CLIENT_ERROR_CLIENT_TIMEOUT`).
        public static let clientTimeout: Int32 = 1001
        /// The client conductor was not serviced in time (`AERON_CLIENT_ERROR_CONDUCTOR_SERVICE_TIMEOUT`).
        public static let conductorServiceTimeout: Int32 = 1002
        /// The client's command buffer to the driver is full (`AERON_CLIENT_ERROR_BUFFER_FULL`).
        public static let bufferFull: Int32 = 1003
    }

    /// Whether the media driver stopped answering or shut down.
    public var isDriverTimeout: Bool { code == ClientCode.driverTimeout }

    static func closed(_ operation: String) -> AeronError {
        AeronError(kind: .closed, operation: operation, message: "the resource or its client is closed")
    }
}

/// Clears the calling thread's pending Aeron error, so that the next failure reports its own code and message rather
/// than being appended to a stale error (Aeron's C code sets an error only when none is pending).
@inline(__always)
func clearAeronError() {
    aeron_err_clear()
}

/// Calls a C function that returns `0` on success and `-1` on failure, turning failure into an ``AeronError``.
@inline(__always)
func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(AeronError) {
    if result < 0 { throw AeronError.lastError(operation()) }
}
