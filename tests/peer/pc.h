/* pc.h — one WebRTC peer connection of the test peer: a km_conn
 * (media/conn.h) plus what a browser does on top of it. Sending: the
 * synthetic Opus and VP8 streams of tests/peer/codec.h every 20 ms and at
 * the configured frame rate, each packet kept in a per-stream history so
 * that NACKs are answered on the same SSRC, a keyframe on PLI/FIR, a sender
 * report once a second. Receiving: one km_peer_rx_t per incoming SSRC, an
 * optional deterministic loss in front of it (to exercise NACK repair),
 * NACKs every 20 ms, PLI when a receiver needs a keyframe, a receiver
 * report once a second. It also turns SDP into km_conn calls (offers for
 * pub/echo, answers to kamer's sub offers, kamer-like answers for the
 * self-test).
 *
 * It knows nothing of the signaling: the owner carries SDP and candidates.
 *
 * Threads: everything on the thread iterating cfg.ctx; callbacks run
 * there. */
#ifndef KM_PEER_PC_H
#define KM_PEER_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "media/conn.h"
#include "tests/peer/codec.h"

typedef struct km_peer_pc km_peer_pc_t;

typedef struct {
	GMainContext *ctx;          /* borrowed; iterated by the caller's thread */
	const km_dtls_cert_t *cert; /* borrowed; outlives the pc */
	const char *name;           /* "pub", "sub", "echo", "kamer": static, for logs and the report */
	const char *address;        /* local address to gather on, "127.0.0.1" (borrowed) */
	bool offerer;               /* we offer (ICE controlling) or answer (controlled) */
	bool dtls_server;           /* answering side only: answer a=setup:passive */
	bool send_audio, send_video;
	km_peer_src_config_t video; /* the synthetic source, when sending */
	/* Simulated loss, deterministic (same seed, same drops). rx: received
	 * SRTP dropped before km_conn unprotects it (km_conn's drop_rx hook),
	 * as if lost on the way: the receiver NACKs and the sender's (kamer's)
	 * retransmission repairs it. tx: first
	 * transmissions dropped before SRTP, as if lost on the way: the
	 * receiver NACKs and the retransmission from the history repairs. */
	int loss_pct;               /* rx loss, 0..100 */
	int tx_loss_pct;            /* tx loss, 0..100 */
	uint32_t loss_seed;
	unsigned profiles;          /* KM_DTLS_* bits, 0 = AES-256-GCM only */
	/* A local candidate line to trickle, "" at the end of gathering. Held
	 * back until km_peer_pc_flush_candidates. */
	void (*on_candidate)(void *ud, km_peer_pc_t *pc, const char *candidate);
	/* The connection's state changed (reason as km_conn gives it). */
	void (*on_state)(void *ud, km_peer_pc_t *pc, km_conn_state_t state, const char *reason);
	void *ud;
} km_peer_pc_config_t;

/* Makes the connection (gathering starts) and, if sending, encodes the
 * synthetic source. *out is new; free with km_peer_pc_free. Returns 0 or a
 * negative code with the reason in err. */
int km_peer_pc_new(const km_peer_pc_config_t *cfg, km_peer_pc_t **out, char *err, size_t errlen);
void km_peer_pc_free(km_peer_pc_t *pc);

/* Our offer (sendonly for pub; sendrecv when sendrecv is true, for echo):
 * returns new text (caller frees with free) or NULL with the reason. */
char *km_peer_pc_offer(km_peer_pc_t *pc, bool sendrecv, char *err, size_t errlen);

/* The remote answer to our offer: sets the remote transport (once).
 * Returns 0 or a negative code with the reason. */
int km_peer_pc_set_answer(km_peer_pc_t *pc, const char *sdp, size_t len, char *err, size_t errlen);

/* A remote offer (kamer's sub offer, or the self-test's publisher): the
 * first one sets the remote transport, every one updates the expected
 * SSRCs (receivers for SSRCs no longer offered stop sending feedback).
 * Returns the answer as new text (caller frees with free) or NULL with the
 * reason. */
char *km_peer_pc_take_offer(km_peer_pc_t *pc, const char *sdp, size_t len, char *err,
			    size_t errlen);

/* A remote trickled candidate ("" or NULL: end of candidates). Returns 0,
 * KM_ICE_IGNORED, or a negative code with the reason. */
int km_peer_pc_add_candidate(km_peer_pc_t *pc, const char *candidate, char *err, size_t errlen);

/* The owner has sent our description: local candidates held back so far
 * go out through on_candidate now, later ones as they come. */
void km_peer_pc_flush_candidates(km_peer_pc_t *pc);

/* Sends DTLS close_notify (the state becomes CLOSED). */
void km_peer_pc_close(km_peer_pc_t *pc);

const char *km_peer_pc_name(const km_peer_pc_t *pc);
km_conn_state_t km_peer_pc_state(const km_peer_pc_t *pc);
/* The negotiated SRTP profile, "none" before CONNECTED. Static. */
const char *km_peer_pc_srtp(const km_peer_pc_t *pc);
/* Monotonic time (µs) of CONNECTED, 0 before. */
int64_t km_peer_pc_connected_us(const km_peer_pc_t *pc);
/* Monotonic time (µs) of the first RTP packet received, 0 before. */
int64_t km_peer_pc_first_rx_us(const km_peer_pc_t *pc);
/* RTP packets received (after the simulated loss) and sent. */
uint64_t km_peer_pc_rx_packets(const km_peer_pc_t *pc);
uint64_t km_peer_pc_tx_packets(const km_peer_pc_t *pc);

/* Appends one object per receiver to rx (array) and sets tx[name] to this
 * connection's send counters, conns[name] to its state and counters.
 * Borrows the json values; adds new references. */
void km_peer_pc_report(km_peer_pc_t *pc, json_t *rx, json_t *tx, json_t *conns);

#endif
