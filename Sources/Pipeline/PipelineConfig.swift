import Crypto
import Detection
import Foundation
import Rules
import TrafficModel
import Tracking
import Yams

/// Where a video's wall-clock start comes from.
public enum ClockSource: Sendable, Equatable {
    /// The container's `creation_time` (UTC, as cameras and FFmpeg write it).
    case creationTime
    /// Parsed from the file name with a pattern of %Y %m %d %H %M %S (local time at the camera's UTC offset).
    case fileName(pattern: String)
    /// One fixed start for every input (ISO 8601).
    case fixed(Date)
}

/// A line given in the config, resolved to the image, with where it was written.
public struct PlacedLine: Sendable, Equatable {
    public var image: Segment
    public var line: Int
    public var column: Int
    public var keyPath: String
}

/// A lane's image bounds, with where it was written.
public struct PlacedArea: Sendable, Equatable {
    /// What it is, for messages ("polygon", "region").
    public var noun: String
    public var bounds: Box
    public var line: Int
    public var column: Int
    public var keyPath: String
}

/// A pipeline file (`version: 1`), read and checked: every key in docs/pipeline-config.md.
public struct PipelineConfig: Sendable {
    public static let version = 1

    public struct Camera: Sendable, Equatable {
        public var id: String
        public var location: String?
        public var clock: ClockSource
        public var utcOffsetSeconds: Int
    }
    public struct DetectionSettings: Sendable, Equatable {
        public var analysisWidth = 480
        public var sensitivity = 3.5
        public var minimumVehicleWidthM = 0.5
        /// Blobs wider on the ground are vehicles side by side, cut apart (MotionDetectorOptions.maximumVehicleWidthM).
        public var maximumVehicleWidthM = MotionDetectorOptions().maximumVehicleWidthM
        /// Shadows are left out of boxes over backgrounds at least this bright (MotionDetectorOptions.shadowBackground).
        public var shadowBackground = MotionDetectorOptions().shadowBackground
        /// Smaller blobs, in analysis pixels, are not vehicles; they only continue tracks (MotionDetectorOptions.minimumArea).
        public var minimumArea = MotionDetectorOptions().minimumArea
        /// 8-bit levels a pixel must differ from the background by at least (MotionDetectorOptions.minimumDifference).
        public var minimumDifference = MotionDetectorOptions().minimumDifference
        /// The scene's light, judged each frame (`auto`) or fixed (MotionDetectorOptions.light).
        public var light = SceneLight.auto
        public var ignore: [Box] = []
        /// Also analysed unshrunk (MotionDetectorOptions.detailRegion).
        public var detailRegion: Box?
        /// The upstream detector's boxes (`source: external`): one file, or a pattern that names each input's own
        /// (`ExternalFilePattern`: `{dir}`, `{name}`, `{stem}` of the input). Relative to the pipeline's folder
        /// unless it starts with `/` or `{dir}`.
        public var externalFile: String?
        /// Where `external_file` stands in the pipeline file, for the check against the inputs (`checkAgainstInputs`).
        public var externalFileLine = 1, externalFileColumn = 1
        public var minimumConfidence = 0.0

        /// The boxes file of one input: `externalFile` with the input's placeholders filled in (nil for the motion
        /// detector).
        public func externalFile(for input: String) -> String? {
            externalFile.map { ExternalFilePattern.expand($0, input: input) }
        }
        /// Decode for analysis without the in-loop deblocking filter (VideoIO `DecodeOptions.forAnalysis`).
        public var fastDecode = true
    }
    public struct TrackingSettings: Sendable, Equatable {
        public var confirmHits = 3
        public var maxCoastSeconds = 1.0
        public var minimumIoU = 0.1
        /// Kalman filters on the ground plane (bottom centre in metres) rather than in the picture.
        public var groundPlane = false
        /// The detections tracked again from the last frame back, extending tracks back in time (`BackwardPass`).
        public var backwardPass = true
    }
    public enum SignalSource: Sendable, Equatable {
        case lamps([LampRegion])
        case controllerLog(String)
    }
    public struct EvidenceSettings: Sendable, Equatable {
        public var stills = true
        public var clip = true
        public var clipBeforeSeconds = 2.0
        public var clipAfterSeconds = 2.0
        public var jpegQuality = 3
    }

    /// The file as given, its folder (inputs are relative to it), its text and the text's SHA-256.
    public var path: String
    public var directory: String
    public var text: String
    public var sha256: String

    public var camera: Camera
    /// Files, folders and globs, relative to the config's folder.
    public var inputs: [String]
    public var calibration: Calibration
    public var lanes: [Lane]
    public var detection = DetectionSettings()
    public var tracking = TrackingSettings()
    public var signal: SignalSource?
    public var speeding: SpeedingRule?
    public var redLight: RedLightRule?
    public var dedupWindowSeconds = 2.0
    public var evidence = EvidenceSettings()
    /// Every line's points and lamp centre, and every lane's bounds, for the check against the picture size.
    public var placedLines: [PlacedLine] = []
    public var placedAreas: [PlacedArea] = []

    /// The rules for footage `pictureWidth` pixels wide: box edges from the motion detector move in steps of one
    /// analysis pixel (4 px at 1920 → 480); their standard deviation is taken as half a step (at least 1 px), which
    /// the speed uncertainty starts from. (Measured on the motorway sample: |error| ≤ 2 km/h where this gives
    /// a 2σ uncertainty of 3–4 km/h.)
    public func ruleSet(pictureWidth: Int) -> RuleSet {
        var r = RuleSet(calibration: calibration, lanes: lanes, speeding: speeding, redLight: redLight, dedupWindowSeconds: dedupWindowSeconds)
        if detection.externalFile == nil {
            r.boxJitterPixels = max(1, 0.5 * (Double(pictureWidth) / Double(detection.analysisWidth)).rounded(.up))
        }
        return r
    }

    public var trackerOptions: TrackerOptions {
        var o = TrackerOptions()
        o.confirmHits = tracking.confirmHits
        o.maxCoastSeconds = tracking.maxCoastSeconds
        o.minimumIoU = tracking.minimumIoU
        o.maximumVehicleWidthM = detection.maximumVehicleWidthM
        o.wholeDetections = detection.externalFile != nil
        return o
    }

    public var detectorOptions: MotionDetectorOptions {
        var o = MotionDetectorOptions()
        o.analysisWidth = detection.analysisWidth
        o.sigmas = detection.sensitivity
        o.shadowBackground = detection.shadowBackground
        o.light = detection.light
        o.minimumArea = detection.minimumArea
        o.minimumDifference = detection.minimumDifference
        o.calibration = calibration
        o.maximumVehicleWidthM = detection.maximumVehicleWidthM
        var ignore = detection.ignore
        if case .lamps(let lamps)? = signal { ignore += lamps.map(\.surroundings) }
        o.ignore = ignore
        o.detailRegion = detection.detailRegion
        return o
    }

    /// Problems that need the picture size: lines and polygons outside the image, and lamps outside it.
    public func checkAgainstPicture(width: Int, height: Int, video: String) -> [ConfigDiagnostic] {
        var out: [ConfigDiagnostic] = []
        let margin = 2.0
        for l in placedLines {
            for p in [l.image.a, l.image.b] where p.x < -margin || p.y < -margin || p.x > Double(width) + margin || p.y > Double(height) + margin {
                out.append(ConfigDiagnostic(file: path, text: text, line: l.line, column: l.column, keyPath: l.keyPath,
                                            message: "point (\(fmt(p.x)), \(fmt(p.y))) is outside the \(width)x\(height) picture of \(video)"))
                break
            }
        }
        for a in placedAreas where a.bounds.clipped(width: Double(width), height: Double(height)) == nil {
            out.append(ConfigDiagnostic(file: path, text: text, line: a.line, column: a.column, keyPath: a.keyPath,
                                        message: "the \(a.noun) lies wholly outside the \(width)x\(height) picture of \(video)"))
        }
        return out
    }

    /// What the pipeline cannot do with these inputs (before any work): one upstream detector's file named for
    /// several inputs would give every input the same boxes, and records of vehicles that were never there.
    public func checkAgainstInputs(_ inputs: [String]) -> [ConfigDiagnostic] {
        guard let file = detection.externalFile, !ExternalFilePattern.isPattern(file) else { return [] }
        let distinct = Set(inputs).count
        guard distinct > 1 else { return [] }
        return [ConfigDiagnostic(file: path, text: text, line: detection.externalFileLine, column: detection.externalFileColumn,
                                 keyPath: "detection.external_file",
                                 message: "names one file of boxes for \(distinct) inputs, so every input would be given the same boxes; "
                                     + "name each input's own with {dir}, {name} or {stem}, e.g. \"{dir}/{stem}.mot.csv\"")]
    }

    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// `detection.external_file` as a pattern: each input's own file of boxes, named from the input's path.
/// `{dir}` is the input's folder, `{name}` its file name and `{stem}` its name without the extension: for
/// `/footage/cam7/0300.mp4`, `{dir}/{stem}.mot.csv` is `/footage/cam7/0300.mot.csv`.
public enum ExternalFilePattern {
    public static let placeholders = ["dir", "name", "stem"]

    /// The `{...}` names in `pattern`, in order.
    public static func names(in pattern: String) -> [String] {
        var out: [String] = []
        var rest = pattern[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    public static func isPattern(_ pattern: String) -> Bool { !names(in: pattern).isEmpty }

    public static func expand(_ pattern: String, input: String) -> String {
        let name = (input as NSString).lastPathComponent
        let dir = (input as NSString).deletingLastPathComponent
        return pattern.replacingOccurrences(of: "{dir}", with: dir.isEmpty ? "." : dir)
            .replacingOccurrences(of: "{name}", with: name)
            .replacingOccurrences(of: "{stem}", with: (name as NSString).deletingPathExtension)
    }
}

extension PipelineConfig {
    static let topKeys = ["version", "camera", "inputs", "calibration", "lanes", "detection", "tracking", "signal", "rules", "dedup", "evidence", "output"]

    /// Reads and checks a pipeline file; throws `ConfigErrors` with every problem found.
    public static func load(path: String) throws -> PipelineConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigErrors(diagnostics: [ConfigDiagnostic(file: path, text: "", line: 1, column: 1, keyPath: "",
                                                              message: "cannot read: \((error as NSError).localizedDescription)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(diagnostics: [ConfigDiagnostic(file: path, text: "", line: 1, column: 1, keyPath: "", message: "not UTF-8 text")])
        }
        return try parse(text: text, path: path)
    }

    public static func parse(text: String, path: String) throws -> PipelineConfig {
        let reader = ConfigReader(file: path, text: text)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigErrors(diagnostics: [yamlDiagnostic(error, path: path, text: text)])
        } catch {
            throw ConfigErrors(diagnostics: [ConfigDiagnostic(file: path, text: text, line: 1, column: 1, keyPath: "", message: "\(error)")])
        }
        guard let root, let top = reader.map(root, "", keys: topKeys) else {
            if root == nil { reader.error(at: nil, "", "the file is empty; a pipeline needs at least version, camera, calibration and inputs") }
            throw ConfigErrors(diagnostics: reader.diagnostics)
        }
        let config = build(reader, top, text: text, path: path)
        if !reader.diagnostics.isEmpty || config == nil {
            throw ConfigErrors(diagnostics: reader.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return config!
    }

    static func yamlDiagnostic(_ error: YamlError, path: String, text: String) -> ConfigDiagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigDiagnostic(file: path, text: text, line: mark.line, column: mark.column, keyPath: "", message: "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigDiagnostic(file: path, text: text, line: context.mark.line, column: context.mark.column, keyPath: "",
                                    message: "key '\(duplicates.first ?? "?")' appears more than once in this mapping")
        case .reader(let problem, _, _, _):
            return ConfigDiagnostic(file: path, text: text, line: 1, column: 1, keyPath: "", message: "YAML: \(problem)")
        default:
            return ConfigDiagnostic(file: path, text: text, line: 1, column: 1, keyPath: "", message: "YAML: \(error)")
        }
    }

    // MARK: - Sections

    private static func build(_ r: ConfigReader, _ top: ConfigReader.Map, text: String, path: String) -> PipelineConfig? {
        if let v = r.required(top, "version", "write version: 1") {
            if let n = r.integer(v, "version", 0...1_000_000, unit: "") , n != version {
                r.error(v, "version", "this Roadwatch reads version \(version) pipelines, not \(n)")
            }
        }
        let camera = readCamera(r, r.map(r.required(top, "camera"), "camera", keys: ["id", "location", "clock"]))
        let inputs = readInputs(r, top["inputs"])
        let calibration = readCalibration(r, r.map(r.required(top, "calibration"), "calibration", keys: ["points"]))
        var placed: [PlacedLine] = []
        var placedAreas: [(Box, Int, Int, String, String)] = []
        // Geometry: a list of points is in the image; {world: [...]} is on the ground (metres), mapped through the calibration.
        func geometry(_ node: Node?, _ p: String, count: ClosedRange<Int>) -> [Point2]? {
            guard let node else { return nil }
            var pointsNode = node, world = false
            if node.mapping != nil {
                guard let m = r.map(node, p, keys: ["image", "world"]) else { return nil }
                if m["image"] != nil && m["world"] != nil {
                    r.error(node, p, "give either image or world, not both")
                    return nil
                }
                guard let inner = m["image"] ?? m["world"] else {
                    r.error(node, p, "expected image: [[x, y], ...] (pixels) or world: [[x, y], ...] (metres)")
                    return nil
                }
                pointsNode = inner
                world = m["world"] != nil
            }
            guard let ps = r.points(pointsNode, p, count: count) else { return nil }
            func place(_ image: [Point2]) {
                if count.upperBound == 2 {
                    // Lines must lie in the picture, point by point.
                    for (i, q) in image.enumerated() {
                        let n = pointsNode.sequence.map { Array($0) }?[i]
                        placed.append(PlacedLine(image: Segment(q, q), line: n?.mark?.line ?? 1, column: n?.mark?.column ?? 1, keyPath: "\(p)[\(i)]"))
                    }
                } else if let b = Box(bounding: image) {
                    // A lane may run out of the picture, but not lie wholly outside it.
                    placedAreas.append((b, node.mark?.line ?? 1, node.mark?.column ?? 1, p, "polygon"))
                }
            }
            guard world else {
                place(ps)
                return ps
            }
            guard let calibration else { return nil }
            let mapped = ps.compactMap { calibration.image($0) }
            guard mapped.count == ps.count else {
                r.error(pointsNode, p, "a ground point maps beyond the horizon of this calibration")
                return nil
            }
            place(mapped)
            return mapped
        }
        func segment(_ node: Node?, _ p: String) -> Segment? {
            guard let ps = geometry(node, p, count: 2...2) else { return nil }
            if ps[0].distance(to: ps[1]) < 2 {
                r.error(node, p, "the line's two points are the same")
                return nil
            }
            return Segment(ps[0], ps[1])
        }

        var lanes: [Lane] = []
        if let items = r.list(top["lanes"], "lanes") {
            var seen: [String: Int] = [:]
            for (i, item) in items.enumerated() {
                let p = "lanes[\(i)]"
                guard let m = r.map(item, p, keys: ["id", "polygon", "exempt"]) else { continue }
                let id = r.required(m, "id").flatMap { $0.scalar?.string.isEmpty == false ? $0.scalar!.string : { r.error($0, m.child("id"), "must not be empty"); return nil }($0) }
                let polygon = geometry(r.required(m, "polygon"), m.child("polygon"), count: 3...64)
                var exempt: Set<RuleKind> = []
                if let list = r.list(m["exempt"], m.child("exempt")) {
                    for (j, e) in list.enumerated() { if let k = r.choice(e, "\(m.child("exempt"))[\(j)]", RuleKind.self) { exempt.insert(k) } }
                }
                if let id, let previous = seen[id] {
                    r.error(m["id"], m.child("id"), "lane id '\(id)' is already used by lanes[\(previous)]")
                }
                if let id { seen[id] = i }
                if let polygon, Polygon(polygon).area < 4 {
                    r.error(m["polygon"], m.child("polygon"), "the polygon has no area (its points lie on a line)")
                    continue
                }
                if let id, let polygon { lanes.append(Lane(id: id, polygon: Polygon(polygon), exempt: exempt)) }
            }
        }

        var detection = DetectionSettings()
        if let m = r.map(top["detection"], "detection", keys: ["source", "analysis_width", "sensitivity", "min_vehicle_width_m", "max_vehicle_width_m", "min_area_px", "min_difference", "shadow_background", "light", "ignore", "detail_region", "external_file", "min_confidence", "fast_decode"]) {
            if let v = r.bool(m["fast_decode"], m.child("fast_decode")) { detection.fastDecode = v }
            if let v = r.integer(m["analysis_width"], m.child("analysis_width"), 64...3840, unit: "px") { detection.analysisWidth = v }
            if let v = r.number(m["sensitivity"], m.child("sensitivity"), 1...10, unit: "standard deviations") { detection.sensitivity = v }
            if let v = r.number(m["min_vehicle_width_m"], m.child("min_vehicle_width_m"), 0...5, unit: "m") { detection.minimumVehicleWidthM = v }
            if let v = r.number(m["max_vehicle_width_m"], m.child("max_vehicle_width_m"), 2.5...20, unit: "m") { detection.maximumVehicleWidthM = v }
            if let v = r.number(m["shadow_background"], m.child("shadow_background"), 0...256, unit: "levels") { detection.shadowBackground = v }
            if let v = r.choice(m["light"], m.child("light"), SceneLight.self) { detection.light = v }
            if let v = r.integer(m["min_area_px"], m.child("min_area_px"), 4...100_000, unit: "px") { detection.minimumArea = v }
            if let v = r.number(m["min_difference"], m.child("min_difference"), 4...64, unit: "levels") { detection.minimumDifference = v }
            if let v = r.number(m["min_confidence"], m.child("min_confidence"), 0...1, unit: "") { detection.minimumConfidence = v }
            for (i, item) in (r.list(m["ignore"], m.child("ignore")) ?? []).enumerated() {
                if let box = r.imageBox(item, "\(m.child("ignore"))[\(i)]", range: -1e5...1e5, minimumSide: 0, sides: "with a positive size") {
                    detection.ignore.append(box)
                }
            }
            if let region = r.imageBox(m["detail_region"], m.child("detail_region"), range: 0...1e5, minimumSide: 16, sides: "at least 16 px each way") {
                detection.detailRegion = region
                placedAreas.append((region, m["detail_region"]?.mark?.line ?? 1, m["detail_region"]?.mark?.column ?? 1, m.child("detail_region"), "region"))
            }
            let source = m["source"].flatMap { r.string($0, m.child("source")) } ?? "motion"
            if !["motion", "external"].contains(source) {
                r.error(m["source"], m.child("source"), "'\(source)' is not one of motion, external")
            } else if source == "external" {
                if let f = r.string(r.required(m, "external_file", "a MOT CSV of boxes"), m.child("external_file")) {
                    let names = ExternalFilePattern.names(in: f)
                    for name in names where !ExternalFilePattern.placeholders.contains(name) {
                        // Nearest by edits, then by the first letter ('{stme}' is two edits from both {stem} and {name}).
                        func distance(_ p: String) -> (Int, Int) { (levenshtein(name, p), name.first == p.first ? 0 : 1) }
                        let near = ExternalFilePattern.placeholders.min { distance($0) < distance($1) }!
                        r.error(m["external_file"], m.child("external_file"),
                                "unknown placeholder '{\(name)}'; one of {dir}, {name}, {stem}\(levenshtein(name, near) <= 2 ? "; did you mean '{\(near)}'?" : "")")
                    }
                    detection.externalFile = f.hasPrefix("{dir}") ? f : resolve(f, against: (path as NSString).deletingLastPathComponent)
                    detection.externalFileLine = m["external_file"]?.mark?.line ?? 1
                    detection.externalFileColumn = m["external_file"]?.mark?.column ?? 1
                    // A pattern's files are each input's, checked as each input is run.
                    if names.isEmpty && !FileManager.default.fileExists(atPath: detection.externalFile!) {
                        r.error(m["external_file"], m.child("external_file"), "no such file: \(detection.externalFile!)")
                    }
                }
            } else if m["external_file"] != nil {
                r.error(m["external_file"], m.child("external_file"), "external_file needs source: external")
            }
        }

        var tracking = TrackingSettings()
        if let m = r.map(top["tracking"], "tracking", keys: ["confirm_hits", "max_coast_s", "min_iou", "ground_plane", "backward_pass"]) {
            if let v = r.integer(m["confirm_hits"], m.child("confirm_hits"), 1...30, unit: "frames") { tracking.confirmHits = v }
            if let v = r.number(m["max_coast_s"], m.child("max_coast_s"), 0...10, unit: "s") { tracking.maxCoastSeconds = v }
            if let v = r.number(m["min_iou"], m.child("min_iou"), 0...1, unit: "") { tracking.minimumIoU = v }
            if let v = r.bool(m["ground_plane"], m.child("ground_plane")) { tracking.groundPlane = v }
            if let v = r.bool(m["backward_pass"], m.child("backward_pass")) { tracking.backwardPass = v }
        }

        var signal: SignalSource?
        if let m = r.map(top["signal"], "signal", keys: ["lamps", "controller_log"]) {
            if m["lamps"] != nil && m["controller_log"] != nil {
                r.error(m.node, "signal", "give either lamps or controller_log, not both")
            } else if let lm = r.map(m["lamps"], m.child("lamps"), keys: ["red", "amber", "green", "radius"]) {
                let radius = r.number(r.required(lm, "radius", "lamp radius in pixels"), lm.child("radius"), 1...200, unit: "px")
                var lamps: [LampRegion] = []
                for phase in [SignalPhase.red, .amber, .green] {
                    if let c = r.point(r.required(lm, phase.rawValue, "the lamp's centre [x, y] in pixels"), lm.child(phase.rawValue)), let radius {
                        lamps.append(LampRegion(phase: phase, center: c, radius: radius))
                        let n = lm[phase.rawValue]
                        placed.append(PlacedLine(image: Segment(c, c), line: n?.mark?.line ?? 1, column: n?.mark?.column ?? 1, keyPath: lm.child(phase.rawValue)))
                    }
                }
                if lamps.count == 3 { signal = .lamps(lamps) }
            } else if let f = r.string(m["controller_log"], m.child("controller_log")) {
                let full = resolve(f, against: (path as NSString).deletingLastPathComponent)
                if FileManager.default.fileExists(atPath: full) { signal = .controllerLog(full) } else {
                    r.error(m["controller_log"], m.child("controller_log"), "no such file: \(full)")
                }
            } else if m["lamps"] == nil && m["controller_log"] == nil {
                r.error(m.node, "signal", "expected lamps or controller_log")
            }
        }

        var speeding: SpeedingRule?
        var redLight: RedLightRule?
        if let rules = r.map(top["rules"], "rules", keys: ["speeding", "red_light"]) {
            if let m = r.map(rules["speeding"], rules.child("speeding"), keys: ["enabled", "limit_kmh", "tolerance_percent", "tolerance_kmh", "entry", "exit", "bands"]),
               r.bool(m["enabled"], m.child("enabled")) ?? true {
                let limit = r.number(r.required(m, "limit_kmh"), m.child("limit_kmh"), 5...300, unit: "km/h")
                let percent = m["tolerance_percent"].map { r.number($0, m.child("tolerance_percent"), 0...50, unit: "%") } ?? 0
                let absolute = m["tolerance_kmh"].map { r.number($0, m.child("tolerance_kmh"), 0...50, unit: "km/h") } ?? 0
                let entry = segment(r.required(m, "entry", "the zone's first line"), m.child("entry"))
                let exit = segment(r.required(m, "exit", "the zone's second line"), m.child("exit"))
                var bands: [SeverityBand] = []
                if let items = r.list(m["bands"], m.child("bands")) {
                    for (i, item) in items.enumerated() {
                        let p = "\(m.child("bands"))[\(i)]"
                        guard let b = r.map(item, p, keys: ["band", "from_kmh"]) else { continue }
                        if let name = r.string(r.required(b, "band"), b.child("band")),
                           let from = r.number(r.required(b, "from_kmh"), b.child("from_kmh"), 0...300, unit: "km/h") {
                            if let last = bands.last, from <= last.fromKmh {
                                r.error(b["from_kmh"], b.child("from_kmh"), "bands must rise: \(r.format(from)) km/h is not above the previous band's \(r.format(last.fromKmh))")
                            }
                            bands.append(SeverityBand(band: name, fromKmh: from))
                        }
                    }
                }
                if let calibration, let entry, let exit, let a = calibration.world(entry.a), let b = calibration.world(entry.b),
                   let c = calibration.world(exit.a), let d = calibration.world(exit.b) {
                    let mid1 = (a + b) * 0.5, mid2 = (c + d) * 0.5
                    if mid1.distance(to: mid2) < 5 {
                        r.error(m["exit"], m.child("exit"), "the zone's lines are \(String(format: "%.1f", mid1.distance(to: mid2))) m apart on the ground; at least 5 m are needed for a measurement")
                    }
                }
                if let limit, let percent, let absolute, let entry, let exit {
                    var rule = SpeedingRule(limitKmh: limit, tolerancePercent: percent, toleranceKmh: absolute, entry: entry, exit: exit)
                    rule.bands = bands
                    speeding = rule
                }
            }
            if let m = r.map(rules["red_light"], rules.child("red_light"), keys: ["enabled", "stop_line", "approach", "grace_s", "min_speed_kmh"]),
               r.bool(m["enabled"], m.child("enabled")) ?? true {
                let line = segment(r.required(m, "stop_line"), m.child("stop_line"))
                let approach = r.choice(r.required(m, "approach", "away or toward the camera"), m.child("approach"), Approach.self)
                let grace = m["grace_s"].map { r.number($0, m.child("grace_s"), 0...5, unit: "s") } ?? 0.3
                let minimum = m["min_speed_kmh"].map { r.number($0, m.child("min_speed_kmh"), 0...100, unit: "km/h") } ?? 10
                if signal == nil { r.error(m.node, rules.child("red_light"), "the red-light rule needs a signal section (lamps or controller_log)") }
                if let line, let approach, let grace, let minimum {
                    redLight = RedLightRule(stopLine: line, approach: approach, graceSeconds: grace, minimumSpeedKmh: minimum)
                }
            }
        }

        var dedup = 2.0
        if let m = r.map(top["dedup"], "dedup", keys: ["window_s"]), let v = r.number(m["window_s"], m.child("window_s"), 0...60, unit: "s") { dedup = v }

        var evidence = EvidenceSettings()
        if let m = r.map(top["evidence"], "evidence", keys: ["stills", "clip", "clip_before_s", "clip_after_s", "jpeg_quality"]) {
            if let v = r.bool(m["stills"], m.child("stills")) { evidence.stills = v }
            if let v = r.bool(m["clip"], m.child("clip")) { evidence.clip = v }
            if let v = r.number(m["clip_before_s"], m.child("clip_before_s"), 0...30, unit: "s") { evidence.clipBeforeSeconds = v }
            if let v = r.number(m["clip_after_s"], m.child("clip_after_s"), 0...30, unit: "s") { evidence.clipAfterSeconds = v }
            if let v = r.integer(m["jpeg_quality"], m.child("jpeg_quality"), 2...31, unit: "(FFmpeg qscale, 2 best)") { evidence.jpegQuality = v }
        }
        if let m = r.map(top["output"], "output", keys: ["csv"]) { _ = r.bool(m["csv"], m.child("csv")) }

        guard let camera, let inputs, let calibration else { return nil }
        let digest = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
        var config = PipelineConfig(path: path, directory: (path as NSString).deletingLastPathComponent, text: text, sha256: digest,
                                    camera: camera, inputs: inputs, calibration: calibration, lanes: lanes)
        config.detection = detection
        config.tracking = tracking
        config.signal = signal
        config.speeding = speeding
        config.redLight = redLight
        config.dedupWindowSeconds = dedup
        config.evidence = evidence
        config.placedLines = placed
        config.placedAreas = placedAreas.map { PlacedArea(noun: $0.4, bounds: $0.0, line: $0.1, column: $0.2, keyPath: $0.3) }
        return config
    }

    private static func readCamera(_ r: ConfigReader, _ m: ConfigReader.Map?) -> Camera? {
        guard let m else { return nil }
        let id = r.string(r.required(m, "id", "a name for this camera"), m.child("id"))
        if let id, id.contains(where: { !$0.isLetter && !$0.isNumber && !"-_.".contains($0) }) {
            r.error(m["id"], m.child("id"), "use letters, digits, '-', '_' and '.' only (it names files)")
        }
        let location = m["location"].flatMap { r.string($0, m.child("location")) }
        var clock = ClockSource.creationTime, offset = 0
        if let c = r.map(m["clock"], m.child("clock"), keys: ["source", "pattern", "start", "utc_offset"]) {
            if let o = c["utc_offset"] {
                if let s = r.string(o, c.child("utc_offset")) {
                    if let v = parseOffset(s) { offset = v } else { r.error(o, c.child("utc_offset"), "expected +HH:MM or -HH:MM, found '\(s)'") }
                }
            }
            let source = c["source"].flatMap { r.string($0, c.child("source")) } ?? "creation_time"
            switch source {
            case "creation_time": break
            case "file_name":
                if let p = r.string(r.required(c, "pattern", "e.g. cam3_%Y%m%d_%H%M%S"), c.child("pattern")) {
                    if !["%Y", "%m", "%d", "%H", "%M", "%S"].allSatisfy(p.contains) {
                        r.error(c["pattern"], c.child("pattern"), "a pattern needs all of %Y %m %d %H %M %S")
                    } else { clock = .fileName(pattern: p) }
                }
            case "fixed":
                if let s = r.string(r.required(c, "start", "ISO 8601 time of the first frame"), c.child("start")) {
                    if let d = ISO8601Instant.parse(s) { clock = .fixed(d) } else { r.error(c["start"], c.child("start"), "not an ISO 8601 time: '\(s)'") }
                }
            default:
                let near = suggestion(for: source, in: ["creation_time", "file_name", "fixed"]).map { "; did you mean '\($0)'?" } ?? ""
                r.error(c["source"], c.child("source"), "'\(source)' is not one of creation_time, file_name, fixed\(near)")
            }
        }
        guard let id else { return nil }
        return Camera(id: id, location: location, clock: clock, utcOffsetSeconds: offset)
    }

    private static func readInputs(_ r: ConfigReader, _ node: Node?) -> [String]? {
        guard let node else { return [] }
        if let s = node.scalar?.string { return [s] }
        guard let items = r.list(node, "inputs") else { return nil }
        return items.enumerated().compactMap { r.string($1, "inputs[\($0)]") }
    }

    private static func readCalibration(_ r: ConfigReader, _ m: ConfigReader.Map?) -> Calibration? {
        guard let m, let items = r.list(r.required(m, "points", "at least 4 of {image: [u, v], world: [x, y]}"), m.child("points")) else { return nil }
        var points: [CalibrationPoint] = []
        for (i, item) in items.enumerated() {
            let p = "\(m.child("points"))[\(i)]"
            guard let pm = r.map(item, p, keys: ["image", "world"]) else { continue }
            if let image = r.point(r.required(pm, "image", "pixels"), pm.child("image")), let world = r.point(r.required(pm, "world", "metres"), pm.child("world")) {
                points.append(CalibrationPoint(image: image, world: world))
            }
        }
        guard points.count == items.count else { return nil }
        do {
            return try Calibration(points: points)
        } catch let e as CalibrationError {
            let node = e.points.first.flatMap { $0 - 1 < items.count ? items[$0 - 1] : nil } ?? m["points"]
            let where_ = e.points.first.map { "\(m.child("points"))[\($0 - 1)]" } ?? m.child("points")
            r.error(node, where_, "degenerate calibration: \(e.description) (points counted from 1)")
            return nil
        } catch {
            r.error(m["points"], m.child("points"), "\(error)")
            return nil
        }
    }

    static func parseOffset(_ s: String) -> Int? {
        if s == "Z" || s == "UTC" { return 0 }
        let sign: Int
        switch s.first { case "+": sign = 1; case "-": sign = -1; default: return nil }
        let parts = s.dropFirst().split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]), h <= 14, m < 60 else { return nil }
        return sign * (h * 3600 + m * 60)
    }
}

/// A path as given, or relative to `base`.
func resolve(_ path: String, against base: String) -> String {
    if path.hasPrefix("/") { return path }
    let expanded = (path as NSString).expandingTildeInPath
    if expanded.hasPrefix("/") { return expanded }
    return ((base.isEmpty ? "." : base) as NSString).appendingPathComponent(path)
}
