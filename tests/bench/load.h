/* load.h — the inside of the benchmark's load client (kamer-load): many
 * participants in one process, each publishing a replayed Opus + VP8 loop
 * with send stamps and subscribing to the others of its room, over kamer's
 * consult protocol (load_kamer.c), the Janus VideoRoom API (load_janus.c)
 * or the floor forwarder's plain SRTP (no signaling). load_src.c records the
 * media once and replays it; load_media.c is the media transport (a km_conn,
 * or a UDP socket with fixed SRTP keys for the floor), the receivers and
 * their statistics; load.c runs the load steps and prints the figures.
 *
 * Threads: one; everything runs on the GMainContext of the load client. */
#ifndef KM_BENCH_LOAD_H
#define KM_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "media/conn.h"
#include "media/rtp.h"
#include "media/srtp.h"
#include "tests/bench/bws.h"
#include "tests/peer/codec.h"
#include "tests/peer/peer_sdp.h"

#define LD_MAX_PER_ROOM 8
#define LD_MAX_RX 16     /* streams received on one sub connection */
#define LD_MAX_CANDS 16  /* local candidates held back */
#define LD_HIST 1024     /* delay histogram buckets (log scale, 2 % wide) */
/* SO_RCVBUF of the client's sockets. One core receives every stream of
 * every participant; with the kernel's default (208 kB, about 90 datagrams
 * of 1.2 kB) the keyframes sent to everyone at a join overflowed them
 * (RcvbufErrors in the client's namespace, none in the server's), and that
 * showed as a few packets in 100,000 lost "through the server". The
 * floor's client sockets always had this size. */
#define LD_RCVBUF (4 << 20)

typedef enum { LD_KAMER, LD_JANUS, LD_FLOOR } ld_server_t;

/* ---- the replayed media (load_src.c) ---- */

typedef struct {
	uint32_t off, len; /* packet bytes in the recording */
} ld_pkt_t;

typedef struct {
	int first, n;      /* packets of this frame in pkts[] */
	bool key;
} ld_frame_t;

typedef struct {
	uint8_t *bytes;
	size_t nbytes;
	ld_pkt_t *pkts;
	int npkts;
	ld_frame_t *frames; /* the video loop */
	int nframes, kf, fps;
	int audio_first, naudio; /* audio packets in pkts[] */
	double video_kbps;       /* what the loop averages on the wire */
} ld_src_t;

/* Encodes the loop once (tests/peer/codec.h) and records its packets with
 * room for a stamp. Returns 0 or a negative code. */
int ld_src_record(ld_src_t *s, int width, int height, int fps, int kbps, int seconds, int kf);
void ld_src_free(ld_src_t *s);

/* One sending stream of a publisher. */
typedef struct {
	uint32_t ssrc;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t stamp_seq;
	uint16_t pic;
	int pos;              /* next frame (video) or packet (audio) of the loop */
	bool want_key;
	int64_t next_us, last_key_us;
	uint64_t packets, bytes, keyframes;
	uint32_t sr_packets, sr_octets;
} ld_tx_t;

typedef void (*ld_send_fn)(void *ud, uint8_t *p, size_t len, size_t cap);

/* Sends the next audio packet / video frame of the loop through send, with
 * the stamp now_us. Returns the number of packets. */
int ld_src_audio(const ld_src_t *s, ld_tx_t *t, int64_t now_us, ld_send_fn send, void *ud);
int ld_src_video(const ld_src_t *s, ld_tx_t *t, int64_t now_us, ld_send_fn send, void *ud);

/* ---- receiving (load_media.c) ---- */

typedef struct {
	uint32_t ssrc;
	bool video, started;
	uint64_t packets;     /* RTP packets with a stamp */
	uint32_t stamp_hi;    /* highest stamp sequence seen */
	uint64_t w_packets;   /* at the window's start */
	uint32_t w_hi;
	km_rtp_unwrap_t uw;
	int64_t rtp_hi;
	km_peer_rx_t *dec;    /* video, until the first frame is decoded */
	int64_t first_frame_us;
	int64_t next_pli_us;
} ld_rx_t;

/* Delay histogram and window counters, shared by all receivers. */
typedef struct {
	bool on;
	uint64_t hist[LD_HIST];
	int64_t max_us;
	uint64_t rx_packets, rx_bytes, tx_packets;
} ld_stats_t;

/* p50/p99 of a histogram in µs (bucket upper bounds). */
int64_t ld_hist_pct(const uint64_t *hist, double pct);
int ld_hist_bucket(int64_t us);

struct ld;
struct ld_part;

typedef enum { LD_PUB, LD_SUB } ld_conn_kind_t;

typedef struct ld_conn {
	struct ld_part *part;
	ld_conn_kind_t kind;
	km_conn_t *conn;          /* kamer, Janus */
	int fd;                   /* floor: a connected UDP socket, else -1 */
	km_srtp_t *srtp_in, *srtp_out;
	GSource *fd_src;
	km_conn_state_t state;
	char reason[160];
	int64_t connected_us;
	km_peer_sdp_local_t local;
	bool remote_set, local_sent;
	char cands[LD_MAX_CANDS][KM_ICE_CANDIDATE_MAX];
	int ncands;
	km_peer_sdp_track_t tracks[LD_MAX_RX];
	size_t ntracks;
	int audio_pt, video_pt;
	ld_rx_t rx[LD_MAX_RX];
	int nrx;
	uint32_t rtcp_ssrc;
	uint64_t rx_unknown, rx_bad, tx_fail, plis_sent, plis_received;
	uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
} ld_conn_t;

/* A participant: its signaling (one of the protocol states) and media. */
typedef struct ld_part {
	struct ld *L;
	struct ld_room *room;
	int index, slot;          /* global index; place in the room (0: first) */
	ld_conn_t *pub, *sub;
	ld_tx_t tx[2];            /* audio, video */
	bool publishing;          /* pub connected: the loop plays */
	bws_conn_t *ws;
	bool failed;
	char why[200];
	/* kamer */
	const char *token;        /* borrowed from the plan; NULL for staff */
	int sub_version;
	long long admitted[LD_MAX_PER_ROOM * 2]; /* staff: ids admitted */
	int nadmitted;
	int out_of_order;         /* errors counted, not fatal */
	/* janus */
	uint64_t session, pub_handle, sub_handle, feed;
	int64_t next_keepalive_us;
	bool joined, subscribed, pub_up; /* pub_up: webrtcup on the publisher handle */
	int tr;
} ld_part_t;

typedef struct ld_room {
	int index, n;
	ld_part_t *parts[LD_MAX_PER_ROOM];
	int64_t join_us;          /* when its participants started joining */
	long long consult;        /* kamer */
	uint64_t janus_room;      /* janus */
	bool created;             /* janus: the room exists */
	bool ready;               /* every stream flowing and a first frame decoded */
} ld_room_t;

typedef struct ld {
	ld_server_t server;
	GMainContext *ctx;
	km_sendq_t *sendq; /* outgoing datagrams, flushed after each loop iteration (NULL: sent at once) */
	km_dtls_cert_t *cert;
	ld_src_t src;
	ld_stats_t st;
	const char *host;         /* server address, "127.0.0.2" */
	int port;                 /* signaling (or floor base) port */
	const char *address;      /* local media address, "127.0.0.3" */
	int floor_client_port;
	bws_t *ws;
	const char *cookie;       /* kamer staff session cookie */
	json_t *plan;             /* kamer: consults and tokens */
	int per_room;
	ld_room_t *rooms;
	int nrooms, maxrooms;
	int verbose;
	uint64_t janus_tr;
} ld_t;

/* load_media.c */
ld_conn_t *ld_conn_new(ld_part_t *p, ld_conn_kind_t kind, char *err, size_t errlen);
void ld_conn_free(ld_conn_t *c);
/* Our offer (pub), returns new text. */
char *ld_conn_offer(ld_conn_t *c, char *err, size_t errlen);
int ld_conn_set_answer(ld_conn_t *c, const char *sdp, char *err, size_t errlen);
/* The server's offer (sub): returns our answer, new text. */
char *ld_conn_take_offer(ld_conn_t *c, const char *sdp, char *err, size_t errlen);
int ld_conn_add_candidate(ld_conn_t *c, const char *cand);
/* Candidates gathered so far go out now (through the protocol), later ones
 * as they come. */
void ld_conn_flush(ld_conn_t *c);
void ld_conn_tick(ld_conn_t *c, int64_t now_us, bool reports);
void ld_part_send_due(ld_part_t *p, int64_t now_us);
/* Window bookkeeping over every receiver of the part's sub connection. */
void ld_conn_window_start(ld_conn_t *c);
typedef struct {
	uint64_t expected, received;   /* by stamp sequence, flowing streams */
	uint64_t flowing[2], flowing_packets[2], stalled[2]; /* [0] audio, [1] video */
} ld_window_t;
void ld_conn_window_end(ld_conn_t *c, ld_window_t *w);

/* Protocol hooks, set by load.c for the server in use. */
void ld_proto_candidate(ld_part_t *p, ld_conn_t *c, const char *cand);
void ld_proto_state(ld_part_t *p, ld_conn_t *c);
void ld_fail(ld_part_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* load_kamer.c */
void ld_kamer_join(ld_part_t *p);
void ld_kamer_candidate(ld_part_t *p, ld_conn_t *c, const char *cand);
void ld_kamer_tick(ld_part_t *p, int64_t now_us);

/* load_janus.c */
void ld_janus_join(ld_part_t *p);
void ld_janus_candidate(ld_part_t *p, ld_conn_t *c, const char *cand);
void ld_janus_tick(ld_part_t *p, int64_t now_us);
/* Pure helpers, for the unit test: the body of a room "create" and a
 * subscriber "join" (new JSON), and the feed ids a "joined"/"event" lists. */
json_t *ld_janus_create_body(uint64_t room, int publishers, int bitrate);
json_t *ld_janus_subscribe_body(uint64_t room, const uint64_t *feeds, size_t n);
size_t ld_janus_feeds(json_t *data, uint64_t *out, size_t cap);

/* load.c */
void ld_log(ld_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
