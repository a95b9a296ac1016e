import SceneSynth

extension SceneRandom {
    /// A whole number in 0..<n (which character, which replacement, which line).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}
