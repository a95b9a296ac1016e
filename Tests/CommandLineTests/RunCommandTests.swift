import Foundation
import Pipeline
import Scoring
import SceneSynth
import Testing
import TrafficModel
import VideoIO

/// `roadwatch run` as an operator runs it, on real decoded video: the samples scored against their truth; split
/// and overlapping footage; a second run, a run with other job and thread counts, and a run killed and resumed.
@Suite(.serialized)
struct RunCommandTests {
    static let samples = packageRoot.appendingPathComponent("SampleVideo")

    func score(_ dir: String, truth name: String) throws -> ViolationScore {
        let truth = try SceneTruth.load(Self.samples.appendingPathComponent("\(name).truth.json").path)
        return ViolationScore.score(records: try ScoredRecord.load(dir), truth: truth)
    }

    @Test("the sample pipelines: every record true, the runners and speeders found, speed error mean ≤ 1 and p95 ≤ 2.5 km/h")
    func samples() throws {
        try withTemporaryDirectory { dir in
            struct Sample { var pipeline: String; var truth: String; var rule: String; var minimumRecall: Double }
            // Recall floors are what the motion detector reaches today (docs/accuracy.md); precision must be 1. Since the
            // samples' trucks carry their lamps where trucks do (2026-11-27) one record is missed: on the motorway
            // motorcycle 20, whose box its shadow widens by half and back, so it is not steady enough to measure. At
            // night motorcycle 14, beside truck 10 at the line, was missed too until a candidate holding its lamp and
            // the truck's was no longer replaced by a box of its learnt size at the lamp (55 px wide for 35 in frame
            // 461): the red-light rule refused its boxes as unsteady (run.json `boxUnsteady` 3 → 1). Both were lost to
            // a re-encode of the old samples alone.
            let samples = [
                Sample(pipeline: "sample-junction", truth: "junction-day", rule: "red_light", minimumRecall: 1.0),
                Sample(pipeline: "sample-junction-night", truth: "junction-night", rule: "red_light", minimumRecall: 1.0),
                Sample(pipeline: "sample-highway", truth: "highway-day", rule: "speeding", minimumRecall: 0.8),
            ]
            for s in samples {
                let out = dir.appendingPathComponent(s.pipeline).path
                let result = try CLI.run(["run", packageRoot.appendingPathComponent("Pipelines/\(s.pipeline).yaml").path, "--out", out, "--plain"])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains("1 ok, 0 failed"), "\(result.stdout)")
                let scored = try score(out, truth: s.truth)
                for rule in scored.rules {
                    #expect(rule.precision == 1.0, "\(s.pipeline) \(rule.rule): false records \(rule.falsePositives)")
                    #expect(rule.duplicates == 0)
                }
                let main = try #require(scored.rules.first { $0.rule == s.rule })
                #expect(main.recall >= s.minimumRecall, "\(s.pipeline): recall \(main.recall)")
                if s.rule == "speeding" {
                    #expect(try #require(main.speedErrorMeanKmh) <= 1.0)
                    // The issue's targets; measured 0.42 and 1.04 km/h (docs/accuracy.md).
                    #expect(try #require(main.speedErrorP95Kmh) <= 2.5)
                }
                try checkOutputs(out)
                if s.truth == "junction-day" { try dayTracks(out) }
                if s.truth == "junction-night" { try nightTracks(out) }
                if s.truth == "highway-day" { try highwayTracks(out) }
            }
        }
    }

    /// A sample's truth and the tracks a run wrote to `out`.
    func tracks(_ out: String, sample: String) throws -> (SceneTruth, [TrackRow]) {
        let truth = try SceneTruth.load(packageRoot.appendingPathComponent("SampleVideo/\(sample).truth.json").path)
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: out + "/tracks").first { $0.hasSuffix(".mot.csv") })
        return (truth, try TrackRow.load(out + "/tracks/" + file))
    }

    /// The true boxes of `frames` that a track box matches at IoU ≥ 0.5 in the same frame (MOT rows count from 1).
    func trackedWhole(_ frames: [SceneTruth.FrameBox], in rows: [TrackRow]) -> [SceneTruth.FrameBox] {
        frames.filter { f in rows.contains { $0.frame == f.frame + 1 && $0.box.iou(f.box) >= 0.5 } }
    }

    /// How many of a vehicle's true boxes each track matches at IoU ≥ 0.5: one entry for a vehicle kept on one track.
    func framesByTrack(_ vehicle: SceneTruth.Vehicle, in rows: [TrackRow]) -> [Int: Int] {
        let ids = vehicle.frames.compactMap { f in rows.first { $0.frame == f.frame + 1 && $0.box.iou(f.box) >= 0.5 }?.id }
        return Dictionary(grouping: ids, by: { $0 }).mapValues(\.count)
    }

    /// Vehicle `id`'s true boxes matched by one track in `least` frames or more (`framesByTrack`).
    func expectOnOneTrack(_ id: Int, atLeast least: Int, truth: SceneTruth, rows: [TrackRow],
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let byTrack = framesByTrack(try #require(truth.vehicles.first { $0.id == id }, sourceLocation: sourceLocation), in: rows)
        #expect((byTrack.values.max() ?? 0) >= least, "vehicle \(id)'s frames by track: \(byTrack)", sourceLocation: sourceLocation)
    }

    /// The night junction's tracks over the picture: far cars are seen by their lamp pairs, whose boxes take a car's
    /// proportion at that distance from the calibration, oncoming ones by their bloomed headlamps paired too, trucks by
    /// their lamps where trucks carry them, and motorcycles by their one lamp (0.834 measured; 0.831 before light
    /// pairs' lamps were two picture pixels, 0.833 before a box holding a track's lamp and another kept it from the
    /// lamp's path, 0.797 before headlamps bloomed into one blob were a light pair, 0.781 before a lamp of one analysis
    /// pixel, 0.772 before a track's lamp was sized as a share of its box, 0.757 before a flat blob of bloom gave way
    /// to its pair's box, 0.744 before a lone lamp was confident, 0.682 before bloomed lamps paired, 0.664 before a
    /// lone lamp made a motorcycle's box, 0.583 on the old render, whose truck lamps were bars 1.9–3.0 m up the cargo
    /// box; docs/accuracy.md). Oncoming van 3, its headlamps bloomed into blobs 1.8 sizes apart, is tracked whole (IoU
    /// ≥ 0.5) in 279 of its 346 frames (148 before); oncoming motorcycle 9, its headlamp alone seen, in 55 of its 100
    /// frames 460–559 (19 when its box was the lamp's glow); motorcycle 14, lost beside truck 10 at 40 m and found
    /// again by its tail lamp as it drives away, in 248 of its 318 (79 when its lamp, one pixel at 640 px, was lost at
    /// 53 m; 42 before it was found again).
    func nightTracks(_ out: String) throws {
        let (truth, rows) = try tracks(out, sample: "junction-night")
        let idf1 = TrackScore.score(tracks: rows, truth: truth).idf1
        #expect(idf1 >= 0.81, "IDF1 \(idf1)")
        func whole(_ id: Int, frames: Range<Int> = 0..<Int.max) throws -> (Int, Int) {
            let v = try #require(truth.vehicles.first { $0.id == id })
            let seen = v.frames.filter { frames.contains($0.frame) }
            return (trackedWhole(seen, in: rows).count, seen.count)
        }
        let van = try whole(3), motorcycle = try whole(9, frames: 460..<560), away = try whole(14)
        #expect(van.0 >= 240, "van 3 whole in \(van.0) of \(van.1) frames")
        #expect(motorcycle.0 >= 45, "motorcycle 9 whole in \(motorcycle.0) of \(motorcycle.1) frames")
        #expect(away.0 >= 200, "motorcycle 14 whole in \(away.0) of \(away.1) frames")
        // Van 5, driving away, is followed by its tail-lamps past 62 m on one track (it changed track there, its lamps'
        // size learnt in pixels near the camera: 259 and 61 frames; 311 on one track measured).
        try expectOnOneTrack(5, atLeast: 290, truth: truth, rows: rows)
        // Oncoming cars 6 and 15, their headlamps bloomed into one blob (car 6's at 100–130 m, 15's within 40 m), are
        // boxed as a light pair as wide as the blob: 238 of car 6's 287 frames on one track and 240 of car 15's 265
        // (158 and 194 when such a blob was no pair, car 15's box then the blob alone, half its height).
        for id in [6, 15] {
            try expectOnOneTrack(id, atLeast: 220, truth: truth, rows: rows)
        }
    }

    /// The day junction's tracks (docs/accuracy.md): with the tracker's boxes fed back to the detector, truck 11,
    /// waiting at red and moving off at green, is seen whole in frames 560–639 (its roof and bumper only before, 0 of
    /// 80 frames at IoU 0.5; 80 of 80 measured); with the detail region, 74 % of the true boxes beyond the lanes (88 m,
    /// at least 10 px tall) are tracked (39 % without it), and IDF1 over the picture is 0.939 (0.908 before the
    /// backward pass; 0.900 in session 18; 0.869 before the blobs
    /// were divided by where the tracks expect their vehicles; 0.884 on the old render, before trucks' lamps moved; 0.871
    /// before weak
    /// detections that fit a track kept it alive, 0.839 before ghosts
    /// were learnt into the background, 0.605 before those, the detail region and the floor of 11 levels). The
    /// warm-up's ghost of a far van, road that the median took for the van, made a track that stood on the empty
    /// road at (658, 166) for frames 137-252; no track box stays there now.
    func dayTracks(_ out: String) throws {
        let (truth, rows) = try tracks(out, sample: "junction-day")
        let idf1 = TrackScore.score(tracks: rows, truth: truth).idf1
        #expect(idf1 >= 0.92, "IDF1 \(idf1)")
        let ghostSpot = Box(x: 657, y: 165, width: 12, height: 13)
        let onGhost = rows.filter { (140...250).contains($0.frame) && $0.box.iou(ghostSpot) >= 0.5 }
        #expect(onGhost.count <= 10, "track boxes on the ghost's spot in frames 140-250: \(onGhost.count)")
        let far = truth.vehicles.flatMap { v in v.frames.filter { $0.front.y > 88 && $0.box.height >= 10 && $0.visible >= 0.5 } }
        let tracked = trackedWhole(far, in: rows)
        #expect(Double(tracked.count) >= 0.68 * Double(far.count), "far boxes tracked: \(tracked.count) of \(far.count)")
        let truck = try #require(truth.vehicles.first { $0.id == 11 })
        let moving = truck.frames.filter { (560..<640).contains($0.frame) }
        let whole = trackedWhole(moving, in: rows)
        #expect(moving.count == 80 && whole.count >= 72, "truck 11 whole in \(whole.count) of \(moving.count) frames")
        // Car 14, driving away with van 16 close behind it in one blob from frame 664: each keeps its own box (car 14
        // whole in 0 of those 86 frames while the blob's pixels were divided by the tracks' boxes a frame behind).
        let car = try #require(truth.vehicles.first { $0.id == 14 })
        let behind = car.frames.filter { $0.frame >= 664 && $0.visible >= 0.5 }
        let apart = trackedWhole(behind, in: rows)
        #expect(Double(apart.count) >= 0.8 * Double(behind.count), "car 14 whole in \(apart.count) of \(behind.count) frames")
        // Oncoming car 6 and motorcycle 9, far and seen weakly as they come, are tracked back to where they were too
        // far to start a track by the backward pass (car 6 on one track in 204 of its 287 frames forward alone, 271
        // with it; motorcycle 9 in 156 and 215 of its 314); oncoming van 3's two forward tracks, frames 1-217 and
        // 231-345, are joined (133 frames on one track, 242 joined).
        for (id, least) in [(6, 250), (9, 200), (3, 225)] {
            try expectOnOneTrack(id, atLeast: least, truth: truth, rows: rows)
        }
        // Car 15, in one blob with car 17 at frame 674, keeps one track (it took car 17's place for its last 77 frames).
        let merged = framesByTrack(try #require(truth.vehicles.first { $0.id == 15 }), in: rows)
        #expect((merged.values.max() ?? 0) >= merged.values.reduce(0, +) - 5, "car 15's frames by track: \(merged)")
    }

    /// The motorway's tracks over the picture: 0.673 measured (0.635 before the shake test asked the pixel across to
    /// match too inside a blob; docs/accuracy.md). Truck 7, pale (134 over a road of 113), drives away and is seen
    /// whole in 221 of its 803 frames on one track (133 before: the lane-line dashes under it, far off, cut its body
    /// to pieces and it was learnt into the road from 160 m).
    func highwayTracks(_ out: String) throws {
        let (truth, rows) = try tracks(out, sample: "highway-day")
        let idf1 = TrackScore.score(tracks: rows, truth: truth).idf1
        #expect(idf1 >= 0.66, "IDF1 \(idf1)")
        try expectOnOneTrack(7, atLeast: 200, truth: truth, rows: rows)
    }

    /// A benchmark scene's first frames rendered, run through a sample pipeline and scored: its red-light rule and
    /// the tracks' IDF1 over the picture.
    typealias SceneRun = (red: ViolationScore.Rule, idf1: Double, truth: SceneTruth, rows: [TrackRow])

    func scene(_ name: String, frames: Int, pipeline: String) throws -> SceneRun {
        try scene(name, frames: frames, pipeline: pipeline, boxes: [nil])[0]
    }

    /// The scene's first `frames` rendered once and run with the pipeline once per entry of `boxes`: nil, the motion
    /// detector; else an upstream detector's boxes (MOT rows) made from the scene's truth.
    func scene(_ name: String, frames: Int, pipeline: String, boxes: [((SceneTruth) -> String)?]) throws -> [SceneRun] {
        try withTemporaryDirectory { dir in
            let spec = packageRoot.appendingPathComponent("Benchmarks/scenes/\(name).scene.yaml").path
            let synth = try CLI.run(["synth", spec, "--out", dir.path, "--frames", String(frames)])
            try #require(synth.status == 0, "\(synth.stderr)")
            let video = dir.appendingPathComponent("\(name).mp4").path
            let truth = try SceneTruth.load(dir.appendingPathComponent("\(name).truth.json").path)
            return try boxes.enumerated().map { k, boxes in
                var pipelinePath = packageRoot.appendingPathComponent("Pipelines/\(pipeline).yaml").path
                if let boxes {
                    let detections = dir.appendingPathComponent("boxes-\(k).csv").path
                    try boxes(truth).write(toFile: detections, atomically: true, encoding: .utf8)
                    pipelinePath = try Self.externalPipeline(dir.appendingPathComponent("external-\(k).yaml").path, from: pipeline, externalFile: detections)
                }
                let out = dir.appendingPathComponent("out-\(k)").path
                let result = try CLI.run(["run", pipelinePath, video, "--out", out, "--plain"])
                #expect(result.status == 0, "\(result.stderr)")
                let scored = ViolationScore.score(records: try ScoredRecord.load(out), truth: truth)
                let red = try #require(scored.rules.first { $0.rule == "red_light" })
                let file = try #require(try FileManager.default.contentsOfDirectory(atPath: out + "/tracks").first { $0.hasSuffix(".mot.csv") })
                let rows = try TrackRow.load(out + "/tracks/" + file)
                return (red, TrackScore.score(tracks: rows, truth: truth).idf1, truth, rows)
            }
        }
    }

    /// The scene's `count` red-light runners each recorded once, and no other record.
    func expectEveryRunner(_ red: ViolationScore.Rule, of count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(red.truths == count, sourceLocation: sourceLocation)
        #expect(red.falsePositives == 0 && red.duplicates == 0, "false \(red.falsePositives), duplicates \(red.duplicates)",
                sourceLocation: sourceLocation)
        #expect(red.recall == 1.0, sourceLocation: sourceLocation)
    }

    @Test("the junction at dusk (its first 16 s, two runners): both found, no record twice")
    func dusk() throws {
        let (red, idf1, truth, rows) = try scene("junction-dusk", frames: 400, pipeline: "sample-junction")
        // A dark car's bumper strip, tracked on its own, crossed the line after the car and made a second record
        // (frame 364) until the red-light rule asked for a vehicle seen whole (docs/accuracy.md).
        expectEveryRunner(red, of: 2)
        // Dark cars 12-16 levels under the road, and the far road, tracked: 0.722 with the detector's default
        // floor of 16 levels and dusk taken as dark, 0.878 at the floor of 11, 0.925 measured at 10; 0.953 with the
        // backward pass, 0.968 with lamps sought at dusk.
        #expect(idf1 >= 0.80, "IDF1 \(idf1)")
        // Oncoming motorcycle 9 shows only its headlamp's glow: with lamps sought at dusk its blob is a motorcycle's
        // box (146 of its 199 frames here on one track; none before, the glow's box half its height).
        try expectOnOneTrack(9, atLeast: 120, truth: truth, rows: rows)
    }

    @Test("the junction shaking under a cloud (its first 18.4 s, three runners): all found, no record twice; the oncoming truck boxed whole")
    func shake() throws {
        let (red, idf1, truth, rows) = try scene("junction-shake", frames: 460, pipeline: "sample-junction")
        expectEveryRunner(red, of: 3)
        // 0.887 measured (0.839 before a strip as far under a box as its own height joined it).
        #expect(idf1 >= 0.85, "IDF1 \(idf1)")
        // Oncoming truck 12's grey front matches the road far off: its top and its bumper strip, 6 px apart, are
        // one box (101 of its 159 frames here on one track; 33 before, the strip a track of its own).
        try expectOnOneTrack(12, atLeast: 85, truth: truth, rows: rows)
    }

    /// Night tuning is checked on a second night clip, not only the sample it was tuned on: one clip's IDF1 moves by
    /// about 0.05 with the encoder's rounding alone (docs/accuracy.md).
    @Test("the junction at night with other traffic (its first 18.4 s, two runners among 6 vehicles a minute a lane): both found")
    func nightTraffic() throws {
        let (red, idf1, truth, rows) = try scene("junction-night-traffic", frames: 460, pipeline: "sample-junction-night")
        expectEveryRunner(red, of: 2)
        // 0.792 measured (0.791 before light pairs' lamps were two picture pixels, 0.768 before a box holding a track's
        // lamp and another kept it from the lamp's path, 0.754 before headlamps bloomed into one blob were a light
        // pair, 0.753 before a lamp of one analysis pixel, 0.744 before a track's lamp was sized as a share of its box,
        // 0.732 before a flat blob of bloom gave way to its pair's box, 0.723 before a lone lamp was confident, 0.661
        // before bloomed headlamps paired, 0.630 before a lone lamp made a motorcycle's box).
        #expect(idf1 >= 0.75, "IDF1 \(idf1)")
        // Van 4, driving away, learnt one of its two tail lamps in a box over that lamp's half; the lamp's path then
        // gave it a box of that half's size in every other frame: 212 of its frames on one track (325 measured
        // with the change).
        try expectOnOneTrack(4, atLeast: 300, truth: truth, rows: rows)
    }

    /// The truth's boxes where at least `visible` of the vehicle shows, as an upstream detector would give them (no
    /// identities), each dropped with chance `drop` and its edges moved by up to `jitter` of its size (a fixed sequence).
    static func upstreamBoxes(_ truth: SceneTruth, visible: Double, drop: Double = 0, jitter: Double = 0) -> String {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {  // SplitMix64: the same boxes on every machine
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        var rows: [(frame: Int, text: String)] = []
        for v in truth.vehicles {
            for f in v.frames where f.visible >= visible {
                let moves = (0..<4).map { _ in (2 * uniform() - 1) * jitter }
                guard uniform() >= drop else { continue }
                let b = f.box
                let x = b.x + moves[0] * b.width, y = b.y + moves[1] * b.height
                let w = b.width * (1 + moves[2]), h = b.height * (1 + moves[3])
                rows.append((f.frame, "\(f.frame + 1),-1,\(x),\(y),\(w),\(h),0.9,-1,-1,-1"))
            }
        }
        return rows.sorted { $0.frame < $1.frame }.map(\.text).joined(separator: "\n") + "\n"
    }

    /// The day and night junction samples in `folder`, each with its upstream detector's boxes beside it
    /// (`NAME.mot.csv`, the truth's boxes where at least 30 % shows); their truths by name.
    static func upstreamFolder(_ folder: URL) throws -> [String: SceneTruth] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var truths: [String: SceneTruth] = [:]
        for name in ["junction-day", "junction-night"] {
            try FileManager.default.copyItem(at: samples.appendingPathComponent("\(name).mp4"), to: folder.appendingPathComponent("\(name).mp4"))
            let truth = try SceneTruth.load(samples.appendingPathComponent("\(name).truth.json").path)
            truths[name] = truth
            try upstreamBoxes(truth, visible: 0.3).write(to: folder.appendingPathComponent("\(name).mot.csv"), atomically: true, encoding: .utf8)
        }
        return truths
    }

    /// A sample pipeline (`Pipelines/NAME.yaml`) with `detection.source: external` and this `external_file`, written
    /// to `path`.
    static func externalPipeline(_ path: String, from pipeline: String = "sample-junction", externalFile: String) throws -> String {
        let text = try String(contentsOfFile: packageRoot.appendingPathComponent("Pipelines/\(pipeline).yaml").path, encoding: .utf8)
            .replacingOccurrences(of: "\ndetection:\n", with: "\ndetection:\n  source: external\n  external_file: \(externalFile)\n")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A night of footage from an upstream detector: each video comes with its own file of boxes, named by a pattern
    /// in the pipeline. One fixed file for a folder would give every video the same boxes (records of vehicles that
    /// were never there), so it is refused before any work; the boxes' hash is part of each record and of what makes
    /// an input done, so new boxes for the same footage are new work.
    @Test("an upstream detector's boxes per input: each video with its own, a missing file fails that input alone, one file for many refused, new boxes re-run")
    func upstreamBoxesPerInput() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("night")
            let truths = try Self.upstreamFolder(folder)
            func pipeline(_ file: String, _ externalFile: String) throws -> String {
                try Self.externalPipeline(dir.appendingPathComponent(file).path, externalFile: externalFile)
            }
            let perInput = try pipeline("per-input.yaml", "\"{dir}/{stem}.mot.csv\"")
            let out = dir.appendingPathComponent("out").path
            let run = try CLI.run(["run", perInput, folder.path, "--out", out, "--plain"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("2 ok, 0 failed"), "\(run.stdout)")
            // Each input's records: made from its own boxes (their hash in the record), every runner found, none false.
            let lines = try String(contentsOfFile: out + "/violations.jsonl", encoding: .utf8).split(separator: "\n")
            for (name, truth) in truths {
                let boxesSha = try fileSHA256(folder.appendingPathComponent("\(name).mot.csv").path).sha256
                let mine = try lines.filter { line in
                    let input = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["input"] as? [String: Any])
                    guard (input["path"] as? String)?.hasSuffix("/\(name).mp4") == true else { return false }
                    #expect(input["detections_sha256"] as? String == boxesSha, "\(name): \(line)")
                    return true
                }
                let file = dir.appendingPathComponent("\(name).jsonl").path
                try (mine.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let red = try #require(ViolationScore.score(records: try ScoredRecord.load(file), truth: truth).rules.first { $0.rule == "red_light" })
                expectEveryRunner(red, of: 3)
            }
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/run.json"))) as? [String: Any])
            let hashes = (summary["inputs"] as? [[String: Any]] ?? []).compactMap { $0["detectionsSha256"] as? String }
            #expect(hashes.count == 2 && Set(hashes).count == 2, "\(summary["inputs"] ?? "")")
            // Replayed from the stored tracks, the records are the same (the boxes' hash kept with the tracks); re-run
            // by an auditor, every record is reproduced.
            let replay = try CLI.run(["replay", out])
            #expect(replay.status == 0 && replay.stdout.contains("no change"), "\(replay.stdout)\(replay.stderr)")
            let verified = try CLI.run(["verify", out, "--all"])
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

            // Again: nothing to do. New boxes for the day (a box in seven dropped): the day is run again, the night not.
            let again = try CLI.run(["run", perInput, folder.path, "--out", out, "--plain", "--no-evidence"])
            #expect(again.status == 0 && again.stdout.contains("0 ok, 0 failed, 2 skipped"), "\(again.stdout)")
            try Self.upstreamBoxes(try #require(truths["junction-day"]), visible: 0.3, drop: 0.15)
                .write(to: folder.appendingPathComponent("junction-day.mot.csv"), atomically: true, encoding: .utf8)
            let changed = try CLI.run(["verify", out])
            #expect(changed.status == 4 && changed.stdout.contains("junction-day.mot.csv: upstream boxes changed"), "\(changed.stdout)")
            let newBoxes = try CLI.run(["run", perInput, folder.path, "--out", out, "--plain", "--no-evidence"])
            #expect(newBoxes.status == 0 && newBoxes.stdout.contains("1 ok, 0 failed, 1 skipped"), "\(newBoxes.stdout)")
            #expect((newBoxes.stdout + newBoxes.stderr).contains("skipped \(folder.path)/junction-night.mp4"), "\(newBoxes.stderr)")
            // The new boxes' results replace the old ones': one row for the day in the store, and its records in the
            // export all made from the new boxes.
            let newSha = try fileSHA256(folder.appendingPathComponent("junction-day.mot.csv").path).sha256
            let dayRows = try Store(path: out + "/roadwatch.sqlite").inputs().filter { $0.path.hasSuffix("/junction-day.mp4") }
            #expect(dayRows.count == 1 && dayRows.first?.key.hasSuffix(String(newSha.prefix(16))) == true, "\(dayRows.map(\.key))")
            let dayRecords = try Replay.readRecords(out + "/violations.jsonl").filter { $0.input.path.hasSuffix("/junction-day.mp4") }
            #expect(!dayRecords.isEmpty && dayRecords.allSatisfy { $0.input.detectionsSha256 == newSha }, "\(dayRecords.map(\.input))")

            // A video without its boxes fails alone, named with the file it lacks; the other is done.
            try FileManager.default.removeItem(at: folder.appendingPathComponent("junction-night.mot.csv"))
            let missing = try CLI.run(["run", perInput, folder.path, "--out", dir.appendingPathComponent("out-missing").path, "--plain", "--no-evidence"])
            #expect(missing.status == 3, "\(missing.stderr)")
            #expect(missing.stdout.contains("1 ok, 1 failed"), "\(missing.stdout)")
            #expect((missing.stdout + missing.stderr).contains("junction-night.mp4: its upstream detector's boxes are missing: no such file \(folder.path)/junction-night.mot.csv"),
                    "\(missing.stderr)")
            // That run made no evidence, and is verified so: its records name none, and neither do the re-run's.
            let bare = try CLI.run(["verify", dir.appendingPathComponent("out-missing").path, "--all"])
            #expect(bare.status == 0 && bare.stdout.contains("junction-day.mp4: 3 records reproduced field by field"), "\(bare.stdout)")

            // One file for both videos: refused at the key, before any work.
            let fixed = try pipeline("fixed.yaml", folder.appendingPathComponent("junction-day.mot.csv").path)
            let one = try CLI.run(["run", fixed, folder.path, "--out", dir.appendingPathComponent("out-fixed").path, "--plain"])
            #expect(one.status == 2, "\(one.stderr)")
            let line = try #require(try String(contentsOfFile: fixed, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                .firstIndex { $0.contains("external_file:") }) + 1
            #expect(one.stderr.contains("\(fixed):\(line):18: error: detection.external_file: names one file of boxes for 2 inputs"), "\(one.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out-fixed/violations.jsonl").path))
        }
    }

    /// What the motion detector cannot do in dense traffic (cut apart vehicles that touch in the picture, 0.468 over
    /// the whole clip) is not the tracker's limit: given each vehicle's box, as a site running a neural detector
    /// upstream would, it keeps identities through queues and occlusions.
    @Test("dense traffic (its first 16 s, two runners) on an upstream detector's boxes: identities kept through the queues, both runners recorded once")
    func denseOnUpstreamBoxes() throws {
        // A noisier detector: a box in seven missed, its edges off by up to 10 % of its size.
        let runs = try scene("junction-dense", frames: 400, pipeline: "sample-junction", boxes: [
            { Self.upstreamBoxes($0, visible: 0.3) }, { Self.upstreamBoxes($0, visible: 0.3, drop: 0.15, jitter: 0.1) },
        ])
        for run in runs { expectEveryRunner(run.red, of: 2) }
        // Exact boxes: 0.999 measured here and over the whole clip (750 frames, 36 vehicles; 0.468 with the motion
        // detector). Noisy: 0.999 measured here (0.921 before the missed boxes' gaps were bridged).
        #expect(runs[0].idf1 >= 0.97, "IDF1 \(runs[0].idf1)")
        #expect(runs[1].idf1 >= 0.97, "IDF1 \(runs[1].idf1)")
    }

    /// Records, store, evidence and run.json agree, and the evidence decodes.
    func checkOutputs(_ out: String) throws {
        let records = try Replay.readRecords(out + "/violations.jsonl")
        let store = try Store(path: out + "/roadwatch.sqlite")
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.schemaVersion() == "v1")
        #expect(try store.inputs().allSatisfy { $0.status == "done" })
        let evidence = try store.evidence()
        #expect(evidence.count == records.reduce(0) { $0 + $1.evidence.count })
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/run.json"))) as! [String: Any]
        let totals = run["violations"] as! [String: Any]
        let jsonl = try Data(contentsOf: URL(fileURLWithPath: out + "/violations.jsonl"))
        #expect(totals["jsonlSha256"] as? String == EvidenceWriter.sha256(Array(jsonl)))
        for r in records {
            #expect(r.evidence.count == 3, "\(r.id): \(r.evidence.map(\.kind))")
            for e in r.evidence {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: out + "/" + e.path))
                #expect(EvidenceWriter.sha256(Array(bytes)) == e.sha256, "\(e.path)")
                let reader = try VideoReader(path: out + "/" + e.path)
                var frames = 0
                while try reader.nextFrame() != nil { frames += 1 }
                if e.kind == "clip" {
                    // 2 s (junction) or 1.5 s (motorway) either side, cut exactly, not at a key frame.
                    let fps = reader.info.averageFrameRate ?? 25
                    let expected = (r.rule == .speeding ? 3.0 : 4.0) * fps
                    #expect(abs(Double(frames) - expected) <= 2, "\(e.path): \(frames) frames, expected about \(expected)")
                } else {
                    #expect(frames == 1)
                    #expect(reader.info.width >= 1280)
                }
            }
        }
    }

    /// Two overlapping pieces of the day junction: A = 0–17 s, B = 8–30 s (creation_time 8 s later).
    static func writeOverlappingPieces(into dir: URL) throws -> [String] {
        let source = try VideoReader(path: samples.appendingPathComponent("junction-day.mp4").path)
        let start = try #require(source.info.creationTime)
        var settings = EncoderSettings(frameRate: FrameRate(25), quality: 18)
        settings.creationTime = start
        let a = try VideoWriter(path: dir.appendingPathComponent("cam-0830.mp4").path, width: 1280, height: 720, settings: settings)
        settings.creationTime = start.addingTimeInterval(8)
        let b = try VideoWriter(path: dir.appendingPathComponent("cam-0838.mp4").path, width: 1280, height: 720, settings: settings)
        while let frame = try source.nextFrame() {
            let picture = frame.picture()
            if frame.index < 425 { try a.write(picture) }
            if frame.index >= 200 { try b.write(picture) }
        }
        try a.finish()
        try b.finish()
        return [dir.appendingPathComponent("cam-0830.mp4").path, dir.appendingPathComponent("cam-0838.mp4").path]
    }

    @Test("overlapping footage counts once; a second run skips; jobs and threads do not change a byte; a killed run resumes to the same result")
    func overlapResumeDeterminism() throws {
        try withTemporaryDirectory { dir in
            let footage = dir.appendingPathComponent("footage")
            try FileManager.default.createDirectory(at: footage, withIntermediateDirectories: true)
            _ = try Self.writeOverlappingPieces(into: footage)
            let pipeline = packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path

            // 1. Both pieces, two at a time.
            let first = dir.appendingPathComponent("first").path
            let r1 = try CLI.run(["run", pipeline, footage.path, "--out", first, "--jobs", "2", "--plain"])
            #expect(r1.status == 0, "\(r1.stderr)")
            let records = try Replay.readRecords(first + "/violations.jsonl")
            // The three runners, each once, by wall-clock time against the truth.
            let truth = try SceneTruth.load(Self.samples.appendingPathComponent("junction-day.truth.json").path)
            let t0 = try #require(ISO8601Instant.parse(truth.video.startTime))
            let trueTimes = truth.violations.map { t0.addingTimeInterval($0.timeS) }
            let recordTimes = records.compactMap { $0.time.flatMap(ISO8601Instant.parse) }
            #expect(recordTimes.count == records.count)
            #expect(records.count == 3, "\(records.map { ($0.input.path, $0.ptsS) })")
            for t in trueTimes { #expect(recordTimes.filter { abs($0.timeIntervalSince(t)) <= 1 }.count == 1, "\(t)") }
            let run1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: first + "/run.json"))) as! [String: Any]
            // The runners at 10.8 s and 14.4 s are in both pieces (B, from 8 s, is read ahead: no blind warm-up).
            #expect((run1["violations"] as! [String: Any])["duplicatesAcrossInputs"] as? Int == 2)
            let bytes1 = try Data(contentsOf: URL(fileURLWithPath: first + "/violations.jsonl"))

            // 2. Again into the same folder: nothing redone, nothing changed.
            let r2 = try CLI.run(["run", pipeline, footage.path, "--out", first, "--plain"])
            #expect(r2.status == 0)
            #expect(r2.stdout.contains("0 ok, 0 failed, 2 skipped"), "\(r2.stdout)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: first + "/violations.jsonl")) == bytes1)

            // 3. One job, one decoder thread: the same bytes, evidence hashes included.
            let second = dir.appendingPathComponent("second").path
            let r3 = try CLI.run(["run", pipeline, footage.path, "--out", second, "--jobs", "1", "--threads", "1", "--plain"])
            #expect(r3.status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: second + "/violations.jsonl")) == bytes1)
            // One job, two decoder threads: against run 1 only --jobs differs, against run 3 only --threads.
            let fourth = dir.appendingPathComponent("fourth").path
            #expect(try CLI.run(["run", pipeline, footage.path, "--out", fourth, "--jobs", "1", "--threads", "2", "--plain"]).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: fourth + "/violations.jsonl")) == bytes1)

            // 4. Killed after the first input, then resumed.
            let third = dir.appendingPathComponent("third").path
            let process = Process()
            process.executableURL = CLI.binary
            process.arguments = ["run", pipeline, footage.path, "--out", third, "--jobs", "1", "--plain"]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var seen = ""
            while !seen.contains("done ") {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(seen.contains("done "), "the run ended before the first input was done: \(seen)")
            let partial = try Store(path: third + "/roadwatch.sqlite")
            #expect(try partial.integrityCheck() == "ok")
            #expect(try partial.inputs().filter { $0.status == "done" }.count == 1)
            let r4 = try CLI.run(["run", pipeline, footage.path, "--out", third, "--plain"])
            #expect(r4.status == 0, "\(r4.stderr)")
            #expect(r4.stdout.contains("1 ok, 0 failed, 1 skipped"), "\(r4.stdout)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: third + "/violations.jsonl")) == bytes1)
            // No temporary files left behind anywhere in the run folder.
            let leftovers = FileManager.default.enumerator(atPath: third)!.compactMap { $0 as? String }
                .filter { ($0 as NSString).lastPathComponent.hasPrefix(".") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
            #expect(leftovers.isEmpty, "\(leftovers)")

            // An auditor's verify: everything matches; one changed byte in a still, or in the records, is named.
            let verified = try CLI.run(["verify", first, "--sample", "1"])
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.contains("MATCH    ") && verified.stdout.contains("reproduced field by field"), "\(verified.stdout)")
            let still = first + "/" + records[0].evidence.first { $0.kind == "still_after" }!.path
            var bytes = try Data(contentsOf: URL(fileURLWithPath: still))
            bytes[bytes.count / 2] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: still))
            let tampered = try CLI.run(["verify", first, "--hashes-only"])
            #expect(tampered.status == 4)
            #expect(tampered.stdout.contains("MISMATCH \(records[0].evidence.first { $0.kind == "still_after" }!.path): sha256"), "\(tampered.stdout)")
            bytes[bytes.count / 2] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: still))
            var jsonl = try Data(contentsOf: URL(fileURLWithPath: first + "/violations.jsonl"))
            jsonl[10] = jsonl[10] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            try jsonl.write(to: URL(fileURLWithPath: first + "/violations.jsonl"))
            let edited = try CLI.run(["verify", first, "--hashes-only"])
            #expect(edited.status == 4 && edited.stdout.contains("MISMATCH violations.jsonl"), "\(edited.stdout)")
            try bytes1.write(to: URL(fileURLWithPath: first + "/violations.jsonl"))

            // Replay with the run's own pipeline changes nothing; a 30 s grace period removes every record.
            let replay = try CLI.run(["replay", first])
            #expect(replay.status == 0 && replay.stdout.contains("no change"), "\(replay.stdout)\(replay.stderr)")
            let lenient = dir.appendingPathComponent("lenient.yaml").path
            try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: "grace_s: 0.3", with: "grace_s: 5")
                .write(toFile: lenient, atomically: true, encoding: .utf8)
            let replayed = try CLI.run(["replay", first, "--pipeline", lenient])
            #expect(replayed.status == 0, "\(replayed.stderr)")
            #expect(replayed.stdout.components(separatedBy: "\n- ").count - 1 >= 1, "\(replayed.stdout)")
        }
    }

    @Test("calibrate draws the geometry on a frame: the stop line red, the lanes green, the points with their errors")
    func calibrate() throws {
        try withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("overlay.jpg").path
            let result = try CLI.run(["calibrate", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path,
                                      Self.samples.appendingPathComponent("junction-day.mp4").path, "--out", out, "--at", "5"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("point 1: image (364.9, 603.0) world (7.00, 14.59) m: reprojection error 0.00 px"), "\(result.stdout)")
            // The renderer's camera (7.5 m up, a 1000 px lens, 13° down), recovered from the five ground points.
            #expect(result.stdout.contains("implied camera: 7.50 m above the road at (12.5, -0.0) m, focal length 1000 px, 13.0° below the horizon"),
                    "\(result.stdout)")
            let reader = try VideoReader(path: out)
            let frame = try #require(try reader.nextFrame())
            #expect(frame.width == 1280 && frame.height == 720)
            let picture = frame.picture()
            // The stop line (ground 7–14 m across at 38 m) is drawn red: high Cr along it.
            let config = try PipelineConfig.load(path: packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path)
            let line = try #require(config.redLight?.stopLine)
            let mid = Point2((line.a.x + line.b.x) / 2, (line.a.y + line.b.y) / 2)
            let cw = (picture.width + 1) / 2
            let cr = picture.planes[2][Int(mid.y / 2) * cw + Int(mid.x / 2)]
            #expect(cr > 170, "Cr \(cr) at the stop line")
            // A car-sized box in each lane, through the implied camera: each of the four lanes' nearest box is drawn
            // (its vertical edges, 1 px wide, lighter than the road beside them).
            let camera = try #require(ImpliedCamera(calibration: config.calibration, imageWidth: 1280, imageHeight: 720))
            var blank = Picture(width: 1280, height: 720, format: .yuv420p, fill: (60, 128, 128))
            CalibrationOverlay.drawReferenceCars(camera, lanes: config.lanes, calibration: config.calibration, on: &blank)
            for x0 in [0.0, 3.5, 7, 10.5] {
                // The sample's lanes run 5–88 m: the nearest box's rear at a fifth of that.
                let car = try #require(camera.vehicleBox(rear: Point2(x0 + 1.75, 5 + 0.2 * 83), heading: Point2(0, 1), length: 4.5, width: 1.8, height: 1.5))
                let corner = car.corners[1]  // rear, left side, roof
                let below = car.corners[0]   // rear, left side, road
                let mid = Point2((corner.x + below.x) / 2, (corner.y + below.y) / 2)
                let luma = (-1...1).map { blank.planes[0][Int(mid.y) * 1280 + Int(mid.x) + $0] }.max()!
                #expect(luma > 100, "lane from x \(x0): luma \(luma) on the box's edge at \(mid)")
            }
        }
    }

    @Test("validate: ok with the camera its calibration implies; a mis-measured distance the reprojection error cannot see is warned of; a bad file fails at its line")
    func validate() throws {
        try withTemporaryDirectory { dir in
            let junction = packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path
            let ok = try CLI.run(["validate", junction])
            #expect(ok.status == 0 && ok.stderr.isEmpty, "\(ok.stderr)")
            #expect(ok.stdout.contains("ok (camera sample-junction, 5 calibration points, reprojection error max 0.00 px, implied camera 7.5 m up, focal 1000 px, 13.0° down, 4 lanes"),
                    "\(ok.stdout)")
            // The far row of points taped at 28.7 m where it lies at 38.7 m: five points still fit a homography exactly
            // (0.00 px), but no camera over the road sees the road so. Speeds through it would be 26 % off.
            let text = try String(contentsOfFile: junction, encoding: .utf8)
                .replacingOccurrences(of: "38.7129]", with: "28.7129]")
                .replacingOccurrences(of: "../SampleVideo/", with: Self.samples.path + "/")
            let wrong = dir.appendingPathComponent("wrong.yaml").path
            try text.write(toFile: wrong, atomically: true, encoding: .utf8)
            let warned = try CLI.run(["validate", wrong])
            #expect(warned.status == 0, "a warning, not an error: \(warned.stderr)")
            #expect(warned.stdout.contains("reprojection error max 0.00 px, 4 lanes"), "\(warned.stdout)")
            #expect(warned.stderr.contains("\(wrong): warning: calibration: the calibration points imply no pinhole camera over one plane"), "\(warned.stderr)")
            let bad = dir.appendingPathComponent("bad.yaml").path
            try text.replacingOccurrences(of: "analysis_width:", with: "analysis_widht:").write(toFile: bad, atomically: true, encoding: .utf8)
            let failed = try CLI.run(["validate", bad])
            #expect(failed.status == 2, "\(failed.status)")
            #expect(failed.stderr.contains("\(bad):") && failed.stderr.contains("unknown key 'analysis_widht'"), "\(failed.stderr)")
        }
    }

    @Test("render writes an annotated video: every frame, the same size, a data bar burned in")
    func render() throws {
        try withTemporaryDirectory { dir in
            // 100 frames of the day junction.
            let source = try VideoReader(path: Self.samples.appendingPathComponent("junction-day.mp4").path)
            let clip = dir.appendingPathComponent("short.mp4").path
            let writer = try VideoWriter(path: clip, width: 1280, height: 720, settings: EncoderSettings(frameRate: FrameRate(25), quality: 18))
            while let frame = try source.nextFrame(), frame.index < 100 { try writer.write(frame.picture()) }
            try writer.finish()
            let out = dir.appendingPathComponent("annotated.mp4").path
            let result = try CLI.run(["render", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, clip, "--out", out])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("100 frames"), "\(result.stdout)")
            let reader = try VideoReader(path: out)
            var frames = 0
            while let frame = try reader.nextFrame() {
                frames += 1
                if frame.index == 50 {
                    // The data bar: the bottom rows are black with white text.
                    let picture = frame.picture()
                    let row = Array(picture.planes[0][(715 * 1280)..<(716 * 1280)])
                    #expect(row.filter { $0 < 40 }.count > 900, "the bar is dark")
                    let bar = Array(picture.planes[0][(700 * 1280)..<(712 * 1280)])
                    #expect(bar.filter { $0 > 200 }.count > 200, "the bar holds text")
                }
            }
            #expect(frames == 100)
        }
    }

    @Test("odd input names (spaces, quotes, non-ASCII) work and nothing is written outside the output folder; a signed run verifies, a changed run.json does not")
    func pathsAndSigning() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("night shift ü")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let odd = folder.appendingPathComponent("cam 'a' \"b\" ☃ ü.mp4").path
            let source = try VideoReader(path: Self.samples.appendingPathComponent("junction-day.mp4").path)
            let writer = try VideoWriter(path: odd, width: 1280, height: 720, settings: EncoderSettings(frameRate: FrameRate(25), quality: 18))
            while let frame = try source.nextFrame(), frame.index < 60 { try writer.write(frame.picture()) }
            try writer.finish()
            let keys = dir.appendingPathComponent("site").path
            #expect(try CLI.run(["keygen", "--out", keys]).status == 0)
            let out = dir.appendingPathComponent("out dir").path
            let result = try CLI.run(["run", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, odd, "--out", out, "--plain",
                                      "--sign-key", keys + ".key"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("done \(odd): 60 frames"), "\(result.stderr)")
            // Every file is inside the output folder, and per-input files have safe ASCII names.
            let files = FileManager.default.enumerator(atPath: out)!.compactMap { $0 as? String }
            for f in files {
                let full = URL(fileURLWithPath: out).appendingPathComponent(f).standardizedFileURL.path
                #expect(full.hasPrefix(URL(fileURLWithPath: out).standardizedFileURL.path + "/"), "\(full)")
            }
            let tracks = files.filter { $0.hasPrefix("tracks/") }
            #expect(!tracks.isEmpty && tracks.allSatisfy { $0.unicodeScalars.allSatisfy { $0.isASCII && $0 != "'" && $0 != "\"" && $0 != " " } }, "\(tracks)")
            let store = try Store(path: out + "/roadwatch.sqlite")
            #expect(try store.inputs().map(\.path) == [odd])

            let verified = try CLI.run(["verify", out, "--hashes-only", "--public-key", keys + ".pub"])
            #expect(verified.status == 0 && verified.stdout.contains("MATCH    run.json: signature valid"), "\(verified.stdout)\(verified.stderr)")
            var manifest = try Data(contentsOf: URL(fileURLWithPath: out + "/run.json"))
            manifest[manifest.count / 2] ^= 0x20
            try manifest.write(to: URL(fileURLWithPath: out + "/run.json"))
            let broken = try CLI.run(["verify", out, "--hashes-only", "--public-key", keys + ".pub"])
            #expect(broken.status == 4 && broken.stdout.contains("MISMATCH run.json: signature does not match"), "\(broken.stdout)\(broken.stderr)")
            // Cut short, run.json no longer parses: still a mismatch (status 4), named, not a crash.
            try manifest.prefix(manifest.count / 2).write(to: URL(fileURLWithPath: out + "/run.json"))
            let cut = try CLI.run(["verify", out, "--hashes-only"])
            #expect(cut.status == 4 && cut.stdout.contains("MISMATCH run.json: not a valid run summary"), "\(cut.stdout)\(cut.stderr)")
        }
    }

    @Test("bad inputs are named and the others processed; an output folder whose parent is missing fails before any work")
    func badInputsAndOutput() throws {
        try withTemporaryDirectory { dir in
            let text = dir.appendingPathComponent("notes.mp4").path
            try "not a video".write(toFile: text, atomically: true, encoding: .utf8)
            let pipeline = packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path
            let missing = dir.appendingPathComponent("nope/out").path
            let refused = try CLI.run(["run", pipeline, text, "--out", missing])
            #expect(refused.status == 5)
            #expect(refused.stderr.contains("error: \(missing): the parent folder"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: missing))

            let out = dir.appendingPathComponent("out").path
            let result = try CLI.run(["run", pipeline, text, dir.appendingPathComponent("absent.mp4").path, "--out", out, "--plain"])
            #expect(result.status == 3)
            #expect(result.stderr.contains("error: \(text): cannot open"), "\(result.stderr)")
            #expect(result.stderr.contains("absent.mp4: cannot open: No such file or directory"), "\(result.stderr)")
            let store = try Store(path: out + "/roadwatch.sqlite")
            let rows = try store.inputs()
            #expect(rows.count == 2 && rows.allSatisfy { $0.status == "failed" && $0.error != nil })

            let bad = dir.appendingPathComponent("bad.yaml").path
            try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: "grace_s: 0.3", with: "grace: 0.3")
                .write(toFile: bad, atomically: true, encoding: .utf8)
            let invalid = try CLI.run(["run", bad, "--out", out])
            #expect(invalid.status == 2)
            #expect(invalid.stderr.contains("error: rules.red_light.grace: unknown key 'grace'; did you mean 'grace_s'?"), "\(invalid.stderr)")
        }
    }
}
