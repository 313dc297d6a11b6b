/* rewrite.h — per-subscriber RTP header rewriting for one forwarded track.
 * The subscriber sees one outgoing stream with a fixed SSRC and payload
 * type; behind it the source may switch (another publisher SSRC, another
 * simulcast layer). Sequence numbers and timestamps continue smoothly
 * across a switch, and a NACKed outgoing seq maps back to the source seq
 * for a lookup in the track's retransmission ring (ring.h).
 * A switch is detected by a change of the source SSRC: the router decides
 * which source is forwarded (and switches on a keyframe) and passes only
 * that source's packets here. Extension ids are not touched here
 * (km_rtp_ext_rewrite_id in rtp.h does that).
 * Pure: no I/O, no allocation, no locks, no logging.
 * Threading: single-threaded, owned by the media worker of the room. */
#ifndef KM_REWRITE_H
#define KM_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/rtp.h"

/* State for one subscriber of one track; fill with km_rewrite_init. The
 * fields are private to rewrite.c (public only so it can live inline). */
typedef struct {
	uint32_t out_ssrc;
	uint8_t out_pt;
	uint32_t clock_rate;
	bool started;          /* a packet has been rewritten */
	uint32_t src_ssrc;     /* the current source */
	uint16_t seq_off;      /* out_seq = in_seq + seq_off */
	uint32_t ts_off;       /* out_ts = in_ts + ts_off */
	km_rtp_unwrap_t in;    /* unwraps the current source's seq */
	int64_t base_in;       /* unwrapped in seq of the switch point */
	int64_t max_in;        /* newest unwrapped in seq of this source */
	uint16_t last_out_seq; /* out seq of the newest packet sent */
	uint32_t last_out_ts;  /* its out timestamp */
	int64_t last_out_us;   /* the wall time it was rewritten */
} km_rewrite_t;

/* Initialises *rw for an outgoing stream with this SSRC, payload type
 * (0..127) and RTP clock rate (Hz, > 0). Returns 0 or KM_RTP_EINVAL. */
int km_rewrite_init(km_rewrite_t *rw, uint32_t out_ssrc, uint8_t out_pt, uint32_t clock_rate);

/* Rewrites in place pkt[0..len) (the subscriber's copy of the packet that
 * *parsed describes; borrowed, len == parsed->len): SSRC, payload type,
 * sequence number and timestamp. On a source switch (parsed->ssrc differs
 * from the current source) the offsets are recomputed so that the out seq
 * is the last out seq + 1 and the out ts is the last out ts plus the wall
 * time elapsed since (now_us, microseconds, any monotonic clock) in clock
 * units, at least 1. Returns 0 when rewritten, 1 when the packet must be
 * dropped (older than the current source's switch point), or KM_RTP_EINVAL
 * / KM_RTP_ETRUNC on bad arguments (pkt then untouched). */
int km_rewrite_apply(km_rewrite_t *rw, uint8_t *pkt, size_t len, const km_rtp_t *parsed,
	int64_t now_us);

/* Maps a subscriber's NACKed outgoing seq back to the current source's seq
 * in *in_seq. Returns 0, or -1 if nothing was sent yet, out_seq was never
 * sent (newer than the last out seq), or it predates the current source. */
int km_rewrite_map_nack(const km_rewrite_t *rw, uint16_t out_seq, uint16_t *in_seq);

#endif
