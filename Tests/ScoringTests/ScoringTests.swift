import Foundation
import Testing
import TrafficModel
@testable import SceneSynth
@testable import Scoring

/// A hand-made truth: three red-light runners and three speeders, two vehicles with boxes over 20 frames.
func handTruth() -> SceneTruth {
    func violation(_ rule: String, _ vehicle: Int, _ lane: Int, _ t: Double, speed: Double? = nil) -> SceneTruth.Violation {
        .init(rule: rule, vehicle: vehicle, lane: lane, frame: Int(t * 25), timeS: t, timeIntoRedS: rule == "red_light" ? 1 : nil, speedKmh: speed,
              limitKmh: rule == "speeding" ? 100 : nil, thresholdKmh: rule == "speeding" ? 113 : nil)
    }
    func vehicle(_ id: Int, x0: Double) -> SceneTruth.Vehicle {
        .init(id: id, type: .car, lane: 1, direction: .away, behaviour: .obey, color: [0, 0, 0], lengthM: 4.5, widthM: 1.8, heightM: 1.5,
              zoneSpeedKmh: nil, zoneEntryS: nil, zoneExitS: nil, stopLine: nil,
              frames: (0..<20).map { f in .init(frame: f, box: Box(x: x0 + Double(f) * 5, y: 100, width: 40, height: 30), visible: 1, front: Point2(0, 0), speedKmh: 50) })
    }
    return SceneTruth(
        scene: "hand", video: .init(file: "hand.mp4", width: 640, height: 360, fps: 25, frames: 20, startTime: "2026-01-01T00:00:00Z"),
        camera: .init(matrix: [], focalPx: 1, principalPoint: Point2(0, 0), position: Point3(0, 0, 1), tiltDeg: 10, panDeg: 0, rollDeg: 0),
        calibration: [], stopLine: nil, lanes: [], speedZone: nil, signal: nil,
        vehicles: [vehicle(1, x0: 0), vehicle(2, x0: 300)],
        violations: [violation("red_light", 11, 3, 10.0), violation("red_light", 12, 3, 14.5), violation("red_light", 13, 4, 18.2),
                     violation("speeding", 21, 1, 5.0, speed: 128), violation("speeding", 22, 1, 12.0, speed: 140), violation("speeding", 23, 2, 20.0, speed: 124)])
}

let perfect: [ScoredRecord] = [
    ScoredRecord(id: "r1", rule: "red_light", ptsS: 10.04, lane: "3"), ScoredRecord(id: "r2", rule: "red_light", ptsS: 14.5, lane: "3"),
    ScoredRecord(id: "r3", rule: "red_light", ptsS: 18.1, lane: "4"),
    ScoredRecord(id: "s1", rule: "speeding", ptsS: 5.1, lane: "1", speedKmh: 128.4), ScoredRecord(id: "s2", rule: "speeding", ptsS: 12.0, lane: "1", speedKmh: 139.2),
    ScoredRecord(id: "s3", rule: "speeding", ptsS: 19.8, lane: "2", speedKmh: 124.6),
]

struct ViolationScoreTests {
    func rule(_ s: ViolationScore, _ name: String) -> ViolationScore.Rule { s.rules.first { $0.rule == name }! }

    @Test func perfectRecords() {
        let s = ViolationScore.score(records: perfect, truth: handTruth())
        for name in ["red_light", "speeding"] {
            let r = rule(s, name)
            #expect(r.precision == 1 && r.recall == 1 && r.f1 == 1 && r.duplicates == 0 && r.matched == 3)
        }
        let speeding = rule(s, "speeding")
        #expect(abs(speeding.speedErrorMeanKmh! - (0.4 + 0.8 + 0.6) / 3) < 1e-9)
        #expect(abs(speeding.speedErrorMaxKmh! - 0.8) < 1e-9)
    }

    @Test func oneMissing() {
        let s = ViolationScore.score(records: perfect.filter { $0.id != "r2" }, truth: handTruth())
        let r = rule(s, "red_light")
        #expect(r.precision == 1 && abs(r.recall - 2.0 / 3) < 1e-12 && r.missed == 1 && r.missedVehicles == [12])
        #expect(abs(r.f1 - 0.8) < 1e-12)
    }

    @Test func oneFalse() {
        let s = ViolationScore.score(records: perfect + [ScoredRecord(id: "x", rule: "red_light", ptsS: 25, lane: "3")], truth: handTruth())
        let r = rule(s, "red_light")
        #expect(r.recall == 1 && r.precision == 0.75 && r.falsePositives == 1 && r.duplicates == 0 && r.falseRecords == ["x"])
    }

    @Test("a second record for one violation is a duplicate, and a false positive")
    func oneDuplicate() {
        let s = ViolationScore.score(records: perfect + [ScoredRecord(id: "dup", rule: "red_light", ptsS: 10.6, lane: "3")], truth: handTruth())
        let r = rule(s, "red_light")
        #expect(r.duplicates == 1 && r.falsePositives == 1 && r.recall == 1 && r.precision == 0.75)
        #expect(r.matches.first { $0.vehicle == 11 }?.record == "r1", "the closer record is the match")
    }

    @Test("a speed 3 km/h off shows in the speed error")
    func speedOff() {
        var records = perfect
        records[4].speedKmh = 143
        let r = rule(ViolationScore.score(records: records, truth: handTruth()), "speeding")
        #expect(r.precision == 1 && r.recall == 1)
        #expect(abs(r.speedErrorMaxKmh! - 3) < 1e-9 && abs(r.speedErrorP95Kmh! - 3) < 1e-9)
        #expect(r.matches.first { $0.vehicle == 22 }?.speedErrorKmh == 3)
    }

    @Test("wrong lane or too late is no match")
    func laneAndWindow() {
        let s = ViolationScore.score(records: [ScoredRecord(rule: "red_light", ptsS: 10, lane: "4"), ScoredRecord(rule: "red_light", ptsS: 15.6, lane: "3")], truth: handTruth())
        #expect(rule(s, "red_light").matched == 0)
        #expect(rule(ViolationScore.score(records: [ScoredRecord(rule: "red_light", ptsS: 10, lane: "4")], truth: handTruth(), ignoreLane: true), "red_light").matched == 1)
    }
}

struct TrackScoreTests {
    func rows(from truth: SceneTruth, idFor: (Int, Int) -> Int = { id, _ in id }) -> [TrackRow] {
        truth.vehicles.flatMap { v in v.frames.map { TrackRow(frame: $0.frame + 1, id: idFor(v.id, $0.frame), box: $0.box) } }
    }

    @Test func perfectTracks() {
        let s = TrackScore.score(tracks: rows(from: handTruth()), truth: handTruth())
        #expect(s.mota == 1 && s.idf1 == 1 && s.identitySwitches == 0 && s.groundTruthBoxes == 40)
    }

    @Test("an identity switch halfway costs one switch and half of IDF1 for that vehicle")
    func identitySwitch() {
        let s = TrackScore.score(tracks: rows(from: handTruth()) { id, frame in id == 1 && frame >= 10 ? 7 : id }, truth: handTruth())
        #expect(s.identitySwitches == 1)
        #expect(abs(s.mota - (1 - 1.0 / 40)) < 1e-12)
        #expect(abs(s.idf1 - 30.0 / 40) < 1e-12)
    }

    @Test("missing and extra boxes are misses and false positives")
    func missesAndFalse() {
        var tracks = rows(from: handTruth()).filter { !($0.id == 2 && $0.frame <= 5) }
        tracks.append(TrackRow(frame: 3, id: 99, box: Box(x: 600, y: 300, width: 20, height: 20)))
        let s = TrackScore.score(tracks: tracks, truth: handTruth())
        #expect(s.misses == 5 && s.falsePositives == 1 && abs(s.mota - (1 - 6.0 / 40)) < 1e-12)
    }

    @Test("scored in a region, boxes outside it count neither way")
    func region() {
        // Vehicle 1 tracked perfectly, vehicle 2 (right of x = 250) badly: shifted by 25 px, under the IoU threshold.
        let tracks = rows(from: handTruth()).map { r in
            r.id == 2 ? TrackRow(frame: r.frame, id: r.id, box: Box(x: r.box.x + 25, y: r.box.y, width: r.box.width, height: r.box.height)) : r
        }
        let whole = TrackScore.score(tracks: tracks, truth: handTruth())
        #expect(whole.groundTruthBoxes == 40 && whole.misses == 20 && whole.falsePositives == 20)
        var options = TrackScore.Options()
        options.region = { $0.x < 250 }
        let left = TrackScore.score(tracks: tracks, truth: handTruth(), options: options)
        #expect(left.groundTruthBoxes == 20 && left.trackBoxes == 20 && left.mota == 1 && left.idf1 == 1)
    }

    @Test("a shifted box below the IoU threshold does not match")
    func iou() {
        let tracks = rows(from: handTruth()).map { r in TrackRow(frame: r.frame, id: r.id, box: Box(x: r.box.x + 25, y: r.box.y, width: r.box.width, height: r.box.height)) }
        let s = TrackScore.score(tracks: tracks, truth: handTruth())
        #expect(s.matches == 0 && s.mota == 0 - 1)
    }
}

struct AssignmentTests {
    @Test("the Hungarian method finds the cheapest assignment (checked against brute force)")
    func matchesBruteForce() {
        var seed: UInt64 = 7
        func next() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 33) / Double(1 << 31) }
        for (rows, columns) in [(3, 3), (4, 5), (5, 3), (6, 6), (1, 4)] {
            let cost = (0..<rows).map { _ in (0..<columns).map { _ in (next() * 100).rounded() } }
            let assignment = Assignment.minimumCost(cost)
            var total = 0.0
            for (row, column) in assignment.enumerated() { if let column { total += cost[row][column] } }
            #expect(Set(assignment.compactMap { $0 }).count == min(rows, columns))
            #expect(total == bruteForce(cost))
        }
    }

    func bruteForce(_ cost: [[Double]]) -> Double {
        let rows = cost.count, columns = cost[0].count
        var best = Double.infinity
        func search(_ row: Int, _ used: Set<Int>, _ sum: Double, _ assigned: Int) {
            if row == rows {
                if assigned == min(rows, columns) { best = min(best, sum) }
                return
            }
            if rows - row > columns - assigned { search(row + 1, used, sum, assigned) }
            for c in 0..<columns where !used.contains(c) { search(row + 1, used.union([c]), sum + cost[row][c], assigned + 1) }
        }
        search(0, [], 0, 0)
        return best
    }
}
