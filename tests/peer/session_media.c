/* session_media.c — the media connections of a test peer run (see
 * session.h): pub and echo (we offer: media.publish / media.echo), sub
 * (kamer offers: media.subscribe, media.offer, our media.answer with the
 * version), trickled candidates both ways, kamer's media.state, and what
 * the report says about them. Each connection is a km_peer_pc_t, or a
 * km_peer_probe_t when the run only probes the SRTP profiles.
 * Threads: the session's thread. */
#include "tests/peer/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static km__slot_t *slot_named(km__session_t *s, const char *name)
{
	for (int i = 0; i < SLOT_N; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			return &s->slots[i];
	return NULL;
}

static void send_candidate(km__session_t *s, const char *conn, const char *cand)
{
	if (s->done)
		return;
	km__session_send(s, json_pack("{s:s,s:s,s:s}", "type", "media.candidate", "conn", conn,
				      "candidate", cand), NULL);
}

static void on_pc_candidate(void *ud, km_peer_pc_t *pc, const char *cand)
{
	send_candidate(ud, km_peer_pc_name(pc), cand);
}

static void on_probe_candidate(void *ud, km_peer_probe_t *p, const char *cand)
{
	km__session_t *s = ud;
	for (int i = 0; i < SLOT_N; i++)
		if (s->slots[i].probe == p)
			send_candidate(s, s->slots[i].name, cand);
}

static void on_pc_state(void *ud, km_peer_pc_t *pc, km_conn_state_t st, const char *reason)
{
	km__session_t *s = ud;
	const char *name = km_peer_pc_name(pc);
	if (st == KM_CONN_CONNECTED)
		km__say("%s: connected, %s", name, km_peer_pc_srtp(pc));
	else
		km__say("%s: %s%s%s", name, km_conn_state_name(st), reason[0] ? ": " : "", reason);
	if ((st == KM_CONN_FAILED || st == KM_CONN_CLOSED) && !s->done)
		km__session_error(s, 1, "%s: %s%s%s", name, km_conn_state_name(st),
				  reason[0] ? ": " : "", reason);
}

static void on_probe_done(void *ud, km_peer_probe_t *p)
{
	km__session_t *s = ud;
	const char *name = "?";
	bool all = true;
	for (int i = 0; i < SLOT_N; i++) {
		km__slot_t *slot = &s->slots[i];
		if (slot->probe == p)
			name = slot->name;
		if (slot->wanted && (!slot->probe || km_peer_probe_result(slot->probe) == 0))
			all = false;
	}
	km_peer_probe_result_t r = km_peer_probe_result(p);
	int code = 0;
	if (r == KM_PEER_PROBE_REFUSED) {
		km__session_note(s, "%s: refused: %s", name, km_peer_probe_reason(p));
		code = 2;
	} else if (r == KM_PEER_PROBE_FAILED) {
		km__session_note(s, "%s: %s", name, km_peer_probe_reason(p));
		code = 1;
	} else {
		km__say("%s: handshake done, %s", name, km_peer_probe_profile(p));
	}
	if (code || all)
		km__session_linger(s, code);
}

/* Makes the slot's connection: a pc, or a probe with --srtp-profiles. */
static int make_conn(km__session_t *s, km__slot_t *slot, bool offerer, bool send, char *err,
		     size_t errlen)
{
	const km_peer_session_config_t *cfg = s->cfg;
	if (cfg->probe_profiles) {
		km_peer_probe_config_t pc = {
			.ctx = s->ctx, .name = slot->name, .address = cfg->address,
			.offerer = offerer, .srtp_profiles = cfg->probe_profiles,
			.wrong_fingerprint = cfg->wrong_fingerprint,
			.on_candidate = on_probe_candidate, .on_done = on_probe_done, .ud = s,
		};
		return km_peer_probe_new(&pc, &slot->probe, err, errlen);
	}
	bool any = cfg->pub_audio || cfg->pub_video;
	km_peer_pc_config_t pc = {
		.ctx = s->ctx, .cert = s->cert, .name = slot->name, .address = cfg->address,
		.offerer = offerer,
		.send_audio = send && (cfg->pub_audio || !any),
		.send_video = send && (cfg->pub_video || !any),
		.video = cfg->video, .loss_pct = cfg->loss_pct, .tx_loss_pct = cfg->tx_loss_pct,
		.loss_seed = cfg->seed,
		.profiles = cfg->profiles,
		.on_candidate = on_pc_candidate, .on_state = on_pc_state, .ud = s,
	};
	return km_peer_pc_new(&pc, &slot->pc, err, errlen);
}

static void flush(km__slot_t *slot)
{
	if (slot->pc)
		km_peer_pc_flush_candidates(slot->pc);
	if (slot->probe)
		km_peer_probe_flush_candidates(slot->probe);
}

void km__media_start(km__session_t *s, km__slot_t *slot)
{
	char err[256];
	slot->started = true;
	if (slot == &s->slots[SLOT_SUB]) {
		km__say("sub: asking kamer for the subscribe connection");
		km__session_send(s, json_pack("{s:s}", "type", "media.subscribe"), "subscribe");
		return;
	}
	bool echo = slot == &s->slots[SLOT_ECHO];
	if (make_conn(s, slot, true, true, err, sizeof err) != 0) {
		km__session_error(s, 1, "%s: %s", slot->name, err);
		return;
	}
	char *sdp = slot->probe ? km_peer_probe_offer(slot->probe, echo, err, sizeof err)
				: km_peer_pc_offer(slot->pc, echo, err, sizeof err);
	if (!sdp) {
		km__session_error(s, 1, "%s: offer: %s", slot->name, err);
		return;
	}
	km__session_send(s, json_pack("{s:s,s:s}", "type", echo ? "media.echo" : "media.publish",
				      "sdp", sdp), slot->name);
	free(sdp);
	km__say("%s: offer sent", slot->name);
	flush(slot);
}

void km__media_on_answer(km__session_t *s, json_t *msg)
{
	km__slot_t *slot = slot_named(s, str(msg, "conn"));
	const char *sdp = str(msg, "sdp");
	char err[256];
	if (!slot || slot == &s->slots[SLOT_SUB] || (!slot->pc && !slot->probe)) {
		km__session_error(s, 1, "media.answer for a connection not offered (%s)",
				  str(msg, "conn"));
		return;
	}
	int rc = slot->probe ? km_peer_probe_set_answer(slot->probe, sdp, strlen(sdp), err, sizeof err)
			     : km_peer_pc_set_answer(slot->pc, sdp, strlen(sdp), err, sizeof err);
	if (rc)
		km__session_error(s, 1, "%s: answer: %s", slot->name, err);
	else
		km__say("%s: answer applied", slot->name);
}

/* Keeps what the offer says about each stream, without names. */
static void note_streams(km__session_t *s, json_t *streams)
{
	const char *key;
	json_t *v;
	json_object_foreach(streams, key, v) {
		json_t *o = json_pack("{s:O?,s:s}", "participant", json_object_get(v, "participant"),
				      "role", str(v, "role"));
		if (o)
			json_object_set_new(s->streams, key, o);
	}
}

void km__media_on_offer(km__session_t *s, json_t *msg)
{
	km__slot_t *slot = slot_named(s, str(msg, "conn"));
	const char *sdp = str(msg, "sdp");
	long long version = json_integer_value(json_object_get(msg, "version"));
	char err[256];
	if (!slot || slot != &s->slots[SLOT_SUB]) {
		km__session_error(s, 1, "media.offer for an unknown connection (%s)", str(msg, "conn"));
		return;
	}
	if (!slot->pc && !slot->probe && make_conn(s, slot, false, false, err, sizeof err) != 0) {
		km__session_error(s, 1, "sub: %s", err);
		return;
	}
	slot->started = true;
	char *answer = slot->probe ? km_peer_probe_take_offer(slot->probe, sdp, strlen(sdp), err, sizeof err)
				   : km_peer_pc_take_offer(slot->pc, sdp, strlen(sdp), err, sizeof err);
	if (!answer) {
		km__session_error(s, 1, "sub: offer v%lld: %s", version, err);
		return;
	}
	note_streams(s, json_object_get(msg, "streams"));
	slot->version = version;
	char ref[32];
	snprintf(ref, sizeof ref, "sub-v%lld", version);
	km__session_send(s, json_pack("{s:s,s:s,s:I,s:s}", "type", "media.answer", "conn", "sub",
				      "version", (json_int_t)version, "sdp", answer), ref);
	free(answer);
	km__say("sub: offer v%lld answered (%zu streams)", version,
		json_object_size(json_object_get(msg, "streams")));
	flush(slot);
}

void km__media_on_candidate(km__session_t *s, json_t *msg)
{
	km__slot_t *slot = slot_named(s, str(msg, "conn"));
	const char *cand = str(msg, "candidate");
	char err[256] = "";
	if (!slot || (!slot->pc && !slot->probe))
		return;
	int rc = slot->probe ? km_peer_probe_add_candidate(slot->probe, cand, err, sizeof err)
			     : km_peer_pc_add_candidate(slot->pc, cand, err, sizeof err);
	if (rc < 0)
		km__say("%s: remote candidate not used: %s", slot->name, err);
}

void km__media_on_state(km__session_t *s, json_t *msg)
{
	km__slot_t *slot = slot_named(s, str(msg, "conn"));
	if (!slot)
		return;
	const char *st = str(msg, "state"), *reason = str(msg, "reason");
	snprintf(slot->server_state, sizeof slot->server_state, "%s", st);
	if (str(msg, "srtp")[0])
		snprintf(slot->server_srtp, sizeof slot->server_srtp, "%s", str(msg, "srtp"));
	snprintf(slot->server_reason, sizeof slot->server_reason, "%s", reason);
	km__say("%s: kamer says %s%s%s", slot->name, st, reason[0] ? ": " : "", reason);
	bool ended = strcmp(st, "failed") == 0 || strcmp(st, "closed") == 0;
	if (ended && slot->probe && km_peer_probe_result(slot->probe) == KM_PEER_PROBE_PENDING &&
	    !s->done) {
		/* kamer's word may come before its DTLS alert: give the probe
		 * a second to see the alert, so that the report has both */
		km__session_note(s, "%s: kamer says %s%s%s", slot->name, st, reason[0] ? ": " : "",
				 reason);
		km__session_linger(s, 2);
	} else if (ended && !s->done && !s->linger_until_us)
		km__session_error(s, 2, "%s: kamer says %s%s%s", slot->name, st,
				  reason[0] ? ": " : "", reason);
}

bool km__media_flowing(km__session_t *s)
{
	bool any = false;
	if (s->cfg->probe_profiles)
		return false; /* a probe run ends with the handshakes */
	for (int i = 0; i < SLOT_N; i++) {
		km__slot_t *slot = &s->slots[i];
		if (!slot->wanted)
			continue;
		any = true;
		if (!slot->pc)
			return false;
		if (i == SLOT_PUB && km_peer_pc_state(slot->pc) != KM_CONN_CONNECTED)
			return false;
		if (i != SLOT_PUB && km_peer_pc_first_rx_us(slot->pc) == 0)
			return false;
	}
	return any || strcmp(s->state, "admitted") == 0 || strcmp(s->state, "watching") == 0;
}

void km__media_evaluate(km__session_t *s)
{
	for (int i = 0; i < SLOT_N; i++) {
		km__slot_t *slot = &s->slots[i];
		if (!slot->wanted || slot->probe)
			continue;
		if (!slot->pc) {
			km__session_error(s, 1, "%s: never set up", slot->name);
			continue;
		}
		km_conn_state_t st = km_peer_pc_state(slot->pc);
		if (st != KM_CONN_CONNECTED)
			km__session_error(s, 1, "%s: %s at the end", slot->name, km_conn_state_name(st));
		else if (i == SLOT_PUB && km_peer_pc_tx_packets(slot->pc) == 0)
			km__session_error(s, 1, "pub: nothing sent");
		else if (i != SLOT_PUB && km_peer_pc_rx_packets(slot->pc) == 0)
			km__session_error(s, 1, "%s: nothing received", slot->name);
	}
}

static json_t *probe_json(const km_peer_probe_t *p)
{
	static const char *const names[] = { "pending", "connected", "refused", "failed" };
	return json_pack("{s:b,s:s,s:s,s:s}", "probe", 1, "result",
			 names[km_peer_probe_result(p)], "srtp", km_peer_probe_profile(p), "reason",
			 km_peer_probe_reason(p));
}

void km__media_report(km__session_t *s, json_t *report)
{
	json_t *srtp = json_object(), *server = json_object(), *rx = json_array();
	json_t *tx = json_object(), *conns = json_object();
	for (int i = 0; i < SLOT_N; i++) {
		km__slot_t *slot = &s->slots[i];
		if (slot->pc) {
			json_object_set_new(srtp, slot->name, json_string(km_peer_pc_srtp(slot->pc)));
			km_peer_pc_report(slot->pc, rx, tx, conns);
		} else if (slot->probe) {
			km_peer_probe_result_t r = km_peer_probe_result(slot->probe);
			json_object_set_new(srtp, slot->name,
					    json_string(r == KM_PEER_PROBE_CONNECTED ? km_peer_probe_profile(slot->probe)
						: r == KM_PEER_PROBE_REFUSED ? "refused" : "none"));
			json_object_set_new(conns, slot->name, probe_json(slot->probe));
		}
		if (slot->server_state[0])
			json_object_set_new(server, slot->name,
					    json_pack("{s:s,s:s,s:s}", "state", slot->server_state,
						      "srtp", slot->server_srtp, "reason",
						      slot->server_reason));
	}
	json_object_set_new(report, "srtp", srtp);
	json_object_set_new(report, "server", server);
	json_object_set_new(report, "rx", rx);
	json_object_set_new(report, "tx", tx);
	json_object_set_new(report, "conns", conns);
}

void km__media_close(km__session_t *s)
{
	for (int i = 0; i < SLOT_N; i++) {
		km__slot_t *slot = &s->slots[i];
		if (!slot->pc && !slot->probe)
			continue;
		if (km_peer_wss_is_open(s->wss))
			km_peer_wss_send(s->wss, json_pack("{s:s,s:s}", "type", "media.close", "conn",
							   slot->name));
		if (slot->pc)
			km_peer_pc_close(slot->pc);
	}
}

void km__media_free(km__session_t *s)
{
	for (int i = 0; i < SLOT_N; i++) {
		km_peer_pc_free(s->slots[i].pc);
		km_peer_probe_free(s->slots[i].probe);
		s->slots[i].pc = NULL;
		s->slots[i].probe = NULL;
	}
}
