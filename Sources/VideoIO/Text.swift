/// Text burned into evidence stills, clips and debugging pictures: a 5×7 pixel font (upper case, digits and the
/// punctuation records use), drawn at a whole-number scale. Lower case is drawn as upper case; unknown characters
/// as a small box.
extension Picture {
    /// Glyph rows, 5 bits each (bit 4 = leftmost column), top to bottom.
    static let glyphs: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12],
        "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30], "C": [14, 17, 16, 16, 16, 17, 14],
        "D": [28, 18, 17, 17, 17, 18, 28], "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
        "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17], "I": [14, 4, 4, 4, 4, 4, 14],
        "J": [7, 2, 2, 2, 2, 18, 12], "K": [17, 18, 20, 24, 20, 18, 17], "L": [16, 16, 16, 16, 16, 16, 31],
        "M": [17, 27, 21, 21, 17, 17, 17], "N": [17, 17, 25, 21, 19, 17, 17], "O": [14, 17, 17, 17, 17, 17, 14],
        "P": [30, 17, 17, 30, 16, 16, 16], "Q": [14, 17, 17, 17, 21, 18, 13], "R": [30, 17, 17, 30, 20, 18, 17],
        "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4], "U": [17, 17, 17, 17, 17, 17, 14],
        "V": [17, 17, 17, 17, 17, 10, 4], "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17],
        "Y": [17, 17, 17, 10, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
        " ": [0, 0, 0, 0, 0, 0, 0], ":": [0, 12, 12, 0, 12, 12, 0], ".": [0, 0, 0, 0, 0, 12, 12],
        ",": [0, 0, 0, 0, 12, 4, 8], "-": [0, 0, 0, 31, 0, 0, 0], "+": [0, 4, 4, 31, 4, 4, 0],
        "/": [1, 1, 2, 4, 8, 16, 16], "_": [0, 0, 0, 0, 0, 0, 31], "%": [24, 25, 2, 4, 8, 19, 3],
        "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8], "=": [0, 0, 31, 0, 31, 0, 0],
        "[": [14, 8, 8, 8, 8, 8, 14], "]": [14, 2, 2, 2, 2, 2, 14], "#": [10, 10, 31, 10, 31, 10, 10],
        "<": [2, 4, 8, 16, 8, 4, 2], ">": [8, 4, 2, 1, 2, 4, 8], "'": [4, 4, 8, 0, 0, 0, 0],
    ]
    static let unknownGlyph: [UInt8] = [31, 17, 17, 17, 17, 17, 31]

    /// Width in pixels of `text` at `scale` (6 columns a character, the last without its gap).
    public static func textWidth(_ text: String, scale: Int) -> Int { max(0, text.count * 6 - 1) * scale }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`.
    public mutating func draw(text: String, x: Int, y: Int, scale: Int = 2, rgb: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        var cx = x
        for ch in text.uppercased() {
            let rows = Self.glyphs[ch] ?? Self.unknownGlyph
            for (r, bits) in rows.enumerated() where bits != 0 {
                for c in 0..<5 where bits & (16 >> c) != 0 {
                    fill(x0: cx + c * scale, y0: y + r * scale, x1: cx + (c + 1) * scale, y1: y + (r + 1) * scale, rgb: rgb)
                }
            }
            cx += 6 * scale
        }
    }

    /// A dark bar across the bottom of the picture holding lines of text (the data bar of evidence).
    public mutating func drawDataBar(_ lines: [String]) {
        let scale = max(1, width / 640)
        let lineHeight = 9 * scale
        let barHeight = lines.count * lineHeight + 4 * scale
        fill(x0: 0, y0: height - barHeight, x1: width, y1: height, rgb: (0, 0, 0))
        for (i, line) in lines.enumerated() {
            draw(text: line, x: 4 * scale, y: height - barHeight + 2 * scale + i * lineHeight, scale: scale, rgb: (255, 255, 255))
        }
    }

    /// A straight line `thickness` pixels wide (clipped).
    public mutating func drawLine(from a: (Double, Double), to b: (Double, Double), rgb: (UInt8, UInt8, UInt8), thickness: Int = 2) {
        let steps = Int(max(abs(b.0 - a.0), abs(b.1 - a.1)).rounded(.up)) + 1
        guard steps < 100_000 else { return }
        let half = thickness / 2
        for s in 0...steps {
            let f = Double(s) / Double(steps)
            let x = Int((a.0 + (b.0 - a.0) * f).rounded()), y = Int((a.1 + (b.1 - a.1) * f).rounded())
            fill(x0: x - half, y0: y - half, x1: x - half + thickness, y1: y - half + thickness, rgb: rgb)
        }
    }
}
