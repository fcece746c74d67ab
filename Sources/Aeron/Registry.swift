import CAeron
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A resource whose C handle is freed by `aeron_close`, so it must learn when its client closes.
protocol ClientOwnedResource: AnyObject, Sendable {
    /// Forget the C handle without freeing it: `aeron_close` frees it.
    func clientDidClose()
}

/// The open resources and callback boxes of one client.
///
/// Resources are held weakly (they hold their client strongly); callback boxes are held strongly, because the C
/// client keeps raw pointers to them until the owning subscription has finished closing or the client closes.
final class ResourceRegistry: Sendable {
    private struct WeakResource {
        weak var resource: (any ClientOwnedResource)?
    }

    private struct State: ~Copyable {
        var resources: [ObjectIdentifier: WeakResource] = [:]
        var handlerBoxes: [ObjectIdentifier: any AnyObject & Sendable] = [:]
    }

    private let state = Mutex(State())

    func register(_ resource: any ClientOwnedResource) {
        state.withLock { $0.resources[ObjectIdentifier(resource)] = WeakResource(resource: resource) }
    }

    func unregister(_ resource: any ClientOwnedResource) {
        _ = state.withLock { $0.resources.removeValue(forKey: ObjectIdentifier(resource)) }
    }

    /// Removes and returns every resource still alive.
    func drainResources() -> [any ClientOwnedResource] {
        state.withLock { state in
            let alive = state.resources.values.compactMap(\.resource)
            state.resources.removeAll()
            return alive
        }
    }

    /// Keeps `box` alive and returns the pointer to hand to C as `clientd`.
    func retainHandlerBox(_ box: any AnyObject & Sendable) -> UnsafeMutableRawPointer {
        state.withLock { $0.handlerBoxes[ObjectIdentifier(box)] = box }
        return Unmanaged.passUnretained(box).toOpaque()
    }

    func releaseHandlerBox(_ box: any AnyObject & Sendable) {
        _ = state.withLock { $0.handlerBoxes.removeValue(forKey: ObjectIdentifier(box)) }
    }

    func releaseHandlerBoxes() {
        let boxes = state.withLock { state in
            let boxes = state.handlerBoxes
            state.handlerBoxes.removeAll()
            return boxes
        }
        _ = boxes  // released here, outside the lock
    }

    /// The number of open resources (for tests of the close paths).
    var resourceCount: Int { state.withLock { state in state.resources.values.count { $0.resource != nil } } }

    /// The number of callback boxes the C client may still call (for tests of the close paths).
    var handlerBoxCount: Int { state.withLock { $0.handlerBoxes.count } }
}

/// Holds the client's error handler for the C conductor.
final class ErrorHandlerBox: Sendable {
    let handler: (@Sendable (AeronError) -> Void)?

    init(_ handler: (@Sendable (AeronError) -> Void)?) {
        self.handler = handler
    }

    func report(code: Int32, message: String) {
        let error = AeronError(kind: .library, operation: "client conductor", code: code, message: message)
        if let handler {
            handler(error)
        } else {
            writeToStandardError("aeron: \(error.description)\n")
        }
    }
}

let errorHandlerTrampoline: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Void = {
    clientd, code, message in
    guard let clientd else { return }
    let box = Unmanaged<ErrorHandlerBox>.fromOpaque(clientd).takeUnretainedValue()
    box.report(code: code, message: message.map { String(cString: $0) } ?? "")
}

/// Holds a subscription's image handlers for the C conductor, until the subscription has finished closing.
final class ImageHandlerBox: Sendable {
    let streamId: Int32
    let onAvailable: (@Sendable (ImageInfo) -> Void)?
    let onUnavailable: (@Sendable (ImageInfo) -> Void)?
    let registry: ResourceRegistry

    init(
        streamId: Int32,
        onAvailable: (@Sendable (ImageInfo) -> Void)?,
        onUnavailable: (@Sendable (ImageInfo) -> Void)?,
        registry: ResourceRegistry
    ) {
        self.streamId = streamId
        self.onAvailable = onAvailable
        self.onUnavailable = onUnavailable
        self.registry = registry
    }
}

let availableImageTrampoline: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, OpaquePointer?) -> Void = {
    clientd, _, image in
    guard let clientd, let image else { return }
    let box = Unmanaged<ImageHandlerBox>.fromOpaque(clientd).takeUnretainedValue()
    if let info = ImageInfo(image: image, streamId: box.streamId) { box.onAvailable?(info) }
}

let unavailableImageTrampoline: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, OpaquePointer?) -> Void = {
    clientd, _, image in
    guard let clientd, let image else { return }
    let box = Unmanaged<ImageHandlerBox>.fromOpaque(clientd).takeUnretainedValue()
    if let info = ImageInfo(image: image, streamId: box.streamId) { box.onUnavailable?(info) }
}

/// Runs when the C client has finished closing a subscription: its image handlers can no longer be called.
let subscriptionClosedTrampoline: @convention(c) (UnsafeMutableRawPointer?) -> Void = { clientd in
    guard let clientd else { return }
    let box = Unmanaged<ImageHandlerBox>.fromOpaque(clientd).takeUnretainedValue()
    box.registry.releaseHandlerBox(box)
}

/// Writes text to standard error without Foundation.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
