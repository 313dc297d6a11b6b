/* simulcast.h — the pure parts of simulcast forwarding: reading the VP8 RTP
 * payload descriptor (RFC 7741) to find where a key frame starts (and how
 * wide it is), keeping a subscriber's VP8 picture numbering continuous
 * across layer switches, and choosing which layer of a simulcast track a
 * subscriber receives from the layers' measured bitrates and the
 * subscriber's bandwidth estimate, with hysteresis and probing, switched
 * on a key frame.
 * It does not parse RTP headers (rtp.h), rewrite RTP headers (rewrite.h)
 * or request key frames (the SFU's worker does, sfu_path.c).
 * A pure leaf: includes nothing of the project, does no I/O, no allocation,
 * no logging and keeps no globals; every function is safe from any thread
 * (km_simulcast_sel_t and km_simulcast_vp8_map_t are per-subscriber state
 * owned by their caller). */
#ifndef KM_SIMULCAST_H
#define KM_SIMULCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM_SIMULCAST_OK = 0,
	KM_SIMULCAST_ETRUNC = -1, /* the descriptor runs past the payload */
	KM_SIMULCAST_EEMPTY = -2, /* nothing after the descriptor */
	KM_SIMULCAST_EINVAL = -3, /* bad argument */
};

/* What one VP8 RTP payload's descriptor says (RFC 7741 4.2), and for the
 * first packet of a key frame what its frame header says (RFC 6386 9.1). */
typedef struct {
	size_t desc_len;        /* descriptor bytes: the VP8 payload starts here */
	bool start;             /* S bit set and partition index 0: a frame starts here */
	bool non_ref;           /* N bit */
	uint8_t pid;            /* partition index, 0..7 */
	bool has_picture_id;    /* I bit */
	uint8_t picture_id_len; /* 1 (7 bits) or 2 (15 bits, M bit) */
	uint16_t picture_id;
	bool has_tl0picidx;     /* L bit */
	uint8_t tl0picidx;
	bool has_tid;           /* T bit */
	uint8_t tid;            /* 0..3 */
	bool layer_sync;        /* Y bit (with T) */
	bool has_keyidx;        /* K bit */
	uint8_t keyidx;         /* 0..31 */
	bool keyframe;          /* start, and the frame header's P bit is 0 with the key frame start code */
	uint16_t width, height; /* of a key frame (14 bits each); 0 otherwise */
} km_simulcast_vp8_t;

/* Parses the VP8 payload descriptor at the start of p[0..len) (the RTP
 * payload, after the RTP header and extensions, without padding; borrowed)
 * into *out, and when it starts partition 0 of a frame, the frame tag
 * behind it. Every optional field is bounds-checked. A key frame needs the
 * 10 bytes of its frame tag, start code (9d 01 2a) and size: shorter, or
 * with another start code, it is not taken for one. Returns 0,
 * KM_SIMULCAST_ETRUNC when the descriptor runs past len,
 * KM_SIMULCAST_EEMPTY when no payload byte follows it, or
 * KM_SIMULCAST_EINVAL (NULL). *out is zeroed first. */
int km_simulcast_vp8_parse(const uint8_t *p, size_t len, km_simulcast_vp8_t *out);

/* 1 if p[0..len) (a VP8 RTP payload, borrowed) is the first packet of a key
 * frame, else 0 (malformed payloads too). */
int km_simulcast_vp8_keyframe(const uint8_t *p, size_t len);

/* One subscriber's continuity of the VP8 picture numbering across layer
 * switches: each layer's encoder counts its own PictureID, TL0PICIDX and
 * KEYIDX, and a receiver that sees them jump at a switch may hold frames
 * back for seconds waiting for pictures that never come. */
typedef struct {
	bool started;              /* a picture went out */
	int src;                   /* the source (layer) the offsets are for; -1 = none */
	uint16_t pid_off;          /* out = in + off (mod 2^15, or 2^7 in the short form) */
	uint8_t tl0_off, key_off;  /* mod 2^8, mod 2^5 */
	uint16_t last_pid;         /* the newest picture sent and its numbers */
	uint8_t last_tl0, last_key;
} km_simulcast_vp8_map_t;

/* Nothing sent yet. */
void km_simulcast_vp8_map_init(km_simulcast_vp8_map_t *m);

/* Rewrites in place the descriptor of p[0..len) (the subscriber's copy of
 * a VP8 payload of source src >= 0; borrowed): PictureID, TL0PICIDX and
 * KEYIDX when present. When src differs from the last packet's, the
 * offsets are set so that this packet's picture follows the last one sent
 * (PictureID, TL0PICIDX and KEYIDX + 1; the caller switches only on a key
 * frame). Returns 0, or a KM_SIMULCAST_E* code with p untouched. */
int km_simulcast_vp8_map(km_simulcast_vp8_map_t *m, int src, uint8_t *p, size_t len);

/* Static English text for a KM_SIMULCAST_* code. */
const char *km_simulcast_strerror(int code);

/* ---- the layer choice ---- */

#define KM_SIMULCAST_UP_AFTER 2     /* decisions in a row a higher layer must fit before going up */
#define KM_SIMULCAST_PROBE_HOLD 12  /* decisions a probed layer is kept while the estimate catches up */
#define KM_SIMULCAST_PROBE_BLOCK 15 /* decisions without a probe after the first failed one (doubling) */
#define KM_SIMULCAST_PROBE_BLOCK_MAX 240

/* One layer of a simulcast track as the choice sees it. Layers rank from
 * low to high by width when both widths are known, else by index (the
 * order of the offer's a=simulcast). */
typedef struct {
	uint64_t bps;   /* bitrate measured over the last interval; 0 = not sending */
	uint16_t width; /* of its last key frame; 0 = not known yet */
} km_simulcast_layer_t;

/* true if layer a ranks below layer b (a, b < n, borrowed l). */
bool km_simulcast_below(const km_simulcast_layer_t *l, size_t a, size_t b);

/* The layer for a subscriber with estimate est_bps (0 = none yet): the
 * highest-ranked sending layer whose bitrate fits 0.9 * est_bps; the
 * lowest-ranked sending layer when none fits or there is no estimate; -1
 * when no layer sends (or n == 0). */
int km_simulcast_choose(const km_simulcast_layer_t *l, size_t n, uint64_t est_bps);

/* One subscriber's state for one simulcast track. */
typedef struct {
	int8_t cur;            /* the layer forwarded now; -1 = none yet */
	int8_t want;           /* the layer to switch to at its next key frame; -1 = none */
	int8_t up;             /* a higher layer that fitted at the last decision; -1 = none */
	uint8_t up_count;      /* decisions in a row that it fitted */
	bool probing;          /* want was taken on probation (see km_simulcast_decide) */
	uint8_t probe_age;     /* decisions since the probe began */
	uint8_t probe_block;   /* decisions left before the next probe may begin */
	uint8_t probe_backoff; /* the block after the next failed probe */
	uint64_t last_est;     /* the estimate at the last decision */
} km_simulcast_sel_t;

/* Nothing forwarded, nothing wanted. */
void km_simulcast_sel_init(km_simulcast_sel_t *s);

/* The periodic decision (once a second): sets s->want from
 * km_simulcast_choose. Going down (or away from a layer that stopped
 * sending, or back to the current layer) happens at once; going up only
 * after the same higher layer fitted KM_SIMULCAST_UP_AFTER decisions in a
 * row. With nothing sending, s is left as it is.
 *
 * Probing: a receiver's REMB (Chrome's receive-side estimator) never rises
 * above about 1.5 times the video bitrate it receives plus 10 kbit/s, so
 * by the rule above a viewer would never climb to a layer more than ~1.35
 * times the one it has. So when the estimate is at least 1.3 times
 * sent_bps (all the video this subscriber receives now; 0 = unknown, no
 * probing), the subscriber is steady on a layer and a higher layer sends,
 * the next higher layer is taken on probation after KM_SIMULCAST_UP_AFTER
 * such decisions in a row. It is kept while the estimate catches up: it
 * succeeds once it fitted KM_SIMULCAST_UP_AFTER decisions in a row, and
 * fails (back to the chosen layer at once) when
 * the estimate falls by more than 10 % from one decision to the next (the
 * receiver saw congestion), when it stops sending, or after
 * KM_SIMULCAST_PROBE_HOLD decisions; after a failure no probe begins for
 * KM_SIMULCAST_PROBE_BLOCK decisions, doubling with each failure up to
 * KM_SIMULCAST_PROBE_BLOCK_MAX, reset by a success.
 *
 * Returns true when s->want differs from s->cur: the caller asks the
 * publisher for a key frame of s->want. */
bool km_simulcast_decide(km_simulcast_sel_t *s, const km_simulcast_layer_t *l, size_t n, uint64_t est_bps,
	uint64_t sent_bps);

/* Packet path: a packet of layer `layer` arrived; keyframe says whether it
 * is the first packet of a key frame. Returns true when it goes to this
 * subscriber: it belongs to the current layer, or it starts a key frame
 * of the wanted layer (which then becomes the current one). */
bool km_simulcast_accept(km_simulcast_sel_t *s, int layer, bool keyframe);

#endif
