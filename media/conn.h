/* conn.h — one WebRTC transport: ICE (media/ice.h) + DTLS-SRTP
 * (media/dtls.h) + SRTP sessions (media/srtp.h), bundled on one UDP
 * 5-tuple with rtcp-mux. It turns received datagrams into plaintext RTP and
 * RTCP for its owner, and protects and sends what the owner gives it. It is
 * not SDP and not the router: the owner (the SFU's room code on a media
 * worker, or the test peer) reads the remote SDP, passes the values here,
 * and decides what to do with every packet.
 *
 * Used by both ends: the SFU (DTLS server or client as the SDP decides,
 * ICE controlled for the connections the browser offers, controlling for
 * the ones kamer offers) and the test peer (the mirror image).
 *
 * Receive path (per datagram, in libnice's receive callback): RFC 7983
 * demultiplexing by first byte; DTLS records go to the handshake; SRTP and
 * SRTCP are dropped (and counted) until DTLS is connected, then unprotected
 * in a per-connection buffer and handed to on_rtp / on_rtcp. Anything
 * malformed, over 1500 bytes, failing authentication or replayed is dropped
 * and counted in km_conn_stats_t, never passed on. No allocation, no
 * logging, no lock on this path.
 *
 * Threads: a connection lives on one GMainContext (a media worker's); every
 * function must be called on the thread running it, and every callback runs
 * there. */
#ifndef KM_CONN_H
#define KM_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "media/dtls.h"
#include "media/ice.h"

typedef enum {
	KM_CONN_NEW = 0,   /* made; gathering, waiting for the remote side */
	KM_CONN_CHECKING,  /* remote credentials set, ICE checks running */
	KM_CONN_DTLS,      /* ICE has a pair, DTLS handshaking */
	KM_CONN_CONNECTED, /* DTLS done, SRTP keyed: media flows */
	KM_CONN_FAILED,    /* ICE failed or consent lost, DTLS failed: see reason */
	KM_CONN_CLOSED,    /* the peer closed DTLS (close_notify) or km_conn_close */
} km_conn_state_t;

/* Largest plaintext packet passed to on_rtp/on_rtcp, and largest datagram
 * accepted from the network (anything longer is dropped). */
#define KM_CONN_MAX_PACKET 1500
/* Room the send functions need beyond the packet: the SRTP(C) tag. */
#define KM_CONN_SEND_SLACK 32

typedef struct {
	/* Where to gather (see km_ice_config_t; borrowed during km_conn_new). */
	const char *const *addresses;
	size_t n_addresses;
	uint16_t port_min, port_max;
	int ice_controlling;        /* 1: kamer offered this connection */
	const km_dtls_cert_t *cert; /* borrowed, must outlive the connection */
	unsigned profiles;          /* KM_DTLS_* bits; 0 = AES-256-GCM only */

	/* A local candidate line to trickle ("candidate:..."); NULL once
	 * gathering is done. */
	void (*on_candidate)(void *ud, const char *candidate);
	/* State changed; reason is "" or a short English text without keys or
	 * addresses ("dtls: fingerprint mismatch", "ice: failed"). Called once
	 * per change. The owner may call km_conn_free from here. */
	void (*on_state)(void *ud, km_conn_state_t state, const char *reason);
	/* A received, authenticated plaintext RTP packet (p[0..len), writable,
	 * with KM_CONN_SEND_SLACK bytes of room behind it; valid only during
	 * the call). The packet path. */
	void (*on_rtp)(void *ud, uint8_t *p, size_t len);
	/* The same for a plaintext RTCP compound packet. */
	void (*on_rtcp)(void *ud, uint8_t *p, size_t len);
	/* Test hook, NULL in kamer: called for each SRTP (rtcp = 0) or SRTCP
	 * datagram before it is unprotected; returning 1 drops it as if the
	 * network had lost it (so that a retransmission is not a replay). */
	int (*drop_rx)(void *ud, const uint8_t *p, size_t len, int rtcp);
	void *ud;
	/* Optional (borrowed, must outlive the connection): the worker's queue
	 * of outgoing datagrams (media/worker.h km_worker_sendq). NULL: each
	 * datagram is sent at once (tests, the test peer). */
	km_sendq_t *sendq;
	/* Optional (borrowed, must outlive the connection): the subloop whose
	 * subctx ctx is (media/subloop.h); the direct path's socket is then
	 * watched by it without a context iteration. NULL: a GSource on ctx. */
	km_subloop_t *subloop;
	/* Optional: SO_RCVBUF of the selected socket (km_ice_config_t). */
	int rcvbuf;
} km_conn_config_t;

/* Counters of one connection (for logs, metrics and tests). */
typedef struct {
	uint64_t rx_datagrams, rx_rtp, rx_rtcp, rx_dtls;
	uint64_t drop_early;   /* SRTP/SRTCP before DTLS was connected */
	uint64_t drop_invalid; /* not classifiable, too long, malformed */
	uint64_t drop_auth;    /* SRTP authentication failed */
	uint64_t drop_replay;  /* SRTP replay */
	uint64_t tx_rtp, tx_rtcp, tx_fail;
} km_conn_stats_t;

typedef struct km_conn km_conn_t;

/* Makes a connection on ctx (borrowed) with cfg (copied): creates the ICE
 * endpoint and starts gathering. Local ICE credentials are random unless
 * local_ufrag/local_pwd are given (borrowed; RFC 8839 ice-chars, 4..256 and
 * 22..256). *out is new; free with km_conn_free. Returns 0, KM_EINVAL or
 * KM_EIO with the reason in err. */
int km_conn_new(GMainContext *ctx, const km_conn_config_t *cfg, const char *local_ufrag,
		const char *local_pwd, km_conn_t **out, char *err, size_t errlen);

/* Frees everything (ICE sockets, DTLS, SRTP sessions, timers); no callback
 * runs afterwards. May be called from inside a callback of its own.
 * Accepts NULL. */
void km_conn_free(km_conn_t *c);

/* The local ICE credentials (for the local SDP), KM_ICE_CRED_MAX bytes each. */
int km_conn_local_credentials(km_conn_t *c, char ufrag[KM_ICE_CRED_MAX], char pwd[KM_ICE_CRED_MAX]);

/* Sets what the remote SDP says: ICE ufrag and pwd, the peer's sha-256
 * fingerprint ("AB:CD:..."), and the DTLS role: dtls_server = 1 when the
 * local side is the DTLS server (local a=setup:passive). Borrowed. Starts
 * ICE checks; DTLS starts when ICE has a pair. Only once. Returns 0,
 * KM_EINVAL (reason in err) or KM_EIO. */
int km_conn_set_remote(km_conn_t *c, const char *ufrag, const char *pwd, const char *fingerprint,
		       int dtls_server, char *err, size_t errlen);

/* ICE restart: new local credentials (KM_ICE_CRED_MAX-bounded, borrowed)
 * and the peer's new ones from its re-offer; checks start again on the same
 * sockets while DTLS and SRTP carry on; local candidates are reported again
 * through on_candidate. Returns 0, KM_EINVAL (reason in err; also when the
 * connection has failed or closed: then it must be made anew) or KM_EIO. */
int km_conn_ice_restart(km_conn_t *c, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
			const char *remote_pwd, char *err, size_t errlen);

/* A trickled remote candidate ("candidate:..." with or without "a="), or
 * NULL / "" for end of candidates. Returns 0, KM_ICE_IGNORED (harmless),
 * or a negative code with the reason in err. Candidates may arrive before
 * km_conn_set_remote. */
int km_conn_add_candidate(km_conn_t *c, const char *candidate, char *err, size_t errlen);

/* Protects p[0..len) in place (cap: the size of the buffer, at least len +
 * KM_CONN_SEND_SLACK) and sends it. Packet path: no allocation. Returns 0,
 * KM_EBUSY (not connected yet: dropped), KM_EINVAL, or KM_EIO (the protect
 * or the send failed; counted). */
int km_conn_send_rtp(km_conn_t *c, uint8_t *p, size_t len, size_t cap);
int km_conn_send_rtcp(km_conn_t *c, uint8_t *p, size_t len, size_t cap);

/* Sends DTLS close_notify and moves to CLOSED (on_state is called). */
void km_conn_close(km_conn_t *c);

km_conn_state_t km_conn_state(const km_conn_t *c);
const char *km_conn_state_name(km_conn_state_t s);

/* The negotiated SRTP profile ("SRTP_AEAD_AES_256_GCM") once CONNECTED,
 * else "none". Static. */
const char *km_conn_srtp_profile(const km_conn_t *c);

/* A copy of the counters. */
void km_conn_stats(const km_conn_t *c, km_conn_stats_t *out);

/* Fingerprint helpers for SDP glue: formats 32 bytes as "AB:CD:..." into
 * out (KM_DTLS_FP_LEN bytes). */
void km_conn_fingerprint_hex(const uint8_t sha256[32], char out[KM_DTLS_FP_LEN]);

#endif
