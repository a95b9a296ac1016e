/// A vehicle candidate in one frame: an image box with a confidence in 0...1.
public struct Detection: Sendable, Equatable, Codable {
    public var box: Box
    public var confidence: Double
    public init(box: Box, confidence: Double) {
        self.box = box
        self.confidence = confidence
    }
    /// Detections scored below this are weak: the tracker lets them continue a track that no confident detection
    /// continued, never start one (ByteTrack's second pass), and detection scores leave them out.
    public static let weakConfidence = 0.3
    public var isWeak: Bool { confidence < Self.weakConfidence }
}

/// When a frame was shown: its index in the file and its presentation time in seconds from the file's start.
public struct FrameTime: Sendable, Equatable, Hashable, Codable {
    public var index: Int
    public var pts: Double
    public init(index: Int, pts: Double) {
        self.index = index
        self.pts = pts
    }
}

/// All detections of one frame: the currency between detection and tracking.
public struct FrameDetections: Sendable, Equatable {
    public var time: FrameTime
    public var detections: [Detection]
    /// After dark and at dusk, the frame's small light blobs (head- and tail-lamps, full-resolution boxes), vehicle or not: a
    /// track whose vehicle's body fades into the night road follows its lamp (see `Tracker`).
    public var lamps: [Box]
    /// The detector took the scene as dark (after dark: glow left out, vehicles found by their lamps and light pairs).
    /// At dusk it finds lamps but is not dark.
    public var dark: Bool
    public init(time: FrameTime, detections: [Detection], lamps: [Box] = [], dark: Bool = false) {
        self.time = time
        self.detections = detections
        self.lamps = lamps
        self.dark = dark
    }
}
