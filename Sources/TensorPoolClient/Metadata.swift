public import Aeron
public import Agents
import Logging
import SBE
import TensorPoolLogging
public import TensorPoolSHM
import TensorPoolWire

/// One metadata item: a key, the format of its value (a media type such as `text/plain` or `application/json`, or
/// `sbe:<schemaId>.<templateId>`), and the value's bytes (wire spec §10.3.2).
public struct MetadataAttribute: Hashable, Sendable {
    /// The item's name, e.g. `camera_serial`.
    public var key: String
    /// How to read ``value``.
    public var format: String
    /// The value.
    public var value: [UInt8]

    /// An item.
    public init(key: String, format: String, value: [UInt8]) {
        self.key = key
        self.format = format
        self.value = value
    }

    /// A `text/plain` item.
    public init(key: String, text: String) {
        self.init(key: key, format: "text/plain", value: Array(text.utf8))
    }

    /// The value as UTF-8 text.
    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// The metadata of one data source at one version.
public struct SourceMetadata: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The version: a frame whose `meta_version` is this one is described by these attributes.
    public var metaVersion: UInt32
    /// When the producer issued it, as sent: CLOCK_MONOTONIC ns of the producer's host for our producers.
    public var timestampNs: UInt64
    /// The items, by key.
    public var attributes: [String: MetadataAttribute]
    /// The source's name and summary, from its latest `DataSourceAnnounce` (empty until one arrived).
    public var name: String
    /// A short description (nominal type and shape).
    public var summary: String
}

/// A producer's metadata (wire spec §10.3): `DataSourceAnnounce` (name, summary, the current `meta_version`) and
/// `DataSourceMeta` (the attributes), on the metadata stream.
///
/// Every change — an attribute added, replaced with another value or removed, the name or summary changed — increases
/// ``metaVersion`` by one; frames committed afterwards carry the new version unless told otherwise. The producer's duty
/// cycle (``TensorPoolClient/doWork()``) sends `DataSourceMeta` at once after a change, and both messages every
/// metadata interval.
public final class MetadataPublisher {
    /// The current metadata version (0 before any metadata).
    public private(set) var metaVersion: UInt32 = 0
    /// The attributes, by key.
    public private(set) var attributes: [String: MetadataAttribute] = [:]
    /// The source's name.
    public private(set) var name = ""
    /// A short description.
    public private(set) var summary = ""
    /// `DataSourceMeta` messages sent.
    public private(set) var metaSent: UInt64 = 0
    /// `DataSourceAnnounce` messages sent.
    public private(set) var announcesSent: UInt64 = 0

    let streamId: UInt32
    let producerId: UInt32
    let epoch: UInt64
    let publication: Publication
    let intervalNs: UInt64
    var changed = false
    var lastSentNs: UInt64 = 0
    var buffer: [UInt8] = []
    let blobSender: MetaBlobSender

    init(streamId: UInt32, producerId: UInt32, epoch: UInt64, publication: Publication, intervalNs: UInt64) {
        self.streamId = streamId
        self.producerId = producerId
        self.epoch = epoch
        self.publication = publication
        self.intervalNs = intervalNs
        blobSender = MetaBlobSender(publication: publication)
    }

    /// Adds or replaces an attribute; a new or different value makes a new version (§10.3.2-003).
    public func set(_ attribute: MetadataAttribute) {
        guard attributes[attribute.key] != attribute else { return }
        attributes[attribute.key] = attribute
        bump()
    }

    /// Removes an attribute; removing one that exists makes a new version.
    public func remove(key: String) {
        guard attributes.removeValue(forKey: key) != nil else { return }
        bump()
    }

    /// Sets the name and summary of `DataSourceAnnounce`; a change makes a new version.
    public func describe(name: String, summary: String) {
        guard name != self.name || summary != self.summary else { return }
        self.name = name
        self.summary = summary
        bump()
    }

    func bump() {
        metaVersion &+= 1
        changed = true
    }

    /// Sends what is due: `DataSourceMeta` after a change, both messages every interval.
    func doWork(now: UInt64) -> Int {
        let blobWork = blobSender.queue.isEmpty ? 0 : blobSender.doWork()
        let due = intervalNs > 0 && now &- lastSentNs >= intervalNs
        guard changed || due else { return blobWork }
        if sendMeta(now: now) { changed = false }
        if due {
            lastSentNs = now
            sendAnnounce()
        }
        return 1 + blobWork
    }

    @discardableResult
    func sendMeta(now: UInt64) -> Bool {
        let items = attributes.values.sorted { $0.key < $1.key }
        let size = 64 + items.reduce(0) { $0 + 12 + $1.key.utf8.count + $1.format.utf8.count + $1.value.count }
        if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
        let sent = buffer.withUnsafeMutableBytes { bytes in
            offerEncoded(publication, bytes) { bytes in
                var encoder = try WireSchema.DataSourceMetaEncoder.wrapAndApplyHeader(bytes)
                encoder.streamId = streamId
                encoder.metaVersion = metaVersion
                encoder.timestampNs = UInt64(MonotonicClock.now())  // CLOCK_MONOTONIC, like every timestamp we send
                try encoder.attributes(count: items.count) { index, entry in
                    try entry.key(items[index].key)
                    try entry.format(items[index].format)
                    try items[index].value.withUnsafeBytes { value in try entry.value(value) }
                }
                return MessageHeader.encodedLength + encoder.encodedLength
            }
        }
        if sent { metaSent &+= 1 }
        return sent
    }

    func sendAnnounce() {
        let size = 64 + name.utf8.count + summary.utf8.count
        if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
        let sent = buffer.withUnsafeMutableBytes { bytes in
            offerEncoded(publication, bytes) { bytes in
                var encoder = try WireSchema.DataSourceAnnounceEncoder.wrapAndApplyHeader(bytes)
                encoder.streamId = streamId
                encoder.producerId = producerId
                encoder.epoch = epoch
                encoder.metaVersion = metaVersion
                try encoder.name(name)
                try encoder.summary(summary)
                return MessageHeader.encodedLength + encoder.encodedLength
            }
        }
        if sent { announcesSent &+= 1 }
    }

    func close() { publication.close() }
}

/// The consumer side of metadata (wire spec §10.3): keeps the metadata of every stream by version, so that a frame's
/// `meta_version` resolves to its attributes, and calls back when a version arrives.
///
/// **Ownership.** Whoever creates a cache owns it: it has its own subscription to the metadata stream, is driven by
/// its owner's ``poll(fragmentLimit:)`` (or as an `Agent`), and is closed by its owner. Keys it does not know are kept
/// and may be ignored (§10.3.2-004).
public final class MetadataCache: Agent {
    /// Called when a version of a stream's metadata arrives for the first time.
    public var onMetadata: ((SourceMetadata) -> Void)?
    /// Versions kept per stream (the newest).
    public let versionsKept: Int
    /// `DataSourceMeta` messages that could not be decoded.
    public private(set) var malformed: UInt64 = 0
    /// Called when a meta blob arrived whole and intact.
    public var onBlob: ((MetaBlob) -> Void)?
    /// Called when a meta blob was discarded: stream, metadata version, reason.
    public var onBlobDiscarded: ((UInt32, UInt32, MetaBlobDiscard) -> Void)? {
        get { assembler.onDiscard }
        set { assembler.onDiscard = newValue }
    }
    /// Blobs discarded, by reason.
    public var blobDiscards: [MetaBlobDiscard: UInt64] { assembler.discards }
    var blobs: [UInt32: [UInt32: [MetaBlob]]] = [:]
    let assembler: MetaBlobAssembler

    let logger = TensorPoolLog.logger(.metadata)
    var versions: [UInt32: [UInt32: SourceMetadata]] = [:]
    var names: [UInt32: (name: String, summary: String, producerId: UInt32, epoch: UInt64, metaVersion: UInt32)] = [:]
    let subscription: Subscription

    /// A cache of the metadata stream `channel`/`streamId` (1300 by default), keeping `versionsKept` versions per
    /// stream; blobs larger than `maxBlobBytes` (64 MiB) are refused, and a blob without a chunk for `blobTimeoutNs`
    /// (5 s) is discarded.
    public init(
        aeron: AeronClient, channel: String = "aeron:ipc?term-length=4m", streamId: Int32 = 1300,
        versionsKept: Int = 16,
        maxBlobBytes: Int = 64 << 20, blobTimeoutNs: UInt64 = 5_000_000_000
    ) throws(AeronError) {
        subscription = try aeron.addSubscription(channel: channel, streamId: streamId)
        self.versionsKept = max(versionsKept, 1)
        assembler = MetaBlobAssembler(maxBlobBytes: maxBlobBytes, timeoutNs: blobTimeoutNs)
        assembler.logger = logger
    }

    /// The blobs received for `streamId` at `metaVersion`.
    public func blobs(streamId: UInt32, metaVersion: UInt32) -> [MetaBlob] { blobs[streamId]?[metaVersion] ?? [] }

    /// `"metadata-cache"`.
    public var roleName: String { "metadata-cache" }

    /// Polls once.
    public func doWork() throws -> Int { poll() }

    /// Closes the subscription.
    public func onClose() { close() }

    /// The metadata of `streamId` at `metaVersion`, if it arrived and is still kept.
    public func metadata(streamId: UInt32, metaVersion: UInt32) -> SourceMetadata? {
        guard var found = versions[streamId]?[metaVersion] else { return nil }
        if let described = names[streamId] {
            found.name = described.name
            found.summary = described.summary
        }
        return found
    }

    /// The metadata that describes `frame` of `streamId` (its `meta_version`, §10.3.2-002).
    public func metadata(for frame: FrameView, streamId: UInt32) -> SourceMetadata? {
        metadata(streamId: streamId, metaVersion: frame.metaVersion)
    }

    /// The newest version known for `streamId`.
    public func latest(streamId: UInt32) -> SourceMetadata? {
        guard let newest = versions[streamId]?.keys.max() else { return nil }
        return metadata(streamId: streamId, metaVersion: newest)
    }

    /// The latest `DataSourceAnnounce` of `streamId`: name, summary, producer, epoch and announced version.
    public func announce(
        streamId: UInt32
    ) -> (name: String, summary: String, producerId: UInt32, epoch: UInt64, metaVersion: UInt32)? {
        names[streamId]
    }

    /// Reads up to `fragmentLimit` messages. Returns the number of fragments read.
    @discardableResult
    public func poll(fragmentLimit: Int = 16) -> Int {
        var handler = Handler(cache: self)
        let work = subscription.poll(assembler: fragments, into: &handler, fragmentLimit: fragmentLimit)
        assembler.expire(now: UInt64(MonotonicClock.now()))
        return work
    }

    /// Reassembles messages Aeron fragmented (blob chunks exceed the MTU).
    let fragments = try! FragmentAssembler()

    struct Handler: FragmentHandling {
        unowned let cache: MetadataCache
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            cache.onMessage(buffer)
        }
    }

    func onMessage(_ buffer: UnsafeRawBufferPointer) {
        switch WireControl.wireTemplate(buffer) {
        case WireSchema.DataSourceMetaDecoder.templateId:
            guard let decoder = try? WireSchema.DataSourceMetaDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            let stream = decoder.streamId
            guard versions[stream]?[decoder.metaVersion] == nil else { return }  // already known
            var attributes: [String: MetadataAttribute] = [:]
            var group = decoder.attributes
            while group.next() {
                let key = group.keyString
                attributes[key] = MetadataAttribute(
                    key: key, format: String(decoding: group.format, as: UTF8.self), value: Array(group.value))
            }
            let metadata = SourceMetadata(
                streamId: stream, metaVersion: decoder.metaVersion, timestampNs: decoder.timestampNs,
                attributes: attributes, name: "", summary: "")
            versions[stream, default: [:]][decoder.metaVersion] = metadata
            if let kept = versions[stream], kept.count > versionsKept, let oldest = kept.keys.min() {
                versions[stream]?[oldest] = nil
            }
            if let delivered = self.metadata(streamId: stream, metaVersion: decoder.metaVersion) {
                onMetadata?(delivered)
            }
        case WireSchema.MetaBlobAnnounceDecoder.templateId:
            guard let decoder = try? WireSchema.MetaBlobAnnounceDecoder(decodingHeaderOf: buffer) else { return }
            assembler.onAnnounce(decoder, now: UInt64(MonotonicClock.now()))
        case WireSchema.MetaBlobChunkDecoder.templateId:
            guard let decoder = try? WireSchema.MetaBlobChunkDecoder(decodingHeaderOf: buffer) else { return }
            assembler.onChunk(decoder, now: UInt64(MonotonicClock.now()))
        case WireSchema.MetaBlobCompleteDecoder.templateId:
            guard let decoder = try? WireSchema.MetaBlobCompleteDecoder(decodingHeaderOf: buffer),
                let blob = assembler.onComplete(decoder)
            else { return }
            blobs[blob.streamId, default: [:]][blob.metaVersion, default: []].append(blob)
            if let kept = blobs[blob.streamId], kept.count > versionsKept, let oldest = kept.keys.min() {
                blobs[blob.streamId]?[oldest] = nil
            }
            onBlob?(blob)
        case WireSchema.DataSourceAnnounceDecoder.templateId:
            guard let decoder = try? WireSchema.DataSourceAnnounceDecoder(decodingHeaderOf: buffer) else { return }
            names[decoder.streamId] = (
                decoder.nameString, decoder.summaryString, decoder.producerId, decoder.epoch, decoder.metaVersion
            )
        default:
            return
        }
    }

    /// Closes the subscription.
    public func close() { subscription.close() }
}
