import Foundation
import Pipeline
import Testing
import TrafficModel
import VideoIO
@testable import Detection

let footage = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/footage")
let footageAvailable = FileManager.default.fileExists(atPath: footage.appendingPathComponent("README.md").path)

/// The first frame of an image file (PNG, BMP), as gray levels.
func grayImage(_ path: String) throws -> GrayImage {
    let reader = try VideoReader(path: path)
    let frame = try #require(try reader.nextFrame())
    return frame.withLuma { GrayImage(shrinking: $0, by: 1) }
}

/// The detector against other people's ground truth (figures in docs/accuracy.md).
@Suite(.enabled(if: footageAvailable, "../shared/footage is absent: real-footage accuracy skipped"))
struct RealFootageDetectionTests {
    @Test("CDnet 2014 highway: foreground F-measure against the masks, frames 470-1700, inside the ROI")
    func cdnetForeground() throws {
        let folder = footage.appendingPathComponent("cdnet2014-highway")
        let roi = try grayImage(folder.appendingPathComponent("ROI.bmp").path)
        let detector = MotionDetector()
        let reader = try VideoReader(path: folder.appendingPathComponent("highway_cdnet2014_mjpeg.avi").path)
        var tp = 0, fp = 0, fn = 0
        while let frame = try reader.nextFrame() {
            _ = detector.detect(frame)
            let number = frame.index + 1  // mask N belongs to decoded frame N - 1
            guard number >= 470, number <= 1700, number % 5 == 0 else { continue }
            let truth = try grayImage(folder.appendingPathComponent(String(format: "groundtruth/gt%06d.png", number)).path)
            let mask = detector.foreground
            #expect(mask.width == truth.width && mask.height == truth.height)
            for i in 0..<(truth.width * truth.height) where roi.pixels[i] > 127 {
                let t = truth.pixels[i], ours = mask.pixels[i] != 0
                // The masks are palette PNGs, read as video-range luma: 255 (moving) → 235, 170 (unknown) → ~162,
                // 50 (shadow, counted as background) → ~59, 0 → 16.
                if t > 200 { if ours { tp += 1 } else { fn += 1 } } else if t < 100 && ours { fp += 1 }
            }
        }
        let precision = Double(tp) / Double(tp + fp), recall = Double(tp) / Double(tp + fn)
        let f = 2 * precision * recall / (precision + recall)
        print("CDNET foreground: precision \(precision), recall \(recall), F \(f)")
        #expect(f >= 0.88, "F-measure \(f) (measured 0.905)")
    }

    @Test("NGSIM US-101: box precision and recall against the COCO boxes at IoU 0.5")
    func ngsimBoxes() throws {
        let folder = footage.appendingPathComponent("ngsim-us101-seq1")
        struct Coco: Decodable {
            struct Image: Decodable { var id: Int; var file_name: String }
            struct Annotation: Decodable { var image_id: Int; var bbox: [Double] }
            var images: [Image]
            var annotations: [Annotation]
        }
        let coco = try JSONDecoder().decode(Coco.self, from: Data(contentsOf: folder.appendingPathComponent("GT_coco.json")))
        var frameOfImage: [Int: Int] = [:]
        for image in coco.images { frameOfImage[image.id] = Int(image.file_name.dropLast(4))! - 1 }  // N.jpg is frame N - 1
        var truth: [Int: [Box]] = [:]
        for a in coco.annotations { truth[frameOfImage[a.image_id]!, default: []].append(Box(x: a.bbox[0], y: a.bbox[1], width: a.bbox[2], height: a.bbox[3])) }
        // Its pipeline (Benchmarks/pipelines/ngsim-us101.yaml): analysed at full width for its small cars, the smallest
        // blob the default scale's (80 picture pixels), and a calibration by eye, with which cars in neighbouring lanes,
        // one above the other in this steep view, are cut apart (0.800 / 0.744 without; figures in docs/accuracy.md).
        var options = try PipelineConfig.load(path: packageRoot.appendingPathComponent("Benchmarks/pipelines/ngsim-us101.yaml").path).detectorOptions
        options.warmupSeconds = 2
        let detector = MotionDetector(options: options)
        let reader = try VideoReader(path: folder.appendingPathComponent("ngsim_us101_seq1_test_mjpeg.avi").path)
        var matched = 0, detections = 0, truths = 0
        while let frame = try reader.nextFrame() {
            let found = detector.detect(frame).detections.filter { !$0.isWeak }
            guard frame.pts >= options.warmupSeconds, let boxes = truth[frame.index] else { continue }
            truths += boxes.count
            detections += found.count
            let cost = boxes.map { t in found.map { d in t.iou(d.box) >= 0.5 ? 1 - t.iou(d.box) : 1e6 } }
            if !boxes.isEmpty && !found.isEmpty {
                for (row, column) in Assignment.minimumCost(cost).enumerated() where column != nil && cost[row][column!] < 1e6 { matched += 1 }
            }
        }
        let precision = Double(matched) / Double(max(1, detections)), recall = Double(matched) / Double(max(1, truths))
        print("NGSIM boxes: precision \(precision), recall \(recall) (\(matched) matched, \(detections) detections, \(truths) true boxes, parked cars included)")
        #expect(truths > 1000)
        // 0.723 / 0.760 before the variance clip (2026-11-26), which costs precision here (more small detections) for
        // CDnet's F (0.848 → 0.905), highway-day IDF1 (0.41 → 0.50) and a night red-light runner; see docs/accuracy.md.
        #expect(precision >= 0.80 && recall >= 0.80, "precision \(precision), recall \(recall) (measured 0.813, 0.817)")
    }
}
