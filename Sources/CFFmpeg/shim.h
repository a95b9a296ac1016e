#ifndef ROADWATCH_CFFMPEG_SHIM_H
#define ROADWATCH_CFFMPEG_SHIM_H

// The part of FFmpeg's C API that Roadwatch uses, plus small inline helpers for
// what Swift cannot import: function-like macros (AVERROR), macro constants
// built from expressions (AVERROR_EOF, AV_NOPTS_VALUE) and fields whose name or
// meaning changed between FFmpeg releases (the key-frame flag).
// Only the VideoIO module imports this.

#include <errno.h>
#include <stdint.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/cpu.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline int rw_averror(int posix_errno) { return AVERROR(posix_errno); }
static inline int rw_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int rw_averror_eof(void) { return AVERROR_EOF; }
static inline int rw_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int rw_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int rw_averror_encoder_not_found(void) { return AVERROR_ENCODER_NOT_FOUND; }
static inline int rw_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int64_t rw_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int rw_time_base_q_den(void) { return AV_TIME_BASE; }

/// The key-frame flag: a field up to FFmpeg 6.0, a bit in `flags` after it.
static inline int rw_frame_is_key(const AVFrame *frame) {
#if defined(AV_FRAME_FLAG_KEY)
    return (frame->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return frame->key_frame != 0;
#endif
}

/// Whether the decoder marked the frame as damaged.
static inline int rw_frame_is_corrupt(const AVFrame *frame) {
    return (frame->flags & AV_FRAME_FLAG_CORRUPT) != 0 || frame->decode_error_flags != 0;
}

/// The stream's total frame count from the container, or 0 when unknown.
static inline int64_t rw_stream_frame_count(const AVStream *stream) {
    return stream->nb_frames;
}

/// FFmpeg's text for an error code, into a caller's buffer.
static inline void rw_error_string(int code, char *buffer, size_t size) {
    if (av_strerror(code, buffer, size) < 0) {
        snprintf(buffer, size, "FFmpeg error %d", code);
    }
}

/// Damage reported through FFmpeg's log for one input. FFmpeg reports most bitstream errors
/// only as log lines (the packet is then dropped or concealed), so Roadwatch counts them per
/// input: a decoder context's `opaque` points at this (marked by `magic`) for lines from decoder
/// threads, and the reading thread names it while it demuxes (see FFmpegLog in VideoIO).
typedef struct rw_log_counters {
    unsigned int magic;
    int errors;
    int warnings;
    int lock;
    char last_error[200];
} rw_log_counters;

#define RW_LOG_COUNTERS_MAGIC 0x52574c47u

/// Counts one log line at `level` (error or warning) and keeps it as the last error.
static inline void rw_log_counters_add(rw_log_counters *counters, int level, const char *line) {
    if (level <= AV_LOG_ERROR) {
        __atomic_fetch_add(&counters->errors, 1, __ATOMIC_RELAXED);
        if (!__atomic_exchange_n(&counters->lock, 1, __ATOMIC_ACQUIRE)) {
            snprintf(counters->last_error, sizeof counters->last_error, "%s", line);
            __atomic_store_n(&counters->lock, 0, __ATOMIC_RELEASE);
        }
    } else {
        __atomic_fetch_add(&counters->warnings, 1, __ATOMIC_RELAXED);
    }
}

/// The counters a codec context's `opaque` points at, if Roadwatch set them.
static inline rw_log_counters *rw_log_counters_of(void *avcl) {
    if (avcl == NULL) return NULL;
    const AVClass *cls = *(const AVClass **)avcl;
    if (cls == NULL || cls->class_name == NULL || strcmp(cls->class_name, "AVCodecContext") != 0) return NULL;
    rw_log_counters *counters = (rw_log_counters *)((AVCodecContext *)avcl)->opaque;
    return counters != NULL && counters->magic == RW_LOG_COUNTERS_MAGIC ? counters : NULL;
}

/// Defined in Swift (VideoIO, `@_cdecl`): receives every formatted FFmpeg log line.
void rw_log_sink(void *avcl, int level, const char *line);

/// FFmpeg's log callback: formats the line (va_list cannot cross into Swift) and hands it on.
static inline void rw_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > av_log_get_level()) return;
    char line[256];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) line[--n] = 0;
    rw_log_sink(avcl, level, line);
}

static inline void rw_install_log_callback(int level) {
    av_log_set_level(level);
    av_log_set_callback(rw_log_callback);
}

static inline void rw_log_counters_init(rw_log_counters *counters) {
    memset(counters, 0, sizeof *counters);
    counters->magic = RW_LOG_COUNTERS_MAGIC;
}

/// Copies the counters out; safe while decoder threads may still log.
static inline void rw_log_counters_read(rw_log_counters *counters, int *errors, int *warnings, char *last, size_t size) {
    *errors = __atomic_load_n(&counters->errors, __ATOMIC_RELAXED);
    *warnings = __atomic_load_n(&counters->warnings, __ATOMIC_RELAXED);
    while (__atomic_exchange_n(&counters->lock, 1, __ATOMIC_ACQUIRE)) { }
    snprintf(last, size, "%s", counters->last_error);
    __atomic_store_n(&counters->lock, 0, __ATOMIC_RELEASE);
}

#endif
