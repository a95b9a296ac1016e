import Foundation
import TrafficModel

/// Body sizes in metres: length, width, height.
public func vehicleDimensions(_ type: SceneSpec.VehicleType) -> (length: Double, width: Double, height: Double) {
    switch type {
    case .car: return (4.5, 1.8, 1.5)
    case .van: return (5.3, 2.0, 2.3)
    case .truck: return (9.5, 2.5, 3.6)
    case .motorcycle: return (2.1, 0.8, 1.5)
    }
}

/// One vehicle's life on the road: where its front bumper is at every frame, and the moments it crossed lines.
public struct VehicleTrajectory: Sendable {
    public var id: Int
    public var type: SceneSpec.VehicleType
    public var lane: Int
    public var direction: SceneSpec.Direction
    public var behaviour: SceneSpec.Behaviour
    public var color: (Double, Double, Double)
    public var length: Double
    public var width: Double
    public var height: Double
    public var desiredSpeed: Double
    /// Frame index of `front[0]`.
    public var firstFrame = 0
    /// Front bumper position along the lane (metres from where the lane enters the road) at each frame.
    public var front: [Double] = []
    /// Speed in m/s at each frame.
    public var speed: [Double] = []
    /// Acceleration in m/s² at each frame (brake lights).
    public var acceleration: [Double] = []
    /// When the front crossed the stop line, exactly (interpolated between simulation steps), and how fast.
    public var stopLineCrossing: (time: Double, speed: Double)?
    /// When the front crossed the first and the second boundary of the speed zone.
    public var zoneCrossings: [Double] = []

    public var lastFrame: Int { firstFrame + front.count - 1 }
    public func isPresent(atFrame f: Int) -> Bool { f >= firstFrame && f <= lastFrame }
}

/// The signal programme: green → amber → red, repeating.
public struct SignalSchedule: Sendable {
    public let spec: SceneSpec.Signal
    public init(_ spec: SceneSpec.Signal) { self.spec = spec }

    private var cycle: Double { spec.greenS + spec.amberS + spec.redS }

    /// Seconds into the cycle (green starts at 0) at time t.
    private func cyclePosition(_ t: Double) -> Double {
        let phaseStart: Double
        switch spec.startPhase {
        case .green, .unknown: phaseStart = 0
        case .amber: phaseStart = spec.greenS
        case .red: phaseStart = spec.greenS + spec.amberS
        }
        let p = (phaseStart + spec.startOffsetS + t).truncatingRemainder(dividingBy: cycle)
        return p < 0 ? p + cycle : p
    }

    public func phase(at t: Double) -> SignalPhase {
        let p = cyclePosition(t)
        if p < spec.greenS { return .green }
        if p < spec.greenS + spec.amberS { return .amber }
        return .red
    }

    /// Phase intervals covering [from, to), with exact switch times.
    public func intervals(from: Double, to: Double) -> [PhaseInterval] {
        var out: [PhaseInterval] = []
        var t = from
        while t < to {
            let p = cyclePosition(t)
            let current = phase(at: t)
            let end: Double
            switch current {
            case .green: end = t + (spec.greenS - p)
            case .amber: end = t + (spec.greenS + spec.amberS - p)
            default: end = t + (cycle - p)
            }
            out.append(PhaseInterval(phase: current, start: t, end: min(end, to)))
            t = end
        }
        return out
    }
}

/// Car-following traffic on each lane with the Intelligent Driver Model (Treiber et al.): vehicles keep a safe
/// gap to the one ahead, stop for red (and for amber when they can stop at a comfortable 3.5 m/s²), and go on
/// green. Red-light runners ignore the signal but not the vehicle ahead.
public struct TrafficSimulation {
    public let spec: SceneSpec
    /// Simulation steps per frame.
    public static let substeps = 8
    /// Seconds simulated before the first frame so the road is not empty at t = 0.
    public static let warmup = 20.0

    // IDM parameters: maximum acceleration, comfortable deceleration, jam distance, time headway.
    static let accelerationMax = 1.6, comfortableDeceleration = 2.5, jamDistance = 2.0, headway = 1.2
    /// Amber: a vehicle that can stop within this deceleration stops; otherwise it goes on.
    static let amberStopDeceleration = 3.5
    /// Obeying vehicles stop with their front about this far before the line.
    static let stopMargin = 1.5

    public init(spec: SceneSpec) { self.spec = spec }

    struct Planned {
        var vehicle: SceneSpec.Vehicle
        var enter: Double
    }

    /// Runs the simulation; returns every vehicle that was on the road during the footage.
    public func run() -> [VehicleTrajectory] {
        var random = SceneRandom(seed: spec.seed ^ 0x5EED_0F_7AFF1C)
        let fps = Double(spec.video.fps)
        let frames = spec.frameCount
        let dt = 1 / (fps * Double(Self.substeps))
        let roadLength = spec.road.lengthM
        let stopU = spec.road.stopLineYM.map { $0 - spec.road.startYM }
        let schedule = spec.signal.map(SignalSchedule.init)

        // The plan: listed vehicles, then background traffic (Poisson arrivals per lane).
        var planned: [Planned] = spec.vehicles.map { v in
            let speed = v.speedKmh / 3.6
            let enter = v.enterS ?? v.crossStopLineAtS.map { $0 - (stopU ?? 0) / speed } ?? 0
            return Planned(vehicle: v, enter: enter)
        }
        if let traffic = spec.traffic, traffic.perLanePerMinute > 0 {
            for lane in traffic.lanes ?? Array(1...spec.road.lanes.count) {
                var t = -Self.warmup
                while true {
                    t += -log(1 - random.unit()) * 60 / traffic.perLanePerMinute
                    if t >= spec.video.durationSeconds { break }
                    let type = SceneSpec.VehicleType.allCases[random.pick(weights: traffic.mix)]
                    let speed = max(15, random.normal(mean: traffic.speedKmh, sd: traffic.speedSpreadKmh)) * (type == .truck ? 0.9 : 1)
                    planned.append(Planned(vehicle: SceneSpec.Vehicle(type: type, lane: lane, speedKmh: speed), enter: t))
                }
            }
        }
        planned.sort { ($0.enter, $0.vehicle.lane) < ($1.enter, $1.vehicle.lane) }

        var waiting = planned
        var active: [[VehicleTrajectory]] = Array(repeating: [], count: spec.road.lanes.count)
        var finished: [VehicleTrajectory] = []
        // Per vehicle id: its amber decision (true = stop) for the amber phase starting at the stored time.
        var amberDecision: [Int: (onset: Double, stop: Bool)] = [:]
        var nextID = 1
        // Position, speed and acceleration of every vehicle on the road, by id.
        var state: [Int: Kinematics] = [:]

        let firstStep = Int((-Self.warmup / dt).rounded())
        let lastStep = frames * Self.substeps
        for step in firstStep...lastStep {
            let t = Double(step) * dt
            // Record at frame times.
            if step >= 0 && step % Self.substeps == 0 {
                let frame = step / Self.substeps
                if frame < frames {
                    for lane in active.indices {
                        for k in active[lane].indices {
                            if active[lane][k].front.isEmpty { active[lane][k].firstFrame = frame }
                            active[lane][k].front.append(state[active[lane][k].id]!.u)
                            active[lane][k].speed.append(state[active[lane][k].id]!.v)
                            active[lane][k].acceleration.append(state[active[lane][k].id]!.a)
                        }
                    }
                }
            }
            if step == lastStep { break }

            // Spawn vehicles whose time has come, if their lane entry is clear.
            var stillWaiting: [Planned] = []
            for p in waiting {
                guard p.enter <= t else { stillWaiting.append(p); continue }
                let laneIndex = p.vehicle.lane - 1
                let desired = p.vehicle.speedKmh / 3.6
                let dims = vehicleDimensions(p.vehicle.type)
                // A vehicle planned before now starts where it would be, unless the lane ahead is occupied.
                let startU = max(0, min(roadLength * 0.5, desired * (t - p.enter)))
                let leaderRear = active[laneIndex].last.map { state[$0.id]!.u - $0.length }
                if let rear = leaderRear, rear - startU < Self.jamDistance + desired * Self.headway * 0.6 {
                    if startU == 0 { stillWaiting.append(p); continue }
                    if rear < Self.jamDistance + desired * Self.headway * 0.6 { stillWaiting.append(Planned(vehicle: p.vehicle, enter: t + dt)); continue }
                }
                let startSpeed = leaderRear == nil ? desired : min(desired, state[active[laneIndex].last!.id]!.v + 2)
                let u = leaderRear.map { min(startU, $0 - Self.jamDistance - startSpeed * Self.headway * 0.6) } ?? startU
                let color = p.vehicle.color.map { c in (Double(c[0]), Double(c[1]), Double(c[2])) } ?? Self.randomColor(&random)
                let v = VehicleTrajectory(
                    id: nextID, type: p.vehicle.type, lane: p.vehicle.lane, direction: spec.road.lanes[laneIndex],
                    behaviour: p.vehicle.behaviour, color: color, length: dims.length, width: dims.width, height: dims.height,
                    desiredSpeed: desired)
                state[nextID] = Kinematics(u: max(0, u), v: startSpeed, a: 0)
                nextID += 1
                active[laneIndex].append(v)
            }
            waiting = stillWaiting

            // Accelerations from the state at t (leaders first), then advance all.
            let phase = schedule?.phase(at: t) ?? .green
            for lane in active.indices {
                let controlled = spec.road.lanes[lane] == .away && stopU != nil && schedule != nil
                for k in active[lane].indices {
                    let me = active[lane][k]
                    let s = state[me.id]!
                    var acc = idm(speed: s.v, desired: me.desiredSpeed, gap: nil, leaderSpeed: 0)
                    if k > 0 {
                        let leader = active[lane][k - 1]
                        let ls = state[leader.id]!
                        let gap = ls.u - leader.length - s.u
                        acc = min(acc, idm(speed: s.v, desired: me.desiredSpeed, gap: gap, leaderSpeed: ls.v))
                        if ls.v == 0 && gap < Self.jamDistance + 0.5 && s.v < 0.6 { acc = -s.v / dt }
                    }
                    if controlled, me.behaviour == .obey, let stopU, s.u < stopU {
                        // Gap to a virtual standing vehicle placed so that IDM's jam distance ends stopMargin before the line.
                        let gap = stopU - Self.stopMargin + Self.jamDistance - s.u
                        var mustStop = phase == .red
                        if phase == .amber {
                            let onset = t - amberElapsed(schedule!, t)
                            if let d = amberDecision[me.id], abs(d.onset - onset) < 1e-6 {
                                mustStop = d.stop
                            } else {
                                let stop = gap > 0 && s.v * s.v / (2 * max(gap, 0.01)) <= Self.amberStopDeceleration
                                amberDecision[me.id] = (onset, stop)
                                mustStop = stop
                            }
                        }
                        if mustStop && gap > -0.5 {
                            acc = min(acc, idm(speed: s.v, desired: me.desiredSpeed, gap: max(gap, 0.05), leaderSpeed: 0))
                            // IDM only approaches standstill; a driver creeping at the stopping point stops.
                            if gap < Self.jamDistance + 0.5 && s.v < 0.6 { acc = -s.v / dt }
                        }
                    }
                    state[me.id]!.a = max(-9, acc)
                }
            }
            for lane in active.indices {
                var kept: [VehicleTrajectory] = []
                for var me in active[lane] {
                    var s = state[me.id]!
                    let oldU = s.u, oldV = s.v
                    s.v = max(0, s.v + s.a * dt)
                    s.u += (oldV + s.v) / 2 * dt
                    state[me.id] = s
                    if let stopU, spec.road.lanes[lane] == .away, oldU < stopU, s.u >= stopU {
                        let f = (stopU - oldU) / max(s.u - oldU, 1e-12)
                        me.stopLineCrossing = (t + f * dt, oldV + f * (s.v - oldV))
                    }
                    if let zone = spec.speedZone {
                        for y in [zone.entryYM, zone.exitYM] {
                            let lineU = spec.road.lanes[lane] == .away ? y - spec.road.startYM : spec.road.endYM - y
                            if oldU < lineU, s.u >= lineU {
                                let f = (lineU - oldU) / max(s.u - oldU, 1e-12)
                                me.zoneCrossings.append(t + f * dt)
                            }
                        }
                    }
                    if s.u - me.length > roadLength {
                        if !me.front.isEmpty { finished.append(me) }
                        state[me.id] = nil
                    } else {
                        kept.append(me)
                    }
                }
                active[lane] = kept
            }
        }
        finished += active.joined().filter { !$0.front.isEmpty }
        return finished.sorted { $0.id < $1.id }
    }

    struct Kinematics {
        var u: Double
        var v: Double
        var a: Double
    }
    private func idm(speed v: Double, desired v0: Double, gap: Double?, leaderSpeed: Double) -> Double {
        let a = Self.accelerationMax, b = Self.comfortableDeceleration
        let free = a * (1 - pow(v / max(v0, 0.1), 4))
        guard let gap else { return free }
        let dv = v - leaderSpeed
        let desiredGap = Self.jamDistance + max(0, v * Self.headway + v * dv / (2 * (a * b).squareRoot()))
        return free - a * pow(desiredGap / max(gap, 0.05), 2)
    }

    private func amberElapsed(_ schedule: SignalSchedule, _ t: Double) -> Double {
        // Seconds since the current amber started (amber never lasts longer than its setting).
        var lo = 0.0, hi = schedule.spec.amberS
        for _ in 0..<40 {
            let mid = (lo + hi) / 2
            if schedule.phase(at: t - mid) == .amber { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Colours seen on real roads, dark and road-grey ones included (hard for a detector).
    static let palette: [(Double, Double, Double)] = [
        (235, 235, 232), (190, 192, 196), (150, 152, 156), (28, 28, 30), (60, 62, 66), (96, 96, 100),
        (150, 24, 28), (30, 50, 120), (25, 70, 45), (220, 180, 30), (200, 190, 160), (110, 70, 40),
    ]

    static func randomColor(_ random: inout SceneRandom) -> (Double, Double, Double) {
        palette[Int(random.next() % UInt64(palette.count))]
    }
}
