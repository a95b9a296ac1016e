import Foundation
import TrafficModel
import VideoIO
import Yams

public struct SceneError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// Renders a scene file to `NAME.mp4` and `NAME.truth.json`.
public enum SceneSynthesizer {
    public static func load(_ path: String) throws -> SceneSpec {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SceneError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        let spec: SceneSpec
        do { spec = try YAMLDecoder().decode(SceneSpec.self, from: text) } catch {
            throw SceneError(path: path, message: "invalid scene: \(describe(error))")
        }
        let problems = spec.problems()
        guard problems.isEmpty else { throw SceneError(path: path, message: problems.joined(separator: "; ")) }
        return spec
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, context):
            return "missing key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context), let DecodingError.dataCorrupted(context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default:
            return String(describing: error)
        }
    }

    public struct Output: Sendable {
        public var video: String
        public var truth: String
        public var frames: Int
        public var seconds: Double
    }

    /// Simulates, renders and encodes the whole scene; writes the truth beside the video.
    /// `frameLimit` renders only the first frames (previews); `progress` is told each frame.
    @discardableResult
    public static func render(_ spec: SceneSpec, into directory: String, frameLimit: Int? = nil, stillsEverySeconds: Double? = nil,
                              progress: ((Int, Int) -> Void)? = nil) throws -> Output {
        let started = Date()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let videoPath = (directory as NSString).appendingPathComponent("\(spec.name).mp4")
        let truthPath = (directory as NSString).appendingPathComponent("\(spec.name).truth.json")
        let frames = min(spec.frameCount, frameLimit ?? .max)

        let trajectories = TrafficSimulation(spec: spec).run()
        let renderer = SceneRenderer(spec: spec)
        let schedule = spec.signal.map(SignalSchedule.init)

        // Like a camera: constant quality with the scene's bit rate as the ceiling.
        var settings = EncoderSettings(codec: .h264, frameRate: FrameRate(spec.video.fps), maxBitRate: spec.video.bitrateKbps * 1000,
                                       quality: spec.video.quality, preset: "veryfast", keyframeInterval: spec.video.fps * 2, threads: 1)
        settings.creationTime = ISO8601Instant.parse(spec.video.startTime)
        settings.metadata = ["comment": "roadwatch synth scene \(spec.name), seed \(spec.seed)"]
        let encoder = EncodingThread(writer: try VideoWriter(path: videoPath, width: spec.video.width, height: spec.video.height, settings: settings))

        var boxes: [Int: [SceneTruth.FrameBox]] = [:]
        let byID = Dictionary(uniqueKeysWithValues: trajectories.map { ($0.id, $0) })
        let stillEvery = stillsEverySeconds.map { max(1, Int(($0 * Double(spec.video.fps)).rounded())) }
        for index in 0..<frames {
            let t = Double(index) / Double(spec.video.fps)
            let (picture, inFrame) = renderer.render(frame: index, vehicles: trajectories, phase: schedule?.phase(at: t))
            try encoder.write(picture)
            if let stillEvery, index % stillEvery == 0 {
                let still = (directory as NSString).appendingPathComponent(String(format: "%@-%06d.jpg", spec.name, index))
                try JPEGWriter(quality: 3).write(picture, to: still)
            }
            for v in inFrame {
                let trajectory = byID[v.vehicle]!
                let k = index - trajectory.firstFrame
                let u = trajectory.front[k]
                let y = trajectory.direction == .away ? spec.road.startYM + u : spec.road.endYM - u
                boxes[v.vehicle, default: []].append(SceneTruth.FrameBox(
                    frame: index, box: rounded(v.box), visible: (v.visibleFraction * 1000).rounded() / 1000,
                    front: Point2(spec.road.laneCenter(trajectory.lane), (y * 1000).rounded() / 1000),
                    speedKmh: (trajectory.speed[k] * 3.6 * 1000).rounded() / 1000))
            }
            progress?(index + 1, frames)
        }
        try encoder.finish()

        let truth = makeTruth(spec, videoFile: (videoPath as NSString).lastPathComponent, frames: frames, trajectories: trajectories, boxes: boxes, schedule: schedule)
        try truth.encoded().write(to: URL(fileURLWithPath: truthPath), options: .atomic)
        return Output(video: videoPath, truth: truthPath, frames: frames, seconds: Date().timeIntervalSince(started))
    }

    private static func rounded(_ b: Box) -> Box {
        func r(_ v: Double) -> Double { (v * 100).rounded() / 100 }
        return Box(x: r(b.x), y: r(b.y), width: r(b.width), height: r(b.height))
    }

    static func makeTruth(_ spec: SceneSpec, videoFile: String, frames: Int, trajectories: [VehicleTrajectory],
                          boxes: [Int: [SceneTruth.FrameBox]], schedule: SignalSchedule?) -> SceneTruth {
        let cam = spec.pinhole
        let fps = Double(spec.video.fps)
        let road = spec.road
        func line(atY y: Double, from x0: Double, to x1: Double) -> SceneTruth.Line {
            let a = Point2(x0, y), b = Point2(x1, y)
            return SceneTruth.Line(image: Segment(cam.project(Point3(a.x, a.y, 0)) ?? a, cam.project(Point3(b.x, b.y, 0)) ?? b), world: Segment(a, b))
        }
        // Calibration points: road edges and lane lines where they meet marked lines, all on the ground.
        var ys = [spec.speedZone?.entryYM, spec.speedZone?.exitYM, road.stopLineYM].compactMap { $0 }
        if ys.count < 2 {
            let near = cam.groundPoint(atImage: Point2(Double(spec.video.width) / 2, Double(spec.video.height) * 0.85))?.y ?? road.startYM + 10
            let far = cam.groundPoint(atImage: Point2(Double(spec.video.width) / 2, Double(spec.video.height) * 0.45))?.y ?? near + 40
            ys = [near, far]
        }
        var calibration: [SceneTruth.CalibrationPoint] = []
        for y in ys.sorted() {
            for x in [0.0, road.width / 2, road.width] {
                if let p = cam.project(Point3(x, y, 0)), p.x >= 0, p.y >= 0, p.x < Double(spec.video.width), p.y < Double(spec.video.height) {
                    calibration.append(.init(image: Point2((p.x * 1000).rounded() / 1000, (p.y * 1000).rounded() / 1000), world: Point2(x, y)))
                }
            }
        }
        let laneFarY = min(road.endYM, cam.groundPoint(atImage: Point2(Double(spec.video.width) / 2, Double(spec.video.height) * 0.3))?.y ?? road.endYM)
        let laneNearY = max(road.startYM, cam.position.y + 1)
        let lanes = road.lanes.enumerated().map { i, d -> SceneTruth.Lane in
            let x0 = Double(i) * road.laneWidthM, x1 = x0 + road.laneWidthM
            let world = [Point2(x0, laneNearY), Point2(x1, laneNearY), Point2(x1, laneFarY), Point2(x0, laneFarY)]
            return SceneTruth.Lane(id: i + 1, direction: d, image: Polygon(world.map { cam.project(Point3($0.x, $0.y, 0)) ?? $0 }), world: Polygon(world))
        }
        let stopLine: SceneTruth.Line? = road.stopLineYM.map { y in
            let away = road.lanes.enumerated().filter { $0.element == .away }.map(\.offset)
            return line(atY: y, from: Double(away.min() ?? 0) * road.laneWidthM, to: Double((away.max() ?? 0) + 1) * road.laneWidthM)
        }
        let zone = spec.speedZone.map { z in
            SceneTruth.SpeedZone(entry: line(atY: z.entryYM, from: 0, to: road.width), exit: line(atY: z.exitYM, from: 0, to: road.width),
                                 limitKmh: z.limitKmh, tolerancePercent: z.tolerancePercent, toleranceKmh: z.toleranceKmh, thresholdKmh: z.thresholdKmh)
        }
        let intervals = schedule?.intervals(from: -TrafficSimulation.warmup, to: Double(frames) / fps) ?? []
        let phases = intervals.compactMap { iv -> SceneTruth.Phase? in
            let first = max(0, Int((iv.start * fps - 1e-9).rounded(.up)))
            let last = min(frames - 1, Int((iv.end * fps - 1e-9).rounded(.up)) - 1)
            guard first <= last else { return nil }
            return SceneTruth.Phase(phase: iv.phase, startS: iv.start, endS: iv.end, startFrame: first, endFrame: last)
        }
        let signal = spec.signal.map { s in
            SceneTruth.Signal(lamps: Dictionary(uniqueKeysWithValues: SceneRenderer.lampCentres(s).map { ($0.key.rawValue, $0.value) }),
                              lampRadiusPx: s.lampRadiusPx, phases: phases)
        }

        var vehicles: [SceneTruth.Vehicle] = []
        var violations: [SceneTruth.Violation] = []
        let footageEnd = Double(frames - 1) / fps
        for v in trajectories {
            guard let frameBoxes = boxes[v.id], !frameBoxes.isEmpty else { continue }
            var zoneSpeed: Double?, entry: Double?, exit: Double?
            if let z = spec.speedZone, v.zoneCrossings.count >= 2, v.zoneCrossings[0] >= 0, v.zoneCrossings[1] <= footageEnd {
                entry = v.zoneCrossings[0]
                exit = v.zoneCrossings[1]
                zoneSpeed = abs(z.exitYM - z.entryYM) / (exit! - entry!) * 3.6
            }
            var crossing: SceneTruth.StopLineCrossing?
            if let c = v.stopLineCrossing, c.time >= 0, c.time <= footageEnd, let schedule {
                let phase = schedule.phase(at: c.time)
                let redStart = phase == .red ? intervals.last { $0.phase == .red && $0.start <= c.time }?.start : nil
                crossing = .init(timeS: c.time, frame: Int((c.time * fps - 1e-9).rounded(.up)), phase: phase,
                                 timeIntoRedS: redStart.map { c.time - $0 }, speedKmh: c.speed * 3.6)
                if phase == .red {
                    violations.append(.init(rule: "red_light", vehicle: v.id, lane: v.lane, frame: crossing!.frame, timeS: c.time,
                                            timeIntoRedS: crossing!.timeIntoRedS, speedKmh: c.speed * 3.6, limitKmh: nil, thresholdKmh: nil))
                }
            }
            if let z = spec.speedZone, let speed = zoneSpeed, speed > z.thresholdKmh, let exit {
                violations.append(.init(rule: "speeding", vehicle: v.id, lane: v.lane, frame: Int((exit * fps - 1e-9).rounded(.up)), timeS: exit,
                                        timeIntoRedS: nil, speedKmh: speed, limitKmh: z.limitKmh, thresholdKmh: z.thresholdKmh))
            }
            vehicles.append(.init(id: v.id, type: v.type, lane: v.lane, direction: v.direction, behaviour: v.behaviour,
                                  color: [Int(v.color.0), Int(v.color.1), Int(v.color.2)], lengthM: v.length, widthM: v.width, heightM: v.height,
                                  zoneSpeedKmh: zoneSpeed, zoneEntryS: entry, zoneExitS: exit, stopLine: crossing, frames: frameBoxes))
        }
        violations.sort { ($0.timeS, $0.vehicle) < ($1.timeS, $1.vehicle) }
        return SceneTruth(
            scene: spec.name,
            video: .init(file: videoFile, width: spec.video.width, height: spec.video.height, fps: spec.video.fps, frames: frames, startTime: spec.video.startTime),
            camera: .init(matrix: cam.projectionMatrix, focalPx: cam.focalPixels, principalPoint: cam.principalPoint, position: cam.position,
                          tiltDeg: cam.tiltDegrees, panDeg: cam.panDegrees, rollDeg: cam.rollDegrees),
            calibration: calibration, stopLine: stopLine, lanes: lanes, speedZone: zone, signal: signal, vehicles: vehicles, violations: violations)
    }
}
