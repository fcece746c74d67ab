import Foundation

/// The `--plot` figure: a self-contained SVG with two panels over payload size on a log x axis — throughput (MiB/s,
/// log y) of publish, consume, raw Aeron, memcpy and memcpy‖spin; and paced one-way latency (µs, log y) p50 and p99
/// of the tensor pool and raw Aeron (and the tensor pool's p99 stamped before the producer's copy).
enum Plot {
    /// One line of a panel; points with a non-finite or non-positive value are left out (the line breaks there).
    struct Series {
        let name: String
        let color: String
        /// An SVG `stroke-dasharray`, or `nil` for a solid line (solid lines get filled markers, others hollow ones).
        let dash: String?
        let points: [(x: Double, y: Double)]
    }

    static let dashed = "6 4"
    static let dotted = "2 3"

    /// A rectangle of the figure, in SVG user units.
    struct Frame {
        let x: Double
        let y: Double
        let width: Double
        let height: Double
    }

    static let panelWidth = 520.0
    static let panelHeight = 300.0
    static let marginLeft = 80.0
    static let marginTop = 50.0
    static let legendHeight = 90.0

    /// The whole figure.
    static func svg(rows: [Row]) -> String {
        let sizes = rows.map { Double($0.size) }
        func points(_ value: (Row) -> Double) -> [(x: Double, y: Double)] {
            rows.map { (Double($0.size), value($0)) }
        }
        func nanos(_ pick: @escaping (Row) -> [String: String], _ key: String) -> [(x: Double, y: Double)] {
            points { Row.number(pick($0), key) / 1000 }
        }
        let throughput = [
            Series(name: "publish (tensor pool)", color: "#1f77b4", dash: nil, points: points(\.publishMiBs)),
            Series(name: "consume (tensor pool)", color: "#ff7f0e", dash: nil, points: points(\.consumeMiBs)),
            Series(name: "raw Aeron IPC (received)", color: "#2ca02c", dash: nil, points: points(\.rawMiBs)),
            Series(name: "memcpy alone", color: "#7f7f7f", dash: dashed, points: points(\.memcpyMiBs)),
            Series(name: "memcpy‖spin", color: "#9467bd", dash: dashed, points: points(\.memcpySpinMiBs)),
        ]
        let latency = [
            Series(name: "tensor pool p99", color: "#1f77b4", dash: nil, points: nanos(\.paced.receiver, "p99_ns")),
            Series(name: "tensor pool p50", color: "#1f77b4", dash: dashed, points: nanos(\.paced.receiver, "p50_ns")),
            Series(name: "raw Aeron p99", color: "#2ca02c", dash: nil, points: nanos(\.rawPaced.receiver, "p99_ns")),
            Series(name: "raw Aeron p50", color: "#2ca02c", dash: dashed, points: nanos(\.rawPaced.receiver, "p50_ns")),
            Series(
                name: "tensor pool p99 incl. producer copy", color: "#17becf", dash: dotted,
                points: nanos(\.paced.receiver, "copy_p99_ns")),
        ]
        let width = 2 * (marginLeft + panelWidth) + 60
        let height = marginTop + panelHeight + 50 + legendHeight
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        svg += panel(
            Frame(x: marginLeft, y: marginTop, width: panelWidth, height: panelHeight),
            title: "Throughput, flat out (MiB/s of payload)", yLabel: "MiB/s (log)", sizes: sizes,
            series: throughput, format: compact)
        svg += panel(
            Frame(x: 2 * marginLeft + panelWidth + 40, y: marginTop, width: panelWidth, height: panelHeight),
            title: "One-way latency, paced (µs)", yLabel: "µs (log)", sizes: sizes, series: latency, format: compact)
        svg += "</svg>\n"
        return svg
    }

    /// 1, 10, 100, 1k, 10k; 0.1, 0.01 below 1.
    static func compact(_ value: Double) -> String {
        if value >= 1_000_000 { return "\(Int((value / 1_000_000).rounded()))M" }
        if value >= 1000 { return "\(Int((value / 1000).rounded()))k" }
        if value >= 1 { return "\(Int(value.rounded()))" }
        return String(format: "%g", value)
    }

    /// `text` with the XML special characters escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A coordinate with one decimal.
    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// One panel: frame, decade grid, ticks, axis labels, lines with markers, and the legend below.
    static func panel(
        _ frame: Frame, title: String, yLabel: String, sizes: [Double], series: [Series],
        format: (Double) -> String
    ) -> String {
        let values = series.flatMap { $0.points.map(\.y) }.filter { $0.isFinite && $0 > 0 }
        let low = floor(log10(values.min() ?? 1))
        var high = ceil(log10(values.max() ?? 10))
        if high <= low { high = low + 1 }
        let xLow = log10(sizes.min() ?? 1) - 0.3
        var xHigh = log10(sizes.max() ?? 10) + 0.3
        if xHigh <= xLow { xHigh = xLow + 1 }
        func px(_ x: Double) -> Double { frame.x + (log10(x) - xLow) / (xHigh - xLow) * frame.width }
        func py(_ y: Double) -> Double { frame.y + frame.height - (log10(y) - low) / (high - low) * frame.height }

        var svg = "<g>\n"
        svg +=
            "<text x=\"\(number(frame.x + frame.width / 2))\" y=\"\(number(frame.y - 18))\" text-anchor=\"middle\" "
            + "font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        // Grid: decades (with labels) and the 2…9 multiples.
        var decade = low
        while decade <= high {
            let value = pow(10, decade)
            let y = py(value)
            svg +=
                "<line x1=\"\(number(frame.x))\" y1=\"\(number(y))\" x2=\"\(number(frame.x + frame.width))\" "
                + "y2=\"\(number(y))\" stroke=\"#cccccc\"/>\n"
            svg +=
                "<text x=\"\(number(frame.x - 6))\" y=\"\(number(y + 4))\" text-anchor=\"end\">"
                + "\(escape(format(value)))</text>\n"
            if decade < high {
                for multiple in 2...9 {
                    let minor = py(Double(multiple) * value)
                    svg +=
                        "<line x1=\"\(number(frame.x))\" y1=\"\(number(minor))\" x2=\"\(number(frame.x + frame.width))\" "
                        + "y2=\"\(number(minor))\" stroke=\"#eeeeee\"/>\n"
                }
            }
            decade += 1
        }
        // X ticks at the measured payload sizes.
        for size in sizes {
            let x = px(size)
            svg +=
                "<line x1=\"\(number(x))\" y1=\"\(number(frame.y))\" x2=\"\(number(x))\" "
                + "y2=\"\(number(frame.y + frame.height))\" stroke=\"#eeeeee\"/>\n"
            svg +=
                "<line x1=\"\(number(x))\" y1=\"\(number(frame.y + frame.height))\" x2=\"\(number(x))\" "
                + "y2=\"\(number(frame.y + frame.height + 5))\" stroke=\"black\"/>\n"
            svg +=
                "<text x=\"\(number(x))\" y=\"\(number(frame.y + frame.height + 18))\" text-anchor=\"middle\">"
                + "\(escape(SystemBench.label(Int(size))))</text>\n"
        }
        svg +=
            "<rect x=\"\(number(frame.x))\" y=\"\(number(frame.y))\" width=\"\(number(frame.width))\" "
            + "height=\"\(number(frame.height))\" fill=\"none\" stroke=\"black\"/>\n"
        svg +=
            "<text x=\"\(number(frame.x + frame.width / 2))\" y=\"\(number(frame.y + frame.height + 36))\" "
            + "text-anchor=\"middle\">payload size (log)</text>\n"
        let labelX = frame.x - 58
        let labelY = frame.y + frame.height / 2
        svg +=
            "<text x=\"\(number(labelX))\" y=\"\(number(labelY))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 \(number(labelX)) \(number(labelY)))\">\(escape(yLabel))</text>\n"
        // Lines, broken where a value is missing, and markers.
        for line in series {
            var segments: [[(Double, Double)]] = [[]]
            for point in line.points {
                if point.y.isFinite && point.y > 0 {
                    segments[segments.count - 1].append((px(point.x), py(point.y)))
                } else if !segments[segments.count - 1].isEmpty {
                    segments.append([])
                }
            }
            let dash = line.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            for segment in segments where segment.count > 1 {
                let coordinates = segment.map { "\(number($0.0)),\(number($0.1))" }.joined(separator: " ")
                svg +=
                    "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(line.color)\" "
                    + "stroke-width=\"2\"\(dash)/>\n"
            }
            for point in segments.joined() {
                svg +=
                    "<circle cx=\"\(number(point.0))\" cy=\"\(number(point.1))\" r=\"3.5\" "
                    + "fill=\"\(line.dash == nil ? line.color : "white")\" stroke=\"\(line.color)\" stroke-width=\"1.5\"/>\n"
            }
        }
        // Legend: two columns below the axis label.
        for (index, line) in series.enumerated() {
            let x = frame.x + Double(index % 2) * frame.width / 2
            let y = frame.y + frame.height + 58 + Double(index / 2) * 18
            let dash = line.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            svg +=
                "<line x1=\"\(number(x))\" y1=\"\(number(y - 4))\" x2=\"\(number(x + 28))\" y2=\"\(number(y - 4))\" "
                + "stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(number(x + 34))\" y=\"\(number(y))\">\(escape(line.name))</text>\n"
        }
        svg += "</g>\n"
        return svg
    }
}
