import Atomics
import CAeron

/// Reads the media driver's counters: stream positions, channel status, error counts and application counters.
///
/// Obtained from ``AeronClient/counters``; valid while its client is open (reads return `nil` or nothing after).
public struct CountersReader: @unchecked Sendable {
    /// The client whose mapping of the counters file this reader uses.
    public let client: AeronClient

    init(client: AeronClient) { self.client = client }

    private var reader: OpaquePointer? {
        client.isClosed ? nil : aeron_counters_reader(client.handle)
    }

    /// The highest counter id the counters file can hold.
    public var maxCounterId: Int32 {
        guard let reader else { return -1 }
        return aeron_counters_reader_max_counter_id(reader)
    }

    /// The current value of counter `id` (an acquire load), or `nil` when the id is out of range.
    public func value(counterId id: Int32) -> Int64? {
        guard let reader, id >= 0, id <= aeron_counters_reader_max_counter_id(reader),
            let address = aeron_counters_reader_addr(reader, id)
        else { return nil }
        return UnsafeAtomic<Int64>(at: atomicStorage(address)).load(ordering: .acquiring)
    }

    /// The label of counter `id`, or `nil` when it is not allocated.
    public func label(counterId id: Int32) -> String? {
        guard let reader else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer -> String? in
            let length = aeron_counters_reader_counter_label(reader, id, buffer.baseAddress, buffer.count)
            guard length >= 0 else { return nil }
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(length))
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The type id of counter `id`, or `nil` when it is not allocated.
    public func typeId(counterId id: Int32) -> Int32? {
        guard let reader else { return nil }
        var typeId: Int32 = 0
        return aeron_counters_reader_counter_type_id(reader, id, &typeId) < 0 ? nil : typeId
    }

    /// The registration id of counter `id` (for stream positions, the publication's or subscription's), or `nil`.
    public func registrationId(counterId id: Int32) -> Int64? {
        guard let reader else { return nil }
        var registrationId: Int64 = 0
        return aeron_counters_reader_counter_registration_id(reader, id, &registrationId) < 0 ? nil : registrationId
    }

    /// The id of the counter with `typeId` and `registrationId`, or `nil` when there is none.
    public func find(typeId: Int32, registrationId: Int64) -> Int32? {
        guard let reader else { return nil }
        let id = aeron_counters_reader_find_by_type_id_and_registration_id(reader, typeId, registrationId)
        return id < 0 ? nil : id
    }

    /// Calls `body` with every allocated counter.
    public func forEach(_ body: (CounterInfo) -> Void) {
        guard let reader else { return }
        withoutActuallyEscaping(body) { escapable in
            withUnsafePointer(to: CounterVisitor(body: escapable)) { pointer in
                aeron_counters_reader_foreach_counter(
                    reader, counterVisitTrampoline, UnsafeMutableRawPointer(mutating: pointer))
            }
        }
        _ = client
    }

    /// Every allocated counter.
    public var all: [CounterInfo] {
        var counters: [CounterInfo] = []
        forEach { counters.append($0) }
        return counters
    }
}

/// A snapshot of one counter.
public struct CounterInfo: Sendable, Equatable {
    /// The counter id (its slot in the counters file).
    public let id: Int32
    /// The type id: for example 1 publisher limit, 4 subscriber position, 6 channel status; 1000+ for applications.
    public let typeId: Int32
    /// The value when the snapshot was taken.
    public let value: Int64
    /// The label.
    public let label: String
    /// The key metadata bytes.
    public let key: [UInt8]

    /// Common type ids of the Aeron media driver's counters.
    public enum TypeID {
        /// A media driver system counter (bytes sent, errors, …).
        public static let system: Int32 = 0
        /// Publisher limit (`pub-lmt`).
        public static let publisherLimit: Int32 = 1
        /// Sender position (`snd-pos`).
        public static let senderPosition: Int32 = 2
        /// Receiver high-water mark (`rcv-hwm`).
        public static let receiverHighWaterMark: Int32 = 3
        /// Subscriber position (`sub-pos`).
        public static let subscriberPosition: Int32 = 4
        /// Receiver position (`rcv-pos`).
        public static let receiverPosition: Int32 = 5
        /// Send channel status (`snd-channel`).
        public static let sendChannelStatus: Int32 = 6
        /// Receive channel status (`rcv-channel`).
        public static let receiveChannelStatus: Int32 = 7
        /// Publisher position (`pub-pos`).
        public static let publisherPosition: Int32 = 12
        /// A client's heartbeat (`client-heartbeat`).
        public static let clientHeartbeat: Int32 = 11
    }
}

/// The visitor closure passed to C as `clientd` (a concrete struct, see ``FragmentTarget``).
private struct CounterVisitor {
    let body: (CounterInfo) -> Void
}

private let counterVisitTrampoline:
    @convention(c) (
        Int64, Int32, Int32, UnsafePointer<UInt8>?, Int, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?
    ) -> Void = { value, id, typeId, key, keyLength, label, labelLength, clientd in
        guard let clientd else { return }
        let keyBytes = key.map { Array(UnsafeBufferPointer(start: $0, count: keyLength)) } ?? []
        let labelText =
            label.map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: labelLength), as: UTF8.self)
            } ?? ""
        let info = CounterInfo(id: id, typeId: typeId, value: value, label: labelText, key: keyBytes)
        clientd.assumingMemoryBound(to: CounterVisitor.self).pointee.body(info)
    }

/// An application counter allocated in the media driver's counters file, visible to every process that maps it
/// (for example `aeron-stat`-style tools and ``CountersReader``).
///
/// Updates are atomic and allocate nothing. The counter is freed by ``close()``, by dropping it, or by its client's
/// close.
public final class Counter: ClientOwnedResource, @unchecked Sendable {
    /// The client that owns this counter.
    public let client: AeronClient
    private var handle: OpaquePointer?
    private let value: UnsafeAtomic<Int64>
    /// The counter id (its slot in the counters file).
    public let id: Int32
    /// The registration id of the counter at the driver.
    public let registrationId: Int64

    init(client: AeronClient, handle: OpaquePointer) {
        self.client = client
        self.handle = handle
        self.value = UnsafeAtomic<Int64>(at: atomicStorage(aeron_counter_addr(handle)))
        var constants = aeron_counter_constants_t()
        aeron_counter_constants(handle, &constants)
        self.id = constants.counter_id
        self.registrationId = constants.registration_id
        client.registry.register(self)
    }

    deinit { close() }

    /// Frees the counter. Safe to call more than once, and after the client has closed.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        client.registry.unregister(self)
        _ = aeron_counter_close(handle, nil, nil)
    }

    func clientDidClose() { handle = nil }

    /// Whether the counter is closed.
    public var isClosed: Bool { handle == nil || aeron_counter_is_closed(handle) }

    /// The current value (acquire), or 0 once closed.
    @inlinable
    public func get() -> Int64 { isClosedFast ? 0 : loadValue() }

    /// Adds `delta` atomically and returns the previous value; does nothing once closed.
    @inlinable
    @discardableResult
    public func increment(by delta: Int64 = 1) -> Int64 {
        isClosedFast ? 0 : addValue(delta)
    }

    /// Stores `newValue` (release); does nothing once closed.
    @inlinable
    public func set(_ newValue: Int64) {
        if !isClosedFast { storeValue(newValue) }
    }

    @usableFromInline var isClosedFast: Bool { handle == nil }
    @usableFromInline func loadValue() -> Int64 { value.load(ordering: .acquiring) }
    @usableFromInline func addValue(_ delta: Int64) -> Int64 {
        value.loadThenWrappingIncrement(by: delta, ordering: .acquiringAndReleasing)
    }
    @usableFromInline func storeValue(_ newValue: Int64) { value.store(newValue, ordering: .releasing) }
}

/// Views a counter's `int64_t` slot in the mapped counters file as atomic storage.
@inline(__always)
func atomicStorage<Value: Atomics.AtomicValue>(
    _ address: UnsafeMutablePointer<Value>
)
    -> UnsafeMutablePointer<Value.AtomicRepresentation>
{
    UnsafeMutableRawPointer(address).assumingMemoryBound(to: Value.AtomicRepresentation.self)
}
