/* conn_test.c — unit tests of media/conn: WebRTC transports on 127.0.0.1
 * in one thread with one GMainContext that the test iterates itself.
 * Two connections (A controlling and DTLS client, B controlled and DTLS
 * server) trickle candidates to each other, reach CONNECTED and carry RTP
 * A->B and RTCP B->A; a wrong fingerprint fails the checking side; sends
 * before CONNECTED are refused; a hand-built peer (a bare km_ice_t plus a
 * km_dtls_t, so that it can send anything from the verified remote address)
 * drops DTLS flights to force retransmission by the connection's timer and
 * injects garbage, replays and forgeries that must be counted as drops;
 * km_conn_free from inside on_candidate, on_state and on_rtp; close_notify;
 * the ICE failure reasons (this one waits for libnice's own timeouts, about
 * 10 s). Every wait has a deadline; nothing asserts on time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "media/conn.h"
#include "media/rtcp.h"
#include "media/srtp.h"

#define PORT_MIN 47400
#define PORT_MAX 47599
#define MAX_CANDS 16
#define WAIT_US (10 * G_TIME_SPAN_SECOND)

static GMainContext *ctx;
static km_dtls_cert_t *cert_a, *cert_b, *cert_other;

typedef struct peer {
	km_conn_t *c;      /* a connection under test, or: */
	km_ice_t *ice;     /* the hand-built peer's ICE endpoint */
	km_dtls_t *xd;     /* its DTLS endpoint */
	km_srtp_t *x_out;  /* its outbound SRTP session */
	int x_up;          /* its ICE has a pair */
	int x_accept_dtls; /* else DTLS datagrams are dropped (and counted) */
	int x_dtls_dropped;
	char ufrag[KM_ICE_CRED_MAX], pwd[KM_ICE_CRED_MAX];
	char cands[MAX_CANDS][KM_ICE_CANDIDATE_MAX + 1];
	int n_cands, n_relayed, gathered, gathered_relayed;
	km_conn_state_t state;
	char reason[256];
	int n_state_calls;
	int free_on_state;  /* free inside on_state when entering this state */
	int free_on_rtp;    /* free inside on_rtp */
	int free_on_cand;   /* free inside on_candidate */
	int freed;
	int n_rtp, n_rtcp;
	uint8_t got[KM_CONN_MAX_PACKET];
	size_t got_len;
	struct peer *other;
} peer_t;

/* ---- the connection's callbacks ---- */

static void cb_candidate(void *ud, const char *line)
{
	peer_t *p = ud;

	if (!line) {
		p->gathered = 1;
	} else {
		assert_true(p->n_cands < MAX_CANDS);
		assert_true(strlen(line) <= KM_ICE_CANDIDATE_MAX);
		strcpy(p->cands[p->n_cands++], line);
	}
	if (p->free_on_cand && p->c) {
		km_conn_free(p->c);
		p->c = NULL;
		p->freed = 1;
	}
}

static void cb_state(void *ud, km_conn_state_t s, const char *reason)
{
	peer_t *p = ud;

	assert_non_null(reason);
	assert_int_not_equal(s, p->state); /* once per change */
	p->state = s;
	p->n_state_calls++;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	if (p->free_on_state == (int)s && p->c) {
		km_conn_free(p->c); /* from inside its own callback */
		p->c = NULL;
		p->freed = 1;
	}
}

static void cb_packet(peer_t *p, uint8_t *b, size_t len)
{
	assert_true(len <= sizeof(p->got));
	memcpy(p->got, b, len);
	p->got_len = len;
	memset(b + len, 0xEE, KM_CONN_SEND_SLACK); /* the promised room behind it */
}

static void cb_rtp(void *ud, uint8_t *b, size_t len)
{
	peer_t *p = ud;

	p->n_rtp++;
	cb_packet(p, b, len);
	if (p->free_on_rtp && p->c) {
		km_conn_free(p->c);
		p->c = NULL;
		p->freed = 1;
	}
}

static void cb_rtcp(void *ud, uint8_t *b, size_t len)
{
	peer_t *p = ud;

	p->n_rtcp++;
	cb_packet(p, b, len);
}

/* ---- the hand-built peer's callbacks ---- */

static void x_state(void *ud, km_ice_state_t s)
{
	peer_t *p = ud;

	if (s == KM_ICE_CONNECTED || s == KM_ICE_READY)
		p->x_up = 1;
}

static void x_recv(void *ud, const uint8_t *b, size_t len)
{
	peer_t *p = ud;

	if (b[0] < 20 || b[0] > 63 || !p->xd)
		return; /* SRTP from the connection: not looked at */
	if (!p->x_accept_dtls) {
		p->x_dtls_dropped++;
		return;
	}
	(void)km_dtls_handle(p->xd, b, len);
}

static void x_send(void *ud, const uint8_t *b, size_t len)
{
	peer_t *p = ud;

	(void)km_ice_send(p->ice, b, len);
}

/* ---- driving the loop ---- */

static void add_cand(peer_t *to, const char *line)
{
	char err[128];
	int rc;

	if (to->c)
		rc = km_conn_add_candidate(to->c, line, err, sizeof(err));
	else if (to->ice && line)
		rc = km_ice_add_remote_candidate(to->ice, line, err, sizeof(err));
	else if (to->ice)
		rc = km_ice_remote_candidates_done(to->ice);
	else
		return;
	assert_true(rc == 0 || rc == KM_ICE_IGNORED);
}

/* Trickles what p gathered to p->other, once remote credentials exist. */
static void relay(peer_t *p)
{
	if (!p->other)
		return;
	while (p->n_relayed < p->n_cands)
		add_cand(p->other, p->cands[p->n_relayed++]);
	if (p->gathered && !p->gathered_relayed) {
		p->gathered_relayed = 1;
		add_cand(p->other, NULL);
	}
}

/* Iterates ctx until done(a, b) or the deadline; 1 if done. */
static int run_until(peer_t *a, peer_t *b, int (*done)(peer_t *, peer_t *), gint64 us)
{
	gint64 end = g_get_monotonic_time() + us;

	for (;;) {
		relay(a);
		relay(b);
		if (a->xd && km_dtls_timeout_ms(a->xd) == 0)
			(void)km_dtls_on_timeout(a->xd);
		if (done(a, b))
			return 1;
		if (g_get_monotonic_time() >= end)
			return 0;
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(500);
	}
}

static int never(peer_t *a, peer_t *b)
{
	return 0;
}

/* Runs the loop for a while (to let pending work finish), bounded. */
static void settle(peer_t *a, peer_t *b, gint64 us)
{
	(void)run_until(a, b, never, us);
}

static int both_connected(peer_t *a, peer_t *b)
{
	return a->state == KM_CONN_CONNECTED && b->state == KM_CONN_CONNECTED;
}

/* ---- setting up ---- */

static const char *const addrs[] = { "127.0.0.1" };

static void new_conn(peer_t *p, int controlling, const km_dtls_cert_t *cert, const char *ufrag,
		     const char *pwd)
{
	km_conn_config_t cfg = {
		.addresses = addrs, .n_addresses = 1,
		.port_min = PORT_MIN, .port_max = PORT_MAX,
		.ice_controlling = controlling, .cert = cert,
		.on_candidate = cb_candidate, .on_state = cb_state,
		.on_rtp = cb_rtp, .on_rtcp = cb_rtcp, .ud = p,
	};
	char err[128] = "";
	int rc;

	rc = km_conn_new(ctx, &cfg, ufrag, pwd, &p->c, err, sizeof(err));
	if (rc != 0)
		print_message("km_conn_new: %s\n", err);
	assert_int_equal(rc, 0);
	if (p->freed)
		return;
	assert_non_null(p->c);
	assert_int_equal(km_conn_local_credentials(p->c, p->ufrag, p->pwd), 0);
}

static void init_pair(peer_t *a, peer_t *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->other = b;
	b->other = a;
	a->free_on_state = b->free_on_state = -1;
}

/* A (controlling, DTLS client) and B (controlled, DTLS server, with given
 * ICE credentials); fp_a is what A expects of B and fp_b of A. */
static void make_pair(peer_t *a, peer_t *b, const char *fp_a, const char *fp_b)
{
	char err[128] = "";

	new_conn(a, 1, cert_a, NULL, NULL);
	new_conn(b, 0, cert_b, "bbbb", "B+given/password0123456789");
	assert_string_equal(b->ufrag, "bbbb");
	assert_string_equal(b->pwd, "B+given/password0123456789");
	assert_int_equal(strlen(a->ufrag), 8);
	assert_int_equal(km_conn_state(a->c), KM_CONN_NEW);
	assert_int_equal(km_conn_set_remote(a->c, b->ufrag, b->pwd, fp_a, 0, err, sizeof(err)), 0);
	assert_int_equal(km_conn_set_remote(b->c, a->ufrag, a->pwd, fp_b, 1, err, sizeof(err)), 0);
	assert_int_equal(a->state, KM_CONN_CHECKING);
	assert_int_equal(b->state, KM_CONN_CHECKING);
}

static void free_pair(peer_t *a, peer_t *b)
{
	km_conn_free(a->c);
	km_conn_free(b->c);
	a->c = b->c = NULL;
	settle(a, b, 50 * G_TIME_SPAN_MILLISECOND); /* libnice's deferred releases */
}

/* An RTP packet: V=2, PT 96, seq, ts, ssrc, then n bytes of pattern. */
static size_t make_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t n)
{
	size_t i;

	b[0] = 0x80;
	b[1] = 96;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = 0, b[5] = 0, b[6] = (uint8_t)(seq >> 8), b[7] = (uint8_t)seq;
	b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
	for (i = 0; i < n; i++)
		b[12 + i] = (uint8_t)(i * 7 + seq);
	return 12 + n;
}

static int b_got_rtp(peer_t *a, peer_t *b)
{
	return b->n_rtp > 0;
}

static int a_got_rtcp(peer_t *a, peer_t *b)
{
	return a->n_rtcp > 0;
}

/* ---- 1: connect and carry RTP and RTCP ---- */

static void test_connect_rtp_rtcp(void **state)
{
	peer_t a, b;
	uint8_t pkt[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK], want[KM_CONN_MAX_PACKET];
	km_rtcp_report_t rb = { .ssrc = 0x11223344, .fraction_lost = 3, .cumulative_lost = 5,
				.ext_highest_seq = 1000, .jitter = 20, .lsr = 7, .dlsr = 9 };
	km_conn_stats_t sa, sb;
	size_t len;
	int n;

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, both_connected, WAIT_US));
	assert_true(a.n_cands >= 1 && b.n_cands >= 1);
	assert_string_equal(km_conn_srtp_profile(a.c), "SRTP_AEAD_AES_256_GCM");
	assert_string_equal(km_conn_srtp_profile(b.c), "SRTP_AEAD_AES_256_GCM");
	assert_string_equal(a.reason, "");

	len = make_rtp(pkt, 1, 0xA1A1A1A1, 160);
	memcpy(want, pkt, len);
	assert_int_equal(km_conn_send_rtp(a.c, pkt, len, sizeof(pkt)), 0);
	assert_memory_not_equal(pkt, want, len); /* protected in place */
	assert_true(run_until(&a, &b, b_got_rtp, WAIT_US));
	assert_int_equal(b.n_rtp, 1);
	assert_int_equal(b.got_len, len);
	assert_memory_equal(b.got, want, len);

	n = km_rtcp_write_rr(pkt, sizeof(pkt), 0xB2B2B2B2, &rb, 1);
	assert_true(n > 0);
	memcpy(want, pkt, (size_t)n);
	assert_int_equal(km_conn_send_rtcp(b.c, pkt, (size_t)n, sizeof(pkt)), 0);
	assert_true(run_until(&a, &b, a_got_rtcp, WAIT_US));
	assert_int_equal(a.n_rtcp, 1);
	assert_int_equal(a.n_rtp, 0);
	assert_int_equal(a.got_len, (size_t)n);
	assert_memory_equal(a.got, want, (size_t)n);

	km_conn_stats(a.c, &sa);
	km_conn_stats(b.c, &sb);
	assert_int_equal(sa.tx_rtp, 1);
	assert_int_equal(sb.tx_rtcp, 1);
	assert_int_equal(sb.rx_rtp, 1);
	assert_int_equal(sa.rx_rtcp, 1);
	assert_true(sa.rx_dtls >= 1 && sb.rx_dtls >= 1);
	assert_int_equal(sb.drop_auth + sb.drop_replay + sb.drop_invalid, 0);
	assert_int_equal(sa.drop_auth + sa.drop_replay + sa.drop_invalid, 0);
	assert_int_equal(sa.tx_fail + sb.tx_fail, 0);
	free_pair(&a, &b);
}

/* ---- 1b: ICE restart keeps DTLS and SRTP, new credentials, media again ---- */

static peer_t *restart_a;
static uint16_t restart_seq = 100;

/* Sends one RTP packet from A (while ICE re-checks, sending may be refused). */
static int b_got_rtp_after_restart(peer_t *a, peer_t *b)
{
	uint8_t pkt[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	size_t len = make_rtp(pkt, restart_seq++, 0xA1A1A1A1, 100);

	if (b->n_rtp > 0)
		return 1;
	(void)km_conn_send_rtp(restart_a->c, pkt, len, sizeof(pkt));
	g_usleep(2000);
	return 0;
}

static void forget_candidates(peer_t *p)
{
	p->n_cands = p->n_relayed = p->gathered = p->gathered_relayed = 0;
}

static void test_ice_restart(void **state)
{
	peer_t a, b;
	char err[128] = "", u[KM_ICE_CRED_MAX], pw[KM_ICE_CRED_MAX];
	km_conn_stats_t sb;

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, both_connected, WAIT_US));
	int dtls_rx = 0;
	km_conn_stats(b.c, &sb);
	dtls_rx = (int)sb.rx_dtls;

	/* Bad credentials change nothing. */
	assert_int_equal(km_conn_ice_restart(a.c, "aaa2", "short", b.ufrag, b.pwd, err, sizeof(err)), KM_EINVAL);
	/* Both sides restart with new credentials, as after a re-offer and its answer. */
	forget_candidates(&a);
	forget_candidates(&b);
	assert_int_equal(km_conn_ice_restart(a.c, "aaa2", "A+new/password0123456789", "bbb2", "B+new/password0123456789",
					     err, sizeof(err)), 0);
	assert_int_equal(km_conn_ice_restart(b.c, "bbb2", "B+new/password0123456789", "aaa2", "A+new/password0123456789",
					     err, sizeof(err)), 0);
	assert_int_equal(km_conn_local_credentials(a.c, u, pw), 0);
	assert_string_equal(u, "aaa2");
	assert_string_equal(pw, "A+new/password0123456789");
	assert_true(a.n_cands >= 1 && a.gathered); /* candidates reported again */
	assert_true(b.n_cands >= 1 && b.gathered);
	/* Media flows again with the same SRTP keys: no new DTLS handshake. */
	restart_a = &a;
	assert_true(run_until(&a, &b, b_got_rtp_after_restart, WAIT_US));
	assert_int_equal(a.state, KM_CONN_CONNECTED);
	assert_int_equal(b.state, KM_CONN_CONNECTED);
	km_conn_stats(b.c, &sb);
	assert_int_equal((int)sb.rx_dtls, dtls_rx);
	assert_int_equal(sb.drop_auth, 0);
	/* A closed connection is not restarted: it must be made anew. */
	km_conn_close(a.c);
	assert_int_equal(km_conn_ice_restart(a.c, "aaa3", "A+new/password0123456789", "bbb3", "B+new/password0123456789",
					     err, sizeof(err)), KM_EINVAL);
	free_pair(&a, &b);
}

/* ---- 2: a wrong fingerprint fails the side that checks ---- */

static int a_failed(peer_t *a, peer_t *b)
{
	return a->state == KM_CONN_FAILED;
}

static int b_failed(peer_t *a, peer_t *b)
{
	return b->state == KM_CONN_FAILED;
}

static void test_wrong_fingerprint_server_side(void **state)
{
	peer_t a, b;

	init_pair(&a, &b);
	b.free_on_state = KM_CONN_FAILED; /* and free it there, mid-receive */
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_other));
	assert_true(run_until(&a, &b, b_failed, WAIT_US));
	print_message("B: %s\n", b.reason);
	assert_true(strncmp(b.reason, "dtls: ", 6) == 0);
	assert_non_null(strstr(b.reason, "fingerprint"));
	assert_true(b.freed);
	assert_int_not_equal(a.state, KM_CONN_CONNECTED);
	free_pair(&a, &b);
}

static void test_wrong_fingerprint_client_side(void **state)
{
	peer_t a, b;

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_other), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, a_failed, WAIT_US));
	print_message("A: %s\n", a.reason);
	assert_true(strncmp(a.reason, "dtls: ", 6) == 0);
	assert_non_null(strstr(a.reason, "fingerprint"));
	assert_int_not_equal(b.state, KM_CONN_CONNECTED);
	assert_string_equal(km_conn_srtp_profile(a.c), "none");
	assert_int_equal(km_conn_send_rtp(a.c, (uint8_t[64]){ 0x80, 96 }, 12, 64), KM_EBUSY);
	free_pair(&a, &b);
}

/* ---- 3: arguments, and no media before CONNECTED ---- */

static void test_before_connected(void **state)
{
	peer_t p;
	km_conn_t *x = NULL;
	km_conn_config_t cfg = { .addresses = addrs, .n_addresses = 1 };
	uint8_t pkt[64 + KM_CONN_SEND_SLACK];
	char err[128] = "", uf[KM_ICE_CRED_MAX], pw[KM_ICE_CRED_MAX];
	km_conn_stats_t st;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.free_on_state = -1;
	assert_int_equal(km_conn_new(ctx, &cfg, NULL, NULL, &x, err, sizeof(err)), KM_EINVAL);
	assert_null(x); /* no certificate */
	cfg.cert = cert_a;
	assert_int_equal(km_conn_new(ctx, &cfg, "abc", NULL, &x, err, sizeof(err)), KM_EINVAL);
	assert_int_equal(km_conn_new(ctx, &cfg, NULL, "short+pwd", &x, err, sizeof(err)),
			 KM_EINVAL);
	assert_int_equal(km_conn_new(ctx, &cfg, "ab;d", NULL, &x, err, sizeof(err)), KM_EINVAL);
	assert_null(x);

	new_conn(&p, 0, cert_a, NULL, NULL);
	assert_int_equal(km_conn_state(p.c), KM_CONN_NEW);
	assert_string_equal(km_conn_srtp_profile(p.c), "none");
	len = make_rtp(pkt, 1, 1, 20);
	assert_int_equal(km_conn_send_rtp(p.c, pkt, len, sizeof(pkt)), KM_EBUSY);
	assert_int_equal(km_conn_send_rtcp(p.c, pkt, 8, sizeof(pkt)), KM_EBUSY);
	assert_int_equal(km_conn_send_rtp(p.c, pkt, len, len + 4), KM_EINVAL); /* no room */
	assert_int_equal(km_conn_send_rtp(NULL, pkt, len, sizeof(pkt)), KM_EINVAL);

	/* set_remote: a malformed fingerprint and bad credentials change nothing */
	assert_int_equal(km_conn_set_remote(p.c, "abcd", "0123456789012345678901", "AB:CD", 1,
					    err, sizeof(err)), KM_EINVAL);
	assert_true(strncmp(err, "dtls: ", 6) == 0);
	assert_int_equal(km_conn_set_remote(p.c, "ab", "0123456789012345678901",
					    km_dtls_cert_fingerprint(cert_b), 1, err, sizeof(err)),
			 KM_EINVAL);
	assert_int_equal(km_conn_state(p.c), KM_CONN_NEW);
	assert_int_equal(km_conn_set_remote(p.c, "abcd", "0123456789012345678901",
					    km_dtls_cert_fingerprint(cert_b), 1, err, sizeof(err)), 0);
	assert_int_equal(km_conn_state(p.c), KM_CONN_CHECKING);
	assert_int_equal(p.state, KM_CONN_CHECKING);
	assert_int_equal(km_conn_set_remote(p.c, "abcd", "0123456789012345678901",
					    km_dtls_cert_fingerprint(cert_b), 1, err, sizeof(err)),
			 KM_EINVAL); /* only once */
	assert_int_equal(km_conn_send_rtp(p.c, pkt, len, sizeof(pkt)), KM_EBUSY);
	assert_int_equal(km_conn_add_candidate(p.c, "candidate:1 1 tcp 1 127.0.0.1 9 typ host",
					       err, sizeof(err)), KM_ICE_IGNORED);
	assert_int_equal(km_conn_add_candidate(p.c, "bogus", err, sizeof(err)), KM_EINVAL);
	assert_int_equal(km_conn_local_credentials(p.c, uf, pw), 0);
	assert_string_equal(uf, p.ufrag);

	km_conn_stats(p.c, &st);
	assert_int_equal(st.tx_rtp + st.tx_rtcp + st.tx_fail, 0);
	km_conn_close(p.c);
	assert_int_equal(p.state, KM_CONN_CLOSED);
	assert_int_equal(km_conn_send_rtp(p.c, pkt, len, sizeof(pkt)), KM_EBUSY);
	km_conn_free(p.c);
	km_conn_free(NULL);
	settle(&p, &p, 20 * G_TIME_SPAN_MILLISECOND);
}

/* ---- 4: drops, counted, from a hand-built peer at the verified address ---- */

static int x_and_conn_up(peer_t *x, peer_t *b)
{
	return x->x_up && b->state == KM_CONN_DTLS && x->x_dtls_dropped >= 1;
}

static uint64_t want_rx;

static int conn_got_all(peer_t *x, peer_t *b)
{
	km_conn_stats_t st;

	km_conn_stats(b->c, &st);
	return st.rx_datagrams >= want_rx;
}

static int x_and_conn_connected(peer_t *x, peer_t *b)
{
	return km_dtls_state(x->xd) == KM_DTLS_CONNECTED && b->state == KM_CONN_CONNECTED;
}

static void x_sendv(peer_t *x, const uint8_t *p, size_t len)
{
	assert_int_equal(km_ice_send(x->ice, p, len), 0);
	want_rx++;
}

/* The hand-built peer X (controlling, DTLS server with cert_a) and the
 * connection B (controlled, DTLS client). */
static void make_x_pair(peer_t *x, peer_t *b)
{
	km_ice_config_t icfg = {
		.addresses = addrs, .n_addresses = 1, .port_min = PORT_MIN, .port_max = PORT_MAX,
		.on_local_candidate = cb_candidate, .on_state = x_state, .on_recv = x_recv,
		.ud = x,
	};
	char err[128] = "";

	init_pair(x, b);
	assert_int_equal(km_ice_new(ctx, &icfg, 1, &x->ice, err, sizeof(err)), 0);
	assert_int_equal(km_ice_local_credentials(x->ice, x->ufrag, x->pwd), 0);
	x->xd = km_dtls_new(cert_a, 1, km_dtls_cert_fingerprint(cert_b), 0);
	assert_non_null(x->xd);
	km_dtls_set_send(x->xd, x_send, x);
	new_conn(b, 0, cert_b, NULL, NULL);
	assert_int_equal(km_conn_set_remote(b->c, x->ufrag, x->pwd, km_dtls_cert_fingerprint(cert_a),
					    0, err, sizeof(err)), 0);
	assert_int_equal(km_ice_set_remote_credentials(x->ice, b->ufrag, b->pwd, err, sizeof(err)),
			 0);
	assert_int_equal(km_ice_gather(x->ice, err, sizeof(err)), 0);
}

static void free_x_pair(peer_t *x, peer_t *b)
{
	km_srtp_free(x->x_out);
	km_dtls_free(x->xd);
	x->xd = NULL;
	km_ice_free(x->ice);
	x->ice = NULL;
	free_pair(x, b);
}

static void test_drops_are_counted(void **state)
{
	peer_t x, b;
	uint8_t pkt[2000], copy[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	km_conn_stats_t st;
	km_srtp_keys_t k;
	size_t len, n;

	make_x_pair(&x, &b);
	/* ICE up; B (DTLS client) has sent a ClientHello that X dropped */
	assert_true(run_until(&x, &b, x_and_conn_up, WAIT_US));

	km_conn_stats(b.c, &st);
	want_rx = st.rx_datagrams;
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 5;                     /* no RFC 7983 range */
	x_sendv(&x, pkt, 20);
	pkt[0] = 70;                    /* TURN channel data */
	x_sendv(&x, pkt, 20);
	pkt[0] = 22, pkt[1] = 0x03;     /* DTLS handshake, bad version */
	x_sendv(&x, pkt, 40);
	len = make_rtp(pkt, 9, 0xC3C3C3C3, 1600);
	x_sendv(&x, pkt, len);          /* over 1500 bytes */
	len = make_rtp(pkt, 9, 0xC3C3C3C3, 40);
	x_sendv(&x, pkt, len);          /* SRTP before DTLS */
	pkt[1] = 201;
	x_sendv(&x, pkt, 32);           /* SRTCP before DTLS */
	assert_true(run_until(&x, &b, conn_got_all, WAIT_US));
	km_conn_stats(b.c, &st);
	assert_int_equal(st.drop_invalid, 4);
	assert_int_equal(st.drop_early, 2);
	assert_int_equal(b.n_rtp + b.n_rtcp, 0);

	/* Now let DTLS through: only B's retransmission timer can resend the
	 * ClientHello that X dropped. */
	x.x_accept_dtls = 1;
	assert_true(run_until(&x, &b, x_and_conn_connected, WAIT_US));
	assert_string_equal(km_conn_srtp_profile(b.c), "SRTP_AEAD_AES_256_GCM");
	assert_int_equal(km_dtls_export_keys(x.xd, &k), 0);
	assert_int_equal(km_srtp_session_new(&k, 0, &x.x_out), 0);
	km_srtp_keys_wipe(&k);

	km_conn_stats(b.c, &st);
	want_rx = st.rx_datagrams;
	len = make_rtp(pkt, 100, 0xD4D4D4D4, 100);
	n = len;
	assert_int_equal(km_srtp_protect(x.x_out, pkt, &n, sizeof(pkt)), 0);
	memcpy(copy, pkt, n);
	x_sendv(&x, pkt, n);            /* good */
	x_sendv(&x, copy, n);           /* the same again: replay */
	len = make_rtp(pkt, 101, 0xD4D4D4D4, 100);
	n = len;
	assert_int_equal(km_srtp_protect(x.x_out, pkt, &n, sizeof(pkt)), 0);
	pkt[30] ^= 1;
	x_sendv(&x, pkt, n);            /* forged: authentication fails */
	x_sendv(&x, pkt, 8);            /* shorter than an RTP header */
	assert_true(run_until(&x, &b, conn_got_all, WAIT_US));
	km_conn_stats(b.c, &st);
	assert_int_equal(st.rx_rtp, 1);
	assert_int_equal(b.n_rtp, 1);
	assert_int_equal(st.drop_replay, 1);
	assert_int_equal(st.drop_auth, 1);
	assert_int_equal(st.drop_invalid, 5);
	assert_int_equal(st.drop_early, 2);
	free_x_pair(&x, &b);
}

/* ---- 5: km_conn_free from inside callbacks; close_notify ---- */

static int b_freed_a_connected(peer_t *a, peer_t *b)
{
	return b->freed && a->state == KM_CONN_CONNECTED;
}

static void test_free_inside_on_state(void **state)
{
	peer_t a, b;

	init_pair(&a, &b);
	b.free_on_state = KM_CONN_CONNECTED; /* inside the receive of A's Finished */
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, b_freed_a_connected, WAIT_US));
	assert_null(b.c);
	assert_int_equal(b.state, KM_CONN_CONNECTED);
	free_pair(&a, &b);

	/* and from inside on_candidate, possibly while km_conn_new runs */
	init_pair(&a, &b);
	a.free_on_cand = 1;
	a.other = NULL;
	new_conn(&a, 1, cert_a, NULL, NULL);
	settle(&a, &b, 100 * G_TIME_SPAN_MILLISECOND);
	assert_true(a.freed);
	assert_null(a.c);
	assert_int_equal(a.n_cands + a.gathered, 1); /* nothing after the free */
}

static void test_free_inside_on_rtp(void **state)
{
	peer_t a, b;
	uint8_t pkt[256];
	size_t len;
	int i;

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, both_connected, WAIT_US));
	b.free_on_rtp = 1;
	for (i = 0; i < 5; i++) {
		len = make_rtp(pkt, (uint16_t)(10 + i), 0xE5E5E5E5, 100);
		assert_int_equal(km_conn_send_rtp(a.c, pkt, len, sizeof(pkt)), 0);
	}
	assert_true(run_until(&a, &b, b_got_rtp, WAIT_US));
	settle(&a, &b, 100 * G_TIME_SPAN_MILLISECOND); /* the other four arrive, or not */
	assert_true(b.freed);
	assert_int_equal(b.n_rtp, 1); /* no callback after the free */
	free_pair(&a, &b);
}

static int b_closed(peer_t *a, peer_t *b)
{
	return b->state == KM_CONN_CLOSED;
}

static void test_close_notify(void **state)
{
	peer_t a, b;
	uint8_t pkt[256];
	size_t len;

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, both_connected, WAIT_US));
	a.free_on_state = KM_CONN_CLOSED; /* free inside the on_state of km_conn_close */
	km_conn_close(a.c);
	assert_true(a.freed);
	assert_int_equal(a.state, KM_CONN_CLOSED);
	assert_true(run_until(&a, &b, b_closed, WAIT_US));
	assert_string_equal(km_conn_srtp_profile(b.c), "none");
	len = make_rtp(pkt, 1, 1, 20);
	assert_int_equal(km_conn_send_rtp(b.c, pkt, len, sizeof(pkt)), KM_EBUSY);
	free_pair(&a, &b);
}

/* ---- ICE failure reasons (the slow one: libnice's own timeouts) ---- */

static int both_failed(peer_t *a, peer_t *c)
{
	return a->state == KM_CONN_FAILED && c->state == KM_CONN_FAILED;
}

/* A loses consent after its peer B goes away (libnice: about 10 s); C,
 * whose only remote candidate answers nothing, fails its checks (about 7
 * s). Both run at once. */
static void test_ice_failure_reasons(void **state)
{
	peer_t a, b, c;
	char err[128];

	init_pair(&a, &b);
	make_pair(&a, &b, km_dtls_cert_fingerprint(cert_b), km_dtls_cert_fingerprint(cert_a));
	assert_true(run_until(&a, &b, both_connected, WAIT_US));
	memset(&c, 0, sizeof(c));
	c.free_on_state = -1;
	new_conn(&c, 1, cert_a, NULL, NULL);
	assert_int_equal(km_conn_set_remote(c.c, "abcd", "0123456789012345678901",
					    km_dtls_cert_fingerprint(cert_b), 0, err, sizeof(err)), 0);
	assert_int_equal(km_conn_add_candidate(c.c, "candidate:1 1 udp 2122260223 127.0.0.1 9 "
						     "typ host", err, sizeof(err)), 0);
	assert_int_equal(km_conn_add_candidate(c.c, NULL, err, sizeof(err)), 0);
	km_conn_free(b.c);
	b.c = NULL;
	a.other = NULL;
	assert_true(run_until(&a, &c, both_failed, 30 * G_TIME_SPAN_SECOND));
	assert_string_equal(a.reason, "ice: consent lost");
	assert_string_equal(c.reason, "ice: failed");
	assert_string_equal(km_conn_srtp_profile(a.c), "none");
	km_conn_free(c.c);
	c.c = NULL;
	free_pair(&a, &b);
}

/* ---- 6: the fingerprint format ---- */

static void test_fingerprint_hex(void **state)
{
	uint8_t md[32];
	char out[KM_DTLS_FP_LEN];
	size_t i;

	for (i = 0; i < 32; i++)
		md[i] = (uint8_t)(i * 8 + 0x0A);
	memset(out, 'x', sizeof(out));
	km_conn_fingerprint_hex(md, out);
	assert_int_equal(strlen(out), 95);
	assert_true(strncmp(out, "0A:12:1A:22:2A:32:3A:42:4A:52:5A:62:6A:72:7A:82:", 48) == 0);
	assert_string_equal(out + 93, "02");
	for (i = 0; i < 32; i++) {
		assert_true(out[i * 3 + 2] == (i == 31 ? '\0' : ':'));
		assert_true(strchr("0123456789ABCDEF", out[i * 3]) != NULL);
	}
	memset(md, 0xFF, sizeof(md));
	km_conn_fingerprint_hex(md, out);
	assert_true(strncmp(out, "FF:FF:", 6) == 0);
	/* the format km_dtls_cert_fingerprint gives, which conn passes through */
	assert_int_equal(strlen(km_dtls_cert_fingerprint(cert_a)), 95);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	if (km_srtp_init() != 0 || km_dtls_cert_new(&cert_a) || km_dtls_cert_new(&cert_b) ||
	    km_dtls_cert_new(&cert_other))
		return -1;
	ctx = g_main_context_new();
	return ctx ? 0 : -1;
}

static int group_teardown(void **state)
{
	int i;

	for (i = 0; i < 1000 && g_main_context_iteration(ctx, FALSE); i++)
		;
	g_main_context_unref(ctx);
	km_dtls_cert_free(cert_a);
	km_dtls_cert_free(cert_b);
	km_dtls_cert_free(cert_other);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint_hex),
		cmocka_unit_test(test_before_connected),
		cmocka_unit_test(test_connect_rtp_rtcp),
		cmocka_unit_test(test_ice_restart),
		cmocka_unit_test(test_wrong_fingerprint_server_side),
		cmocka_unit_test(test_wrong_fingerprint_client_side),
		cmocka_unit_test(test_drops_are_counted),
		cmocka_unit_test(test_free_inside_on_state),
		cmocka_unit_test(test_free_inside_on_rtp),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_ice_failure_reasons),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
