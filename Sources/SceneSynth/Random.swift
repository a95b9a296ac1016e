/// SplitMix64: small, fast and the same on every machine, so a seed always renders the same scene.
public struct SceneRandom: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }
    /// Approximately normal (sum of four uniforms).
    public mutating func normal(mean: Double = 0, sd: Double = 1) -> Double {
        mean + sd * (unit() + unit() + unit() + unit() - 2) * 3.0.squareRoot()
    }
    public mutating func pick(weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var r = unit() * total
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { return i }
        }
        return weights.count - 1
    }
}

/// Hash-based value noise on the ground, for asphalt and grass texture (deterministic, no state).
@inlinable
func latticeNoise(_ x: Double, _ y: Double, seed: UInt64) -> Double {
    func hash(_ i: Int64, _ j: Int64) -> Double {
        var h = UInt64(bitPattern: i &* 0x27D4_EB2D) ^ (UInt64(bitPattern: j) &* 0x1656_67B1) ^ seed
        h = (h ^ (h >> 31)) &* 0x7FB5_D329_728E_A185
        h = (h ^ (h >> 27)) &* 0x81DA_DEF4_BC2D_D44D
        return Double(h >> 11) * 0x1.0p-53
    }
    let xf = x.rounded(.down), yf = y.rounded(.down)
    let i = Int64(xf), j = Int64(yf)
    let tx = x - xf, ty = y - yf
    let sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty)
    let a = hash(i, j), b = hash(i + 1, j), c = hash(i, j + 1), d = hash(i + 1, j + 1)
    return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy
}
