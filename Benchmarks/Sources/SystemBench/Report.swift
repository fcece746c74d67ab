import Foundation

/// The `key=value` fields a sender and its receiver printed for one run.
struct RunFields {
    var sender: [String: String] = [:]
    var receiver: [String: String] = [:]
}

/// Everything measured for one payload size.
struct Row {
    let size: Int
    let headerSlots: Int
    let rawChannel: String
    /// The requested rate of the paced runs.
    let pacedHz: Double
    /// `produce` → `consume`, flat out.
    var flat = RunFields()
    /// `raw-pub` → `raw-sub`, flat out.
    var rawFlat = RunFields()
    /// `produce` → `consume`, paced.
    var paced = RunFields()
    /// `raw-pub` → `raw-sub`, paced.
    var rawPaced = RunFields()
    /// Every flat-out round's publish rate, raw Aeron rate and memcpy‖spin MiB/s (the medians are reported).
    var flatPublishRates: [Double] = []
    var rawRates: [Double] = []
    var memcpySpinRates: [Double] = []
    /// The p99 of every paced round, per side (the median round is `paced` / `rawPaced`).
    var pacedP99s: [Double] = []
    var rawPacedP99s: [Double] = []
    /// `memcpy` alone.
    var memcpy: [String: String] = [:]
    /// `memcpy` while a peer spins on the receivers' CPU.
    var memcpySpin: [String: String] = [:]

    /// A field as a number (NaN when absent or not a number).
    static func number(_ fields: [String: String], _ key: String) -> Double {
        fields[key].flatMap(Double.init) ?? .nan
    }

    /// Frames per second of one side of a run: frames ÷ its measured window.
    static func rate(_ fields: [String: String]) -> Double {
        number(fields, "frames") / (number(fields, "elapsed_ns") / 1e9)
    }

    /// Mallocs per frame of one side of a run (NaN when not counted).
    static func mallocsPerFrame(_ fields: [String: String]) -> Double {
        let mallocs = number(fields, "mallocs")
        return mallocs < 0 ? .nan : mallocs / number(fields, "frames")
    }

    /// MiB/s of payload at `perSecond` frames per second.
    func mib(_ perSecond: Double) -> Double { perSecond * Double(size) / 1_048_576 }

    /// Frames per second the producer committed (flat out).
    var publishFps: Double { Self.rate(flat.sender) }
    /// Payload MiB/s the producer committed.
    var publishMiBs: Double { mib(publishFps) }
    /// Frames per second the consumer accepted.
    var consumeFps: Double { Self.rate(flat.receiver) }
    /// Payload MiB/s the consumer accepted.
    var consumeMiBs: Double { mib(consumeFps) }
    /// Raw Aeron messages per second as received.
    var rawMsgs: Double { Self.rate(rawFlat.receiver) }
    /// Raw Aeron payload MiB/s as received.
    var rawMiBs: Double { mib(rawMsgs) }
    /// memcpy alone, MiB/s.
    var memcpyMiBs: Double { Self.number(memcpy, "mibs") }
    /// memcpy while a peer spins on the receivers' CPU, MiB/s.
    var memcpySpinMiBs: Double { Self.number(memcpySpin, "mibs") }
    /// Drops in the consumer's measured window: gap + late.
    var drops: Double { Self.number(flat.receiver, "gap") + Self.number(flat.receiver, "late") }

    /// `SYSTEM_VERBOSE` output: every field of every run.
    var verboseDescription: String {
        "  \(SystemBench.label(size)): producer \(flat.sender) consumer \(flat.receiver)\n"
            + "    raw publisher \(rawFlat.sender) raw subscriber \(rawFlat.receiver)\n"
            + "    paced producer \(paced.sender) paced consumer \(paced.receiver)\n"
            + "    paced raw publisher \(rawPaced.sender) paced raw subscriber \(rawPaced.receiver)\n"
            + "    memcpy \(memcpy) memcpy‖spin \(memcpySpin)"
    }
}

/// One acceptance criterion of the issue: its line, and whether it passed (`nil` when its payload size was not run).
struct Verdict {
    let id: String
    let line: String
    let pass: Bool?
}

/// The tables, verdicts and JSON of one run.
struct Report {
    let rows: [Row]
    let options: SystemBench.Options

    // MARK: Formatting

    /// No decimals, or "-" when not measured.
    static func integer(_ value: Double) -> String { value.isFinite ? String(format: "%.0f", value) : "-" }
    /// `digits` decimals, or "-" when not measured.
    static func fixed(_ value: Double, _ digits: Int = 2) -> String {
        value.isFinite ? String(format: "%.\(digits)f", value) : "-"
    }

    /// Nanoseconds as microseconds, one decimal below 10 µs.
    static func micros(_ nanos: Double) -> String {
        guard nanos.isFinite else { return "-" }
        return nanos < 10_000 ? String(format: "%.1f µs", nanos / 1000) : String(format: "%.0f µs", nanos / 1000)
    }

    /// A nanosecond field as microseconds.
    static func micros(_ fields: [String: String], _ key: String) -> String { micros(Row.number(fields, key)) }

    /// Mallocs per frame and, in parentheses, the total of the window.
    static func mallocs(_ fields: [String: String]) -> String {
        let total = Row.number(fields, "mallocs")
        guard total.isFinite, total >= 0 else { return "n/a" }
        let perFrame = total / Row.number(fields, "frames")
        return (total == 0 ? "0" : String(format: "%.2g", perFrame)) + " (\(Int(total)))"
    }

    /// A table as aligned text or Markdown (first column left-aligned, the others right-aligned).
    static func render(_ header: [String], _ body: [[String]], markdown: Bool) -> String {
        let all = [header] + body
        if markdown {
            return all.enumerated().map { index, row in
                "| " + row.joined(separator: " | ") + " |"
                    + (index == 0 ? "\n|---|" + String(repeating: "---:|", count: row.count - 1) : "")
            }.joined(separator: "\n")
        }
        let widths = (0..<header.count).map { column in all.map { $0[column].count }.max()! }
        return all.map { row in
            row.enumerated().map { column, text in text + String(repeating: " ", count: widths[column] - text.count) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    // MARK: Tables

    /// Throughput, drops, memcpy, raw Aeron and mallocs per frame (flat-out runs).
    func throughputTable(markdown: Bool) -> String {
        let header = [
            "payload", "slots", "publish fps", "publish MiB/s", "consume fps", "consume MiB/s", "drops gap/late",
            "not sent", "memcpy MiB/s", "publish/memcpy", "memcpy‖spin MiB/s", "publish/memcpy‖spin",
            "raw Aeron msg/s", "raw MiB/s", "consume/raw", "mallocs/frame producer", "mallocs/frame consumer",
        ]
        let body = rows.map { row in
            [
                SystemBench.label(row.size), String(row.headerSlots), Self.integer(row.publishFps),
                Self.integer(row.publishMiBs), Self.integer(row.consumeFps), Self.integer(row.consumeMiBs),
                "\(row.flat.receiver["gap"] ?? "-")/\(row.flat.receiver["late"] ?? "-")",
                row.flat.sender["not_sent"] ?? "-", Self.integer(row.memcpyMiBs),
                Self.fixed(row.publishMiBs / row.memcpyMiBs), Self.integer(row.memcpySpinMiBs),
                Self.fixed(row.publishMiBs / row.memcpySpinMiBs), Self.integer(row.rawMsgs), Self.integer(row.rawMiBs),
                Self.fixed(row.consumeFps / row.rawMsgs), Self.mallocs(row.flat.sender),
                Self.mallocs(row.flat.receiver),
            ]
        }
        return Self.render(header, body, markdown: markdown)
    }

    /// One-way latency: flat out and paced, tensor pool and raw Aeron.
    func latencyTable(markdown: Bool) -> String {
        let header = [
            "payload", "flat p50", "flat p99", "flat p99.9", "raw flat p50", "raw flat p99", "raw flat p99.9",
            "paced Hz (n)", "paced p50", "paced p99", "paced p99.9", "incl. copy p99", "raw paced p50",
            "raw paced p99", "raw paced p99.9", "paced p99 ÷ raw",
        ]
        let body = rows.map { row -> [String] in
            let ours = row.flat.receiver
            let raw = row.rawFlat.receiver
            let paced = row.paced.receiver
            let rawPaced = row.rawPaced.receiver
            let achieved = Row.rate(row.paced.sender)
            return [
                SystemBench.label(row.size), Self.micros(ours, "p50_ns"), Self.micros(ours, "p99_ns"),
                Self.micros(ours, "p999_ns"), Self.micros(raw, "p50_ns"), Self.micros(raw, "p99_ns"),
                Self.micros(raw, "p999_ns"), "\(Self.integer(achieved)) (\(paced["samples"] ?? "-"))",
                Self.micros(paced, "p50_ns"), Self.micros(paced, "p99_ns"), Self.micros(paced, "p999_ns"),
                Self.micros(paced, "copy_p99_ns"), Self.micros(rawPaced, "p50_ns"), Self.micros(rawPaced, "p99_ns"),
                Self.micros(rawPaced, "p999_ns"),
                Self.fixed(Row.number(paced, "p99_ns") / Row.number(rawPaced, "p99_ns")),
            ]
        }
        return Self.render(header, body, markdown: markdown)
    }

    // MARK: Verdicts

    /// PASS, FAIL, or SKIP when not measured.
    static func word(_ pass: Bool?) -> String { pass.map { $0 ? "PASS" : "FAIL" } ?? "SKIP" }

    /// One line per Done-when criterion of the issue, each with the measured value, the threshold and PASS/FAIL.
    func verdicts() -> [Verdict] {
        var verdicts: [Verdict] = []
        let large = rows.first { $0.size == 655_360 }
        let small = rows.first { $0.size == 64 }

        // (a) publish bandwidth against the same-run memcpy, with a spinning peer (the producer's condition).
        if let row = large {
            let ratio = row.publishMiBs / row.memcpySpinMiBs
            let pass = ratio >= 0.90
            verdicts.append(
                Verdict(
                    id: "a",
                    line: "(a) 640 KiB publish ÷ memcpy‖spin: \(Self.integer(row.publishMiBs)) ÷ "
                        + "\(Self.integer(row.memcpySpinMiBs)) MiB/s = \(Self.fixed(ratio)) (≥ 0.90) \(Self.word(pass)) — "
                        + "verdict against memcpy‖spin, the condition the producer runs in; against memcpy alone "
                        + "(\(Self.integer(row.memcpyMiBs)) MiB/s): \(Self.fixed(row.publishMiBs / row.memcpyMiBs)); medians of "
                        + "\(row.flatPublishRates.count) alternating rounds, publish MiB/s per round "
                        + row.flatPublishRates.map { Self.integer(row.mib($0)) }.joined(separator: " ")
                        + ", memcpy‖spin " + row.memcpySpinRates.map { Self.integer($0) }.joined(separator: " "),
                    pass: pass))
        } else {
            verdicts.append(Verdict(id: "a", line: "(a) 640 KiB publish ÷ memcpy: SKIP (640 KiB not run)", pass: nil))
        }

        // (b) the consumer keeps up at 640 KiB.
        if let row = large {
            let ratio = row.consumeFps / row.publishFps
            let gap = Row.number(row.flat.receiver, "gap")
            let late = Row.number(row.flat.receiver, "late")
            let pass = abs(ratio - 1) <= 0.005 && gap + late == 0
            verdicts.append(
                Verdict(
                    id: "b",
                    line: "(b) 640 KiB consume fps ÷ publish fps: \(Self.integer(row.consumeFps)) ÷ "
                        + "\(Self.integer(row.publishFps)) = \(Self.fixed(ratio, 4)) (1 ± 0.005), drops gap+late = "
                        + "\(Self.integer(gap))+\(Self.integer(late)) (= 0); frames received "
                        + "\(row.flat.receiver["frames"] ?? "-") of \(row.flat.sender["frames"] ?? "-") \(Self.word(pass))",
                    pass: pass))
        } else {
            verdicts.append(Verdict(id: "b", line: "(b) 640 KiB consume = publish: SKIP (640 KiB not run)", pass: nil))
        }

        // (c) no mallocs in the loops, flat-out and paced runs, every size.
        var worst: [(side: String, perFrame: Double, total: Double, where: String)] = []
        var counted = true
        for (side, pick) in [
            ("producer", { (run: RunFields) in run.sender }), ("consumer", { (run: RunFields) in run.receiver }),
        ] {
            var side = (side: side, perFrame: 0.0, total: 0.0, where: "")
            for row in rows {
                for (name, run) in [("flat", row.flat), ("paced", row.paced)] where !pick(run).isEmpty {
                    let total = Row.number(pick(run), "mallocs")
                    guard total.isFinite, total >= 0 else {
                        counted = false
                        continue
                    }
                    side.total += total
                    let perFrame = total / Row.number(pick(run), "frames")
                    if perFrame > side.perFrame || side.where.isEmpty {
                        side.perFrame = perFrame
                        side.where = "\(SystemBench.label(row.size)) \(name)"
                    }
                }
            }
            worst.append(side)
        }
        let mallocPass: Bool? = counted && !rows.isEmpty ? worst.allSatisfy { $0.total == 0 } : nil
        verdicts.append(
            Verdict(
                id: "c",
                line: "(c) mallocs/frame (= 0 at every size, flat-out and paced runs): "
                    + worst.map { side in
                        "\(side.side) max \(side.perFrame == 0 ? "0" : String(format: "%.2g", side.perFrame))"
                            + (side.perFrame > 0 ? " (\(side.where))" : "") + ", \(Int(side.total)) in all"
                    }.joined(separator: "; ") + " "
                    + (counted ? Self.word(mallocPass) : "SKIP (interposer not counting)"),
                pass: mallocPass))

        // (d) small frames against raw Aeron's message rate.
        if let row = small {
            let ratio = row.consumeFps / row.rawMsgs
            let pass = ratio >= 0.5
            verdicts.append(
                Verdict(
                    id: "d",
                    line: "(d) 64 B consume fps ÷ raw Aeron msg/s: \(Self.integer(row.consumeFps)) ÷ "
                        + "\(Self.integer(row.rawMsgs)) = \(Self.fixed(ratio)) (≥ 0.50) \(Self.word(pass)) (publish fps "
                        + "\(Self.integer(row.publishFps)) = \(Self.fixed(row.publishFps / row.rawMsgs)) of raw)",
                    pass: pass))
        } else {
            verdicts.append(Verdict(id: "d", line: "(d) 64 B frame rate ÷ raw Aeron: SKIP (64 B not run)", pass: nil))
        }

        // (e) paced p99 against raw Aeron's paced p99, every size.
        let ratios = rows.map { row in
            (
                row, Row.number(row.paced.receiver, "p99_ns") / Row.number(row.rawPaced.receiver, "p99_ns"),
                Row.number(row.paced.receiver, "copy_p99_ns") / Row.number(row.rawPaced.receiver, "p99_ns")
            )
        }
        let measured = ratios.filter { $0.1.isFinite }
        let latencyPass: Bool? = measured.isEmpty ? nil : measured.allSatisfy { $0.1 <= 2 }
        verdicts.append(
            Verdict(
                id: "e",
                line: "(e) paced p99 ÷ raw Aeron paced p99 (≤ 2 at every size): "
                    + ratios.map { row, ratio, _ in
                        "\(SystemBench.label(row.size)) \(Self.micros(Row.number(row.paced.receiver, "p99_ns")))"
                            + " ÷ \(Self.micros(Row.number(row.rawPaced.receiver, "p99_ns"))) = \(Self.fixed(ratio))"
                    }.joined(separator: ", ") + " \(Self.word(latencyPass))"
                    + " (stamped before the producer's copy, as raw Aeron's offer includes its copy: "
                    + ratios.map { row, _, copy in "\(SystemBench.label(row.size)) \(Self.fixed(copy))" }
                    .joined(separator: ", ") + "); medians of \(rows.first?.pacedP99s.count ?? 0) alternating rounds, "
                    + "p99 per round (ours | raw): "
                    + rows.map { row in
                        "\(SystemBench.label(row.size)) "
                            + row.pacedP99s.map { Self.micros($0) }.joined(separator: " ") + " | "
                            + row.rawPacedP99s.map { Self.micros($0) }.joined(separator: " ")
                    }.joined(separator: "; "),
                pass: latencyPass))
        return verdicts
    }

    // MARK: JSON

    /// A field's value as a JSON number when it is one.
    static func jsonValue(_ text: String) -> Any {
        if let integer = Int(text) { return integer }
        if let double = Double(text), double.isFinite { return double }
        return text
    }

    /// Every field of a child, numbers as JSON numbers.
    static func jsonFields(_ fields: [String: String]) -> [String: Any] { fields.mapValues(jsonValue) }

    /// A JSON number, or null when not measured.
    static func jsonNumber(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

    /// Every field of every run, the derived figures and the verdicts, as pretty-printed JSON.
    func json(verdicts: [Verdict], runSeconds: Double) throws -> Data {
        let rowObjects: [[String: Any]] = rows.map { row in
            func run(_ fields: RunFields) -> [String: Any] {
                ["sender": Self.jsonFields(fields.sender), "receiver": Self.jsonFields(fields.receiver)]
            }
            let derived: [String: Double] = [
                "publish_fps": row.publishFps, "publish_mibs": row.publishMiBs, "consume_fps": row.consumeFps,
                "consume_mibs": row.consumeMiBs, "raw_msgs": row.rawMsgs, "raw_mibs": row.rawMiBs,
                "raw_publish_msgs": Row.rate(row.rawFlat.sender), "memcpy_mibs": row.memcpyMiBs,
                "memcpy_spin_mibs": row.memcpySpinMiBs, "publish_over_memcpy": row.publishMiBs / row.memcpyMiBs,
                "publish_over_memcpy_spin": row.publishMiBs / row.memcpySpinMiBs,
                "consume_over_raw": row.consumeFps / row.rawMsgs,
                "mallocs_per_frame_producer": Row.mallocsPerFrame(row.flat.sender),
                "mallocs_per_frame_consumer": Row.mallocsPerFrame(row.flat.receiver),
                "paced_fps": Row.rate(row.paced.sender), "raw_paced_fps": Row.rate(row.rawPaced.sender),
                "paced_p99_over_raw": Row.number(row.paced.receiver, "p99_ns")
                    / Row.number(row.rawPaced.receiver, "p99_ns"),
            ]
            return [
                "payload_bytes": row.size, "header_slots": row.headerSlots,
                "pool_stride": HostedDriver.stride(for: row.size), "raw_channel": row.rawChannel,
                "paced_hz_requested": row.pacedHz, "flat": run(row.flat), "raw_flat": run(row.rawFlat),
                "paced": run(row.paced), "raw_paced": run(row.rawPaced), "memcpy": Self.jsonFields(row.memcpy),
                "memcpy_spin": Self.jsonFields(row.memcpySpin), "derived": derived.mapValues(Self.jsonNumber),
            ]
        }
        var loads = [Double](repeating: .nan, count: 3)
        _ = getloadavg(&loads, 3)
        let object: [String: Any] = [
            "tool": "system-bench",
            "options": [
                "seconds": options.seconds, "warmup_seconds": options.warmUpSeconds,
                "memcpy_seconds": options.memcpySeconds, "paced_hz": options.pacedHz,
                "paced_seconds": options.pacedSeconds, "paced_max_mibs": options.pacedMaxMiBs,
                "raw_publication": options.rawConcurrent ? "concurrent" : "exclusive",
            ],
            "run_seconds": runSeconds, "load_average": loads.map(Self.jsonNumber), "rows": rowObjects,
            "verdicts": verdicts.map { verdict -> [String: Any] in
                ["id": verdict.id, "line": verdict.line, "pass": verdict.pass.map { $0 as Any } ?? NSNull()]
            },
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}
