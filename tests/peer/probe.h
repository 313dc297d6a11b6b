/* probe.h — a DTLS-SRTP handshake probe for the test peer: ICE by
 * media/ice.h, then a DTLS 1.2 client of its own (OpenSSL) that offers
 * exactly the use_srtp profiles it is told, so that a test can check what
 * kamer accepts and refuses: "SRTP_AES128_CM_SHA1_80" only (kamer must
 * refuse), or "SRTP_AEAD_AES_128_GCM" only (accepted only when the
 * organisation allows AES-128). media/dtls.c cannot do this: it always
 * offers AES-256-GCM and never HMAC-SHA1. The probe carries no media: its
 * outcome is the handshake (the negotiated profile, or the refusal).
 *
 * With wrong_fingerprint its SDP carries the fingerprint of a second
 * throwaway certificate, not of the one it shows in the handshake: kamer
 * must refuse the handshake (RFC 8122 5; issue #9).
 *
 * It builds and reads SDP like pc.h (tests/peer/peer_sdp.h) and is always
 * the DTLS client (a=setup:actpass in offers, active in answers).
 *
 * Threads: everything on the thread iterating cfg.ctx. */
#ifndef KM_PEER_PROBE_H
#define KM_PEER_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

typedef struct km_peer_probe km_peer_probe_t;

typedef enum {
	KM_PEER_PROBE_PENDING = 0,
	KM_PEER_PROBE_CONNECTED, /* handshake done: km_peer_probe_profile() */
	KM_PEER_PROBE_REFUSED,   /* the peer refused the handshake (an alert) */
	KM_PEER_PROBE_FAILED,    /* ICE failed, timed out, or another error */
} km_peer_probe_result_t;

typedef struct {
	GMainContext *ctx;        /* borrowed */
	const char *name;         /* "pub", "sub", "echo": static */
	const char *address;      /* where to gather (borrowed during new) */
	bool offerer;             /* ICE controlling */
	const char *srtp_profiles; /* OpenSSL use_srtp list, e.g. "SRTP_AES128_CM_SHA1_80" (copied) */
	bool wrong_fingerprint;    /* SDP fingerprint of another certificate than the handshake's */
	/* Local candidate line, "" at the end; held back until flush. */
	void (*on_candidate)(void *ud, km_peer_probe_t *p, const char *candidate);
	/* The outcome became known (once). */
	void (*on_done)(void *ud, km_peer_probe_t *p);
	void *ud;
} km_peer_probe_config_t;

/* *out is new (free with km_peer_probe_free). Returns 0 or a negative code
 * with the reason in err. */
int km_peer_probe_new(const km_peer_probe_config_t *cfg, km_peer_probe_t **out, char *err,
		      size_t errlen);
void km_peer_probe_free(km_peer_probe_t *p);

/* The same contracts as km_peer_pc_offer / _set_answer / _take_offer /
 * _add_candidate / _flush_candidates (pc.h). */
char *km_peer_probe_offer(km_peer_probe_t *p, bool sendrecv, char *err, size_t errlen);
int km_peer_probe_set_answer(km_peer_probe_t *p, const char *sdp, size_t len, char *err,
			     size_t errlen);
char *km_peer_probe_take_offer(km_peer_probe_t *p, const char *sdp, size_t len, char *err,
			       size_t errlen);
int km_peer_probe_add_candidate(km_peer_probe_t *p, const char *candidate, char *err,
				size_t errlen);
void km_peer_probe_flush_candidates(km_peer_probe_t *p);

km_peer_probe_result_t km_peer_probe_result(const km_peer_probe_t *p);
/* The negotiated profile name, "none" unless CONNECTED. Static. */
const char *km_peer_probe_profile(const km_peer_probe_t *p);
/* Why it was refused or failed ("" otherwise). Borrowed. */
const char *km_peer_probe_reason(const km_peer_probe_t *p);

#endif
