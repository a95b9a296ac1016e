import Foundation
import Testing
import TrafficModel
import VideoIO
@testable import Detection
@testable import SceneSynth

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
func sample(_ name: String) -> String { packageRoot.appendingPathComponent("SampleVideo/\(name)").path }

/// Box precision and recall of the motion detector against a sample's truth: a true box counts when at least
/// 70 % visible, 16 px tall and inside the picture; a detection is false when it overlaps no true vehicle.
func evaluate(_ clip: String, every step: Int = 5, options: MotionDetectorOptions = MotionDetectorOptions(), debugFrames: Set<Int> = []) throws -> (precision: Double, recall: Double) {
    let truth = try SceneTruth.load(sample("\(clip).truth.json"))
    var boxes: [Int: [(box: Box, required: Bool)]] = [:]
    for v in truth.vehicles {
        for f in v.frames {
            let b = f.box
            let inside = b.x > 1 && b.y > 1 && b.maxX < Double(truth.video.width) - 1 && b.maxY < Double(truth.video.height) - 1
            boxes[f.frame, default: []].append((b, f.visible >= 0.7 && b.height >= 16 && inside))
        }
    }
    let detector = MotionDetector(options: options)
    let reader = try VideoReader(path: sample("\(clip).mp4"))
    var tp = 0, required = 0, detections = 0, falsePositives = 0
    var bucketTotal = [0, 0, 0, 0], bucketFound = [0, 0, 0, 0]
    while let frame = try reader.nextFrame() {
        // Weak detections only continue tracks: they are not scored as detections.
        let found = detector.detect(frame).detections.filter { !$0.isWeak }
        guard frame.index % step == 0, frame.index >= 50 else { continue }
        let truths = boxes[frame.index] ?? []
        for t in truths where t.required {
            required += 1
            let bucket = t.box.height < 30 ? 0 : t.box.height < 60 ? 1 : t.box.height < 120 ? 2 : 3
            bucketTotal[bucket] += 1
            if found.contains(where: { $0.box.iou(t.box) >= 0.5 }) { tp += 1; bucketFound[bucket] += 1 }
        }
        for d in found {
            detections += 1
            if !truths.contains(where: { $0.box.iou(d.box) >= 0.1 }) { falsePositives += 1 }
        }
        if debugFrames.contains(frame.index) {
            var picture = frame.picture()
            for t in truths { picture.stroke(t.box, rgb: t.required ? (0, 255, 0) : (255, 160, 0), thickness: 1) }
            for d in found { picture.stroke(d.box, rgb: (255, 0, 255), thickness: 2) }
            try JPEGWriter().write(picture, to: "/tmp/det-\(clip)-\(frame.index).jpg")
            for (name, image) in [("mask", detector.foreground), ("core", detector.coreForeground)] {
                // The core holds bit flags (1 raw, 2 opened): spread them over the grey range to see them.
                let visible = image.pixels.map { $0 == 255 ? 255 : $0 * 85 }
                try JPEGWriter().write(Picture(width: image.width, height: image.height, format: .gray8, planes: [visible]), to: "/tmp/det-\(clip)-\(frame.index)-\(name).jpg")
            }
        }
    }
    if ProcessInfo.processInfo.environment["ROADWATCH_DEBUG_IMAGES"] != nil {
        print("BUCKETS height <30, <60, <120, more: found \(bucketFound) of \(bucketTotal); false \(falsePositives) of \(detections)")
    }
    return (detections > 0 ? Double(detections - falsePositives) / Double(detections) : 0, required > 0 ? Double(tp) / Double(required) : 0)
}

struct DetectionAccuracyTests {
    /// Measured figures go to docs/accuracy.md; these guard them against regressions.
    @Test("motion detector on the day junction sample: precision and recall of boxes at IoU 0.5")
    func junctionDay() throws {
        let debug: Set<Int> = ProcessInfo.processInfo.environment["ROADWATCH_DEBUG_IMAGES"] != nil ? [300, 500] : []
        var options = MotionDetectorOptions()
        options.shadowBackground = 130  // as Pipelines/sample-junction.yaml
        let (precision, recall) = try evaluate("junction-day", options: options, debugFrames: debug)
        print("DETECTION junction-day: precision \(precision), recall \(recall)")
        // Measured 0.811 / 0.549 on the re-rendered sample (0.804 / 0.543 on the old render; 0.791 / 0.510 with
        // shadows kept in boxes over the pavement; 0.720 / 0.564 before
        // the variance clip: fewer fragments and shadows, a few more misses).
        #expect(precision >= 0.78 && recall >= 0.53, "precision \(precision), recall \(recall)")
    }

    /// At night most vehicles are found by their pairs of lights (measured 0.577 / 0.282; it was 0.40 / 0.03
    /// before light pairing).
    @Test("motion detector on the night junction sample")
    func junctionNight() throws {
        let (precision, recall) = try evaluate("junction-night")
        print("DETECTION junction-night: precision \(precision), recall \(recall)")
        // Measured 0.840 / 0.668 with light pairs' lamps of two picture pixels (0.826 / 0.591 before: two analysis
        // pixels), with headlamps bloomed into one blob taken for a light pair (0.810 / 0.549 before),
        // on the sample re-rendered with trucks' lamps where trucks carry them, bloomed headlamps paired, flat bloom
        // giving way to its pair (2026-11-27; 0.557 before that last); on the old render
        // 0.700 / 0.376 since the variance learns only darker differences after dark and the relative floor is 0.30
        // (0.759 / 0.331 before: more dark bodies found, more fragments of them; F1 0.461 → 0.490); 0.577 / 0.282
        // before parts inside a light pair's box became one box.
        #expect(precision >= 0.81 && recall >= 0.63, "precision \(precision), recall \(recall)")
    }
}

