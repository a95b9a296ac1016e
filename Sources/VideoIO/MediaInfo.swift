import Foundation
import TrafficModel

/// What a media file says about itself and its chosen video stream.
public struct MediaInfo: Sendable, Codable, Equatable {
    public var path: String
    public var fileSize: Int64
    /// Demuxer short name(s), as FFmpeg reports them ("mov,mp4,m4a,3gp,3g2,mj2", "avi").
    public var container: String
    public var containerLongName: String
    /// Index of the video stream FFmpeg judged best.
    public var streamIndex: Int
    public var codec: String
    public var codecLongName: String
    public var width: Int
    public var height: Int
    /// The decoder's pixel format name ("yuv420p", "yuvj422p", "yuv420p10le", ...).
    public var pixelFormat: String
    /// The stream's time base as "num/den".
    public var timeBase: String
    /// The container's nominal ("real base") frame rate, when it states one.
    public var nominalFrameRate: Double?
    /// The average frame rate over the stream, when known.
    public var averageFrameRate: Double?
    /// Duration in seconds, from the stream or else the container.
    public var duration: Double?
    /// Frame count from the container's index, when it has one.
    public var frameCount: Int?
    /// Overall bit rate in bits per second, when known.
    public var bitRate: Int?
    /// The container's `creation_time` tag exactly as written.
    public var creationTimeText: String?
    /// `creation_time` parsed as an instant (ISO 8601; a time without zone is read as UTC, as FFmpeg writes it).
    public var creationTime: Date?
}

