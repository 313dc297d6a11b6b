/* conn.c — one WebRTC transport: the ICE endpoint (media/ice.h), the DTLS
 * endpoint (media/dtls.h) and the two SRTP sessions (media/srtp.h) of one
 * bundled, rtcp-muxed 5-tuple, glued together. It is not SDP and not the
 * router (see media/conn.h).
 *
 * Lifetime: every way into the owner's callbacks (libnice's callbacks, the
 * DTLS retransmission timer, the public calls that may call back) is
 * bracketed by enter()/leave(). km_conn_free() inside such a bracket only
 * marks the connection dying; nothing of the owner's runs after that, and
 * the outermost leave() frees it once the stack has unwound, so that no
 * frame of this file ever touches freed memory. The ICE endpoint does the
 * same for libnice's agent (km_ice_free may run inside its callbacks).
 * libnice reports the host candidates from inside km_ice_gather, so
 * on_candidate runs before km_conn_new returns; *out is set by then.
 *
 * Counters: drop_early also counts DTLS before km_conn_set_remote and SRTP
 * after FAILED or CLOSED; drop_invalid counts datagrams over 1500 bytes,
 * first bytes no RFC 7983 range of ours claims (ZRTP, TURN, stray STUN),
 * DTLS the endpoint ignores, and (S)RTP(C) libsrtp2 finds malformed.
 *
 * Threads: a connection lives on one GMainContext and every function, and
 * every callback, runs on the thread that runs it. */
#include "media/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "media/demux.h"
#include "media/srtp.h"

struct km_conn {
	/* The receive buffer first, aligned: unprotect works in it in place
	 * and the owner may protect it in place again to forward it. */
	_Alignas(16) uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	GMainContext *ctx;
	km_conn_config_t cfg; /* callbacks, ud, cert, profiles; no addresses */
	km_ice_t *ice;
	km_dtls_t *dtls;      /* NULL until km_conn_set_remote */
	km_srtp_t *srtp_in, *srtp_out; /* NULL until CONNECTED */
	GSource *timer;       /* DTLS retransmission; ready time -1 when idle */
	km_conn_state_t state;
	int ice_up;           /* ICE is CONNECTED or READY now */
	int ice_was_up;       /* ICE has been CONNECTED or READY */
	int in_cb;            /* depth of enter() */
	int dying;            /* km_conn_free was called */
	km_conn_stats_t st;
	char reason[224];     /* of FAILED, passed to on_state */
};

const char *km_conn_state_name(km_conn_state_t s)
{
	switch (s) {
	case KM_CONN_NEW: return "new";
	case KM_CONN_CHECKING: return "checking";
	case KM_CONN_DTLS: return "dtls";
	case KM_CONN_CONNECTED: return "connected";
	case KM_CONN_FAILED: return "failed";
	case KM_CONN_CLOSED: return "closed";
	}
	return "unknown";
}

km_conn_state_t km_conn_state(const km_conn_t *c)
{
	return c ? c->state : KM_CONN_FAILED;
}

const char *km_conn_srtp_profile(const km_conn_t *c)
{
	if (!c || c->state != KM_CONN_CONNECTED)
		return "none";
	return km_dtls_profile(c->dtls);
}

void km_conn_stats(const km_conn_t *c, km_conn_stats_t *out)
{
	if (!out)
		return;
	if (!c) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = c->st;
}

void km_conn_fingerprint_hex(const uint8_t sha256[32], char out[KM_DTLS_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[i * 3] = hex[sha256[i] >> 4];
		out[i * 3 + 1] = hex[sha256[i] & 15];
		out[i * 3 + 2] = i + 1 < 32 ? ':' : '\0';
	}
}

/* ---- lifetime ---- */

static void destroy(km_conn_t *c)
{
	if (c->timer) {
		g_source_destroy(c->timer);
		g_source_unref(c->timer);
	}
	km_ice_free(c->ice); /* safe inside its own callbacks */
	km_dtls_free(c->dtls);
	km_srtp_free(c->srtp_in);
	km_srtp_free(c->srtp_out);
	g_main_context_unref(c->ctx);
	explicit_bzero(c->buf, sizeof(c->buf)); /* the last plaintext packet */
	free(c);
}

static void enter(km_conn_t *c)
{
	c->in_cb++;
}

/* After this, c may be gone: the caller must not touch it again. */
static void leave(km_conn_t *c)
{
	if (--c->in_cb == 0 && c->dying)
		destroy(c);
}

void km_conn_free(km_conn_t *c)
{
	if (!c || c->dying)
		return;
	c->dying = 1;
	if (c->in_cb == 0)
		destroy(c);
	else if (c->timer)
		g_source_set_ready_time(c->timer, -1);
}

/* ---- state ---- */

static int terminal(km_conn_state_t s)
{
	return s == KM_CONN_FAILED || s == KM_CONN_CLOSED;
}

/* Moves to s and tells the owner (once per change). FAILED and CLOSED are
 * final. Call between enter() and leave(); check c->dying afterwards. */
static void set_state(km_conn_t *c, km_conn_state_t s, const char *reason)
{
	if (c->dying || c->state == s || terminal(c->state))
		return;
	km_debug("conn", "state", "conn=%p from=%s to=%s", (void *)c,
		 km_conn_state_name(c->state), km_conn_state_name(s));
	c->state = s;
	if (terminal(s) && c->timer)
		g_source_set_ready_time(c->timer, -1);
	if (c->cfg.on_state)
		c->cfg.on_state(c->cfg.ud, s, reason ? reason : "");
}

static void fail(km_conn_t *c, const char *prefix, const char *why)
{
	if (c->dying || terminal(c->state))
		return;
	snprintf(c->reason, sizeof(c->reason), "%s%s", prefix, why);
	set_state(c, KM_CONN_FAILED, c->reason);
}

/* ---- DTLS ---- */

/* The DTLS endpoint's output: one datagram on the selected pair. A loss
 * (no pair yet, send error) is repaired by DTLS retransmission. */
static void dtls_send(void *ud, const uint8_t *p, size_t len)
{
	km_conn_t *c = ud;

	(void)km_ice_send(c->ice, p, len);
}

/* Arms the retransmission timer as DTLS asks (or disarms it). */
static void arm_timer(km_conn_t *c)
{
	int ms = c->dtls && !terminal(c->state) && !c->dying ? km_dtls_timeout_ms(c->dtls) : -1;

	g_source_set_ready_time(c->timer,
				ms < 0 ? -1 : g_get_monotonic_time() + (gint64)ms * 1000);
}

/* DTLS is connected: export the keys, make both SRTP sessions, wipe the
 * keys. Returns 0 or a negative code. */
static int make_sessions(km_conn_t *c)
{
	km_srtp_keys_t k;
	int rc;

	rc = km_dtls_export_keys(c->dtls, &k);
	if (rc == 0)
		rc = km_srtp_session_new(&k, 1, &c->srtp_in);
	if (rc == 0)
		rc = km_srtp_session_new(&k, 0, &c->srtp_out);
	km_srtp_keys_wipe(&k);
	if (rc < 0) {
		km_srtp_free(c->srtp_in);
		km_srtp_free(c->srtp_out);
		c->srtp_in = c->srtp_out = NULL;
	}
	return rc;
}

/* Follows the DTLS endpoint's state after any call into it. */
static void dtls_progress(km_conn_t *c)
{
	switch (km_dtls_state(c->dtls)) {
	case KM_DTLS_NEW:
		break;
	case KM_DTLS_HANDSHAKING:
		if (c->state == KM_CONN_CHECKING)
			set_state(c, KM_CONN_DTLS, ""); /* a server's first datagram */
		break;
	case KM_DTLS_CONNECTED:
		if (c->state != KM_CONN_CHECKING && c->state != KM_CONN_DTLS)
			break;
		if (make_sessions(c) < 0)
			fail(c, "srtp: ", "could not key the sessions");
		else
			set_state(c, KM_CONN_CONNECTED, "");
		break;
	case KM_DTLS_FAILED:
		fail(c, "dtls: ", km_dtls_error(c->dtls));
		break;
	case KM_DTLS_CLOSED:
		set_state(c, KM_CONN_CLOSED, "");
		break;
	}
	if (!c->dying)
		arm_timer(c);
}

/* ICE has a pair and the remote side is known: the client sends its
 * ClientHello, the server waits for one. */
static void maybe_start_dtls(km_conn_t *c)
{
	if (!c->dtls || !c->ice_up || c->state != KM_CONN_CHECKING)
		return;
	set_state(c, KM_CONN_DTLS, "");
	if (c->dying)
		return;
	(void)km_dtls_start(c->dtls); /* a failure shows in its state */
	dtls_progress(c);
}

static gboolean timer_dispatch(GSource *src, GSourceFunc fn, gpointer ud)
{
	return fn ? fn(ud) : G_SOURCE_REMOVE;
}

static GSourceFuncs timer_funcs = { NULL, NULL, timer_dispatch, NULL, NULL, NULL };

static gboolean timer_fire(gpointer p)
{
	km_conn_t *c = p;

	g_source_set_ready_time(c->timer, -1);
	enter(c);
	if (c->dtls && !c->dying && !terminal(c->state)) {
		(void)km_dtls_on_timeout(c->dtls); /* a failure shows in its state */
		dtls_progress(c);
	}
	leave(c); /* may free c and destroy this source: fine during dispatch */
	return G_SOURCE_CONTINUE;
}

/* ---- the receive path (no allocation, no logging) ---- */

static void recv_dtls(km_conn_t *c, const uint8_t *p, size_t len)
{
	c->st.rx_dtls++;
	if (!c->dtls) {
		c->st.drop_early++; /* before km_conn_set_remote: the peer retransmits */
		return;
	}
	/* KM_EINVAL: not DTLS records, a client's unsolicited datagram, or
	 * anything after FAILED/CLOSED; ignored by the endpoint. */
	if (km_dtls_handle(c->dtls, p, len) == KM_EINVAL)
		c->st.drop_invalid++;
	dtls_progress(c);
}

static void recv_srtp(km_conn_t *c, const uint8_t *p, size_t len, int rtcp)
{
	size_t n = len;
	int rc;

	if (c->state != KM_CONN_CONNECTED) {
		c->st.drop_early++;
		return;
	}
	if (c->cfg.drop_rx && c->cfg.drop_rx(c->cfg.ud, p, len, rtcp))
		return; /* a test's simulated network loss */
	memcpy(c->buf, p, len);
	rc = rtcp ? km_srtp_unprotect_rtcp(c->srtp_in, c->buf, &n)
		  : km_srtp_unprotect(c->srtp_in, c->buf, &n);
	if (rc == KM_SRTP_EAUTH) {
		c->st.drop_auth++;
		return;
	}
	if (rc == KM_SRTP_EREPLAY) {
		c->st.drop_replay++;
		return;
	}
	if (rc != 0 || n == 0 || n > KM_CONN_MAX_PACKET) {
		c->st.drop_invalid++;
		return;
	}
	if (rtcp) {
		c->st.rx_rtcp++;
		if (c->cfg.on_rtcp)
			c->cfg.on_rtcp(c->cfg.ud, c->buf, n);
	} else {
		c->st.rx_rtp++;
		if (c->cfg.on_rtp)
			c->cfg.on_rtp(c->cfg.ud, c->buf, n);
	}
}

static void on_ice_recv(void *ud, const uint8_t *p, size_t len)
{
	km_conn_t *c = ud;

	if (c->dying)
		return;
	enter(c);
	c->st.rx_datagrams++;
	if (len > KM_CONN_MAX_PACKET) {
		c->st.drop_invalid++;
		goto out;
	}
	/* RFC 7983 by the first byte; RTP against RTCP by the second (the
	 * packet type 192..223, RFC 5761), as km_demux_classify does. */
	switch (km_demux_classify(p, len)) {
	case KM_DEMUX_DTLS:
		recv_dtls(c, p, len);
		break;
	case KM_DEMUX_RTP:
		recv_srtp(c, p, len, 0);
		break;
	case KM_DEMUX_RTCP:
		recv_srtp(c, p, len, 1);
		break;
	default: /* STUN reaches here only if libnice passed it on; ZRTP, TURN */
		c->st.drop_invalid++;
		break;
	}
out:
	leave(c);
}

/* ---- ICE callbacks ---- */

static void on_ice_state(void *ud, km_ice_state_t s)
{
	km_conn_t *c = ud;

	if (c->dying)
		return;
	enter(c);
	switch (s) {
	case KM_ICE_CONNECTED:
	case KM_ICE_READY:
		c->ice_up = c->ice_was_up = 1;
		maybe_start_dtls(c);
		break;
	case KM_ICE_FAILED:
		c->ice_up = 0;
		fail(c, "ice: ", c->ice_was_up ? "consent lost" : "failed");
		break;
	case KM_ICE_DISCONNECTED:
		c->ice_up = 0; /* libnice may recover; FAILED would follow */
		break;
	default:
		break;
	}
	leave(c);
}

static void on_ice_candidate(void *ud, const char *candidate)
{
	km_conn_t *c = ud;

	if (c->dying || !c->cfg.on_candidate)
		return;
	enter(c);
	c->cfg.on_candidate(c->cfg.ud, candidate);
	leave(c);
}

/* ---- the public calls ---- */

static int make_ice(km_conn_t *c, const km_conn_config_t *cfg, const char *ufrag,
		    const char *pwd, char *err, size_t errlen)
{
	km_ice_config_t icfg = {
		.addresses = cfg->addresses,
		.n_addresses = cfg->n_addresses,
		.port_min = cfg->port_min,
		.port_max = cfg->port_max,
		.on_local_candidate = on_ice_candidate,
		.on_state = on_ice_state,
		.on_recv = on_ice_recv,
		.ud = c,
		.local_ufrag = ufrag,
		.local_pwd = pwd,
		.sendq = cfg->sendq,
		.subloop = cfg->subloop,
		.rcvbuf = cfg->rcvbuf,
	};

	return km_ice_new(c->ctx, &icfg, cfg->ice_controlling, &c->ice, err, errlen);
}

int km_conn_new(GMainContext *ctx, const km_conn_config_t *cfg, const char *local_ufrag,
		const char *local_pwd, km_conn_t **out, char *err, size_t errlen)
{
	km_conn_t *c;
	int rc;

	if (!out)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	*out = NULL;
	if (!ctx || !cfg || !cfg->cert)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	c = calloc(1, sizeof(*c));
	if (!c)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	c->ctx = g_main_context_ref(ctx);
	c->cfg = *cfg;
	c->cfg.addresses = NULL;
	c->cfg.n_addresses = 0;
	c->state = KM_CONN_NEW;
	c->timer = g_source_new(&timer_funcs, sizeof(GSource));
	g_source_set_callback(c->timer, timer_fire, c, NULL);
	g_source_set_ready_time(c->timer, -1);
	g_source_attach(c->timer, ctx);
	rc = make_ice(c, cfg, local_ufrag, local_pwd, err, errlen);
	if (rc < 0) {
		destroy(c);
		return rc;
	}
	/* Gathering may report candidates before it returns: *out is set. */
	*out = c;
	enter(c);
	rc = km_ice_gather(c->ice, err, errlen);
	if (rc < 0) {
		*out = NULL;
		c->dying = 1;
	}
	leave(c);
	return rc;
}

int km_conn_local_credentials(km_conn_t *c, char ufrag[KM_ICE_CRED_MAX], char pwd[KM_ICE_CRED_MAX])
{
	if (!c || c->dying)
		return KM_EINVAL;
	return km_ice_local_credentials(c->ice, ufrag, pwd);
}

int km_conn_set_remote(km_conn_t *c, const char *ufrag, const char *pwd, const char *fingerprint,
		       int dtls_server, char *err, size_t errlen)
{
	km_dtls_t *d;
	int rc;

	if (!c || c->dying || !ufrag || !pwd || !fingerprint)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	if (c->dtls)
		return km_errf(KM_EINVAL, err, errlen, "remote description already set");
	if (terminal(c->state))
		return km_errf(KM_EINVAL, err, errlen, "connection is %s",
			       km_conn_state_name(c->state));
	d = km_dtls_new(c->cfg.cert, dtls_server, fingerprint, c->cfg.profiles);
	if (!d)
		return km_errf(KM_EIO, err, errlen, "could not make the DTLS endpoint");
	if (km_dtls_state(d) == KM_DTLS_FAILED) {
		rc = km_errf(KM_EINVAL, err, errlen, "dtls: %s", km_dtls_error(d));
		km_dtls_free(d);
		return rc;
	}
	enter(c);
	rc = km_ice_set_remote_credentials(c->ice, ufrag, pwd, err, errlen);
	if (rc < 0) {
		km_dtls_free(d);
		goto out;
	}
	km_dtls_set_send(d, dtls_send, c);
	c->dtls = d;
	set_state(c, KM_CONN_CHECKING, "");
	if (!c->dying)
		maybe_start_dtls(c); /* ICE may already have a pair */
out:
	leave(c);
	return rc;
}

int km_conn_ice_restart(km_conn_t *c, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
			const char *remote_pwd, char *err, size_t errlen)
{
	if (!c || c->dying || c->state == KM_CONN_FAILED || c->state == KM_CONN_CLOSED)
		return km_errf(KM_EINVAL, err, errlen, "the connection is gone");
	enter(c);
	int rc = km_ice_restart(c->ice, local_ufrag, local_pwd, remote_ufrag, remote_pwd, err, errlen);
	leave(c);
	return rc;
}

int km_conn_add_candidate(km_conn_t *c, const char *candidate, char *err, size_t errlen)
{
	int rc;

	if (!c || c->dying)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	enter(c);
	if (!candidate || candidate[0] == '\0') {
		rc = km_ice_remote_candidates_done(c->ice);
		if (rc < 0)
			km_errf(rc, err, errlen, "libnice refused end-of-candidates");
	} else {
		rc = km_ice_add_remote_candidate(c->ice, candidate, err, errlen);
	}
	leave(c);
	return rc;
}

/* The packet path of sending: protect in place, then one datagram. */
static int send_packet(km_conn_t *c, uint8_t *p, size_t len, size_t cap, int rtcp)
{
	size_t n = len;
	int rc;

	if (!c || !p || len == 0 || len > KM_CONN_MAX_PACKET || cap < len + KM_CONN_SEND_SLACK)
		return KM_EINVAL;
	if (c->dying || c->state != KM_CONN_CONNECTED)
		return KM_EBUSY;
	rc = rtcp ? km_srtp_protect_rtcp(c->srtp_out, p, &n, cap)
		  : km_srtp_protect(c->srtp_out, p, &n, cap);
	if (rc == 0)
		rc = km_ice_send(c->ice, p, n); /* calls nothing back */
	if (rc != 0) {
		c->st.tx_fail++;
		return KM_EIO;
	}
	if (rtcp)
		c->st.tx_rtcp++;
	else
		c->st.tx_rtp++;
	return 0;
}

int km_conn_send_rtp(km_conn_t *c, uint8_t *p, size_t len, size_t cap)
{
	return send_packet(c, p, len, cap, 0);
}

int km_conn_send_rtcp(km_conn_t *c, uint8_t *p, size_t len, size_t cap)
{
	return send_packet(c, p, len, cap, 1);
}

void km_conn_close(km_conn_t *c)
{
	if (!c || c->dying || terminal(c->state))
		return;
	enter(c);
	if (c->dtls)
		(void)km_dtls_close(c->dtls); /* close_notify if connected */
	set_state(c, KM_CONN_CLOSED, "");
	leave(c);
}
