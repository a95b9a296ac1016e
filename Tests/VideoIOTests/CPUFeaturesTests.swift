import Foundation
import Testing
import VideoIO

/// The CPU check `roadwatch` makes before it runs the AVX2-compiled detector agrees with what the kernel reports.
struct CPUFeaturesTests {
    @Test("AVX2 as FFmpeg detects it is what /proc/cpuinfo lists")
    func avx2() throws {
        #if arch(x86_64) && os(Linux)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let listed = flags.split(separator: " ").contains("avx2")
        #expect(CPUFeatures.avx2 == listed, "FFmpeg says \(CPUFeatures.avx2), /proc/cpuinfo says \(listed)")
        #else
        #expect(!CPUFeatures.avx2, "AVX2 is an x86-64 feature")
        #endif
    }
}
