/// Where a conformance case is written, for links in reports.
public struct CaseLocation: Sendable, Hashable {
    /// The file, relative to the repository root.
    public let file: String
    /// The 1-based line of its `@Test`.
    public let line: Int

    /// Creates a location.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}

/// Coverage of one specification: how many MUST-level and SHOULD-level requirements pass.
public struct SpecCoverage: Sendable, Hashable {
    /// The prefix.
    public let spec: String
    /// MUST and MUST NOT requirements.
    public let mandatory: Int
    /// Of which passing.
    public let mandatoryPassing: Int
    /// SHOULD and SHOULD NOT requirements.
    public let recommended: Int
    /// Of which passing.
    public let recommendedPassing: Int
    /// MAY requirements.
    public let optional: Int
    /// Of which passing.
    public let optionalPassing: Int

    /// Coverage per spec, in spec order of first appearance.
    public static func of(_ rows: [ChecklistRow]) -> [SpecCoverage] {
        var order: [String] = []
        var grouped: [String: [ChecklistRow]] = [:]
        for row in rows {
            if grouped[row.requirement.spec] == nil { order.append(row.requirement.spec) }
            grouped[row.requirement.spec, default: []].append(row)
        }
        return order.map { spec in
            let specRows = grouped[spec]!
            func count(_ levels: Set<RequirementLevel>, passing: Bool) -> Int {
                specRows.filter { levels.contains($0.requirement.level) && (!passing || $0.status == .passing) }.count
            }
            return SpecCoverage(
                spec: spec,
                mandatory: count([.must, .mustNot], passing: false),
                mandatoryPassing: count([.must, .mustNot], passing: true),
                recommended: count([.should, .shouldNot], passing: false),
                recommendedPassing: count([.should, .shouldNot], passing: true),
                optional: count([.may], passing: false), optionalPassing: count([.may], passing: true))
        }
    }
}

/// The conformance report in Markdown, JSON, JUnit XML and a self-contained HTML page.
public enum Reports {
    /// The checklist as a Markdown document: coverage per spec, then one table row per requirement.
    public static func markdown(_ rows: [ChecklistRow], cases: [String: CaseLocation], title: String) -> String {
        var text =
            "# \(title)\n\n## Coverage\n\n| spec | MUST passing | SHOULD passing | MAY passing |\n|---|---:|---:|---:|\n"
        for coverage in SpecCoverage.of(rows) {
            text +=
                "| \(coverage.spec) | \(coverage.mandatoryPassing)/\(coverage.mandatory) | "
                + "\(coverage.recommendedPassing)/\(coverage.recommended) | \(coverage.optionalPassing)/\(coverage.optional) |\n"
        }
        text += "\n## Requirements\n\n| requirement | level | status | cases |\n|---|---|---|---|\n"
        for row in rows {
            let links = row.cases.map { id in
                cases[id].map { "[\(id)](\($0.file)#L\($0.line))" } ?? id
            }
            text +=
                "| \(row.requirement.id) | \(row.requirement.level.rawValue) | \(row.status.rawValue) | "
                + "\(links.joined(separator: ", ")) |\n"
        }
        return text
    }

    /// The checklist as JSON: `{"title", "coverage": [...], "requirements": [...]}`, keys in a fixed order.
    public static func json(_ rows: [ChecklistRow], cases: [String: CaseLocation], title: String) -> String {
        var text = "{\n  \"title\": \(quoted(title)),\n  \"coverage\": [\n"
        text += SpecCoverage.of(rows).map { coverage in
            "    {\"spec\": \(quoted(coverage.spec)), \"must\": \(coverage.mandatory), "
                + "\"mustPassing\": \(coverage.mandatoryPassing), \"should\": \(coverage.recommended), "
                + "\"shouldPassing\": \(coverage.recommendedPassing), \"may\": \(coverage.optional), "
                + "\"mayPassing\": \(coverage.optionalPassing)}"
        }.joined(separator: ",\n")
        text += "\n  ],\n  \"requirements\": [\n"
        text += rows.map { row in
            let caseList = row.cases.map { id -> String in
                let location = cases[id].map { ", \"file\": \(quoted($0.file)), \"line\": \($0.line)" } ?? ""
                return "{\"id\": \(quoted(id))\(location)}"
            }
            return "    {\"id\": \(quoted(row.requirement.id)), \"spec\": \(quoted(row.requirement.spec)), "
                + "\"section\": \(quoted(row.requirement.section)), \"level\": \(quoted(row.requirement.level.rawValue)), "
                + "\"status\": \(quoted(row.status.rawValue)), \"text\": \(quoted(row.requirement.text)), "
                + "\"cases\": [\(caseList.joined(separator: ", "))]}"
        }.joined(separator: ",\n")
        return text + "\n  ]\n}\n"
    }

    /// One JUnit test case per requirement: passing ones pass, failing and stale ones fail, uncovered ones are
    /// skipped; a test suite per spec.
    public static func junit(_ rows: [ChecklistRow]) -> String {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"conformance\">\n"
        var order: [String] = []
        var grouped: [String: [ChecklistRow]] = [:]
        for row in rows {
            if grouped[row.requirement.spec] == nil { order.append(row.requirement.spec) }
            grouped[row.requirement.spec, default: []].append(row)
        }
        for spec in order {
            let specRows = grouped[spec]!
            let failures = specRows.filter { $0.status == .failing || $0.status == .stale }.count
            let skipped = specRows.filter { $0.status == .uncovered }.count
            text +=
                "  <testsuite name=\(attribute(spec)) tests=\"\(specRows.count)\" failures=\"\(failures)\" "
                + "skipped=\"\(skipped)\">\n"
            for row in specRows {
                text += "    <testcase classname=\(attribute(spec)) name=\(attribute(row.requirement.id))"
                switch row.status {
                case .passing: text += " />\n"
                case .uncovered: text += ">\n      <skipped message=\"no conformance case\" />\n    </testcase>\n"
                case .failing, .stale:
                    text +=
                        ">\n      <failure message=\(attribute("\(row.status.rawValue): \(row.cases.joined(separator: ", "))")) />\n"
                        + "    </testcase>\n"
                }
            }
            text += "  </testsuite>\n"
        }
        return text + "</testsuites>\n"
    }

    /// A single self-contained HTML page: coverage bars per spec (MUST and SHOULD separately), then the full table
    /// with filters by spec, level, status and text, and links to each case's source line.
    public static func html(
        _ rows: [ChecklistRow], cases: [String: CaseLocation], title: String, sourceBase: String
    )
        -> String
    {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
            h1{font-size:22px} table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
            .bar{background:#eee;border-radius:3px;height:14px;width:240px;display:inline-block;vertical-align:middle}
            .fill{background:#2e8b57;height:14px;border-radius:3px}
            .passing{color:#2e8b57}.failing,.stale{color:#c0392b}.uncovered{color:#888}
            .filters{margin:12px 0} .filters select,.filters input{margin-right:8px}
            td.text{max-width:720px}
            </style></head><body>
            <h1>\(escape(title))</h1>
            <h2>Coverage per specification</h2>
            <table><tr><th>spec</th><th>MUST / MUST NOT passing</th><th>SHOULD / SHOULD NOT passing</th><th>MAY passing</th></tr>

            """
        for coverage in SpecCoverage.of(rows) {
            page +=
                "<tr><td>\(escape(coverage.spec))</td><td>\(bar(coverage.mandatoryPassing, coverage.mandatory))</td>"
                + "<td>\(bar(coverage.recommendedPassing, coverage.recommended))</td>"
                + "<td>\(bar(coverage.optionalPassing, coverage.optional))</td></tr>\n"
        }
        let specs = SpecCoverage.of(rows).map(\.spec)
        page += """
            </table>
            <h2>Requirements</h2>
            <div class="filters">
            <select id="spec"><option value="">all specs</option>\(specs.map { "<option>\(escape($0))</option>" }.joined())</select>
            <select id="level"><option value="">all levels</option>\(RequirementLevel.allCases.map { "<option>\($0.rawValue)</option>" }.joined())</select>
            <select id="status"><option value="">all statuses</option>\(RequirementStatus.allCases.map { "<option>\($0.rawValue)</option>" }.joined())</select>
            <input id="text" placeholder="search text or ID">
            <span id="shown"></span>
            </div>
            <table id="requirements"><thead><tr><th>ID</th><th>level</th><th>status</th><th>requirement</th><th>cases</th></tr></thead><tbody>

            """
        for row in rows {
            let links = row.cases.map { id -> String in
                guard let location = cases[id] else { return escape(id) }
                return "<a href=\"\(escape(sourceBase + location.file))#L\(location.line)\">\(escape(id))</a>"
            }
            page +=
                "<tr data-spec=\"\(escape(row.requirement.spec))\" data-level=\"\(row.requirement.level.rawValue)\" "
                + "data-status=\"\(row.status.rawValue)\"><td>\(escape(row.requirement.id))</td>"
                + "<td>\(row.requirement.level.rawValue)</td><td class=\"\(row.status.rawValue)\">\(row.status.rawValue)</td>"
                + "<td class=\"text\">\(escape(row.requirement.text))</td><td>\(links.joined(separator: "<br>"))</td></tr>\n"
        }
        page += """
            </tbody></table>
            <script>
            const f = ['spec','level','status','text'].map(id => document.getElementById(id));
            function apply() {
              let shown = 0;
              for (const tr of document.querySelectorAll('#requirements tbody tr')) {
                const ok = (!f[0].value || tr.dataset.spec === f[0].value) && (!f[1].value || tr.dataset.level === f[1].value)
                  && (!f[2].value || tr.dataset.status === f[2].value)
                  && (!f[3].value || tr.textContent.toLowerCase().includes(f[3].value.toLowerCase()));
                tr.style.display = ok ? '' : 'none'; if (ok) shown++;
              }
              document.getElementById('shown').textContent = shown + ' shown';
            }
            f.forEach(e => e.addEventListener('input', apply)); apply();
            </script>
            </body></html>

            """
        return page
    }

    static func bar(_ passing: Int, _ total: Int) -> String {
        let percent = total == 0 ? 0 : passing * 100 / total
        return "<span class=\"bar\"><span class=\"fill\" style=\"display:block;width:\(percent)%\"></span></span> "
            + "\(passing)/\(total)"
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    static func attribute(_ text: String) -> String { "\"" + escape(text) + "\"" }

    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
