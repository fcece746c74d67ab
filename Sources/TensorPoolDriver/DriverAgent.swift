public import Aeron
public import Agents
public import DriverConfig
public import Logging
public import TensorPoolLogging

/// The driver as an agent: polls the control stream on Aeron, feeds the ``DriverCore``, and publishes what it emits
/// on the control and announce streams (driver spec §4.5). Run it with an `AgentRunner` or an `AgentInvoker`.
public final class DriverAgent: Agent {
    /// The driver logic.
    public let core: DriverCore
    /// The agent's role name.
    public let roleName: String
    let client: AeronClient
    let subscription: Subscription
    let assembler: FragmentAssembler
    let publications: AeronDriverOutput
    var handler: ControlHandler

    /// Connects the control subscription and the control and announce publications on `client` and builds the
    /// driver. Throws when Aeron refuses a channel or the configuration is invalid.
    public init(
        configuration: DriverConfiguration, client: AeronClient, clock: any DriverClock = SystemDriverClock(),
        logger: Logger = TensorPoolLog.logger(.driver)
    ) throws {
        self.client = client
        let driver = configuration.driver
        subscription = try client.addSubscription(channel: driver.controlChannel, streamId: driver.controlStreamId)
        let control = try client.addPublication(channel: driver.controlChannel, streamId: driver.controlStreamId)
        let announce =
            driver.announceChannel == driver.controlChannel && driver.announceStreamId == driver.controlStreamId
            ? control
            : try client.addPublication(channel: driver.announceChannel, streamId: driver.announceStreamId)
        publications = AeronDriverOutput(control: control, announce: announce)
        assembler = try FragmentAssembler()
        core = try DriverCore(configuration: configuration, output: publications, clock: clock, logger: logger)
        handler = ControlHandler(core: core)
        roleName = "tp-driver-\(driver.instanceId)"
    }

    /// Polls the control stream and runs the driver's duty cycle.
    public func doWork() throws -> Int {
        var work = subscription.poll(assembler: assembler, into: &handler, fragmentLimit: 16)
        work += core.doWork()
        if core.runState == .stopped { throw AgentTermination() }
        return work
    }

    /// Closes the publications and the subscription.
    public func onClose() {
        subscription.close()
        publications.close()
    }

    struct ControlHandler: FragmentHandling {
        let core: DriverCore
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            core.onControlMessage(buffer)
        }
    }
}

/// Aeron publications as the driver's output. A message that meets back pressure is retried briefly; a stream with
/// no subscriber drops it (nobody is listening).
final class AeronDriverOutput: DriverOutput {
    let control: Publication
    let announce: Publication

    init(control: Publication, announce: Publication) {
        self.control = control
        self.announce = announce
    }

    func sendControl(_ message: UnsafeRawBufferPointer) -> Bool { offer(control, message) }
    func sendAnnounce(_ message: UnsafeRawBufferPointer) -> Bool { offer(announce, message) }

    func offer(_ publication: Publication, _ message: UnsafeRawBufferPointer) -> Bool {
        for _ in 0..<1_000 {
            switch publication.offer(message) {
            case .success: return true
            case .notConnected, .closed, .maxPositionExceeded, .error: return false
            case .backPressured, .adminAction: continue
            }
        }
        return false
    }

    func close() {
        control.close()
        if announce !== control { announce.close() }
    }
}
