/* negotiate.h — what kamer's SFU accepts and offers in SDP: the answer to a
 * browser's publish (or echo) offer, kamer's own offer for a subscribe
 * connection, and the reading of the browser's answer to it. It turns
 * parsed descriptions (media/sdp.h) into plain values the media worker needs
 * (ICE credentials, fingerprint, DTLS role, tracks with their payload types,
 * SSRCs and header-extension ids), and refuses what kamer cannot forward
 * with a named reason.
 *
 * Choices (docs/media.md): Opus 48 kHz and VP8 only are forwarded (VP8 is
 * the one video codec every browser offers, so every subscriber can decode
 * every publisher); one transport for all sections (BUNDLE required when
 * more than one section is used); rtcp-mux; no RTX and no transport-cc in
 * answers (kamer answers NACK itself and drives publishers' bitrate with
 * REMB, which needs abs-send-time); simulcast (RFC 8853, rids RFC 8851)
 * received from publishers' video, up to KM_NEG_MAX_LAYERS layers, never on
 * echo connections; kamer is the DTLS server whenever the peer lets it
 * choose. kamer's subscribe offers use fixed
 * payload types: Opus 111, VP8 96.
 *
 * Pure: no I/O, no allocation, no globals; safe from any thread. The SDP
 * structures are large: the caller provides them (heap, not stack). */
#ifndef KM_NEGOTIATE_H
#define KM_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/sdp.h"

#define KM_NEG_MAX_TRACKS 4   /* sections a publish offer may use */
#define KM_NEG_MAX_OUTS 15    /* sections of a subscribe offer */
#define KM_NEG_MAX_LAYERS 3   /* simulcast layers kamer receives of one track */
#define KM_NEG_PT_OPUS 111
#define KM_NEG_PT_VP8 96
#define KM_NEG_EXT_AUDIO_LEVEL 1 /* ids in kamer's subscribe offers */
#define KM_NEG_EXT_ABS_SEND_TIME 2

/* kamer's side of a negotiation. */
typedef struct {
	const char *ufrag, *pwd;  /* local ICE credentials (borrowed) */
	uint8_t fingerprint[32];  /* kamer's DTLS certificate, SHA-256 */
	uint64_t sess_id;         /* o= session id */
	uint64_t version;         /* o= session version (subscribe offers) */
} km_neg_local_t;

/* One track a publisher sends (one m-section). */
typedef struct {
	char mid[KM_SDP_MAX_MID + 1];
	km_sdp_kind_t kind;
	uint8_t pt;         /* the payload type kamer takes (Opus or VP8) */
	uint32_t clock;     /* 48000 or 90000 */
	uint32_t ssrc;      /* from a=ssrc (0: unknown, learnt from the mid extension);
			       0 with simulcast */
	uint8_t ext_mid, ext_abs_send_time, ext_audio_level; /* ids, 0 = not negotiated */
	bool nack;          /* the publisher answers NACK (video) */
	/* simulcast: the rids kamer accepted, in the offer's a=simulcast order
	 * (0 layers: one stream as above). Each layer's SSRC is learnt from
	 * the rid extension (ext_rid, with the mid extension) of its packets. */
	uint8_t nlayers;
	char rids[KM_NEG_MAX_LAYERS][KM_SDP_MAX_RID_LEN + 1];
	uint8_t ext_rid, ext_repaired_rid; /* ids, 0 = not negotiated */
} km_neg_track_t;

/* The peer's transport values, from its offer or answer. */
typedef struct {
	char ufrag[KM_SDP_MAX_UFRAG + 1];
	char pwd[KM_SDP_MAX_PWD + 1];
	uint8_t fingerprint[32];
	bool local_dtls_server;  /* kamer is the DTLS server (kamer's a=setup:passive) */
	uint8_t ncands;          /* candidates given in the SDP itself (the first section's) */
	km_sdp_candidate_t cands[KM_SDP_MAX_CANDIDATES];
} km_neg_transport_t;

typedef struct {
	km_neg_transport_t transport;
	uint8_t ntracks;
	km_neg_track_t tracks[KM_NEG_MAX_TRACKS];
} km_neg_publish_t;

/* Answers a publish offer (echo = 0: kamer receives only) or an echo offer
 * (echo = 1: sendrecv, kamer sends each track back with SSRC
 * echo_ssrc_base + track index). A publish offer's video section with
 * a=simulcast:send, its a=rid send lines and the rid extension is answered
 * with a=rid:<id> recv for up to KM_NEG_MAX_LAYERS of its streams (the
 * offer's order, the first alternative of each, paused '~' ones and rids
 * whose pt= excludes VP8 left out), a=simulcast:recv with the same ids and
 * the rid and repaired-rid extensions; an echo answer accepts no
 * simulcast (the browser then sends one stream). Fills *answer (written
 * with km_sdp_write) and *out. Sections kamer cannot use are rejected in the answer (port 0)
 * rather than failing the whole offer, unless no audio or video section is
 * left. Returns 0 or a KM_SDP_E* code with a reason in err ("m=1 (video):
 * no codec kamer can forward (offered: H264; kamer forwards VP8)"). */
int km_neg_answer_publish(const km_sdp_t *offer, const km_neg_local_t *local, int echo,
			  uint32_t echo_ssrc_base, km_sdp_t *answer, km_neg_publish_t *out, char *err,
			  size_t errlen);

/* One m-section of a subscribe offer: a remote track, or an unused slot
 * (active = false: a=inactive, kept so that section order stays stable
 * across renegotiations). */
typedef struct {
	bool active;
	km_sdp_kind_t kind;
	uint32_t ssrc;                          /* the SSRC kamer sends it with */
	char stream[KM_SDP_MAX_TOKEN + 1];      /* msid stream id: one per remote person */
	char track[KM_SDP_MAX_TOKEN + 1];       /* msid track id */
} km_neg_out_t;

/* Writes kamer's offer for a subscribe connection with n (1..KM_NEG_MAX_OUTS)
 * sections, mids "0".."n-1" in order, setup:actpass. Returns 0 or a
 * KM_SDP_E* code. */
int km_neg_offer_subscribe(const km_neg_out_t *outs, size_t n, const km_neg_local_t *local,
			   km_sdp_t *offer, char *err, size_t errlen);

/* What the subscriber's answer accepted, per section of the offer. */
typedef struct {
	bool accepted;             /* receives it (recvonly or sendrecv, port != 0) */
	uint8_t ext_abs_send_time; /* ids the answer kept; 0 = none */
	uint8_t ext_audio_level;
	bool nack, pli, fir, remb; /* feedback the answer kept */
} km_neg_sub_section_t;

typedef struct {
	km_neg_transport_t transport;
	size_t n;
	km_neg_sub_section_t sections[KM_NEG_MAX_OUTS];
} km_neg_subscribe_t;

/* Reads the answer to kamer's subscribe offer of n sections. The answer
 * must keep every section in order with the same mids and payload types.
 * Returns 0 or a KM_SDP_E* code with a reason. */
int km_neg_read_subscribe_answer(const km_sdp_t *answer, const km_neg_out_t *outs, size_t n,
				 km_neg_subscribe_t *out, char *err, size_t errlen);

#endif
