internal import CFFmpeg
import Foundation
import TrafficModel

/// How to decode.
public struct DecodeOptions: Sendable, Equatable {
    /// Decoder threads; 0 lets FFmpeg choose (one more than the cores).
    public var threads: Int
    /// Decode several frames at once (adds latency of one frame per thread).
    public var frameThreading: Bool
    /// Decode slices of one frame at once, where the stream has slices.
    public var sliceThreading: Bool
    /// After this many read errors in a row the file is treated as ending there.
    public var maxConsecutiveReadErrors: Int
    /// Pictures for analysis, not for people: the H.264/HEVC in-loop deblocking filter is skipped and the decoder
    /// may take shortcuts (`skip_loop_filter = all`, `flags2 +fast`). Decoding costs about a quarter less; block
    /// edges stay in the picture (and drift within a group of pictures), which the motion detector's shrink to its
    /// analysis width averages away. Still deterministic. Evidence is always decoded in full.
    public var forAnalysis: Bool

    public init(threads: Int = 0, frameThreading: Bool = true, sliceThreading: Bool = true, maxConsecutiveReadErrors: Int = 32,
                forAnalysis: Bool = false) {
        self.threads = threads
        self.frameThreading = frameThreading
        self.sliceThreading = sliceThreading
        self.maxConsecutiveReadErrors = maxConsecutiveReadErrors
        self.forAnalysis = forAnalysis
    }
}

/// What happened while decoding one file. Damage is counted, never thrown.
public struct DecodeStats: Sendable, Codable, Equatable {
    public var packetsRead = 0
    public var framesDecoded = 0
    /// Packets the decoder rejected as invalid; decoding went on with the next one.
    public var corruptPackets = 0
    /// Frames the decoder produced with concealed errors.
    public var corruptFrames = 0
    /// Errors from the demuxer other than end of file.
    public var readErrors = 0
    /// Frames without any timestamp, given one from the previous frame and the frame rate.
    public var missingTimestamps = 0
    /// Frames whose timestamp did not increase, moved one frame duration after the previous frame.
    public var repairedTimestamps = 0
    /// Errors the decoder reported through FFmpeg's log (damaged NAL units, slices, references):
    /// the packet was dropped or the picture concealed.
    public var decoderErrors = 0
    /// The last of those messages, FFmpeg's own words.
    public var lastDecoderError: String?
    /// Frames converted with libswscale because the decoder's pixel format is not 8-bit 4:2:0 or gray.
    public var convertedFrames = 0
    /// The file ended before the container said it would.
    public var truncated = false

    public init() {}
}

/// Opens a media file, picks its best video stream and yields decoded frames in presentation order.
///
/// Damaged packets are counted and skipped; a truncated file ends at its last decodable frame with a
/// warning; a file that cannot be opened at all throws a `VideoIOError` naming it. EAGAIN and EOF from
/// FFmpeg's send/receive API are the loop's control flow, never errors.
///
///     let reader = try VideoReader(path: "cam3.mp4", options: .init(threads: 2))
///     while let frame = try reader.nextFrame() {
///         frame.withLuma { luma in ... }
///     }
public final class VideoReader {
    public let path: String
    public let info: MediaInfo
    public let options: DecodeOptions
    public private(set) var stats = DecodeStats()
    /// Human-readable notes about damage, each starting with the path.
    public private(set) var warnings: [String] = []

    private let input: InputFormatBox
    private let decoder: CodecContextBox
    private let packet: PacketBox
    private let decoded: FrameBox
    private let scaler = ScalerBox()
    private let logCounters = LogCountersBox()
    private let stream: UnsafeMutablePointer<AVStream>
    private let timeBase: Double
    private let startTimestamp: Int64?
    private let frameDuration: Double

    private enum State { case reading, draining, finished }
    private var state = State.reading
    private var consecutiveReadErrors = 0
    private var nextIndex = 0
    private var lastPTS: Double?
    private var firstTimestamp: Int64?
    /// After a seek, frame indices come from the time.
    private var seeked = false

    /// Pictures larger than this on either side are refused as damaged headers.
    public static let maximumDimension = 16384

    public init(path: String, options: DecodeOptions = DecodeOptions()) throws {
        self.path = path
        self.options = options
        FFmpegLog.configure()

        var opened: UnsafeMutablePointer<AVFormatContext>?
        let openStatus = avformat_open_input(&opened, path, nil, nil)
        guard openStatus >= 0, let opened else {
            let kind: VideoIOError.Kind =
                [FFStatus.noSuchFile, FFStatus.permissionDenied, FFStatus.isDirectory].contains(openStatus) ? .unreadable : .unrecognisedFormat
            throw VideoIOError(kind, path: path, operation: "cannot open", code: openStatus, reason: ffmpegErrorText(openStatus))
        }
        input = InputFormatBox(opened: opened)

        let infoStatus = avformat_find_stream_info(opened, nil)
        guard infoStatus >= 0 else {
            throw VideoIOError(.unrecognisedFormat, path: path, operation: "cannot read stream information",
                               code: infoStatus, reason: ffmpegErrorText(infoStatus))
        }

        var codec: UnsafePointer<AVCodec>?
        let best = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        if best == FFStatus.streamNotFound || best < 0 && best != FFStatus.decoderNotFound {
            throw VideoIOError(.noVideoStream, path: path, operation: "no video stream",
                               reason: "the file holds \(Self.describeStreams(opened))")
        }
        if best == FFStatus.decoderNotFound || codec == nil {
            let videoStream = (0..<Int(opened.pointee.nb_streams)).compactMap { opened.pointee.streams[$0] }
                .first { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
            let name = videoStream.map { String(cString: avcodec_get_name($0.pointee.codecpar.pointee.codec_id)) } ?? "unknown"
            throw VideoIOError(.unsupportedCodec, path: path, operation: "cannot decode",
                               reason: "this FFmpeg build has no decoder for the video codec '\(name)'")
        }
        stream = opened.pointee.streams[Int(best)]!
        let parameters = stream.pointee.codecpar!

        let width = Int(parameters.pointee.width), height = Int(parameters.pointee.height)
        guard width > 0, height > 0, width <= Self.maximumDimension, height <= Self.maximumDimension else {
            throw VideoIOError(.invalidStream, path: path, operation: "invalid video stream",
                               reason: "picture size \(width)x\(height) is outside 1...\(Self.maximumDimension)")
        }

        guard let context = CodecContextBox(codec: codec) else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open decoder", reason: "out of memory")
        }
        decoder = context
        let copyStatus = avcodec_parameters_to_context(context.pointer, parameters)
        guard copyStatus >= 0 else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open decoder", code: copyStatus, reason: ffmpegErrorText(copyStatus))
        }
        context.logCounters = logCounters
        context.pointer.pointee.pkt_timebase = stream.pointee.time_base
        context.pointer.pointee.thread_count = Int32(max(0, options.threads))
        context.pointer.pointee.thread_type = (options.frameThreading ? FF_THREAD_FRAME : 0) | (options.sliceThreading ? FF_THREAD_SLICE : 0)
        if options.forAnalysis {
            context.pointer.pointee.skip_loop_filter = AVDISCARD_ALL
            context.pointer.pointee.flags2 |= AV_CODEC_FLAG2_FAST
        }
        let openCodecStatus = avcodec_open2(context.pointer, codec, nil)
        guard openCodecStatus >= 0 else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open decoder", code: openCodecStatus,
                               reason: ffmpegErrorText(openCodecStatus))
        }

        guard let packet = PacketBox(), let decoded = FrameBox() else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open decoder", reason: "out of memory")
        }
        self.packet = packet
        self.decoded = decoded

        let tb = stream.pointee.time_base
        timeBase = tb.den > 0 ? Double(tb.num) / Double(tb.den) : 1.0 / 90_000
        startTimestamp = stream.pointee.start_time == rw_nopts_value() ? nil : stream.pointee.start_time

        let rate = { (r: AVRational) -> Double? in r.num > 0 && r.den > 0 ? Double(r.num) / Double(r.den) : nil }
        let nominal = rate(stream.pointee.r_frame_rate)
        let average = rate(stream.pointee.avg_frame_rate)
        let usableRate = [average, nominal].compactMap { $0 }.first { $0 > 0.1 && $0 < 1000 }
        frameDuration = 1.0 / (usableRate ?? 25)

        var duration: Double?
        if stream.pointee.duration != rw_nopts_value(), stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * timeBase
        } else if opened.pointee.duration != rw_nopts_value(), opened.pointee.duration > 0 {
            duration = Double(opened.pointee.duration) / Double(rw_time_base_q_den())
        }
        let count = rw_stream_frame_count(stream)
        let creationText = Self.metadata(opened.pointee.metadata, "creation_time") ?? Self.metadata(stream.pointee.metadata, "creation_time")
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
        let pixelFormatName = av_get_pix_fmt_name(AVPixelFormat(rawValue: parameters.pointee.format)).map { String(cString: $0) } ?? "unknown"

        info = MediaInfo(
            path: path,
            fileSize: fileSize,
            container: String(cString: opened.pointee.iformat.pointee.name),
            containerLongName: opened.pointee.iformat.pointee.long_name.map { String(cString: $0) } ?? "",
            streamIndex: Int(best),
            codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)),
            codecLongName: codec!.pointee.long_name.map { String(cString: $0) } ?? "",
            width: width,
            height: height,
            pixelFormat: pixelFormatName,
            timeBase: "\(tb.num)/\(tb.den)",
            nominalFrameRate: nominal,
            averageFrameRate: average,
            duration: duration,
            frameCount: count > 0 ? Int(count) : nil,
            bitRate: opened.pointee.bit_rate > 0 ? Int(opened.pointee.bit_rate) : nil,
            creationTimeText: creationText,
            creationTime: creationText.flatMap(ISO8601Instant.parse)
        )
    }

    /// Decodes and returns the next frame, or nil at the end of the file.
    ///
    /// Throws only when FFmpeg cannot allocate memory or convert a frame; damaged input is counted
    /// in `stats` and reported in `warnings` instead.
    public func nextFrame() throws -> VideoFrame? {
        try FFmpegLog.attributing(to: logCounters) { try decodeNextFrame() }
    }

    private func decodeNextFrame() throws -> VideoFrame? {
        while state != .finished {
            let received = avcodec_receive_frame(decoder.pointer, decoded.pointer)
            if received >= 0 {
                return try deliverDecodedFrame()
            }
            if received == FFStatus.endOfFile {
                finish()
                return nil
            }
            if received != FFStatus.again {
                // A decoding error reported on output; the decoder stays usable.
                stats.corruptPackets += 1
                if state == .draining { continue }
            }
            if state == .draining {
                // EAGAIN after the flush packet cannot happen with a conforming decoder; do not spin.
                finish()
                return nil
            }
            feedDecoder()
        }
        return nil
    }

    /// Moves so that decoding goes on from the key frame at or before `seconds` (from the stream's start), for
    /// reading a stretch of a long file without decoding everything before it. Frame times stay on the same
    /// origin; frame indices after a seek are counted from the time (`round(pts / frame duration)`), exact for
    /// constant-rate footage. Returns false (and stays where it was) when the container cannot seek.
    public func seek(toSeconds seconds: Double) throws -> Bool {
        // The time origin must be known before jumping: the stream's start, or else the first frame's.
        if startTimestamp == nil && firstTimestamp == nil {
            guard try nextFrame() != nil else { return false }
        }
        let origin = startTimestamp ?? firstTimestamp!
        let target = origin + Int64((max(0, seconds) / timeBase).rounded(.down))
        let status = av_seek_frame(input.pointer, Int32(stream.pointee.index), target, AVSEEK_FLAG_BACKWARD)
        guard status >= 0 else { return false }
        avcodec_flush_buffers(decoder.pointer)
        state = .reading
        consecutiveReadErrors = 0
        lastPTS = nil
        seeked = true
        return true
    }

    /// Decodes every remaining frame, calling `body` for each; stops early when `body` returns false.
    public func forEachFrame(_ body: (VideoFrame) throws -> Bool) throws {
        while let frame = try nextFrame() {
            if try !body(frame) { return }
        }
    }

    // MARK: - Feeding

    /// Reads packets until one of the video stream is sent, or starts draining at the end of input.
    private func feedDecoder() {
        while true {
            let read = av_read_frame(input.pointer, packet.pointer)
            if read < 0 {
                if read == FFStatus.endOfFile || input.pointer.pointee.pb?.pointee.eof_reached != 0 {
                    startDraining()
                    return
                }
                stats.readErrors += 1
                consecutiveReadErrors += 1
                if consecutiveReadErrors >= options.maxConsecutiveReadErrors {
                    warn("\(consecutiveReadErrors) read errors in a row (last: \(ffmpegErrorText(read))); ending at the last decodable frame")
                    stats.truncated = true
                    startDraining()
                    return
                }
                continue
            }
            consecutiveReadErrors = 0
            defer { av_packet_unref(packet.pointer) }
            guard packet.pointer.pointee.stream_index == stream.pointee.index else { continue }
            stats.packetsRead += 1
            let sent = avcodec_send_packet(decoder.pointer, packet.pointer)
            if sent < 0 {
                // EAGAIN cannot happen here: output is always drained before sending. Anything else
                // is a packet the decoder refused; skip it and go on.
                stats.corruptPackets += 1
                continue
            }
            return
        }
    }

    private func startDraining() {
        state = .draining
        _ = avcodec_send_packet(decoder.pointer, nil)
    }

    private func finish() {
        guard state != .finished else { return }
        state = .finished
        if stats.framesDecoded == 0 {
            warn("no decodable video frames")
        } else if !stats.truncated, let duration = info.duration, let last = lastPTS,
                  last + frameDuration < duration - max(2 * frameDuration, 0.01 * duration) {
            // Frame counts in AVI indexes include empty packets, so the end time, not the count, is compared.
            stats.truncated = true
            warn(String(format: "truncated: frames end at %.2f s of the %.2f s the container states", last + frameDuration, duration))
        }
        let counters = logCounters.read()
        if counters.errors > 0 {
            stats.decoderErrors = counters.errors
            stats.lastDecoderError = counters.lastError
        }
        if stats.corruptPackets > 0 || stats.corruptFrames > 0 || stats.decoderErrors > 0 {
            var message = "damaged stream: \(stats.corruptPackets) packets refused, \(stats.corruptFrames) frames concealed, \(stats.decoderErrors) decoder errors"
            if let last = stats.lastDecoderError, !last.isEmpty { message += " (last: \(last))" }
            warn(message)
        }
    }

    private func warn(_ message: String) {
        warnings.append("\(path): \(message)")
    }

    // MARK: - Output

    private func deliverDecodedFrame() throws -> VideoFrame {
        let source = decoded.pointer
        defer { av_frame_unref(source) }
        stats.framesDecoded += 1
        if rw_frame_is_corrupt(source) != 0 { stats.corruptFrames += 1 }

        let pts = presentationTime(of: source)
        let format = AVPixelFormat(rawValue: source.pointee.format)
        // Only frames passed through keep their range; libswscale converts to video range.
        let fullRange = format == AV_PIX_FMT_YUVJ420P || (format == AV_PIX_FMT_YUV420P && source.pointee.color_range == AVCOL_RANGE_JPEG)

        guard let owned = FrameBox() else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot decode", reason: "out of memory")
        }
        let layout: Picture.Format
        if format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P {
            av_frame_move_ref(owned.pointer, source)
            layout = .yuv420p
        } else if format == AV_PIX_FMT_GRAY8 {
            av_frame_move_ref(owned.pointer, source)
            layout = .gray8
        } else {
            layout = Self.isGray(format) ? .gray8 : .yuv420p
            try convert(source, into: owned.pointer, layout: layout)
            stats.convertedFrames += 1
        }
        // FFmpeg's gray formats are full range (libswscale converts to and from them as such).
        let index = seeked ? Int((pts / frameDuration).rounded()) : nextIndex
        let frame = VideoFrame(frame: owned, index: index, pts: pts, layout: layout, isFullRange: layout == .gray8 || fullRange)
        nextIndex += 1
        return frame
    }

    /// Seconds since the stream start, strictly increasing; fills in missing or repeated timestamps.
    private func presentationTime(of frame: UnsafeMutablePointer<AVFrame>) -> Double {
        let raw = frame.pointee.best_effort_timestamp
        var pts: Double
        if raw == rw_nopts_value() {
            stats.missingTimestamps += 1
            pts = (lastPTS.map { $0 + frameDuration }) ?? 0
        } else {
            if firstTimestamp == nil { firstTimestamp = raw }
            let origin = startTimestamp ?? firstTimestamp!
            pts = Double(raw - origin) * timeBase
        }
        if let last = lastPTS, pts <= last {
            if raw != rw_nopts_value() { stats.repairedTimestamps += 1 }
            pts = last + frameDuration
        }
        lastPTS = pts
        return pts
    }

    private func convert(_ source: UnsafeMutablePointer<AVFrame>, into target: UnsafeMutablePointer<AVFrame>, layout: Picture.Format) throws {
        let targetFormat = layout == .gray8 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_YUV420P
        let w = source.pointee.width, h = source.pointee.height
        target.pointee.width = w
        target.pointee.height = h
        target.pointee.format = targetFormat.rawValue
        let context = scaler.context(
            from: (w, h, AVPixelFormat(rawValue: source.pointee.format)), to: (w, h, targetFormat),
            flags: Int32(SWS_BILINEAR))
        guard let context else {
            throw VideoIOError(.unsupportedCodec, path: path, operation: "cannot convert pixels",
                               reason: "libswscale cannot convert \(info.pixelFormat) to \(layout.rawValue)")
        }
        let allocated = av_frame_get_buffer(target, 0)
        guard allocated >= 0 else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot convert pixels", code: allocated, reason: ffmpegErrorText(allocated))
        }
        let scaled = sws_scale_frame(context, target, source)
        guard scaled >= 0 else {
            throw VideoIOError(.unsupportedCodec, path: path, operation: "cannot convert pixels", code: scaled, reason: ffmpegErrorText(scaled))
        }
        _ = av_frame_copy_props(target, source)
    }

    private static func isGray(_ format: AVPixelFormat) -> Bool {
        guard let descriptor = av_pix_fmt_desc_get(format) else { return false }
        return descriptor.pointee.nb_components <= 2 && (descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB)) == 0
            && (descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_PAL)) == 0
    }

    private static func metadata(_ dictionary: OpaquePointer?, _ key: String) -> String? {
        guard let dictionary, let entry = av_dict_get(dictionary, key, nil, 0), let value = entry.pointee.value else { return nil }
        return String(cString: value)
    }

    private static func describeStreams(_ context: UnsafeMutablePointer<AVFormatContext>) -> String {
        let count = Int(context.pointee.nb_streams)
        guard count > 0 else { return "no streams" }
        let kinds = (0..<count).compactMap { i -> String? in
            guard let par = context.pointee.streams[i]?.pointee.codecpar else { return nil }
            let type = av_get_media_type_string(par.pointee.codec_type).map { String(cString: $0) } ?? "unknown"
            return "\(type) (\(String(cString: avcodec_get_name(par.pointee.codec_id))))"
        }
        return "only " + kinds.joined(separator: ", ")
    }
}
