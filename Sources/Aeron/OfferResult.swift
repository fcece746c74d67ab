/// The outcome of offering a message to a publication, or of claiming space in it.
///
/// A successful offer yields the new stream position; every failure is a typed case so that a caller can decide to
/// retry (``backPressured``, ``adminAction``), wait for a subscriber (``notConnected``) or give up (``closed``,
/// ``maxPositionExceeded``, ``error``). Decoding the C return value allocates nothing.
public enum OfferResult: Sendable, Equatable, CustomStringConvertible {
    /// The message was appended; the associated value is the new stream position.
    case success(position: Int64)
    /// No subscriber is connected to the publication (`AERON_PUBLICATION_NOT_CONNECTED`).
    case notConnected
    /// The publication is flow-controlled by its slowest subscriber (`AERON_PUBLICATION_BACK_PRESSURED`).
    case backPressured
    /// An administrative action, such as a term rotation, interrupted the offer: retry (`AERON_PUBLICATION_ADMIN_ACTION`).
    case adminAction
    /// The publication is closed (`AERON_PUBLICATION_CLOSED`).
    case closed
    /// The stream reached its maximum possible position for its term length (`AERON_PUBLICATION_MAX_POSITION_EXCEEDED`).
    case maxPositionExceeded
    /// The C client reported an error (`AERON_PUBLICATION_ERROR`) or an unknown negative code.
    case error(code: Int64)

    /// Raw values of the C `AERON_PUBLICATION_*` results, as `Int64` like the functions that return them.
    @usableFromInline
    enum Raw {
        @usableFromInline static let notConnected: Int64 = -1
        @usableFromInline static let backPressured: Int64 = -2
        @usableFromInline static let adminAction: Int64 = -3
        @usableFromInline static let closed: Int64 = -4
        @usableFromInline static let maxPositionExceeded: Int64 = -5
    }

    /// Decodes the return value of `aeron_publication_offer`, `…_offerv` or `…_try_claim`.
    @inlinable @inline(__always)
    public init(rawValue: Int64) {
        if rawValue >= 0 {
            self = .success(position: rawValue)
            return
        }
        switch rawValue {
        case Raw.notConnected: self = .notConnected
        case Raw.backPressured: self = .backPressured
        case Raw.adminAction: self = .adminAction
        case Raw.closed: self = .closed
        case Raw.maxPositionExceeded: self = .maxPositionExceeded
        default: self = .error(code: rawValue)
        }
    }

    /// Whether the message was appended.
    @inlinable @inline(__always)
    public var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }

    /// The new stream position after a successful offer, else `nil`.
    @inlinable @inline(__always)
    public var position: Int64? {
        if case .success(let position) = self { return position }
        return nil
    }

    /// Whether retrying the same offer soon may succeed (back pressure, admin action or no subscriber yet).
    @inlinable @inline(__always)
    public var isRetryable: Bool {
        switch self {
        case .backPressured, .adminAction, .notConnected: return true
        default: return false
        }
    }

    /// A short name of the outcome.
    public var description: String {
        switch self {
        case .success(let position): return "success(position: \(position))"
        case .notConnected: return "notConnected"
        case .backPressured: return "backPressured"
        case .adminAction: return "adminAction"
        case .closed: return "closed"
        case .maxPositionExceeded: return "maxPositionExceeded"
        case .error(let code): return "error(\(code))"
        }
    }
}

/// The state of a channel endpoint, read from its channel-status counter.
public enum ChannelStatus: Sendable, Equatable {
    /// The endpoint is being set up (`0`).
    case initializing
    /// The endpoint is active (`1`).
    case active
    /// Setting up the endpoint failed, e.g. the address is in use (`-1`).
    case errored
    /// The endpoint is closing (`2`).
    case closing
    /// The resource has no channel-status counter (IPC) or reported another value.
    case unknown(Int64)

    /// Decodes the value of a channel-status counter.
    public init(rawValue: Int64) {
        switch rawValue {
        case 0: self = .initializing
        case 1: self = .active
        case -1: self = .errored
        case 2: self = .closing
        default: self = .unknown(rawValue)
        }
    }
}
