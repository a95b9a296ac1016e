internal import CFFmpeg
import Foundation
import Synchronization

/// Counts the FFmpeg objects Roadwatch currently owns, so tests can prove that each
/// one is freed exactly once (a leak leaves the count above its baseline; a double
/// free would crash before the count could be read).
public enum VideoIODiagnostics {
    static let live = Atomic<Int>(0)

    /// FFmpeg objects (format contexts, codec contexts, frames, packets, scalers) alive now, process-wide.
    public static var liveObjectCount: Int { live.load(ordering: .relaxed) }

    /// When set (with `$tracker.withValue`), objects created in that scope are also counted there,
    /// so a test can account for exactly its own objects while other tests run in parallel.
    @TaskLocal public static var tracker: LiveObjectTracker?

    static func created() -> LiveObjectTracker? {
        live.add(1, ordering: .relaxed)
        let tracker = tracker
        tracker?.count.add(1, ordering: .relaxed)
        return tracker
    }

    static func freed(_ tracker: LiveObjectTracker?) {
        live.subtract(1, ordering: .relaxed)
        tracker?.count.subtract(1, ordering: .relaxed)
    }
}

/// Counts FFmpeg objects created inside one `VideoIODiagnostics.$tracker.withValue` scope and not yet freed.
public final class LiveObjectTracker: Sendable {
    let count = Atomic<Int>(0)
    public init() {}
    public var liveObjects: Int { count.load(ordering: .relaxed) }
}

// One final class per kind of C object: it is created already valid (the failable
// initialisers check the C allocator), freed in `deinit`, and its pointer never
// leaves VideoIO.

final class FrameBox {
    private let tracker: LiveObjectTracker?
    let pointer: UnsafeMutablePointer<AVFrame>
    init?() {
        guard let frame = av_frame_alloc() else { return nil }
        pointer = frame
        tracker = VideoIODiagnostics.created()
    }
    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
        VideoIODiagnostics.freed(tracker)
    }
}

final class PacketBox {
    private let tracker: LiveObjectTracker?
    let pointer: UnsafeMutablePointer<AVPacket>
    init?() {
        guard let packet = av_packet_alloc() else { return nil }
        pointer = packet
        tracker = VideoIODiagnostics.created()
    }
    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
        VideoIODiagnostics.freed(tracker)
    }
}

final class CodecContextBox {
    private let tracker: LiveObjectTracker?
    let pointer: UnsafeMutablePointer<AVCodecContext>
    /// Released only after the context is freed, so the context's `opaque` never dangles.
    var logCounters: LogCountersBox? {
        didSet { pointer.pointee.opaque = logCounters.map { UnsafeMutableRawPointer($0.pointer) } }
    }
    init?(codec: UnsafePointer<AVCodec>?) {
        guard let context = avcodec_alloc_context3(codec) else { return nil }
        pointer = context
        tracker = VideoIODiagnostics.created()
    }
    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&context)
        VideoIODiagnostics.freed(tracker)
    }
}

/// An opened input: `avformat_close_input` frees the context and closes the file.
final class InputFormatBox {
    private let tracker: LiveObjectTracker?
    let pointer: UnsafeMutablePointer<AVFormatContext>
    init(opened: UnsafeMutablePointer<AVFormatContext>) {
        pointer = opened
        tracker = VideoIODiagnostics.created()
    }
    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&context)
        VideoIODiagnostics.freed(tracker)
    }
}

/// An output context; its file is closed here if the writer did not close it.
final class OutputFormatBox {
    private let tracker: LiveObjectTracker?
    let pointer: UnsafeMutablePointer<AVFormatContext>
    init(allocated: UnsafeMutablePointer<AVFormatContext>) {
        pointer = allocated
        tracker = VideoIODiagnostics.created()
    }
    func closeFile() {
        if pointer.pointee.pb != nil { avio_closep(&pointer.pointee.pb) }
    }
    deinit {
        closeFile()
        avformat_free_context(pointer)
        VideoIODiagnostics.freed(tracker)
    }
}

final class ScalerBox {
    private let tracker: LiveObjectTracker?
    private(set) var pointer: OpaquePointer?
    init() { tracker = VideoIODiagnostics.created() }

    /// Returns a scaler for this conversion, reusing the current one when the parameters match.
    func context(
        from source: (width: Int32, height: Int32, format: AVPixelFormat),
        to target: (width: Int32, height: Int32, format: AVPixelFormat),
        flags: Int32
    ) -> OpaquePointer? {
        pointer = sws_getCachedContext(
            pointer, source.width, source.height, source.format,
            target.width, target.height, target.format, flags, nil, nil, nil)
        return pointer
    }
    deinit {
        sws_freeContext(pointer)
        VideoIODiagnostics.freed(tracker)
    }
}

/// FFmpeg's log, routed through Roadwatch. FFmpeg prints decoder complaints to stderr from inside the
/// libraries; Roadwatch counts them per input in `DecodeStats` instead, and prints them (prefixed
/// `[ffmpeg]`) only when `ROADWATCH_FFMPEG_LOG` names a level (error, warning, info, verbose, debug).
enum FFmpegLog {
    static let printLevel: Int32 = {
        let levels: [String: Int32] = [
            "quiet": AV_LOG_QUIET, "panic": AV_LOG_PANIC, "fatal": AV_LOG_FATAL, "error": AV_LOG_ERROR,
            "warning": AV_LOG_WARNING, "info": AV_LOG_INFO, "verbose": AV_LOG_VERBOSE, "debug": AV_LOG_DEBUG,
        ]
        return ProcessInfo.processInfo.environment["ROADWATCH_FFMPEG_LOG"].flatMap { levels[$0.lowercased()] } ?? AV_LOG_QUIET
    }()

    /// Per-thread: the counters of the input this thread is demuxing or decoding right now.
    static let currentInput: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static let configured: Void = {
        _ = currentInput
        rw_install_log_callback(max(printLevel, AV_LOG_WARNING))
    }()

    static func configure() { _ = configured }

    /// Runs `body` with FFmpeg's log lines from this thread counted in `counters`.
    static func attributing<R>(to counters: LogCountersBox, _ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(currentInput)
        pthread_setspecific(currentInput, UnsafeRawPointer(counters.pointer))
        defer { pthread_setspecific(currentInput, previous) }
        return try body()
    }
}

/// Every FFmpeg log line at or above the installed level, formatted by `rw_log_callback` in the shim:
/// count errors and warnings against the input they belong to; print if asked.
@_cdecl("rw_log_sink")
func ffmpegLogLine(_ context: UnsafeMutableRawPointer?, _ level: Int32, _ text: UnsafePointer<CChar>?) {
    guard let text else { return }
    if level <= AV_LOG_WARNING {
        let counters = rw_log_counters_of(context)
            ?? pthread_getspecific(FFmpegLog.currentInput).map { $0.assumingMemoryBound(to: rw_log_counters.self) }
        if let counters { rw_log_counters_add(counters, level, text) }
    }
    if level <= FFmpegLog.printLevel {
        FileHandle.standardError.write(Data("[ffmpeg] \(String(cString: text))\n".utf8))
    }
}

/// Per-input damage counters that FFmpeg's log callback fills in (see `FFmpegLog`).
final class LogCountersBox {
    let pointer: UnsafeMutablePointer<rw_log_counters>
    init() {
        pointer = .allocate(capacity: 1)
        rw_log_counters_init(pointer)
    }
    deinit { pointer.deallocate() }

    func read() -> (errors: Int, warnings: Int, lastError: String) {
        var errors: Int32 = 0, warnings: Int32 = 0
        var buffer = [CChar](repeating: 0, count: 256)
        buffer.withUnsafeMutableBufferPointer { rw_log_counters_read(pointer, &errors, &warnings, $0.baseAddress, $0.count) }
        return (Int(errors), Int(warnings), String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
