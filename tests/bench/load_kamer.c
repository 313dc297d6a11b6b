/* load_kamer.c — the load client speaking kamer's consult protocol
 * (docs/protocol.md) for one participant: a patient joins with its link
 * token, consents, gives a name and waits; the room's first participant is
 * the clinician (a staff connection with the session cookie) who watches
 * the consult, admits whoever waits and takes part in the call. Admitted
 * (or watching), each one publishes (media.publish, our offer) and
 * subscribes (media.subscribe, kamer's offers answered by version), with
 * candidates trickled both ways. No personal data: names are "P<n>".
 * Threads: the load client's. */
#include "tests/bench/load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static void send_msg(ld_part_t *p, json_t *m, const char *ref)
{
	if (m && ref)
		json_object_set_new(m, "ref", json_string(ref));
	if (bws_send(p->ws, m) != 0)
		ld_fail(p, "kamer: signaling closed");
}

static bool staff(const ld_part_t *p)
{
	return p->token == NULL;
}

static void start_media(ld_part_t *p)
{
	char err[256];
	if (p->pub)
		return;
	p->pub = ld_conn_new(p, LD_PUB, err, sizeof err);
	char *sdp = p->pub ? ld_conn_offer(p->pub, err, sizeof err) : NULL;
	if (!sdp) {
		ld_fail(p, "kamer: pub: %s", err);
		return;
	}
	send_msg(p, json_pack("{s:s,s:s}", "type", "media.publish", "sdp", sdp), "pub");
	free(sdp);
	ld_conn_flush(p->pub);
	send_msg(p, json_pack("{s:s}", "type", "media.subscribe"), "sub");
}

/* Admits everyone waiting, each id once (a later participants message may
 * still list someone as waiting while the admission is under way). */
static void admit_waiting(ld_part_t *p, json_t *list)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		if (strcmp(str(x, "state"), "waiting") != 0)
			continue;
		json_int_t id = json_integer_value(json_object_get(x, "id"));
		int k = 0;
		while (k < p->nadmitted && p->admitted[k] != id)
			k++;
		if (k < p->nadmitted || p->nadmitted >= (int)(sizeof p->admitted / sizeof p->admitted[0]))
			continue;
		p->admitted[p->nadmitted++] = id;
		char ref[40];
		snprintf(ref, sizeof ref, "admit-%lld", (long long)id);
		send_msg(p, json_pack("{s:s,s:I}", "type", "admit", "participant", id), ref);
	}
}

static void set_state(ld_part_t *p, const char *state, json_t *consent)
{
	if (strcmp(state, "consent") == 0 && consent) {
		send_msg(p, json_pack("{s:s,s:b,s:I}", "type", "consent", "accept", 1, "version",
				      json_integer_value(json_object_get(consent, "version"))), "consent");
	} else if (strcmp(state, "name") == 0) {
		char name[16];
		snprintf(name, sizeof name, "P%d", p->index);
		send_msg(p, json_pack("{s:s,s:s}", "type", "name", "display_name", name), "name");
	} else if (strcmp(state, "admitted") == 0) {
		start_media(p);
	} else if (strcmp(state, "refused") == 0 || strcmp(state, "left") == 0) {
		ld_fail(p, "kamer: participant state %s", state);
	}
}

static void on_offer(ld_part_t *p, json_t *msg)
{
	char err[256];
	long long version = json_integer_value(json_object_get(msg, "version"));
	if (strcmp(str(msg, "conn"), "sub") != 0)
		return;
	if (!p->sub && !(p->sub = ld_conn_new(p, LD_SUB, err, sizeof err))) {
		ld_fail(p, "kamer: sub: %s", err);
		return;
	}
	char *ans = ld_conn_take_offer(p->sub, str(msg, "sdp"), err, sizeof err);
	if (!ans) {
		ld_fail(p, "kamer: sub offer v%lld: %s", version, err);
		return;
	}
	char ref[32];
	snprintf(ref, sizeof ref, "sub-v%lld", version);
	p->sub_version = (int)version;
	send_msg(p, json_pack("{s:s,s:s,s:I,s:s}", "type", "media.answer", "conn", "sub", "version",
			      (json_int_t)version, "sdp", ans), ref);
	free(ans);
	ld_conn_flush(p->sub);
}

/* offer_replaced (an answer to an offer a newer one replaced) and
 * out_of_order (e.g. an admission already made) are part of normal races:
 * counted, not fatal; a participant really stuck shows as a room that is
 * not up. */
static void on_error(ld_part_t *p, json_t *msg)
{
	const char *code = str(msg, "code");
	if (strcmp(code, "out_of_order") == 0 || strcmp(code, "offer_replaced") == 0) {
		p->out_of_order++;
		return;
	}
	ld_fail(p, "kamer: error %s: %s (ref %s)", code, str(msg, "message"), str(msg, "ref"));
}

static void on_message(void *ud, json_t *msg)
{
	ld_part_t *p = ud;
	const char *t = str(msg, "type");
	char err[256];
	if (strcmp(t, "hello") == 0) {
		if (staff(p))
			send_msg(p, json_pack("{s:s,s:I}", "type", "watch", "consult",
					      (json_int_t)p->room->consult), "watch");
		else
			send_msg(p, json_pack("{s:s,s:s}", "type", "join", "token", p->token), "join");
	} else if (strcmp(t, "joined") == 0) {
		json_t *x = json_object_get(msg, "participant");
		set_state(p, str(x, "state"), json_object_get(msg, "consent"));
	} else if (strcmp(t, "state") == 0) {
		set_state(p, str(msg, "state"), NULL);
	} else if (strcmp(t, "reconsent") == 0) {
		set_state(p, "consent", json_object_get(msg, "consent"));
	} else if (strcmp(t, "room") == 0) {
		admit_waiting(p, json_object_get(msg, "participants"));
		start_media(p);
	} else if (strcmp(t, "participants") == 0) {
		admit_waiting(p, json_object_get(msg, "participants"));
	} else if (strcmp(t, "media.answer") == 0 && strcmp(str(msg, "conn"), "pub") == 0) {
		if (p->pub && ld_conn_set_answer(p->pub, str(msg, "sdp"), err, sizeof err) != 0)
			ld_fail(p, "kamer: pub answer: %s", err);
	} else if (strcmp(t, "media.offer") == 0) {
		on_offer(p, msg);
	} else if (strcmp(t, "media.candidate") == 0) {
		ld_conn_t *c = strcmp(str(msg, "conn"), "pub") == 0 ? p->pub : p->sub;
		ld_conn_add_candidate(c, str(msg, "candidate"));
	} else if (strcmp(t, "media.state") == 0) {
		const char *st = str(msg, "state");
		if (strcmp(st, "failed") == 0 || strcmp(st, "closed") == 0)
			ld_fail(p, "kamer: %s %s: %s", str(msg, "conn"), st, str(msg, "reason"));
	} else if (strcmp(t, "error") == 0) {
		on_error(p, msg);
	} else if (strcmp(t, "ended") == 0) {
		ld_fail(p, "kamer: consult ended");
	}
}

static void on_close(void *ud, const char *why)
{
	ld_fail(ud, "kamer: signaling: %s", why);
}

void ld_kamer_join(ld_part_t *p)
{
	ld_t *L = p->L;
	char origin[64];
	snprintf(origin, sizeof origin, "https://localhost:%d", L->port);
	bws_conn_config_t cc = {
		.address = L->host, .port = L->port, .tls = true, .host = "localhost", .path = "/ws",
		.origin = origin, .cookie = staff(p) ? L->cookie : NULL,
		.on_message = on_message, .on_close = on_close, .ud = p,
	};
	p->ws = bws_connect(L->ws, &cc);
	if (!p->ws)
		ld_fail(p, "kamer: cannot connect");
}

void ld_kamer_candidate(ld_part_t *p, ld_conn_t *c, const char *cand)
{
	send_msg(p, json_pack("{s:s,s:s,s:s}", "type", "media.candidate", "conn",
			      c == p->pub ? "pub" : "sub", "candidate", cand), NULL);
}

void ld_kamer_tick(ld_part_t *p, int64_t now_us)
{
	if (now_us < p->next_keepalive_us || !bws_is_open(p->ws))
		return;
	p->next_keepalive_us = now_us + 20 * G_USEC_PER_SEC;
	send_msg(p, json_pack("{s:s}", "type", "ping"), "ka");
}
