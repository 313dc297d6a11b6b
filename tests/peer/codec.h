/* codec.h — the test peer's media, independent of any network: a synthetic
 * source (a moving test pattern and a sine tone) encoded once at start with
 * libvpx (VP8) and libopus into frames that are replayed as RTP packets, and
 * a receiver that reassembles VP8 (RFC 7741 payload descriptor) and decodes
 * VP8 and Opus, counting what a person would notice: decoded frames, frame
 * size, corrupt frames, freezes, loss, audio level.
 *
 * Packets may carry a stamp in their RTP padding (P bit; the last 13 bytes
 * of the packet: 8-byte send time in microseconds, 4-byte stamp sequence,
 * then the padding count 13), which decoders ignore and SFUs forward, so
 * that a receiver measures one-way delay and loss exactly. Used by the test
 * peer and the benchmark's load client.
 *
 * Threads: every object is single-threaded; no globals. */
#ifndef KM_PEER_CODEC_H
#define KM_PEER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KM_PEER_STAMP_LEN 13
#define KM_PEER_MAX_RTP 1200 /* packets made here are at most this long */

/* ---- sending ---- */

typedef struct {
	int width, height;      /* video size, e.g. 320x240 (even numbers) */
	int fps;                /* e.g. 30 */
	int video_kbps;         /* target bitrate, e.g. 800 */
	int seconds;            /* length of the pre-encoded loop, e.g. 4 */
	int keyframe_interval;  /* frames between keyframes in the loop, e.g. 60 */
} km_peer_src_config_t;

typedef struct km_peer_src km_peer_src_t;

/* Encodes the loop (VP8) and 1 s of a 440 Hz tone (Opus, 20 ms, 48 kHz
 * mono) once. Returns 0 or a negative code; *out is new, free with
 * km_peer_src_free. */
int km_peer_src_new(const km_peer_src_config_t *cfg, km_peer_src_t **out);
void km_peer_src_free(km_peer_src_t *s);

/* One outgoing RTP stream's header state (the caller picks ssrc and pt). */
typedef struct {
	uint32_t ssrc;
	uint8_t pt;
	uint16_t seq;   /* next sequence number */
	uint32_t ts;    /* timestamp of the next frame */
	uint32_t stamp_seq;
	bool stamp;     /* add a stamp to every packet */
} km_peer_stream_t;

/* Called for each RTP packet made (p borrowed for the call). */
typedef void (*km_peer_emit_fn)(void *ud, const uint8_t *p, size_t len);

/* Emits the RTP packets of the next video frame (VP8 payload descriptor,
 * marker on the last packet, ts advancing by 90000/fps) and returns how
 * many. now_us stamps them. */
int km_peer_src_video_frame(km_peer_src_t *s, km_peer_stream_t *st, int64_t now_us,
			    km_peer_emit_fn emit, void *ud);
/* The same for the next 20 ms of audio (one packet, ts += 960). */
int km_peer_src_audio_frame(km_peer_src_t *s, km_peer_stream_t *st, int64_t now_us,
			    km_peer_emit_fn emit, void *ud);
/* A keyframe was asked for (PLI/FIR): the next video frame is a keyframe. */
void km_peer_src_request_keyframe(km_peer_src_t *s);

/* ---- receiving ---- */

typedef enum { KM_PEER_AUDIO, KM_PEER_VIDEO } km_peer_kind_t;

typedef struct {
	uint64_t packets;         /* RTP packets accepted (duplicates not counted) */
	uint64_t duplicates;
	uint64_t lost;            /* sequence numbers never received (so far, final at the end) */
	uint64_t frames_decoded;  /* video frames or audio packets decoded */
	uint64_t frames_corrupt;  /* decoder errors or frames decoded with corruption */
	uint64_t frames_dropped;  /* incomplete video frames given up */
	int width, height;        /* of the last decoded video frame */
	int64_t max_freeze_ms;    /* longest gap between decoded frames after the first */
	double audio_level;       /* RMS of the last decoded audio, 0..1 */
	uint64_t stamped;         /* packets with a stamp */
	int64_t delay_us_p50, delay_us_p99, delay_us_max; /* now_us - stamp (same clock) */
} km_peer_rx_stats_t;

typedef struct km_peer_rx km_peer_rx_t;

/* A receiver for one incoming stream of kind (VP8 or Opus; the payload
 * type is not checked). Returns 0 or a negative code. */
int km_peer_rx_new(km_peer_kind_t kind, km_peer_rx_t **out);
void km_peer_rx_free(km_peer_rx_t *r);

/* Feeds one plaintext RTP packet received at now_us (any order, duplicates
 * allowed). Decodes every frame that became complete, in order. Returns 0,
 * or a negative code for a packet that is not RTP (ignored). */
int km_peer_rx_packet(km_peer_rx_t *r, const uint8_t *p, size_t len, int64_t now_us);

/* Call about every 10 ms: gives up on video frames that stayed incomplete
 * longer than 500 ms (counted as dropped; a keyframe is then needed). */
void km_peer_rx_tick(km_peer_rx_t *r, int64_t now_us);

/* Sequence numbers missing now (newer ones first excluded: only gaps below
 * the newest received), at most cap, for a NACK; each is returned at most
 * 3 times, 100 ms apart. Returns how many were written. */
size_t km_peer_rx_nack_list(km_peer_rx_t *r, int64_t now_us, uint16_t *seqs, size_t cap);

/* True once after the receiver found it needs a keyframe (start, or a frame
 * given up); the caller sends a PLI. */
bool km_peer_rx_need_keyframe(km_peer_rx_t *r);

/* The SSRC seen (0 before the first packet). */
uint32_t km_peer_rx_ssrc(const km_peer_rx_t *r);

void km_peer_rx_stats(const km_peer_rx_t *r, km_peer_rx_stats_t *out);

#endif
