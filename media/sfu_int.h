/* sfu_int.h — internals shared by the SFU's signaling side (sfu.c) and its
 * worker side (sfu_room.c: rooms and connections; sfu_path.c: the packet
 * path and RTCP). Not a public header.
 *
 * Worker side: every sfu_wroom_t / sfu_wconn_t lives on one worker thread
 * and is touched only there. Commands (sfu_cmd_*) are allocated by the
 * signaling thread, queued with km_worker_call and freed by the worker
 * after they ran. */
#ifndef KM_SFU_INT_H
#define KM_SFU_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "media/conn.h"
#include "media/negotiate.h"
#include "media/ring.h"
#include "media/rewrite.h"
#include "media/rtp.h"
#include "media/sfu.h"
#include "media/simulcast.h"
#include "media/subloop.h"
#include "media/worker.h"

#define SFU_MAX_SUBS 16        /* subscribers of one track */
#define SFU_KAMER_SSRC 0x6B616D31u /* sender SSRC of kamer's own RTCP ("kam1") */
#define SFU_EV_STATE (KM_MEDIA_EV_USER + 1) /* code: km_conn_state_t; text: profile or reason */
#define SFU_PLI_INTERVAL_US 500000
#define SFU_RING_SLOTS 1024
/* Bytes of a video stream's retransmission ring: about one second of what
 * it measures (ring.h; sfu_path.c size_ring), between these; the start
 * suits a 1 Mbit/s camera. */
#define SFU_RING_BYTES_START (160u * 1024)
#define SFU_RING_BYTES_MIN (64u * 1024)
#define SFU_RING_BYTES_MAX (2u * 1024 * 1024)

/* conn ids carry the member and the kind */
static inline uint64_t sfu_conn_id(uint64_t member, km_sfu_conn_kind_t k)
{
	return member * 4 + (uint64_t)k;
}
static inline uint64_t sfu_conn_member(uint64_t id)
{
	return id / 4;
}
static inline km_sfu_conn_kind_t sfu_conn_kind(uint64_t id)
{
	return (km_sfu_conn_kind_t)(id % 4);
}

typedef struct sfu_wconn sfu_wconn_t;
typedef struct sfu_wroom sfu_wroom_t;
typedef struct sfu_wstate sfu_wstate_t;

/* One stream of a received track: the track itself, or one simulcast
 * layer of it. */
typedef struct {
	uint32_t ssrc;   /* 0: not known yet (learnt from the mid/rid extension) */
	km_ring_t *ring; /* video: plaintext packets for NACKs */
	/* reception, for receiver reports */
	km_rtp_unwrap_t unwrap;
	bool started;
	int64_t base_seq, max_seq;
	uint64_t received, expected_prior, received_prior;
	uint64_t octets, octets_prior; /* RTP bytes received; at the last measurement */
	uint32_t sr_mid;     /* middle 32 bits of the last SR's NTP time */
	int64_t sr_at_us;    /* when it arrived (0: none) */
	int64_t last_pli_us; /* last keyframe request sent to the publisher */
	bool pli_pending;    /* one was asked for within 500 ms of it: sent when allowed */
} sfu_layer_t;

/* A track a connection receives from its browser. */
typedef struct {
	km_neg_track_t neg;
	uint8_t nlayers; /* 1, or neg.nlayers with simulcast */
	sfu_layer_t layers[KM_NEG_MAX_LAYERS];
	km_simulcast_layer_t rates[KM_NEG_MAX_LAYERS]; /* per layer: bitrate, key frame width */
	int64_t rate_at_us; /* when the bitrates were last measured */
	struct {
		sfu_wconn_t *conn;
		uint8_t out;
	} subs[SFU_MAX_SUBS];
	uint8_t nsubs;
} sfu_track_t;

/* A stream a connection sends to its browser. */
typedef struct {
	bool accepted;
	km_sdp_kind_t kind;
	uint32_t ssrc;
	uint8_t pt;
	uint64_t src_conn;                /* the publisher connection's id */
	char src_mid[KM_SDP_MAX_MID + 1]; /* and its track */
	sfu_wconn_t *src;                 /* linked source, NULL if none */
	uint8_t src_track;
	uint8_t ext_abs, ext_level;       /* the subscriber's ids */
	uint8_t map[256];                 /* source ext id -> subscriber ext id */
	km_rewrite_t rw;
	km_simulcast_sel_t sel;           /* the layer it receives of a simulcast source */
	km_simulcast_vp8_map_t vp8;       /* and its picture numbering across switches */
	int8_t shown_cur, shown_want;     /* sel as last logged */
	uint64_t packets, octets;
} sfu_out_t;

struct sfu_wconn {
	uint64_t id;
	km_sfu_conn_kind_t kind;
	sfu_wroom_t *room;
	sfu_wstate_t *ws;
	km_subctx_t *sub; /* the context its transport runs on (NULL: the worker's) */
	km_conn_t *conn;
	bool connected;
	int64_t opened_us;
	uint8_t ntracks;
	sfu_track_t tracks[KM_NEG_MAX_TRACKS];
	uint8_t nouts;
	sfu_out_t outs[KM_NEG_MAX_OUTS];
	uint64_t remb_bps; /* the subscriber's estimate (0: none yet) */
	uint64_t drop_unknown_ssrc, drop_parse;
	sfu_wconn_t *next;
};

struct sfu_wroom {
	uint64_t id;
	sfu_wconn_t *conns;
	sfu_wroom_t *next;
};

/* One worker's SFU state (its thread only, after creation). */
struct sfu_wstate {
	km_worker_t *worker;
	const km_dtls_cert_t *cert;
	const char *const *addresses; /* owned by km_sfu_t */
	size_t n_addresses;
	uint16_t port_min, port_max;
	uint64_t max_bitrate_bps, echo_bitrate_bps;
	int64_t echo_us;
	sfu_wroom_t *rooms;
	long live_conns, live_rooms; /* written by the worker, read by stats (atomics) */
	GSource *timer;
	km_subloop_t *subloop; /* runs every connection's context (NULL: not started) */
	uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK + 64];
	uint8_t rtcp[1500];
};

/* ---- commands (signaling -> worker) ---- */
typedef struct {
	sfu_wstate_t *ws;
	uint64_t room, conn;
	km_sfu_conn_kind_t kind;
	unsigned profiles; /* KM_DTLS_* bits */
	char ufrag[KM_ICE_CRED_MAX], pwd[KM_ICE_CRED_MAX];
	bool has_remote;
	km_neg_transport_t remote;
	uint8_t ntracks;
	km_neg_track_t tracks[KM_NEG_MAX_TRACKS];
	uint32_t echo_ssrc_base;
} sfu_cmd_open_t;

typedef struct {
	bool accepted;
	km_sdp_kind_t kind;
	uint32_t ssrc;
	uint8_t pt;
	uint64_t src_conn;
	char src_mid[KM_SDP_MAX_MID + 1];
	uint8_t ext_abs, ext_level;
} sfu_out_spec_t;

typedef struct {
	sfu_wstate_t *ws;
	uint64_t room, conn;
	bool has_remote;
	km_neg_transport_t remote;
	size_t n;
	sfu_out_spec_t outs[KM_NEG_MAX_OUTS];
} sfu_cmd_outs_t;

typedef struct {
	sfu_wstate_t *ws;
	uint64_t room, conn;
	char text[KM_ICE_CANDIDATE_MAX + 1];
} sfu_cmd_cand_t;

typedef struct {
	sfu_wstate_t *ws;
	uint64_t room, conn; /* conn 0: the whole room */
} sfu_cmd_close_t;

/* Worker-side entry points, each run by km_worker_call; each frees arg. */
void sfu_w_open(void *arg);
void sfu_w_outs(void *arg);
void sfu_w_candidate(void *arg);
/* ICE restart of an open connection (arg: sfu_cmd_open_t with the new local
 * credentials and the remote transport). */
void sfu_w_restart(void *arg);
void sfu_w_close(void *arg);
/* Starts the 1 s RTCP timer (arg: sfu_wstate_t *, not freed). */
void sfu_w_start(void *arg);
/* Frees every room and the timer (arg: sfu_wstate_t *, not freed). */
void sfu_w_stop(void *arg);

/* sfu_path.c */
void sfu_on_rtp(void *ud, uint8_t *p, size_t len);
void sfu_on_rtcp(void *ud, uint8_t *p, size_t len);
/* Links out i of c to its source track if that is in the room. */
void sfu_link_out(sfu_wconn_t *c, uint8_t i);
/* Removes every route to and from c. */
void sfu_unlink_all(sfu_wconn_t *c);
/* Sends a PLI for layer (index) of track t of publisher c unless one went
 * < 500 ms ago (then it goes when allowed); now_us 0: at once. */
void sfu_request_keyframe(sfu_wconn_t *c, sfu_track_t *t, uint8_t layer, int64_t now_us);
/* The layer of its source that out o receives (or is waiting for). */
uint8_t sfu_out_layer(const sfu_out_t *o);
/* Once a second, before the decisions: the bitrate of every layer that
 * publisher c sends. */
void sfu_measure(sfu_wconn_t *c, int64_t now_us);
/* Periodic RTCP of one connection (RR + REMB to publishers, SR to subscribers). */
void sfu_send_reports(sfu_wconn_t *c, int64_t now_us);

#endif
