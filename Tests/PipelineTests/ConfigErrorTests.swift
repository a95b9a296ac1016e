import Foundation
import Testing
import TrafficModel
@testable import Pipeline

/// A valid pipeline that the cases below break one way each.
let basePipeline = """
    version: 1
    camera:
      id: cam-1
      location: "Test junction"
      clock:
        source: creation_time
        utc_offset: "+01:00"
    inputs:
      - junction.mp4
    calibration:
      points:
        - {image: [364.925, 602.95], world: [7, 14.5929]}
        - {image: [799.441, 617.246], world: [14, 14.5929]}
        - {image: [396.78, 320.771], world: [0, 38.7129]}
        - {image: [569.802, 323.068], world: [7, 38.7129]}
    lanes:
      - {id: "3", polygon: {world: [[7, 5], [10.5, 5], [10.5, 88], [7, 88]]}}
      - {id: "4", polygon: [[600, 700], [900, 700], [700, 330], [640, 330]], exempt: [red_light]}
    detection:
      analysis_width: 480
      sensitivity: 3.5
    tracking:
      confirm_hits: 3
      max_coast_s: 1.0
    signal:
      lamps:
        red: [971.7, 81.7]
        amber: [971.7, 104.2]
        green: [971.7, 126.7]
        radius: 9
    rules:
      speeding:
        limit_kmh: 50
        tolerance_percent: 10
        tolerance_kmh: 3
        entry: {world: [[7, 20], [14, 20]]}
        exit: {world: [[7, 36], [14, 36]]}
        bands:
          - {band: "A", from_kmh: 0}
          - {band: "B", from_kmh: 20}
      red_light:
        stop_line: {world: [[7, 38], [14, 38]]}
        approach: away
        grace_s: 0.3
        min_speed_kmh: 10
    dedup:
      window_s: 2
    evidence:
      clip_before_s: 2
      clip_after_s: 2

    """

struct ConfigErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        /// Replace this text of the base ...
        var old: String
        /// ... with this.
        var new: String
        /// The error's key path and message, exactly.
        var keyPath: String
        var message: String
        /// The error points at the first character of this text (on the first line holding it after the change).
        var anchor: String
        /// ... plus this many characters.
        var at = 0
        var testDescription: String { "\(keyPath): \(message)" }
    }

    static let cases: [Case] = [
        Case(old: "version: 1", new: "version: 2", keyPath: "version", message: "this Roadwatch reads version 1 pipelines, not 2", anchor: "2"),
        Case(old: "version: 1\n", new: "", keyPath: "", message: "missing required key 'version' (write version: 1)", anchor: "camera:"),
        Case(old: "  id: cam-1", new: "  idd: cam-1", keyPath: "camera.idd", message: "unknown key 'idd'; did you mean 'id'?", anchor: "idd"),
        Case(old: "  id: cam-1", new: "  id: cam/1", keyPath: "camera.id", message: "use letters, digits, '-', '_' and '.' only (it names files)", anchor: "cam/1"),
        Case(old: "source: creation_time", new: "source: creation_tme", keyPath: "camera.clock.source",
             message: "'creation_tme' is not one of creation_time, file_name, fixed; did you mean 'creation_time'?", anchor: "creation_tme"),
        Case(old: "utc_offset: \"+01:00\"", new: "utc_offset: \"+1h\"", keyPath: "camera.clock.utc_offset", message: "expected +HH:MM or -HH:MM, found '+1h'", anchor: "\"+1h\""),
        Case(old: "source: creation_time", new: "source: fixed", keyPath: "camera.clock", message: "missing required key 'start' (ISO 8601 time of the first frame)", anchor: "source: fixed"),
        Case(old: "    - {image: [569.802, 323.068], world: [7, 38.7129]}\n", new: "", keyPath: "calibration.points[0]",
             message: "degenerate calibration: a calibration needs at least 4 points, not 3 (points counted from 1)", anchor: "{image: [364.925"),
        Case(old: "world: [0, 38.7129]}", new: "world: [0, 14.5929]}", keyPath: "calibration.points[0]",
             message: "degenerate calibration: ground points 1, 2 and 3 lie on one line; with four points no three may (points counted from 1)", anchor: "{image: [364.925"),
        Case(old: "{image: [799.441, 617.246], world: [14, 14.5929]}", new: "{image: [364.925, 602.95], world: [14, 14.5929]}", keyPath: "calibration.points[0]",
             message: "degenerate calibration: points 1 and 2 are the same image point (364.925, 602.95) (points counted from 1)", anchor: "{image: [364.925, 602.95], world: [7"),
        Case(old: "{image: [364.925, 602.95], world: [7, 14.5929]}", new: "{image: [364.925], world: [7, 14.5929]}", keyPath: "calibration.points[0].image",
             message: "expected a point [x, y], found 1 number", anchor: "[364.925]"),
        Case(old: "lanes:\n  - {id: \"3\"", new: "lanes:\n  - {id: \"4\"", keyPath: "lanes[1].id", message: "lane id '4' is already used by lanes[0]", anchor: "\"4\", polygon: [[600"),
        Case(old: "exempt: [red_light]", new: "exempt: [red_lite]", keyPath: "lanes[1].exempt[0]",
             message: "'red_lite' is not one of red_light, speeding; did you mean 'red_light'?", anchor: "red_lite"),
        Case(old: "polygon: [[600, 700], [900, 700], [700, 330], [640, 330]]", new: "polygon: [[600, 700], [900, 700]]", keyPath: "lanes[1].polygon",
             message: "expected at least 3 points, found 2", anchor: "[[600, 700], [900"),
        Case(old: "analysis_width: 480", new: "analysis_width: 10", keyPath: "detection.analysis_width", message: "10 px is out of range 64...3840 px", anchor: "analysis_width: 10", at: 16),
        Case(old: "sensitivity: 3.5", new: "sensitivity: high", keyPath: "detection.sensitivity",
             message: "expected a number in standard deviations, found 'high'", anchor: "high"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  shadow_background: 300", keyPath: "detection.shadow_background",
             message: "300 levels is out of range 0...256 levels", anchor: "shadow_background: 300", at: 19),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  source: external\n  external_file: \"{dir}/{stme}.mot.csv\"",
             keyPath: "detection.external_file",
             message: "unknown placeholder '{stme}'; one of {dir}, {name}, {stem}; did you mean '{stem}'?", anchor: "\"{dir}/{stme}"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  light: nigth", keyPath: "detection.light",
             message: "'nigth' is not one of auto, day, dusk, night; did you mean 'night'?", anchor: "nigth"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  min_difference: 2", keyPath: "detection.min_difference",
             message: "2 levels is out of range 4...64 levels", anchor: "min_difference: 2", at: 16),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  min_area_px: 12.5", keyPath: "detection.min_area_px",
             message: "expected a whole number of px, found 12.5", anchor: "12.5"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  ignore: [[0, 0, 40, 20], [10, 10, -5, 20]]", keyPath: "detection.ignore[1]",
             message: "expected a box [x, y, width, height] with a positive size", anchor: "[10, 10, -5, 20]"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  ignore: [[0, 0, 40, wide]]", keyPath: "detection.ignore[0][3]",
             message: "expected a number in px, found 'wide'", anchor: "wide"),
        Case(old: "sensitivity: 3.5", new: "sensitivity: 3.5\n  detail_region: [560, 140, 170]", keyPath: "detection.detail_region",
             message: "expected a box [x, y, width, height] at least 16 px each way", anchor: "[560, 140, 170]"),
        Case(old: "confirm_hits: 3", new: "confirm_hits: 2.5", keyPath: "tracking.confirm_hits", message: "expected a whole number of frames, found 2.5", anchor: "2.5"),
        Case(old: "max_coast_s: 1.0", new: "max_coast: 1.0", keyPath: "tracking.max_coast", message: "unknown key 'max_coast'; did you mean 'max_coast_s'?", anchor: "max_coast"),
        Case(old: "max_coast_s: 1.0", new: "max_coast_s: 1.0\n  ground_plane: maybe", keyPath: "tracking.ground_plane", message: "expected true or false, found 'maybe'", anchor: "maybe"),
        Case(old: "    radius: 9\n", new: "", keyPath: "signal.lamps", message: "missing required key 'radius' (lamp radius in pixels)", anchor: "red: [971.7"),
        Case(old: "limit_kmh: 50", new: "limit_kmh: 50 km/h", keyPath: "rules.speeding.limit_kmh", message: "write the number alone ('50'); the unit is km/h", anchor: "50 km/h"),
        Case(old: "limit_kmh: 50", new: "limit_kmh: 500", keyPath: "rules.speeding.limit_kmh", message: "500 km/h is out of range 5...300 km/h", anchor: "500"),
        Case(old: "exit: {world: [[7, 36], [14, 36]]}", new: "exit: {world: [[7, 22], [14, 22]]}", keyPath: "rules.speeding.exit",
             message: "the zone's lines are 2.0 m apart on the ground; at least 5 m are needed for a measurement", anchor: "{world: [[7, 22]"),
        Case(old: "{band: \"B\", from_kmh: 20}", new: "{band: \"B\", from_kmh: 0}", keyPath: "rules.speeding.bands[1].from_kmh",
             message: "bands must rise: 0 km/h is not above the previous band's 0", anchor: "\"B\", from_kmh: 0}", at: 15),
        Case(old: "approach: away", new: "approach: north", keyPath: "rules.red_light.approach", message: "'north' is not one of away, toward", anchor: "north"),
        Case(old: "stop_line: {world: [[7, 38], [14, 38]]}", new: "stop_line: {world: [[7, 38], [7, 38]]}", keyPath: "rules.red_light.stop_line",
             message: "the line's two points are the same", anchor: "{world: [[7, 38], [7"),
        Case(old: "stop_line: {world: [[7, 38], [14, 38]]}", new: "stop_line: {world: [[7, 38], [14, 38]], image: [[1, 2], [3, 4]]}",
             keyPath: "rules.red_light.stop_line", message: "give either image or world, not both", anchor: "{world: [[7, 38], [14, 38]], image"),
        Case(old: "grace_s: 0.3", new: "grace_s: [0.3]", keyPath: "rules.red_light.grace_s", message: "expected a number in s, found a list", anchor: "[0.3]"),
        Case(old: "window_s: 2", new: "window_s: -1", keyPath: "dedup.window_s", message: "-1 s is out of range 0...60 s", anchor: "window_s: -1", at: 10),
        Case(old: "clip_before_s: 2", new: "clip_befor_s: 2", keyPath: "evidence.clip_befor_s", message: "unknown key 'clip_befor_s'; did you mean 'clip_before_s'?", anchor: "clip_befor_s"),
        Case(old: "dedup:", new: "dedupe:", keyPath: "dedupe", message: "unknown key 'dedupe'; did you mean 'dedup'?", anchor: "dedupe"),
        Case(old: "signal:\n  lamps:", new: "signal:\n  lamp:", keyPath: "signal.lamp", message: "unknown key 'lamp'; did you mean 'lamps'?", anchor: "lamp:"),
        Case(old: "  window_s: 2", new: "  window_s: 2\n  window_s: 3", keyPath: "", message: "key 'window_s' appears more than once in this mapping", anchor: "window_s: 2"),
    ]

    @Test("each bad pipeline gives its exact message at its exact position", arguments: cases)
    func badConfig(_ c: Case) throws {
        #expect(basePipeline.contains(c.old), "the case's text is not in the base")
        let text = basePipeline.replacingOccurrences(of: c.old, with: c.new)
        do {
            _ = try PipelineConfig.parse(text: text, path: "cam.yaml")
            Issue.record("no error for \(c.keyPath)")
        } catch let errors as ConfigErrors {
            let d = try #require(errors.diagnostics.first { $0.keyPath == c.keyPath && $0.message == c.message },
                                 "got: \(errors.diagnostics.map(\.headline))")
            // The expected position: the anchor's first character, on the first line holding it (after the changed text's start).
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let lineIndex = try #require(lines.firstIndex { $0.contains(c.anchor) })
            let column = lines[lineIndex].distance(from: lines[lineIndex].startIndex, to: lines[lineIndex].range(of: c.anchor)!.lowerBound) + 1 + c.at
            #expect(d.line == lineIndex + 1 && d.column == column, "\(d.headline)\n\(d.snippet)")
            #expect(d.headline == "cam.yaml:\(lineIndex + 1):\(column): error: \(c.keyPath.isEmpty ? "" : c.keyPath + ": ")\(c.message)")
            // The snippet repeats the line and puts a caret under the column.
            let snippet = d.snippet.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(snippet.count == 2 && String(snippet[0]) == lines[lineIndex] && snippet[1].count == column && snippet[1].hasSuffix("^"))
        }
    }

    @Test("the cases are distinct and there are at least 25")
    func enough() {
        #expect(Set(Self.cases.map(\.testDescription)).count == Self.cases.count)
        #expect(Self.cases.count >= 25)
    }

    @Test("all errors are reported, not just the first")
    func allErrors() throws {
        let text = basePipeline.replacingOccurrences(of: "limit_kmh: 50", with: "limit_kmh: 500")
            .replacingOccurrences(of: "approach: away", with: "approach: north")
            .replacingOccurrences(of: "window_s: 2", with: "windowsize: 2")
        do {
            _ = try PipelineConfig.parse(text: text, path: "cam.yaml")
            Issue.record("no error")
        } catch let errors as ConfigErrors {
            #expect(errors.diagnostics.map(\.keyPath) == ["rules.speeding.limit_kmh", "rules.red_light.approach", "dedup.windowsize"])
        }
    }

    @Test("the base pipeline, the samples and the template are valid")
    func valid() throws {
        let config = try PipelineConfig.parse(text: basePipeline, path: "cam.yaml")
        #expect(config.camera.id == "cam-1" && config.camera.utcOffsetSeconds == 3600)
        #expect(config.lanes.map(\.id) == ["3", "4"] && config.lanes[1].exempt == [.redLight])
        #expect(abs(config.speeding!.thresholdKmh - 58) < 1e-9)
        #expect(config.redLight?.approach == .away)
        // World geometry lands where the calibration puts it.
        let stop = try #require(config.redLight?.stopLine)
        let a = try #require(config.calibration.world(stop.a))
        #expect(abs(a.x - 7) < 1e-6 && abs(a.y - 38) < 1e-6)
        #expect(!config.tracking.groundPlane, "ground-plane tracking is off unless asked for")
        let ground = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "max_coast_s: 1.0", with: "max_coast_s: 1.0\n  ground_plane: true"), path: "cam.yaml")
        #expect(ground.tracking.groundPlane)
        #expect(config.tracking.backwardPass, "the backward pass is on unless turned off")
        let forwardOnly = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "max_coast_s: 1.0", with: "max_coast_s: 1.0\n  backward_pass: false"), path: "cam.yaml")
        #expect(!forwardOnly.tracking.backwardPass)
        #expect(config.detectorOptions.shadowBackground == 256, "shadows stay in boxes unless asked for")
        let shadows = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  shadow_background: 130"), path: "cam.yaml")
        #expect(shadows.detectorOptions.shadowBackground == 130)
        #expect(config.detectorOptions.minimumArea == 20, "the default smallest blob")
        let area = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  min_area_px: 80"), path: "cam.yaml")
        #expect(area.detectorOptions.minimumArea == 80)
        #expect(config.detectorOptions.minimumDifference == 16, "the default floor")
        let floor = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  min_difference: 11"), path: "cam.yaml")
        #expect(floor.detectorOptions.minimumDifference == 11)
        #expect(config.detectorOptions.light == .auto, "the light is judged each frame unless fixed")
        let day = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  light: day"), path: "cam.yaml")
        #expect(day.detectorOptions.light == .day)
        let boxes = try PipelineConfig.parse(text: basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  ignore: [[0, 0, 40, 20], [-10, 5, 30, 30]]\n  detail_region: [560, 140, 170, 90]"), path: "cam.yaml")
        #expect(boxes.detection.ignore == [Box(x: 0, y: 0, width: 40, height: 20), Box(x: -10, y: 5, width: 30, height: 30)])
        #expect(boxes.detection.detailRegion == Box(x: 560, y: 140, width: 170, height: 90))
        for file in ["sample-junction.yaml", "sample-junction-night.yaml", "sample-highway.yaml", "TEMPLATE.yaml"] {
            _ = try PipelineConfig.load(path: repositoryRoot + "/Pipelines/" + file)
        }
    }

    @Test("YAML syntax errors keep their position")
    func syntax() {
        do {
            _ = try PipelineConfig.parse(text: "version: 1\ncamera: {id: [x\n", path: "bad.yaml")
            Issue.record("no error")
        } catch let errors as ConfigErrors {
            #expect(errors.diagnostics.count == 1)
            #expect(errors.diagnostics[0].headline.hasPrefix("bad.yaml:3:1: error: YAML: "), "\(errors.diagnostics[0].headline)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("lines and regions outside the picture are caught when the video size is known")
    func outsidePicture() throws {
        let text = basePipeline.replacingOccurrences(of: "red: [971.7, 81.7]", with: "red: [1971.7, 81.7]")
        let config = try PipelineConfig.parse(text: text, path: "cam.yaml")
        let problems = config.checkAgainstPicture(width: 1280, height: 720, video: "junction.mp4")
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("red: [1971.7") }! + 1
        #expect(problems.map(\.headline) == ["cam.yaml:\(line):10: error: signal.lamps.red: point (1971.7, 81.7) is outside the 1280x720 picture of junction.mp4"])
        #expect(try PipelineConfig.parse(text: basePipeline, path: "cam.yaml").checkAgainstPicture(width: 1280, height: 720, video: "junction.mp4").isEmpty)
        // A detail region off the picture (written for another camera's size) is named too; one inside is fine.
        let far = basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  detail_region: [1400, 140, 170, 90]")
        let farLine = far.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("detail_region") }! + 1
        #expect(try PipelineConfig.parse(text: far, path: "cam.yaml").checkAgainstPicture(width: 1280, height: 720, video: "junction.mp4").map(\.headline)
                == ["cam.yaml:\(farLine):18: error: detection.detail_region: the region lies wholly outside the 1280x720 picture of junction.mp4"])
        let inside = basePipeline.replacingOccurrences(of: "sensitivity: 3.5", with: "sensitivity: 3.5\n  detail_region: [560, 140, 170, 90]")
        let detailed = try PipelineConfig.parse(text: inside, path: "cam.yaml")
        #expect(detailed.checkAgainstPicture(width: 1280, height: 720, video: "junction.mp4").isEmpty)
        #expect(detailed.detectorOptions.detailRegion == Box(x: 560, y: 140, width: 170, height: 90))
    }
}

/// The repository's root folder (for the samples and the built binary).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
