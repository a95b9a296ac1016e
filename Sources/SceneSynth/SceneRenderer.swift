import Foundation
import TrafficModel
import VideoIO

/// Where one vehicle is in one rendered frame: its image box (all of its body, clipped to the image) and the
/// share of those body pixels that no nearer vehicle hides.
public struct VehicleInFrame: Sendable, Equatable {
    public var vehicle: Int
    public var box: Box
    /// Pixels of this vehicle visible in the frame.
    public var visiblePixels: Int
    /// Pixels it would cover alone.
    public var pixels: Int
    public var visibleFraction: Double { pixels > 0 ? Double(visiblePixels) / Double(pixels) : 0 }
}

/// Draws the frames of a scene: a static, supersampled background (road, markings, verges, sky), and per frame
/// the vehicles as shaded boxes in depth order with their shadows and lights, the signal head, camera shake,
/// a passing cloud and sensor noise.
public final class SceneRenderer {
    public let spec: SceneSpec
    public let camera: PinholeCamera
    public let width: Int
    public let height: Int

    private var background: [UInt8]
    /// Ground-plane coordinates seen at each pixel centre (NaN above the horizon).
    private var groundX: [Float]
    private var groundY: [Float]
    private var canvas: [UInt8]
    /// Which vehicle painted each pixel last (-1: none), for exact visibility.
    private var ids: [Int32]
    private var shadow: [UInt8]
    private let sun = Point3(-0.45, -0.35, 0.82).normalized
    private let lighting: SceneSpec.Lighting

    public init(spec: SceneSpec) {
        self.spec = spec
        camera = spec.pinhole
        width = spec.video.width
        height = spec.video.height
        lighting = spec.conditions.lighting
        background = []
        groundX = []
        groundY = []
        canvas = [UInt8](repeating: 0, count: width * height * 3)
        ids = [Int32](repeating: -1, count: width * height)
        shadow = [UInt8](repeating: 0, count: width * height)
        renderBackground()
    }

    // MARK: - Per frame

    /// The camera for frame `index`, moved by the shake of that frame.
    public func camera(atFrame index: Int) -> PinholeCamera {
        let (dx, dy) = shake(atFrame: index)
        var c = camera
        c.principalPoint = Point2(c.principalPoint.x + Double(dx), c.principalPoint.y + Double(dy))
        return c
    }

    /// Whole-pixel camera shake: smooth, seeded, within ± shake_px.
    public func shake(atFrame index: Int) -> (Int, Int) {
        let amplitude = spec.conditions.shakePx
        guard amplitude > 0 else { return (0, 0) }
        let t = Double(index) / Double(spec.video.fps)
        var r = SceneRandom(seed: spec.seed ^ 0x5A4E)
        let p = (0..<4).map { _ in r.uniform(0, 2 * .pi) }
        let dx = amplitude * (0.6 * sin(2 * .pi * 1.3 * t + p[0]) + 0.4 * sin(2 * .pi * 3.1 * t + p[1]))
        let dy = amplitude * (0.6 * sin(2 * .pi * 0.9 * t + p[2]) + 0.4 * sin(2 * .pi * 2.7 * t + p[3]))
        return (Int(dx.rounded()), Int(dy.rounded()))
    }

    /// Light of the scene at time t: 1, or less while a cloud passes.
    public func illumination(at t: Double) -> Double {
        guard let start = spec.conditions.cloudStartS else { return 1 }
        let d = spec.conditions.cloudDurationS
        guard t > start, t < start + d else { return 1 }
        let bump = 0.5 - 0.5 * cos(2 * .pi * (t - start) / d)
        return 1 - (1 - spec.conditions.cloudDepth) * bump
    }

    /// Renders frame `index` with the vehicles where the simulation put them.
    public func render(frame index: Int, vehicles: [VehicleTrajectory], phase: SignalPhase?) -> (Picture, [VehicleInFrame]) {
        let t = Double(index) / Double(spec.video.fps)
        let gain = illumination(at: t)
        let (dx, dy) = shake(atFrame: index)
        let cam = camera(atFrame: index)
        copyBackground(gain: gain, dx: dx, dy: dy)
        ids.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }

        let present = vehicles.filter { $0.isPresent(atFrame: index) }.map { v -> PlacedVehicle in
            PlacedVehicle(trajectory: v, front: v.front[index - v.firstFrame], acceleration: v.acceleration[index - v.firstFrame], road: spec.road)
        }
        let camPos = camera.position
        // Far to near: nearer vehicles paint over farther ones.
        let ordered = present.sorted { $0.distance(from: camPos) > $1.distance(from: camPos) }

        if lighting == .day { drawShadows(ordered, cam: cam, gain: gain) }
        if lighting != .day { for v in ordered { drawBeam(v, cam: cam, dx: dx, dy: dy) } }
        var truths: [VehicleInFrame] = []
        for v in ordered {
            var corners: [Point2] = []
            for part in v.parts {
                for face in part.visibleFaces(from: camPos) {
                    guard let polygon = project(face.corners, cam) else { continue }
                    // The silhouette of a convex part is the union of its visible faces; the true box bounds the
                    // part of it inside the picture (a vehicle half out of the bottom edge is as wide as what shows).
                    corners += Self.clip(polygon, width: Double(width), height: Double(height))
                    let colour = shade(part.color(of: face), normal: face.normal, gain: gain)
                    fill(polygon, colour, id: Int32(v.trajectory.id))
                }
            }
            drawLights(v, cam: cam, gain: gain)
            if let box = Box(bounding: corners), box.area >= 4 {
                let alone = pixelsAlone(v, cam: cam)
                truths.append(VehicleInFrame(vehicle: v.trajectory.id, box: box, visiblePixels: 0, pixels: alone))
            }
        }
        // Count what stayed visible.
        var visible: [Int32: Int] = [:]
        for id in ids where id >= 0 { visible[id, default: 0] += 1 }
        for k in truths.indices { truths[k].visiblePixels = min(truths[k].pixels, visible[Int32(truths[k].vehicle)] ?? 0) }

        if let phase, let signal = spec.signal { drawSignal(signal, phase: phase, gain: gain, dx: dx, dy: dy) }
        addNoise(frame: index)
        return (Picture(width: width, height: height, format: .rgb24, planes: [canvas]), truths.sorted { $0.vehicle < $1.vehicle })
    }

    /// The vehicle painted at a pixel in the last rendered frame, nil for none (tests and debugging).
    public func vehicle(atX x: Int, y: Int) -> Int? {
        let id = ids[y * width + x]
        return id >= 0 ? Int(id) : nil
    }

    // MARK: - Vehicles

    /// A cuboid part of a vehicle in world coordinates.
    struct Part {
        var x0, x1, y0, y1, z0, z1: Double
        var body: (Double, Double, Double)
        /// Faces drawn as glass (windows): indices into `faces`.
        var glass: Set<Int>

        struct Face {
            var index: Int
            var corners: [Point3]
            var normal: Point3
        }

        var faces: [Face] {
            let c = [Point3(x0, y0, z0), Point3(x1, y0, z0), Point3(x1, y1, z0), Point3(x0, y1, z0),
                     Point3(x0, y0, z1), Point3(x1, y0, z1), Point3(x1, y1, z1), Point3(x0, y1, z1)]
            return [
                Face(index: 0, corners: [c[0], c[1], c[5], c[4]], normal: Point3(0, -1, 0)),  // toward the camera (y small)
                Face(index: 1, corners: [c[2], c[3], c[7], c[6]], normal: Point3(0, 1, 0)),
                Face(index: 2, corners: [c[3], c[0], c[4], c[7]], normal: Point3(-1, 0, 0)),
                Face(index: 3, corners: [c[1], c[2], c[6], c[5]], normal: Point3(1, 0, 0)),
                Face(index: 4, corners: [c[4], c[5], c[6], c[7]], normal: Point3(0, 0, 1)),
            ]
        }
        var allCorners: [Point3] {
            [Point3(x0, y0, z0), Point3(x1, y0, z0), Point3(x1, y1, z0), Point3(x0, y1, z0),
             Point3(x0, y0, z1), Point3(x1, y0, z1), Point3(x1, y1, z1), Point3(x0, y1, z1)]
        }
        func visibleFaces(from eye: Point3) -> [Face] {
            faces.filter { f in
                let centre = f.corners.reduce(Point3(0, 0, 0), +) * 0.25
                return (eye - centre).dot(f.normal) > 0
            }
        }
        func color(of face: Face) -> (Double, Double, Double) {
            glass.contains(face.index) ? (38, 48, 58) : body
        }
    }

    struct PlacedVehicle {
        var trajectory: VehicleTrajectory
        var frontY: Double
        var x: Double
        var braking: Bool
        var parts: [Part]

        init(trajectory v: VehicleTrajectory, front u: Double, acceleration: Double, road: SceneSpec.Road) {
            trajectory = v
            x = road.laneCenter(v.lane)
            braking = acceleration < -0.8
            let away = v.direction == .away
            frontY = away ? road.startYM + u : road.endYM - u
            // Along-vehicle coordinate a (0 at the rear, L at the front) to world y.
            let frontY = frontY, L = v.length, W = v.width, H = v.height, x = x
            func span(_ a0: Double, _ a1: Double) -> (Double, Double) {
                away ? (frontY - L + a0, frontY - L + a1) : (frontY + L - a1, frontY + L - a0)
            }
            func part(_ a0: Double, _ a1: Double, halfWidth: Double, _ z0: Double, _ z1: Double, _ colour: (Double, Double, Double), glassFront: Bool = false, glassAll: Bool = false) -> Part {
                let (y0, y1) = span(a0, a1)
                var glass: Set<Int> = []
                if glassAll { glass = [0, 1, 2, 3] }
                if glassFront { glass.insert(away ? 1 : 0) }
                return Part(x0: x - halfWidth, x1: x + halfWidth, y0: y0, y1: y1, z0: z0, z1: z1, body: colour, glass: glass)
            }
            let dark = (22.0, 22.0, 24.0)
            let c = v.color
            switch v.type {
            case .car:
                parts = [part(0.45, L - 0.45, halfWidth: W / 2 - 0.12, 0, 0.32, dark),
                         part(0, L, halfWidth: W / 2, 0.32, 0.95, c),
                         part(0.18 * L, 0.72 * L, halfWidth: W / 2 - 0.1, 0.95, H, c, glassAll: true)]
            case .van:
                parts = [part(0.5, L - 0.5, halfWidth: W / 2 - 0.12, 0, 0.35, dark),
                         part(0, L, halfWidth: W / 2, 0.35, 1.2, c),
                         part(0, 0.86 * L, halfWidth: W / 2, 1.2, H, c, glassFront: true)]
            case .truck:
                let cargo = (min(255, c.0 * 0.3 + 170), min(255, c.1 * 0.3 + 170), min(255, c.2 * 0.3 + 170))
                parts = [part(0.6, L - 0.6, halfWidth: W / 2 - 0.15, 0, 0.5, dark),
                         part(0, L - 2.5, halfWidth: W / 2, 0.5, H, cargo),
                         part(L - 2.3, L, halfWidth: W / 2, 0.45, 2.1, c),
                         part(L - 2.3, L - 0.2, halfWidth: W / 2, 2.1, 3.0, c, glassFront: true)]
            case .motorcycle:
                parts = [part(0, L, halfWidth: 0.09, 0, 0.38, dark),
                         part(0.25, L - 0.25, halfWidth: 0.3, 0.38, 0.9, (60, 60, 64)),
                         part(0.65, 1.35, halfWidth: 0.28, 0.9, H, c)]
            }
            parts = Self.paintingOrder(parts)
        }

        /// Parts stacked on each other (overlapping along the road) are painted lower first; parts side by side
        /// farther first. A camera above the road then sees each part over the ones it hides.
        static func paintingOrder(_ parts: [Part]) -> [Part] {
            func mustPrecede(_ a: Part, _ b: Part) -> Bool {
                let overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
                if overlap > 0.05 { return a.z0 < b.z0 }
                return a.y0 > b.y0  // farther from the camera (larger y) first
            }
            var remaining = parts, ordered: [Part] = []
            while !remaining.isEmpty {
                let next = remaining.firstIndex { candidate in !remaining.contains { other in mustPrecede(other, candidate) && !mustPrecede(candidate, other) } } ?? 0
                ordered.append(remaining.remove(at: next))
            }
            return ordered
        }

        func distance(from eye: Point3) -> Double {
            let centre = Point3(x, trajectory.direction == .away ? frontY - trajectory.length / 2 : frontY + trajectory.length / 2, 0)
            return (centre - Point3(eye.x, eye.y, 0)).length
        }
    }

    /// Nearest distance in front of the camera at which anything is drawn.
    private static let nearPlane = 0.3

    /// A convex polygon cut to the picture's rectangle (Sutherland–Hodgman, one edge of the rectangle at a time).
    static func clip(_ polygon: [Point2], width: Double, height: Double) -> [Point2] {
        var points = polygon
        let edges: [(inside: (Point2) -> Bool, cross: (Point2, Point2) -> Point2)] = [
            ({ $0.x >= 0 }, { a, b in Point2(0, a.y + (b.y - a.y) * (0 - a.x) / (b.x - a.x)) }),
            ({ $0.x <= width }, { a, b in Point2(width, a.y + (b.y - a.y) * (width - a.x) / (b.x - a.x)) }),
            ({ $0.y >= 0 }, { a, b in Point2(a.x + (b.x - a.x) * (0 - a.y) / (b.y - a.y), 0) }),
            ({ $0.y <= height }, { a, b in Point2(a.x + (b.x - a.x) * (height - a.y) / (b.y - a.y), height) }),
        ]
        for edge in edges where !points.isEmpty {
            let input = points
            points = []
            for i in input.indices {
                let a = input[i], b = input[(i + 1) % input.count]
                if edge.inside(a) { points.append(a) }
                if edge.inside(a) != edge.inside(b) { points.append(edge.cross(a, b)) }
            }
        }
        return points
    }

    /// The polygon's image, clipped against the near plane first (Sutherland–Hodgman), so that a face reaching
    /// behind the camera is drawn in part instead of not at all; nil when nothing of it is in front.
    private func project(_ corners: [Point3], _ cam: PinholeCamera) -> [Point2]? {
        let inCamera = corners.map { cam.cameraCoordinates($0) }
        var clipped: [Point3] = []
        clipped.reserveCapacity(inCamera.count + 2)
        for i in inCamera.indices {
            let a = inCamera[i], b = inCamera[(i + 1) % inCamera.count]
            let aIn = a.z >= Self.nearPlane, bIn = b.z >= Self.nearPlane
            if aIn { clipped.append(a) }
            if aIn != bIn {
                let f = (Self.nearPlane - a.z) / (b.z - a.z)
                clipped.append(a + (b - a) * f)
            }
        }
        guard clipped.count >= 3 else { return nil }
        return clipped.map { c in
            Point2(cam.principalPoint.x + cam.focalPixels * c.x / c.z, cam.principalPoint.y + cam.focalPixels * c.y / c.z)
        }
    }

    private func shade(_ c: (Double, Double, Double), normal: Point3, gain: Double) -> (UInt8, UInt8, UInt8) {
        let k: Double
        switch lighting {
        case .day: k = 0.5 + 0.55 * max(0, normal.dot(sun))
        case .dusk: k = 0.32 + 0.18 * max(0, normal.dot(sun))
        case .night: k = 0.09 + 0.04 * max(0, normal.z)
        }
        func clamp(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v * k * gain))) }
        return (clamp(c.0), clamp(c.1), clamp(c.2))
    }

    private func fill(_ polygon: [Point2], _ colour: (UInt8, UInt8, UInt8), id: Int32) {
        let w = width
        canvas.withUnsafeMutableBufferPointer { px in
            ids.withUnsafeMutableBufferPointer { idp in
                forEachSpan(polygon, width: width, height: height) { y, x0, x1 in
                    for x in x0...x1 {
                        let i = y * w + x
                        px[3 * i] = colour.0; px[3 * i + 1] = colour.1; px[3 * i + 2] = colour.2
                        if id >= 0 { idp[i] = id }
                    }
                }
            }
        }
    }

    /// Pixels the vehicle's body would cover with nothing in front of it.
    private func pixelsAlone(_ v: PlacedVehicle, cam: PinholeCamera) -> Int {
        var spans: [Int: [(Int, Int)]] = [:]
        for part in v.parts {
            for face in part.visibleFaces(from: camera.position) {
                guard let polygon = project(face.corners, cam) else { continue }
                forEachSpan(polygon, width: width, height: height) { y, x0, x1 in spans[y, default: []].append((x0, x1)) }
            }
        }
        var count = 0
        for (_, row) in spans {
            let sorted = row.sorted { $0.0 < $1.0 }
            var end = -1
            for (a, b) in sorted {
                if b <= end { continue }
                count += b - max(a, end + 1) + 1
                end = b
            }
        }
        return count
    }

    private func drawShadows(_ vehicles: [PlacedVehicle], cam: PinholeCamera, gain: Double) {
        shadow.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        var touched: [(Int, Int, Int)] = []
        for v in vehicles {
            for part in v.parts {
                let ground = part.allCorners.map { p in Point2(p.x - sun.x * p.z / sun.z, p.y - sun.y * p.z / sun.z) }
                let hull = convexHull(ground)
                guard let polygon = project(hull.map { Point3($0.x, $0.y, 0) }, cam) else { continue }
                shadow.withUnsafeMutableBufferPointer { sh in
                    forEachSpan(polygon, width: width, height: height) { y, x0, x1 in
                        for x in x0...x1 { sh[y * width + x] = 1 }
                        touched.append((y, x0, x1))
                    }
                }
            }
        }
        canvas.withUnsafeMutableBufferPointer { px in
            shadow.withUnsafeMutableBufferPointer { sh in
                for (y, x0, x1) in touched {
                    for x in x0...x1 where sh[y * width + x] == 1 {
                        sh[y * width + x] = 2
                        let i = 3 * (y * width + x)
                        px[i] = UInt8(Int(px[i]) * 9 / 16); px[i + 1] = UInt8(Int(px[i + 1]) * 9 / 16); px[i + 2] = UInt8(Int(px[i + 2]) * 10 / 16)
                    }
                }
            }
        }
    }

    /// Tail lights (away) or headlights (toward) on the face the camera sees; with a glow after dark. They sit on the
    /// vehicle's end nearest the camera, on its lowest body part there (a truck's cargo box behind, its cab in front),
    /// 45–80 % of the way up its lowest 0.85 m: 0.60–0.82 m on a car, 0.73–1.03 m on a van, 0.83–1.18 m on a truck,
    /// within the 0.35–1.5 m that regulation allows. (Over the whole part, a truck's lamps were 1.1 m tall bars
    /// 1.9–3.0 m up its cargo box, and an oncoming truck's were on the box behind its cab.)
    private func drawLights(_ v: PlacedVehicle, cam: PinholeCamera, gain: Double) {
        let bodies = v.parts.filter { $0.z0 > 0.2 }
        guard let body = bodies.min(by: { ($0.y0, $0.z0) < ($1.y0, $1.z0) }) else { return }
        let away = v.trajectory.direction == .away
        let y = body.y0 - 0.02
        let half = v.trajectory.type == .motorcycle ? 0.0 : v.trajectory.width / 2 - 0.3
        let height = min(body.z1 - body.z0, 0.85)
        let z0 = body.z0 + height * 0.45, z1 = body.z0 + height * 0.8
        let lit = lighting != .day
        let colour: (UInt8, UInt8, UInt8)
        if away {
            colour = lit || v.braking ? (255, 50, 40) : (150, 25, 25)
        } else {
            colour = lit ? (255, 252, 235) : (215, 215, 205)
        }
        let centres = v.trajectory.type == .motorcycle ? [v.x] : [v.x - half, v.x + half]
        for cx in centres {
            let w = v.trajectory.type == .motorcycle ? 0.1 : 0.16
            let quad = [Point3(cx - w, y, z0), Point3(cx + w, y, z0), Point3(cx + w, y, z1), Point3(cx - w, y, z1)]
            guard let polygon = project(quad, cam) else { continue }
            fill(polygon, colour, id: -1)
            if lit, let centre = cam.project(Point3(cx, y, (z0 + z1) / 2)) {
                let depth = cam.cameraCoordinates(Point3(cx, y, z0)).z
                let radius = cam.focalPixels * (away ? 0.5 : 1.1) / max(depth, 1)
                let strength = lighting == .night ? 1.0 : 0.5
                glow(at: centre, radius: radius, colour: away ? (200, 30, 20) : (255, 245, 220), strength: strength)
            }
        }
    }

    /// Headlight beams on the road ahead of a vehicle after dark (they must not become vehicles).
    private func drawBeam(_ v: PlacedVehicle, cam: PinholeCamera, dx: Int, dy: Int) {
        let sign: Double = v.trajectory.direction == .away ? 1 : -1
        let reach = 22.0, start = v.frontY
        let halfNear = v.trajectory.width / 2, halfFar = v.trajectory.width * 1.4
        let corners = [Point3(v.x - halfNear, start, 0), Point3(v.x + halfNear, start, 0),
                       Point3(v.x + halfFar, start + sign * reach, 0), Point3(v.x - halfFar, start + sign * reach, 0)]
        guard let polygon = project(corners, cam), let box = Box(bounding: polygon)?.clipped(width: Double(width), height: Double(height)) else { return }
        let strength = lighting == .night ? 70.0 : 25.0
        let w = width
        canvas.withUnsafeMutableBufferPointer { px in
            for y in Int(box.y)..<min(height, Int(box.maxY) + 1) {
                for x in Int(box.x)..<min(width, Int(box.maxX) + 1) {
                    let sx = x - dx, sy = y - dy
                    guard sx >= 0, sy >= 0, sx < w, sy < height else { continue }
                    let gx = Double(groundX[sy * w + sx]), gy = Double(groundY[sy * w + sx])
                    guard gx.isFinite else { continue }
                    let d = (gy - start) * sign
                    guard d > 0, d < reach else { continue }
                    let halfWidth = halfNear + (halfFar - halfNear) * d / reach
                    let lateral = abs(gx - v.x)
                    guard lateral < halfWidth else { continue }
                    let k = strength * pow(1 - d / reach, 1.5) * (1 - lateral / halfWidth)
                    let i = 3 * (y * w + x)
                    px[i] = UInt8(min(255, Double(px[i]) + k)); px[i + 1] = UInt8(min(255, Double(px[i + 1]) + k * 0.95)); px[i + 2] = UInt8(min(255, Double(px[i + 2]) + k * 0.8))
                }
            }
        }
    }

    private func glow(at centre: Point2, radius: Double, colour: (Double, Double, Double), strength: Double) {
        let r = max(2, radius)
        let x0 = max(0, Int(centre.x - r)), x1 = min(width - 1, Int(centre.x + r))
        let y0 = max(0, Int(centre.y - r)), y1 = min(height - 1, Int(centre.y + r))
        guard x0 <= x1, y0 <= y1 else { return }
        let w = width
        canvas.withUnsafeMutableBufferPointer { px in
            for y in y0...y1 {
                for x in x0...x1 {
                    let d = ((Double(x) - centre.x) * (Double(x) - centre.x) + (Double(y) - centre.y) * (Double(y) - centre.y)).squareRoot() / r
                    guard d < 1 else { continue }
                    let k = strength * (1 - d) * (1 - d)
                    let i = 3 * (y * w + x)
                    px[i] = UInt8(min(255, Double(px[i]) + colour.0 * k))
                    px[i + 1] = UInt8(min(255, Double(px[i + 1]) + colour.1 * k))
                    px[i + 2] = UInt8(min(255, Double(px[i + 2]) + colour.2 * k))
                }
            }
        }
    }

    // MARK: - Signal head

    /// Image centres of the red, amber and green lamps (without shake).
    public static func lampCentres(_ s: SceneSpec.Signal) -> [SignalPhase: Point2] {
        let r = s.lampRadiusPx
        return [.red: Point2(s.headX + 1.3 * r, s.headY + 1.3 * r),
                .amber: Point2(s.headX + 1.3 * r, s.headY + 3.8 * r),
                .green: Point2(s.headX + 1.3 * r, s.headY + 6.3 * r)]
    }

    private func drawSignal(_ s: SceneSpec.Signal, phase: SignalPhase, gain: Double, dx: Int, dy: Int) {
        let r = s.lampRadiusPx
        let ox = s.headX + Double(dx), oy = s.headY + Double(dy)
        let housing = UInt8(30 * gain)
        let pole = [Point2(ox + 1.0 * r, oy + 7.6 * r), Point2(ox + 1.6 * r, oy + 7.6 * r), Point2(ox + 1.6 * r, oy + 20 * r), Point2(ox + 1.0 * r, oy + 20 * r)]
        fill(pole, (UInt8(55 * gain), UInt8(55 * gain), UInt8(58 * gain)), id: -1)
        fill([Point2(ox, oy), Point2(ox + 2.6 * r, oy), Point2(ox + 2.6 * r, oy + 7.6 * r), Point2(ox, oy + 7.6 * r)], (housing, housing, housing), id: -1)
        let lit: [SignalPhase: (UInt8, UInt8, UInt8)] = [.red: (255, 45, 35), .amber: (255, 175, 20), .green: (40, 255, 140)]
        let dim: [SignalPhase: (UInt8, UInt8, UInt8)] = [.red: (70, 22, 20), .amber: (70, 52, 14), .green: (16, 60, 34)]
        let centres = Self.lampCentres(s)
        for lamp in [SignalPhase.red, .amber, .green] {  // a fixed order: glows overlap and add up
            let centre = centres[lamp]!
            let c = Point2(centre.x + Double(dx), centre.y + Double(dy))
            let on = lamp == phase
            let colour = on ? lit[lamp]! : dim[lamp]!
            let circle = (0..<20).map { k -> Point2 in
                let a = Double(k) * 2 * .pi / 20
                return Point2(c.x + r * 0.95 * cos(a), c.y + r * 0.95 * sin(a))
            }
            fill(circle, colour, id: -1)
            if on {
                let bloom = lighting == .night ? 0.55 : lighting == .dusk ? 0.35 : 0.15
                glow(at: c, radius: r * (lighting == .night ? 3 : 2), colour: (Double(colour.0), Double(colour.1), Double(colour.2)), strength: bloom)
            }
        }
    }

    // MARK: - Background, noise

    private func copyBackground(gain: Double, dx: Int, dy: Int) {
        var table = [UInt8](repeating: 0, count: 256)
        for v in 0..<256 { table[v] = UInt8(min(255, (Double(v) * gain).rounded())) }
        let w = width, h = height
        background.withUnsafeBufferPointer { bg in
            canvas.withUnsafeMutableBufferPointer { px in
                table.withUnsafeBufferPointer { tb in
                    for y in 0..<h {
                        let sy = min(h - 1, max(0, y - dy))
                        for x in 0..<w {
                            let sx = min(w - 1, max(0, x - dx))
                            let s = 3 * (sy * w + sx), d = 3 * (y * w + x)
                            px[d] = tb[Int(bg[s])]; px[d + 1] = tb[Int(bg[s + 1])]; px[d + 2] = tb[Int(bg[s + 2])]
                        }
                    }
                }
            }
        }
    }

    private func addNoise(frame index: Int) {
        let sigma = spec.conditions.noise
        guard sigma > 0 else { return }
        var rng = SceneRandom(seed: spec.seed &+ UInt64(index) &* 0x9E37_79B9)
        var table = [Int16](repeating: 0, count: 256)
        var tableRandom = SceneRandom(seed: spec.seed ^ 0xC0FFEE)
        for i in 0..<256 { table[i] = Int16(tableRandom.normal(sd: sigma).rounded()) }
        canvas.withUnsafeMutableBufferPointer { px in
            var bits: UInt64 = 0
            for p in 0..<(width * height) {
                if p & 7 == 0 { bits = rng.next() }
                let n = table[Int(bits & 255)]
                bits >>= 8
                let i = 3 * p
                px[i] = UInt8(clamping: Int16(px[i]) + n)
                px[i + 1] = UInt8(clamping: Int16(px[i + 1]) + n)
                px[i + 2] = UInt8(clamping: Int16(px[i + 2]) + n)
            }
        }
    }

    private func renderBackground() {
        let w = width, h = height
        var bg = [UInt8](repeating: 0, count: w * h * 3)
        var gx = [Float](repeating: .nan, count: w * h), gy = [Float](repeating: .nan, count: w * h)
        let offsets = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]
        for y in 0..<h {
            for x in 0..<w {
                var r = 0.0, g = 0.0, b = 0.0
                for (ox, oy) in offsets {
                    let c = colour(atImage: Point2(Double(x) + ox, Double(y) + oy))
                    r += c.0; g += c.1; b += c.2
                }
                let i = y * w + x
                bg[3 * i] = UInt8(max(0, min(255, r / 4))); bg[3 * i + 1] = UInt8(max(0, min(255, g / 4))); bg[3 * i + 2] = UInt8(max(0, min(255, b / 4)))
                if let p = camera.groundPoint(atImage: Point2(Double(x) + 0.5, Double(y) + 0.5)) {
                    gx[i] = Float(p.x); gy[i] = Float(p.y)
                }
            }
        }
        background = bg
        groundX = gx
        groundY = gy
    }

    /// Colour seen through an image point of the static scene.
    private func colour(atImage q: Point2) -> (Double, Double, Double) {
        guard let g = camera.groundPoint(atImage: q) else { return sky(q) }
        var c = groundColour(g)
        let distance = (g - camera.position.ground).length
        let fog = 1 - exp(-distance / 450)
        let haze = sky(Point2(q.x, 0))
        c = (c.0 + (haze.0 - c.0) * fog * 0.6, c.1 + (haze.1 - c.1) * fog * 0.6, c.2 + (haze.2 - c.2) * fog * 0.6)
        return c
    }

    private func sky(_ q: Point2) -> (Double, Double, Double) {
        let k = max(0, min(1, q.y / Double(height)))
        switch lighting {
        case .day: return (150 + 50 * k, 185 + 35 * k, 228 + 12 * k)
        case .dusk: return (80 + 150 * k, 70 + 70 * k, 95 - 5 * k)
        case .night: return (6 + 10 * k, 8 + 10 * k, 18 + 12 * k)
        }
    }

    private func groundColour(_ g: Point2) -> (Double, Double, Double) {
        let road = spec.road
        let seed = spec.seed
        let stop = road.stopLineYM
        let onCrossRoad = stop.map { g.y >= $0 + 1.5 && g.y <= $0 + 22 && g.x > -80 && g.x < road.width + 80 } ?? false
        let onRoad = (g.x >= 0 && g.x <= road.width && g.y >= road.startYM - 60 && g.y <= road.endYM + 200) || onCrossRoad
        var c: (Double, Double, Double)
        if onRoad {
            let n = 9 * (latticeNoise(g.x * 4, g.y * 4, seed: seed) - 0.5) + 7 * (latticeNoise(g.x * 0.4, g.y * 0.4, seed: seed &+ 1) - 0.5)
            c = (92 + n, 92 + n, 96 + n)
            if isMarking(g, crossRoad: onCrossRoad) { c = (214, 214, 208) }
            if isCentreLine(g) { c = (210, 175, 40) }
        } else {
            let sidewalk = stop != nil && ((g.x < 0 && g.x > -3) || (g.x > road.width && g.x < road.width + 3))
            if sidewalk {
                let joint = (g.y - 1.5 * (g.y / 1.5).rounded(.down)) < 0.05
                let n = 6 * (latticeNoise(g.x * 3, g.y * 3, seed: seed &+ 2) - 0.5)
                c = joint ? (120, 118, 112) : (165 + n, 162 + n, 154 + n)
            } else {
                let n = 24 * (latticeNoise(g.x * 1.5, g.y * 1.5, seed: seed &+ 3) - 0.5) + 14 * (latticeNoise(g.x * 0.15, g.y * 0.15, seed: seed &+ 4) - 0.5)
                c = (72 + n * 0.6, 108 + n, 52 + n * 0.4)
            }
        }
        switch lighting {
        case .day:
            return c
        case .dusk:
            return (c.0 * 0.5, c.1 * 0.45, c.2 * 0.42)
        case .night:
            // Street lights every 30 m on both sides.
            var light = 0.07
            for side in [-2.0, road.width + 2] {
                let nearest = 30 * (g.y / 30).rounded()
                let d2 = (g.x - side) * (g.x - side) + (g.y - nearest) * (g.y - nearest)
                light += 0.45 * exp(-d2 / 90)
            }
            return (c.0 * light * 1.1, c.1 * light, c.2 * light * 0.75)
        }
    }

    private func isMarking(_ g: Point2, crossRoad: Bool) -> Bool {
        let road = spec.road
        if let stop = road.stopLineYM {
            // Stop line across the away lanes, crosswalks before and after the junction.
            if g.y >= stop && g.y <= stop + 0.5 {
                for (i, d) in road.lanes.enumerated() where d == .away {
                    if g.x >= Double(i) * road.laneWidthM && g.x <= Double(i + 1) * road.laneWidthM { return true }
                }
            }
            if road.crosswalk, g.x >= 0.3, g.x <= road.width - 0.3 {
                for start in [stop + 2.0, stop + 17.5] where g.y >= start && g.y <= start + 3.5 {
                    if Int((g.x / 0.6).rounded(.down)) % 2 == 0 { return true }
                }
            }
            if crossRoad { return false }
        }
        if g.x >= 0.15 && g.x <= 0.3 || g.x >= road.width - 0.3 && g.x <= road.width - 0.15 { return true }
        for k in 1..<road.lanes.count where road.lanes[k - 1] == road.lanes[k] {
            let lx = Double(k) * road.laneWidthM
            guard abs(g.x - lx) <= 0.075 else { continue }
            if let stop = road.stopLineYM, g.y > stop - 25, g.y < stop { return true }
            let m = g.y - 12 * (g.y / 12).rounded(.down)
            if m < 3 { return true }
        }
        return false
    }

    private func isCentreLine(_ g: Point2) -> Bool {
        let road = spec.road
        if let stop = road.stopLineYM, g.y >= stop + 1.5, g.y <= stop + 22 { return false }
        for k in 1..<road.lanes.count where road.lanes[k - 1] != road.lanes[k] {
            let d = abs(g.x - Double(k) * road.laneWidthM)
            if d >= 0.08 && d <= 0.22 { return true }
        }
        return false
    }
}
