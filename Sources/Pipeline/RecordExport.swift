import Foundation
import TrafficModel

/// The exports every store gives the same way: violations.jsonl and violations.csv, from the stored records of one
/// or more pipelines. Records another input already holds (overlapping footage of one camera: same rule and lane,
/// within 1 s of wall-clock time, speeds within 5 km/h, boxes overlapping; `CrossInputDedup`) are marked duplicates,
/// within each pipeline; the rest is ordered by wall-clock time (or pts), rule and id.
public enum RecordExport {
    public struct Result: Sendable {
        public var totals: RunSummary.ViolationTotals
        /// Duplicate marks that differ from what the store holds (id, duplicate of), to write back.
        public var marks: [(id: String, of: String?)]
    }

    public static func write(violations all: [Store.StoredViolation], inputs rows: [InputRow], into directory: String) throws -> Result {
        let inputs = Dictionary(rows.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        func order(_ v: Store.StoredViolation) -> (Double, String, String) { (v.absolute ?? v.pts, v.rule, v.id) }
        let decoder = JSONDecoder()
        let record = Dictionary(try all.map { ($0.id, try decoder.decode(ViolationRecord.self, from: Data($0.json.utf8))) }, uniquingKeysWith: { a, _ in a })
        // Deduplication never crosses pipelines: two cameras (two pipelines) can see events at the same moment.
        var duplicates: [String: String] = [:]
        let byPipeline = Dictionary(grouping: all) { inputs[$0.inputKey]?.pipelineSha256 ?? "" }
        for key in byPipeline.keys.sorted() {
            let found = CrossInputDedup.duplicates(byPipeline[key]!.map { v in
                CrossInputDedup.Item(id: v.id, input: v.inputKey, rule: v.rule, lane: v.lane, absolute: v.absolute, speed: v.speed,
                                     inputOrder: [inputs[v.inputKey]?.startTime ?? "", inputs[v.inputKey]?.path ?? "", v.inputKey], pts: v.pts,
                                     box: record[v.id]?.box)
            })
            duplicates.merge(found) { a, _ in a }
        }
        let marks = all.filter { duplicates[$0.id] != $0.duplicateOf }.map { (id: $0.id, of: duplicates[$0.id]) }
        let final = all.filter { duplicates[$0.id] == nil }.sorted { order($0) < order($1) }
        let jsonl = final.map { $0.json + "\n" }.joined()
        let records = final.compactMap { record[$0.id] }
        let csv = Self.csv(records)
        let dir = directory as NSString
        try InputProcessor.writeAtomically(Data(jsonl.utf8), to: dir.appendingPathComponent("violations.jsonl"))
        try InputProcessor.writeAtomically(Data(csv.utf8), to: dir.appendingPathComponent("violations.csv"))
        var byRule: [String: Int] = [:]
        for r in records { byRule[r.rule.rawValue, default: 0] += 1 }
        let totals = RunSummary.ViolationTotals(total: records.count, byRule: byRule, duplicatesAcrossInputs: all.count - final.count,
                                                jsonlSha256: EvidenceWriter.sha256(Array(jsonl.utf8)), csvSha256: EvidenceWriter.sha256(Array(csv.utf8)))
        return Result(totals: totals, marks: marks)
    }

    /// The same fields as the JSON lines, flattened (box_x, signal_red_onset_s, evidence as kind=path;...).
    public static let csvHeader = [
        "schema", "id", "rule", "camera", "location", "input_path", "input_sha256", "frame", "pts_s", "time", "track", "tracks", "lane",
        "box_x", "box_y", "box_w", "box_h", "speed_kmh", "speed_uncertainty_kmh", "limit_kmh", "threshold_kmh", "signal_phase",
        "signal_red_onset_s", "signal_time_into_red_s", "signal_amber_s", "signal_crossing_window_s", "severity_band", "severity_excess_kmh",
        "evidence", "pipeline_sha256", "version",
    ]

    static func csv(_ records: [ViolationRecord]) -> String {
        func q(_ s: String?) -> String {
            guard let s else { return "" }
            return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == ";" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        func n(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        var lines = [csvHeader.joined(separator: ",")]
        for r in records {
            let fields: [String] = [
                r.schema, r.id, r.rule.rawValue, q(r.camera), q(r.location), q(r.input.path), r.input.sha256, "\(r.frame)", n(r.ptsS), q(r.time),
                "\(r.track)", r.tracks.map(String.init).joined(separator: " "), q(r.lane), n(r.box.x), n(r.box.y), n(r.box.width), n(r.box.height),
                n(r.speedKmh), n(r.speedUncertaintyKmh), n(r.limitKmh), n(r.thresholdKmh), q(r.signal?.phase), n(r.signal?.redOnsetS),
                n(r.signal?.timeIntoRedS), n(r.signal?.amberS), r.signal.map { $0.crossingWindowS.map { "\($0)" }.joined(separator: " ") } ?? "",
                q(r.severity?.band), n(r.severity?.excessKmh), q(r.evidence.map { "\($0.kind)=\($0.path)" }.joined(separator: ";")),
                r.pipelineSha256, r.version,
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
