import Foundation
import TrafficModel

/// The exact ground truth of a rendered scene, schema `roadwatch.truth/1` (docs/truth-format.md).
public struct SceneTruth: Sendable, Codable, Equatable {
    public var schema = "roadwatch.truth/1"
    public var scene: String
    public var video: Video
    public var camera: Camera
    public var calibration: [CalibrationPoint]
    public var stopLine: Line?
    public var lanes: [Lane]
    public var speedZone: SpeedZone?
    public var signal: Signal?
    public var vehicles: [Vehicle]
    public var violations: [Violation]

    public struct Video: Sendable, Codable, Equatable {
        public var file: String
        public var width: Int
        public var height: Int
        public var fps: Int
        public var frames: Int
        public var startTime: String
        enum CodingKeys: String, CodingKey { case file, width, height, fps, frames, startTime = "start_time" }
    }

    public struct Camera: Sendable, Codable, Equatable {
        /// 3x4 projection matrix P = K [R | -RC] mapping world (x, y, z, 1) to image (u, v, w).
        public var matrix: [[Double]]
        public var focalPx: Double
        public var principalPoint: Point2
        public var position: Point3
        public var tiltDeg: Double
        public var panDeg: Double
        public var rollDeg: Double
        enum CodingKeys: String, CodingKey { case matrix, focalPx = "focal_px", principalPoint = "principal_point", position, tiltDeg = "tilt_deg", panDeg = "pan_deg", rollDeg = "roll_deg" }
    }

    public struct CalibrationPoint: Sendable, Codable, Equatable {
        public var image: Point2
        public var world: Point2
    }

    public struct Line: Sendable, Codable, Equatable {
        public var image: Segment
        public var world: Segment
    }

    public struct Lane: Sendable, Codable, Equatable {
        public var id: Int
        public var direction: SceneSpec.Direction
        public var image: Polygon
        public var world: Polygon
    }

    public struct SpeedZone: Sendable, Codable, Equatable {
        public var entry: Line
        public var exit: Line
        public var limitKmh: Double
        public var tolerancePercent: Double
        public var toleranceKmh: Double
        public var thresholdKmh: Double
        enum CodingKeys: String, CodingKey { case entry, exit, limitKmh = "limit_kmh", tolerancePercent = "tolerance_percent", toleranceKmh = "tolerance_kmh", thresholdKmh = "threshold_kmh" }
    }

    public struct Signal: Sendable, Codable, Equatable {
        /// Lamp centres and radius in the image (without shake), by phase name.
        public var lamps: [String: Point2]
        public var lampRadiusPx: Double
        public var phases: [Phase]
        enum CodingKeys: String, CodingKey { case lamps, lampRadiusPx = "lamp_radius_px", phases }
    }

    public struct Phase: Sendable, Codable, Equatable {
        public var phase: SignalPhase
        /// Exact switch times in seconds of footage time (the first interval may start before 0).
        public var startS: Double
        public var endS: Double
        /// First and last frame that show this phase.
        public var startFrame: Int
        public var endFrame: Int
        enum CodingKeys: String, CodingKey { case phase, startS = "start_s", endS = "end_s", startFrame = "start_frame", endFrame = "end_frame" }
    }

    public struct Vehicle: Sendable, Codable, Equatable {
        public var id: Int
        public var type: SceneSpec.VehicleType
        public var lane: Int
        public var direction: SceneSpec.Direction
        public var behaviour: SceneSpec.Behaviour
        public var color: [Int]
        public var lengthM: Double
        public var widthM: Double
        public var heightM: Double
        /// Mean speed between the front's crossings of the zone's two lines (null if it did not cross both in the footage).
        public var zoneSpeedKmh: Double?
        public var zoneEntryS: Double?
        public var zoneExitS: Double?
        public var stopLine: StopLineCrossing?
        public var frames: [FrameBox]
        enum CodingKeys: String, CodingKey {
            case id, type, lane, direction, behaviour, color, lengthM = "length_m", widthM = "width_m", heightM = "height_m"
            case zoneSpeedKmh = "zone_speed_kmh", zoneEntryS = "zone_entry_s", zoneExitS = "zone_exit_s", stopLine = "stop_line", frames
        }
    }

    public struct StopLineCrossing: Sendable, Codable, Equatable {
        public var timeS: Double
        /// First frame at or after the crossing.
        public var frame: Int
        public var phase: SignalPhase
        /// Seconds since red began when the front crossed (null unless red).
        public var timeIntoRedS: Double?
        public var speedKmh: Double
        enum CodingKeys: String, CodingKey { case timeS = "time_s", frame, phase, timeIntoRedS = "time_into_red_s", speedKmh = "speed_kmh" }
    }

    public struct FrameBox: Sendable, Codable, Equatable {
        public var frame: Int
        public var box: Box
        /// Share of the vehicle's body pixels not hidden by nearer vehicles.
        public var visible: Double
        /// Front bumper's ground position (metres) and speed at this frame.
        public var front: Point2
        public var speedKmh: Double
        enum CodingKeys: String, CodingKey { case frame, box, visible, front, speedKmh = "speed_kmh" }
    }

    public struct Violation: Sendable, Codable, Equatable {
        public var rule: String
        public var vehicle: Int
        public var lane: Int
        public var frame: Int
        public var timeS: Double
        public var timeIntoRedS: Double?
        public var speedKmh: Double?
        public var limitKmh: Double?
        public var thresholdKmh: Double?
        enum CodingKeys: String, CodingKey {
            case rule, vehicle, lane, frame, timeS = "time_s", timeIntoRedS = "time_into_red_s", speedKmh = "speed_kmh", limitKmh = "limit_kmh", thresholdKmh = "threshold_kmh"
        }
    }

    public static func load(_ path: String) throws -> SceneTruth {
        try JSONDecoder().decode(SceneTruth.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
