/* session.c — a test peer run against kamer (see session.h): the loop
 * (GLib context and libwebsockets serviced in turn on one thread), the
 * consult protocol as participant or staff, the media clock, and the
 * report. The media connections themselves are in session_media.c.
 * Threads: the calling thread only. */
#include "tests/peer/session_int.h"

#include "core/err.h"
#include "media/srtp.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void km__say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "kamer-peer: %s\n", buf);
}

void km__session_finish(km__session_t *s, int code)
{
	if (code > s->code)
		s->code = code;
	if (!s->done)
		s->media_end_us = g_get_monotonic_time();
	s->done = true;
}

static void note(km__session_t *s, const char *fmt, va_list ap)
{
	char buf[400];
	vsnprintf(buf, sizeof buf, fmt, ap);
	json_array_append_new(s->errors, json_string(buf));
	km__say("error: %s", buf);
}

void km__session_note(km__session_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note(s, fmt, ap);
	va_end(ap);
}

void km__session_error(km__session_t *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note(s, fmt, ap);
	va_end(ap);
	km__session_finish(s, code);
}

void km__session_linger(km__session_t *s, int code)
{
	if (code > s->linger_code)
		s->linger_code = code;
	if (!s->linger_until_us)
		s->linger_until_us = g_get_monotonic_time() + G_USEC_PER_SEC;
}

void km__session_send(km__session_t *s, json_t *msg, const char *ref)
{
	if (msg && ref)
		json_object_set_new(msg, "ref", json_string(ref));
	if (km_peer_wss_send(s->wss, msg) != 0 && !s->done)
		km__session_error(s, 1, "could not send a message: the connection is closed");
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static void send_consent(km__session_t *s, json_t *consent)
{
	json_t *v = json_object_get(consent, "version");
	km__say("giving consent (text version %lld)", (long long)json_integer_value(v));
	km__session_send(s, json_pack("{s:s,s:b,s:I}", "type", "consent", "accept", 1, "version",
				      json_integer_value(v)), "consent");
}

static void start_slot(km__session_t *s, int i)
{
	km__slot_t *slot = &s->slots[i];
	if (slot->wanted && !slot->started && !s->done)
		km__media_start(s, slot);
}

/* A participant's state, from joined or state. */
static void set_state(km__session_t *s, const char *state, json_t *consent)
{
	if (strcmp(state, s->state) != 0)
		km__say("state %s", state);
	snprintf(s->state, sizeof s->state, "%s", state);
	if (strcmp(state, "consent") == 0 && consent) {
		send_consent(s, consent);
	} else if (strcmp(state, "name") == 0) {
		const char *name = s->cfg->name ? s->cfg->name : "Test peer";
		km__session_send(s, json_pack("{s:s,s:s}", "type", "name", "display_name", name),
				 "name");
	} else if (strcmp(state, "refused") == 0) {
		km__session_error(s, 2, "participant state refused");
		return;
	} else if (strcmp(state, "left") == 0) {
		km__session_error(s, 1, "participant state left");
		return;
	}
	bool consented = strcmp(state, "name") == 0 || strcmp(state, "waiting") == 0 ||
			 strcmp(state, "admitted") == 0;
	if (consented)
		start_slot(s, SLOT_ECHO);
	if (strcmp(state, "admitted") == 0) {
		start_slot(s, SLOT_PUB);
		start_slot(s, SLOT_SUB);
	}
}

static void admit(km__session_t *s, long long id)
{
	if (!s->cfg->admit_all || id <= 0)
		return;
	for (size_t i = 0; i < s->nadmitted; i++)
		if (s->admitted[i] == id)
			return;
	if (s->nadmitted < sizeof s->admitted / sizeof s->admitted[0])
		s->admitted[s->nadmitted++] = id;
	char ref[32];
	snprintf(ref, sizeof ref, "admit-%lld", id);
	km__say("admitting participant %lld", id);
	km__session_send(s, json_pack("{s:s,s:I}", "type", "admit", "participant", (json_int_t)id),
			 ref);
}

static void admit_waiting(km__session_t *s, json_t *list)
{
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p)
		if (strcmp(str(p, "state"), "waiting") == 0)
			admit(s, json_integer_value(json_object_get(p, "id")));
}

static void on_hello(km__session_t *s, json_t *msg)
{
	km__say("connected (protocol %lld)", (long long)json_integer_value(json_object_get(msg, "protocol")));
	if (s->participant)
		km__session_send(s, json_pack("{s:s,s:s}", "type", "join", "token", s->cfg->token),
				 "join");
	else
		km__session_send(s, json_pack("{s:s,s:I}", "type", "watch", "consult",
					      (json_int_t)s->cfg->consult), "watch");
}

static void on_joined(km__session_t *s, json_t *msg)
{
	json_t *p = json_object_get(msg, "participant");
	km__say("joined as %s", str(p, "kind"));
	set_state(s, str(p, "state"), json_object_get(msg, "consent"));
}

static void on_room(km__session_t *s, json_t *msg)
{
	if (strcmp(s->state, "watching") != 0)
		km__say("watching the consult");
	snprintf(s->state, sizeof s->state, "watching");
	admit_waiting(s, json_object_get(msg, "participants"));
	for (int i = 0; i < SLOT_N; i++)
		start_slot(s, i);
}

/* Errors that are part of normal races, not a refusal. */
static bool harmless(km__session_t *s, const char *code, const char *ref)
{
	(void)s;
	/* An answer to an offer kamer has already replaced: the newer offer is
	 * on its way (or here), and it is answered in turn. */
	if (strcmp(code, "offer_replaced") == 0)
		return true;
	/* someone else admitted them first */
	return strcmp(code, "out_of_order") == 0 && strncmp(ref, "admit-", 6) == 0;
}

static void on_error(km__session_t *s, json_t *msg)
{
	const char *code = str(msg, "code"), *ref = str(msg, "ref");
	if (harmless(s, code, ref)) {
		km__say("ignored error %s (ref %s)", code, ref);
		return;
	}
	km__session_error(s, 2, "server error %s: %s%s%s%s", code, str(msg, "message"),
			  ref[0] ? " (ref " : "", ref, ref[0] ? ")" : "");
}

static void on_message(void *ud, json_t *msg)
{
	km__session_t *s = ud;
	const char *t = str(msg, "type");
	if (strcmp(t, "hello") == 0)
		on_hello(s, msg);
	else if (strcmp(t, "joined") == 0)
		on_joined(s, msg);
	else if (strcmp(t, "state") == 0)
		set_state(s, str(msg, "state"), NULL);
	else if (strcmp(t, "reconsent") == 0)
		send_consent(s, json_object_get(msg, "consent"));
	else if (strcmp(t, "room") == 0)
		on_room(s, msg);
	else if (strcmp(t, "participants") == 0)
		admit_waiting(s, json_object_get(msg, "participants"));
	else if (strcmp(t, "waiting_alert") == 0)
		admit(s, json_integer_value(json_object_get(msg, "participant")));
	else if (strcmp(t, "media.answer") == 0)
		km__media_on_answer(s, msg);
	else if (strcmp(t, "media.offer") == 0)
		km__media_on_offer(s, msg);
	else if (strcmp(t, "media.candidate") == 0)
		km__media_on_candidate(s, msg);
	else if (strcmp(t, "media.state") == 0)
		km__media_on_state(s, msg);
	else if (strcmp(t, "error") == 0)
		on_error(s, msg);
	else if (strcmp(t, "ended") == 0) {
		snprintf(s->state, sizeof s->state, "ended");
		km__session_error(s, 1, "consult ended (%s)", str(msg, "reason"));
	}
}

static void on_close(void *ud, const char *why)
{
	km__session_t *s = ud;
	if (!s->done)
		km__session_error(s, 1, "signaling: %s", why);
}

static gboolean on_tick(gpointer ud)
{
	return G_SOURCE_CONTINUE; /* only wakes the loop so that lws is serviced */
}

static gboolean supervise(gpointer ud)
{
	km__session_t *s = ud;
	int64_t now = g_get_monotonic_time();
	if (s->done)
		return G_SOURCE_CONTINUE;
	if (s->linger_until_us && now >= s->linger_until_us) {
		km__session_finish(s, s->linger_code);
		return G_SOURCE_CONTINUE;
	}
	if (!s->media_start_us && km__media_flowing(s)) {
		s->media_start_us = now;
		km__say("media flowing; running for %d s", s->cfg->seconds);
	}
	if (s->media_start_us && now - s->media_start_us >= (int64_t)s->cfg->seconds * G_USEC_PER_SEC) {
		km__media_evaluate(s);
		km__session_finish(s, 0);
	} else if (now >= s->deadline_us) {
		km__session_error(s, 1, "timed out after %d s in state %s", s->cfg->timeout,
				  s->state);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer ud)
{
	km__session_t *s = ud;
	if (!s->done)
		km__session_error(s, 1, "interrupted");
	return G_SOURCE_CONTINUE;
}

static void add_source(km__session_t *s, GSource *src, GSourceFunc fn)
{
	g_source_set_callback(src, fn, s, NULL);
	g_source_attach(src, s->ctx);
	g_source_unref(src);
}

/* Services both loops until done, or (draining) for at most ms. */
static void run_loop(km__session_t *s, bool draining, int ms)
{
	int64_t until = g_get_monotonic_time() + (int64_t)ms * 1000;
	while (draining ? g_get_monotonic_time() < until && km_peer_wss_is_open(s->wss) : !s->done) {
		g_main_context_iteration(s->ctx, TRUE);
		km_peer_wss_service(s->wss);
	}
}

static json_t *make_report(km__session_t *s)
{
	json_t *r = json_pack("{s:s,s:s,s:O,s:O,s:I}", "role",
			      s->participant ? "participant" : "staff", "state", s->state, "errors",
			      s->errors, "streams", s->streams, "media_ms",
			      (json_int_t)(s->media_start_us && s->media_end_us > s->media_start_us
						   ? (s->media_end_us - s->media_start_us) / 1000
						   : 0));
	if (r)
		km__media_report(s, r);
	return r;
}

static int setup(km__session_t *s, char *err, size_t errlen)
{
	static const char *names[SLOT_N] = { "pub", "sub", "echo" };
	const km_peer_session_config_t *cfg = s->cfg;
	for (int i = 0; i < SLOT_N; i++)
		s->slots[i].name = names[i];
	s->slots[SLOT_PUB].wanted = cfg->pub_audio || cfg->pub_video;
	s->slots[SLOT_SUB].wanted = cfg->subscribe;
	s->slots[SLOT_ECHO].wanted = cfg->echo;
	snprintf(s->state, sizeof s->state, "connecting");
	if (km_srtp_init() != 0 || km_dtls_cert_new(&s->cert) != 0)
		return km_errf(KM_ECRYPTO, err, errlen, "could not set up DTLS/SRTP");
	km_peer_wss_config_t wc = {
		.url = cfg->url, .ca = cfg->ca, .cookie = cfg->cookie,
		.on_message = on_message, .on_close = on_close, .ud = s,
	};
	int rc = km_peer_wss_new(&wc, &s->wss, err, errlen);
	if (rc)
		return rc;
	add_source(s, g_timeout_source_new(5), on_tick);
	add_source(s, g_timeout_source_new(100), supervise);
	add_source(s, g_unix_signal_source_new(SIGINT), on_signal);
	add_source(s, g_unix_signal_source_new(SIGTERM), on_signal);
	return 0;
}

int km_peer_session_run(const km_peer_session_config_t *cfg, json_t **report)
{
	km__session_t s;
	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	s.participant = cfg->token != NULL;
	s.ctx = g_main_context_new();
	s.errors = json_array();
	s.streams = json_object();
	s.start_us = g_get_monotonic_time();
	s.deadline_us = s.start_us + (int64_t)cfg->timeout * G_USEC_PER_SEC;
	char err[256];
	if (setup(&s, err, sizeof err) != 0)
		km__session_error(&s, 1, "%s", err);
	else
		run_loop(&s, false, 0);
	if (s.wss) {
		km__media_close(&s);
		km_peer_wss_close(s.wss);
		run_loop(&s, true, 500);
	}
	*report = make_report(&s);
	km__media_free(&s);
	km_peer_wss_free(s.wss);
	km_dtls_cert_free(s.cert);
	json_decref(s.errors);
	json_decref(s.streams);
	while (g_main_context_iteration(s.ctx, FALSE))
		;
	g_main_context_unref(s.ctx);
	return s.code;
}
