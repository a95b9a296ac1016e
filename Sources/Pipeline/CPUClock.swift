import Foundation

/// CPU clocks for the per-stage figures in run.json and `roadwatch bench run`.
public enum CPUClock {
    /// CPU seconds of the calling thread.
    public static func thread() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds (user + system) of this process, all threads.
    public static func process() -> Double { usage(RUSAGE_SELF) }

    /// CPU seconds of the child processes that have ended and been waited for (the clip encoders).
    public static func children() -> Double { usage(RUSAGE_CHILDREN) }

    private static func usage(_ who: __rusage_who) -> Double {
        var u = rusage()
        getrusage(who.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

/// Where one input's CPU time went, in milliseconds per stage. Detection, tracking, signal and rules are exact (the
/// thread that ran them); decode is the process's CPU during the analysis pass less those three (the decoder's own
/// threads included), evidence the process's and the clip encoders' CPU during the evidence pass, output the writing
/// of tracks, signal timelines and records. With `--jobs` above 1, decode and evidence also hold whatever the other
/// jobs did meanwhile: measure them with one job (`roadwatch bench run` does).
public struct StageCPU: Sendable, Codable, Equatable {
    public var frames: Int
    public var decodeMs: Double
    public var detectionMs: Double
    public var trackingMs: Double
    public var signalMs: Double
    public var rulesMs: Double
    public var evidenceMs: Double
    public var outputMs: Double

    public var totalMs: Double { decodeMs + detectionMs + trackingMs + signalMs + rulesMs + evidenceMs + outputMs }
    /// Milliseconds per frame of a stage's figure.
    public func perFrame(_ ms: Double) -> Double { frames > 0 ? ms / Double(frames) : 0 }
}

/// The peak resident memory of this process's own address space.
public enum PeakMemory {
    /// VmHWM from /proc/self/status, in MiB: the high-water mark of this image's pages only. Not getrusage's
    /// ru_maxrss: a process started with posix_spawn (vfork) inherits its parent's high-water mark at exec, so a
    /// child of a large test runner or bench process would report the parent's peak as its own. Falls back to
    /// ru_maxrss where /proc is not mounted.
    public static func residentMiB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
            return kib / 1024
        }
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }
}
