/// One observed (or, when `coasted`, predicted) position of a track. A `shared` box was inferred: the vehicle was
/// inside a blob with others, and the box is the track's prediction moved into that blob (see `Tracker`). It places
/// the track but is not evidence for a rule.
public struct TrackPoint: Sendable, Equatable, Codable {
    public var time: FrameTime
    public var box: Box
    public var coasted: Bool
    public var shared: Bool
    public init(time: FrameTime, box: Box, coasted: Bool, shared: Bool = false) {
        self.time = time
        self.box = box
        self.coasted = coasted
        self.shared = shared
    }
    /// Seen alone: what the rules measure.
    public var isEvidence: Bool { !coasted && !shared }

    private enum CodingKeys: String, CodingKey { case time, box, coasted, shared }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        time = try c.decode(FrameTime.self, forKey: .time)
        box = try c.decode(Box.self, forKey: .box)
        coasted = try c.decode(Bool.self, forKey: .coasted)
        shared = try c.decodeIfPresent(Bool.self, forKey: .shared) ?? false
    }
    /// `shared` is written only when set, so track files without shared boxes read as before.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(box, forKey: .box)
        try c.encode(coasted, forKey: .coasted)
        if shared { try c.encode(shared, forKey: .shared) }
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

