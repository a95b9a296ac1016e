import Foundation
import Detection
import Rules
import TrafficModel
import VideoIO

/// The engineer's picture of a pipeline's geometry on a frame of the footage: a 5 m ground grid through the
/// calibration, the lanes, the stop line, the speed zone, the lamp regions, the detector's detail region, and each
/// calibration point where it is marked (cross) and where its ground point maps (circle), with its reprojection error.
public enum CalibrationOverlay {
    /// Decodes `video` up to `seconds` and draws on that frame; returns the picture and the frame's time.
    public static func render(config: PipelineConfig, video: String, at seconds: Double) throws -> (Picture, Double) {
        let reader = try VideoReader(path: video)
        var chosen: VideoFrame?
        while let frame = try reader.nextFrame() {
            chosen = frame
            if frame.pts >= seconds { break }
        }
        guard let frame = chosen else { throw PipelineError.input(video, "no frame could be decoded") }
        var picture = frame.layout == .yuv420p ? frame.picture() : EvidenceWriter.toYUV(frame.picture())
        draw(config: config, on: &picture)
        return (picture, frame.pts)
    }

    public static func draw(config: PipelineConfig, on picture: inout Picture) {
        let c = config.calibration
        let m = c.worldToImage.m
        let reference = c.points[0].world
        let frontSign = (m[6] * reference.x + m[7] * reference.y + m[8]) >= 0
        func inFront(_ p: Point2) -> Bool { ((m[6] * p.x + m[7] * p.y + m[8]) >= 0) == frontSign && abs(m[6] * p.x + m[7] * p.y + m[8]) > 1e-9 }
        let width = Double(picture.width), height = Double(picture.height)
        func visible(_ q: Point2) -> Bool { q.x > -width && q.x < 2 * width && q.y > -height && q.y < 2 * height }
        /// A ground line drawn as short image segments wherever it is in front of the camera.
        func groundLine(_ a: Point2, _ b: Point2, rgb: (UInt8, UInt8, UInt8), thickness: Int) {
            let steps = 200
            var previous: Point2?
            for s in 0...steps {
                let f = Double(s) / Double(steps)
                let w = Point2(a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f)
                guard inFront(w), let q = c.image(w), visible(q) else { previous = nil; continue }
                if let p = previous { picture.drawLine(from: (p.x, p.y), to: (q.x, q.y), rgb: rgb, thickness: thickness) }
                previous = q
            }
        }
        // The grid: every 5 m over the calibration points' extent, widened by 30 m.
        let xs = c.points.map(\.world.x), ys = c.points.map(\.world.y)
        let x0 = (floor((xs.min()! - 30) / 5)) * 5, x1 = (ceil((xs.max()! + 30) / 5)) * 5
        let y0 = (floor((ys.min()! - 30) / 5)) * 5, y1 = (ceil((ys.max()! + 60) / 5)) * 5
        var x = x0
        while x <= x1 { groundLine(Point2(x, y0), Point2(x, y1), rgb: (0, 200, 255), thickness: 1); x += 5 }
        var y = y0
        while y <= y1 { groundLine(Point2(x0, y), Point2(x1, y), rgb: (0, 200, 255), thickness: 1); y += 5 }
        // Lanes, outlined, with their id at the centre of their visible part.
        for lane in config.lanes {
            let ps = lane.polygon.points
            for i in ps.indices {
                let a = ps[i], b = ps[(i + 1) % ps.count]
                picture.drawLine(from: (a.x, a.y), to: (b.x, b.y), rgb: (60, 255, 60), thickness: 2)
            }
            // The label sits on the lane's middle, at the calibration points' mean distance (where the picture is sure).
            let ground = ps.compactMap { c.world($0) }
            let meanY = ys.reduce(0, +) / Double(ys.count)
            let centre = ground.isEmpty ? ps[0] : (c.image(Point2(ground.map(\.x).reduce(0, +) / Double(ground.count), meanY)) ?? ps[0])
            let scale = max(1, picture.width / 640)
            picture.draw(text: "LANE \(lane.id)", x: Int(min(max(0, centre.x), width - 60)), y: Int(min(max(0, centre.y), height - 20)), scale: scale,
                         rgb: (60, 255, 60))
        }
        if let r = config.redLight {
            picture.drawLine(from: (r.stopLine.a.x, r.stopLine.a.y), to: (r.stopLine.b.x, r.stopLine.b.y), rgb: (255, 40, 40), thickness: 3)
        }
        if let s = config.speeding {
            for line in [s.entry, s.exit] { picture.drawLine(from: (line.a.x, line.a.y), to: (line.b.x, line.b.y), rgb: (255, 220, 0), thickness: 3) }
        }
        if case .lamps(let lamps)? = config.signal {
            for lamp in lamps {
                let rgb: (UInt8, UInt8, UInt8) = lamp.phase == .red ? (255, 40, 40) : lamp.phase == .amber ? (255, 180, 0) : (40, 255, 40)
                picture.stroke(Box(x: lamp.center.x - lamp.radius, y: lamp.center.y - lamp.radius, width: 2 * lamp.radius, height: 2 * lamp.radius), rgb: rgb, thickness: 1)
            }
        }
        // Calibration points: a cross where marked, a box where the ground point maps, and the error in pixels.
        let scale = max(1, picture.width / 640)
        if let d = config.detection.detailRegion {
            picture.stroke(d, rgb: (255, 255, 255), thickness: 1)
            picture.draw(text: "DETAIL", x: Int(d.x) + 2, y: Int(d.maxY) + 2, scale: scale, rgb: (255, 255, 255))
        }
        for (i, p) in c.points.enumerated() {
            let q = p.image
            picture.drawLine(from: (q.x - 8, q.y), to: (q.x + 8, q.y), rgb: (255, 0, 255), thickness: 2)
            picture.drawLine(from: (q.x, q.y - 8), to: (q.x, q.y + 8), rgb: (255, 0, 255), thickness: 2)
            if let mapped = c.image(p.world) {
                picture.stroke(Box(x: mapped.x - 5, y: mapped.y - 5, width: 10, height: 10), rgb: (255, 255, 255), thickness: 1)
            }
            picture.draw(text: String(format: "P%d %.2f PX", i + 1, c.imageErrors[i]), x: Int(q.x) + 10, y: Int(q.y) + 6, scale: scale, rgb: (255, 0, 255))
        }
        let implied = ImpliedCamera(calibration: c, imageWidth: picture.width, imageHeight: picture.height)
        if let implied { drawReferenceCars(implied, lanes: config.lanes, calibration: c, on: &picture) }
        let rms = (c.imageErrors.map { $0 * $0 }.reduce(0, +) / Double(c.imageErrors.count)).squareRoot()
        picture.drawDataBar([
            "CAMERA \(config.camera.id)  CALIBRATION \(c.points.count) POINTS  REPROJECTION RMS \(String(format: "%.2f", rms)) PX, MAX \(String(format: "%.2f", c.imageErrors.max() ?? 0)) PX",
            "GRID 5 M (BLUE)  LANES (GREEN)  STOP LINE (RED)  SPEED ZONE (YELLOW)  POINTS: + MARKED, BOX MAPPED",
            implied.map { String(format: "IMPLIED CAMERA %.1f M UP, FOCAL %.0f PX, %.1f DEG DOWN  CARS 4.5 X 1.8 X 1.5 M (ORANGE)", $0.height, $0.focalPixels, $0.tiltDegrees) }
                ?? "NO PINHOLE CAMERA OVER ONE PLANE FITS THE CALIBRATION: CHECK THE POINTS",
        ])
    }

    /// A car (4.5 × 1.8 × 1.5 m) standing in the middle of each lane at a fifth, half and four fifths of its length,
    /// drawn through the camera the calibration implies: beside a real car in the picture it shows a calibration whose
    /// scale or lean is wrong, which the ground grid alone does not.
    public static func drawReferenceCars(_ camera: ImpliedCamera, lanes: [Lane], calibration c: Calibration, on picture: inout Picture) {
        for lane in lanes {
            let ground = lane.polygon.points.compactMap { c.world($0) }
            guard ground.count >= 3 else { continue }
            // The lane's axis: the direction of its ground outline's greatest spread.
            var mx = 0.0, my = 0.0
            for g in ground { mx += g.x / Double(ground.count); my += g.y / Double(ground.count) }
            var sxx = 0.0, syy = 0.0, sxy = 0.0
            for g in ground {
                let dx = g.x - mx, dy = g.y - my
                sxx += dx * dx; syy += dy * dy; sxy += dx * dy
            }
            let angle = 0.5 * atan2(2 * sxy, sxx - syy)
            let axis = Point2(cos(angle), sin(angle))
            let along = ground.map { (g: Point2) -> Double in (g.x - mx) * axis.x + (g.y - my) * axis.y }
            let lo = along.min()!, hi = along.max()!
            for share in [0.2, 0.5, 0.8] {
                let s = lo + share * (hi - lo)
                guard let car = camera.vehicleBox(rear: Point2(mx + axis.x * s, my + axis.y * s), heading: axis, length: 4.5, width: 1.8, height: 1.5) else { continue }
                // Corners are indexed length · 4 + side · 2 + height: the edges join corners one index bit apart.
                for a in 0..<8 {
                    for bit in [1, 2, 4] where a & bit == 0 {
                        let p = car.corners[a], q = car.corners[a | bit]
                        picture.drawLine(from: (p.x, p.y), to: (q.x, q.y), rgb: (255, 140, 0), thickness: 1)
                    }
                }
            }
        }
    }
}
