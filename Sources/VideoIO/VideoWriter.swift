internal import CFFmpeg
import Foundation
import TrafficModel

/// A frame rate as an exact fraction (30000/1001 stays exact).
public struct FrameRate: Sendable, Equatable, Codable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int
    public init(_ numerator: Int, _ denominator: Int = 1) {
        precondition(numerator > 0 && denominator > 0, "a frame rate is a positive fraction")
        self.numerator = numerator
        self.denominator = denominator
    }
    public var perSecond: Double { Double(numerator) / Double(denominator) }
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// How `VideoWriter` encodes.
public struct EncoderSettings: Sendable {
    public enum Codec: String, Sendable, CaseIterable {
        /// H.264 through libx264: evidence clips, sample footage.
        case h264
        /// H.265 through libx265.
        case hevc
        /// MPEG-4 part 2, FFmpeg's own encoder.
        case mpeg4
        /// Motion JPEG.
        case mjpeg
        /// FFV1, lossless.
        case ffv1
        /// Uncompressed.
        case rawvideo

        var encoderName: String {
            switch self {
            case .h264: return "libx264"
            case .hevc: return "libx265"
            case .mpeg4: return "mpeg4"
            case .mjpeg: return "mjpeg"
            case .ffv1: return "ffv1"
            case .rawvideo: return "rawvideo"
            }
        }
    }

    public var codec: Codec
    public var frameRate: FrameRate
    /// The encoder's pixel format by FFmpeg name; nil picks yuv420p (yuvj420p for mjpeg).
    public var pixelFormat: String?
    /// Target bit rate in bits per second, capped like a constant-rate stream; nil encodes at `quality`.
    public var bitRate: Int?
    /// With `bitRate` nil: a ceiling on the bit rate of the constant-quality stream (h264/hevc), as cameras
    /// encode (constant quality, capped). x264's own constant-rate mode undershoots on clean renders and
    /// smooths sensor noise away (measured: 0.66 Mbit/s for a 2.4 Mbit/s target at 1080p).
    public var maxBitRate: Int?
    /// CRF for h264/hevc (lower is better, 23 is x264's default); quantiser scale for mpeg4/mjpeg.
    public var quality: Double
    /// x264/x265 preset.
    public var preset: String
    /// Frames between key frames.
    public var keyframeInterval: Int
    /// Encoder threads, fixed rather than automatic so that output does not depend on the machine. libx264 gives
    /// the same bytes for the same pictures only with one thread (measured: with two, CRF and VBV alike differ
    /// from run to run), so 1 is the default. Even then, two encoders run one after the other in one process can
    /// differ (measured); separate processes always agree. See docs/determinism.md.
    public var threads: Int
    /// Written as the container's `creation_time`.
    public var creationTime: Date?
    /// More container metadata (title, comment, ...).
    public var metadata: [String: String]
    /// For MP4/MOV: put the index first, so a file cut short still plays up to the cut.
    public var fastStart: Bool

    public init(
        codec: Codec = .h264, frameRate: FrameRate = FrameRate(25), pixelFormat: String? = nil, bitRate: Int? = nil,
        maxBitRate: Int? = nil, quality: Double = 23, preset: String = "veryfast", keyframeInterval: Int = 50, threads: Int = 1,
        creationTime: Date? = nil, metadata: [String: String] = [:], fastStart: Bool = true
    ) {
        self.codec = codec
        self.frameRate = frameRate
        self.pixelFormat = pixelFormat
        self.bitRate = bitRate
        self.maxBitRate = maxBitRate
        self.quality = quality
        self.preset = preset
        self.keyframeInterval = keyframeInterval
        self.threads = threads
        self.creationTime = creationTime
        self.metadata = metadata
        self.fastStart = fastStart
    }
}

/// Encodes pictures into a video file; the container follows the file name (.mp4, .mkv, .avi, .ts, .mov).
///
/// Output goes to a hidden temporary file beside the target and is renamed into place by `finish()`,
/// so a crash or a full disk never leaves a half-written file under the final name. A writer that is
/// dropped without `finish()` removes its temporary file.
public final class VideoWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let settings: EncoderSettings
    public private(set) var framesWritten = 0

    private let temporaryPath: String
    private let output: OutputFormatBox
    private let encoder: CodecContextBox
    private let stream: UnsafeMutablePointer<AVStream>
    private let packet: PacketBox
    private let converter = PictureConverter()
    private let encoderFormat: AVPixelFormat
    private var finished = false

    public init(path: String, width: Int, height: Int, settings: EncoderSettings = EncoderSettings()) throws {
        self.path = path
        self.width = width
        self.height = height
        self.settings = settings
        let url = URL(fileURLWithPath: path)
        FFmpegLog.configure()
        temporaryPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial").path

        guard width > 0, height > 0, width <= VideoReader.maximumDimension, height <= VideoReader.maximumDimension else {
            throw VideoIOError(.invalidArgument, path: path, operation: "cannot create video", reason: "size \(width)x\(height) is not allowed")
        }
        guard let containerFormat = av_guess_format(nil, path, nil) else {
            throw VideoIOError(.invalidArgument, path: path, operation: "cannot create video",
                               reason: "no container for the extension '\(url.pathExtension)' (use .mp4, .mkv, .avi, .ts or .mov)")
        }
        var allocated: UnsafeMutablePointer<AVFormatContext>?
        let allocStatus = avformat_alloc_output_context2(&allocated, containerFormat, nil, temporaryPath)
        guard allocStatus >= 0, let allocated else {
            throw VideoIOError(.encode, path: path, operation: "cannot create video", code: allocStatus, reason: ffmpegErrorText(allocStatus))
        }
        output = OutputFormatBox(allocated: allocated)

        guard let codec = avcodec_find_encoder_by_name(settings.codec.encoderName) else {
            throw VideoIOError(.unsupportedCodec, path: path, operation: "cannot create video",
                               reason: "this FFmpeg build has no \(settings.codec.encoderName) encoder")
        }
        guard let encoder = CodecContextBox(codec: codec), let packet = PacketBox(),
              let stream = avformat_new_stream(allocated, nil)
        else {
            throw VideoIOError(.encode, path: path, operation: "cannot create video", reason: "out of memory")
        }
        self.encoder = encoder
        self.packet = packet
        self.stream = stream

        let formatName = settings.pixelFormat ?? (settings.codec == .mjpeg ? "yuvj420p" : "yuv420p")
        encoderFormat = av_get_pix_fmt(formatName)
        guard encoderFormat != AV_PIX_FMT_NONE else {
            throw VideoIOError(.invalidArgument, path: path, operation: "cannot create video", reason: "unknown pixel format '\(formatName)'")
        }
        let c = encoder.pointer
        c.pointee.width = Int32(width)
        c.pointee.height = Int32(height)
        c.pointee.pix_fmt = encoderFormat
        c.pointee.time_base = AVRational(num: Int32(settings.frameRate.denominator), den: Int32(settings.frameRate.numerator))
        c.pointee.framerate = AVRational(num: Int32(settings.frameRate.numerator), den: Int32(settings.frameRate.denominator))
        c.pointee.gop_size = Int32(max(1, settings.keyframeInterval))
        c.pointee.thread_count = Int32(max(1, settings.threads))
        c.pointee.flags |= AV_CODEC_FLAG_BITEXACT
        if allocated.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            c.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var codecOptions: OpaquePointer?
        defer { av_dict_free(&codecOptions) }
        switch settings.codec {
        case .h264, .hevc:
            av_dict_set(&codecOptions, "preset", settings.preset, 0)
            if let bitRate = settings.bitRate {
                c.pointee.bit_rate = Int64(bitRate)
                c.pointee.rc_max_rate = Int64(bitRate)
                c.pointee.rc_buffer_size = Int32(clamping: bitRate)
            } else {
                av_dict_set(&codecOptions, "crf", String(settings.quality), 0)
                if let cap = settings.maxBitRate {
                    c.pointee.rc_max_rate = Int64(cap)
                    c.pointee.rc_buffer_size = Int32(clamping: cap * 2)
                }
            }
            // x264 picks some algorithms by the CPU's instruction set: the same frames encoded here with its assembly
            // and without it gave different streams, so evidence clips (whose hashes the records carry) and rendered
            // footage would differ from machine to machine. `cpu-independent` makes every CPU encode as the plain C
            // code does (measured: the default stream differed from `asm=0`'s; with it, they were the same bytes).
            if settings.codec == .h264 { av_dict_set(&codecOptions, "x264-params", "cpu-independent=1", 0) }
            if settings.codec == .hevc { av_dict_set(&codecOptions, "x265-params", "log-level=error", 0) }
        case .mpeg4, .mjpeg:
            if let bitRate = settings.bitRate {
                c.pointee.bit_rate = Int64(bitRate)
            } else {
                c.pointee.flags |= AV_CODEC_FLAG_QSCALE
                c.pointee.global_quality = Int32(settings.quality) * FF_QP2LAMBDA
            }
        case .ffv1, .rawvideo:
            break
        }
        let opened = avcodec_open2(c, codec, &codecOptions)
        guard opened >= 0 else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open \(settings.codec.encoderName) encoder", code: opened,
                               reason: ffmpegErrorText(opened))
        }
        let copied = avcodec_parameters_from_context(stream.pointee.codecpar, c)
        guard copied >= 0 else {
            throw VideoIOError(.encode, path: path, operation: "cannot create video", code: copied, reason: ffmpegErrorText(copied))
        }
        stream.pointee.time_base = c.pointee.time_base
        stream.pointee.avg_frame_rate = c.pointee.framerate

        allocated.pointee.flags |= AVFMT_FLAG_BITEXACT
        if let creationTime = settings.creationTime {
            av_dict_set(&allocated.pointee.metadata, "creation_time", ISO8601Instant.format(creationTime), 0)
        }
        for (key, value) in settings.metadata.sorted(by: { $0.key < $1.key }) {
            av_dict_set(&allocated.pointee.metadata, key, value, 0)
        }
        if allocated.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            let openedFile = avio_open(&allocated.pointee.pb, temporaryPath, AVIO_FLAG_WRITE)
            guard openedFile >= 0 else {
                throw VideoIOError(.write, path: path, operation: "cannot create video", code: openedFile, reason: ffmpegErrorText(openedFile))
            }
        }
        var muxerOptions: OpaquePointer?
        defer { av_dict_free(&muxerOptions) }
        if settings.fastStart { av_dict_set(&muxerOptions, "movflags", "+faststart", 0) }
        let header = avformat_write_header(allocated, &muxerOptions)
        guard header >= 0 else {
            output.closeFile()
            unlink(temporaryPath)
            throw VideoIOError(.write, path: path, operation: "cannot write video header", code: header, reason: ffmpegErrorText(header))
        }
    }

    deinit {
        if !finished {
            output.closeFile()
            unlink(temporaryPath)
        }
    }

    /// Encodes one picture as the next frame. It must have the writer's size.
    public func write(_ picture: Picture) throws {
        precondition(!finished, "write after finish")
        guard picture.width == width, picture.height == height else {
            throw VideoIOError(.invalidArgument, path: path, operation: "cannot encode",
                               reason: "picture is \(picture.width)x\(picture.height), the video is \(width)x\(height)")
        }
        let frame = try converter.frame(from: picture, target: encoderFormat, path: path)
        frame.pointer.pointee.pts = Int64(framesWritten)
        if encoder.pointer.pointee.flags & AV_CODEC_FLAG_QSCALE != 0 {
            frame.pointer.pointee.quality = encoder.pointer.pointee.global_quality
        }
        try send(frame.pointer)
        framesWritten += 1
    }

    /// Flushes the encoder, writes the container's index and renames the file into place.
    public func finish() throws {
        guard !finished else { return }
        try send(nil)
        let trailer = av_write_trailer(output.pointer)
        guard trailer >= 0 else { throw writeError(trailer) }
        if let pb = output.pointer.pointee.pb, pb.pointee.error < 0 { throw writeError(pb.pointee.error) }
        output.closeFile()
        finished = true
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw VideoIOError(.write, path: path, operation: "cannot move video into place", reason: reason)
        }
    }

    private func send(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        let sent = avcodec_send_frame(encoder.pointer, frame)
        guard sent >= 0 else {
            throw VideoIOError(.encode, path: path, operation: "cannot encode", code: sent, reason: ffmpegErrorText(sent))
        }
        while true {
            let received = avcodec_receive_packet(encoder.pointer, packet.pointer)
            if received == FFStatus.again || received == FFStatus.endOfFile { return }
            guard received >= 0 else {
                throw VideoIOError(.encode, path: path, operation: "cannot encode", code: received, reason: ffmpegErrorText(received))
            }
            av_packet_rescale_ts(packet.pointer, encoder.pointer.pointee.time_base, stream.pointee.time_base)
            packet.pointer.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(output.pointer, packet.pointer)
            guard written >= 0 else { throw writeError(written) }
        }
    }

    private func writeError(_ code: Int32) -> VideoIOError {
        VideoIOError(.write, path: path, operation: "cannot write video", code: code, reason: ffmpegErrorText(code))
    }
}
