import ConformanceSupport
import Foundation
import TensorPoolSHM
import TensorPoolWire
import Testing

/// Wire spec §10.2.2 at the SHM level: resolving progress hints against the mapped slot.
@Suite("SHM §10.2.2: progress hints against the slot")
struct ProgressSlotConformance {
    @Test(
        "the slot is seq & (nslots − 1) of the mapped ring; prefixes are whole rows with a progress unit, none without",
        .verifies("WIRE-10.2.2-006", "WIRE-10.2.2-009", "WIRE-10.2.2-010", "WIRE-10.2.2-011", "WIRE-10.2.2-017"))
    func prefixes() throws {
        let fixture = try ShmFixture()
        let reader = try fixture.reader()
        // 32 rows of 256 bytes, 512 bytes apart (padded rows), reported by rows.
        var padded = try TensorDescriptor(dtype: .uint8, shape: [32, 256])
        padded.strides[0] = 512
        padded.strides[1] = 1
        var byRows = padded
        byRows.progressUnit = .rows
        byRows.progressStrideBytes = 512
        let seq: UInt64 = 8 + 3  // the 8-slot ring: slot 3
        let claim = try fixture.writer.claim(seq: seq, length: 16_128)
        #expect(claim.headerIndex == 3)
        try fixture.writer.prepare(claim, tensor: byRows, timestampNs: 1, metaVersion: 0)
        guard case .progress(let rows) = reader.readProgress(seq: seq, epoch: fixture.epoch, bytesFilled: 1_300) else {
            Issue.record("not resolved")
            return
        }
        #expect(rows.headerIndex == 3 && rows.prefix?.count == 1_024 && reader.isStillValid(rows))
        // Padded rows without a progress unit: information only.
        try fixture.writer.prepare(claim, tensor: padded, timestampNs: 1, metaVersion: 0)
        guard case .progress(let info) = reader.readProgress(seq: seq, epoch: fixture.epoch, bytesFilled: 1_300) else {
            Issue.record("not resolved")
            return
        }
        #expect(info.prefix == nil)
        // Contiguous: the byte prefix itself.
        try fixture.writer.prepare(
            claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [16_128]), timestampNs: 1, metaVersion: 0)
        guard case .progress(let flat) = reader.readProgress(seq: seq, epoch: fixture.epoch, bytesFilled: 1_300) else {
            Issue.record("not resolved")
            return
        }
        #expect(flat.prefix?.count == 1_300)
        // More than values_len_bytes, another sequence, another epoch: not resolved.
        #expect(
            reader.readProgress(seq: seq, epoch: fixture.epoch, bytesFilled: 16_129).ignoredReason == .exceedsValues)
        #expect(reader.readProgress(seq: 3, epoch: fixture.epoch, bytesFilled: 1).ignoredReason == .sequenceMismatch)
        #expect(reader.readProgress(seq: seq, epoch: fixture.epoch + 1, bytesFilled: 1).ignoredReason == .epochMismatch)
        // A progress stride of 0, or one that contradicts the strides, while progress_unit is ROWS: dropped.
        try fixture.writer.prepare(claim, tensor: byRows, timestampNs: 1, metaVersion: 0)
        let strideField = ShmFixture.tensorField(7)  // progress_stride_bytes
        for bad: UInt32 in [0, 256] {
            fixture.tamper(slot: 3, at: strideField, bad)
            #expect(reader.readProgress(seq: seq, epoch: fixture.epoch, bytesFilled: 1).ignoredReason == .tensorHeader)
        }
        // Once the slot is reused for another sequence the view is no longer valid.
        _ = try fixture.writer.claim(seq: seq + 8, length: 10)
        #expect(!reader.isStillValid(rows))
    }
}

extension ProgressReadResult {
    var ignoredReason: ProgressIgnoreReason? {
        if case .ignored(let reason) = self { return reason }
        return nil
    }
}
