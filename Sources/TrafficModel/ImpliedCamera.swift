import Foundation

/// The camera a ground calibration implies: a pinhole with square pixels, its principal point at the picture's
/// centre, above the ground plane the calibration maps. A homography from the road to the picture is K [r1 r2 t] up
/// to scale (K the camera's intrinsics, r1 r2 its rotation's first two columns): r1 and r2 must be orthogonal and of
/// equal length, which fixes the one unknown, the focal length, and then the pose. With it, points above the road
/// project too: a car's height, a truck's, a lamp's, where the ground calibration alone says nothing of them.
///
/// For an engineer's check of a calibration (`roadwatch calibrate` draws a car-sized box in each lane and prints the
/// camera's height and focal length: a calibration implying a camera 40 m up, or a 200 px lens, is wrong). Nil where
/// the calibration implies no such camera (points on a road that is not a plane, a principal point far off centre).
public struct ImpliedCamera: Sendable, Equatable {
    public let focalPixels: Double
    public let principalPoint: Point2
    /// The camera's height above the road (metres) and its position on the road's plane (world x, y).
    public let height: Double
    public let groundPosition: Point2
    /// Degrees the optical axis points below the horizon.
    public let tiltDegrees: Double
    /// World → picture, row-major 3 × 4, for (x, y, z up, 1).
    public let projection: [Double]

    public init?(calibration: Calibration, imageWidth: Int, imageHeight: Int) {
        let h = calibration.worldToImage.normalized().m
        let cx = Double(imageWidth) / 2, cy = Double(imageHeight) / 2
        // Column j of H is (h[j], h[3 + j], h[6 + j]); K⁻¹ applied to it, times f, is (u, v, f·w).
        func column(_ j: Int) -> (u: Double, v: Double, w: Double) { (h[j] - cx * h[6 + j], h[3 + j] - cy * h[6 + j], h[6 + j]) }
        let c1 = column(0), c2 = column(1), c3 = column(2)
        // r1 · r2 = 0 and |r1| = |r2|, with g = 1 / f²: a·g + b = 0 twice, solved together by least squares.
        let a1 = c1.u * c2.u + c1.v * c2.v, b1 = c1.w * c2.w
        let a2 = c1.u * c1.u + c1.v * c1.v - c2.u * c2.u - c2.v * c2.v, b2 = c1.w * c1.w - c2.w * c2.w
        let denominator = a1 * a1 + a2 * a2
        guard denominator > 0 else { return nil }
        let g = -(a1 * b1 + a2 * b2) / denominator
        guard g > 0, g.isFinite else { return nil }
        let f = 1 / g.squareRoot()
        func scaled(_ c: (u: Double, v: Double, w: Double)) -> Point3 { Point3(c.u / f, c.v / f, c.w) }
        let m1 = scaled(c1), m2 = scaled(c2), m3 = scaled(c3)
        // The scale makes r1 and r2 unit vectors; its sign puts the calibration's points in front of the camera.
        let reference = calibration.points[0].world
        let depth = m1.z * reference.x + m2.z * reference.y + m3.z
        let lambda = (m1.length + m2.length) / 2 * (depth < 0 ? -1 : 1)
        guard lambda != 0 else { return nil }
        let r1 = m1 * (1 / lambda), r2 = m2 * (1 / lambda), t = m3 * (1 / lambda)
        // Equal lengths and a right angle within a few per cent, or the picture is not of one plane by one pinhole.
        guard abs(r1.length - r2.length) < 0.05 * max(r1.length, r2.length), abs(r1.dot(r2)) < 0.05 else { return nil }
        var r3 = r1.cross(r2)
        r3 = r3 * (1 / r3.length)
        // The camera centre C solves R C + t = 0 with R = [r1 r2 r3] (columns): C = −Rᵀ t.
        let centre = Point3(-r1.dot(t), -r2.dot(t), -r3.dot(t))
        // Up is the side of the road the camera is on (world axes may be left- or right-handed).
        let up: Double = centre.z >= 0 ? 1 : -1
        focalPixels = f
        principalPoint = Point2(cx, cy)
        height = abs(centre.z)
        groundPosition = Point2(centre.x, centre.y)
        // The optical axis is the camera's z axis, the third row of R: its world z component is the sine of the tilt
        // below the horizon (negated: looking down is a negative z component), with `up` orienting z.
        tiltDegrees = asin(max(-1, min(1, -r3.z * up))) * 180 / .pi
        let r3u = r3 * up
        // P = K [r1 r2 r3u t]: rows f·row + c·third row.
        let third = [r1.z, r2.z, r3u.z, t.z]
        let first = [r1.x, r2.x, r3u.x, t.x], second = [r1.y, r2.y, r3u.y, t.y]
        projection = (0..<4).map { f * first[$0] + cx * third[$0] } + (0..<4).map { f * second[$0] + cy * third[$0] } + third
    }

    /// The picture point of a world point (z metres above the road); nil behind the camera.
    public func project(_ p: Point3) -> Point2? {
        let m = projection
        let w = m[8] * p.x + m[9] * p.y + m[10] * p.z + m[11]
        guard w > 1e-9 else { return nil }
        return Point2((m[0] * p.x + m[1] * p.y + m[2] * p.z + m[3]) / w, (m[4] * p.x + m[5] * p.y + m[6] * p.z + m[7]) / w)
    }

    /// The picture box of a vehicle `length` × `width` × `height` metres standing on the road, its rear centre at
    /// `rear`, driving along `heading` (a ground direction); nil where a corner is behind the camera.
    public func vehicleBox(rear: Point2, heading: Point2, length: Double, width: Double, height: Double) -> (corners: [Point2], box: Box)? {
        let n = (heading.x * heading.x + heading.y * heading.y).squareRoot()
        guard n > 0 else { return nil }
        let along = Point2(heading.x / n, heading.y / n), across = Point2(along.y, -along.x)
        var corners: [Point2] = []
        for l in [0.0, length] {
            for s in [-width / 2, width / 2] {
                for z in [0.0, height] {
                    guard let q = project(Point3(rear.x + along.x * l + across.x * s, rear.y + along.y * l + across.y * s, z)) else { return nil }
                    corners.append(q)
                }
            }
        }
        guard let box = Box(bounding: corners) else { return nil }
        return (corners, box)
    }
}
