import Foundation
import Testing
import TrafficModel
@testable import Rules

/// A camera and a road to drive synthetic vehicles on: boxes come from projecting a vehicle-sized cuboid through a
/// pinhole camera, so their top and bottom edges behave as real ones do (the top of a vehicle driving away projects
/// beyond its front).
struct Site {
    let camera: PinholeCamera
    let calibration: Calibration
    let fps: Double

    /// The junction sample's camera: 7.5 m up a pole at x = 12.5 m, tilted 13° down; a stop line at y = 38 m.
    static let junction = Site(camera: PinholeCamera(focalPixels: 1000, imageWidth: 1280, imageHeight: 720,
                                                     position: Point3(12.5, 0, 7.5), tiltDegrees: 13, panDegrees: -4), fps: 25)
    /// The motorway sample's camera: 9 m up, tilted 12°, a 1500 px lens on 1920×1080; speed zone 25–65 m.
    static let motorway = Site(camera: PinholeCamera(focalPixels: 1500, imageWidth: 1920, imageHeight: 1080,
                                                     position: Point3(9, 0, 9), tiltDegrees: 12), fps: 30)

    init(camera: PinholeCamera, fps: Double) {
        self.camera = camera
        self.fps = fps
        let ground = [Point2(0, 20), Point2(18, 20), Point2(0, 60), Point2(18, 60), Point2(9, 40)]
        calibration = try! Calibration(points: ground.map { CalibrationPoint(image: camera.project(Point3($0.x, $0.y, 0))!, world: $0) })
    }

    func image(_ x: Double, _ y: Double) -> Point2 { camera.project(Point3(x, y, 0))! }
    func segment(y: Double, from x0: Double, to x1: Double) -> Segment { Segment(image(x0, y), image(x1, y)) }
    func lane(_ id: String, x0: Double, x1: Double, exempt: Set<RuleKind> = []) -> Lane {
        Lane(id: id, polygon: Polygon([image(x0, 0.5), image(x1, 0.5), image(x1, 150), image(x0, 150)]), exempt: exempt)
    }

    /// A vehicle of `length` × 1.8 × 1.5 m centred on `x`, whose front is at `front(t)` (metres along y) and which
    /// drives toward +y (`away`) or −y; boxes from `t0` to `t1`, with a deterministic ±`jitter` px wobble.
    func track(id: Int, x: Double, length: Double = 4.5, away: Bool = true, from t0: Double, to t1: Double,
               jitter: Double = 0.8, frameOffset: Int = 0, front: (Double) -> Double) -> Track {
        var points: [TrackPoint] = []
        var f = Int((t0 * fps).rounded(.up))
        var state: UInt64 = UInt64(id) &* 0x9E37_79B9_7F4A_7C15
        func wobble() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Double(state >> 11) / Double(1 << 53) * 2 - 1) * jitter
        }
        while Double(f) / fps <= t1 {
            let t = Double(f) / fps
            let y0 = front(t), y1 = away ? y0 - length : y0 + length
            var corners: [Point2] = []
            for yy in [y0, y1] { for xx in [x - 0.9, x + 0.9] { for z in [0.0, 1.5] { camera.project(Point3(xx, yy, z)).map { corners.append($0) } } } }
            // Only while the whole vehicle is in front of the camera and in the picture.
            guard corners.count == 8, let b = Box(bounding: corners), b.x >= 0, b.y >= 0,
                  b.maxX <= Double(camera.imageWidth), b.maxY <= Double(camera.imageHeight) else { f += 1; continue }
            points.append(TrackPoint(time: FrameTime(index: f + frameOffset, pts: t),
                                     box: Box(x: b.x + wobble(), y: b.y + wobble(), width: b.width + wobble(), height: b.height + wobble()), coasted: false))
            f += 1
        }
        return Track(id: id, points: points)
    }
}

/// Signal: green to 6 s, amber 6–9 s, red 9–21 s, green after.
let junctionTimeline = PhaseTimeline([
    PhaseInterval(phase: .green, start: 0, end: 6), PhaseInterval(phase: .amber, start: 6, end: 9),
    PhaseInterval(phase: .red, start: 9, end: 21), PhaseInterval(phase: .green, start: 21, end: 40),
])

func junctionRules(_ site: Site = .junction, approach: Approach = .away, grace: Double = 0.3, minimumSpeed: Double = 10) -> RuleSet {
    RuleSet(calibration: site.calibration,
            lanes: [site.lane("1", x0: 0, x1: 3.5), site.lane("2", x0: 3.5, x1: 7), site.lane("3", x0: 7, x1: 10.5),
                    site.lane("4", x0: 10.5, x1: 14, exempt: [.redLight])],
            speeding: nil,
            redLight: RedLightRule(stopLine: site.segment(y: 38, from: approach == .away ? 7 : 0, to: approach == .away ? 14 : 7),
                                   approach: approach, graceSeconds: grace, minimumSpeedKmh: minimumSpeed),
            dedupWindowSeconds: 2)
}

/// Constant speed (km/h) with the front at `y` metres at time `at`.
func cruise(_ kmh: Double, at: Double, y: Double, away: Bool = true) -> @Sendable (Double) -> Double {
    { t in y + (away ? 1 : -1) * kmh / 3.6 * (t - at) }
}

struct RedLightTableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var approach: Approach = .away
        var lane: Double = 8.75
        var from: Double
        var to: Double
        var front: @Sendable (Double) -> Double
        var expected: Int
        var testDescription: String { name }
    }

    /// Front at 37.5 m (half a metre before the line) from 12 s, then off again at 21.5 s.
    static let stopThenGo: @Sendable (Double) -> Double = { t in
        let v = 50 / 3.6, brake = 3.0
        let stopAt = 12.0, tStart = stopAt - v / brake
        if t < tStart { return 37.5 - v * v / (2 * brake) - v * (tStart - t) }
        if t < stopAt { let s = stopAt - t; return 37.5 - brake * s * s / 2 }
        if t < 21.5 { return 37.5 }
        let s = t - 21.5
        return 37.5 + 1.5 * s * s
    }

    static let cases: [Case] = [
        Case(name: "stops at the line on red, goes on green: none", from: 4, to: 26, front: stopThenGo, expected: 0),
        Case(name: "creeps over the line on red at 3 km/h: none", approach: .toward, lane: 5.25, from: 13, to: 17,
             front: cruise(3, at: 15, y: 38, away: false), expected: 0),
        Case(name: "crosses on amber at 50 km/h: none", from: 4, to: 11, front: cruise(50, at: 7.5, y: 38), expected: 0),
        Case(name: "crosses on amber, clears the junction on red: none", from: 5, to: 12, front: cruise(40, at: 8.7, y: 38), expected: 0),
        Case(name: "toward: crosses at red + 0.2 s with 0.3 s grace: none", approach: .toward, lane: 5.25, from: 6, to: 12,
             front: cruise(50, at: 9.2, y: 38, away: false), expected: 0),
        Case(name: "toward: crosses at red + 0.5 s: one", approach: .toward, lane: 5.25, from: 6, to: 12,
             front: cruise(50, at: 9.5, y: 38, away: false), expected: 1),
        Case(name: "away: crosses at red + 0.5 s, front hidden: none (window reaches into amber)", from: 6, to: 12,
             front: cruise(50, at: 9.5, y: 38), expected: 0),
        Case(name: "away: crosses at red + 2 s: one", from: 7, to: 14, front: cruise(50, at: 11, y: 38), expected: 1),
        Case(name: "runner in an exempt lane: none", lane: 12.25, from: 7, to: 14, front: cruise(50, at: 11, y: 38), expected: 0),
        Case(name: "track starts past the line: none", from: 12, to: 16, front: cruise(50, at: 11, y: 38), expected: 0),
        Case(name: "reversing back over the line on red: none", from: 12, to: 18, front: cruise(6, at: 15, y: 38, away: false), expected: 0),
        Case(name: "crosses on green: none", from: 0, to: 6, front: cruise(50, at: 3, y: 38), expected: 0),
    ]

    @Test("red-light decisions", arguments: cases)
    func decide(_ c: Case) {
        let site = Site.junction
        let track = site.track(id: 1, x: c.lane, away: c.approach == .away, from: c.from, to: c.to, front: c.front)
        let engine = RuleEngine(rules: junctionRules(approach: c.approach))
        let (events, stats) = engine.evaluate(tracks: [track], timeline: junctionTimeline)
        #expect(events.count == c.expected, "\(stats)")
        #expect(events.allSatisfy { $0.rule == .redLight })
    }

    @Test("a runner's record carries onset, time into red, amber, lane, speed and a window holding the true crossing")
    func recordFields() throws {
        let site = Site.junction
        let track = site.track(id: 7, x: 8.75, from: 7, to: 14, front: cruise(50, at: 11, y: 38))
        let (events, _) = RuleEngine(rules: junctionRules()).evaluate(tracks: [track], timeline: junctionTimeline)
        let e = try #require(events.first)
        let signal = try #require(e.signal)
        #expect(signal.redOnsetS == 9)
        #expect(signal.amberS == 3)
        #expect(e.lane == "3")
        #expect(abs(e.speedKmh! - 50) < 1.5)
        // The true front crossing (11 s) lies in the window; the window is under a second long at 50 km/h.
        #expect(signal.crossingWindowS[0] <= 11 && 11 <= signal.crossingWindowS[1])
        #expect(signal.crossingWindowS[1] - signal.crossingWindowS[0] < 1.2)
        #expect(abs(signal.timeIntoRedS - (signal.crossingWindowS[0] - 9)) < 1e-3)
        #expect(e.pts == signal.crossingWindowS[0])
        #expect(e.evidence.map(\.kind) == ["still_before", "still_after"])
        #expect(e.evidence[0].pts < 11 && e.evidence[1].pts > 11)
    }

    @Test("a runner seen only as the strip of its bumper (a piece of the vehicle) is refused; seen whole, it is one record")
    func pieceOfAVehicle() throws {
        let site = Site.junction
        let whole = site.track(id: 3, x: 8.75, from: 7, to: 14, front: cruise(50, at: 11, y: 38))
        // The bottom quarter of the same vehicle's box: its front edge lies inside the vehicle, so it crosses the
        // line later than the front does and would add time into red.
        let strip = Track(id: 4, points: whole.points.map { p in
            var q = p
            q.box = Box(x: p.box.x, y: p.box.maxY - p.box.width / 4, width: p.box.width, height: p.box.width / 4)
            return q
        })
        let engine = RuleEngine(rules: junctionRules())
        let (events, stats) = engine.evaluate(tracks: [strip], timeline: junctionTimeline)
        #expect(events.isEmpty && stats.boxNotWhole == 1, "\(stats)")
        let (wholeEvents, wholeStats) = engine.evaluate(tracks: [whole], timeline: junctionTimeline)
        #expect(wholeEvents.count == 1 && wholeStats.boxNotWhole == 0)
    }

    @Test("the speed at the line comes from the whole-vehicle boxes and carries its uncertainty; a lost lower body does not speed it up")
    func speedFromWholeBoxes() throws {
        let site = Site.junction
        let whole = site.track(id: 5, x: 8.75, from: 7, to: 14, front: cruise(50, at: 11, y: 38))
        // At dusk a dark car's lower body comes and goes: around the line, two frames in three show only its roof,
        // whose bottom edge lies metres ahead of the rear. More and more of them as it drives away.
        let flicker = Track(id: 6, points: whole.points.enumerated().map { k, p in
            var q = p
            if p.time.pts > 10.8 && k % 3 != 0 { q.box = Box(x: p.box.x, y: p.box.y, width: p.box.width, height: p.box.width * 0.3) }
            return q
        })
        let engine = RuleEngine(rules: junctionRules())
        for track in [whole, flicker] {
            let (events, stats) = engine.evaluate(tracks: [track], timeline: junctionTimeline)
            let e = try #require(events.first, "\(stats)")
            let u = try #require(e.speedUncertaintyKmh)
            #expect(abs(e.speedKmh! - 50) <= u && u < 5, "track \(track.id): \(e.speedKmh!) ± \(u)")
        }
        // Under the shaking camera a motorcycle's box held only its rider for its last frames: still at least half as
        // tall as wide, but its bottom edge metres ahead of the rear. The line through them reads fast; leaving any
        // quarter of the boxes out moves it, and the uncertainty carries that.
        let rider = Track(id: 7, points: whole.points.map { p in
            var q = p
            if p.time.pts > 11.45 { q.box = Box(x: p.box.x, y: p.box.y, width: p.box.width, height: max(0.5 * p.box.width, 0.6 * p.box.height)) }
            return q
        })
        let biased = try #require(engine.evaluate(tracks: [rider], timeline: junctionTimeline).events.first)
        let u = try #require(biased.speedUncertaintyKmh)
        #expect(biased.speedKmh! - 50 > 0.1 * 50 && abs(biased.speedKmh! - 50) <= u, "\(biased.speedKmh!) ± \(u)")
        // A crawl measured above the minimum, but not surely, is no record.
        let crawl = site.track(id: 8, x: 8.75, from: 9, to: 16, front: cruise(11.5, at: 12, y: 38))
        let measured = try #require(RuleEngine(rules: junctionRules(minimumSpeed: 10)).evaluate(tracks: [crawl], timeline: junctionTimeline).events.first)
        #expect(measured.speedKmh! > 11 && measured.speedKmh! - measured.speedUncertaintyKmh! < 11, "\(measured.speedKmh!) ± \(measured.speedUncertaintyKmh!)")
        let (slow, stats) = RuleEngine(rules: junctionRules(minimumSpeed: 11)).evaluate(tracks: [crawl], timeline: junctionTimeline)
        #expect(slow.isEmpty && stats.crossedTooSlow == 1, "\(stats)")
    }

    @Test("two cars running the same red 1.5 s apart in one lane at one speed are two records; one car tracked twice is one")
    func platoon() throws {
        let site = Site.junction
        let first = site.track(id: 1, x: 8.75, from: 8, to: 14, front: cruise(50, at: 11, y: 38))
        let second = site.track(id: 2, x: 8.75, from: 8, to: 15, front: cruise(50, at: 12.5, y: 38))
        let engine = RuleEngine(rules: junctionRules())
        let (both, stats) = engine.evaluate(tracks: [first, second], timeline: junctionTimeline)
        #expect(both.count == 2 && stats.duplicatesMerged == 0, "\(stats)")
        // The first car again, as a second track (a detector that found it twice): one record.
        let again = Track(id: 3, points: first.points.map { p in var q = p; q.box.x += 2; return q })
        let (once, onceStats) = engine.evaluate(tracks: [first, again], timeline: junctionTimeline)
        #expect(once.count == 1 && onceStats.duplicatesMerged == 1, "\(onceStats)")
    }

    @Test("a track whose crossing window holds a wait (a car stopped before the line, then one beyond it) is refused")
    func jumpOverTheLine() throws {
        let site = Site.junction
        // A car that stops 3 m before the line at 12 s and waits there, and another 25 m beyond the line driving on
        // at 50 km/h; at 15 s (on red) the first car's track takes the second car's boxes (an identity switch).
        let stopped = site.track(id: 5, x: 8.75, from: 8, to: 15, front: { t in t < 12 ? 35 - 50 / 3.6 * (12 - t) / 2 : 35 })
        let beyond = site.track(id: 6, x: 8.75, from: 15.04, to: 17, front: cruise(50, at: 15.04, y: 63))
        let jumped = Track(id: 5, points: stopped.points + beyond.points)
        let (events, stats) = RuleEngine(rules: junctionRules()).evaluate(tracks: [jumped], timeline: junctionTimeline)
        #expect(events.isEmpty, "\(events.map { ($0.pts, $0.speedKmh ?? -1) }) \(stats)")
        #expect(stats.crossedTooSlow == 1)
    }

    @Test("a runner unseen for 0.6 s around the line (coasting through an occlusion, or only inside another vehicle's blob) is refused; seen throughout, one record")
    func unseenAtTheLine() throws {
        let site = Site.junction
        let seen = site.track(id: 8, x: 8.75, from: 7, to: 14, front: cruise(50, at: 11, y: 38))
        let unseen = Track(id: 8, points: seen.points.filter { $0.time.pts < 10.6 || $0.time.pts > 11.6 })
        let engine = RuleEngine(rules: junctionRules())
        let (events, stats) = engine.evaluate(tracks: [unseen], timeline: junctionTimeline)
        #expect(events.isEmpty && stats.crossedUnseen == 1, "\(stats)")
        #expect(engine.evaluate(tracks: [seen], timeline: junctionTimeline).events.count == 1)
        // The tracker's shared boxes (the car inside one blob with another, its box inferred) are not sightings either.
        let shared = Track(id: 8, points: seen.points.map { p in
            TrackPoint(time: p.time, box: p.box, coasted: false, shared: p.time.pts >= 10.6 && p.time.pts <= 11.6)
        })
        let (none, sharedStats) = engine.evaluate(tracks: [shared], timeline: junctionTimeline)
        #expect(none.isEmpty && sharedStats.crossedUnseen == 1, "\(sharedStats)")
    }

    @Test("with the minimum speed lowered, the creeping vehicle is flagged: the creep rule is what spares it")
    func creepIsTheReason() {
        let site = Site.junction
        let track = site.track(id: 1, x: 5.25, away: false, from: 13, to: 17, front: cruise(3, at: 15, y: 38, away: false))
        let (events, stats) = RuleEngine(rules: junctionRules(approach: .toward, minimumSpeed: 1)).evaluate(tracks: [track], timeline: junctionTimeline)
        #expect(events.count == 1)
        let (none, stats2) = RuleEngine(rules: junctionRules(approach: .toward)).evaluate(tracks: [track], timeline: junctionTimeline)
        #expect(none.isEmpty && stats2.crossedTooSlow == 1 && stats.crossedTooSlow == 0)
    }
}

func motorwayRules(limit: Double = 100) -> RuleSet {
    let site = Site.motorway
    var rule = SpeedingRule(limitKmh: limit, tolerancePercent: 10, toleranceKmh: 3,
                            entry: site.segment(y: 25, from: 0, to: 18), exit: site.segment(y: 65, from: 0, to: 18))
    rule.bands = [SeverityBand(band: "A", fromKmh: 0), SeverityBand(band: "B", fromKmh: 20), SeverityBand(band: "C", fromKmh: 40)]
    return RuleSet(calibration: site.calibration,
                   lanes: (0..<5).map { site.lane("\($0 + 1)", x0: Double($0) * 3.6, x1: Double($0 + 1) * 3.6) },
                   speeding: rule, redLight: nil, dedupWindowSeconds: 2)
}

struct SpeedingTableTests {
    let site = Site.motorway

    func measure(_ kmh: Double, away: Bool = true, lane: Double = 9) -> [RuleEvent] {
        let y0 = away ? 10.0 : 80.0
        let track = site.track(id: 3, x: lane, away: away, from: 0, to: 70 / (kmh / 3.6), front: cruise(kmh, at: 0, y: y0, away: away))
        return RuleEngine(rules: motorwayRules()).evaluate(tracks: [track], timeline: nil).events
    }

    @Test("zone speed is within its uncertainty of the truth, and the uncertainty is small")
    func accuracy() throws {
        for kmh in [60.0, 100, 130, 160] {
            let track = site.track(id: 1, x: 9, from: 0, to: 70 / (kmh / 3.6), front: cruise(kmh, at: 0, y: 10))
            var rules = motorwayRules(limit: 30)
            rules.speeding!.bands = []
            let e = try #require(RuleEngine(rules: rules).evaluate(tracks: [track], timeline: nil).events.first)
            let u = try #require(e.speedUncertaintyKmh)
            #expect(abs(e.speedKmh! - kmh) <= u, "\(kmh): measured \(e.speedKmh!) ± \(u)")
            #expect(u < 0.03 * kmh + 1)
        }
    }

    @Test("a box whose top comes and goes is measured from its bottom; one whose width jumps is refused")
    func shapeChanges() throws {
        let kmh = 130.0
        let track = site.track(id: 1, x: 9, from: 0, to: 70 / (kmh / 3.6), front: cruise(kmh, at: 0, y: 10))
        func edited(_ change: (inout Box) -> Void) -> Track {
            // From the middle of the zone on, every other box changes shape (a rider's head lost and found).
            Track(id: 1, points: track.points.enumerated().map { i, p in
                var p = p
                if i > track.points.count / 2 && i % 2 == 0 { change(&p.box) }
                return p
            })
        }
        let topLost = edited { b in b.y += b.height / 2; b.height /= 2 }
        let e = try #require(RuleEngine(rules: motorwayRules()).evaluate(tracks: [topLost], timeline: nil).events.first)
        #expect(abs(e.speedKmh! - kmh) <= e.speedUncertaintyKmh!)
        let widened = edited { b in b.width *= 1.6 }
        let result = RuleEngine(rules: motorwayRules()).evaluate(tracks: [widened], timeline: nil)
        #expect(result.events.isEmpty)
        #expect(result.stats.boxUnsteady == 1)
    }

    @Test("boxes that jitter by more than the quantisation (an upstream detector's) are measured from all the frames around each line, within their uncertainty")
    func jitteryBoxes() throws {
        let kmh = 130.0
        var measured: [(id: Int, speed: Double, uncertainty: Double)] = []
        for id in 1...40 {
            // Each edge off by up to ±3.5 px in every frame (the bottom edge by up to 7): the quantisation is 1 px.
            let track = site.track(id: id, x: 9, from: 0, to: 70 / (kmh / 3.6), jitter: 3.5, front: cruise(kmh, at: 0, y: 10))
            let e = RuleEngine(rules: motorwayRules()).evaluate(tracks: [track], timeline: nil).events.first
            if let e { measured.append((id, e.speedKmh!, e.speedUncertaintyKmh!)) }
        }
        // Every speed measured lies within its uncertainty of the truth: at most 0.55 of it, all 40 measured (before:
        // 2 of 40 outside it, by up to 1.84 times, when a crossing fell back to the two frames bracketing the line and
        // the spread was taken from the frames within the quantisation's tolerance alone). It stays under 5 %.
        #expect(measured.count >= 36, "\(measured.count) of 40 measured")
        let outside = measured.filter { abs($0.speed - kmh) > $0.uncertainty }
        #expect(outside.isEmpty, "\(outside)")
        #expect(measured.allSatisfy { $0.uncertainty < 0.05 * kmh }, "\(measured.map(\.uncertainty).max() ?? 0)")
    }

    @Test("a box that loses its bottom rows for a frame now and then near a line is measured from the frames that kept them")
    func bottomRowsLost() throws {
        // The motorway sample's distant motorcycle at the analysis scale (shrunk by 4, edges quantised to 2 px): in
        // a third of the frames after the exit line its thin wheel is lost and the box's bottom rises by 8 px.
        let kmh = 135.0
        let track = site.track(id: 1, x: 9, length: 2.1, from: 0, to: 70 / (kmh / 3.6), front: cruise(kmh, at: 0, y: 10))
        let rearAtExit = (65 + 2.1 - 10) / (kmh / 3.6)
        let lost = Track(id: 1, points: track.points.enumerated().map { i, p in
            var p = p
            if p.time.pts > rearAtExit && p.time.pts < rearAtExit + 0.3 && i % 3 == 0 { p.box.height -= 8 }
            return p
        })
        var rules = motorwayRules()
        rules.boxJitterPixels = 2
        let e = try #require(RuleEngine(rules: rules).evaluate(tracks: [lost], timeline: nil).events.first)
        // Measured: 135.34 ± 4.47 km/h, the steady track 135.20 (plain least-squares crossings: 136.93 ± 6.08).
        #expect(abs(e.speedKmh! - kmh) <= 0.5, "measured \(e.speedKmh!) ± \(e.speedUncertaintyKmh!)")
        let steady = try #require(RuleEngine(rules: rules).evaluate(tracks: [track], timeline: nil).events.first)
        #expect(abs(e.speedKmh! - steady.speedKmh!) <= 0.3, "steady \(steady.speedKmh!)")
    }

    @Test("one track over two vehicles (an identity switch mid-zone from a car at 90 km/h to one at 140 ahead of it) gives no speed")
    func switchBetweenVehicles() throws {
        // The first car (90 km/h, under the 113 km/h threshold) enters the zone; halfway its track takes over a faster
        // car 12 m ahead in the same lane. Entry timed on one, exit on the other: the zone speed would be neither's.
        let slow = site.track(id: 1, x: 9, from: 0, to: 1.6, front: cruise(90, at: 0, y: 10))
        let fast = site.track(id: 1, x: 9, from: 1.64, to: 3, front: cruise(140, at: 1.64, y: 10 + 90 / 3.6 * 1.64 + 12))
        let switched = Track(id: 1, points: slow.points + fast.points)
        let (events, stats) = RuleEngine(rules: motorwayRules()).evaluate(tracks: [switched], timeline: nil)
        #expect(events.isEmpty, "\(events.map { ($0.speedKmh ?? -1, $0.speedUncertaintyKmh ?? -1) }) \(stats)")
        #expect(stats.zoneSpeeds == 0 && stats.speedInconsistent + stats.boxUnsteady == 1, "\(stats)")
    }

    @Test("exactly at the threshold: none; above it by more than the uncertainty: one")
    func threshold() throws {
        #expect(measure(113).isEmpty)
        // The uncertainty at this speed, from a clear speeder's record.
        let u = try #require(measure(130).first?.speedUncertaintyKmh)
        #expect(measure(113 + u * 0.5).isEmpty)
        let above = measure(113 + u + 1)
        #expect(above.count == 1)
        #expect(above.first?.severity?.band == "A")
    }

    @Test("severity band by the certain excess over the limit")
    func bands() {
        #expect(measure(130).first?.severity?.band == "B")
        #expect(measure(150).first?.severity?.band == "C")
        let e = measure(130).first!
        #expect(abs(e.severity!.excessKmh! - (e.speedKmh! - e.speedUncertaintyKmh! - 100)) < 0.011)
    }

    @Test("a speeder toward the camera is measured too, timed at the later line")
    func toward() throws {
        let e = try #require(measure(132, away: false, lane: 5.4).first)
        #expect(abs(e.speedKmh! - 132) <= e.speedUncertaintyKmh!)
        #expect(e.lane == "2")
        #expect(abs(e.pts - (80 - 25) / (132 / 3.6)) < 0.05)
    }

    @Test("a track that does not cover the zone gives no speed")
    func notCovered() {
        let track = site.track(id: 1, x: 9, from: 0, to: 1, front: cruise(140, at: 0, y: 30))
        let (events, stats) = RuleEngine(rules: motorwayRules()).evaluate(tracks: [track], timeline: nil)
        #expect(events.isEmpty && stats.zoneNotCovered == 1)
    }

    @Test("an identity switch mid-zone (an occlusion) gives one record over both fragments")
    func idSwitch() throws {
        let whole = site.track(id: 1, x: 9, from: 0, to: 2.5, front: cruise(130, at: 0, y: 10))
        let a = Track(id: 1, points: whole.points.filter { $0.time.pts < 1.2 })
        let b = Track(id: 2, points: whole.points.filter { $0.time.pts > 1.5 })
        let (events, stats) = RuleEngine(rules: motorwayRules()).evaluate(tracks: [a, b], timeline: nil)
        #expect(events.count == 1, "\(stats)")
        #expect(events.first?.tracks == [1, 2])
        #expect(stats.fragmentsJoined == 1)
        #expect(abs(events.first!.speedKmh! - 130) <= events.first!.speedUncertaintyKmh!)
        // Two vehicles in different lanes are not joined.
        let c = site.track(id: 3, x: 12.6, from: 1.5, to: 2.5, front: cruise(130, at: 0, y: 10))
        #expect(RuleEngine(rules: motorwayRules()).evaluate(tracks: [a, c], timeline: nil).stats.fragmentsJoined == 0)
    }

    @Test("two cars side by side, or one behind the other, at one speed are two records even where one lane polygon holds the whole carriageway")
    func sideBySideInOneLane() {
        var rules = motorwayRules()
        rules.lanes = [site.lane("all", x0: 0, x1: 18)]
        // Cars 1.8 m wide, 3.6 m apart (centre to centre), passing together at 130 km/h.
        let a = site.track(id: 1, x: 5.4, from: 0, to: 2.5, front: cruise(130, at: 0, y: 10))
        let b = site.track(id: 2, x: 9, from: 0, to: 2.5, jitter: 1.2, front: cruise(130, at: 0.1, y: 10))
        let (events, stats) = RuleEngine(rules: rules).evaluate(tracks: [a, b], timeline: nil)
        #expect(events.count == 2 && stats.duplicatesMerged == 0, "\(stats)")
        #expect(events.map(\.tracks) == [[1], [2]])
        // One behind the other in one lane, 1.3 s apart: two cars, two records (their speeds agree, and within the
        // dedup window).
        let follower = site.track(id: 4, x: 5.4, from: 1.3, to: 3.8, front: cruise(130, at: 1.3, y: 10))
        let (queue, queueStats) = RuleEngine(rules: rules).evaluate(tracks: [a, follower], timeline: nil)
        #expect(queue.count == 2 && queueStats.duplicatesMerged == 0, "\(queueStats)")
        // One car found twice, its second box shifted by a third of its width, is still one record.
        let again = Track(id: 3, points: a.points.map { p in var q = p; q.box.x += q.box.width / 3; return q })
        let (once, onceStats) = RuleEngine(rules: rules).evaluate(tracks: [a, again], timeline: nil)
        #expect(once.count == 1 && onceStats.duplicatesMerged == 1, "\(onceStats)")
    }

    @Test("two detections of one vehicle (overlapping tracks) give one record")
    func doubleDetection() {
        let a = site.track(id: 1, x: 9, from: 0, to: 2.5, front: cruise(130, at: 0, y: 10))
        let b = site.track(id: 2, x: 9.1, from: 0, to: 2.5, jitter: 1.2, front: cruise(130, at: 0, y: 10))
        let (events, stats) = RuleEngine(rules: motorwayRules()).evaluate(tracks: [a, b], timeline: nil)
        #expect(events.count == 1 && stats.duplicatesMerged == 1)
        #expect(events.first?.tracks == [1, 2])
    }

    @Test("the same tracks give the same events, whatever their order")
    func deterministic() {
        var tracks: [Track] = []
        for k in 0..<6 {
            let x: Double = 1.8 + 3.6 * Double(k % 5)
            let kmh: Double = 100 + Double(k) * 7
            tracks.append(site.track(id: k + 1, x: x, from: 0, to: 3, front: cruise(kmh, at: Double(k) * 0.1, y: 5)))
        }
        let engine = RuleEngine(rules: motorwayRules())
        let one = engine.evaluate(tracks: tracks, timeline: nil).events
        let two = engine.evaluate(tracks: tracks.reversed(), timeline: nil).events
        #expect(one == two)
        #expect(!one.isEmpty)
    }
}
