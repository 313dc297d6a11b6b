/* ice_test.c — unit tests of media/ice on media/worker threads: two
 * workers, two endpoints on 127.0.0.1 (one controlling, one controlled);
 * the test's main thread plays the signaling thread: it drains both
 * workers' event queues (woken by the sink) and carries credentials and
 * trickled candidates across with km_worker_call. Then 1000 datagrams each
 * way, the consent-freshness bound (a peer that stops answering is reported
 * failed within 30 s), candidate-line checking, and clean frees.
 * Assertions run on the main thread only; worker-side code records facts
 * under one mutex. Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "media/ice.h"
#include "media/worker.h"

#define PORT_MIN 47300
#define PORT_MAX 47399
#define N_DGRAMS 1000
#define BATCH 50
#define DGRAM_LEN 200

static GMutex lock; /* guards every field the two sides share below */
static GCond cond;
static int wakes;

typedef struct peer {
	km_worker_t *w;
	km_ice_t *ice;
	uint64_t id;
	int controlling;
	int free_on_fail; /* free the endpoint from inside on_state(FAILED) */
	char ufrag[KM_ICE_CRED_MAX], pwd[KM_ICE_CRED_MAX];
	km_ice_state_t state;
	int up;           /* reached CONNECTED or READY */
	int failed;
	gint64 failed_at;
	int n_local;      /* candidates seen by the "signaling" side */
	int bad_local;    /* a local candidate outside 127.0.0.1 / the range */
	int gathered;
	unsigned got;     /* datagrams received */
	unsigned bad;     /* malformed or duplicate datagrams */
	uint8_t seen[N_DGRAMS];
	km_ice_stats_t st; /* as of the last step_stats */
	int rc;           /* result of the last call run on the worker */
	char err[128];
	struct peer *other;
} peer_t;

/* ---- running something on a worker and waiting for it ---- */

typedef struct {
	void (*fn)(peer_t *);
	peer_t *p;
	int done;
} sync_t;

static void sync_trampoline(void *arg)
{
	sync_t *s = arg;

	s->fn(s->p);
	g_mutex_lock(&lock);
	s->done = 1;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
}

/* Runs fn(p) on p's worker; returns p->rc, or KM_EBUSY after 5 s. */
static int on_worker(peer_t *p, void (*fn)(peer_t *))
{
	sync_t s = { fn, p, 0 };
	gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;

	if (km_worker_call(p->w, sync_trampoline, &s) != 0)
		return KM_EINVAL;
	g_mutex_lock(&lock);
	while (!s.done && g_cond_wait_until(&cond, &lock, end))
		;
	g_mutex_unlock(&lock);
	return s.done ? p->rc : KM_EBUSY;
}

/* ---- callbacks (worker thread) ---- */

static void cb_candidate(void *ud, const char *line)
{
	peer_t *p = ud;

	if (line)
		km_worker_push_event(p->w, KM_MEDIA_EV_ICE_CANDIDATE, p->id, 0, line);
	else
		km_worker_push_event(p->w, KM_MEDIA_EV_ICE_GATHERED, p->id, 0, NULL);
}

static void cb_state(void *ud, km_ice_state_t s)
{
	peer_t *p = ud;

	g_mutex_lock(&lock);
	p->state = s;
	if (s == KM_ICE_CONNECTED || s == KM_ICE_READY)
		p->up = 1;
	if (s == KM_ICE_FAILED && !p->failed) {
		p->failed = 1;
		p->failed_at = g_get_monotonic_time();
	}
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
	km_worker_push_event(p->w, KM_MEDIA_EV_ICE_STATE, p->id, (int)s, NULL);
	if (s == KM_ICE_FAILED && p->free_on_fail) {
		km_ice_free(p->ice); /* from inside its own callback */
		p->ice = NULL;
	}
}

static void cb_recv(void *ud, const uint8_t *b, size_t len)
{
	peer_t *p = ud;
	unsigned seq;
	size_t i;
	int ok = len == DGRAM_LEN && b[0] == 0x80;

	seq = ok ? ((unsigned)b[2] << 8 | b[3]) : N_DGRAMS;
	for (i = 4; ok && i < len; i++)
		ok = b[i] == (uint8_t)(seq + i);
	g_mutex_lock(&lock);
	if (!ok || seq >= N_DGRAMS || p->seen[seq]) {
		p->bad++;
	} else {
		p->seen[seq] = 1;
		p->got++;
	}
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
}

static void sink(void *ud)
{
	g_mutex_lock(&lock);
	wakes++;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
}

/* ---- worker-side steps ---- */

static void step_new(peer_t *p)
{
	static const char *const addrs[] = { "127.0.0.1" };
	km_ice_config_t cfg = {
		.addresses = addrs, .n_addresses = 1,
		.port_min = PORT_MIN, .port_max = PORT_MAX,
		.on_local_candidate = cb_candidate, .on_state = cb_state, .on_recv = cb_recv,
		.ud = p,
	};

	p->rc = km_ice_new(km_worker_context(p->w), &cfg, p->controlling, &p->ice, p->err,
			   sizeof(p->err));
	if (p->rc == 0)
		p->rc = km_ice_local_credentials(p->ice, p->ufrag, p->pwd);
}

static void step_remote_creds(peer_t *p)
{
	p->rc = km_ice_set_remote_credentials(p->ice, p->other->ufrag, p->other->pwd, p->err,
					      sizeof(p->err));
}

static void step_gather(peer_t *p)
{
	p->rc = km_ice_gather(p->ice, p->err, sizeof(p->err));
}

static void step_free(peer_t *p)
{
	km_ice_free(p->ice);
	p->ice = NULL;
	p->rc = 0;
}

static void step_stats(peer_t *p)
{
	km_ice_stats(p->ice, &p->st);
	p->rc = 0;
}

static unsigned batch_start;

static void step_send_batch(peer_t *p)
{
	uint8_t b[DGRAM_LEN];
	unsigned seq;
	size_t i;

	p->rc = 0;
	for (seq = batch_start; seq < batch_start + BATCH && seq < N_DGRAMS; seq++) {
		b[0] = 0x80; /* looks like RTP: not STUN, so libnice passes it up */
		b[1] = 96;
		b[2] = (uint8_t)(seq >> 8);
		b[3] = (uint8_t)seq;
		for (i = 4; i < sizeof(b); i++)
			b[i] = (uint8_t)(seq + i);
		if (km_ice_send(p->ice, b, sizeof(b)) != 0)
			p->rc = KM_EIO;
	}
}

typedef struct {
	peer_t *p;
	int type;
	char text[KM_MEDIA_EVENT_TEXT];
} relay_t;

static void relay_to_worker(void *arg)
{
	relay_t *r = arg;
	char err[128];

	if (r->p->ice) {
		if (r->type == KM_MEDIA_EV_ICE_CANDIDATE)
			km_ice_add_remote_candidate(r->p->ice, r->text, err, sizeof(err));
		else
			km_ice_remote_candidates_done(r->p->ice);
	}
	free(r);
}

/* ---- the "signaling thread" (main) ---- */

static int check_local_candidate(const char *line)
{
	char addr[64];
	unsigned port = 0;

	/* candidate:F 1 UDP PRIO ADDR PORT typ host */
	if (sscanf(line, "candidate:%*s 1 %*s %*u %63s %u typ host", addr, &port) != 2)
		return 0;
	return strcmp(addr, "127.0.0.1") == 0 && port >= PORT_MIN && port <= PORT_MAX;
}

/* Drains p's events and relays candidates to p->other. */
static void drain(peer_t *p)
{
	km_media_event_t ev[16];
	size_t n, i;

	do {
		n = km_worker_poll_events(p->w, ev, G_N_ELEMENTS(ev));
		for (i = 0; i < n; i++) {
			relay_t *r;

			if (ev[i].type != KM_MEDIA_EV_ICE_CANDIDATE &&
			    ev[i].type != KM_MEDIA_EV_ICE_GATHERED)
				continue;
			if (ev[i].type == KM_MEDIA_EV_ICE_CANDIDATE) {
				p->n_local++;
				if (!check_local_candidate(ev[i].text))
					p->bad_local++;
			} else {
				p->gathered = 1;
			}
			r = calloc(1, sizeof(*r));
			assert_non_null(r);
			r->p = p->other;
			r->type = ev[i].type;
			memcpy(r->text, ev[i].text, sizeof(r->text));
			assert_int_equal(km_worker_call(p->other->w, relay_to_worker, r), 0);
		}
	} while (n == G_N_ELEMENTS(ev));
}

/* Runs the signaling loop until done(a, b) or the deadline; 1 if done. */
static int signal_until(peer_t *a, peer_t *b, int (*done)(peer_t *, peer_t *), gint64 us)
{
	gint64 end = g_get_monotonic_time() + us;
	int ok;

	for (;;) {
		drain(a);
		drain(b);
		g_mutex_lock(&lock);
		ok = done(a, b);
		if (!ok && g_get_monotonic_time() < end)
			g_cond_wait_until(&cond, &lock, MIN(end, g_get_monotonic_time() +
							       G_TIME_SPAN_MILLISECOND * 100));
		g_mutex_unlock(&lock);
		if (ok || g_get_monotonic_time() >= end)
			return ok;
	}
}

static int both_up(peer_t *a, peer_t *b)
{
	return a->up && b->up;
}

/* READY: ICE is done and the direct path reads the socket. */
static int both_ready(peer_t *a, peer_t *b)
{
	return a->state == KM_ICE_READY && b->state == KM_ICE_READY;
}

static void setup_pair(peer_t *a, peer_t *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->id = 1, a->controlling = 1, a->other = b;
	b->id = 2, b->controlling = 0, b->other = a;
	assert_int_equal(km_worker_new("kmtest-ice-a", &a->w), 0);
	assert_int_equal(km_worker_new("kmtest-ice-b", &b->w), 0);
	km_worker_set_event_sink(a->w, sink, NULL);
	km_worker_set_event_sink(b->w, sink, NULL);
	assert_int_equal(on_worker(a, step_new), 0);
	assert_int_equal(on_worker(b, step_new), 0);
	assert_true(strlen(a->ufrag) >= 4 && strlen(a->pwd) >= 22);
	assert_string_not_equal(a->ufrag, b->ufrag);
	assert_int_equal(on_worker(a, step_remote_creds), 0);
	assert_int_equal(on_worker(b, step_remote_creds), 0);
	assert_int_equal(on_worker(a, step_gather), 0);
	assert_int_equal(on_worker(b, step_gather), 0);
	assert_true(signal_until(a, b, both_up, 10 * G_TIME_SPAN_SECOND));
	assert_true(a->n_local >= 1 && b->n_local >= 1);
	assert_int_equal(a->bad_local, 0);
	assert_int_equal(b->bad_local, 0);
}

static void teardown_pair(peer_t *a, peer_t *b)
{
	assert_int_equal(on_worker(a, step_free), 0);
	assert_int_equal(on_worker(b, step_free), 0);
	km_worker_free(a->w);
	km_worker_free(b->w); /* runs the relays still queued (ice is NULL) */
}

static int both_got_batch(peer_t *a, peer_t *b)
{
	unsigned want = MIN(batch_start + BATCH, N_DGRAMS);

	return a->got >= want && b->got >= want;
}

static void test_connect_and_exchange(void **state)
{
	peer_t a, b;

	setup_pair(&a, &b);
	assert_true(signal_until(&a, &b, both_ready, 10 * G_TIME_SPAN_SECOND));
	/* Batches, each waited for, so that the loopback socket buffers never
	 * overflow and every datagram must arrive. */
	for (batch_start = 0; batch_start < N_DGRAMS; batch_start += BATCH) {
		assert_int_equal(on_worker(&a, step_send_batch), 0);
		assert_int_equal(on_worker(&b, step_send_batch), 0);
		assert_true(signal_until(&a, &b, both_got_batch, 10 * G_TIME_SPAN_SECOND));
	}
	assert_int_equal(a.got, N_DGRAMS);
	assert_int_equal(b.got, N_DGRAMS);
	assert_int_equal(a.bad, 0);
	assert_int_equal(b.bad, 0);
	assert_int_equal(a.failed, 0);
	assert_int_equal(b.failed, 0);
	/* Every datagram came by the direct path, several to a recvmmsg. */
	for (peer_t *p = &a; p; p = p == &a ? &b : NULL) {
		assert_int_equal(on_worker(p, step_stats), 0);
		print_message("peer %llu: %llu datagrams in %llu batches\n", (unsigned long long)p->id,
			      (unsigned long long)p->st.datagrams, (unsigned long long)p->st.batches);
		assert_int_equal(p->st.direct, 1);
		assert_int_equal(p->st.datagrams, N_DGRAMS);
		assert_true(p->st.batches > 0 && p->st.batches < p->st.datagrams);
		assert_int_equal(p->st.strangers, 0);
	}
	teardown_pair(&a, &b);
}

/* ---- consent freshness ---- */

static int released;

static void step_block(peer_t *p)
{
	gint64 end = g_get_monotonic_time() + 40 * G_TIME_SPAN_SECOND;

	g_mutex_lock(&lock);
	while (!released && g_cond_wait_until(&cond, &lock, end))
		;
	g_mutex_unlock(&lock);
}

static void block_trampoline(void *arg)
{
	step_block(arg);
}

static int a_failed(peer_t *a, peer_t *b)
{
	return a->failed;
}

static void test_consent_lost_is_reported(void **state)
{
	peer_t a, b;
	gint64 t0;

	setup_pair(&a, &b);
	a.free_on_fail = 1;
	/* b stops answering: its worker thread is blocked, its socket open. */
	released = 0;
	t0 = g_get_monotonic_time();
	assert_int_equal(km_worker_call(b.w, block_trampoline, &b), 0);
	assert_true(signal_until(&a, &b, a_failed, 30 * G_TIME_SPAN_SECOND));
	print_message("consent lost reported after %.1f s\n",
		      (double)(a.failed_at - t0) / G_TIME_SPAN_SECOND);
	g_mutex_lock(&lock);
	released = 1;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
	assert_int_equal(on_worker(&a, step_free), 0); /* a.ice is already NULL */
	assert_null(a.ice);
	teardown_pair(&a, &b);
}

static int either_failed(peer_t *a, peer_t *b)
{
	return a->failed || b->failed;
}

/* The direct path's own consent: with checks every 200 ms both sides keep
 * answering each other for 2 s with nothing else sent; when one stops,
 * the other reports FAILED after the 1 s timeout. */
static void test_direct_consent(void **state)
{
	peer_t a, b;
	gint64 t0;

	km_ice_set_consent_timing(200, 1000);
	setup_pair(&a, &b);
	assert_true(signal_until(&a, &b, both_ready, 10 * G_TIME_SPAN_SECOND));
	assert_false(signal_until(&a, &b, either_failed, 2 * G_TIME_SPAN_SECOND));
	for (peer_t *p = &a; p; p = p == &a ? &b : NULL) {
		assert_int_equal(on_worker(p, step_stats), 0);
		print_message("peer %llu: %llu checks sent, %llu answered; %llu of the other's answered\n",
			      (unsigned long long)p->id, (unsigned long long)p->st.checks_sent,
			      (unsigned long long)p->st.checks_answered, (unsigned long long)p->st.stun_answered);
		assert_int_equal(p->st.direct, 1);
		assert_true(p->st.checks_sent >= 5);
		assert_true(p->st.checks_answered + 2 >= p->st.checks_sent);
		assert_true(p->st.stun_answered >= 4);
		assert_int_equal(p->st.stun_dropped, 0);
	}
	a.free_on_fail = 1;
	released = 0;
	t0 = g_get_monotonic_time();
	assert_int_equal(km_worker_call(b.w, block_trampoline, &b), 0);
	assert_true(signal_until(&a, &b, a_failed, 5 * G_TIME_SPAN_SECOND));
	print_message("consent lost reported after %.1f s\n", (double)(a.failed_at - t0) / G_TIME_SPAN_SECOND);
	assert_true(a.failed_at - t0 >= G_TIME_SPAN_SECOND / 2);
	g_mutex_lock(&lock);
	released = 1;
	g_cond_broadcast(&cond);
	g_mutex_unlock(&lock);
	assert_null(a.ice);
	teardown_pair(&a, &b);
	km_ice_set_consent_timing(5000, 10000);
}

/* ---- argument and candidate-line checks ---- */

static void step_checks(peer_t *p)
{
	static const char *const addrs[] = { "127.0.0.1" };
	static const char *const bad_addrs[] = { "localhost" };
	km_ice_config_t cfg = { .addresses = addrs, .n_addresses = 1 };
	km_ice_t *ice = NULL, *x = NULL;
	char err[128], big[KM_ICE_CANDIDATE_MAX + 16];
	int r[16], i = 0;

	r[i++] = km_ice_new(km_worker_context(p->w), &cfg, 0, &ice, err, sizeof(err));
	cfg.port_min = 10, cfg.port_max = 5;
	r[i++] = km_ice_new(km_worker_context(p->w), &cfg, 0, &x, err, sizeof(err));
	cfg.port_min = 0, cfg.port_max = 0, cfg.addresses = bad_addrs;
	r[i++] = km_ice_new(km_worker_context(p->w), &cfg, 0, &x, err, sizeof(err));
#define ADD(s) km_ice_add_remote_candidate(ice, s, err, sizeof(err))
	r[i++] = ADD("candidate:1 1 UDP 2122260223 127.0.0.1 50000 typ host");
	r[i++] = ADD("a=candidate:2 1 udp 2122260223 127.0.0.2 50001 typ host generation 0");
	r[i++] = ADD("candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active");
	r[i++] = ADD("candidate:4 2 UDP 2122260222 127.0.0.1 50002 typ host");
	r[i++] = ADD("candidate:5 1 udp 2122260223 0b2e4a7c-2f.local 50003 typ host");
	r[i++] = ADD("candidate:6 1 udp 2122260223 127.0.0.1 0 typ host");
	r[i++] = ADD("candidate:7 1 udp 2122260223 127.0.0.1");
	r[i++] = ADD("foo");
	memset(big, 'x', sizeof(big));
	memcpy(big, "candidate:", 10);
	big[sizeof(big) - 1] = '\0';
	r[i++] = ADD(big);
	r[i++] = km_ice_set_remote_credentials(ice, "abc", "0123456789012345678901", err,
					       sizeof(err));
	r[i++] = km_ice_set_remote_credentials(ice, "abcd", "01234567890123456789;;", err,
					       sizeof(err));
	r[i++] = km_ice_set_remote_credentials(ice, "ab+/", "0123456789012345678901", err,
					       sizeof(err));
	r[i++] = km_ice_send(ice, (const uint8_t *)"x", 1); /* not connected */
#undef ADD
	km_ice_free(ice);
	km_ice_free(NULL);
	memcpy(p->seen, r, sizeof(r)); /* hand the results to the main thread */
	p->rc = 0;
}

static void test_argument_checks(void **state)
{
	peer_t p;
	int r[16];
	const int want[16] = {
		0, KM_EINVAL, KM_EINVAL,            /* new: ok, bad range, bad address */
		0, 0,                               /* udp host, with "a=" */
		KM_ICE_IGNORED, KM_ICE_IGNORED,     /* tcp, component 2 */
		KM_ICE_IGNORED,                     /* mDNS */
		KM_EINVAL, KM_EINVAL, KM_EINVAL,    /* port 0, short, not a candidate */
		KM_ETOOBIG,
		KM_EINVAL, KM_EINVAL, 0,            /* ufrag short, pwd bad char, ok */
		KM_EBUSY,
	};

	memset(&p, 0, sizeof(p));
	assert_int_equal(km_worker_new("kmtest-ice-c", &p.w), 0);
	assert_int_equal(on_worker(&p, step_checks), 0);
	memcpy(r, p.seen, sizeof(r));
	for (int i = 0; i < 16; i++) {
		print_message("check %d: %d\n", i, r[i]);
		assert_int_equal(r[i], want[i]);
	}
	km_worker_free(p.w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argument_checks),
		cmocka_unit_test(test_connect_and_exchange),
		cmocka_unit_test(test_consent_lost_is_reported),
		cmocka_unit_test(test_direct_consent),
	};
	int rc;

	g_mutex_init(&lock);
	g_cond_init(&cond);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	g_cond_clear(&cond);
	g_mutex_clear(&lock);
	return rc;
}
