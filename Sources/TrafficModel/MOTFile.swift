import Foundation

/// One row of a MOTChallenge-format CSV: `frame,id,x,y,w,h,conf,...`, frames counted from 1; extra columns are
/// ignored. Used for tracks Roadwatch writes, track files it scores, and detections from another detector.
public struct MOTRow: Sendable, Equatable {
    /// 1-based, as the format has it.
    public var frame: Int
    public var id: Int
    public var box: Box
    /// The 7th column when present (a detector's score), else 1.
    public var confidence: Double

    public init(frame: Int, id: Int, box: Box, confidence: Double = 1) {
        self.frame = frame; self.id = id; self.box = box; self.confidence = confidence
    }
}

public struct MOTFormatError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

public enum MOTFile {
    /// Rows of a MOT CSV; a first line starting with a letter is a header. Errors name FILE:LINE.
    public static func read(_ path: String) throws -> [MOTRow] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw MOTFormatError(description: "\(path): cannot read: \((error as NSError).localizedDescription)")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> [MOTRow] {
        var rows: [MOTRow] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || (n == 0 && line.first?.isLetter == true) { continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 6, let frame = Int(f[0]), let id = Int(f[1]), let x = Double(f[2]), let y = Double(f[3]),
                  let w = Double(f[4]), let h = Double(f[5]) else {
                throw MOTFormatError(description: "\(path):\(n + 1): expected frame,id,x,y,w,h[,conf,...] (MOT format), got '\(line.prefix(60))'")
            }
            guard frame >= 1 else { throw MOTFormatError(description: "\(path):\(n + 1): frames count from 1 in MOT files, got \(frame)") }
            guard w > 0, h > 0, x.isFinite, y.isFinite else { throw MOTFormatError(description: "\(path):\(n + 1): the box needs a positive width and height") }
            let confidence = f.count >= 7 ? Double(f[6]) ?? 1 : 1
            rows.append(MOTRow(frame: frame, id: id, box: Box(x: x, y: y, width: w, height: h), confidence: confidence))
        }
        return rows
    }

    /// Tracks as MOT CSV (`frame,id,x,y,w,h,conf,x,y,z`, frames from 1), observed points only. With a calibration the
    /// last three columns are the box's bottom centre on the ground (metres, z = 0: MOT's world coordinates), else -1
    /// (also where the calibration does not reach: above the horizon, or too far to mean much; `Calibration.groundPoint`).
    public static func text(_ tracks: [Track], calibration: Calibration? = nil) -> String {
        var rows: [(Int, Int, Box)] = []
        for track in tracks { for p in track.observed { rows.append((p.time.index + 1, track.id, p.box)) } }
        rows.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        return rows.map { row in
            let b = row.2
            let world = calibration?.groundPoint(b.bottomCenter).map { String(format: "%.3f,%.3f,0", $0.x, $0.y) } ?? "-1,-1,-1"
            return "\(row.0),\(row.1),\(f(b.x)),\(f(b.y)),\(f(b.width)),\(f(b.height)),1,\(world)\n"
        }.joined()
    }

    /// Detections in MOT format, `frame,-1,x,y,w,h,confidence,-1,-1,-1` (frames from 1, as `ExternalDetections` reads them).
    public static func text(_ frames: [FrameDetections]) -> String {
        frames.map { frame in
            frame.detections.map { d in
                String(format: "%d,-1,%.2f,%.2f,%.2f,%.2f,%.3f,-1,-1,-1\n", frame.time.index + 1, d.box.x, d.box.y, d.box.width, d.box.height, d.confidence)
            }.joined()
        }.joined()
    }
}
