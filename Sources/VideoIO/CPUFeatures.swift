internal import CFFmpeg

/// What the CPU can run, as FFmpeg detects it (the instruction set and the operating system's support for its
/// registers).
public enum CPUFeatures {
    /// AVX2, which the Detection module is compiled for on x86-64 unless built with ROADWATCH_PORTABLE=1.
    public static var avx2: Bool {
        #if arch(x86_64)
        return av_get_cpu_flags() & AV_CPU_FLAG_AVX2 != 0
        #else
        return false
        #endif
    }
}
