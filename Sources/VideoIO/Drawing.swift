import TrafficModel

/// Simple overlays for evidence stills and debugging pictures: rectangle outlines and filled bars.
extension Picture {
    /// The colour's Y, U, V (BT.601, video range).
    static func yuv(_ rgb: (UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) {
        let r = Double(rgb.0), g = Double(rgb.1), b = Double(rgb.2)
        func c(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        return (c(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255),
                c(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255),
                c(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255))
    }

    /// Fills pixels x0..<x1, y0..<y1 (clipped) with an RGB colour.
    public mutating func fill(x0: Int, y0: Int, x1: Int, y1: Int, rgb: (UInt8, UInt8, UInt8)) {
        let xa = max(0, x0), xb = min(width, x1), ya = max(0, y0), yb = min(height, y1)
        guard xa < xb, ya < yb else { return }
        switch format {
        case .rgb24:
            for y in ya..<yb { for x in xa..<xb { let i = 3 * (y * width + x); planes[0][i] = rgb.0; planes[0][i + 1] = rgb.1; planes[0][i + 2] = rgb.2 } }
        case .gray8:
            let v = Self.yuv(rgb).0
            for y in ya..<yb { for x in xa..<xb { planes[0][y * width + x] = v } }
        case .yuv420p:
            let (yv, u, v) = Self.yuv(rgb)
            for y in ya..<yb { for x in xa..<xb { planes[0][y * width + x] = yv } }
            let cw = (width + 1) / 2
            for y in (ya / 2)..<((yb + 1) / 2) { for x in (xa / 2)..<((xb + 1) / 2) { planes[1][y * cw + x] = u; planes[2][y * cw + x] = v } }
        }
    }

    /// Draws the outline of a box, `thickness` pixels wide, inside and along its edges.
    public mutating func stroke(_ box: Box, rgb: (UInt8, UInt8, UInt8), thickness: Int = 2) {
        let x0 = Int(box.x.rounded()), y0 = Int(box.y.rounded()), x1 = Int(box.maxX.rounded()), y1 = Int(box.maxY.rounded())
        fill(x0: x0, y0: y0, x1: x1, y1: y0 + thickness, rgb: rgb)
        fill(x0: x0, y0: y1 - thickness, x1: x1, y1: y1, rgb: rgb)
        fill(x0: x0, y0: y0, x1: x0 + thickness, y1: y1, rgb: rgb)
        fill(x0: x1 - thickness, y0: y0, x1: x1, y1: y1, rgb: rgb)
    }
}
