import Foundation
import TrafficModel

/// A scene to render: camera, road, signal, conditions and traffic. Loaded from YAML (`roadwatch synth`);
/// every key is documented in docs/scene-format.md. Distances in metres, speeds in km/h, times in seconds.
public struct SceneSpec: Sendable, Codable, Equatable {
    public var name: String
    /// Seeds every random choice: the same file renders the same frames.
    public var seed: UInt64
    public var video: Video
    public var camera: Camera
    public var road: Road
    public var signal: Signal?
    public var speedZone: SpeedZone?
    public var conditions: Conditions
    public var vehicles: [Vehicle]
    public var traffic: Traffic?

    public struct Video: Sendable, Codable, Equatable {
        public var width: Int
        public var height: Int
        public var fps: Int
        public var durationSeconds: Double
        /// Ceiling of the bit rate; the stream is encoded at constant quality `quality` (x264 CRF) below it.
        public var bitrateKbps: Int
        public var quality: Double
        /// Wall-clock time of the first frame, ISO 8601 with offset; written as the container's creation_time.
        public var startTime: String

        enum CodingKeys: String, CodingKey { case width, height, fps, durationSeconds = "duration_s", bitrateKbps = "bitrate_kbps", quality, startTime = "start_time" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            width = try c.decode(Int.self, forKey: .width)
            height = try c.decode(Int.self, forKey: .height)
            fps = try c.decodeIfPresent(Int.self, forKey: .fps) ?? 25
            durationSeconds = try c.decode(Double.self, forKey: .durationSeconds)
            bitrateKbps = try c.decodeIfPresent(Int.self, forKey: .bitrateKbps) ?? 2200
            quality = try c.decodeIfPresent(Double.self, forKey: .quality) ?? 23
            startTime = try c.decodeIfPresent(String.self, forKey: .startTime) ?? "2026-03-14T08:30:00Z"
        }
    }

    public struct Camera: Sendable, Codable, Equatable {
        public var heightM: Double
        public var tiltDeg: Double
        public var panDeg: Double
        public var rollDeg: Double
        public var focalPx: Double
        /// Where the camera stands across the road (0 = the road's left edge) and along it.
        public var xM: Double
        public var yM: Double

        enum CodingKeys: String, CodingKey { case heightM = "height_m", tiltDeg = "tilt_deg", panDeg = "pan_deg", rollDeg = "roll_deg", focalPx = "focal_px", xM = "x_m", yM = "y_m" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            heightM = try c.decode(Double.self, forKey: .heightM)
            tiltDeg = try c.decode(Double.self, forKey: .tiltDeg)
            panDeg = try c.decodeIfPresent(Double.self, forKey: .panDeg) ?? 0
            rollDeg = try c.decodeIfPresent(Double.self, forKey: .rollDeg) ?? 0
            focalPx = try c.decode(Double.self, forKey: .focalPx)
            xM = try c.decodeIfPresent(Double.self, forKey: .xM) ?? 0
            yM = try c.decodeIfPresent(Double.self, forKey: .yM) ?? 0
        }
    }

    public enum Direction: String, Sendable, Codable { case away, toward }

    public struct Road: Sendable, Codable, Equatable {
        /// Lanes from left to right, each with its direction of travel.
        public var lanes: [Direction]
        public var laneWidthM: Double
        /// The road runs from y = startYM to y = startYM + lengthM.
        public var startYM: Double
        public var lengthM: Double
        /// Stop line of the away lanes (junction scenes); with a crosswalk and a cross road beyond it.
        public var stopLineYM: Double?
        public var crosswalk: Bool

        enum CodingKeys: String, CodingKey { case lanes, laneWidthM = "lane_width_m", startYM = "start_y_m", lengthM = "length_m", stopLineYM = "stop_line_y_m", crosswalk }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lanes = try c.decode([Direction].self, forKey: .lanes)
            laneWidthM = try c.decodeIfPresent(Double.self, forKey: .laneWidthM) ?? 3.5
            startYM = try c.decodeIfPresent(Double.self, forKey: .startYM) ?? 0
            lengthM = try c.decodeIfPresent(Double.self, forKey: .lengthM) ?? 200
            stopLineYM = try c.decodeIfPresent(Double.self, forKey: .stopLineYM)
            crosswalk = try c.decodeIfPresent(Bool.self, forKey: .crosswalk) ?? (stopLineYM != nil)
        }
        public var width: Double { Double(lanes.count) * laneWidthM }
        public var endYM: Double { startYM + lengthM }
        /// Centre of lane `id` (1-based, left to right) across the road.
        public func laneCenter(_ id: Int) -> Double { (Double(id) - 0.5) * laneWidthM }
    }

    public struct Signal: Sendable, Codable, Equatable {
        /// Top-left corner of the signal head's housing in the image, and the lamp radius, in pixels.
        public var headX: Double
        public var headY: Double
        public var lampRadiusPx: Double
        public var greenS: Double
        public var amberS: Double
        public var redS: Double
        /// The phase showing at t = 0 and how long it has been showing.
        public var startPhase: SignalPhase
        public var startOffsetS: Double

        enum CodingKeys: String, CodingKey { case headX = "head_x", headY = "head_y", lampRadiusPx = "lamp_radius_px", greenS = "green_s", amberS = "amber_s", redS = "red_s", startPhase = "start_phase", startOffsetS = "start_offset_s" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            headX = try c.decode(Double.self, forKey: .headX)
            headY = try c.decode(Double.self, forKey: .headY)
            lampRadiusPx = try c.decodeIfPresent(Double.self, forKey: .lampRadiusPx) ?? 7
            greenS = try c.decodeIfPresent(Double.self, forKey: .greenS) ?? 12
            amberS = try c.decodeIfPresent(Double.self, forKey: .amberS) ?? 3
            redS = try c.decodeIfPresent(Double.self, forKey: .redS) ?? 12
            startPhase = try c.decodeIfPresent(SignalPhase.self, forKey: .startPhase) ?? .green
            startOffsetS = try c.decodeIfPresent(Double.self, forKey: .startOffsetS) ?? 0
        }
    }

    public struct SpeedZone: Sendable, Codable, Equatable {
        public var entryYM: Double
        public var exitYM: Double
        public var limitKmh: Double
        public var tolerancePercent: Double
        public var toleranceKmh: Double
        enum CodingKeys: String, CodingKey { case entryYM = "entry_y_m", exitYM = "exit_y_m", limitKmh = "limit_kmh", tolerancePercent = "tolerance_percent", toleranceKmh = "tolerance_kmh" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            entryYM = try c.decode(Double.self, forKey: .entryYM)
            exitYM = try c.decode(Double.self, forKey: .exitYM)
            limitKmh = try c.decode(Double.self, forKey: .limitKmh)
            tolerancePercent = try c.decodeIfPresent(Double.self, forKey: .tolerancePercent) ?? 10
            toleranceKmh = try c.decodeIfPresent(Double.self, forKey: .toleranceKmh) ?? 3
        }
        /// Speeds above this are violations: limit plus both tolerances.
        public var thresholdKmh: Double { limitKmh + limitKmh * tolerancePercent / 100 + toleranceKmh }
    }

    public enum Lighting: String, Sendable, Codable { case day, dusk, night }

    public struct Conditions: Sendable, Codable, Equatable {
        public var lighting: Lighting
        /// Standard deviation of sensor noise in 8-bit levels (default: 1.5 by day, 3 at dusk, 6 at night).
        public var noise: Double
        /// Amplitude of camera shake in pixels (0 = steady).
        public var shakePx: Double
        /// A passing cloud: the scene darkens smoothly to `cloudDepth` of its light and back.
        public var cloudStartS: Double?
        public var cloudDurationS: Double
        public var cloudDepth: Double

        /// Sensor noise when the scene does not say: more in less light.
        static func defaultNoise(_ lighting: Lighting) -> Double {
            switch lighting {
            case .day: return 1.5
            case .dusk: return 3
            case .night: return 6
            }
        }

        public init(lighting: Lighting) {
            self.lighting = lighting
            noise = Self.defaultNoise(lighting)
            shakePx = 0
            cloudStartS = nil
            cloudDurationS = 6
            cloudDepth = 0.6
        }

        enum CodingKeys: String, CodingKey { case lighting, noise, shakePx = "shake_px", cloudStartS = "cloud_start_s", cloudDurationS = "cloud_duration_s", cloudDepth = "cloud_depth" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lighting = try c.decodeIfPresent(Lighting.self, forKey: .lighting) ?? .day
            noise = try c.decodeIfPresent(Double.self, forKey: .noise) ?? Self.defaultNoise(lighting)
            shakePx = try c.decodeIfPresent(Double.self, forKey: .shakePx) ?? 0
            cloudStartS = try c.decodeIfPresent(Double.self, forKey: .cloudStartS)
            cloudDurationS = try c.decodeIfPresent(Double.self, forKey: .cloudDurationS) ?? 6
            cloudDepth = try c.decodeIfPresent(Double.self, forKey: .cloudDepth) ?? 0.6
        }
    }

    public enum VehicleType: String, Sendable, Codable, CaseIterable { case car, van, truck, motorcycle }

    public enum Behaviour: String, Sendable, Codable {
        /// Follows the vehicle ahead and stops for red, and for amber when it can stop comfortably.
        case obey
        /// Follows the vehicle ahead but ignores the signal: a red-light runner.
        case ignoreSignal = "ignore_signal"
    }

    public struct Vehicle: Sendable, Codable, Equatable {
        public var type: VehicleType
        public var lane: Int
        /// Body colour [r, g, b], 0–255; random when absent.
        public var color: [Int]?
        public var speedKmh: Double
        public var behaviour: Behaviour
        /// When it enters the road; or, instead, when its front should cross the stop line (at free speed).
        public var enterS: Double?
        public var crossStopLineAtS: Double?

        enum CodingKeys: String, CodingKey { case type, lane, color, speedKmh = "speed_kmh", behaviour, enterS = "enter_s", crossStopLineAtS = "cross_stop_line_at_s" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decodeIfPresent(VehicleType.self, forKey: .type) ?? .car
            lane = try c.decode(Int.self, forKey: .lane)
            color = try c.decodeIfPresent([Int].self, forKey: .color)
            speedKmh = try c.decode(Double.self, forKey: .speedKmh)
            behaviour = try c.decodeIfPresent(Behaviour.self, forKey: .behaviour) ?? .obey
            enterS = try c.decodeIfPresent(Double.self, forKey: .enterS)
            crossStopLineAtS = try c.decodeIfPresent(Double.self, forKey: .crossStopLineAtS)
        }
        public init(type: VehicleType, lane: Int, color: [Int]? = nil, speedKmh: Double, behaviour: Behaviour = .obey, enterS: Double? = nil, crossStopLineAtS: Double? = nil) {
            self.type = type; self.lane = lane; self.color = color; self.speedKmh = speedKmh
            self.behaviour = behaviour; self.enterS = enterS; self.crossStopLineAtS = crossStopLineAtS
        }
    }

    /// Background traffic added to the listed vehicles: law-abiding, random types, colours and speeds.
    public struct Traffic: Sendable, Codable, Equatable {
        /// Vehicles per minute in each lane.
        public var perLanePerMinute: Double
        public var speedKmh: Double
        public var speedSpreadKmh: Double
        /// Relative weights of car, van, truck, motorcycle.
        public var mix: [Double]
        /// The lanes that carry background traffic (all when absent).
        public var lanes: [Int]?
        enum CodingKeys: String, CodingKey { case perLanePerMinute = "per_lane_per_minute", speedKmh = "speed_kmh", speedSpreadKmh = "speed_spread_kmh", mix, lanes }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            perLanePerMinute = try c.decode(Double.self, forKey: .perLanePerMinute)
            speedKmh = try c.decode(Double.self, forKey: .speedKmh)
            speedSpreadKmh = try c.decodeIfPresent(Double.self, forKey: .speedSpreadKmh) ?? 5
            mix = try c.decodeIfPresent([Double].self, forKey: .mix) ?? [0.7, 0.15, 0.08, 0.07]
            lanes = try c.decodeIfPresent([Int].self, forKey: .lanes)
        }
    }

    enum CodingKeys: String, CodingKey { case name, seed, video, camera, road, signal, speedZone = "speed_zone", conditions, vehicles, traffic }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        video = try c.decode(Video.self, forKey: .video)
        camera = try c.decode(Camera.self, forKey: .camera)
        road = try c.decode(Road.self, forKey: .road)
        signal = try c.decodeIfPresent(Signal.self, forKey: .signal)
        speedZone = try c.decodeIfPresent(SpeedZone.self, forKey: .speedZone)
        conditions = try c.decodeIfPresent(Conditions.self, forKey: .conditions) ?? Conditions(lighting: .day)
        vehicles = try c.decodeIfPresent([Vehicle].self, forKey: .vehicles) ?? []
        traffic = try c.decodeIfPresent(Traffic.self, forKey: .traffic)
    }

    /// The pinhole camera this scene describes.
    public var pinhole: PinholeCamera {
        PinholeCamera(focalPixels: camera.focalPx, imageWidth: video.width, imageHeight: video.height,
                      position: Point3(camera.xM, camera.yM, camera.heightM), tiltDegrees: camera.tiltDeg,
                      panDegrees: camera.panDeg, rollDegrees: camera.rollDeg)
    }

    public var frameCount: Int { Int((video.durationSeconds * Double(video.fps)).rounded()) }

    /// Problems that make the scene impossible to render, each in words naming the key.
    public func problems() -> [String] {
        var out: [String] = []
        if video.width < 64 || video.height < 64 || video.width % 2 != 0 || video.height % 2 != 0 {
            out.append("video: width and height must be even and at least 64")
        }
        if video.fps < 1 || video.fps > 120 { out.append("video.fps: must be 1...120") }
        if video.durationSeconds <= 0 { out.append("video.duration_s: must be positive") }
        if ISO8601Instant.parse(video.startTime) == nil { out.append("video.start_time: not an ISO 8601 time: \(video.startTime)") }
        if camera.heightM <= 0 { out.append("camera.height_m: must be above the ground") }
        if !(1...89).contains(camera.tiltDeg) { out.append("camera.tilt_deg: must look down, 1...89 degrees") }
        if road.lanes.isEmpty { out.append("road.lanes: at least one lane") }
        for (i, v) in vehicles.enumerated() where !(1...road.lanes.count).contains(v.lane) {
            out.append("vehicles[\(i)].lane: \(v.lane) is not a lane (1...\(road.lanes.count))")
        }
        for (i, v) in vehicles.enumerated() where v.crossStopLineAtS != nil && (road.stopLineYM == nil || road.lanes[max(0, min(road.lanes.count - 1, v.lane - 1))] != .away) {
            out.append("vehicles[\(i)].cross_stop_line_at_s: only for away lanes of a road with a stop line")
        }
        if signal != nil && road.stopLineYM == nil { out.append("signal: needs road.stop_line_y_m") }
        for lane in traffic?.lanes ?? [] where !(1...road.lanes.count).contains(lane) {
            out.append("traffic.lanes: \(lane) is not a lane (1...\(road.lanes.count))")
        }
        if let mix = traffic?.mix, mix.count != 4 || mix.contains(where: { $0 < 0 }) || mix.reduce(0, +) <= 0 {
            out.append("traffic.mix: four non-negative weights (car, van, truck, motorcycle)")
        }
        return out
    }
}

