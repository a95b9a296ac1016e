import Foundation
import SceneSynth

/// The fields of a violation record (schema roadwatch.violation/1) that scoring needs.
public struct ScoredRecord: Sendable, Codable, Equatable {
    public var id: String?
    public var rule: String
    public var ptsS: Double
    public var lane: String?
    public var speedKmh: Double?
    enum CodingKeys: String, CodingKey { case id, rule, ptsS = "pts_s", lane, speedKmh = "speed_kmh" }
    public init(id: String? = nil, rule: String, ptsS: Double, lane: String?, speedKmh: Double? = nil) {
        self.id = id; self.rule = rule; self.ptsS = ptsS; self.lane = lane; self.speedKmh = speedKmh
    }

    /// Records from a violations.jsonl file (or a run folder holding one), one JSON object per line.
    public static func load(_ path: String) throws -> [ScoredRecord] {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent("violations.jsonl") : path
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ScoreError(message: "\(file): cannot read: \((error as NSError).localizedDescription)")
        }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n", omittingEmptySubsequences: true).enumerated().map { n, line in
            do { return try decoder.decode(ScoredRecord.self, from: Data(line.utf8)) } catch {
                throw ScoreError(message: "\(file):\(n + 1): not a violation record: \(error)")
            }
        }
    }
}

public struct ScoreError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// How records compare with the true violations, per rule.
public struct ViolationScore: Sendable, Codable, Equatable {
    public struct Rule: Sendable, Codable, Equatable {
        public var rule: String
        public var truths: Int
        public var records: Int
        public var matched: Int
        /// Records that match no true violation (duplicates included).
        public var falsePositives: Int
        /// True violations no record matches.
        public var missed: Int
        /// Records beyond the first for one true violation.
        public var duplicates: Int
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// For matched speeding records: |measured − true| in km/h.
        public var speedErrorMeanKmh: Double?
        public var speedErrorP95Kmh: Double?
        public var speedErrorMaxKmh: Double?
        /// Pairs: record id (or line) → truth vehicle, and what was missed or false.
        public var matches: [Match]
        public var missedVehicles: [Int]
        public var falseRecords: [String]
    }

    public struct Match: Sendable, Codable, Equatable {
        public var record: String
        public var vehicle: Int
        public var timeErrorS: Double
        public var speedErrorKmh: Double?
    }

    public var rules: [Rule]

    /// A record matches a true violation of the same rule in the same lane within `window` seconds.
    public static func score(records: [ScoredRecord], truth: SceneTruth, window: Double = 1.0, ignoreLane: Bool = false) -> ViolationScore {
        let rules = Set(truth.violations.map(\.rule) + records.map(\.rule) + ["red_light", "speeding"]).sorted()
        return ViolationScore(rules: rules.map { rule in
            let truths = truth.violations.filter { $0.rule == rule }
            let recs = records.enumerated().filter { $0.element.rule == rule }
            func name(_ k: Int) -> String { records[k].id ?? "line \(k + 1)" }
            func compatible(_ r: ScoredRecord, _ t: SceneTruth.Violation) -> Bool {
                abs(r.ptsS - t.timeS) <= window && (ignoreLane || r.lane == String(t.lane))
            }
            // One-to-one, closest in time first (ties by order): a deterministic greedy matching.
            var pairs: [(Double, Int, Int)] = []
            for (ri, record) in recs.enumerated() {
                for (ti, t) in truths.enumerated() where compatible(record.element, t) { pairs.append((abs(record.element.ptsS - t.timeS), ri, ti)) }
            }
            pairs.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
            var recordTaken = Set<Int>(), truthTaken = Set<Int>()
            var matches: [Match] = []
            var speedErrors: [Double] = []
            for (_, ri, ti) in pairs where !recordTaken.contains(ri) && !truthTaken.contains(ti) {
                recordTaken.insert(ri)
                truthTaken.insert(ti)
                let r = recs[ri].element, t = truths[ti]
                var speedError: Double?
                if rule == "speeding", let measured = r.speedKmh, let actual = t.speedKmh {
                    speedError = measured - actual
                    speedErrors.append(abs(measured - actual))
                }
                matches.append(Match(record: name(recs[ri].offset), vehicle: t.vehicle, timeErrorS: r.ptsS - t.timeS, speedErrorKmh: speedError))
            }
            let unmatched = recs.indices.filter { !recordTaken.contains($0) }
            let duplicates = unmatched.filter { ri in truths.indices.contains { truthTaken.contains($0) && compatible(recs[ri].element, truths[$0]) } }.count
            let tp = matches.count, fp = unmatched.count, fn = truths.count - tp
            let precision = recs.isEmpty ? (truths.isEmpty ? 1 : 0) : Double(tp) / Double(tp + fp)
            let recall = truths.isEmpty ? 1 : Double(tp) / Double(truths.count)
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            let sorted = speedErrors.sorted()
            return Rule(
                rule: rule, truths: truths.count, records: recs.count, matched: tp, falsePositives: fp, missed: fn, duplicates: duplicates,
                precision: precision, recall: recall, f1: f1,
                speedErrorMeanKmh: sorted.isEmpty ? nil : sorted.reduce(0, +) / Double(sorted.count),
                speedErrorP95Kmh: sorted.isEmpty ? nil : percentile(sorted, 0.95),
                speedErrorMaxKmh: sorted.last,
                matches: matches.sorted { $0.vehicle < $1.vehicle },
                missedVehicles: truths.indices.filter { !truthTaken.contains($0) }.map { truths[$0].vehicle },
                falseRecords: unmatched.map { name(recs[$0].offset) })
        })
    }
}

/// Nearest-rank percentile of sorted values.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}
