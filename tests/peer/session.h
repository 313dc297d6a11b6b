/* session.h — one run of the test peer against a kamer server: the WSS
 * consult protocol (docs/protocol.md) as a participant (join, consent,
 * name, wait for admission) or as staff (watch, optionally admit everyone
 * who waits), then the media connections it was asked for (pub, sub,
 * echo), for a number of seconds, and a JSON report. No personal data is
 * printed: progress lines name states and connections only.
 *
 * Threads: runs on the calling thread (its own GMainContext plus
 * libwebsockets, serviced in turn). */
#ifndef KM_PEER_SESSION_H
#define KM_PEER_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "tests/peer/codec.h"

typedef struct {
	const char *url, *ca;       /* wss://HOST:PORT/ws, the CA file */
	const char *token, *name;   /* participant: link token, display name */
	const char *cookie;         /* staff: "NAME=VALUE" session cookie */
	long long consult;          /* staff: consult id */
	bool pub_audio, pub_video, subscribe, echo, admit_all;
	int seconds;                /* of media, once it flows */
	int timeout;                /* overall limit in seconds */
	int loss_pct;               /* received RTP dropped (see pc.h) */
	int tx_loss_pct;            /* first transmissions dropped before SRTP */
	uint32_t seed;
	unsigned profiles;          /* KM_DTLS_* bits for km_conn */
	const char *probe_profiles; /* non-NULL: handshake probes offering only these */
	bool wrong_fingerprint;     /* probes: SDP fingerprint not of the handshake's certificate */
	const char *address;        /* local media address */
	km_peer_src_config_t video;
} km_peer_session_config_t;

/* Runs to the end. *report gets a new JSON object (caller decrefs).
 * Returns the exit code: 0 worked as asked, 2 the server refused, 1
 * otherwise. */
int km_peer_session_run(const km_peer_session_config_t *cfg, json_t **report);

#endif
