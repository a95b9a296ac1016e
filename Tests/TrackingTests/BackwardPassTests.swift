import Foundation
import Testing
import TrafficModel
@testable import Tracking

struct BackwardPassTests {
    /// A vehicle coming toward the camera over 100 frames: small and seen only weakly in frames 0–39 (confidence
    /// 0.2), then confident and growing. `lamps` gives the lamps of a frame; `dark`, whether the detector took it as dark.
    func approaching(dark: Bool = false, lamps: (Int) -> [Box] = { _ in [] }) -> [FrameDetections] {
        (0..<100).map { f in
            let size = 8 + Double(f) * 0.6
            let box = Box(x: 300 - size / 2, y: 100 + Double(f) * 2, width: size, height: size * 0.9)
            return FrameDetections(time: FrameTime(index: f, pts: Double(f) / 25), detections: [Detection(box: box, confidence: f < 40 ? 0.2 : 0.9)],
                                   lamps: lamps(f), dark: dark)
        }
    }

    func forward(_ frames: [FrameDetections]) -> [Track] {
        let tracker = Tracker()
        for f in frames { tracker.update(f) }
        return tracker.finish()
    }

    @Test("a track that began late is extended back over the weak boxes that could not start it, as inferred points")
    func extendsBack() throws {
        let frames = approaching()
        let tracks = forward(frames)
        try #require(tracks.count == 1)
        #expect(tracks[0].points.first?.time.index == 40, "weak detections start no track")
        let pass = BackwardPass(options: TrackerOptions(), calibration: nil, road: nil)
        let (extended, joined, added) = pass.extend(tracks, detections: frames)
        #expect(added == 40 && joined == 0)
        #expect(extended.map(\.id) == tracks.map(\.id))
        let points = extended[0].points
        #expect(points.map(\.time.index) == Array(0..<100), "one point a frame, in order")
        for p in points.prefix(40) {
            #expect(p.shared && !p.coasted, "frame \(p.time.index): inferred, never evidence")
            #expect(p.box == frames[p.time.index].detections[0].box)
            #expect(p.time == frames[p.time.index].time, "the frame's own time, not the mirrored one")
        }
        #expect(Array(points.suffix(60)) == tracks[0].points, "the forward points are untouched")
        // Deterministic.
        #expect(pass.extend(tracks, detections: frames).tracks == extended)
    }

    @Test("no point goes where another track has a box, nor into frames after dark (at dusk, with lamps, it does)")
    func blockedAndDark() throws {
        let frames = approaching()
        var tracks = forward(frames)
        try #require(tracks.count == 1)
        // Another track on the same spot in frames 10–19 (a vehicle the forward pass already follows there).
        let other = Track(id: 99, points: (10..<20).map { TrackPoint(time: frames[$0].time, box: frames[$0].detections[0].box, coasted: false) })
        tracks.append(other)
        let pass = BackwardPass(options: TrackerOptions(), calibration: nil, road: nil)
        let (extended, _, added) = pass.extend(tracks, detections: frames)
        #expect(added == 30)
        #expect(!extended[0].points.contains { (10..<20).contains($0.time.index) })
        #expect(extended[1] == other)
        // The same vehicle after dark: its far boxes are glow, left out.
        let lamp = { (f: Int) in [Box(x: 296, y: 100 + Double(f) * 2, width: 2, height: 2)] }
        let dark = approaching(dark: true, lamps: lamp)
        let night = forward(dark)
        try #require(night.count == 1)
        let (unchanged, _, none) = pass.extend(night, detections: dark)
        #expect(none == 0 && unchanged == night)
        // At dusk the detector finds lamps too, but the frames are not dark: the track is extended as by day.
        let dusk = approaching(lamps: lamp)
        let (_, _, duskAdded) = pass.extend(forward(dusk), detections: dusk)
        #expect(duskAdded > 0)
    }

    @Test("two tracks of one vehicle, one after the other, that the backward track follows through are joined under the first id")
    func joinsFragments() throws {
        // Seen confidently throughout; the forward pass (made by hand here) lost it in frames 40-49.
        let frames = (0..<100).map { f in
            FrameDetections(time: FrameTime(index: f, pts: Double(f) / 25),
                            detections: [Detection(box: Box(x: 200 + Double(f) * 3, y: 150, width: 40, height: 30), confidence: 0.9)])
        }
        func fragment(_ id: Int, _ range: Range<Int>) -> Track {
            Track(id: id, points: range.map { TrackPoint(time: frames[$0].time, box: frames[$0].detections[0].box, coasted: false) })
        }
        let pass = BackwardPass(options: TrackerOptions(), calibration: nil, road: nil)
        let (tracks, joined, added) = pass.extend([fragment(3, 0..<40), fragment(7, 50..<100)], detections: frames)
        #expect(joined == 1 && added == 10)
        try #require(tracks.count == 1)
        #expect(tracks[0].id == 3)
        #expect(tracks[0].points.map(\.time.index) == Array(0..<100))
        #expect(tracks[0].points.filter(\.shared).map(\.time.index) == Array(40..<50), "the gap's points are inferred, the fragments' are not")
        // Fragments that overlap in time are two vehicles as far as this pass knows; one followed for fewer than
        // `minimumMatches` frames (a backward track crossing it) is not joined.
        #expect(pass.extend([fragment(3, 0..<40), fragment(7, 30..<100)], detections: frames).tracks.count == 2)
        #expect(pass.extend([fragment(3, 0..<15), fragment(7, 50..<100)], detections: frames).joined == 0)
    }
}
