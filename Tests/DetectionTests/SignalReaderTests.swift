import Foundation
import Testing
import TrafficModel
import VideoIO
@testable import Detection
@testable import SceneSynth

struct SignalReaderTests {
    @Test("phase onsets read from the samples' lamps are within one frame of the truth", arguments: ["junction-day", "junction-night"])
    func samples(_ clip: String) throws {
        let truth = try SceneTruth.load(sample("\(clip).truth.json"))
        let signal = try #require(truth.signal)
        let lamps = signal.lamps.map { LampRegion(phase: SignalPhase(rawValue: $0.key)!, center: $0.value, radius: signal.lampRadiusPx) }
        let reader = SignalReader(lamps: lamps)
        let video = try VideoReader(path: sample("\(clip).mp4"))
        var agree = 0, frames = 0
        while let frame = try video.nextFrame() {
            let read = reader.observe(frame)
            let expected = signal.phases.first { $0.startFrame <= frame.index && frame.index <= $0.endFrame }?.phase
            if read == expected { agree += 1 }
            frames += 1
        }
        #expect(agree == frames, "\(frames - agree) of \(frames) frames read wrongly")
        let timeline = reader.timeline()
        let frameTime = 1.0 / Double(truth.video.fps)
        let changes = signal.phases.filter { $0.startS > 0 }
        #expect(timeline.intervals.count == changes.count + 1)
        for change in changes {
            let onset = try #require(timeline.intervals.first { $0.phase == change.phase && abs($0.start - change.startS) < 1 })
            #expect(abs(onset.start - change.startS) <= frameTime, "\(change.phase) at \(onset.start) s, truth \(change.startS) s")
        }
    }

    @Test("the real Hanoi junction: red at 2 s and 30 s, green at 55 s, beside a countdown display",
          .enabled(if: FileManager.default.fileExists(atPath: hanoiClip), "../shared/footage is absent"))
    func hanoi() throws {
        let reader = SignalReader(lamps: [
            LampRegion(phase: .red, center: Point2(560, 190), radius: 6),
            LampRegion(phase: .amber, center: Point2(560, 206), radius: 6),
            LampRegion(phase: .green, center: Point2(559, 222), radius: 6),
        ])
        let video = try VideoReader(path: hanoiClip)
        while let frame = try video.nextFrame() { reader.observe(frame) }
        let timeline = reader.timeline()
        #expect(timeline.phase(at: 2) == .red)
        #expect(timeline.phase(at: 30) == .red)
        #expect(timeline.phase(at: 55) == .green)
        let greens = timeline.intervals.filter { $0.phase == .green }
        #expect(!greens.isEmpty && greens.allSatisfy { $0.start > 30 && $0.start < 55 }, "\(timeline.intervals)")
    }

    @Test("a controller log gives the same kind of timeline, and bad lines are named")
    func controllerLog() throws {
        let timeline = try ControllerLog.parse("time,phase\n0,green\n6.0,yellow\n9,red\n21,green\n", path: "log.csv", end: 30)
        #expect(timeline.intervals.map(\.phase) == [.green, .amber, .red, .green])
        #expect(timeline.phase(at: 10) == .red && timeline.intervals.last?.end == 30)
        let start = try #require(ISO8601Instant.parse("2026-03-14T08:30:00Z"))
        let iso = try ControllerLog.parse("2026-03-14T08:30:09Z,red\n", path: "log.csv", footageStart: start, end: 30)
        #expect(iso.intervals.first?.start == 9)
        #expect(throws: ControllerLog.Error.self) { try ControllerLog.parse("0,green\n5,purple\n", path: "log.csv", end: 10) }
        do { _ = try ControllerLog.parse("0,green\n5,purple\n", path: "log.csv", end: 10) } catch let e as ControllerLog.Error {
            #expect(e.description == "log.csv:2: unknown phase 'purple' (red, amber, green)")
        }
        do { _ = try ControllerLog.parse("5,green\n3,red\n", path: "log.csv", end: 10) } catch let e as ControllerLog.Error {
            #expect(e.description == "log.csv:2: time 3 goes back")
        }
    }
}

let hanoiClip = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/footage/vn-intersection-1630/16h30.25.9.22.mp4").path
