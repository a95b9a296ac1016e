/// One observed (or, when `coasted`, predicted) position of a track.
public struct TrackPoint: Sendable, Equatable, Codable {
    public var time: FrameTime
    public var box: Box
    public var coasted: Bool
    public init(time: FrameTime, box: Box, coasted: Bool) {
        self.time = time
        self.box = box
        self.coasted = coasted
    }
}

/// A vehicle followed over frames.
public struct Track: Sendable, Equatable, Codable {
    public var id: Int
    public var points: [TrackPoint]
    public init(id: Int, points: [TrackPoint]) {
        self.id = id
        self.points = points
    }
    public var observed: [TrackPoint] { points.filter { !$0.coasted } }
}

