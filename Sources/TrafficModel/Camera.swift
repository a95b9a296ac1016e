import Foundation

/// A pinhole camera above a flat ground plane z = 0.
///
/// World axes: x across the road to the right, y along the road away from the camera, z up (metres).
/// The camera stands at `position`, looks along +y turned by `panDegrees` (positive to the right) and
/// tilted down by `tiltDegrees`; `rollDegrees` turns the image clockwise. Image axes: x right, y down (pixels).
public struct PinholeCamera: Sendable, Equatable, Codable {
    public var focalPixels: Double
    public var principalPoint: Point2
    public let position: Point3
    public let tiltDegrees: Double
    public let panDegrees: Double
    public let rollDegrees: Double
    public var imageWidth: Int
    public var imageHeight: Int
    /// Rows of the world→camera rotation: camera right, camera down, camera forward (as world vectors).
    /// Computed once from the angles (they are constants), since every projection needs them.
    public let axes: (right: Point3, down: Point3, forward: Point3)

    enum CodingKeys: String, CodingKey { case focalPixels, principalPoint, position, tiltDegrees, panDegrees, rollDegrees, imageWidth, imageHeight }

    public static func == (a: PinholeCamera, b: PinholeCamera) -> Bool {
        a.focalPixels == b.focalPixels && a.principalPoint == b.principalPoint && a.position == b.position && a.tiltDegrees == b.tiltDegrees
            && a.panDegrees == b.panDegrees && a.rollDegrees == b.rollDegrees && a.imageWidth == b.imageWidth && a.imageHeight == b.imageHeight
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(focalPixels: try c.decode(Double.self, forKey: .focalPixels), imageWidth: try c.decode(Int.self, forKey: .imageWidth),
                  imageHeight: try c.decode(Int.self, forKey: .imageHeight), position: try c.decode(Point3.self, forKey: .position),
                  tiltDegrees: try c.decode(Double.self, forKey: .tiltDegrees), panDegrees: try c.decode(Double.self, forKey: .panDegrees),
                  rollDegrees: try c.decode(Double.self, forKey: .rollDegrees), principalPoint: try c.decode(Point2.self, forKey: .principalPoint))
    }

    public init(focalPixels: Double, imageWidth: Int, imageHeight: Int, position: Point3, tiltDegrees: Double,
                panDegrees: Double = 0, rollDegrees: Double = 0, principalPoint: Point2? = nil) {
        self.focalPixels = focalPixels
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.position = position
        self.tiltDegrees = tiltDegrees
        self.panDegrees = panDegrees
        self.rollDegrees = rollDegrees
        self.principalPoint = principalPoint ?? Point2(Double(imageWidth) / 2, Double(imageHeight) / 2)
        axes = Self.rotation(tilt: tiltDegrees, pan: panDegrees, roll: rollDegrees)
    }

    static func rotation(tilt tiltDegrees: Double, pan panDegrees: Double, roll rollDegrees: Double) -> (right: Point3, down: Point3, forward: Point3) {
        let pan = panDegrees * .pi / 180, tilt = tiltDegrees * .pi / 180, roll = rollDegrees * .pi / 180
        let forward = Point3(sin(pan) * cos(tilt), cos(pan) * cos(tilt), -sin(tilt))
        var right = Point3(cos(pan), -sin(pan), 0)
        var down = forward.cross(right)  // completes a right-handed camera frame with y down
        if roll != 0 {
            let r = right * cos(roll) + down * sin(roll)
            let d = down * cos(roll) - right * sin(roll)
            right = r
            down = d
        }
        return (right, down, forward)
    }

    /// Camera-frame coordinates (x right, y down, z forward) of a world point.
    @inlinable public func cameraCoordinates(_ p: Point3) -> Point3 {
        let (r, d, f) = axes
        let v = p - position
        return Point3(v.dot(r), v.dot(d), v.dot(f))
    }

    /// Image point of a world point, or nil behind the camera.
    public func project(_ p: Point3) -> Point2? {
        let c = cameraCoordinates(p)
        guard c.z > 1e-6 else { return nil }
        return Point2(principalPoint.x + focalPixels * c.x / c.z, principalPoint.y + focalPixels * c.y / c.z)
    }

    /// The ground point seen at an image point, or nil at or above the horizon.
    public func groundPoint(atImage q: Point2) -> Point2? {
        let (r, d, f) = axes
        let ray = r * ((q.x - principalPoint.x) / focalPixels) + d * ((q.y - principalPoint.y) / focalPixels) + f
        guard ray.z < -1e-9 else { return nil }
        let t = -position.z / ray.z
        return Point2(position.x + ray.x * t, position.y + ray.y * t)
    }

    /// The 3x4 projection matrix P = K [R | -R C], rows first.
    public var projectionMatrix: [[Double]] {
        let (r, d, f) = axes
        let rows = [r, d, f]
        let k = [[focalPixels, 0, principalPoint.x], [0, focalPixels, principalPoint.y], [0, 0, 1]]
        var rt = rows.map { [$0.x, $0.y, $0.z, -$0.dot(position)] }
        rt = rt.map { $0 }
        return (0..<3).map { i in (0..<4).map { j in (0..<3).reduce(0.0) { $0 + k[i][$1] * rt[$1][j] } } }
    }

    /// The homography from ground (x, y, 1) to image, from the projection matrix (drop the z column).
    public var groundToImage: Homography {
        let p = projectionMatrix
        return Homography([p[0][0], p[0][1], p[0][3], p[1][0], p[1][1], p[1][3], p[2][0], p[2][1], p[2][3]]).normalized()
    }
}
