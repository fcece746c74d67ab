import Foundation
import TestProcesses
import Testing

@testable import Aeron

@Suite("Images, counters and resource lifecycle")
struct LifecycleTests {
    @Test("image handlers fire when a publisher joins and when it leaves")
    func imageAvailability() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let stream = TestDriver.uniqueStreamId()
        let available = Collected<ImageInfo>()
        let unavailable = Collected<ImageInfo>()
        let subscription = try client.addSubscription(
            channel: "aeron:ipc", streamId: stream,
            onAvailableImage: { available.append($0) },
            onUnavailableImage: { unavailable.append($0) })
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
        #expect(waitUntil { !available.all.isEmpty })
        let image = try #require(available.all.first)
        #expect(image.sessionId == publication.sessionId)
        #expect(image.streamId == stream)
        #expect(image.sourceIdentity == "aeron:ipc")
        #expect(subscription.imageCount == 1)
        #expect(subscription.images.map(\.sessionId) == [publication.sessionId])

        publication.close()
        #expect(waitUntil { !unavailable.all.isEmpty })
        #expect(unavailable.all.map(\.sessionId) == [image.sessionId])
        #expect(waitUntil { subscription.imageCount == 0 })
        #expect(!subscription.isConnected)
    }

    @Test("closing the client makes its resources inert instead of dangling")
    func closedClient() throws {
        let client = try TestDriver.client()
        let stream = TestDriver.uniqueStreamId()
        let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: stream)
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
        let counter = try client.addCounter(typeId: 1001, label: "closed-client")
        #expect(waitUntil { publication.isConnected })

        client.close()
        client.close()
        #expect(client.isClosed)
        #expect(publication.offer([1]) == .closed)
        #expect(publication.isClosed)
        #expect(publication.position == nil)
        var claim = BufferClaim()
        #expect(publication.tryClaim(length: 8, into: &claim) == .closed)
        #expect(subscription.poll { _, _ in Issue.record("no fragment after close") } == 0)
        #expect(subscription.isClosed)
        #expect(subscription.images.isEmpty)
        #expect(counter.isClosed)
        #expect(counter.increment() == 0)
        #expect(client.counters.all.isEmpty)
        publication.close()
        subscription.close()
        #expect(throws: AeronError.self) { try client.addPublication(channel: "aeron:ipc", streamId: stream) }
        do {
            _ = try client.addSubscription(channel: "aeron:ipc", streamId: stream)
            Issue.record("adding to a closed client must fail")
        } catch {
            #expect(error.kind == .closed)
        }
    }

    @Test("a channel the driver rejects raises an AeronError with Aeron's code and message")
    func rejectedChannel() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        do {
            _ = try client.addPublication(channel: "aeron:udp?endpoint=", streamId: 1)
            Issue.record("an empty endpoint must be rejected")
        } catch {
            #expect(error.kind == .library)
            #expect(error.code != 0)
            #expect(!error.message.isEmpty)
            #expect(error.operation.contains("aeron:udp?endpoint="))
        }
        do {
            _ = try client.addSubscription(channel: "aeron:carrier-pigeon", streamId: 1)
            Issue.record("an unknown media must be rejected")
        } catch {
            #expect(error.kind == .library)
            #expect(!error.summary.isEmpty)
        }
    }

    @Test("counters: stream positions are visible and application counters count")
    func counters() throws {
        let ipc = try IPCStream.connected()
        defer { ipc.close() }
        let (client, subscription, publication) = (ipc.client, ipc.subscription, ipc.publication)
        #expect(offerRetrying(publication, patterned(1, length: 100)).isSuccess)
        #expect(receive(1, from: subscription).count == 1)

        let reader = client.counters
        let limitId = try #require(
            reader.find(typeId: CounterInfo.TypeID.publisherLimit, registrationId: publication.registrationId))
        #expect(limitId == publication.positionLimitCounterId)
        #expect(reader.label(counterId: limitId)?.contains("pub-lmt") == true)
        let positionId = try #require(
            reader.find(typeId: CounterInfo.TypeID.subscriberPosition, registrationId: subscription.registrationId))
        #expect(waitUntil { (reader.value(counterId: positionId) ?? 0) > 0 })

        let counter = try client.addCounter(typeId: 1001, key: [1, 2, 3, 4], label: "tp-test frames")
        counter.increment(by: 5)
        counter.increment()
        #expect(counter.get() == 6)
        #expect(reader.value(counterId: counter.id) == 6)
        #expect(reader.typeId(counterId: counter.id) == 1001)
        #expect(reader.label(counterId: counter.id) == "tp-test frames")
        let info = try #require(reader.all.first { $0.id == counter.id })
        #expect(info.key.prefix(4) == [1, 2, 3, 4])
        #expect(info.value == 6)
        counter.set(42)
        #expect(reader.value(counterId: counter.id) == 42)
        counter.close()
        #expect(counter.isClosed)
        #expect(reader.value(counterId: -1) == nil)
        #expect(reader.value(counterId: reader.maxCounterId + 1) == nil)
    }

    @Test("closing resources releases everything the client tracks for them")
    func closeReleasesBookkeeping() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let stream = TestDriver.uniqueStreamId()
        do {
            let subscription = try client.addSubscription(
                channel: "aeron:ipc", streamId: stream, onAvailableImage: { _ in }, onUnavailableImage: { _ in })
            let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
            let counter = try client.addCounter(typeId: 1002, label: "bookkeeping")
            #expect(client.registry.resourceCount == 3)
            #expect(client.registry.handlerBoxCount == 1)
            #expect(waitUntil { publication.isConnected })
            subscription.close()
            publication.close()
            counter.close()
            #expect(client.registry.resourceCount == 0)
            // The image handlers are released once the C client confirms the subscription's close.
            #expect(waitUntil { client.registry.handlerBoxCount == 0 })
        }
        do {
            // Resources dropped without close() close themselves.
            _ = try client.addSubscription(channel: "aeron:ipc", streamId: stream, onAvailableImage: { _ in })
            _ = try client.addExclusivePublication(channel: "aeron:ipc", streamId: stream)
        }
        #expect(client.registry.resourceCount == 0)
        #expect(waitUntil { client.registry.handlerBoxCount == 0 })

        // A failed add releases its handlers at once.
        #expect(throws: AeronError.self) {
            try client.addSubscription(channel: "aeron:bogus", streamId: stream, onAvailableImage: { _ in })
        }
        #expect(client.registry.handlerBoxCount == 0)
    }

    @Test("a client without a conductor thread is driven by doWork")
    func conductorAgentInvoker() throws {
        let client = try TestDriver.client { $0.useConductorAgentInvoker = true }
        defer { client.close() }
        #expect(client.usesConductorAgentInvoker)
        let stream = TestDriver.uniqueStreamId()
        let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: stream)
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
        #expect(waitUntil { client.doWork() >= 0 && publication.isConnected })
        #expect(offerRetrying(publication, [42]).isSuccess)
        #expect(receive(1, from: subscription) == [[42]])
    }

    @Test("pending adds can be polled from a duty cycle and cancelled")
    func asyncAdd() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let pending = try client.asyncAddPublication(channel: "aeron:ipc", streamId: TestDriver.uniqueStreamId())
        var publication: Publication?
        #expect(
            waitUntil {
                publication = try? pending.poll(); return publication != nil
            })
        #expect(publication?.streamId != nil)
        #expect(throws: AeronError.self) { try pending.poll() }

        let cancelled = try client.asyncAddSubscription(channel: "aeron:ipc", streamId: TestDriver.uniqueStreamId())
        cancelled.cancel()
        cancelled.cancel()
        #expect(throws: AeronError.self) { try cancelled.poll() }
    }
}

@Suite("Embedded media driver", .serialized)
struct MediaDriverTests {
    @Test("a temporary driver directory exists while running and is deleted on close")
    func temporaryDirectory() throws {
        let driver = try MediaDriver(.forTesting())
        let directory = driver.directory
        #expect(directory.contains("aeron-tp-\(getpid())-"))
        #expect(FileManager.default.fileExists(atPath: directory + "/cnc.dat"))
        #expect(AeronContext.isDriverActive(directory: directory))
        driver.close()
        driver.close()
        #expect(driver.isClosed)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test("the client's error handler receives the driver's shutdown instead of the process exiting")
    func driverTimeoutReachesErrorHandler() throws {
        let driver = try MediaDriver(.forTesting())
        let errors = Collected<AeronError>()
        var context = AeronContext(directory: driver.directory)
        // Long enough that a stalled process never times the live driver out: a closed driver marks its heartbeat as
        // shut down, which the client reports at its next liveness check, without waiting for this timeout.
        context.driverTimeout = TestTiming.hangGuard
        context.errorHandler = { errors.append($0) }
        let client = try AeronClient(context: context)
        defer { client.close() }
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: 77)
        driver.close()
        #expect(waitUntil { !errors.all.isEmpty })
        let error = try #require(errors.all.first)
        #expect(error.isDriverTimeout)
        #expect(error.code == AeronError.ClientCode.driverTimeout)
        #expect(error.message.contains("shutdown"))
        _ = publication.offer([1])
    }

    @Test("an embedded driver refuses the directory of an active driver, and the active one keeps running")
    func activeDirectoryIsRefused() throws {
        let first = try MediaDriver(.forTesting())
        defer { first.close() }

        // A rejected configuration is a typed error, and leaves no stale error behind: the refusal below must
        // report its own code (Aeron's C code appends to a pending error instead of setting its own).
        var invalid = MediaDriver.Configuration.forTesting(directory: first.directory)
        invalid.termBufferLength = 12_345
        do {
            _ = try MediaDriver(invalid)
            Issue.record("a term length that is not a power of two must be rejected")
        } catch {
            #expect(error.code == EINVAL)
            #expect(error.message.contains("term length"))
        }
        #expect(AeronContext.isDriverActive(directory: first.directory))
        let client = try AeronClient(context: AeronContext(directory: first.directory))
        #expect(throws: AeronError.self) { try client.addPublication(channel: "aeron:bogus", streamId: 1) }
        client.close()

        do {
            _ = try MediaDriver(.forTesting(directory: first.directory))
            Issue.record("a second driver must not take over an active driver's directory")
        } catch {
            #expect(error.kind == .library)
            #expect(error.code == EBUSY)
            #expect(error.message.contains("Active media driver"))
        }
        #expect(AeronContext.isDriverActive(directory: first.directory))
        let survivor = try AeronClient(context: AeronContext(directory: first.directory))
        survivor.close()
    }

    @Test("connecting to a directory without a driver fails with a typed error")
    func noDriver() {
        var context = AeronContext(directory: "/dev/shm/aeron-tp-no-driver-\(getpid())")
        context.driverTimeout = .milliseconds(200)
        do {
            _ = try AeronClient(context: context)
            Issue.record("a client must not connect without a driver")
        } catch {
            #expect(error.kind == .library)
            #expect(error.code != 0)
        }
    }

    @Test("idle strategies translate to the C driver's names and arguments")
    func idleStrategyConfiguration() throws {
        var configuration = MediaDriver.Configuration.forTesting()
        configuration.threadingMode = .dedicated
        configuration.conductorIdleStrategy = .sleeping(.milliseconds(1))
        configuration.senderIdleStrategy = .backoff(
            maxSpins: 5, maxYields: 5, minPark: .microseconds(10),
            maxPark: .milliseconds(2))
        configuration.receiverIdleStrategy = .yielding
        let driver = try MediaDriver(configuration)
        defer { driver.close() }
        let client = try AeronClient(context: AeronContext(directory: driver.directory))
        defer { client.close() }
        let stream: Int32 = 11
        let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: stream)
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
        #expect(waitUntil { publication.isConnected })
        #expect(offerRetrying(publication, [9]).isSuccess)
        #expect(receive(1, from: subscription) == [[9]])
    }
}
