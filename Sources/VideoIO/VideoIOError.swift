internal import CFFmpeg

/// A failure in reading or writing media, with the file, what was being done and FFmpeg's reason.
///
/// The message always starts with the path, so that a batch log line can be read on its own:
/// `night/cam3.mp4: cannot open: Invalid data found when processing input`.
public struct VideoIOError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The file does not exist or cannot be read.
        case unreadable
        /// FFmpeg cannot make sense of the container.
        case unrecognisedFormat
        /// The container holds no video stream (audio only, subtitles, data).
        case noVideoStream
        /// No decoder for the stream's codec in this FFmpeg build.
        case unsupportedCodec
        /// The stream's parameters are impossible (zero or absurd dimensions).
        case invalidStream
        /// Opening the decoder or encoder failed.
        case codecOpen
        /// Encoding or muxing failed.
        case encode
        /// Writing the output file failed (disk full, permissions).
        case write
        /// The caller passed something that cannot work (odd dimensions for 4:2:0, etc.).
        case invalidArgument
    }

    public let kind: Kind
    public let path: String
    /// What was being done, in words: "cannot open", "cannot decode", ...
    public let operation: String
    /// FFmpeg's error code (negative), when the failure came from FFmpeg.
    public let code: Int32?
    /// The reason, FFmpeg's own text where there is one.
    public let reason: String

    public init(_ kind: Kind, path: String, operation: String, code: Int32? = nil, reason: String) {
        self.kind = kind
        self.path = path
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(path): \(operation): \(reason)" }
}

/// FFmpeg's text for an error code.
func ffmpegErrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    buffer.withUnsafeMutableBufferPointer { rw_error_string(code, $0.baseAddress, $0.count) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// FFmpeg's return codes that steer the send/receive loops rather than report failures.
enum FFStatus {
    static let again = rw_averror_eagain()
    static let endOfFile = rw_averror_eof()
    static let invalidData = rw_averror_invaliddata()
    static let decoderNotFound = rw_averror_decoder_not_found()
    static let streamNotFound = rw_averror_stream_not_found()
    static let noSuchFile = rw_averror(ENOENT)
    static let permissionDenied = rw_averror(EACCES)
    static let isDirectory = rw_averror(EISDIR)
    static let noSpace = rw_averror(ENOSPC)
}
