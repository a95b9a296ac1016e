import Foundation
import TrafficModel
import VideoIO

/// The light a scene is analysed for (`MotionDetectorOptions.light`).
public enum SceneLight: String, Sendable, Equatable, CaseIterable {
    case auto, day, dusk, night
}

/// Settings of the motion detector; every value's unit is in its name or comment.
public struct MotionDetectorOptions: Sendable, Equatable {
    /// Frames are shrunk by a whole factor to at most about this width before analysis (pixels).
    public var analysisWidth = 480
    /// Seconds for the background to follow a change where no vehicle is.
    public var backgroundTimeConstant = 3.0
    /// Seconds for a standing vehicle to fade into the background (long: queues at red must stay visible).
    public var foregroundTimeConstant = 90.0
    /// A pixel is foreground when it differs from the background by this many standard deviations ...
    public var sigmas = 3.5
    /// ... and by at least this many 8-bit levels, or this share of the background's level where it is darker
    /// (dark vehicles on a dark road at night differ by little; 0.35 left night tracking IDF1 at 0.337, 0.30 gives
    /// 0.355, 0.25 joins vehicles and loses a red-light record). The levels are a floor over the noise the variance
    /// measures (compression, exposure steps): a camera with little of it may lower them (`min_difference` in a
    /// pipeline). On the sample junction (its pipeline sets 11) a dark car passing at dusk differed from the road by
    /// 12–16 levels, under 16, and was learnt into the background as it went; 11 raised tracking IDF1 by day 0.791 →
    /// 0.839 and at dusk 0.601 → 0.737, and the CDnet highway's F-measure 0.905 → 0.92 at 10. Lower still found the
    /// shadow beside the highway sample's motorcycle, whose box width then jumped and lost its speed record.
    public var minimumDifference = 16.0
    public var minimumRelativeDifference = 0.30
    /// The variance learns each frame's squared difference clipped at this many standard deviations: a dark vehicle
    /// just inside the threshold (at night, 39 levels under a 47-level road) otherwise teaches the background it is
    /// noise while it passes (σ 5 → 15 in one second, measured), so it is never seen. With the clip the variance grows
    /// by at most 3α a frame (α the background's learning rate: 4 % at 25 fps). After dark the variance learns from
    /// differences darker than the background only (twice their square: the same σ for noise): headlight beams
    /// sweeping a lane brighten the road, and learnt as noise they raised σ there to 4–11 levels (measured on the
    /// night junction, 2–3.5 without them), hiding a dark motorcycle 10–14 levels under the road.
    public var varianceClip = 2.0
    /// Cast shadows (pixels at 45–78 % of the background's light) are left out of boxes where the background is at
    /// least this bright (8-bit luma): pavement and concrete beside the road, where a vehicle's shadow widened its box
    /// by a metre or more. On the road itself a dark vehicle looks the same as a shadow in luma, chroma and texture
    /// (measured on the day junction: a dark grey car at 60–67 over a 99 road, the shadow 63–64), and suppressing
    /// shadows there lost all three red-light records, so darker backgrounds keep them. 0 suppresses everywhere,
    /// 256 (the default) nowhere: on a concrete road grey cars are as dark against it as shadows are (NGSIM US-101 at
    /// 130: box precision / recall 0.669 / 0.745 → 0.592 / 0.603). Where the road is darker than the ground its
    /// shadows fall on, it pays: on the day junction (road 99, pavement above 150) 130 gives tracking IDF1 0.458 →
    /// 0.497 and MOTA 0.112 → 0.192.
    public var shadowBackground = 256.0
    /// After dark (background mean luma below `darkScene`), leave headlight glow on the road (brighter, but less
    /// than `lightSourceRatio` times the background or under `lightSourceMinimum`, and not saturated) out of boxes;
    /// head- and tail-lights stay in.
    /// By day a white car is legitimately brighter than the road.
    public var suppressGlow = true
    public var lightSourceRatio = 2.5
    /// ... and at least this 8-bit level: on a road as dark as 7–10 levels, a waiting car's beam lit the road ahead of
    /// it to 35–45, over four times the road, and stood 16 s as a false track (junction-night-traffic's track 13, 217
    /// frames); tail lamps there read 106–146. Chosen on the two night clips (docs/accuracy.md): 55–65 give
    /// junction-night-traffic IDF1 0.772 → 0.787–0.788, the night sample unchanged to 62; 68 and more lose a far pair
    /// (0.765), 80 a night record.
    public var lightSourceMinimum = 60.0
    /// After dark and at dusk, small blobs brighter than the background by this ratio are lamps, for the tracker to
    /// follow a vehicle whose body fades into the road (`FrameDetections.lamps`): a motorcycle's tail-lamp over a road
    /// lit by other vehicles' beams reads 2.3 times the road (119 over 50, night junction), under `lightSourceRatio`.
    public var lampRatio = 2.0
    /// After dark, a vehicle whose body is as dark as the road is seen by its pair of lights: two light blobs level
    /// with each other, alike in size, 1.2–14 blob sizes apart, make a vehicle box around them (width 1.5 × their
    /// spacing plus a blob, height 1.1 × the width or, with the calibration, a car's proportion seen at that distance,
    /// lights 70 % of the way down: the proportions of cars seen from behind or in front in the samples). Oncoming
    /// headlamps bloom, so their blobs lie 1.2–2 sizes apart (1.8 on the night sample, against 3.75 for tail lamps):
    /// such a pair's box is 1.75 × its spacing wide. Pairs from 2 sizes only (as until 2026-11-27) left far oncoming
    /// cars unpaired: night IDF1 0.682 → 0.744 on the sample and 0.598 → 0.646 on junction-night-traffic with
    /// these (docs/accuracy.md); when trucks' lamps were 1.1 m bars on the sample's render they paired into false cars.
    public var pairLights = true
    /// With the camera's calibration, two lights pair only when they are a vehicle's lamp spacing apart on the road
    /// (metres, measured where the pair's vehicle box meets it): headlights of two vehicles side by side paired into
    /// one box 171 px wide over the night sample's junction, four lamp-widths of empty sky included.
    public var calibration: Calibration? = nil
    public var lampSpacingM = 0.9...2.6
    /// After dark with `pairLights`, a light blob at least this many of the picture's pixels wide and
    /// `mergedPairAspect` times as wide as tall is two headlamps bloomed into one (see `mergedPair`). 8–12 px and 1.5–1.8
    /// give the same figures on the two night clips; 2.2 loses far cars whose blob is 2 to 1 (docs/accuracy.md).
    public var mergedPairMinimumWidth = 12
    public var mergedPairAspect = 1.8
    /// With the calibration and `pairLights`, after dark and at dusk, a blob that is one lamp in no pair is a
    /// motorcycle (`motorcycle(_:besides:)`): its box is this wide in metres at the road's scale where the lamp is, 2.3 times as
    /// tall, the lamp 58 % of the way down. The lamp is above the road, so the road's scale there is that of a point
    /// farther away: 0.96 m there makes a motorcycle 0.8 m wide with its rider. The height holds the rider's 1.5 m and
    /// the machine's length seen from above. Chosen on two night clips (docs/accuracy.md): IDF1 0.664 → 0.682 on the night sample and
    /// 0.569 → 0.598 on junction-night-traffic, where the motorcycles' boxes had been their lamps' glow.
    /// 0 leaves such blobs as they are.
    public var singleLampWidthM = 0.96
    /// The blob is one lamp where it is at most 2.5 times the lamp's width and this many times its height (and an
    /// analysis pixel more each side): seen from behind, a motorcycle's rider and machine are darker than the road
    /// the other vehicles' beams light, so they join its tail lamp's blob above and below it, narrow but tall (on
    /// junction-night-traffic, motorcycle 14: a body of 2–10 levels on a road of 25–60, its blob 22–28 px tall over a
    /// lamp 6 px tall). At 2.5 its boxes were that blob from frame 499 and the track was lost at 655; at 4 it has a
    /// motorcycle's box from 499 and holds to the end (matched frames 260 → 346 of 383; IDF1 0.787 → 0.798). The night
    /// sample: IDF1 the same, 56 of its track boxes changed, its motorcycle's record crosses 2 ms earlier. 3.5–4.5
    /// give the same; 3 gives 0.788, and 5 loses the night sample's motorcycle record (docs/accuracy.md).
    public var singleLampBlobHeight = 4.0
    /// With the calibration, a blob wider on the road than this (metres, along its bottom edge) is vehicles side by
    /// side that touch, a van's shadow reaching the car in the next lane: it is cut at its emptiest column where that
    /// leaves at least `minimumSideM` either side and holds at most a third of the lower side's highest column of
    /// core (counted in the opened core); seen steeply from above, at its emptier column or row where it is this wide
    /// both ways (`splitSideBySide`). By day only: after dark a blob's core is lamps and their reflections,
    /// whose columns do not show where one vehicle ends (measured: night tracking IDF1 0.367 → 0.362 with it).
    /// `minimumSideM` is a motorcycle's width less a quarter: a side is measured along the blob's bottom row, which
    /// is nearer the camera than the bottom of a vehicle higher up the picture, so it reads narrower there. At 1.2 a
    /// motorcycle passing a waiting truck on the day junction (analysed at 640 px) stayed in the truck's blob,
    /// joined by its shadow, for the half second up to the stop line, and its red-light record was lost.
    public var maximumVehicleWidthM = 3.2
    public var minimumSideM = 0.6
    /// The scene is dark (glow suppressed, lamps and light pairs sought, the background not held under tracks) when
    /// the background's mean luma is under this. The night junction reads 19, the dusk junction 56 and the day 121;
    /// at dusk vehicle bodies still show, and taking it as dark left a white van's body out as glow and started no
    /// track on the far road (at 70: dusk tracking IDF1 0.569, 0.601 at 40).
    public var darkScene = 40.0
    /// At dusk (the background's mean luma from `darkScene` up to this) lamps are sought as after dark, but glow is
    /// not suppressed, nor are light pairs sought: vehicles' bodies still show. The tracker follows a vehicle by its
    /// lamp, and a blob that is one lamp and its glow is a motorcycle (`singleLampWidthM`). On the dusk junction
    /// (56) oncoming motorcycle 9 was tracked as its headlamp's glow, a box half its height (60 of its 314 frames
    /// matched; 220 with this), and IDF1 went 0.870 → 0.909 with its three records kept, motorcycle 13's speed
    /// nearer the truth (docs/accuracy.md). By day nothing changes: the samples and the real footage read 106 or more.
    public var duskScene = 80.0
    /// How the scene's light is judged: `auto` each frame from the background's mean luma over the whole picture
    /// (`darkScene`, `duskScene`), or fixed for a camera that misleads it, a daytime view of mostly dark asphalt
    /// (read as dusk, it would seek lamps by day and give a far white car, one lamp, a motorcycle's box).
    public var light = SceneLight.auto
    /// Image regions where motion is never a vehicle (the signal head, a clock overlay), full-resolution pixels.
    public var ignore: [Box] = []
    /// A region (full-resolution pixels) also analysed unshrunk, by a detector of its own: the far end of a road,
    /// where vehicles are a few analysis pixels (on the day junction at 640 px, half the truth's boxes lie beyond 80 m,
    /// under 20 px tall in the 1280 px picture). Its boxes replace the whole picture's there (`LookaheadDetector`).
    public var detailRegion: Box? = nil
    /// Blobs smaller than this many analysis pixels are noise, or, from `weakArea` up, weak detections
    /// (`Detection.isWeak`) that only continue a track: a distant motorcycle shrinks to a few pixels while it is still in
    /// the speed zone (measured on the motorway sample: 9–18 pixels for the last tenth of a second before the exit line).
    public var minimumArea = 20
    public var weakArea = 10
    /// After dark both count this many times more pixels (the detail region's detector, below: small blobs there are
    /// glare and beams, and vehicles are found by their lamp pairs).
    public var darkAreaFactor = 1
    /// Seconds at the start used only to learn the background: it starts as the per-pixel median of frames
    /// spread over this time, so vehicles passing by are not learnt as road (it must be longer than twice the time a
    /// slow vehicle covers a pixel: 2 s was too short for a 9.5 m truck at 40 km/h). Vehicles standing through it are
    /// learnt as road until `absorbAfterSeconds` after they leave.
    public var warmupSeconds = 4.0
    /// A pixel that has been foreground this long is learnt as background (a parked vehicle, a left-over ghost).
    /// Longer than a red phase, so queues stay vehicles.
    public var absorbAfterSeconds = 20.0
    /// A blob is taken for a ghost (`absorbedGhost`) only once its pixels have been foreground this long on average
    /// (seconds). A vehicle just arrived can look like one: on junction-dusk a pale truck coming up from the bottom
    /// of the picture over the pale pavement, the same light as its side, had a strip of it cut off along the kerb by
    /// the pavement's edge, a standing blob there whose outline is an edge of the background and not of the picture,
    /// and it was learnt as road within 0.6 s of the truck's arrival (with the shake test's interior rule below, the
    /// whole truck within 0.9 s, and dusk IDF1 fell to 0.617). 1 s leaves the day junction's real ghost (a van that
    /// stood through the warm-up) to be learnt 1 s after detection starts; 0.5 s was too short for the dusk truck,
    /// 2 s gave the same figures as 1 s bar shake 0.764 → 0.758 and dense 0.411 → 0.405 (docs/accuracy.md).
    public var ghostMinimumAgeSeconds = 1.0
    /// By day, inside a blob, the shake test also asks that the background beside a candidate that it matches lie
    /// nearer than this share of its difference from its own background (a shaken edge matches its neighbour to
    /// within the noise). Junction-dusk's dark cars, 12–16 levels under the road and just over its threshold of 11,
    /// matched any neighbour whose background was a level or two nearer, and lost their bodies' pixels: dusk IDF1
    /// 0.756 → 0.808 with 0.7 (0.5 the same, 0.3 0.764), shake 0.764 → 0.768, dense 0.411 → 0.412, the day junction
    /// and the motorway unchanged. Outside blobs too it lifted dusk to 0.837 but cost NGSIM's box precision 0.806 →
    /// 0.769: on real, compressed footage those marginal matches are noise (docs/accuracy.md). 1 or more: off.
    public var shakeMatchShare = 0.7
    /// By day, a blob whose core fills less than this share of its box is outlines, not a body: the soft edges of a
    /// truck's shadow on the pavement (under 0.78 of the light there, so not shadow-like, but the shadow's inside is)
    /// made a blob 70 × 120 px with 2.5 % of it core on junction-shake, and a track that followed the shadow for 262
    /// frames. Such a blob is weak (`Detection.isWeak`): it may continue a track, never start one. Chosen on the seven
    /// scenes (docs/accuracy.md): shake IDF1 0.768 → 0.788 at 0.05, the rest unchanged; 0.10 cost dense 0.005.
    public var minimumFill = 0.05
    /// By day, with the calibration, seen along the road, a flat box under another is the lower part of the same
    /// vehicle (see `joinedLowerParts`).
    public var joinLowerParts = true

    public init() {}
}

/// Finds moving vehicles in the luma plane: an adaptive per-pixel background (mean and variance) compensated for
/// global changes of light (clouds, auto exposure), with shadow and glow suppression, morphology and connected
/// components. Deterministic; state is per camera, so one detector per input file.
public final class MotionDetector: FollowsTracks {
    public let options: MotionDetectorOptions
    public private(set) var factor = 1
    private var width = 0, height = 0
    private var background: [Float] = []
    private var variance: [Float] = []
    private var mask: [UInt8] = []
    /// Foreground pixels that are neither shadow-like nor glow-like: they decide a blob's box.
    private var core: [UInt8] = []
    private var scratch: [UInt8] = []
    private var opened: [UInt8] = []
    /// Light-source pixels after dark (head- and tail-lights).
    private var lights: [UInt8] = []
    /// Lamp pixels after dark and at dusk (see `lampRatio`).
    private var lampPixels: [UInt8] = []
    /// The last frame's lamps (after dark and at dusk): small blobs of lamp pixels, full-resolution boxes.
    private var lamps: [Box] = []
    private var dark = false
    private var dusk = false
    /// The background's mean luma (8-bit) in the last frame, from which `SceneLight.auto` judges the light.
    public private(set) var backgroundLevel = 0.0
    /// The level the light is judged by instead of this detector's own: the detail region's detector is given the
    /// whole picture's (`LookaheadDetector`), so that a region of dark asphalt is not taken for dusk on its own.
    var judgedLevel: Double?
    private var ignoreMask: [UInt8] = []
    private let labeler = ComponentLabeler()
    private var framesSeen = 0
    private var warmup: [[UInt8]] = []
    /// Seconds each pixel has been foreground without a break.
    private var foregroundAge: [Float] = []
    /// 255 under the vehicles being tracked (see `hold(_:apart:)`), at the analysis scale.
    private var heldMask: [UInt8] = []
    /// Vehicles the tracker has seen apart, at the analysis scale (see `hold(_:apart:)`).
    private var apart: [Box] = []
    private var lastPTS: Double?
    /// The background was started by `prime(with:)`: no warm-up.
    private var primed = false
    /// Global gain of the current frame against the background.
    public private(set) var gain: Float = 1
    /// The last analysed image, to tell a standing blob from a moving one (`absorbedGhost`).
    private var previous: [UInt8] = []
    /// Blobs taken for ghosts and learnt into the background (see `absorbedGhost`), for tests and engineers.
    public private(set) var ghostsAbsorbed = 0

    public init(options: MotionDetectorOptions = MotionDetectorOptions()) {
        self.options = options
    }

    /// Detections in one decoded frame, in full-resolution image coordinates.
    public func detect(_ frame: VideoFrame) -> FrameDetections {
        let image = analysisImage(frame)
        return detect(image, time: FrameTime(index: frame.index, pts: frame.pts))
    }

    /// Detections and lamps in an analysis image (already shrunk by `factor`), in full-resolution coordinates.
    public func detect(_ image: GrayImage, time: FrameTime) -> FrameDetections {
        let found = detect(image, pts: time.pts)
        return FrameDetections(time: time, detections: found, lamps: lamps, dark: dark)
    }

    /// The frame's luma shrunk to the analysis scale (the whole factor is fixed by the first frame).
    public func analysisImage(_ frame: VideoFrame) -> GrayImage {
        if factor == 1 && width == 0 { factor = max(1, Int((Double(frame.width) / Double(options.analysisWidth)).rounded(.up))) }
        return frame.withLuma { GrayImage(shrinking: $0, by: factor) }
    }

    /// Starts the background from these images (the per-pixel median of every third) instead of waiting through
    /// the warm-up: for footage that can be read ahead, so the first seconds are analysed too.
    public func prime(with images: [GrayImage]) {
        guard let first = images.first else { return }
        reset(first)
        warmup = stride(from: 0, to: images.count, by: 3).map { images[$0].pixels }
        startBackground()
        primed = true
        lastPTS = nil
    }

    /// What the tracker knows for the frames that follow, until the next call (full-resolution boxes).
    ///
    /// `boxes`, the vehicles being tracked: by day the background under them learns at the standing-vehicle rate, not
    /// the road's. A truck's uniform back panel that slows to a stop over its own earlier picture differs from nothing,
    /// so it is not foreground, and at the road's rate it was learnt as road within seconds (measured on the day
    /// junction: truck 11, waiting at red, was found as its roof and bumper only once it moved off). Not after dark,
    /// where the boxes hold glow and beams (night IDF1 0.403 → 0.353 with it).
    ///
    /// `vehicles`, those the tracker has seen apart and whole, where it expects them in the next frame: a blob that
    /// holds two or more of them is divided among them (see `splitByVehicles`).
    public func hold(_ boxes: [Box], apart vehicles: [Box] = []) {
        guard width > 0 else { return }
        let f = Double(factor)
        apart = vehicles.map { Box(x: $0.x / f, y: $0.y / f, width: $0.width / f, height: $0.height / f) }
        heldMask.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        fill(&heldMask, under: boxes, with: 255)
    }

    /// Sets `mask` to `value` under these full-resolution boxes, each clipped to the picture at the analysis scale: a
    /// box may lie outside a picture smaller than the camera's usual one (found by the damaged-footage corpus: a
    /// crash on an empty range).
    private func fill(_ mask: inout [UInt8], under boxes: [Box], with value: UInt8) {
        let f = Double(factor)
        for b in boxes {
            let y0 = max(0, Int(b.y / f)), y1 = min(height, Int((b.maxY / f).rounded(.up)))
            let x0 = max(0, Int(b.x / f)), x1 = min(width, Int((b.maxX / f).rounded(.up)))
            guard y0 < y1, x0 < x1 else { continue }
            for y in y0..<y1 { for x in x0..<x1 { mask[y * width + x] = value } }
        }
    }

    /// The last foreground mask at analysis resolution (255 = vehicle), for pictures and tests.
    public var foreground: GrayImage { GrayImage(width: width, height: height, pixels: Array(mask.prefix(width * height))) }
    /// The last core mask (foreground that is neither shadow-like nor glow-like).
    public var coreForeground: GrayImage { GrayImage(width: width, height: height, pixels: Array(core.prefix(width * height))) }
    /// The last frame's masks in one picture at analysis resolution, for engineers tuning the detector
    /// (`roadwatch track --masks`): 255 where a pixel decides boxes (core), 96 where it only joins a blob's parts
    /// (shadow, glow, or filled in by closing), 0 elsewhere.
    public var maskPicture: GrayImage {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n where mask[i] != 0 || core[i] != 0 { out[i] = core[i] & 1 != 0 ? 255 : 96 }
        return GrayImage(width: width, height: height, pixels: out)
    }

    /// Detections in an analysis image (already shrunk by `factor`), scaled back by `factor`.
    public func detect(_ image: GrayImage, pts: Double) -> [Detection] {
        let dt = lastPTS.map { max(1e-3, min(1, pts - $0)) } ?? 0.04
        lastPTS = pts
        if width != image.width || height != image.height { reset(image); primed = false }
        framesSeen += 1
        if !primed && Double(framesSeen) * dt < options.warmupSeconds {
            if framesSeen % 3 == 1 { warmup.append(image.pixels) }
            return []
        }
        if !warmup.isEmpty { startBackground() }
        classify(image, dt: dt)
        morphology()
        let f = Double(factor)
        // A lamp covers two of the picture's pixels or more, at any analysis scale: at half scale that is one pixel.
        // Two analysis pixels were asked everywhere, and the night junction's motorcycle 14, driving away, its
        // tail-lamp a 2 × 2 spot of 108–139 over a road of 20–40, lost its lamp at 53 m and its track with it (its
        // boxes matched in 79 of its 318 frames, 248 now, to 167 m; night IDF1 0.781 → 0.797, junction-night-traffic
        // 0.680 unchanged). The detail region, at full resolution, still asks two: with one pixel there too, the
        // traffic clip's car 9 lost its track to another car at 150 m (0.680 → 0.655).
        lamps = !(dark || dusk) ? [] : labeler.label(lampPixels, width: width, height: height)
            .filter(lampSized)
            .map { Box(x: Double($0.minX), y: Double($0.minY), width: Double($0.width), height: Double($0.height)).scaled(by: f) }
        // Shadow and glow pixels join a vehicle's parts into one blob but do not size its box: its core does,
        // the opened core where it is substantial (no edge streaks), else the raw core (small, far vehicles).
        let components: [Component] = labeler.label(mask, core: core, width: width, height: height)
            .filter { !absorbedGhost($0, image) }
            .flatMap { splitSideBySide($0) }.flatMap { splitByVehicles($0) }
        previous = image.pixels
        let minimumArea = options.minimumArea * (dark ? options.darkAreaFactor : 1)
        let weakArea = options.weakArea * (dark ? options.darkAreaFactor : 1)
        var found = components
            .filter { $0.corePixels >= min(weakArea, minimumArea) && $0.coreMaxX - $0.coreMinX >= 2 && $0.coreMaxY - $0.coreMinY >= 2 }
            .map { c in
                let f = Double(factor)
                let strong = c.strongPixels >= 2 * minimumArea
                let x0 = strong ? c.strongMinX : c.coreMinX, y0 = strong ? c.strongMinY : c.coreMinY
                let w = (strong ? c.strongMaxX : c.coreMaxX) - x0 + 1, h = (strong ? c.strongMaxY : c.coreMaxY) - y0 + 1
                let fill = Double(strong ? c.strongPixels : c.corePixels) / Double(w * h)
                // Confident: the weak bound plus the box's fill; weak: under it in proportion to the core's size, or
                // by day to its fill where that is under `minimumFill` (outlines).
                let confidence = c.corePixels < minimumArea
                    ? Detection.weakConfidence * Double(c.corePixels) / Double(minimumArea)
                    : !dark && fill < options.minimumFill ? Detection.weakConfidence * fill / options.minimumFill
                    : min(1, Detection.weakConfidence + fill)
                return Detection(box: Box(x: Double(x0), y: Double(y0), width: Double(w), height: Double(h)).scaled(by: f), confidence: confidence)
            }
        if !dark && options.joinLowerParts, let calibration = options.calibration { found = joinedLowerParts(found, calibration) }
        let pairs = dark && options.pairLights ? lightPairs() : []
        for pair in pairs {
            // Boxes lying mostly inside the pair's vehicle box are parts of that vehicle (a dark body seen in
            // pieces): they become one box, their union where it fills most of the pair's box (60 % of its area
            // and 80 % of its height), else the pair's. The flat blob of a far oncoming car's bloomed headlamps
            // fills the area, not the height: taken for the car, it made a box 0.7 of its height (night IDF1 0.757 →
            // 0.772 with the height, junction-night-traffic 0.652 → 0.659; docs/accuracy.md).
            let parts = found.indices.filter { i in
                found[i].box.intersection(pair.box).map { $0.area > 0.5 * found[i].box.area } == true
            }
            if !parts.isEmpty {
                let union = parts.dropFirst().reduce(found[parts[0]].box) { $0.union(found[$1].box) }
                let merged = union.area >= 0.6 * pair.box.area && union.height >= 0.8 * pair.box.height
                    ? Detection(box: union, confidence: parts.map { found[$0].confidence }.max()!) : pair
                found = found.indices.filter { !parts.contains($0) }.map { found[$0] } + [merged]
            } else if !found.contains(where: { $0.box.iou(pair.box) > 0.2 || $0.box.intersection(pair.box).map { $0.area > 0.5 * pair.box.area } == true }) {
                found.append(pair)
            }
        }
        if dark || dusk, options.pairLights && options.singleLampWidthM > 0 {
            let pairBoxes = pairs.map(\.box)
            found = found.map { motorcycle($0, besides: pairBoxes) }
        }
        return found
    }

    /// A vehicle seen in two boxes, one over the other: its body, and a flat strip under it (its bumper, wheels and
    /// the shadow beneath) cut from it where a grey front matched the pavement. Junction-shake's oncoming truck 12 was
    /// found so for most of its approach, and the strip, 34 × 9 px with the shadow beside it, was a second track for
    /// 230 frames. A box under half as tall as wide whose top lies within its height (and an analysis pixel)
    /// under another box's bottom, across at least half the narrower one's width, joins that box: the upper box's
    /// columns (the strip's extra width is shadow), down to the strip's bottom, where that is at least half as tall
    /// as wide and no wider on the road than a vehicle (`maximumVehicleWidthM`). A queue's cars nose to tail are not
    /// flat, and where rows are ground (a steep view, see `splitSideBySide`) nothing is joined: the boxes one above
    /// the other are vehicles in neighbouring lanes. Only with the calibration, which says both: without it, the
    /// tracking test's bare detector on the day junction lost IDF1 0.584 → 0.565 and made 9 identity switches, not 4.
    /// Two strips are vehicles of their own: one on the picture's bottom edge (a vehicle coming in, its top all that
    /// shows; joined, dense traffic's near vehicle took a box 420 px tall), and one lying mostly where the tracker
    /// expects another vehicle it saw whole (`hold(_:apart:)`): a car far off, flat seen from behind, under the
    /// vehicle ahead of it. Chosen on the seven scenes (docs/accuracy.md): shake IDF1 0.788 → 0.841 (with
    /// `minimumFill`), motorway 0.675 → 0.688 (in its lanes 0.845 → 0.885) at a gap of half the strip's height;
    /// shake 0.868 → 0.901 at its whole height with the two exceptions (truck 12's grey front, 6 px between its
    /// top and its strip 8 px tall, matches the road), dense 0.464 → 0.468; without them dense lost 0.014–0.04.
    private func joinedLowerParts(_ boxes: [Detection], _ calibration: Calibration) -> [Detection] {
        var found = boxes
        let bottomEdge = Double((height - 1) * factor)
        let vehicles = apart.map { $0.scaled(by: Double(factor)) }
        func share(_ b: Box, in v: Box) -> Double { (b.intersection(v)?.area ?? 0) / max(b.area, 1) }
        func join(_ strip: Box, under a: Box) -> Box? {
            guard a.maxY <= strip.y + 0.5 * strip.height, strip.y - a.maxY <= strip.height + Double(factor),
                  min(a.maxX, strip.maxX) - max(a.x, strip.x) >= 0.5 * min(a.width, strip.width),
                  strip.maxY < bottomEdge, !vehicles.contains(where: { share(strip, in: $0) >= 0.5 && share(a, in: $0) < 0.5 })
            else { return nil }
            let joined = Box(x: a.x, y: a.y, width: a.width, height: max(a.maxY, strip.maxY) - a.y)
            guard joined.height >= 0.5 * joined.width else { return nil }
            if let width = calibration.groundWidth(joined), width > options.maximumVehicleWidthM { return nil }
            return joined
        }
        var joinedOne = true
        while joinedOne {
            joinedOne = false
            search: for i in found.indices where found[i].box.height < 0.5 * found[i].box.width {
                let strip = found[i].box
                if Self.rowsAreGround(at: strip.bottomCenter, calibration) { continue }
                for j in found.indices where j != i {
                    guard let joined = join(strip, under: found[j].box) else { continue }
                    let d = Detection(box: joined, confidence: max(found[i].confidence, found[j].confidence))
                    found = found.indices.filter { $0 != i && $0 != j }.map { found[$0] } + [d]
                    joinedOne = true
                    break search
                }
            }
        }
        return found
    }

    /// After dark and at dusk, a box that is one lamp and what glows around it (or a dark rider over it,
    /// `singleLampBlobHeight`), in no light pair's box, is a motorcycle seen by its head- or tail-lamp alone: its body is as dark as the road,
    /// or darker. It gets a motorcycle's box, placed by the lamp and sized by the road's scale there (see
    /// `singleLampWidthM`). It is confident however small the lamp, as a light pair is: a lamp is no noise. A
    /// motorcycle lost beside a truck at 40 m could not be found again while it drove away, its lamp under the
    /// smallest confident blob (night IDF1 0.744 → 0.757 with this, junction-night-traffic 0.646 → 0.652; motorcycle
    /// 14's boxes tracked 42 → 79, 9's 64 → 145).
    private func motorcycle(_ d: Detection, besides pairs: [Box]) -> Detection {
        let inside = lamps.filter { d.box.contains($0.center) }
        let f = Double(factor)
        guard inside.count == 1, let lamp = inside.first, let calibration = options.calibration,
              !pairs.contains(where: { ($0.intersection(d.box)?.area ?? 0) > 0 }),
              d.box.width <= 2.5 * lamp.width + 2 * f, d.box.height <= options.singleLampBlobHeight * lamp.height + 2 * f,
              let across = calibration.metresPerPixel(at: lamp.center)?.x, across > 0 else { return d }
        let w = options.singleLampWidthM / across, h = 2.3 * w
        return Detection(box: Box(x: lamp.center.x - w / 2, y: lamp.center.y - 0.58 * h, width: w, height: h),
                         confidence: max(d.confidence, Detection.weakConfidence))
    }

    /// A component cut into vehicles side by side (see `maximumVehicleWidthM`), at most three cuts deep. Boxes and
    /// counts of the parts come from the opened core (bit 2) in their columns, or rows.
    ///
    /// Seen along the road (the sample junctions and motorway), a blob is cut at a column where its bottom edge is
    /// too wide on the road; its height is mostly the vehicle's own and tells nothing. Seen steeply from above (a
    /// pixel down the picture spans at most 1.5 times the ground a pixel across does, at the blob's bottom: NGSIM's
    /// 0.8, against 1.8 at the sample junction's bottom edge and 4 at its stop line) rows are ground too: vehicles in
    /// lanes that run across the picture lie one above the other, and a single vehicle may be longer than the width
    /// limit either way. There a blob wider than a vehicle both ways is cut at its emptier column or row.
    private func splitSideBySide(_ c: Component, depth: Int = 0) -> [Component] {
        guard let calibration = options.calibration, !dark, depth < 3, c.strongPixels >= 2 * options.minimumArea else { return [c] }
        let f = Double(factor)
        let bottom = Double(c.strongMaxY + 1) * f, centre = Double(c.strongMinX + c.strongMaxX + 1) / 2 * f
        func across(_ x0: Int, _ x1: Int) -> Double? {
            calibration.groundDistance(Point2(Double(x0) * f, bottom), Point2(Double(x1 + 1) * f, bottom))
        }
        func down(_ y0: Int, _ y1: Int) -> Double? {
            calibration.groundDistance(Point2(centre, Double(y0) * f), Point2(centre, Double(y1 + 1) * f))
        }
        let best: (parts: [Component], valley: Double)?
        if Self.rowsAreGround(at: Point2(centre, bottom), calibration) {
            guard let wide = across(c.strongMinX, c.strongMaxX), let tall = down(c.strongMinY, c.strongMaxY),
                  min(wide, tall) > options.maximumVehicleWidthM else { return [c] }
            best = [cut(c, columns: true, metres: across), cut(c, columns: false, metres: down)].compactMap { $0 }.min { $0.valley < $1.valley }
        } else {
            best = cut(c, columns: true, metres: across)
        }
        return best?.parts.flatMap { splitSideBySide($0, depth: depth + 1) } ?? [c]
    }

    /// Seen steeply from above at `p` (full-resolution pixels): a pixel down the picture spans at most 1.5 times the
    /// ground a pixel across does, so rows are ground too (see `splitSideBySide`).
    private static func rowsAreGround(at p: Point2, _ calibration: Calibration) -> Bool {
        guard let scale = calibration.metresPerPixel(at: p) else { return false }
        return scale.y <= 1.5 * scale.x
    }

    /// The two parts of a component cut at its emptiest column (or row) of opened core, where its extent that way is
    /// more than `maximumVehicleWidthM` on the road, the cut leaves `minimumSideM` either side and holds at most a
    /// third of the lower side's peak (the valley: the cut's count over that peak); nil where there is no such cut.
    /// `metres(a, b)` is the ground extent of columns (rows) a through b.
    private func cut(_ c: Component, columns: Bool, metres: (Int, Int) -> Double?) -> (parts: [Component], valley: Double)? {
        let lo = columns ? c.strongMinX : c.strongMinY, hi = columns ? c.strongMaxX : c.strongMaxY
        guard let wide = metres(lo, hi), wide > options.maximumVehicleWidthM else { return nil }
        var counts = [Int](repeating: 0, count: hi - lo + 1)
        for y in c.strongMinY...c.strongMaxY {
            for x in c.strongMinX...c.strongMaxX where core[y * width + x] & 2 != 0 { counts[(columns ? x : y) - lo] += 1 }
        }
        var cut: (at: Int, count: Int)?
        for i in lo...hi where cut == nil || counts[i - lo] < cut!.count {
            guard let before = metres(lo, i - 1), let after = metres(i + 1, hi),
                  before >= options.minimumSideM, after >= options.minimumSideM else { continue }
            cut = (i, counts[i - lo])
        }
        guard let cut else { return nil }
        let i = cut.at - lo
        guard let beforePeak = counts[..<i].max(), let afterPeak = counts[(i + 1)...].max(), cut.count * 3 <= min(beforePeak, afterPeak) else { return nil }
        // The valley's floor (a shadow strip between the two) belongs to neither side.
        let beforeEnd = counts[..<i].lastIndex { $0 > cut.count }! + lo
        let afterStart = counts[(i + 1)...].firstIndex { $0 > cut.count }! + lo
        let sides = columns
            ? [part(of: c, columns: lo...beforeEnd, rows: c.minY...c.maxY), part(of: c, columns: afterStart...hi, rows: c.minY...c.maxY)]
            : [part(of: c, columns: c.minX...c.maxX, rows: lo...beforeEnd), part(of: c, columns: c.minX...c.maxX, rows: afterStart...hi)]
        return (sides.compactMap { $0 }, Double(cut.count) / Double(min(beforePeak, afterPeak)))
    }

    /// A blob that holds two or more vehicles the tracker saw apart (`hold(_:apart:)`, `Box.holdsApart` of its core
    /// box), such as a motorcycle
    /// passing a waiting truck, joined to it by its shadow, or cars queued nose to tail: its core pixels are divided
    /// among them, each to the box it lies in (the nearest centre where it lies in several) or, outside every box, the
    /// nearest box (a vehicle moves between frames). Each part's box is that of its own pixels: measured, not
    /// inferred.
    private func splitByVehicles(_ c: Component) -> [Component] {
        guard apart.count >= 2, !dark, c.corePixels > 0 else { return [c] }
        let blob = Box(x: Double(c.coreMinX), y: Double(c.coreMinY), width: Double(c.coreMaxX - c.coreMinX + 1), height: Double(c.coreMaxY - c.coreMinY + 1))
        guard let held = blob.holdsApart(apart) else { return [c] }
        let inside = held.map { apart[$0] }
        var parts = inside.map { _ in Component(minX: Int.max, minY: Int.max, maxX: Int.min, maxY: Int.min, pixels: 0) }
        for y in c.coreMinY...c.coreMaxY {
            for x in c.coreMinX...c.coreMaxX {
                let level = core[y * width + x]
                guard level & 1 != 0 else { continue }
                let p = Point2(Double(x) + 0.5, Double(y) + 0.5)
                func gap(_ b: Box) -> Double {
                    let dx = max(b.x - p.x, 0, p.x - b.maxX), dy = max(b.y - p.y, 0, p.y - b.maxY)
                    return dx * dx + dy * dy
                }
                let k = inside.indices.min { (gap(inside[$0]), inside[$0].center.distance(to: p)) < (gap(inside[$1]), inside[$1].center.distance(to: p)) }!
                parts[k].pixels += 1
                parts[k].corePixels += 1
                parts[k].coreMinX = min(parts[k].coreMinX, x); parts[k].coreMaxX = max(parts[k].coreMaxX, x)
                parts[k].coreMinY = min(parts[k].coreMinY, y); parts[k].coreMaxY = max(parts[k].coreMaxY, y)
                guard level & 2 != 0 else { continue }
                parts[k].strongPixels += 1
                parts[k].strongMinX = min(parts[k].strongMinX, x); parts[k].strongMaxX = max(parts[k].strongMaxX, x)
                parts[k].strongMinY = min(parts[k].strongMinY, y); parts[k].strongMaxY = max(parts[k].strongMaxY, y)
            }
        }
        return parts.filter { $0.corePixels > 0 }.map { p in
            var p = p
            (p.minX, p.minY, p.maxX, p.maxY) = (p.coreMinX, p.coreMinY, p.coreMaxX, p.coreMaxY)
            return p
        }
    }

    /// The part of a component in these columns and rows: its opened core's box and counts (nil if it has none).
    private func part(of c: Component, columns: ClosedRange<Int>, rows: ClosedRange<Int>) -> Component? {
        var p = Component(minX: Int.max, minY: Int.max, maxX: Int.min, maxY: Int.min, pixels: 0)
        for y in rows {
            for x in columns {
                let level = core[y * width + x]
                if level & 1 != 0 { p.corePixels += 1 }
                guard level & 2 != 0 else { continue }
                p.minX = min(p.minX, x); p.maxX = max(p.maxX, x); p.minY = min(p.minY, y); p.maxY = max(p.maxY, y)
                p.strongPixels += 1
            }
        }
        guard p.strongPixels > 0 else { return nil }
        p.pixels = p.strongPixels
        (p.coreMinX, p.coreMinY, p.coreMaxX, p.coreMaxY) = (p.minX, p.minY, p.maxX, p.maxY)
        (p.strongMinX, p.strongMinY, p.strongMaxX, p.strongMaxY) = (p.minX, p.minY, p.maxX, p.maxY)
        return p
    }

    /// A ghost is road that the background took for something else: a vehicle that stood over it for most of the
    /// warm-up (the median keeps it) or long enough to be learnt, and has gone. It is foreground that does not move,
    /// and its outline is an edge of the background, not of the picture: across the blob's border the picture is
    /// the same road inside and out, where a vehicle standing at a red light differs from the road around it. Such a
    /// blob (standing: its pixels within 2 levels of the last frame on average; foreground for
    /// `ghostMinimumAgeSeconds` on average; across its border, two pixels out, the background's contrast at least the
    /// floor of levels on average and the picture's under half of it) is learnt into the background at once, and is
    /// no detection. On the day junction a dark van, far away and slow in
    /// the picture, covered one spot for most of the warm-up: the median there was 35 over a road of 110, and from
    /// frame 138 a box stood on the empty road for 4.6 s. By day only: after dark a vehicle's outline is glow, and one
    /// dark body on the dark road differs little from it (the night junction's motorcycle 14, absorbed, lost its
    /// red-light record).
    private func absorbedGhost(_ c: Component, _ image: GrayImage) -> Bool {
        let w = width
        guard !dark, previous.count == image.pixels.count, c.pixels >= options.minimumArea else { return false }
        let g = gain
        return image.pixels.withUnsafeBufferPointer { cur in
            /// The blob's pixels: foreground in its bounding box, in raster order.
            func eachPixel(_ body: (_ x: Int, _ y: Int, _ i: Int) -> Void) {
                for y in c.minY...c.maxY { for x in c.minX...c.maxX where mask[y * w + x] != 0 { body(x, y, y * w + x) } }
            }
            var change = 0, count = 0
            var age: Float = 0
            eachPixel { _, _, i in
                change += abs(Int(cur[i]) - Int(previous[i]))
                count += 1
                age += foregroundAge[i]
            }
            guard count > 0, change < 2 * count, age >= Float(options.ghostMinimumAgeSeconds) * Float(count) else { return false }
            var picture: Float = 0, learnt: Float = 0, pairs: Float = 0
            eachPixel { x, y, i in
                // Two pixels out: the shake test leaves the ring of a ghost's outline out of the mask, where the
                // background's edge lies.
                for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let nx = x + 2 * dx, ny = y + 2 * dy
                    guard nx >= 0, ny >= 0, nx < w, ny < height, mask[(y + dy) * w + x + dx] == 0 else { continue }
                    let j = ny * w + nx
                    picture += abs(Float(cur[i]) - Float(cur[j]))
                    learnt += g * abs(background[i] - background[j])
                    pairs += 1
                }
            }
            guard learnt >= Float(options.minimumDifference) * pairs, picture < 0.5 * learnt else { return false }
            eachPixel { _, _, i in
                background[i] = Float(cur[i]) / g
                foregroundAge[i] = 0
            }
            ghostsAbsorbed += 1
            return true
        }
    }

    /// A light pair's vehicle box is this many times as tall as wide. Without a calibration 1.1, the proportion of
    /// cars seen from behind or in front near the sample junction's camera. With it, that of a car 1.45 m tall and
    /// 1.8 m wide with 1 m of its roof seen, foreshortened by r, the ground's metres per pixel across over those along
    /// at the lamps (r = camera height / distance for a level road), at most 1.1: (1.45 + r) / 1.8. The true boxes of
    /// the night junction's cars fit 0.81 + 0.53 r, 0.86–0.89 beyond 35 m, where 1.1 made far pairs' boxes 1.47 times
    /// too tall (tracking IDF1 0.513 → 0.583 with this).
    private func heightPerWidth(at p: Point2) -> Double {
        guard let c = options.calibration, let across = c.groundDistance(p, Point2(p.x + 1, p.y)),
              let along = c.groundDistance(p, Point2(p.x, p.y + 1)), along > 0 else { return 1.1 }
        return min(1.1, (1.45 + across / along) / 1.8)
    }

    /// A light blob the size of a lamp: two of the picture's pixels or more, at most 12 analysis pixels either way.
    private func lampSized(_ c: Component) -> Bool {
        c.pixels * factor * factor >= 2 && c.width <= 12 && c.height <= 12
    }

    /// Vehicles seen only by their lights: pairs of small light blobs, level and alike (see `pairLights`), and
    /// headlamps bloomed into one blob (see `mergedPair`).
    private func lightPairs() -> [Detection] {
        let all = labeler.label(lights, width: width, height: height)
        // Lamp-sized as `lamps` (two analysis pixels until 2026-11-27: night IDF1 0.831 → 0.834,
        // junction-night-traffic 0.720 → 0.721).
        let lampLike = all.indices.filter { lampSized(all[$0]) }
        let blobs = lampLike.map { all[$0] }
        var used = Set<Int>()
        var pairs: [Detection] = []
        for i in blobs.indices where !used.contains(i) {
            let a = blobs[i]
            let ax = Double(a.minX + a.maxX) / 2, ay = Double(a.minY + a.maxY) / 2, asize = Double(max(a.width, a.height))
            var best: (index: Int, distance: Double, box: Box)?
            for j in blobs.indices where j != i && !used.contains(j) {
                let b = blobs[j]
                let bx = Double(b.minX + b.maxX) / 2, by = Double(b.minY + b.maxY) / 2, bsize = Double(max(b.width, b.height))
                let size = max(asize, bsize), dx = abs(bx - ax)
                guard abs(by - ay) <= max(1.5, 0.5 * size), dx >= 1.2 * size, dx <= 14 * size, max(asize, bsize) <= 2.5 * min(asize, bsize),
                      best == nil || dx < best!.distance else { continue }
                // Bloomed headlamps: their blobs' size is glow, not lamp, so the spacing alone gives the width.
                let w = dx < 2 * size ? 1.75 * dx : 1.5 * (dx + Double(max(a.width, b.width)))
                guard let box = pairBox(lamps: ax, bx, at: (ay + by) / 2, width: w) else { continue }
                best = (j, dx, box)
            }
            guard let partner = best else { continue }
            used.insert(i); used.insert(partner.index)
            pairs.append(Detection(box: partner.box, confidence: 0.5))
        }
        let paired = Set(used.map { lampLike[$0] })
        return pairs + all.indices.filter { !paired.contains($0) }.compactMap { mergedPair(all[$0]) }
    }

    /// A vehicle's two headlamps bloomed into one light blob (an oncoming car's, near or far): a blob at least
    /// `mergedPairMinimumWidth` of the picture's pixels wide and `mergedPairAspect` times as wide as tall, whose ends
    /// (a blob's height in from each side) lie a lamp spacing apart on the road, is a light pair whose vehicle is as
    /// wide as the blob: the glow beyond the lamps about makes up for their inset from the vehicle's sides. Measured
    /// on the night junction, blob against true width: 60 px for 61 at 40 m (car 15), 22–24 for 22–25 at 100 m (car
    /// 6), 13 for 12 at 160 m (car 18, in the detail region); such a blob was the whole vehicle's box, too flat by
    /// half, or no pair at all (night IDF1 0.797 → 0.833, junction-night-traffic 0.680 → 0.703; docs/accuracy.md).
    private func mergedPair(_ a: Component) -> Detection? {
        guard a.width * factor >= options.mergedPairMinimumWidth, Double(a.width) >= options.mergedPairAspect * Double(a.height) else { return nil }
        // Ends in pixel indices, as `lightPairs` places its lamps: a vehicle whose lamps part or bloom together from
        // frame to frame keeps its box where it was.
        let inset = Double(a.height) / 2
        return pairBox(lamps: Double(a.minX) + inset, Double(a.maxX) - inset, at: Double(a.minY + a.maxY) / 2, width: Double(a.width))
            .map { Detection(box: $0, confidence: 0.5) }
    }

    /// The vehicle box of a light pair whose lamps' centres are at columns `left` and `right` on row `y` (analysis
    /// pixels), `width` wide: centred between them, a vehicle's proportion there (`heightPerWidth`), the lamps 70 % of
    /// the way down; in full-resolution pixels. With the calibration, nil unless the lamps lie a lamp spacing apart on
    /// the road where the box meets it.
    private func pairBox(lamps left: Double, _ right: Double, at y: Double, width w: Double) -> Box? {
        let f = Double(factor), cx = (left + right) / 2
        let h = heightPerWidth(at: Point2(cx * f, y * f)) * w
        let box = Box(x: cx - w / 2, y: y - 0.7 * h, width: w, height: h).scaled(by: f)
        if let calibration = options.calibration {
            guard let spacing = calibration.groundDistance(Point2(left * f, box.maxY), Point2(right * f, box.maxY)),
                  options.lampSpacingM.contains(spacing) else { return nil }
        }
        return box
    }


    /// The background starts as the per-pixel median of the warm-up frames (the element at count/2 of each pixel's
    /// sorted values), found bit by bit from the top: a pixel's median is the largest value t for which at most
    /// count/2 of its values lie below t. Eight counting passes over the frames, each a loop over all pixels that
    /// vectorises, instead of a sort per pixel (which was 5 % of an 11 s clip's run).
    private func startBackground() {
        let n = width * height, k = UInt16(warmup.count / 2)
        var median = [UInt8](repeating: 0, count: n)
        var trial = [UInt8](repeating: 0, count: n)
        var below = [UInt16](repeating: 0, count: n)
        median.withUnsafeMutableBufferPointer { r in
        trial.withUnsafeMutableBufferPointer { t in
        below.withUnsafeMutableBufferPointer { count in
            for bit in (0..<8).reversed() {
                let step = UInt8(1 << bit)
                for i in 0..<n { t[i] = r[i] | step; count[i] = 0 }
                for frame in warmup {
                    frame.withUnsafeBufferPointer { f in
                        for i in 0..<n { count[i] &+= f[i] < t[i] ? 1 : 0 }
                    }
                }
                for i in 0..<n { r[i] = count[i] <= k ? t[i] : r[i] }
            }
        }
        }
        }
        for i in 0..<n { background[i] = Float(median[i]) }
        warmup = []
    }

    private func reset(_ image: GrayImage) {
        width = image.width
        height = image.height
        // Per-pixel state is padded to whole groups of eight so that classification runs in lanes to the end; the
        // padding is ignored (never foreground) and lies beyond every picture-sized loop.
        let n = width * height, padded = (n + 7) / 8 * 8
        background = image.pixels.map(Float.init) + [Float](repeating: 0, count: padded - n)
        variance = [Float](repeating: 25, count: padded)
        mask = [UInt8](repeating: 0, count: padded)
        foregroundAge = [Float](repeating: 0, count: padded)
        warmup = [image.pixels]
        core = mask
        scratch = mask
        opened = mask
        lights = mask
        lampPixels = mask
        previous = []
        heldMask = mask
        ignoreMask = [UInt8](repeating: 0, count: n) + [UInt8](repeating: 1, count: padded - n)
        fill(&ignoreMask, under: options.ignore, with: 1)
        framesSeen = 0
    }

    /// Foreground, core and light masks of one frame, and the background learnt from it. Three passes so that the
    /// two over every pixel have no branches and vectorise: candidates (differing from the background by more than
    /// the threshold); the shake test on the candidates only (a few percent of the picture); the masks and the
    /// background update.
    private func classify(_ image: GrayImage, dt: Double) {
        let w = width, h = height, n = w * h
        let alphaBackground = Float(1 - exp(-dt / options.backgroundTimeConstant))
        let alphaForeground = Float(1 - exp(-dt / options.foregroundTimeConstant))
        let k = Float(options.sigmas), minimum = Float(options.minimumDifference)
        let absorbAfter = Float(options.absorbAfterSeconds)
        let relative = Float(options.minimumRelativeDifference), lightSource = Float(options.lightSourceRatio)
        // Global gain from pixels that look like background: ratio of sums on a sparse grid.
        var sumImage: Float = 0, sumBackground: Float = 0
        image.pixels.withUnsafeBufferPointer { c in
            background.withUnsafeBufferPointer { b in
                var i = 0
                while i < n {
                    let d = Float(c[i]) - gain * b[i]
                    if abs(d) < 2 * minimum { sumImage += Float(c[i]); sumBackground += b[i] }
                    i += 7
                }
            }
        }
        if sumBackground > 0 { gain = max(0.3, min(3, sumImage / sumBackground)) }
        let g = gain
        backgroundLevel = Double(sumBackground) / Double(max(1, (n + 6) / 7))
        let level = judgedLevel ?? backgroundLevel
        let night: Bool, evening: Bool
        switch options.light {
        case .auto: (night, evening) = (level < options.darkScene, level < options.duskScene)
        case .day: (night, evening) = (false, false)
        case .dusk: (night, evening) = (false, true)
        case .night: (night, evening) = (true, true)
        }
        let glow = options.suppressGlow && night
        dark = glow
        dusk = !glow && evening
        let step = Float(dt)
        image.pixels.withUnsafeBufferPointer { cBuffer in
        background.withUnsafeMutableBufferPointer { bBuffer in
        variance.withUnsafeMutableBufferPointer { vBuffer in
        mask.withUnsafeMutableBufferPointer { mBuffer in
        lights.withUnsafeMutableBufferPointer { lBuffer in
        lampPixels.withUnsafeMutableBufferPointer { lampBuffer in
        core.withUnsafeMutableBufferPointer { coreBuffer in
        foregroundAge.withUnsafeMutableBufferPointer { ageBuffer in
        heldMask.withUnsafeBufferPointer { heldBuffer in
        ignoreMask.withUnsafeBufferPointer { ignoredBuffer in
            let c = cBuffer.baseAddress!, b = bBuffer.baseAddress!, v = vBuffer.baseAddress!, m = mBuffer.baseAddress!
            let lightMask = lBuffer.baseAddress!, lampMask = lampBuffer.baseAddress!, coreMask = coreBuffer.baseAddress!, age = ageBuffer.baseAddress!
            let ignored = ignoredBuffer.baseAddress!, heldPixels = heldBuffer.baseAddress!
            @inline(__always) func threshold(_ i: Int, _ bg: Float) -> Float {
                max(k * v[i].squareRoot(), min(minimum, max(6, relative * bg)))
            }
            // The picture's last pixels when its size is not a whole number of lanes, zero-padded to one lane.
            let vectorEnd = n - n % 8
            var tail = SIMD8<UInt8>()
            for j in 0..<(n - vectorEnd) { tail[j] = c[vectorEnd + j] }
            @inline(__always) func pixels(_ i: Int) -> SIMD8<Float> {
                i < vectorEnd ? Self.floats(c + i) : SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: tail))
            }
            // 1. Candidates, eight pixels at a time (the state arrays are padded to whole lanes).
            let k2V = SIMD8<Float>(repeating: k * k), gV = SIMD8<Float>(repeating: g), minimumV = SIMD8<Float>(repeating: minimum)
            let relativeV = SIMD8<Float>(repeating: relative), six = SIMD8<Float>(repeating: 6)
            var i = 0
            while i < n {
                let cur = pixels(i), bg = gV * Self.load(b + i)
                let d = cur - bg
                // |d| > max(k·σ, floor) as |d| > floor and d² > k²·σ²: no square root per pixel.
                let floor = Self.minimum(minimumV, Self.maximum(six, relativeV * bg))
                let differs = Self.bytes((d.replacing(with: -d, where: d .< 0) .> floor) .& (d * d .> k2V * Self.load(v + i)))
                let free = UnsafeRawPointer(ignored + i).loadUnaligned(as: SIMD8<UInt8>.self) &- 1  // 0 → 255, 1 → 0
                UnsafeMutableRawPointer(m + i).storeBytes(of: differs & free, as: SIMD8<UInt8>.self)
                i += 8
            }
            // 2. Small camera shake moves edges by a pixel: a candidate that matches any background pixel next to it
            // is not a vehicle. By day, inside a blob (its four neighbours candidates too) the shift must explain the
            // pixel across as well: the one on the other side must match this pixel's background; and the match must
            // be nearer than `shakeMatchShare` of the pixel's difference from its own background. A pale vehicle over
            // a lane line matches the line's background beside it, and the one-sided test cut its body along every
            // line it crossed: the motorway sample's far truck, 134 over a road of 113, kept none of its back panel
            // where the dashes were, was lost from tracking and learnt into the road (highway IDF1 0.635 → 0.673 with
            // this, day 0.900 → 0.904, shake 0.753 → 0.764, dusk and dense −0.007 and −0.013 over the picture but
            // +0.035 and +0.004 in the lanes; docs/accuracy.md). A shaken edge is a line a pixel or two wide, no
            // interior. Applied everywhere, to the edges' pixels too, static edges' compression noise became
            // foreground (day 0.854). Not after dark, where glow fills blobs (night 0.834 → 0.805). Rejected candidates
            // are marked 1, not cleared, so that the neighbours' test sees the candidates as they were; the third pass
            // clears them. Eight mask bytes at a time, so the empty stretches cost little.
            let interiorTest = !glow, matchShare = Float(options.shakeMatchShare)
            for y in 0..<h {
                let row = y * w
                var x = 0
                while x < w {
                    if x + 8 <= w && UnsafeRawPointer(m + row + x).loadUnaligned(as: UInt64.self) == 0 { x += 8; continue }
                    let i = row + x
                    if m[i] != 0 {
                        let cur = Float(c[i]), own = g * b[i], limit = threshold(i, own)
                        search: for ny in max(0, y - 1)...min(h - 1, y + 1) {
                            for nx in max(0, x - 1)...min(w - 1, x + 1) {
                                let match = abs(cur - g * b[ny * w + nx])
                                guard match <= limit else { continue }
                                if interiorTest && x > 0 && y > 0 && x < w - 1 && y < h - 1
                                    && m[i - 1] != 0 && m[i + 1] != 0 && m[i - w] != 0 && m[i + w] != 0 {
                                    let across = (2 * y - ny) * w + 2 * x - nx  // on the other side, inside the picture
                                    if abs(Float(c[across]) - own) > limit || match > matchShare * abs(cur - own) { continue }
                                }
                                m[i] = 1
                                break search
                            }
                        }
                    }
                    x += 1
                }
            }
            // 3. Masks and learning, eight pixels at a time.
            let one = SIMD8<Float>(repeating: 1), bright = SIMD8<Float>(repeating: 225)
            let lightMinimumV = SIMD8<Float>(repeating: Float(options.lightSourceMinimum))
            let lightSourceV = SIMD8<Float>(repeating: lightSource), lampV = SIMD8<Float>(repeating: Float(options.lampRatio)), stepV = SIMD8<Float>(repeating: step)
            let absorbV = SIMD8<Float>(repeating: absorbAfter), floorV = SIMD8<Float>(repeating: 4)
            let alphaBV = SIMD8<Float>(repeating: alphaBackground), alphaFV = SIMD8<Float>(repeating: alphaForeground)
            let absorbing = SIMD8<Float>(repeating: 0.2), zero = SIMD8<Float>()
            let winsor = Float(options.varianceClip * options.varianceClip), winsorV = SIMD8<Float>(repeating: winsor)
            let shadowFloorV = SIMD8<Float>(repeating: Float(options.shadowBackground))
            // By day no pixel is glow, light or lamp: the loop is made three times, the day's without those, the
            // dusk's with lamps only (the light mask is read only after dark, the lamp mask after dark and at dusk).
            let inverseGain = SIMD8<Float>(repeating: 1 / g)
            @inline(__always) func learn(night: Bool, lamps: Bool) {
                let glowV = SIMDMask<SIMD8<Int32>>(repeating: night)
                var i = 0
                while i < n {
                    // As floats: the integer lane compare is not vectorised. 1 is a candidate the shake test rejected.
                    let foreground = Self.floats(UnsafePointer(m + i)) .> one
                    UnsafeMutableRawPointer(m + i).storeBytes(of: Self.bytes(foreground), as: SIMD8<UInt8>.self)
                    let cur = pixels(i), b0 = Self.load(b + i), bg = gV * b0
                    let d = cur - bg
                    // The shadow's ratio (cur + 1) / (bg + 1) as products: a division costs as much as the rest.
                    let lit = cur + one, lighting = bg + one
                    let shadow = (bg .>= shadowFloorV) .& (d .< zero) .& (lit .>= 0.45 * lighting) .& (lit .<= 0.78 * lighting)
                    var core = foreground .& .!shadow
                    if night {
                        let ratio = lit / lighting
                        let brighter = d .> zero
                        let light = foreground .& brighter .& ((cur .>= bright) .| ((ratio .>= lightSourceV) .& (cur .>= lightMinimumV)))
                        let glowing = brighter .& (cur .< bright) .& ((ratio .< lightSourceV) .| (cur .< lightMinimumV))
                        UnsafeMutableRawPointer(lightMask + i).storeBytes(of: Self.bytes(light), as: SIMD8<UInt8>.self)
                        core = core .& .!glowing
                    }
                    if lamps {
                        let lamp = foreground .& (d .> zero) .& ((cur .>= bright) .| (lit / lighting .>= lampV))
                        UnsafeMutableRawPointer(lampMask + i).storeBytes(of: Self.bytes(lamp), as: SIMD8<UInt8>.self)
                    }
                    UnsafeMutableRawPointer(coreMask + i).storeBytes(of: Self.bytes(core), as: SIMD8<UInt8>.self)
                    let a = (Self.load(age + i) + stepV).replacing(with: zero, where: .!foreground)
                    Self.store(a, age + i)
                    let held = Self.floats(heldPixels + i) .> zero .& .!glowV
                    let alpha = alphaBV.replacing(with: alphaFV, where: held).replacing(with: alphaFV.replacing(with: absorbing, where: a .> absorbV), where: foreground)
                    Self.store(b0 + alpha * (cur * inverseGain - b0), b + i)
                    let v0 = Self.load(v + i)
                    let sample: SIMD8<Float>
                    if night {
                        let darker = d.replacing(with: zero, where: d .> zero)
                        sample = 2 * darker * darker
                    } else {
                        sample = d * d
                    }
                    Self.store(Self.maximum(floorV, v0 + alpha * (Self.minimum(sample, winsorV * v0) - v0)).replacing(with: v0, where: foreground), v + i)
                    i += 8
                }
            }
            if glow { learn(night: true, lamps: true) } else if dusk { learn(night: false, lamps: true) } else { learn(night: false, lamps: false) }
        }
        }
        }
        }
        }
        }
        }
        }
        }
        }
    }

    @inline(__always) private static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) private static func store(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
    }
    /// Eight bytes as floats.
    @inline(__always) private static func floats(_ p: UnsafePointer<UInt8>) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt8>.self)))
    }
    /// Lane-wise max and min as Swift's max and min (not the stdlib's pointwise ones, which are not inlined).
    @inline(__always) private static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
    @inline(__always) private static func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
    /// A lane mask as 0/255 bytes.
    @inline(__always) private static func bytes(_ mask: SIMDMask<SIMD8<Int32>>) -> SIMD8<UInt8> {
        SIMD8<UInt8>(truncatingIfNeeded: SIMD8<Int32>().replacing(with: 255, where: mask))
    }

    /// Opening (3×3) removes speckle; closing (5×5) joins the parts of one vehicle. The core is opened too, so
    /// thin streaks along a shadow's edge do not stretch a box.
    private func morphology() {
        morph(&mask, maximum: false); morph(&mask, maximum: true)
        morph(&mask, maximum: true); morph(&mask, maximum: true); morph(&mask, maximum: false); morph(&mask, maximum: false)
        opened = core
        morph(&opened, maximum: false); morph(&opened, maximum: true)
        // Core levels: bit 1 core, bit 2 opened core (masks are 0/255). Through pointers so that it vectorises.
        core.withUnsafeMutableBufferPointer { c in
            opened.withUnsafeBufferPointer { o in
                let cp = c.baseAddress!, op = o.baseAddress!
                for i in 0..<c.count { cp[i] = (cp[i] & 1) | (op[i] & 2) }
            }
        }
    }

    /// 3×3 dilation (OR) or erosion (AND) of a 0/255 mask, separable, edges replicated. Each pass runs over the
    /// whole picture as one flat loop, which vectorises to the end, and then mends the pixels at the picture's edges:
    /// run row by row, each row's last width % 32 bytes went one at a time, half of the morphology's cost (`perf`).
    private func morph(_ image: inout [UInt8], maximum: Bool) {
        let w = width, h = height, n = w * h
        guard w >= 3, h >= 3 else { return }
        @inline(__always) func combine(_ a: UInt8, _ b: UInt8) -> UInt8 { maximum ? a | b : a & b }
        image.withUnsafeMutableBufferPointer { m in
            scratch.withUnsafeMutableBufferPointer { s in
                let src = m.baseAddress!, tmp = s.baseAddress!
                // Across: each pixel with its left and right neighbours; a row's first and last pixel with the one
                // neighbour it has (the flat pass joined them to the row beside).
                Self.combine(tmp + 1, src, src + 1, src + 2, count: n - 2, maximum: maximum)
                for row in stride(from: 0, to: n, by: w) {
                    tmp[row] = combine(src[row], src[row + 1])
                    tmp[row + w - 1] = combine(src[row + w - 2], src[row + w - 1])
                }
                // Down: each pixel with the ones above and below; the top and bottom rows with their one neighbour row.
                Self.combine(src + w, tmp, tmp + w, tmp + 2 * w, count: n - 2 * w, maximum: maximum)
                for x in 0..<w {
                    src[x] = combine(tmp[x], tmp[x + w])
                    src[n - w + x] = combine(tmp[n - 2 * w + x], tmp[n - w + x])
                }
            }
        }
    }

    /// out[i] = a[i] | b[i] | c[i] (or &) for i in 0..<count, sixteen bytes at a time; `out` must not overlap the inputs.
    private static func combine(_ out: UnsafeMutablePointer<UInt8>, _ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>,
                                _ c: UnsafePointer<UInt8>, count: Int, maximum: Bool) {
        @inline(__always) func load(_ p: UnsafePointer<UInt8>, _ i: Int) -> SIMD16<UInt8> {
            UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt8>.self)
        }
        var i = 0
        if maximum {
            while i + 16 <= count {
                UnsafeMutableRawPointer(out + i).storeBytes(of: load(a, i) | load(b, i) | load(c, i), as: SIMD16<UInt8>.self)
                i += 16
            }
            while i < count { out[i] = a[i] | b[i] | c[i]; i += 1 }
        } else {
            while i + 16 <= count {
                UnsafeMutableRawPointer(out + i).storeBytes(of: load(a, i) & load(b, i) & load(c, i), as: SIMD16<UInt8>.self)
                i += 16
            }
            while i < count { out[i] = a[i] & b[i] & c[i]; i += 1 }
        }
    }
}

/// A detector that the tracker tells, after each frame, where its vehicles are (`MotionDetector.hold(_:apart:)`).
public protocol FollowsTracks: AnyObject {
    func hold(_ boxes: [Box], apart vehicles: [Box])
}

/// The motion detector for recorded footage, which can be read ahead: it holds the first `warmupSeconds` of frames
/// (at the analysis scale), starts the background from them, then detects in those same frames before going on, so
/// a vehicle that passes in the first seconds of a file is not missed (a live detector must wait them out).
/// Detections come out in frame order, a warm-up's worth late.
///
/// With `MotionDetectorOptions.detailRegion`, a second detector analyses that region unshrunk (its ignored regions and
/// calibration moved to the region's corner), and its boxes replace the whole picture's there (`merged`). By day its
/// smallest blob is the whole picture's times the shrink factor f in its own pixels, a blob of 1/f the size in the
/// picture: at f² (the same size) vehicles beyond 140 m, 4–7 px wide, stayed weak and started no track (day junction
/// IDF1 0.743; 0.791 at f, 0.771 at 1.5 f). After dark it is f² (night 0.513 at f², 0.495 at f: glare and beams).
/// Its shake test still looks one pixel around, half the whole picture's reach: at two, small far vehicles lost their
/// edges (day IDF1 0.740 → 0.695) and the shaking scene did no better (0.587 → 0.568).
public final class LookaheadDetector: FollowsTracks {
    public let detector: MotionDetector
    /// Called after each frame's detection with the detector in that frame's state (for its mask pictures).
    public var inspect: ((FrameTime, MotionDetector) -> Void)?
    private var pending: [(image: GrayImage, detail: GrayImage?, time: FrameTime)] = []
    private var primed = false
    /// The detail region's detector and the region in whole pixels, made at the first frame (when the whole
    /// picture's analysis scale is known); nil without a region, or where it lies outside the picture.
    private(set) var detail: (detector: MotionDetector, x: Int, y: Int, width: Int, height: Int)?
    private var started = false

    public init(options: MotionDetectorOptions) {
        detector = MotionDetector(options: options)
    }

    /// Takes one frame and hands `deliver` the detections of every frame now ready, in order (none during the
    /// warm-up). Each is handed over before the next is detected, so the tracker's `hold(_:apart:)` from one frame
    /// reaches the next, in the frames held through the warm-up as in the rest.
    public func push(_ frame: VideoFrame, deliver: (FrameDetections) -> Void) {
        let time = FrameTime(index: frame.index, pts: frame.pts)
        let image = detector.analysisImage(frame)
        if !started {
            started = true
            detail = detector.options.detailRegion.flatMap { makeDetail($0, width: frame.width, height: frame.height) }
        }
        let crop = detail.flatMap { d -> GrayImage? in
            // A picture that shrank mid-file (damaged footage) may not hold the region: there the whole picture alone.
            guard d.x + d.width <= frame.width, d.y + d.height <= frame.height else { return nil }
            return frame.withLuma { GrayImage(cropping: $0, x: d.x, y: d.y, width: d.width, height: d.height) }
        }
        if primed { return deliver(detect(image, crop, time)) }
        pending.append((image, crop, time))
        guard let first = pending.first, frame.pts - first.time.pts >= detector.options.warmupSeconds else { return }
        release(deliver)
    }

    /// Hands over the detections still held (a file shorter than the warm-up).
    public func finish(deliver: (FrameDetections) -> Void) {
        if !primed { release(deliver) }
    }

    public func hold(_ boxes: [Box], apart vehicles: [Box]) {
        detector.hold(boxes, apart: vehicles)
        guard let d = detail else { return }
        let dx = -Double(d.x), dy = -Double(d.y)
        d.detector.hold(boxes.map { $0.offsetBy(dx: dx, dy: dy) }, apart: vehicles.map { $0.offsetBy(dx: dx, dy: dy) })
    }

    private func makeDetail(_ region: Box, width: Int, height: Int) -> (detector: MotionDetector, x: Int, y: Int, width: Int, height: Int)? {
        let f = detector.factor
        let x0 = max(0, Int(region.x)), y0 = max(0, Int(region.y))
        let x1 = min(width, Int(region.maxX.rounded(.up))), y1 = min(height, Int(region.maxY.rounded(.up)))
        guard f > 1, x1 - x0 >= 16, y1 - y0 >= 16 else { return nil }
        var options = detector.options
        options.detailRegion = nil
        options.minimumArea *= f
        options.weakArea *= f
        options.darkAreaFactor = f
        let dx = Double(x0), dy = Double(y0)
        options.ignore = options.ignore.map { $0.offsetBy(dx: -dx, dy: -dy) }
        options.calibration = options.calibration.flatMap { c in
            try? Calibration(points: c.points.map { CalibrationPoint(image: Point2($0.image.x - dx, $0.image.y - dy), world: $0.world) })
        }
        return (MotionDetector(options: options), x0, y0, x1 - x0, y1 - y0)
    }

    private func detect(_ image: GrayImage, _ crop: GrayImage?, _ time: FrameTime) -> FrameDetections {
        let found = detector.detect(image, time: time)
        inspect?(time, detector)
        guard let d = detail, let crop else { return found }
        d.detector.judgedLevel = detector.backgroundLevel
        return Self.merged(found, d.detector.detect(crop, time: time), region: Box(x: Double(d.x), y: Double(d.y), width: Double(d.width), height: Double(d.height)))
    }

    /// The whole picture's detections with those of the detail region (in the region's own coordinates): a region box
    /// clear of the region's edge by 2 px replaces the whole picture's boxes that overlap it by half of the smaller
    /// box; region boxes at the edge (a vehicle partly outside) are left to the whole picture. So is a vehicle whose
    /// whole-picture box reaches across the edge: the region sees only its part inside, which may lie clear of the
    /// edge (a motorcycle's rider above its shadowed wheels, on the highway sample at the region's lower edge: the box
    /// shrank to the rider for the 6 frames of the crossing, and the unsteady bottom edge lost its speed record).
    /// Lamps: the region's inside its edge, the whole picture's elsewhere.
    static func merged(_ whole: FrameDetections, _ detail: FrameDetections, region: Box) -> FrameDetections {
        let inner = Box(x: region.x + 2, y: region.y + 2, width: region.width - 4, height: region.height - 4)
        func global(_ b: Box) -> Box { b.offsetBy(dx: region.x, dy: region.y) }
        func inside(_ b: Box) -> Bool { inner.contains(Point2(b.x, b.y)) && inner.contains(Point2(b.maxX, b.maxY)) }
        func overlap(_ a: Box, _ b: Box) -> Bool { (a.intersection(b)?.area ?? 0) >= 0.5 * min(a.area, b.area) }
        let across = whole.detections.filter { $0.box.intersection(region) != nil && !inside($0.box) }
        let kept = detail.detections.map { Detection(box: global($0.box), confidence: $0.confidence) }
            .filter { k in inside(k.box) && !across.contains { overlap(k.box, $0.box) } }
        var found = whole
        found.detections.removeAll { c in kept.contains { overlap($0.box, c.box) } }
        found.detections += kept
        found.lamps = whole.lamps.filter { !inner.contains($0.center) } + detail.lamps.map(global).filter { inner.contains($0.center) }
        return found
    }

    private func release(_ deliver: (FrameDetections) -> Void) {
        guard !pending.isEmpty else { return }
        detector.prime(with: pending.map(\.image))
        if let d = detail { d.detector.prime(with: pending.compactMap(\.detail)) }
        primed = true
        let held = pending
        pending = []
        for frame in held { deliver(detect(frame.image, frame.detail, frame.time)) }
    }
}
