import Foundation
import Rules
import TrafficModel

/// Re-applies the rules and deduplication to a run's stored tracks and signal timelines (`tracks/KEY.json`), with
/// the run's pipeline or another, without decoding: how engineers tune thresholds.
public struct Replay {
    public struct Change: Sendable, Equatable {
        public var id: String
        /// Field names whose values differ (speed_kmh, lane, signal.time_into_red_s, ...).
        public var fields: [String]
    }
    public struct Result: Sendable {
        /// The run's records, and the records the (new) pipeline gives, both in export order.
        public var before: [ViolationRecord]
        public var after: [ViolationRecord]
        public var appeared: [ViolationRecord]
        public var disappeared: [ViolationRecord]
        public var changed: [Change]
        public var inputs: Int
        public var tracks: Int
        /// The rules' counters, summed over inputs.
        public var stats: [String: Int]
    }

    /// The pipeline a run used (the copy in its run.json).
    public static func storedPipeline(runDirectory: String) throws -> PipelineConfig {
        let runFile = (runDirectory as NSString).appendingPathComponent("run.json")
        guard let data = FileManager.default.contents(atPath: runFile) else { throw PipelineError.input(runFile, "cannot read (is this a run folder?)") }
        // Only the pipeline copy is read, so run.json files of other versions still replay.
        struct Stored: Decodable { var pipeline: RunSummary.PipelineInfo }
        let summary: Stored
        do { summary = try JSONDecoder().decode(Stored.self, from: data) } catch {
            throw PipelineError.input(runFile, "not a run.json: \(error)")
        }
        return try PipelineConfig.parse(text: summary.pipeline.text, path: summary.pipeline.path)
    }

    public static func run(runDirectory: String, pipeline newConfig: PipelineConfig?, version: String) throws -> Result {
        let old = try storedPipeline(runDirectory: runDirectory)
        let config = newConfig ?? old
        let store = try Store(path: (runDirectory as NSString).appendingPathComponent("roadwatch.sqlite"))
        let inputs = try store.inputs().filter { $0.status == "done" && $0.pipelineSha256 == old.sha256 }
        let before = try readRecords((runDirectory as NSString).appendingPathComponent("violations.jsonl"))
        let evidenceByID = Dictionary(before.map { ($0.id, $0.evidence) }, uniquingKeysWith: { a, _ in a })
        let builder = RecordBuilder(config: config, version: version)
        var all: [(record: ViolationRecord, item: CrossInputDedup.Item)] = []
        var trackCount = 0
        var stats: [String: Int] = [:]
        for input in inputs {
            let file = (runDirectory as NSString).appendingPathComponent("tracks/\(BatchRunner.fileStem(input.path, sha256: input.sha256)).json")
            guard let data = FileManager.default.contents(atPath: file) else { throw PipelineError.input(file, "missing: the run's tracks for \(input.path)") }
            let analysis: InputAnalysis
            do { analysis = try JSONDecoder().decode(InputAnalysis.self, from: data) } catch {
                throw PipelineError.input(file, "cannot read the stored analysis: \(error)")
            }
            trackCount += analysis.tracks.count
            let engine = RuleEngine(rules: config.ruleSet(pictureWidth: analysis.info.width))
            let (events, ruleStats) = engine.evaluate(tracks: analysis.tracks, timeline: analysis.timeline, timeBaseSeconds: analysis.timeBaseSeconds)
            if let data = try? JSONEncoder().encode(ruleStats), let counts = try? JSONDecoder().decode([String: Int].self, from: data) {
                for (k, v) in counts { stats[k, default: 0] += v }
            }
            let clockStart = builder.footageStart(path: input.path, info: analysis.info)
            for e in events {
                var r = builder.record(e, inputPath: input.path, inputSha256: input.sha256, detectionsSha256: analysis.detectionsSha256, clockStart: clockStart)
                r.evidence = evidenceByID[r.id] ?? []
                let absolute = clockStart.map { $0.timeIntervalSince1970 + r.ptsS }
                all.append((r, CrossInputDedup.Item(id: r.id, input: input.key, rule: r.rule.rawValue, lane: r.lane, absolute: absolute, speed: r.speedKmh,
                                                    inputOrder: [input.startTime ?? "", input.path, input.key], pts: r.ptsS, box: r.box)))
            }
        }
        let duplicates = CrossInputDedup.duplicates(all.map(\.item))
        let after = all.filter { duplicates[$0.record.id] == nil }
            .sorted { ($0.item.absolute ?? $0.item.pts, $0.item.rule, $0.item.id) < ($1.item.absolute ?? $1.item.pts, $1.item.rule, $1.item.id) }
            .map(\.record)
        let beforeIDs = Set(before.map(\.id)), afterIDs = Set(after.map(\.id))
        let beforeByID = Dictionary(before.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var changed: [Change] = []
        for r in after where beforeIDs.contains(r.id) {
            let fields = differingFields(beforeByID[r.id]!, r).filter { $0 != "pipeline_sha256" && $0 != "version" }
            if !fields.isEmpty { changed.append(Change(id: r.id, fields: fields)) }
        }
        return Result(before: before, after: after, appeared: after.filter { !beforeIDs.contains($0.id) },
                      disappeared: before.filter { !afterIDs.contains($0.id) }, changed: changed, inputs: inputs.count, tracks: trackCount,
                      stats: stats)
    }

    public static func readRecords(_ path: String) throws -> [ViolationRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw PipelineError.input(path, "cannot read") }
        let decoder = JSONDecoder()
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { n, line in
            do { return try decoder.decode(ViolationRecord.self, from: Data(line.utf8)) } catch {
                throw PipelineError.input(path, "line \(n + 1): not a roadwatch.violation/1 record: \(error)")
            }
        }
    }

    /// Names of the fields (dotted for nested ones) whose JSON values differ.
    public static func differingFields(_ a: ViolationRecord, _ b: ViolationRecord) -> [String] {
        func flat(_ r: ViolationRecord) -> [String: String] {
            guard let data = try? JSONEncoder().encode(r), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            var out: [String: String] = [:]
            func walk(_ prefix: String, _ value: Any) {
                if let d = value as? [String: Any] {
                    for (k, v) in d { walk(prefix.isEmpty ? k : "\(prefix).\(k)", v) }
                } else if let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) {
                    out[prefix] = String(decoding: data, as: UTF8.self)
                } else {
                    out[prefix] = "\(value)"
                }
            }
            walk("", object)
            return out
        }
        let fa = flat(a), fb = flat(b)
        return Set(fa.keys).union(fb.keys).filter { fa[$0] != fb[$0] }.sorted()
    }
}
