import Foundation
import Testing
import TrafficModel
import VideoIO
@testable import SceneSynth

/// A small junction scene, rendered fast, with a runner, an amber crossing and vehicles that stop.
func smallJunction(lighting: String = "day", extra: String = "") -> String {
    """
    name: test-junction
    seed: 3
    video: {width: 480, height: 270, fps: 25, duration_s: 12, bitrate_kbps: 1500, start_time: "2026-03-14T08:30:00+01:00"}
    camera: {height_m: 7.5, tilt_deg: 13, focal_px: 380, x_m: 12.5}
    road: {lanes: [toward, toward, away, away], start_y_m: -30, length_m: 230, stop_line_y_m: 38}
    signal: {head_x: 360, head_y: 26, lamp_radius_px: 4, green_s: 4, amber_s: 2, red_s: 8, start_phase: green, start_offset_s: 0}
    conditions: {lighting: \(lighting)\(extra)}
    vehicles:
      - {type: car, lane: 1, speed_kmh: 45, enter_s: -4}
      - {type: van, lane: 3, speed_kmh: 50, behaviour: ignore_signal, cross_stop_line_at_s: 5.0}
      - {type: car, lane: 3, speed_kmh: 50, behaviour: ignore_signal, cross_stop_line_at_s: 8.0, color: [28, 28, 30]}
      - {type: car, lane: 4, speed_kmh: 50, enter_s: 1}
      - {type: truck, lane: 4, speed_kmh: 45, enter_s: 3}
    """
}

func loadSpec(_ yaml: String) throws -> SceneSpec {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("scene-\(UUID().uuidString).yaml").path
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try SceneSynthesizer.load(path)
}

func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-synth-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

struct SceneTruthTests {
    @Test("every painted vehicle pixel lies inside its truth box, and unoccluded vehicles fill most of it", arguments: ["day", "night"])
    func boxesHoldTheirPixels(_ lighting: String) throws {
        let spec = try loadSpec(smallJunction(lighting: lighting, extra: ", shake_px: 2"))
        let trajectories = TrafficSimulation(spec: spec).run()
        let renderer = SceneRenderer(spec: spec)
        var checkedVehicles = 0
        for frame in stride(from: 0, to: spec.frameCount, by: 23) {
            let (_, truths) = renderer.render(frame: frame, vehicles: trajectories, phase: .green)
            let boxes = Dictionary(uniqueKeysWithValues: truths.map { ($0.vehicle, $0.box) })
            var painted: [Int: Int] = [:]
            for y in 0..<spec.video.height {
                for x in 0..<spec.video.width {
                    guard let id = renderer.vehicle(atX: x, y: y) else { continue }
                    let box = try #require(boxes[id], "vehicle \(id) painted in frame \(frame) without a truth box")
                    #expect(box.contains(Point2(Double(x) + 0.5, Double(y) + 0.5)), "frame \(frame): vehicle \(id) pixel (\(x), \(y)) outside \(box)")
                    painted[id, default: 0] += 1
                }
            }
            // Whole vehicles only: one cut by the image border is a partial view.
            let inside = { (b: Box) in b.x > 0.5 && b.y > 0.5 && b.maxX < Double(spec.video.width) - 0.5 && b.maxY < Double(spec.video.height) - 0.5 }
            for t in truths where t.visibleFraction > 0.99 && t.box.area > 100 && inside(t.box) {
                let fill = Double(painted[t.vehicle] ?? 0) / t.box.area
                #expect(fill > 0.55, "frame \(frame): unoccluded vehicle \(t.vehicle) fills only \(fill) of its box \(t.box), \(painted[t.vehicle] ?? 0) px, alone \(t.pixels)")
                checkedVehicles += 1
            }
            for t in truths { #expect(t.visiblePixels == painted[t.vehicle] ?? 0) }
        }
        #expect(checkedVehicles > 5)
    }

    @Test("a vehicle cut by the picture's edge has the box of what shows of it")
    func boxesAtTheEdge() throws {
        let spec = try loadSpec(smallJunction())
        let trajectories = TrafficSimulation(spec: spec).run()
        let renderer = SceneRenderer(spec: spec)
        let w = Double(spec.video.width), h = Double(spec.video.height)
        var checked = 0
        for frame in stride(from: 0, to: spec.frameCount, by: 3) {
            let (_, truths) = renderer.render(frame: frame, vehicles: trajectories, phase: .green)
            let cut = truths.filter { $0.visibleFraction > 0.99 && $0.pixels > 200 && ($0.box.x < 0.5 || $0.box.maxX > w - 0.5 || $0.box.maxY > h - 0.5) }
            guard !cut.isEmpty else { continue }
            var lo: [Int: (Int, Int)] = [:], hi: [Int: (Int, Int)] = [:]
            for y in 0..<spec.video.height {
                for x in 0..<spec.video.width {
                    guard let id = renderer.vehicle(atX: x, y: y) else { continue }
                    lo[id] = (min(lo[id]?.0 ?? x, x), min(lo[id]?.1 ?? y, y))
                    hi[id] = (max(hi[id]?.0 ?? x, x), max(hi[id]?.1 ?? y, y))
                }
            }
            for t in cut {
                let a = try #require(lo[t.vehicle]), b = try #require(hi[t.vehicle])
                let painted = Box(x: Double(a.0), y: Double(a.1), width: Double(b.0 - a.0 + 1), height: Double(b.1 - a.1 + 1))
                // Edges agree to the pixel grid (a face's edge covers a pixel when it covers the pixel's centre).
                for (truth, seen) in [(t.box.x, painted.x), (t.box.y, painted.y), (t.box.maxX, painted.maxX), (t.box.maxY, painted.maxY)] {
                    #expect(abs(truth - seen) <= 1.5, "frame \(frame): vehicle \(t.vehicle) box \(t.box), painted \(painted)")
                }
                checked += 1
            }
        }
        #expect(checked > 10)
    }

    @Test("the truth's world points project through its camera matrix onto its image points")
    func projectionIsConsistent() throws {
        try withTemporaryDirectory { dir in
            var spec = try loadSpec(smallJunction())
            spec.video.durationSeconds = 0.4
            let output = try SceneSynthesizer.render(spec, into: dir)
            let truth = try SceneTruth.load(output.truth)
            let p = truth.camera.matrix
            func project(_ x: Double, _ y: Double) -> Point2 {
                let u = p[0][0] * x + p[0][1] * y + p[0][3], v = p[1][0] * x + p[1][1] * y + p[1][3], w = p[2][0] * x + p[2][1] * y + p[2][3]
                return Point2(u / w, v / w)
            }
            #expect(truth.calibration.count >= 4)
            for c in truth.calibration {
                #expect(project(c.world.x, c.world.y).distance(to: c.image) < 0.01, "\(c.world) -> \(project(c.world.x, c.world.y)), truth says \(c.image)")
            }
            let stop = try #require(truth.stopLine)
            #expect(project(stop.world.a.x, stop.world.a.y).distance(to: stop.image.a) < 0.01)
            for lane in truth.lanes {
                for (w, i) in zip(lane.world.points, lane.image.points) { #expect(project(w.x, w.y).distance(to: i) < 0.01) }
            }
            // The inverse holds too: the camera finds the ground point behind each image point.
            for c in truth.calibration {
                let back = try #require(spec.pinhole.groundPoint(atImage: c.image))
                #expect(back.distance(to: c.world) < 0.01)
            }
        }
    }

    @Test("the rendered video shows the truth: lamp colours follow the phase intervals, pixels match the render, creation_time is the start")
    func videoMatchesTruth() throws {
        try withTemporaryDirectory { dir in
            let spec = try loadSpec(smallJunction(lighting: "night"))
            let output = try SceneSynthesizer.render(spec, into: dir)
            let truth = try SceneTruth.load(output.truth)
            let reader = try VideoReader(path: output.video)
            #expect(reader.info.creationTime == ISO8601Instant.parse("2026-03-14T08:30:00+01:00"))
            #expect(reader.info.frameCount == spec.frameCount)
            let signal = try #require(truth.signal)
            #expect(Set(signal.phases.map(\.phase)) == [.green, .amber, .red])
            var checked = 0
            while let frame = try reader.nextFrame() {
                let phase = try #require(signal.phases.first { $0.startFrame <= frame.index && frame.index <= $0.endFrame }?.phase)
                // The lit lamp is clearly the brightest of the three in the decoded picture.
                let brightness = signal.lamps.mapValues { c in
                    frame.withLuma { luma in
                        var sum = 0
                        for dy in -1...1 { for dx in -1...1 { sum += Int(luma[Int(c.x) + dx, Int(c.y) + dy]) } }
                        return sum / 9
                    }
                }
                let brightest = brightness.max { $0.value < $1.value }!.key
                #expect(brightest == phase.rawValue, "frame \(frame.index): truth says \(phase), brightest lamp is \(brightest) \(brightness)")
                checked += 1
            }
            #expect(checked == spec.frameCount)
        }
    }

    @Test("the encoded frames are the rendered ones")
    func encodedFramesMatchRender() throws {
        try withTemporaryDirectory { dir in
            var spec = try loadSpec(smallJunction())
            spec.video.durationSeconds = 2
            let output = try SceneSynthesizer.render(spec, into: dir)
            let trajectories = TrafficSimulation(spec: spec).run()
            let renderer = SceneRenderer(spec: spec)
            let reader = try VideoReader(path: output.video)
            while let frame = try reader.nextFrame() {
                guard frame.index % 10 == 0 else { continue }
                let (picture, _) = renderer.render(frame: frame.index, vehicles: trajectories, phase: SignalSchedule(spec.signal!).phase(at: frame.pts))
                var total = 0.0
                frame.withLuma { luma in
                    for y in 0..<luma.height {
                        for x in 0..<luma.width {
                            let i = 3 * (y * picture.width + x)
                            let r = Double(picture.planes[0][i]), g = Double(picture.planes[0][i + 1]), b = Double(picture.planes[0][i + 2])
                            total += abs(Double(luma[x, y]) - (16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255))
                        }
                    }
                }
                let mad = total / Double(frame.width * frame.height)
                #expect(mad < 4, "frame \(frame.index): mean luma difference \(mad) between render and video")
            }
        }
    }

    @Test("runners cross on red and are violations; the amber crossing and the vehicles that stop are not")
    func behaviourAndViolations() throws {
        let spec = try loadSpec(smallJunction())
        let truth = simulatedTruth(spec)
        // Amber 4-6 s, red 6-14 s. The van crosses at about 5 s (amber), the dark car at about 8 s (red).
        let red = truth.violations.filter { $0.rule == "red_light" }
        #expect(red.count == 1, "\(red)")
        let runner = try #require(red.first)
        #expect(runner.lane == 3)
        #expect(abs(runner.timeS - 8.0) < 0.5)
        #expect(abs((runner.timeIntoRedS ?? 0) - (runner.timeS - 6)) < 1e-9)
        let van = try #require(truth.vehicles.first { $0.type == .van })
        #expect(van.stopLine?.phase == .amber)
        // Vehicles in lane 4 obey: none crosses on red.
        for v in truth.vehicles where v.lane == 4 { #expect(v.stopLine?.phase != .red) }
    }

    @Test("an obeying vehicle stops before the line on red and goes on green")
    func stopsAndGoes() throws {
        var spec = try loadSpec(smallJunction())
        spec.video.durationSeconds = 20
        let trajectories = TrafficSimulation(spec: spec).run()
        // The first lane-4 car reaches amber too close to stop within 3.5 m/s² and goes on; the truck behind it stops.
        #expect(trajectories.first { $0.lane == 4 }?.stopLineCrossing.map { SignalSchedule(spec.signal!).phase(at: $0.time) } == .amber)
        let first = try #require(trajectories.first { $0.lane == 4 && $0.type == .truck })
        let stopU = spec.road.stopLineYM! - spec.road.startYM
        let stoppedFrames = first.speed.indices.filter { first.speed[$0] < 0.1 }
        #expect(!stoppedFrames.isEmpty, "the truck must stop for red")
        for k in stoppedFrames {
            #expect(first.front[k] < stopU && first.front[k] > stopU - 3, "stopped at \(first.front[k]), line at \(stopU)")
            let t = Double(first.firstFrame + k) / 25
            #expect(SignalSchedule(spec.signal!).phase(at: t) != .green || t < 14.5, "still standing at \(t) s on green")
        }
        let crossing = try #require(first.stopLineCrossing)
        #expect(SignalSchedule(spec.signal!).phase(at: crossing.time) == .green && crossing.time >= 14)
    }

    @Test("a vehicle at constant speed has that zone speed, exactly")
    func zoneSpeedIsExact() throws {
        let yaml = """
        name: zone
        video: {width: 320, height: 180, fps: 30, duration_s: 6}
        camera: {height_m: 9, tilt_deg: 12, focal_px: 250, x_m: 5}
        road: {lanes: [away, away], start_y_m: -20, length_m: 300}
        speed_zone: {entry_y_m: 25, exit_y_m: 65, limit_kmh: 100}
        vehicles:
          - {type: car, lane: 1, speed_kmh: 123.4, enter_s: -1}
          - {type: truck, lane: 2, speed_kmh: 71, enter_s: -2}
        """
        let spec = try loadSpec(yaml)
        let truth = simulatedTruth(spec)
        let car = try #require(truth.vehicles.first { $0.type == .car })
        #expect(abs((car.zoneSpeedKmh ?? 0) - 123.4) < 0.05, "\(car.zoneSpeedKmh ?? 0)")
        let truck = try #require(truth.vehicles.first { $0.type == .truck })
        #expect(abs((truck.zoneSpeedKmh ?? 0) - 71) < 0.05)
        #expect(truth.violations.map(\.rule) == ["speeding"])
        #expect(truth.violations.first?.thresholdKmh == 113)
    }

    @Test("the same scene renders the same pictures and the same truth")
    func deterministic() throws {
        var spec = try loadSpec(smallJunction(extra: ", shake_px: 1.5, cloud_start_s: 0.2, cloud_duration_s: 1"))
        spec.video.durationSeconds = 2
        let schedule = SignalSchedule(spec.signal!)
        func renderAll() -> ([Picture], [[VehicleInFrame]]) {
            let trajectories = TrafficSimulation(spec: spec).run()
            let renderer = SceneRenderer(spec: spec)
            let frames = (0..<spec.frameCount).map { renderer.render(frame: $0, vehicles: trajectories, phase: schedule.phase(at: Double($0) / 25)) }
            return (frames.map(\.0), frames.map(\.1))
        }
        let (a, ta) = renderAll()
        let (b, tb) = renderAll()
        #expect(a == b)
        #expect(ta == tb)
        // (Byte-identical files across runs of `roadwatch synth` are tested in CommandLineTests.)
    }

    @Test("a passing cloud darkens the scene and it recovers; shake moves the picture")
    func cloudAndShake() throws {
        let spec = try loadSpec(smallJunction(extra: ", shake_px: 2, cloud_start_s: 2, cloud_duration_s: 4, cloud_depth: 0.5"))
        let renderer = SceneRenderer(spec: spec)
        #expect(renderer.illumination(at: 1) == 1)
        #expect(abs(renderer.illumination(at: 4) - 0.5) < 1e-9)
        #expect(renderer.illumination(at: 6.5) == 1)
        func meanLuma(_ frame: Int) -> Double {
            let (p, _) = renderer.render(frame: frame, vehicles: [], phase: .green)
            return Double(p.planes[0].reduce(0) { $0 + Int($1) }) / Double(p.planes[0].count)
        }
        #expect(meanLuma(100) < meanLuma(25) * 0.7)
        let shakes = Set((0..<100).map { renderer.shake(atFrame: $0).0 })
        #expect(shakes.count >= 3 && shakes.allSatisfy { abs($0) <= 2 })
    }

    @Test("scene errors name the file and the key")
    func badScenes() throws {
        #expect(throws: SceneError.self) { try loadSpec("name: x\nvideo: {width: 100}\n") }
        do { _ = try loadSpec("name: x\nvideo: {width: 100}\n") } catch let e as SceneError {
            #expect(e.description.contains("missing key 'video.height'"), "\(e)")
        }
        do { _ = try loadSpec(smallJunction().replacingOccurrences(of: "lane: 4, speed_kmh: 50", with: "lane: 9, speed_kmh: 50")) } catch let e as SceneError {
            #expect(e.description.contains("vehicles[3].lane: 9 is not a lane (1...4)"), "\(e)")
        }
    }
}

/// The truth of a scene's simulation alone, without rendering: every vehicle gets a placeholder box so that it
/// counts as seen (`makeTruth` lists only vehicles that appear in frames).
func simulatedTruth(_ spec: SceneSpec) -> SceneTruth {
    let trajectories = TrafficSimulation(spec: spec).run()
    let placeholder = SceneTruth.FrameBox(frame: 0, box: Box(x: 0, y: 0, width: 1, height: 1), visible: 1, front: Point2(0, 0), speedKmh: 0)
    return SceneSynthesizer.makeTruth(spec, videoFile: "\(spec.name).mp4", frames: spec.frameCount, trajectories: trajectories,
                                      boxes: Dictionary(uniqueKeysWithValues: trajectories.map { ($0.id, [placeholder]) }),
                                      schedule: spec.signal.map(SignalSchedule.init))
}
