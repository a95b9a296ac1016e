import TrafficModel

/// Boxes from another detector (a neural network run upstream), read from a MOT-format CSV, so that tracking and
/// the rules run unchanged. Rows' ids are ignored: identities are the tracker's job.
public struct ExternalDetections: Sendable {
    private let byFrame: [Int: [Detection]]
    /// Detections with a lower score are dropped.
    public let minimumConfidence: Double

    public init(rows: [MOTRow], minimumConfidence: Double = 0) {
        var byFrame: [Int: [Detection]] = [:]
        for row in rows where row.confidence >= minimumConfidence {
            byFrame[row.frame - 1, default: []].append(Detection(box: row.box, confidence: min(1, max(0, row.confidence))))
        }
        self.byFrame = byFrame
        self.minimumConfidence = minimumConfidence
    }

    public init(path: String, minimumConfidence: Double = 0) throws {
        self.init(rows: try MOTFile.read(path), minimumConfidence: minimumConfidence)
    }

    /// The detections of one frame (0-based index, as decoded).
    public func detections(at time: FrameTime) -> FrameDetections {
        FrameDetections(time: time, detections: byFrame[time.index] ?? [])
    }

    public var frames: Int { byFrame.count }
}
