import ArgumentParser
import Foundation
import Pipeline
import SceneSynth
import Scoring
import TrafficModel

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare violation records (and tracks) with a rendered scene's truth.",
        discussion: """
            A record matches a true violation of the same rule, in the same lane, within --window seconds \
            (pts_s against the truth's time); each true violation takes at most one record, closest first. \
            Prints precision, recall and F1 per rule, duplicates, and for speeding the speed error of matched \
            records. With --tracks, also MOTA and IDF1 of a MOT-format track file against the true boxes; with \
            --lanes, also only where the pipeline's lanes are (true and track boxes whose bottom centre lies \
            outside every lane polygon are left out).
            """
    )

    @Argument(help: "A run folder (its violations.jsonl) or a violations.jsonl file.", completion: .file())
    var records: String

    @Argument(help: "The scene's NAME.truth.json.", completion: .file(extensions: ["json"]))
    var truth: String

    @Option(help: "A track file in MOT format (frame,id,x,y,w,h,...; frames from 1).")
    var tracks: String?

    @Option(help: ArgumentHelp("With --tracks: also score tracks inside this pipeline's lane polygons only.", valueName: "pipeline.yaml"),
            completion: .file(extensions: ["yaml", "yml"]))
    var lanes: String?

    @Option(help: "Largest time difference in seconds for a match.")
    var window = 1.0

    @Flag(help: "Match regardless of lane.")
    var ignoreLane = false

    @Flag(help: "Print JSON for machines.")
    var json = false

    struct Report: Codable {
        var violations: ViolationScore
        var tracks: TrackScore?
        /// The tracks scored inside the lanes of `--lanes`.
        var tracksInLanes: TrackScore?
    }

    func run() throws {
        let truthDocument: SceneTruth
        do { truthDocument = try SceneTruth.load(truth) } catch {
            throw ValidationError("\(truth): not a truth file: \(error.localizedDescription)")
        }
        let scored = ViolationScore.score(records: try ScoredRecord.load(records), truth: truthDocument, window: window, ignoreLane: ignoreLane)
        if lanes != nil && tracks == nil { throw ValidationError("--lanes scores tracks: give --tracks too") }
        let trackRows = try tracks.map { try TrackRow.load($0) }
        let trackScore = trackRows.map { TrackScore.score(tracks: $0, truth: truthDocument) }
        let inLanes = try lanes.map { path -> TrackScore in
            let polygons = try PipelineConfig.load(path: path).lanes.map(\.polygon)
            guard !polygons.isEmpty else { throw ValidationError("\(path): the pipeline has no lanes to score in") }
            var options = TrackScore.Options()
            options.region = { p in polygons.contains { $0.contains(p) } }
            return TrackScore.score(tracks: trackRows ?? [], truth: truthDocument, options: options)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Report(violations: scored, tracks: trackScore, tracksInLanes: inLanes)), as: UTF8.self))
            return
        }
        func f(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
        func kmh(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }
        let rows = scored.rules.map { r in
            [r.rule, "\(r.truths)", "\(r.records)", "\(r.matched)", "\(r.falsePositives)", "\(r.missed)", "\(r.duplicates)",
             f(r.precision), f(r.recall), f(r.f1), kmh(r.speedErrorMeanKmh), kmh(r.speedErrorP95Kmh), kmh(r.speedErrorMaxKmh)]
        }
        print(TextTable(header: ["rule", "true", "records", "matched", "false", "missed", "duplicates", "precision", "recall", "F1",
                                 "speed err mean", "p95", "max"], rows: rows).render())
        for r in scored.rules where !r.missedVehicles.isEmpty || !r.falseRecords.isEmpty {
            if !r.missedVehicles.isEmpty { print("\(r.rule): missed vehicles \(r.missedVehicles.map(String.init).joined(separator: ", "))") }
            if !r.falseRecords.isEmpty { print("\(r.rule): false records \(r.falseRecords.joined(separator: ", "))") }
        }
        if let t = trackScore {
            func row(_ t: TrackScore, _ name: String) -> [String] {
                ["\(t.tracks) for \(t.groundTruthTracks)", name, f(t.mota), f(t.idf1), "\(t.identitySwitches)", "\(t.falsePositives)",
                 "\(t.misses)", "\(t.groundTruthBoxes)", "\(t.trackBoxes)"]
            }
            print("")
            print(TextTable(header: ["tracks", "where", "MOTA", "IDF1", "ID switches", "false", "missed", "true boxes", "track boxes"],
                            rows: [row(t, "picture")] + (inLanes.map { [row($0, "lanes")] } ?? [])).render())
        }
    }
}
