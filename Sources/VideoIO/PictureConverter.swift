internal import CFFmpeg

/// Turns Swift-owned pictures into FFmpeg frames in an encoder's pixel format.
final class PictureConverter {
    private let scaler = ScalerBox()

    static func pixelFormat(of format: Picture.Format) -> AVPixelFormat {
        switch format {
        case .yuv420p: return AV_PIX_FMT_YUV420P
        case .rgb24: return AV_PIX_FMT_RGB24
        case .gray8: return AV_PIX_FMT_GRAY8
        }
    }

    /// A new frame holding `picture` converted to `target` (same size).
    func frame(from picture: Picture, target: AVPixelFormat, path: String) throws -> FrameBox {
        guard let box = FrameBox() else {
            throw VideoIOError(.encode, path: path, operation: "cannot encode", reason: "out of memory")
        }
        let frame = box.pointer
        frame.pointee.width = Int32(picture.width)
        frame.pointee.height = Int32(picture.height)
        frame.pointee.format = target.rawValue
        let allocated = av_frame_get_buffer(frame, 0)
        guard allocated >= 0 else {
            throw VideoIOError(.encode, path: path, operation: "cannot encode", code: allocated, reason: ffmpegErrorText(allocated))
        }
        let source = Self.pixelFormat(of: picture.format)
        if source == target {
            copyPlanes(picture, into: frame)
            return box
        }
        guard let context = scaler.context(
            from: (Int32(picture.width), Int32(picture.height), source),
            to: (Int32(picture.width), Int32(picture.height), target),
            flags: Int32(SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT))
        else {
            let name = av_get_pix_fmt_name(target).map { String(cString: $0) } ?? "?"
            throw VideoIOError(.encode, path: path, operation: "cannot encode",
                               reason: "libswscale cannot convert \(picture.format.rawValue) to \(name)")
        }
        withPlanePointers(picture) { planes, strides in
            planes.withUnsafeBufferPointer { sourcePlanes in
                strides.withUnsafeBufferPointer { sourceStrides in
                    withUnsafePointer(to: &frame.pointee.data) { dataTuple in
                        withUnsafePointer(to: &frame.pointee.linesize) { linesizeTuple in
                            dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { destinationPlanes in
                                linesizeTuple.withMemoryRebound(to: Int32.self, capacity: 8) { destinationStrides in
                                    _ = sws_scale(context, sourcePlanes.baseAddress, sourceStrides.baseAddress, 0, Int32(picture.height),
                                                  destinationPlanes, destinationStrides)
                                }
                            }
                        }
                    }
                }
            }
        }
        return box
    }

    private func copyPlanes(_ picture: Picture, into frame: UnsafeMutablePointer<AVFrame>) {
        for p in 0..<picture.planes.count {
            let rowBytes = picture.stride(ofPlane: p)
            let rows = picture.rows(ofPlane: p)
            let linesize = Int(p == 0 ? frame.pointee.linesize.0 : p == 1 ? frame.pointee.linesize.1 : frame.pointee.linesize.2)
            guard let destination = p == 0 ? frame.pointee.data.0 : p == 1 ? frame.pointee.data.1 : frame.pointee.data.2 else { continue }
            picture.planes[p].withUnsafeBufferPointer { source in
                for y in 0..<rows {
                    (destination + y * linesize).update(from: source.baseAddress! + y * rowBytes, count: rowBytes)
                }
            }
        }
    }

    /// Calls `body` with the picture's plane pointers and strides, valid only inside it.
    private func withPlanePointers(_ picture: Picture, _ body: ([UnsafePointer<UInt8>?], [Int32]) -> Void) {
        let strides = (0..<picture.planes.count).map { Int32(picture.stride(ofPlane: $0)) }
        picture.planes[0].withUnsafeBufferPointer { p0 in
            if picture.planes.count == 1 {
                body([p0.baseAddress, nil, nil, nil], strides + [0, 0, 0])
                return
            }
            picture.planes[1].withUnsafeBufferPointer { p1 in
                picture.planes[2].withUnsafeBufferPointer { p2 in
                    body([p0.baseAddress, p1.baseAddress, p2.baseAddress, nil], strides + [0])
                }
            }
        }
    }
}
