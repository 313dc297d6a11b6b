/* ice_direct.c — the direct path: once ICE is READY on a plain UDP pair,
 * kamer reads the selected socket itself, a batch per recvmmsg, instead of
 * libnice reading it one datagram per recvmsg under its locks, GObject
 * references and GLib dispatches. libnice's receiving is parked (its
 * socket sources sit on a context nobody runs); its timers go on, but with
 * consent freshness off it only sends keep-alive indications. What libnice
 * did with the STUN that arrives after ICE, this file does with libnice's
 * own STUN library (stun/usages/ice.h):
 *  - the peer's checks (RFC 7675 consent, keep-alives) are validated with
 *    our short-term credentials and answered;
 *  - our consent checks go out every 4-6 s (and again after 2.5 s while
 *    one is unanswered), and when none was answered for 10 s the endpoint
 *    reports FAILED, as libnice's consent freshness did;
 *  - a valid check with USE-CANDIDATE from another address of the peer
 *    (the controlling side moved) moves the pair there, when we are
 *    controlled.
 * Datagrams other than STUN are taken from the peer's address only (libnice
 * drops unknown sources too). Leaving (ICE restart, another state, free)
 * gives the socket back to libnice. Threads: the endpoint's context's. */
#include "media/ice_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "core/log.h"

#define BATCH 16
#define ROUNDS 4        /* batches per wake-up at most: others get their turn */
#define DGRAM_MAX 2048  /* larger datagrams (none in WebRTC) are dropped */
#define STUN_OUT 576    /* STUN_MAX_MESSAGE_SIZE_IPV4 */

static unsigned consent_interval_ms = 5000;
static unsigned consent_timeout_ms = 10000;

void km_ice_set_consent_timing(unsigned interval_ms, unsigned timeout_ms)
{
	if (interval_ms)
		__atomic_store_n(&consent_interval_ms, interval_ms, __ATOMIC_RELAXED);
	if (timeout_ms)
		__atomic_store_n(&consent_timeout_ms, timeout_ms, __ATOMIC_RELAXED);
}

/* Attributes we understand; STUN requests with other comprehension-required
 * ones are dropped (RFC 5389 would answer 420). */
static const uint16_t known_attributes[] = {
	STUN_ATTRIBUTE_MAPPED_ADDRESS, STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
	STUN_ATTRIBUTE_ERROR_CODE, STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
	STUN_ATTRIBUTE_PRIORITY, STUN_ATTRIBUTE_USE_CANDIDATE, STUN_ATTRIBUTE_ICE_CONTROLLED,
	STUN_ATTRIBUTE_ICE_CONTROLLING, STUN_ATTRIBUTE_FINGERPRINT, 0
};

typedef struct {
	GSource src; /* first: reads when the socket is readable */
	km_ice_t *ice;
} reader_t;

struct km_ice_direct {
	km_subwatch_t *watch; /* the reader: a subloop watch, or else */
	GSource *reader;      /* a GSource on the endpoint's context */
	GSource *timer;
	StunAgent stun;
	StunTransactionId kept[KM_ICE_CHECKS_KEPT]; /* our unanswered checks, oldest first */
	int nkept;
	unsigned interval_us, timeout_us;
	gint64 answered_at; /* monotonic µs: the last answer to our checks (or the start) */
	gint64 sent_at;     /* our last check */
	gint64 next_at;     /* our next check */
};

/* One batch of receive buffers per thread (a worker reads one socket at a
 * time, and nothing reads from inside on_recv), set up on first use; a
 * read changes only each header's address length (and the outputs). */
static _Thread_local struct {
	uint8_t buf[BATCH][DGRAM_MAX];
	struct iovec iov[BATCH];
	km_ice_addr_t from[BATCH];
	struct mmsghdr msg[BATCH];
	bool ready;
} rx;

static void rx_setup(void)
{
	for (int i = 0; i < BATCH; i++) {
		rx.iov[i] = (struct iovec){ .iov_base = rx.buf[i], .iov_len = DGRAM_MAX };
		rx.msg[i].msg_hdr = (struct msghdr){ .msg_name = &rx.from[i], .msg_namelen = sizeof(rx.from[i]),
						     .msg_iov = &rx.iov[i], .msg_iovlen = 1 };
	}
	rx.ready = true;
}

static bool same_peer(const km_ice_t *ice, const km_ice_addr_t *a, socklen_t len)
{
	if (a->sa.sa_family != ice->peer.sa.sa_family || len < ice->peer_len)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == ice->peer.in.sin_port &&
		       a->in.sin_addr.s_addr == ice->peer.in.sin_addr.s_addr;
	return a->in6.sin6_port == ice->peer.in6.sin6_port &&
	       memcmp(&a->in6.sin6_addr, &ice->peer.in6.sin6_addr, sizeof(struct in6_addr)) == 0;
}

static void send_to(km_ice_t *ice, const uint8_t *p, size_t len, const struct sockaddr *to, socklen_t tolen)
{
	(void)sendto(ice->sel_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
}

/* ---- STUN ---- */

/* A request's USERNAME is "ours:theirs"; its key is our password. */
static bool validater(StunAgent *agent, StunMessage *msg, uint8_t *user, uint16_t ulen, uint8_t **key,
		      size_t *keylen, void *ud)
{
	km_ice_t *ice = ud;
	size_t n = strlen(ice->ufrag), r = strlen(ice->rufrag);

	(void)agent;
	(void)msg;
	if (!user || ulen != n + 1 + r || memcmp(user, ice->ufrag, n) != 0 || user[n] != ':' ||
	    memcmp(user + n + 1, ice->rufrag, r) != 0)
		return false;
	*key = (uint8_t *)ice->pwd;
	*keylen = strlen(ice->pwd);
	return true;
}

static void forget_kept(struct km_ice_direct *d)
{
	for (int i = 0; i < d->nkept; i++)
		stun_agent_forget_transaction(&d->stun, d->kept[i]);
	d->nkept = 0;
}

static void answer(km_ice_t *ice, StunMessage *req, const km_ice_addr_t *from, socklen_t flen)
{
	struct km_ice_direct *d = ice->direct;
	uint8_t out[STUN_OUT];
	size_t olen = sizeof(out);
	StunMessage resp;
	bool control = ice->controlling;
	StunUsageIceReturn r;

	r = stun_usage_ice_conncheck_create_reply(&d->stun, req, &resp, out, &olen, &from->ss, flen, &control,
						  ice->tie, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
	if ((r != STUN_USAGE_ICE_RETURN_SUCCESS && r != STUN_USAGE_ICE_RETURN_ROLE_CONFLICT) || olen == 0) {
		ice->stats.stun_dropped++;
		return;
	}
	send_to(ice, out, olen, &from->sa, flen);
	ice->stats.stun_answered++;
	/* The controlling peer nominated a pair from another of its addresses. */
	if (r == STUN_USAGE_ICE_RETURN_SUCCESS && !ice->controlling && stun_usage_ice_conncheck_use_candidate(req) &&
	    !same_peer(ice, from, flen) && (from->sa.sa_family == AF_INET || from->sa.sa_family == AF_INET6)) {
		ice->peer = *from;
		ice->peer_len = from->sa.sa_family == AF_INET ? sizeof(ice->peer.in) : sizeof(ice->peer.in6);
		km_info("ice", "peer_moved", "ice=%p", (void *)ice);
	}
}

static void on_stun(km_ice_t *ice, uint8_t *p, size_t len, const km_ice_addr_t *from, socklen_t flen)
{
	struct km_ice_direct *d = ice->direct;
	StunMessage msg;
	StunTransactionId id;

	StunValidationStatus v;

	if (len >= 20 && (p[0] & 0x01) == 0 && (p[1] & 0x10) != 0)
		return; /* an indication (class 01: keep-alive): nothing to answer */
	v = stun_agent_validate(&d->stun, &msg, p, len, validater, ice);
	if (v != STUN_VALIDATION_SUCCESS || stun_message_get_method(&msg) != STUN_BINDING) {
		km_debug("ice", "stun_dropped", "ice=%p validation=%d", (void *)ice, (int)v);
		ice->stats.stun_dropped++;
		return;
	}
	switch (stun_message_get_class(&msg)) {
	case STUN_REQUEST:
		answer(ice, &msg, from, flen);
		break;
	case STUN_RESPONSE: /* validated: an answer to one of our kept checks */
		stun_message_id(&msg, id);
		for (int i = 0; i < d->nkept; i++)
			if (memcmp(d->kept[i], id, sizeof(id)) == 0) {
				memmove(&d->kept[i], &d->kept[i + 1], (size_t)(d->nkept - i - 1) * sizeof(id));
				d->nkept--;
				break;
			}
		d->answered_at = g_get_monotonic_time();
		ice->stats.checks_answered++;
		break;
	default: /* an error answer: nothing to do */
		break;
	}
}

/* Our consent check (RFC 7675 section 5.1), on the selected pair. */
static void send_check(km_ice_t *ice, gint64 now)
{
	struct km_ice_direct *d = ice->direct;
	uint8_t out[STUN_OUT];
	char user[2 * KM_ICE_CRED_MAX];
	StunMessage msg;
	size_t n;
	int ulen = snprintf(user, sizeof(user), "%s:%s", ice->rufrag, ice->ufrag);

	if (ulen < 0 || (size_t)ulen >= sizeof(user))
		return;
	if (d->nkept == KM_ICE_CHECKS_KEPT) { /* the oldest is given up */
		stun_agent_forget_transaction(&d->stun, d->kept[0]);
		memmove(&d->kept[0], &d->kept[1], (KM_ICE_CHECKS_KEPT - 1) * sizeof(d->kept[0]));
		d->nkept--;
	}
	n = stun_usage_ice_conncheck_create(&d->stun, &msg, out, sizeof(out), (const uint8_t *)user, (size_t)ulen,
					    (const uint8_t *)ice->rpwd, strlen(ice->rpwd), false, ice->controlling,
					    ice->sel_priority, ice->tie, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
	if (n == 0)
		return;
	stun_message_id(&msg, d->kept[d->nkept++]);
	send_to(ice, out, n, &ice->peer.sa, ice->peer_len);
	ice->stats.checks_sent++;
	d->sent_at = now;
	/* 4-6 s (for the default 5 s): 0.8-1.2 times the interval */
	d->next_at = now + (gint64)d->interval_us * 4 / 5 + g_random_int_range(0, (gint32)(d->interval_us * 2 / 5) + 1);
}

static gboolean on_tick(gpointer p)
{
	km_ice_t *ice = p;
	struct km_ice_direct *d = ice->direct;
	gint64 now = g_get_monotonic_time();

	if (!d)
		return G_SOURCE_REMOVE;
	if (now - d->answered_at > (gint64)d->timeout_us) {
		km_info("ice", "consent_lost", "ice=%p silent_ms=%lld", (void *)ice,
			(long long)((now - d->answered_at) / 1000));
		km__ice_direct_leave(ice);
		km__ice_report(ice, KM_ICE_FAILED);
		return G_SOURCE_REMOVE; /* leave destroyed it */
	}
	if (now >= d->next_at || (d->nkept > 0 && now - d->sent_at >= (gint64)d->interval_us / 2))
		send_check(ice, now);
	return G_SOURCE_CONTINUE;
}

/* ---- reading ---- */

/* Up to ROUNDS batches; each datagram to on_stun or on_recv. */
static void read_socket(km_ice_t *ice)
{
	ice->in_cb++;
	if (!rx.ready)
		rx_setup();
	for (int round = 0; round < ROUNDS && ice->direct && !ice->doomed; round++) {
		int n = recvmmsg(ice->sel_fd, rx.msg, BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			break; /* EAGAIN, or an error libnice would also have ignored for UDP */
		ice->stats.batches++;
		for (int i = 0; i < n && ice->direct && !ice->doomed; i++) {
			uint8_t *p = rx.buf[i];
			size_t len = rx.msg[i].msg_len;
			socklen_t flen = rx.msg[i].msg_hdr.msg_namelen;

			if (len == 0 || (rx.msg[i].msg_hdr.msg_flags & MSG_TRUNC))
				continue;
			if (p[0] < 4) { /* STUN (RFC 7983) */
				on_stun(ice, p, len, &rx.from[i], flen);
				continue;
			}
			if (!same_peer(ice, &rx.from[i], flen)) {
				ice->stats.strangers++;
				continue;
			}
			ice->stats.datagrams++;
			if (ice->cb.on_recv)
				ice->cb.on_recv(ice->cb.ud, p, len);
		}
		for (int i = 0; i < n; i++) /* the kernel wrote the sender's length there */
			rx.msg[i].msg_hdr.msg_namelen = sizeof(rx.from[i]);
		if (n < BATCH)
			break;
	}
	km__ice_leave_cb(ice);
}

static void on_watch(void *ud)
{
	read_socket(ud);
}

static gboolean reader_dispatch(GSource *src, GSourceFunc fn, gpointer ud)
{
	(void)fn;
	(void)ud;
	read_socket(((reader_t *)src)->ice);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs reader_funcs = { NULL, NULL, reader_dispatch, NULL, NULL, NULL };

/* ---- entering and leaving ---- */

void km__ice_direct_enter(km_ice_t *ice)
{
	struct km_ice_direct *d;
	gint64 now = g_get_monotonic_time();

	if (ice->direct || ice->doomed || ice->state != KM_ICE_READY || ice->sel_fd < 0 || !ice->rufrag[0])
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return; /* libnice goes on reading */
	stun_agent_init(&d->stun, known_attributes, STUN_COMPATIBILITY_RFC5389,
			STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
	d->interval_us = __atomic_load_n(&consent_interval_ms, __ATOMIC_RELAXED) * 1000u;
	d->timeout_us = __atomic_load_n(&consent_timeout_ms, __ATOMIC_RELAXED) * 1000u;
	d->answered_at = d->sent_at = now;
	d->next_at = now; /* the first check at the first tick */
	ice->direct = d;
	km__ice_nice_receives(ice, false);
	d->watch = km_subwatch_new(ice->cb.subloop, ice->sel_fd, on_watch, ice);
	if (!d->watch) {
		d->reader = g_source_new(&reader_funcs, sizeof(reader_t));
		((reader_t *)d->reader)->ice = ice;
		g_source_add_unix_fd(d->reader, ice->sel_fd, G_IO_IN);
		g_source_set_can_recurse(d->reader, TRUE); /* see unblock_current_source in ice.c */
		g_source_attach(d->reader, ice->ctx);
	}
	d->timer = g_timeout_source_new(d->interval_us / 5000 ? d->interval_us / 5000 : 1); /* 1 s by default */
	g_source_set_callback(d->timer, on_tick, ice, NULL);
	g_source_attach(d->timer, ice->ctx);
	ice->stats.direct = 1;
	ice->stats.directs++;
	km_debug("ice", "direct", "ice=%p on=1", (void *)ice);
}

void km__ice_direct_leave(km_ice_t *ice)
{
	struct km_ice_direct *d = ice->direct;

	if (!d)
		return;
	ice->direct = NULL;
	ice->stats.direct = 0;
	km_subwatch_free(d->watch);
	if (d->reader) {
		g_source_destroy(d->reader);
		g_source_unref(d->reader);
	}
	g_source_destroy(d->timer);
	g_source_unref(d->timer);
	forget_kept(d);
	free(d);
	if (!ice->doomed)
		km__ice_nice_receives(ice, true);
	km_debug("ice", "direct", "ice=%p on=0", (void *)ice);
}
