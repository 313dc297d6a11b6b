/* selftest.c — two test peer connections wired back to back in one process
 * (see selftest.h): the publisher's offer goes to a kamer-like answerer,
 * candidates are handed over directly, and after the media seconds the
 * receiver's counters must show decoded audio and video. With
 * probe_profiles the publisher is a handshake probe instead, and the
 * result is the handshake's.
 * Threads: the calling thread only. */
#include "tests/peer/selftest.h"

#include "core/err.h"
#include "media/srtp.h"
#include "tests/peer/pc.h"
#include "tests/peer/probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const km_peer_selftest_config_t *cfg;
	GMainContext *ctx;
	km_dtls_cert_t *cert_a, *cert_b;
	km_peer_pc_t *a, *b; /* a publishes, b answers like kamer */
	km_peer_probe_t *probe; /* instead of a when probing */
	json_t *errors;
	bool done;
	int64_t media_start_us;
} selftest_t;

static void fail(selftest_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(selftest_t *t, const char *fmt, ...)
{
	char buf[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "kamer-peer: selftest: error: %s\n", buf);
	json_array_append_new(t->errors, json_string(buf));
	t->done = true;
}

static void on_candidate(void *ud, km_peer_pc_t *pc, const char *cand)
{
	selftest_t *t = ud;
	km_peer_pc_t *other = pc == t->a ? t->b : t->a;
	char err[200];
	int rc = 0;
	if (pc == t->b && t->probe)
		rc = km_peer_probe_add_candidate(t->probe, cand, err, sizeof err);
	else if (other)
		rc = km_peer_pc_add_candidate(other, cand, err, sizeof err);
	if (rc < 0)
		fail(t, "candidate refused: %s", err);
}

static void on_probe_candidate(void *ud, km_peer_probe_t *p, const char *cand)
{
	selftest_t *t = ud;
	char err[200];
	if (t->b && km_peer_pc_add_candidate(t->b, cand, err, sizeof err) < 0)
		fail(t, "kamer: candidate refused: %s", err);
}

static void on_probe_done(void *ud, km_peer_probe_t *p)
{
	fprintf(stderr, "kamer-peer: selftest: probe: %s %s\n", km_peer_probe_profile(p),
		km_peer_probe_reason(p));
}

static void on_state(void *ud, km_peer_pc_t *pc, km_conn_state_t st, const char *reason)
{
	selftest_t *t = ud;
	fprintf(stderr, "kamer-peer: selftest: %s: %s%s%s\n", km_peer_pc_name(pc),
		km_conn_state_name(st), reason[0] ? ": " : "", reason);
	if ((st == KM_CONN_FAILED || st == KM_CONN_CLOSED) && !t->done && !t->probe)
		fail(t, "%s: %s %s", km_peer_pc_name(pc), km_conn_state_name(st), reason);
}

static int make_pc(selftest_t *t, bool publisher, km_peer_pc_t **out)
{
	const km_peer_selftest_config_t *cfg = t->cfg;
	km_peer_pc_config_t pc = {
		.ctx = t->ctx,
		.cert = publisher ? t->cert_a : t->cert_b,
		.name = publisher ? "pub" : "kamer",
		.address = cfg->address,
		.offerer = publisher,
		.dtls_server = !publisher,
		.send_audio = publisher && cfg->audio,
		.send_video = publisher && cfg->video,
		.video = cfg->video_cfg,
		.tx_loss_pct = publisher ? cfg->loss_pct : 0,
		.loss_seed = cfg->seed,
		.profiles = cfg->probe_profiles ? KM_DTLS_AES256GCM | KM_DTLS_AES128GCM : cfg->profiles,
		.on_candidate = on_candidate,
		.on_state = on_state,
		.ud = t,
	};
	char err[256];
	int rc = km_peer_pc_new(&pc, out, err, sizeof err);
	if (rc)
		fail(t, "%s: %s", pc.name, err);
	return rc;
}

/* The publisher's offer: a pc's, or a probe's. */
static char *publisher_offer(selftest_t *t, char *err, size_t errlen)
{
	if (!t->cfg->probe_profiles)
		return make_pc(t, true, &t->a) == 0 ? km_peer_pc_offer(t->a, false, err, errlen) : NULL;
	km_peer_probe_config_t pc = {
		.ctx = t->ctx, .name = "pub", .address = t->cfg->address, .offerer = true,
		.srtp_profiles = t->cfg->probe_profiles, .wrong_fingerprint = t->cfg->wrong_fingerprint,
		.on_candidate = on_probe_candidate,
		.on_done = on_probe_done, .ud = t,
	};
	if (km_peer_probe_new(&pc, &t->probe, err, errlen) != 0)
		return NULL;
	return km_peer_probe_offer(t->probe, false, err, errlen);
}

/* Offer, kamer-like answer, both applied; then the candidates flow. */
static int negotiate(selftest_t *t)
{
	char err[256] = "";
	char *offer = publisher_offer(t, err, sizeof err);
	if (!offer) {
		fail(t, "offer: %s", err);
		return -1;
	}
	char *answer = NULL;
	if (make_pc(t, false, &t->b) == 0) {
		answer = km_peer_pc_take_offer(t->b, offer, strlen(offer), err, sizeof err);
		if (!answer)
			fail(t, "answer: %s", err);
	}
	free(offer);
	if (!answer)
		return -1;
	int rc = t->probe ? km_peer_probe_set_answer(t->probe, answer, strlen(answer), err, sizeof err)
			  : km_peer_pc_set_answer(t->a, answer, strlen(answer), err, sizeof err);
	free(answer);
	if (rc) {
		fail(t, "applying the answer: %s", err);
		return -1;
	}
	km_peer_pc_flush_candidates(t->a);
	km_peer_probe_flush_candidates(t->probe);
	km_peer_pc_flush_candidates(t->b);
	return 0;
}

static void run(selftest_t *t)
{
	int64_t deadline = g_get_monotonic_time() + (int64_t)t->cfg->timeout * G_USEC_PER_SEC;
	while (!t->done) {
		g_main_context_iteration(t->ctx, TRUE);
		int64_t now = g_get_monotonic_time();
		if (t->probe && km_peer_probe_result(t->probe) != KM_PEER_PROBE_PENDING)
			break;
		bool up = !t->probe && km_peer_pc_state(t->a) == KM_CONN_CONNECTED &&
			  km_peer_pc_state(t->b) == KM_CONN_CONNECTED;
		if (up && !t->media_start_us) {
			t->media_start_us = now;
			fprintf(stderr, "kamer-peer: selftest: media flowing; running for %d s\n",
				t->cfg->seconds);
		}
		if (t->media_start_us && now - t->media_start_us >= (int64_t)t->cfg->seconds * G_USEC_PER_SEC)
			break;
		if (now > deadline)
			fail(t, "timed out (kamer side %s)", km_conn_state_name(km_peer_pc_state(t->b)));
	}
}

/* What the receiver must show: every stream sent arrived and decoded. */
static void check(selftest_t *t, json_t *rx)
{
	const char *want = "SRTP_AEAD_AES_256_GCM";
	if (t->cfg->profiles <= 1 && strcmp(km_peer_pc_srtp(t->a), want) != 0)
		fail(t, "pub: SRTP profile %s, not %s", km_peer_pc_srtp(t->a), want);
	for (int v = 0; v < 2; v++) {
		bool sent = v ? t->cfg->video : t->cfg->audio;
		const char *kind = v ? "video" : "audio";
		json_t *found = NULL, *o;
		size_t i;
		json_array_foreach(rx, i, o)
			if (strcmp(json_string_value(json_object_get(o, "kind")), kind) == 0)
				found = o;
		if (!sent)
			continue;
		if (!found) {
			fail(t, "%s: nothing received", kind);
			continue;
		}
		if (json_integer_value(json_object_get(found, "frames_decoded")) == 0)
			fail(t, "%s: nothing decoded", kind);
		if (json_integer_value(json_object_get(found, "frames_corrupt")) != 0)
			fail(t, "%s: corrupt frames", kind);
	}
}

static json_t *report(selftest_t *t)
{
	json_t *rx = json_array(), *tx = json_object(), *conns = json_object();
	km_peer_pc_report(t->a, rx, tx, conns);
	km_peer_pc_report(t->b, rx, tx, conns);
	check(t, rx);
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:o,s:o,s:o}", "mode", "selftest", "state",
			 json_array_size(t->errors) ? "failed" : "done", "srtp", "pub",
			 km_peer_pc_srtp(t->a), "kamer", km_peer_pc_srtp(t->b), "errors", t->errors,
			 "rx", rx, "tx", tx, "conns", conns);
}

static json_t *probe_report(selftest_t *t, int *code)
{
	km_peer_probe_result_t r = km_peer_probe_result(t->probe);
	const char *srtp = r == KM_PEER_PROBE_CONNECTED ? km_peer_probe_profile(t->probe)
			 : r == KM_PEER_PROBE_REFUSED ? "refused" : "none";
	if (r == KM_PEER_PROBE_REFUSED || r == KM_PEER_PROBE_FAILED)
		json_array_append_new(t->errors, json_pack("s+", "pub: ", km_peer_probe_reason(t->probe)));
	*code = r == KM_PEER_PROBE_CONNECTED ? 0 : r == KM_PEER_PROBE_REFUSED ? 2 : 1;
	json_t *rx = json_array(), *tx = json_object(), *conns = json_object();
	km_peer_pc_report(t->b, rx, tx, conns);
	json_decref(rx);
	json_decref(tx);
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:o}", "mode", "selftest", "state",
			 *code ? "failed" : "done", "srtp", "pub", srtp, "kamer",
			 km_peer_pc_srtp(t->b), "errors", t->errors, "conns", conns);
}

int km_peer_selftest_run(const km_peer_selftest_config_t *cfg, json_t **out)
{
	selftest_t t;
	memset(&t, 0, sizeof t);
	t.cfg = cfg;
	t.errors = json_array();
	t.ctx = g_main_context_new();
	if (km_srtp_init() != 0 || km_dtls_cert_new(&t.cert_a) != 0 || km_dtls_cert_new(&t.cert_b) != 0)
		fail(&t, "could not set up DTLS/SRTP");
	else if (negotiate(&t) == 0)
		run(&t);
	t.done = true; /* what happens from here on is the end, not a failure */
	int code = 0;
	if (t.probe && t.b) {
		*out = probe_report(&t, &code);
	} else if (t.a && t.b) {
		*out = report(&t);
		km_peer_pc_close(t.a);
	} else {
		*out = json_pack("{s:s,s:s,s:O}", "mode", "selftest", "state", "failed", "errors",
				 t.errors);
	}
	if (!code && json_array_size(t.errors))
		code = 1;
	km_peer_probe_free(t.probe);
	km_peer_pc_free(t.a);
	km_peer_pc_free(t.b);
	km_dtls_cert_free(t.cert_a);
	km_dtls_cert_free(t.cert_b);
	json_decref(t.errors);
	while (g_main_context_iteration(t.ctx, FALSE))
		;
	g_main_context_unref(t.ctx);
	return code;
}
