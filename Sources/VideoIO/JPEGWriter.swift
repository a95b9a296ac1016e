internal import CFFmpeg
import Foundation

/// Encodes pictures as baseline JPEG with FFmpeg's mjpeg encoder.
public struct JPEGWriter: Sendable {
    /// FFmpeg's quantiser scale: 2 is the finest, 31 the coarsest.
    public var quality: Int

    public init(quality: Int = 3) {
        precondition((2...31).contains(quality), "JPEG quality is a quantiser scale from 2 to 31")
        self.quality = quality
    }

    /// The JPEG file's bytes for `picture`. `path` only names the file in errors.
    public func encode(_ picture: Picture, path: String = "<jpeg>") throws -> [UInt8] {
        FFmpegLog.configure()
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG), let context = CodecContextBox(codec: codec) else {
            throw VideoIOError(.unsupportedCodec, path: path, operation: "cannot encode", reason: "this FFmpeg build has no mjpeg encoder")
        }
        let c = context.pointer
        c.pointee.width = Int32(picture.width)
        c.pointee.height = Int32(picture.height)
        c.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
        c.pointee.time_base = AVRational(num: 1, den: 25)
        c.pointee.flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT
        c.pointee.global_quality = Int32(quality) * FF_QP2LAMBDA
        c.pointee.thread_count = 1
        let opened = avcodec_open2(c, codec, nil)
        guard opened >= 0 else {
            throw VideoIOError(.codecOpen, path: path, operation: "cannot open JPEG encoder", code: opened, reason: ffmpegErrorText(opened))
        }
        let frame = try PictureConverter().frame(from: picture, target: AV_PIX_FMT_YUVJ420P, path: path)
        frame.pointer.pointee.quality = c.pointee.global_quality
        frame.pointer.pointee.pts = 0
        guard let packet = PacketBox() else {
            throw VideoIOError(.encode, path: path, operation: "cannot encode", reason: "out of memory")
        }
        var status = avcodec_send_frame(c, frame.pointer)
        if status >= 0 { status = avcodec_send_frame(c, nil) }  // end of stream
        var bytes: [UInt8] = []
        while status >= 0 {
            status = avcodec_receive_packet(c, packet.pointer)
            if status < 0 { break }
            bytes.append(contentsOf: UnsafeBufferPointer(start: packet.pointer.pointee.data, count: Int(packet.pointer.pointee.size)))
            av_packet_unref(packet.pointer)
        }
        guard status == FFStatus.endOfFile, !bytes.isEmpty else {
            throw VideoIOError(.encode, path: path, operation: "cannot encode JPEG", code: status, reason: ffmpegErrorText(status))
        }
        return bytes
    }

    /// Writes `picture` to `path` atomically (a temporary file renamed into place) and returns the bytes written.
    @discardableResult
    public func write(_ picture: Picture, to path: String) throws -> [UInt8] {
        let bytes = try encode(picture, path: path)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw VideoIOError(.write, path: path, operation: "cannot write", reason: String(describing: (error as NSError).localizedDescription))
        }
        return bytes
    }
}
