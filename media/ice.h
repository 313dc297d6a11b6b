/* ice.h — kamer's ICE glue over libnice: one ICE endpoint per WebRTC
 * connection, with one stream and one component (BUNDLE + rtcp-mux), UDP
 * only, trickle ICE both ways and RFC 7675 consent freshness. It is not the
 * SDP codec (media/sdp.h carries the ufrag, pwd and candidate lines), not
 * DTLS and not the router: received datagrams go to on_recv untouched.
 *
 * Full ICE, not ICE-lite. kamer has a known address, which usually argues
 * for ICE-lite, but:
 *  - RFC 7675 consent freshness is driven by the agent that sends checks; a
 *    lite agent sends none, so a lite server cannot notice by itself that a
 *    peer stopped answering. kamer must drop such a peer within 30 s. Once
 *    ICE is READY the direct path (below) sends a consent check every 4-6 s
 *    and reports FAILED when none was answered for 10 s, as libnice's own
 *    consent freshness did (tests/unit/media/ice_test.c checks the 30 s
 *    bound; it measures 10 s).
 *  - libnice 0.1.21's NICE_AGENT_OPTION_LITE_MODE only turns off STUN and
 *    TURN gathering; the agent still runs checks as a full agent, so it
 *    would buy nothing and kamer would announce a=ice-lite falsely.
 * Role: the caller says. For the publish connection the browser offers and
 * kamer is controlled; for the subscribe connection kamer offers and (both
 * agents being full) is controlling (RFC 8445 6.1.1). Regular nomination.
 * Local ufrag (8 chars) and pwd (24 chars) come from getrandom(), not from
 * libnice's non-cryptographic generator, unless the caller gives its own.
 *
 * Gathering uses only the configured addresses and UDP port range: no STUN
 * or TURN server, no UPnP, no ICE-TCP. Remote candidates that cannot be used
 * here (TCP, component 2, hostnames such as mDNS "x.local") are ignored; the
 * browser still reaches kamer's own candidates, and kamer learns its address
 * as a peer-reflexive candidate.
 *
 * Threads: an endpoint lives on one GMainContext (a media worker's, see
 * media/worker.h). Call every function on the thread that runs that
 * context; every callback runs there too. No locks of kamer's own.
 * The direct path (media/ice_direct.c): once ICE is READY on a plain UDP
 * pair, kamer reads the selected socket itself, up to 16 datagrams per
 * recvmmsg, and libnice's receiving is parked; STUN that arrives then is
 * handled with libnice's STUN library (the peer's checks answered, our
 * consent checks sent and their answers taken). An ICE restart, a state
 * other than CONNECTED/READY, or a new selected pair gives the socket back
 * to libnice first. km_ice_stats says what it did.
 * Packet path: on_recv gets the receive buffer (valid only during the
 * call). km_ice_send() writes a datagram straight to libnice's socket of the
 * selected pair, addressed to the selected remote candidate (libnice keeps
 * that socket and sends its keep-alive indications on it), or into
 * the worker's send queue when one is configured; before a pair is
 * selected (or for a pair km_ice cannot send on itself) it hands the
 * datagram to nice_agent_send. Neither path allocates in this code. */
#ifndef KM_ICE_H
#define KM_ICE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "media/sendq.h"
#include "media/subloop.h"

typedef enum {
	KM_ICE_NEW = 0,      /* made, not gathering yet */
	KM_ICE_GATHERING,    /* gathering local candidates */
	KM_ICE_CHECKING,     /* connectivity checks running */
	KM_ICE_CONNECTED,    /* a pair works: km_ice_send works */
	KM_ICE_READY,        /* a pair is nominated: km_ice_send works */
	KM_ICE_FAILED,       /* checks failed or consent lost: tear down */
	KM_ICE_DISCONNECTED, /* libnice reset the component */
} km_ice_state_t;

/* Sizes of the credential buffers of km_ice_local_credentials (RFC 8839:
 * at most 256 characters, plus the NUL). */
#define KM_ICE_CRED_MAX 257
/* Longest candidate line km_ice_add_remote_candidate accepts. */
#define KM_ICE_CANDIDATE_MAX 512
/* km_ice_add_remote_candidate: the candidate is valid but unusable here. */
#define KM_ICE_IGNORED 1
/* How many local addresses a config may list. */
#define KM_ICE_MAX_ADDRS 8

typedef struct {
	/* Numeric local IPv4/IPv6 addresses to gather on ("127.0.0.1"); at
	 * least one. Borrowed during km_ice_new only. */
	const char *const *addresses;
	size_t n_addresses;
	/* UDP ports to bind, inclusive; 0/0 lets the kernel choose. */
	uint16_t port_min, port_max;
	/* A local candidate to trickle: the value of an a=candidate line
	 * ("candidate:1 1 UDP 2013266431 127.0.0.1 40012 typ host"), borrowed
	 * for the call. NULL once gathering is done (end-of-candidates). */
	void (*on_local_candidate)(void *ud, const char *candidate);
	/* The component's state changed (reported once per change). */
	void (*on_state)(void *ud, km_ice_state_t state);
	/* A datagram that is not STUN: DTLS, SRTP or SRTCP. p is borrowed for
	 * the call only. This is the packet path. */
	void (*on_recv)(void *ud, const uint8_t *p, size_t len);
	void *ud; /* passed to the callbacks */
	/* Optional local ICE credentials (borrowed during km_ice_new only):
	 * each one that is non-NULL is used instead of a random one; RFC 8839
	 * ice-chars, 4..256 (ufrag) and 22..256 (pwd) characters, else
	 * KM_EINVAL. NULL (the default) means random. */
	const char *local_ufrag, *local_pwd;
	/* Optional (borrowed; must outlive the endpoint): the worker's queue
	 * of outgoing datagrams (media/sendq.h). Once a pair is selected,
	 * km_ice_send queues there, to be sent with sendmmsg when the loop
	 * next polls; NULL (the default): each datagram is sent at once. */
	km_sendq_t *sendq;
	/* Optional (borrowed; must outlive the endpoint): the subloop whose
	 * subctx ctx is; the direct path then has the subloop watch its
	 * socket directly (media/subloop.h km_subwatch_new). NULL: a GSource
	 * on ctx. */
	km_subloop_t *subloop;
	/* Optional: SO_RCVBUF (bytes) of the selected pair's socket, capped by
	 * the kernel's net.core.rmem_max; 0 (the default) keeps the kernel's.
	 * The benchmark's load client, which receives many streams on one
	 * core, uses it; kamer does not. */
	int rcvbuf;
} km_ice_config_t;

typedef struct km_ice km_ice_t;

/* Makes an endpoint on ctx (borrowed; must outlive it and be run by the
 * calling thread) with cfg (copied; the callbacks may be NULL; the local
 * credentials, when given, are checked and copied). controlling:
 * 1 when kamer is the controlling agent. *out is new, caller frees with
 * km_ice_free. Returns 0 or KM_EINVAL (bad address, port range or argument;
 * reason in err) or KM_EIO (libnice refused). */
int km_ice_new(GMainContext *ctx, const km_ice_config_t *cfg, int controlling, km_ice_t **out,
	       char *err, size_t errlen);

/* Frees the endpoint: closes its sockets; no callback runs after this
 * returns. May be called from inside one of its own callbacks (the libnice
 * agent is then released on the next loop iteration of its context, or when
 * that context is freed). Accepts NULL. */
void km_ice_free(km_ice_t *ice);

/* Copies the local ufrag and pwd (for the SDP) into the caller's buffers of
 * KM_ICE_CRED_MAX bytes. Returns 0 or KM_EINVAL. */
int km_ice_local_credentials(km_ice_t *ice, char ufrag[KM_ICE_CRED_MAX],
			     char pwd[KM_ICE_CRED_MAX]);

/* Sets the peer's ufrag and pwd (from its SDP; borrowed). Checked against
 * RFC 8839 (ice-char only, 4..256 and 22..256 characters). Returns 0,
 * KM_EINVAL (reason in err) or KM_EIO. */
int km_ice_set_remote_credentials(km_ice_t *ice, const char *ufrag, const char *pwd, char *err,
				  size_t errlen);

/* Adds one trickled remote candidate: the value of an a=candidate line,
 * with or without the "a=" ("candidate:..."), borrowed. Returns 0 (added),
 * KM_ICE_IGNORED (valid but unusable here, see the top; harmless),
 * KM_ETOOBIG (longer than KM_ICE_CANDIDATE_MAX), KM_EINVAL (malformed,
 * reason in err) or KM_EIO. */
int km_ice_add_remote_candidate(km_ice_t *ice, const char *candidate, char *err, size_t errlen);

/* The peer has sent all its candidates (a=end-of-candidates or the null
 * candidate). Until then, with trickle, checks that run out do not fail the
 * component. Returns 0 or KM_EIO. */
int km_ice_remote_candidates_done(km_ice_t *ice);

/* ICE restart (RFC 8839 §4.4.1.1.1): new local credentials (given, or
 * random when NULL) and the peer's new ones; the peer's old candidates are
 * forgotten, checks start again on the same sockets (so DTLS and SRTP
 * above carry on), and every local candidate is reported again through
 * on_local_candidate (then NULL) for the peer's new generation. Until a pair
 * is selected again, km_ice_send returns KM_EBUSY. Returns 0, KM_EINVAL
 * (bad credentials, reason in err) or KM_EIO. */
int km_ice_restart(km_ice_t *ice, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
		   const char *remote_pwd, char *err, size_t errlen);

/* Starts gathering local candidates; they arrive through
 * on_local_candidate. Returns 0 or KM_EIO (no port free in the range, or
 * an address that is not local; reason in err). */
int km_ice_gather(km_ice_t *ice, char *err, size_t errlen);

/* Sends one datagram (borrowed) on the selected pair, or queues it (see
 * sendq in the config; a queued datagram the kernel later refuses is
 * counted by the queue, not here). Packet path: no allocation, no logging.
 * Returns 0, KM_EINVAL (bad argument), KM_EBUSY (no pair selected yet) or
 * KM_EIO (the send failed; the datagram is lost). */
int km_ice_send(km_ice_t *ice, const uint8_t *p, size_t len);

/* The current state (as last reported through on_state). */
km_ice_state_t km_ice_state(const km_ice_t *ice);

/* What the direct path (see the top) did so far. */
typedef struct {
	int direct;              /* 1 while kamer reads the selected socket itself */
	uint64_t directs;        /* times it took the socket over */
	uint64_t batches;        /* recvmmsg calls that returned datagrams */
	uint64_t datagrams;      /* datagrams handed to on_recv by it */
	uint64_t stun_answered;  /* the peer's checks answered */
	uint64_t stun_dropped;   /* STUN that failed validation, or not ours */
	uint64_t strangers;      /* non-STUN datagrams not from the peer: dropped */
	uint64_t checks_sent;    /* our consent checks */
	uint64_t checks_answered;
} km_ice_stats_t;
void km_ice_stats(const km_ice_t *ice, km_ice_stats_t *out);

/* Consent timing of the direct path, for endpoints made afterwards (all
 * threads): a check every interval_ms (randomised by ±20 %), another
 * after interval_ms / 2 while one is unanswered, and the component FAILED
 * when nothing was answered for timeout_ms. 0 keeps a value; the defaults
 * are 5000 and 10000. For tests. */
void km_ice_set_consent_timing(unsigned interval_ms, unsigned timeout_ms);

/* A short static name for a state ("connected"). */
const char *km_ice_state_name(km_ice_state_t s);

#endif
