import Foundation
import Testing
import TrafficModel

struct CameraTests {
    let camera = PinholeCamera(focalPixels: 1000, imageWidth: 1280, imageHeight: 720, position: Point3(12, 0, 7.5), tiltDegrees: 13, panDegrees: -4, rollDegrees: 1)

    @Test("ground points project into the image and back", arguments: [(5.0, 20.0), (0, 38), (14, 60), (7, 120)])
    func roundTrip(_ ground: (Double, Double)) throws {
        let image = try #require(camera.project(Point3(ground.0, ground.1, 0)))
        let back = try #require(camera.groundPoint(atImage: image))
        #expect(back.distance(to: Point2(ground.0, ground.1)) < 1e-9)
    }

    @Test("the ground homography agrees with the projection, and inverts")
    func homography() throws {
        let h = camera.groundToImage
        let inverse = try #require(h.inverse)
        for p in [Point2(3, 25), Point2(10, 50), Point2(-4, 90)] {
            let viaCamera = try #require(camera.project(Point3(p.x, p.y, 0)))
            let viaH = try #require(h.apply(p))
            #expect(viaCamera.distance(to: viaH) < 1e-6)
            #expect(try #require(inverse.apply(viaH)).distance(to: p) < 1e-6)
        }
        #expect(((h * inverse).normalized().m.enumerated().allSatisfy { abs($0.element - Homography.identity.m[$0.offset]) < 1e-9 }))
    }

    @Test("points behind the camera or above the horizon have no image or ground point")
    func outOfView() {
        #expect(camera.project(Point3(12, -5, 7.5)) == nil)
        #expect(camera.groundPoint(atImage: Point2(640, 0)) == nil)
    }

    @Test("the principal ray hits the ground at height / tan(tilt)")
    func tilt() throws {
        let level = PinholeCamera(focalPixels: 800, imageWidth: 640, imageHeight: 480, position: Point3(0, 0, 10), tiltDegrees: 45)
        let g = try #require(level.groundPoint(atImage: Point2(320, 240)))
        #expect(abs(g.y - 10) < 1e-9 && abs(g.x) < 1e-9)
    }
}

struct GeometryTests {
    @Test func boxes() {
        let a = Box(x: 0, y: 0, width: 10, height: 10), b = Box(x: 5, y: 5, width: 10, height: 10)
        #expect(abs(a.iou(b) - 25.0 / 175.0) < 1e-12)
        #expect(a.iou(Box(x: 20, y: 20, width: 1, height: 1)) == 0)
        #expect(a.bottomCenter == Point2(5, 10))
        #expect(Box(bounding: [Point2(3, 4), Point2(-1, 9), Point2(2, 2)]) == Box(x: -1, y: 2, width: 4, height: 7))
        #expect(Box(x: -5, y: -5, width: 10, height: 10).clipped(width: 100, height: 100) == Box(x: 0, y: 0, width: 5, height: 5))
        // An analysis box (shrunk 3 times) in the picture: every edge and the area scale with it.
        let analysis = Box(x: 7, y: 2.5, width: 4, height: 6), picture = analysis.scaled(by: 3)
        #expect(picture == Box(x: 21, y: 7.5, width: 12, height: 18))
        #expect(picture.area == 9 * analysis.area && picture.bottomCenter == Point2(27, 25.5))
    }

    @Test func polygons() {
        let lane = Polygon([Point2(0, 0), Point2(4, 0), Point2(3, 10), Point2(1, 10)])
        #expect(lane.contains(Point2(2, 5)))
        #expect(!lane.contains(Point2(0.2, 9)))
        #expect(abs(lane.area - 30) < 1e-12)
    }

    @Test func segmentSides() {
        let stop = Segment(Point2(0, 0), Point2(10, 0))
        #expect(stop.side(of: Point2(5, 1)) > 0)
        #expect(stop.side(of: Point2(5, -1)) < 0)
    }

    @Test("geometry encodes as plain arrays")
    func coding() throws {
        let data = try JSONEncoder().encode(Box(x: 1, y: 2, width: 3, height: 4))
        #expect(String(decoding: data, as: UTF8.self) == "[1,2,3,4]")
        #expect(try JSONDecoder().decode(Point2.self, from: Data("[1.5,2]".utf8)) == Point2(1.5, 2))
    }

    @Test("a blob holds vehicles apart: two or more inside it, none mostly inside another of like size, pieces left out, their union fitting it")
    func holdsApart() {
        let blob = Box(x: 0, y: 0, width: 100, height: 60)
        let car = Box(x: 0, y: 0, width: 50, height: 60), van = Box(x: 52, y: 5, width: 48, height: 55)
        #expect(blob.holdsApart([car, van]) == [0, 1])
        // A third box far away is not held; one half out of the blob is not held either.
        #expect(blob.holdsApart([Box(x: 300, y: 0, width: 20, height: 20), car, van, Box(x: 90, y: 0, width: 20, height: 20)]) == [1, 2])
        #expect(blob.holdsApart([car]) == nil)
        // A piece inside the car's box (its roof) with the car: one vehicle, not two.
        #expect(blob.holdsApart([car, Box(x: 0, y: 0, width: 50, height: 20)]) == nil)
        // A strip of a truck's side tracked on its own, inside the truck's box, with a car queued behind the truck:
        // the strip is a piece of the truck, and the blob holds the truck and the car.
        let tall = Box(x: 0, y: 0, width: 100, height: 160), truck = Box(x: 5, y: 0, width: 90, height: 100)
        let strip = Box(x: 10, y: 40, width: 12, height: 30), queued = Box(x: 0, y: 100, width: 100, height: 60)
        #expect(tall.holdsApart([truck, strip, queued]) == [0, 2])
        // Two boxes alike in size, one mostly inside the other (vehicles one behind the other, far away), still do not.
        #expect(blob.holdsApart([car, Box(x: 10, y: 10, width: 45, height: 50)]) == nil)
        // Two small boxes in one corner of a large blob do not explain it.
        #expect(blob.holdsApart([Box(x: 0, y: 0, width: 20, height: 20), Box(x: 25, y: 0, width: 20, height: 20)]) == nil)
    }

    @Test("a track point writes `shared` only when set, so track files without shared boxes read and write as before")
    func sharedPointCoding() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let time = FrameTime(index: 3, pts: 0.12), box = Box(x: 1, y: 2, width: 3, height: 4)
        let seen = String(decoding: try encoder.encode(TrackPoint(time: time, box: box, coasted: false)), as: UTF8.self)
        #expect(seen == #"{"box":[1,2,3,4],"coasted":false,"time":{"index":3,"pts":0.12}}"#)
        let shared = TrackPoint(time: time, box: box, coasted: false, shared: true)
        #expect(String(decoding: try encoder.encode(shared), as: UTF8.self).contains(#""shared":true"#))
        #expect(try JSONDecoder().decode(TrackPoint.self, from: encoder.encode(shared)) == shared)
        let old = try JSONDecoder().decode(TrackPoint.self, from: Data(seen.utf8))
        #expect(!old.shared && old.isEvidence)
        #expect(!shared.isEvidence)
    }
}

struct PhaseTimelineTests {
    let timeline = PhaseTimeline([
        PhaseInterval(phase: .green, start: 0, end: 6), PhaseInterval(phase: .amber, start: 6, end: 9), PhaseInterval(phase: .red, start: 9, end: 21),
    ])

    @Test func lookup() {
        #expect(timeline.phase(at: 0) == .green)
        #expect(timeline.phase(at: 5.999) == .green)
        #expect(timeline.phase(at: 6) == .amber)
        #expect(timeline.phase(at: 20.9) == .red)
        #expect(timeline.phase(at: 21) == .unknown)
        #expect(timeline.phase(at: -1) == .unknown)
        #expect(timeline.interval(at: 10)?.start == 9)
    }
}

struct ClockTests {
    @Test("ISO 8601 instants as containers and configs write them", arguments: [
        ("2022-09-03T19:32:03.000000Z", 1_662_233_523.0),
        ("2022-09-03T19:32:03Z", 1_662_233_523.0),
        ("2022-09-03 19:32:03", 1_662_233_523.0),
        ("2022-09-03T21:32:03+02:00", 1_662_233_523.0),
        ("2022-09-03T19:32:03.25Z", 1_662_233_523.25),
    ])
    func parse(_ c: (String, Double)) throws {
        let date = try #require(ISO8601Instant.parse(c.0))
        #expect(abs(date.timeIntervalSince1970 - c.1) < 1e-6)
    }

    @Test func rejects() {
        for bad in ["", "2022-13-03T19:32:03Z", "yesterday", "2022-09-03T19:32", "2022-09-03T19:32:03+0"] {
            #expect(ISO8601Instant.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func formats() throws {
        #expect(ISO8601Instant.format(Date(timeIntervalSince1970: 1_662_233_523.5)) == "2022-09-03T19:32:03.500000Z")
    }
}

struct MOTFileTests {
    @Test("MOT rows: header skipped, extra columns ignored, the 7th column is the score")
    func parse() throws {
        let rows = try MOTFile.parse("frame,id,x,y,w,h,conf\n1,3,10,20,30,40,0.9,-1,-1,-1\n2,3,12.5,20,30,40\n", path: "d.csv")
        #expect(rows == [MOTRow(frame: 1, id: 3, box: Box(x: 10, y: 20, width: 30, height: 40), confidence: 0.9),
                         MOTRow(frame: 2, id: 3, box: Box(x: 12.5, y: 20, width: 30, height: 40), confidence: 1)])
    }

    @Test("bad rows are named by file and line", arguments: [
        ("1,1,10,20,30\n", "d.csv:1: expected frame,id,x,y,w,h[,conf,...] (MOT format), got '1,1,10,20,30'"),
        ("1,1,10,20,30,40\n0,1,10,20,30,40\n", "d.csv:2: frames count from 1 in MOT files, got 0"),
        ("1,1,10,20,0,40\n", "d.csv:1: the box needs a positive width and height"),
        ("1,1,ten,20,30,40\n", "d.csv:1: expected frame,id,x,y,w,h[,conf,...] (MOT format), got '1,1,ten,20,30,40'"),
    ])
    func errors(_ c: (String, String)) {
        #expect(throws: MOTFormatError(description: c.1)) { try MOTFile.parse(c.0, path: "d.csv") }
    }
}
