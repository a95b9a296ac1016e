import Foundation
import Testing
import TrafficModel

struct SynthCommandTests {
    static let scene = """
        name: cli-scene
        seed: 9
        video: {width: 320, height: 180, fps: 25, duration_s: 2, bitrate_kbps: 800, start_time: "2026-05-01T06:00:00+02:00"}
        camera: {height_m: 7, tilt_deg: 13, focal_px: 260, x_m: 5}
        road: {lanes: [away, away], start_y_m: -20, length_m: 200, stop_line_y_m: 35}
        signal: {head_x: 250, head_y: 20, lamp_radius_px: 3, green_s: 1, amber_s: 1, red_s: 2}
        vehicles:
          - {type: car, lane: 1, speed_kmh: 50, enter_s: -1}
        """

    @Test("synth writes the video and its truth, and two runs give the same bytes")
    func synthTwice() throws {
        try withTemporaryDirectory { dir in
            let scenePath = dir.appendingPathComponent("cli-scene.yaml").path
            try Self.scene.write(toFile: scenePath, atomically: true, encoding: .utf8)
            var files: [Data] = []
            for run in ["a", "b"] {
                let out = dir.appendingPathComponent(run).path
                let result = try CLI.run(["synth", scenePath, "--out", out])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains("cli-scene: 50 frames"))
                files.append(try Data(contentsOf: URL(fileURLWithPath: out + "/cli-scene.mp4")))
                files.append(try Data(contentsOf: URL(fileURLWithPath: out + "/cli-scene.truth.json")))
            }
            #expect(files[0] == files[2], "the video differs between two runs")
            #expect(files[1] == files[3], "the truth differs between two runs")
            let probe = try CLI.run(["probe", "--json", dir.appendingPathComponent("a/cli-scene.mp4").path])
            #expect(probe.stdout.contains("\"creationTime\" : \"2026-05-01T04:00:00Z\""), "\(probe.stdout)")
            #expect(probe.stdout.contains("\"frameCount\" : 50"))
        }
    }

    @Test("a bad scene names the file and the problem; the status is 3")
    func badScene() throws {
        try withTemporaryDirectory { dir in
            let scenePath = dir.appendingPathComponent("bad.yaml").path
            try Self.scene.replacingOccurrences(of: "tilt_deg: 13", with: "tilt_deg: 95").write(toFile: scenePath, atomically: true, encoding: .utf8)
            let result = try CLI.run(["synth", scenePath, "--out", dir.path])
            #expect(result.status == 3)
            #expect(result.stderr.contains("error: \(scenePath): camera.tilt_deg: must look down, 1...89 degrees"), "\(result.stderr)")
        }
    }
}

struct ScoreCommandTests {
    @Test("score matches records against a rendered scene's truth and reports tracks")
    func scoreRenderedScene() throws {
        try withTemporaryDirectory { dir in
            let scene = SynthCommandTests.scene
                .replacingOccurrences(of: "green_s: 1, amber_s: 1, red_s: 2", with: "green_s: 5, amber_s: 1, red_s: 5, start_phase: red")
                .replacingOccurrences(of: "- {type: car, lane: 1, speed_kmh: 50, enter_s: -1}",
                                      with: "- {type: car, lane: 2, speed_kmh: 50, behaviour: ignore_signal, cross_stop_line_at_s: 1.2}")
            let scenePath = dir.appendingPathComponent("runner.yaml").path
            try scene.write(toFile: scenePath, atomically: true, encoding: .utf8)
            #expect(try CLI.run(["synth", scenePath, "--out", dir.path]).status == 0)
            let truthPath = dir.appendingPathComponent("cli-scene.truth.json").path
            let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
            let violations = try #require(truth["violations"] as? [[String: Any]])
            #expect(violations.count == 1)
            let t = try #require(violations.first?["time_s"] as? Double)
            let records = dir.appendingPathComponent("violations.jsonl").path
            try "{\"id\":\"a\",\"rule\":\"red_light\",\"pts_s\":\(t + 0.08),\"lane\":\"2\"}\n{\"id\":\"b\",\"rule\":\"red_light\",\"pts_s\":\(t + 0.3),\"lane\":\"2\"}\n"
                .write(toFile: records, atomically: true, encoding: .utf8)
            // Perfect tracks: the truth's own boxes, in MOT format.
            let tracks = dir.appendingPathComponent("tracks.csv").path
            try motRows(fromTruth: truth, identities: true).write(toFile: tracks, atomically: true, encoding: .utf8)

            let table = try CLI.run(["score", dir.path, truthPath, "--tracks", tracks])
            #expect(table.status == 0, "\(table.stderr)")
            let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("red_light") })
            #expect(line.contains("0.500") && line.contains("1.000"), "precision 0.5 (one duplicate), recall 1: \(line)")
            #expect(table.stdout.contains("red_light: false records b"))
            let json = try CLI.run(["score", "--json", records, truthPath, "--tracks", tracks])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let rules = try #require((report["violations"] as? [String: Any])?["rules"] as? [[String: Any]])
            let red = try #require(rules.first { $0["rule"] as? String == "red_light" })
            #expect(red["duplicates"] as? Int == 1 && red["recall"] as? Double == 1)
            let trackScore = try #require(report["tracks"] as? [String: Any])
            #expect(trackScore["idf1"] as? Double == 1 && trackScore["mota"] as? Double == 1)
            #expect(try CLI.run(["score", records, truthPath, "--lanes", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path])
                .stderr.contains("give --tracks too"))
        }
    }

    @Test("score --lanes scores tracks inside the pipeline's lanes too: the junction's truth as tracks, fewer boxes, still perfect")
    func lanes() throws {
        try withTemporaryDirectory { dir in
            let truthPath = packageRoot.appendingPathComponent("SampleVideo/junction-day.truth.json").path
            let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
            let tracks = dir.appendingPathComponent("tracks.csv").path
            try motRows(fromTruth: truth, identities: true).write(toFile: tracks, atomically: true, encoding: .utf8)
            let records = dir.appendingPathComponent("violations.jsonl").path
            try "".write(toFile: records, atomically: true, encoding: .utf8)
            let result = try CLI.run(["score", "--json", records, truthPath, "--tracks", tracks,
                                      "--lanes", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let whole = try #require(report["tracks"] as? [String: Any]), inLanes = try #require(report["tracksInLanes"] as? [String: Any])
            let wholeBoxes = try #require(whole["groundTruthBoxes"] as? Int), laneBoxes = try #require(inLanes["groundTruthBoxes"] as? Int)
            // The lanes reach 88 m; the truth follows vehicles to 200 m and onto the pavement's edge.
            #expect(laneBoxes > 0 && laneBoxes < wholeBoxes, "\(laneBoxes) of \(wholeBoxes)")
            #expect(inLanes["idf1"] as? Double == 1 && inLanes["mota"] as? Double == 1)
        }
    }
}

struct TrackCommandTests {
    @Test("track writes MOT tracks and the signal timeline that score can read")
    func trackRenderedScene() throws {
        try withTemporaryDirectory { dir in
            let scene = SynthCommandTests.scene
                .replacingOccurrences(of: "duration_s: 2", with: "duration_s: 8")
                .replacingOccurrences(of: "green_s: 1, amber_s: 1, red_s: 2", with: "green_s: 5, amber_s: 1, red_s: 5")
                .replacingOccurrences(of: "- {type: car, lane: 1, speed_kmh: 50, enter_s: -1}",
                                      with: "- {type: van, lane: 2, speed_kmh: 30, enter_s: 1.5, color: [150, 24, 28]}")
            let scenePath = dir.appendingPathComponent("track.yaml").path
            try scene.write(toFile: scenePath, atomically: true, encoding: .utf8)
            #expect(try CLI.run(["synth", scenePath, "--out", dir.path]).status == 0)
            let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cli-scene.truth.json"))) as? [String: Any])
            let lamps = try #require((truth["signal"] as? [String: Any])?["lamps"] as? [String: [Double]])
            let lampArguments = lamps.sorted { $0.key < $1.key }.flatMap { ["--lamp", "\($0.key):\($0.value[0]),\($0.value[1]),3"] }
            let result = try CLI.run(["track", dir.appendingPathComponent("cli-scene.mp4").path, "--out", dir.path] + lampArguments)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("cli-scene: 200 frames"))
            let signal = try String(contentsOf: dir.appendingPathComponent("cli-scene.signal.csv"), encoding: .utf8)
            #expect(signal.hasPrefix("phase,start_s,end_s\ngreen,0.0000,"))
            // Amber begins at 5 s and red at 6 s; onsets are read within one frame (0.04 s).
            let onsets = signal.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }.map { (String($0[0]), Double($0[1])!) }
            #expect(onsets.map(\.0) == ["green", "amber", "red"], "\(signal)")
            #expect(onsets.count == 3 && abs(onsets[1].1 - 5) <= 0.04 && abs(onsets[2].1 - 6) <= 0.04, "\(signal)")
            let tracks = try String(contentsOf: dir.appendingPathComponent("cli-scene.tracks.csv"), encoding: .utf8)
            #expect(!tracks.isEmpty)
            try "".write(to: dir.appendingPathComponent("violations.jsonl"), atomically: true, encoding: .utf8)
            let score = try CLI.run(["score", "--json", dir.path, dir.appendingPathComponent("cli-scene.truth.json").path,
                                     "--tracks", dir.appendingPathComponent("cli-scene.tracks.csv").path])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(score.stdout.utf8)) as? [String: Any])
            let idf1 = try #require((report["tracks"] as? [String: Any])?["idf1"] as? Double)
            #expect(idf1 > 0.6, "IDF1 \(idf1)")
        }
    }

    @Test("boxes from another detector (MOT CSV) are tracked instead of the motion detector's")
    func externalDetections() throws {
        try withTemporaryDirectory { dir in
            let scene = SynthCommandTests.scene.replacingOccurrences(of: "duration_s: 2", with: "duration_s: 4")
                .replacingOccurrences(of: "- {type: car, lane: 1, speed_kmh: 50, enter_s: -1}",
                                      with: "- {type: car, lane: 1, speed_kmh: 50, enter_s: -1}\n  - {type: van, lane: 2, speed_kmh: 40, enter_s: -0.5}")
            let scenePath = dir.appendingPathComponent("ext.yaml").path
            try scene.write(toFile: scenePath, atomically: true, encoding: .utf8)
            #expect(try CLI.run(["synth", scenePath, "--out", dir.path]).status == 0)
            let truthPath = dir.appendingPathComponent("cli-scene.truth.json").path
            // The truth's own boxes, as an upstream detector would give them, without identities.
            let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
            let detections = dir.appendingPathComponent("detections.csv").path
            try ("frame,id,x,y,w,h,conf\n" + motRows(fromTruth: truth, identities: false)).write(toFile: detections, atomically: true, encoding: .utf8)
            let result = try CLI.run(["track", dir.appendingPathComponent("cli-scene.mp4").path, "--out", dir.path, "--detections", detections])
            #expect(result.status == 0, "\(result.stderr)")
            try "".write(to: dir.appendingPathComponent("violations.jsonl"), atomically: true, encoding: .utf8)
            let score = try CLI.run(["score", "--json", dir.path, truthPath, "--tracks", dir.appendingPathComponent("cli-scene.tracks.csv").path])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(score.stdout.utf8)) as? [String: Any])
            let tracks = try #require(report["tracks"] as? [String: Any])
            #expect((tracks["idf1"] as? Double ?? 0) >= 0.95 && tracks["identitySwitches"] as? Int == 0, "\(tracks)")
        }
    }

    @Test("with a pipeline file first, track runs that camera's stages as run does: the same tracks, and its signal")
    func withPipeline() throws {
        try withTemporaryDirectory { dir in
            let footage = dir.appendingPathComponent("footage")
            try FileManager.default.createDirectory(at: footage, withIntermediateDirectories: true)
            try KillResumeTests.pieces(into: footage, ranges: [375..<625])
            let piece = footage.appendingPathComponent("piece-01.mp4").path
            let pipeline = dir.appendingPathComponent("junction.yaml").path
            try quickJunctionPipeline(width: 240).write(toFile: pipeline, atomically: true, encoding: .utf8)
            let tracked = try CLI.run(["track", pipeline, piece, "--out", dir.appendingPathComponent("track").path])
            #expect(tracked.status == 0, "\(tracked.stderr)")
            #expect(tracked.stdout.contains("piece-01: 250 frames"), "\(tracked.stdout)")
            let run = try CLI.run(["run", pipeline, piece, "--out", dir.appendingPathComponent("run").path, "--no-evidence", "--plain"])
            #expect(run.status == 0, "\(run.stderr)")
            let runTracks = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/tracks").path).filter { $0.hasSuffix(".mot.csv") }
            let expected = try Data(contentsOf: dir.appendingPathComponent("run/tracks/\(try #require(runTracks.first))"))
            let tracks = try Data(contentsOf: dir.appendingPathComponent("track/piece-01.tracks.csv"))
            #expect(!tracks.isEmpty && tracks == expected, "track and run must give the same tracks")
            // Without videos, the pipeline's own inputs (relative to the pipeline file), as run takes them.
            let own = dir.appendingPathComponent("own.yaml").path
            try String(contentsOfFile: pipeline, encoding: .utf8)
                .replacingOccurrences(of: "../SampleVideo/junction-day.mp4", with: "footage/piece-01.mp4")
                .write(toFile: own, atomically: true, encoding: .utf8)
            let ownInputs = try CLI.run(["track", own, "--out", dir.appendingPathComponent("own").path])
            #expect(ownInputs.status == 0 && ownInputs.stdout.contains("piece-01: 250 frames"), "\(ownInputs.stderr)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("own/piece-01.tracks.csv")) == expected)
            // A pipeline whose inputs match nothing: a warning naming the pattern, then one error, as run gives.
            let nothing = dir.appendingPathComponent("nothing.yaml").path
            try String(contentsOfFile: pipeline, encoding: .utf8)
                .replacingOccurrences(of: "../SampleVideo/junction-day.mp4", with: "footage/*.missing")
                .write(toFile: nothing, atomically: true, encoding: .utf8)
            for command in ["track", "run"] {
                let empty = try CLI.run([command, nothing, "--out", dir.appendingPathComponent("empty-\(command)").path])
                #expect(empty.status == 2 && empty.stderr.contains("footage/*.missing: no file matches this pattern") && empty.stderr.contains("error: no inputs: give footage on the command line or under inputs: in \(nothing)"), "\(command): \(empty.stderr)")
            }
            let none = try CLI.run(["track", "--out", dir.path])
            #expect(none.status == 64 && none.stderr.contains("Missing expected argument '<pipeline.yaml|video> ...'"), "\(none.stderr)")
            // The detector's boxes on request: as many as it reported, in the picture, confident and weak; the tracks unchanged.
            let withBoxes = try CLI.run(["track", pipeline, piece, "--out", dir.appendingPathComponent("boxes").path, "--write-detections", "--masks", "100", "180"])
            #expect(withBoxes.status == 0, "\(withBoxes.stderr)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("boxes/piece-01.tracks.csv")) == expected)
            let boxes = try MOTFile.read(dir.appendingPathComponent("boxes/piece-01.detections.csv").path)
            #expect(withBoxes.stdout.contains("250 frames, \(boxes.count) detections"), "\(withBoxes.stdout)")
            #expect(boxes.count > 500 && boxes.allSatisfy { $0.id == -1 && $0.box.x >= 0 && $0.box.maxX <= 1280 && $0.box.y >= 0 && $0.box.maxY <= 720 })
            #expect(boxes.contains { $0.confidence < Detection.weakConfidence } && boxes.contains { $0.confidence >= Detection.weakConfidence })
            #expect(boxes.map(\.frame) == boxes.map(\.frame).sorted() && boxes.first!.frame >= 1 && boxes.last!.frame <= 250)
            // The masks asked for, at the analysis scale (1280 / 6 wide): every confident box of the frame holds pixels
            // that decide boxes (255); joining pixels are 96; nothing else. The masks are the whole picture's: boxes
            // inside the detail region come from its own detector, whose background may differ (in frame 100 it has
            // learnt the ghost of a far, slow car from the warm-up, which the whole picture at 1/6 scale keeps, and sees
            // the car that follows over it).
            let detail = Box(x: 560, y: 140, width: 170, height: 90)
            for frame in [100, 180] {
                let pgm = try Data(contentsOf: dir.appendingPathComponent("boxes/piece-01.mask-\(frame).pgm"))
                let header = Data("P5\n213 120\n255\n".utf8)
                try #require(pgm.count == header.count + 213 * 120 && pgm.prefix(header.count) == header)
                let pixels = [UInt8](pgm.dropFirst(header.count))
                #expect(Set(pixels).isSubset(of: [0, 96, 255]) && pixels.contains(255))
                let confident = boxes.filter { $0.frame == frame && $0.confidence >= Detection.weakConfidence }
                    .filter { ($0.box.intersection(detail)?.area ?? 0) < 0.5 * $0.box.area }
                #expect(!confident.isEmpty)
                for row in confident {
                    let b = row.box
                    let rows = Int(b.y) / 6..<Int(b.maxY) / 6, columns = Int(b.x) / 6..<Int(b.maxX) / 6
                    var inside = false
                    for y in rows { for x in columns where pixels[y * 213 + x] == 255 { inside = true } }
                    #expect(inside, "no deciding pixel inside \(b) in frame \(frame)")
                }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("boxes").path).filter { $0.hasSuffix(".pgm") }.count == 2)
            let zero = try CLI.run(["track", pipeline, piece, "--out", dir.path, "--masks", "0"])
            #expect(zero.status == 64 && zero.stderr.contains("frames are numbered from 1"), "\(zero.stderr)")
            // A pipeline whose boxes come from another detector has no masks to show: refused, not silently skipped.
            let external = dir.appendingPathComponent("external.yaml").path
            try String(contentsOfFile: pipeline, encoding: .utf8)
                .replacingOccurrences(of: "\ndetection:\n", with: "\ndetection:\n  source: external\n  external_file: \(dir.appendingPathComponent("boxes/piece-01.detections.csv").path)\n")
                .write(toFile: external, atomically: true, encoding: .utf8)
            let noMasks = try CLI.run(["track", external, piece, "--out", dir.appendingPathComponent("external").path, "--masks", "100"])
            #expect(noMasks.status == 64 && noMasks.stderr.contains("detection.source: external"), "\(noMasks.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("external/piece-01.mask-100.pgm").path))
            // Without --masks the same pipeline runs on those boxes.
            let onBoxes = try CLI.run(["track", external, piece, "--out", dir.appendingPathComponent("external").path])
            #expect(onBoxes.status == 0, "\(onBoxes.stderr)")
            // The piece starts at 15 s, in red (8.98-20.98 s in the sample), and sees green at 20.98 s: 5.98 s in.
            let signal = try String(contentsOf: dir.appendingPathComponent("track/piece-01.signal.csv"), encoding: .utf8)
            let rows = signal.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
            #expect(rows.map { String($0[0]) } == ["red", "green"], "\(signal)")
            #expect(rows.count == 2 && abs(Double(rows[1][1])! - 5.98) <= 0.04, "\(signal)")
            // Options the pipeline carries are refused beside it.
            let both = try CLI.run(["track", pipeline, piece, "--out", dir.path, "--lamp", "red:1,2,3"])
            #expect(both.status == 64 && both.stderr.contains("set in the pipeline file"), "\(both.stderr)")
        }
    }

    @Test("a bad detections file or two videos for one file are usage errors")
    func badDetections() throws {
        try withTemporaryDirectory { dir in
            let bad = dir.appendingPathComponent("bad.csv").path
            try "1,1,10,20\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let one = try CLI.run(["track", "x.mp4", "--out", dir.path, "--detections", bad])
            #expect(one.status == 64 && one.stderr.contains("\(bad):1: expected frame,id,x,y,w,h"), "\(one.stderr)")
            let two = try CLI.run(["track", "x.mp4", "y.mp4", "--out", dir.path, "--detections", bad])
            #expect(two.status == 64 && two.stderr.contains("--detections belongs to one video"), "\(two.stderr)")
        }
    }

    @Test("bad lamp options are usage errors")
    func badLamp() throws {
        let result = try CLI.run(["track", "x.mp4", "--out", "/tmp", "--lamp", "purple:1,2,3"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--lamp 'purple:1,2,3': expected PHASE:X,Y,RADIUS"))
    }
}

/// The truth's per-frame boxes as MOT rows (frames from 1): with the truth's vehicle ids as perfect tracks, or
/// with id -1 as an upstream detector's boxes.
func motRows(fromTruth truth: [String: Any], identities: Bool) -> String {
    var mot = ""
    for v in (truth["vehicles"] as? [[String: Any]]) ?? [] {
        for f in (v["frames"] as? [[String: Any]]) ?? [] {
            let b = f["box"] as! [Double]
            let id = identities ? v["id"] as! Int : -1
            mot += "\(f["frame"] as! Int + 1),\(id),\(b[0]),\(b[1]),\(b[2]),\(b[3]),\(identities ? 1 : 0.9),-1,-1,-1\n"
        }
    }
    return mot
}
