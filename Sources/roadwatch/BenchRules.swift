import ArgumentParser
import Foundation
import Pipeline
import Rules
import TrafficModel

struct BenchRules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Throughput of the rules core: tracked-box updates per second on one core.",
        discussion: """
            Synthetic tracks of vehicles driving through the motorway sample's camera (boxes projected from vehicle \
            cuboids, with a deterministic 1 px wobble; a signal timeline and a stop line for the red-light rule). \
            Times, on this thread's CPU clock, for --inputs inputs one after another (as a batch run meets them), the \
            columnar table's build (every box's bottom and top projected to the ground), fragment joining, the speed \
            and red-light rules and deduplication; best of --repeats.
            """
    )

    @Option(help: "Tracks per input.")
    var tracks = 200

    @Option(help: "Inputs (files of a batch), evaluated one after another as a run does.")
    var inputs = 100

    @Option(help: "Observed boxes per track.")
    var points = 150

    @Option(help: "Repeats; the best counts.")
    var repeats = 5

    @Option(help: "Write the result into this Markdown file (its rules section is replaced).")
    var markdown: String?

    func run() throws {
        let camera = PinholeCamera(focalPixels: 1500, imageWidth: 1920, imageHeight: 1080, position: Point3(9, 0, 9), tiltDegrees: 12)
        let ground = [Point2(0, 25), Point2(18, 25), Point2(0, 65), Point2(18, 65), Point2(9, 45)]
        let calibration = try Calibration(points: ground.map { CalibrationPoint(image: camera.project(Point3($0.x, $0.y, 0))!, world: $0) })
        func image(_ x: Double, _ y: Double) -> Point2 { camera.project(Point3(x, y, 0))! }
        var speeding = SpeedingRule(limitKmh: 100, tolerancePercent: 10, toleranceKmh: 3, entry: Segment(image(0, 25), image(18, 25)),
                                    exit: Segment(image(0, 65), image(18, 65)))
        speeding.bands = [SeverityBand(band: "A", fromKmh: 0), SeverityBand(band: "B", fromKmh: 20)]
        var lanes: [Lane] = []
        for k in 0..<5 {
            let x0: Double = Double(k) * 3.6, x1: Double = x0 + 3.6
            let corners: [Point2] = [image(x0, 8), image(x1, 8), image(x1, 140), image(x0, 140)]
            lanes.append(Lane(id: "\(k + 1)", polygon: Polygon(corners)))
        }
        let red = RedLightRule(stopLine: Segment(image(0, 45), image(18, 45)), approach: .away, graceSeconds: 0.3, minimumSpeedKmh: 10)
        let rules = RuleSet(calibration: calibration, lanes: lanes, speeding: speeding, redLight: red, dedupWindowSeconds: 2)
        let period = 60.0
        var phases: [PhaseInterval] = []
        var t = 0.0
        while t < Double(tracks) * 0.5 + 100 {
            phases += [PhaseInterval(phase: .green, start: t, end: t + 27), PhaseInterval(phase: .amber, start: t + 27, end: t + 30),
                       PhaseInterval(phase: .red, start: t + 30, end: t + period)]
            t += period
        }
        let timeline = PhaseTimeline(phases)

        // Vehicles every 0.5 s, 60–150 km/h, in lanes 3–5, driving away from 15 m.
        var state: UInt64 = 0x1234_5678
        func random() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var batch: [[Track]] = []
        for _ in 0..<inputs {
        var input: [Track] = []
        input.reserveCapacity(tracks)
        for k in 0..<tracks {
            let kmh = 60 + 90 * random(), x = 9 + 3.6 * Double(k % 3), t0 = Double(k) * 0.5
            var pts: [TrackPoint] = []
            pts.reserveCapacity(points)
            for i in 0..<points {
                let time = t0 + Double(i) / 30
                let front = 15 + kmh / 3.6 * Double(i) / 30
                guard let a = camera.project(Point3(x - 0.9, front, 1.5)), let b = camera.project(Point3(x + 0.9, front - 4.5, 0)) else { break }
                let w = (random() - 0.5) * 2
                pts.append(TrackPoint(time: FrameTime(index: Int(time * 30), pts: time),
                                      box: Box(x: min(a.x, b.x) + w, y: a.y + w, width: abs(b.x - a.x), height: b.y - a.y), coasted: false))
            }
            input.append(Track(id: k + 1, points: pts))
        }
        batch.append(input)
        }
        let boxes = batch.reduce(0) { $0 + $1.reduce(0) { $0 + $1.points.count } }
        let engine = RuleEngine(rules: rules)
        var best = Double.infinity
        var events = 0
        var stats = RuleStats()
        for _ in 0..<max(1, repeats) {
            let start = CPUClock.thread()
            var count = 0
            for input in batch {
                let result = engine.evaluate(tracks: input, timeline: timeline)
                count += result.events.count
                stats = result.stats
            }
            best = min(best, CPUClock.thread() - start)
            events = count
        }
        // Where the time goes: the tables' build (projection) against the whole.
        let t0 = CPUClock.thread()
        for input in batch { _ = TrackTable(tracks: input, calibration: calibration) }
        let build = CPUClock.thread() - t0
        print(String(format: "table build (projection) %.0f ms of %.0f ms; joining, rules and dedup the rest", build * 1000, best * 1000))
        let rate = Double(boxes) / best
        let line = String(format: "| %d × %d | %d | %.3f | %.1f | %d |", inputs, tracks, boxes, best * 1000, rate / 1e6, events)
        let table = [
            "Measured \(DecodeBenchmark.timestamp()) at commit \(DecodeBenchmark.commit()) on \(DecodeBenchmark.machine()); one core, best of \(repeats).",
            "",
            "| inputs × tracks | tracked boxes | CPU ms | million box updates per second | violations |",
            "|---:|---:|---:|---:|---:|",
            line,
        ].joined(separator: "\n")
        print(table)
        print("rules: zone speeds \(stats.zoneSpeeds), stop-line crossings \(stats.stopLineCrossings), fragments joined \(stats.fragmentsJoined)")
        if let markdown {
            try DecodeBenchmark.replaceSection(in: markdown, name: "rules", with: table)
            print("wrote \(markdown)")
        }
    }
}
