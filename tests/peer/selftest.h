/* selftest.h — the test peer without a server: two connections in one
 * process on 127.0.0.1, one publishing as a browser would (our pub offer:
 * Opus + VP8, actpass, ICE controlling), the other answering the way kamer
 * does (passive: DTLS server, ICE controlled; recvonly) and receiving,
 * decoding and sending NACK/PLI/RR back. It checks the SDP, ICE, DTLS,
 * SRTP, RTP/RTCP and codec code of the peer end to end.
 *
 * Threads: runs on the calling thread with its own GMainContext. */
#ifndef KM_PEER_SELFTEST_H
#define KM_PEER_SELFTEST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "tests/peer/codec.h"

typedef struct {
	int seconds;       /* of media once both sides are connected */
	int timeout;       /* overall limit in seconds */
	bool audio, video; /* what the publisher sends */
	int loss_pct;      /* loss on the way: the publisher drops first
			    * transmissions before SRTP, NACKs repair them */
	uint32_t seed;
	unsigned profiles;
	/* Non-NULL: the publisher is a handshake probe offering only these
	 * (tests/peer/probe.h) and the answerer allows AES-256-GCM and
	 * AES-128-GCM; the result is the handshake's. */
	const char *probe_profiles;
	bool wrong_fingerprint; /* the probe's SDP fingerprint is not its certificate's */
	const char *address;
	km_peer_src_config_t video_cfg;
} km_peer_selftest_config_t;

/* Runs the self-test. *report is a new JSON object (caller decrefs).
 * Returns 0 if media went through as expected (or, probing, the handshake
 * succeeded), 2 if a probe was refused, 1 otherwise. */
int km_peer_selftest_run(const km_peer_selftest_config_t *cfg, json_t **report);

#endif
