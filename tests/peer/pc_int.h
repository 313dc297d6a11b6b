/* pc_int.h — the inside of km_peer_pc_t, shared by pc.c (lifecycle, SDP,
 * timers), pc_tx.c (sending, history, feedback from the receiver) and
 * pc_rx.c (receivers, loss, feedback to the sender). Not for other files.
 * Threads: as pc.h. */
#ifndef KM_PEER_PC_INT_H
#define KM_PEER_PC_INT_H

#include "media/rtcp.h"
#include "media/rtp.h"
#include "tests/peer/pc.h"
#include "tests/peer/peer_sdp.h"

#define PC_MAX_RX 16       /* incoming SSRCs per connection */
#define PC_MAX_TRACKS 32   /* SSRCs announced by the remote description */
#define PC_HIST 512        /* packets kept per sending stream for NACKs */
#define PC_MAX_CANDS 16    /* local candidates held back */
#define PC_TICK_MS 5

typedef struct {
	uint16_t seq;
	uint16_t len; /* 0: empty */
	uint8_t data[KM_PEER_MAX_RTP];
} km__pc_slot_t;

typedef struct {
	km_peer_pc_t *pc;
	bool on, video;
	km_peer_stream_t st;
	km__pc_slot_t *hist; /* PC_HIST slots, by seq % PC_HIST */
	int64_t next_us;     /* when the next frame is due */
	uint64_t packets, bytes, frames, errors, dropped_loss;
	uint64_t retransmits, nacked, nack_miss, plis, firs;
	uint32_t rr_fraction, rr_jitter;
	int32_t rr_lost;
	bool rr_seen;
} km__pc_tx_t;

typedef struct {
	km_peer_rx_t *rx;
	uint32_t ssrc;
	bool video, active, from_track;
	char stream[KM_SDP_MAX_TOKEN + 1];
	km_rtp_unwrap_t uw;
	int64_t base, max;            /* unwrapped sequence numbers */
	uint64_t expected_prior, received_prior;
	double jitter;                /* RFC 3550 6.4.1, in timestamp units */
	int64_t last_transit;
	bool have_transit;
	uint32_t lsr;                 /* middle 32 bits of the last SR's NTP time */
	int64_t lsr_at_us;
	uint64_t dropped_loss, nacks_sent, nack_seqs_sent, plis_sent;
} km__pc_rx_t;

struct km_peer_pc {
	km_peer_pc_config_t cfg;
	km_conn_t *conn;
	km_conn_state_t state;
	char reason[160];
	const char *srtp;
	bool remote_set, local_sent, gathered;
	km_peer_sdp_local_t local;
	km_peer_sdp_send_t send;
	km_peer_src_t *src;
	km__pc_tx_t tx[2]; /* [0] audio, [1] video */
	km__pc_rx_t rxs[PC_MAX_RX];
	size_t nrx;
	km_peer_sdp_track_t tracks[PC_MAX_TRACKS];
	size_t ntracks;
	int audio_pt, video_pt;       /* payload types the remote side sends, -1 unknown */
	bool nack_audio, nack_video;  /* a=rtcp-fb nack negotiated for that kind */
	uint32_t rtcp_ssrc;           /* our SSRC in RTCP when we send nothing */
	uint32_t loss_state, tx_loss_state;
	uint64_t rx_packets, rx_unknown, rx_bad, remb_bps;
	GSource *tick;
	int64_t connected_us, first_rx_us, next_fb_us, next_rr_us, next_rxtick_us;
	char cands[PC_MAX_CANDS][KM_ICE_CANDIDATE_MAX];
	size_t ncands;
	uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
};

/* pc_tx.c */
int km__pc_tx_init(km_peer_pc_t *pc);
void km__pc_tx_free(km_peer_pc_t *pc);
void km__pc_tx_tick(km_peer_pc_t *pc, int64_t now_us);
void km__pc_tx_send_sr(km_peer_pc_t *pc);
/* One RTCP packet from km_rtcp_next addressed to a sender. */
void km__pc_tx_rtcp(km_peer_pc_t *pc, const km_rtcp_pkt_t *pkt);
json_t *km__pc_tx_report(const km_peer_pc_t *pc);
/* Our SSRC as an RTCP sender. */
uint32_t km__pc_rtcp_ssrc(const km_peer_pc_t *pc);

/* pc_rx.c */
int km__pc_drop_rx(void *ud, const uint8_t *p, size_t len, int rtcp);
void km__pc_on_rtp(void *ud, uint8_t *p, size_t len);
void km__pc_on_rtcp(void *ud, uint8_t *p, size_t len);
void km__pc_rx_update_tracks(km_peer_pc_t *pc);
void km__pc_rx_tick(km_peer_pc_t *pc, int64_t now_us);
void km__pc_rx_feedback(km_peer_pc_t *pc, int64_t now_us, bool with_reports);
void km__pc_rx_free(km_peer_pc_t *pc);
void km__pc_rx_report(const km_peer_pc_t *pc, json_t *rx);

#endif
