import TrafficModel

/// Which way traffic that a line governs moves through it, as seen from the camera: `away` (up the picture) or
/// `toward` (down the picture). It decides which edge of a vehicle's box is its front.
public enum Approach: String, Sendable, Codable, CaseIterable {
    case away, toward
}

/// A lane: an image polygon, and the rules that do not apply in it (a turn-on-red lane is exempt from red light).
public struct Lane: Sendable, Equatable {
    public var id: String
    public var polygon: Polygon
    public var exempt: Set<RuleKind>
    public init(id: String, polygon: Polygon, exempt: Set<RuleKind> = []) {
        self.id = id; self.polygon = polygon; self.exempt = exempt
    }
}

/// A fine schedule's band: applies from `fromKmh` km/h over the limit (speeding) upwards, until the next band.
public struct SeverityBand: Sendable, Equatable {
    public var band: String
    public var fromKmh: Double
    public init(band: String, fromKmh: Double) { self.band = band; self.fromKmh = fromKmh }
}

public struct SpeedingRule: Sendable, Equatable {
    public var limitKmh: Double
    public var tolerancePercent: Double
    public var toleranceKmh: Double
    /// The zone's two lines, in the image. Vehicles may cross them in either order.
    public var entry: Segment
    public var exit: Segment
    /// Coverage factor of the expanded uncertainty (2: about 95 % for a normal error).
    public var coverageFactor = 2.0
    /// Bands by km/h over the limit, ascending.
    public var bands: [SeverityBand] = []
    public init(limitKmh: Double, tolerancePercent: Double, toleranceKmh: Double, entry: Segment, exit: Segment) {
        self.limitKmh = limitKmh; self.tolerancePercent = tolerancePercent; self.toleranceKmh = toleranceKmh
        self.entry = entry; self.exit = exit
    }
    /// limit + percent + absolute: a measured speed must exceed this even after its uncertainty is taken off.
    public var thresholdKmh: Double { limitKmh * (1 + tolerancePercent / 100) + toleranceKmh }
}

public struct RedLightRule: Sendable, Equatable {
    /// The stop line, in the image.
    public var stopLine: Segment
    public var approach: Approach
    /// Crossings less than this long after red onset are not violations.
    public var graceSeconds: Double
    /// Crossings slower than this (creeping over the line) are not violations.
    public var minimumSpeedKmh: Double
    /// The band every red-light record carries.
    public var band: String = "red_light"
    public init(stopLine: Segment, approach: Approach, graceSeconds: Double, minimumSpeedKmh: Double) {
        self.stopLine = stopLine; self.approach = approach; self.graceSeconds = graceSeconds; self.minimumSpeedKmh = minimumSpeedKmh
    }
}

/// Everything the rules need about one camera: its calibration, lanes, rules and dedup window.
public struct RuleSet: Sendable {
    public var calibration: Calibration
    public var lanes: [Lane]
    public var speeding: SpeedingRule?
    public var redLight: RedLightRule?
    /// Fragments of one vehicle's track up to this far apart in time are joined; events of one rule in one lane
    /// this close together are one vehicle's.
    public var dedupWindowSeconds: Double
    /// Standard deviation of a box edge's position from detection to detection, in pixels, used until a track's
    /// own residuals say more (they can only raise it).
    public var boxJitterPixels: Double = 1.0
    public init(calibration: Calibration, lanes: [Lane], speeding: SpeedingRule?, redLight: RedLightRule?, dedupWindowSeconds: Double) {
        self.calibration = calibration; self.lanes = lanes; self.speeding = speeding; self.redLight = redLight
        self.dedupWindowSeconds = dedupWindowSeconds
    }

    /// The lane whose polygon holds an image point (the first, in config order).
    public func lane(at p: Point2) -> Lane? { lanes.first { $0.polygon.contains(p) } }
}
