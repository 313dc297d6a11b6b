/* load_janus.c — the load client speaking the Janus API (WebSocket
 * transport, subprotocol janus-protocol) to the VideoRoom plugin for one
 * participant: create a session, attach a publisher handle, (the room's
 * first participant) create the room with a high bitrate cap, join as
 * publisher and publish with our offer; once every publisher of the room
 * has its answer, attach a subscriber handle, join as subscriber to all the
 * others' feeds (one multistream connection, like kamer's sub) and start
 * with our answer; trickle candidates on both handles, keepalive every
 * 25 s. Requests are told apart by their transaction ("<what>-<n>").
 * Threads: the load client's. */
#include "tests/bench/load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPALIVE_US (25 * G_USEC_PER_SEC)

/* ---- pure message helpers ---- */

json_t *ld_janus_create_body(uint64_t room, int publishers, int bitrate)
{
	return json_pack("{s:s,s:I,s:i,s:i,s:b,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:i}", "request", "create",
			 "room", (json_int_t)room, "publishers", publishers, "bitrate", bitrate,
			 "bitrate_cap", 0, "audiocodec", "opus", "videocodec", "vp8",
			 "notify_joining", 0, "transport_wide_cc_ext", 0, "audiolevel_ext", 0,
			 "videoorient_ext", 0, "playoutdelay_ext", 0, "fir_freq", 0);
}

json_t *ld_janus_subscribe_body(uint64_t room, const uint64_t *feeds, size_t n)
{
	json_t *streams = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)feeds[i]));
	return json_pack("{s:s,s:s,s:I,s:o}", "request", "join", "ptype", "subscriber", "room",
			 (json_int_t)room, "streams", streams);
}

size_t ld_janus_feeds(json_t *data, uint64_t *out, size_t cap)
{
	size_t n = 0, i;
	json_t *x;
	json_array_foreach(json_object_get(data, "publishers"), i, x) {
		json_int_t id = json_integer_value(json_object_get(x, "id"));
		if (id > 0 && n < cap)
			out[n++] = (uint64_t)id;
	}
	return n;
}

/* ---- one participant ---- */

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static void request(ld_part_t *p, json_t *m, const char *what, uint64_t handle)
{
	char tr[48];
	snprintf(tr, sizeof tr, "%s-%d", what, ++p->tr);
	json_object_set_new(m, "transaction", json_string(tr));
	if (p->session)
		json_object_set_new(m, "session_id", json_integer((json_int_t)p->session));
	if (handle)
		json_object_set_new(m, "handle_id", json_integer((json_int_t)handle));
	if (bws_send(p->ws, m) != 0)
		ld_fail(p, "janus: signaling closed");
}

static void message(ld_part_t *p, json_t *body, json_t *jsep, const char *what, uint64_t handle)
{
	json_t *m = json_pack("{s:s,s:o}", "janus", "message", "body", body);
	if (jsep)
		json_object_set_new(m, "jsep", jsep);
	request(p, m, what, handle);
}

static void attach(ld_part_t *p, const char *what)
{
	request(p, json_pack("{s:s,s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"), what, 0);
}

static void join_publisher(ld_part_t *p)
{
	message(p, json_pack("{s:s,s:s,s:I}", "request", "join", "ptype", "publisher", "room",
			     (json_int_t)p->room->janus_room), NULL, "join", p->pub_handle);
}

static void publish(ld_part_t *p)
{
	char err[256];
	p->pub = ld_conn_new(p, LD_PUB, err, sizeof err);
	char *sdp = p->pub ? ld_conn_offer(p->pub, err, sizeof err) : NULL;
	if (!sdp) {
		ld_fail(p, "janus: pub: %s", err);
		return;
	}
	message(p, json_pack("{s:s,s:s,s:s}", "request", "publish", "audiocodec", "opus", "videocodec", "vp8"),
		json_pack("{s:s,s:s}", "type", "offer", "sdp", sdp), "publish", p->pub_handle);
	free(sdp);
	ld_conn_flush(p->pub);
}

/* Every publisher of the room is up (Janus lists a feed to subscribers
 * only once its PeerConnection is): subscribe to the others. */
static void maybe_subscribe(ld_part_t *p)
{
	ld_room_t *r = p->room;
	if (p->subscribed || !p->session)
		return;
	for (int i = 0; i < r->n; i++)
		if (!r->parts[i] || !r->parts[i]->pub_up)
			return;
	p->subscribed = true;
	if (p->L->verbose)
		ld_log(p->L, "room %d part %d: subscribing after %lld ms", r->index, p->slot,
		       (long long)(g_get_monotonic_time() - r->join_us) / 1000);
	attach(p, "attach-sub");
}

static void subscribe(ld_part_t *p)
{
	uint64_t feeds[LD_MAX_PER_ROOM];
	size_t n = 0;
	for (int i = 0; i < p->room->n; i++)
		if (p->room->parts[i] != p)
			feeds[n++] = p->room->parts[i]->feed;
	message(p, ld_janus_subscribe_body(p->room->janus_room, feeds, n), NULL, "subscribe", p->sub_handle);
}

static void on_sub_offer(ld_part_t *p, json_t *jsep)
{
	char err[256];
	if (!p->sub && !(p->sub = ld_conn_new(p, LD_SUB, err, sizeof err))) {
		ld_fail(p, "janus: sub: %s", err);
		return;
	}
	char *ans = ld_conn_take_offer(p->sub, str(jsep, "sdp"), err, sizeof err);
	if (!ans) {
		ld_fail(p, "janus: sub offer: %s", err);
		return;
	}
	message(p, json_pack("{s:s}", "request", "start"), json_pack("{s:s,s:s}", "type", "answer", "sdp", ans),
		"start", p->sub_handle);
	free(ans);
	ld_conn_flush(p->sub);
}

static void on_success(ld_part_t *p, const char *tr, json_t *msg)
{
	json_t *data = json_object_get(msg, "data");
	uint64_t id = (uint64_t)json_integer_value(json_object_get(data, "id"));
	if (strncmp(tr, "create-", 7) == 0) {
		p->session = id;
		p->next_keepalive_us = g_get_monotonic_time() + KEEPALIVE_US;
		attach(p, "attach-pub");
	} else if (strncmp(tr, "attach-pub-", 11) == 0) {
		p->pub_handle = id;
		if (p->slot == 0)
			message(p, ld_janus_create_body(p->room->janus_room, LD_MAX_PER_ROOM, 4000000), NULL,
				"room", p->pub_handle);
		else if (p->room->created)
			join_publisher(p);
	} else if (strncmp(tr, "attach-sub-", 11) == 0) {
		p->sub_handle = id;
		subscribe(p);
	} else if (strncmp(tr, "room-", 5) == 0) {
		json_t *pd = json_object_get(json_object_get(msg, "plugindata"), "data");
		json_int_t code = json_integer_value(json_object_get(pd, "error_code"));
		if (code && code != 427) { /* 427: the room exists */
			ld_fail(p, "janus: create room: %s", str(pd, "error"));
			return;
		}
		p->room->created = true;
		for (int i = 0; i < p->room->n; i++) {
			ld_part_t *q = p->room->parts[i];
			if (q && q->pub_handle && !q->joined)
				join_publisher(q);
		}
	}
}

static void on_event(ld_part_t *p, json_t *msg)
{
	json_t *data = json_object_get(json_object_get(msg, "plugindata"), "data");
	json_t *jsep = json_object_get(msg, "jsep");
	const char *what = str(data, "videoroom");
	uint64_t sender = (uint64_t)json_integer_value(json_object_get(msg, "sender"));
	char err[256];
	if (json_object_get(data, "error_code")) {
		ld_fail(p, "janus: %s: %s", what, str(data, "error"));
	} else if (strcmp(what, "joined") == 0 && sender == p->pub_handle) {
		p->feed = (uint64_t)json_integer_value(json_object_get(data, "id"));
		p->joined = true;
		publish(p);
	} else if (jsep && strcmp(str(jsep, "type"), "answer") == 0 && sender == p->pub_handle) {
		if (ld_conn_set_answer(p->pub, str(jsep, "sdp"), err, sizeof err) != 0)
			ld_fail(p, "janus: pub answer: %s", err);
	} else if (jsep && strcmp(str(jsep, "type"), "offer") == 0 && sender == p->sub_handle) {
		on_sub_offer(p, jsep);
	}
}

static void on_message(void *ud, json_t *msg)
{
	ld_part_t *p = ud;
	const char *j = str(msg, "janus"), *tr = str(msg, "transaction");
	if (strcmp(j, "success") == 0)
		on_success(p, tr, msg);
	else if (strcmp(j, "event") == 0)
		on_event(p, msg);
	else if (strcmp(j, "webrtcup") == 0 && (uint64_t)json_integer_value(json_object_get(msg, "sender")) == p->pub_handle) {
		p->pub_up = true;
		if (p->L->verbose)
			ld_log(p->L, "room %d part %d: webrtcup after %lld ms (pub conn connected after %lld ms)", p->room->index, p->slot,
			       (long long)(g_get_monotonic_time() - p->room->join_us) / 1000,
			       (long long)(p->pub && p->pub->connected_us ? p->pub->connected_us - p->room->join_us : -1) / 1000);
		for (int i = 0; i < p->room->n; i++)
			if (p->room->parts[i])
				maybe_subscribe(p->room->parts[i]);
	} else if (strcmp(j, "error") == 0)
		ld_fail(p, "janus: error %s: %s", tr, str(json_object_get(msg, "error"), "reason"));
	else if (strcmp(j, "hangup") == 0)
		ld_fail(p, "janus: hangup: %s", str(msg, "reason"));
	else if (strcmp(j, "timeout") == 0)
		ld_fail(p, "janus: session timed out");
}

static void on_open(void *ud)
{
	ld_part_t *p = ud;
	request(p, json_pack("{s:s}", "janus", "create"), "create", 0);
}

static void on_close(void *ud, const char *why)
{
	ld_fail(ud, "janus: signaling: %s", why);
}

void ld_janus_join(ld_part_t *p)
{
	ld_t *L = p->L;
	p->room->janus_room = 1000 + (uint64_t)p->room->index;
	bws_conn_config_t cc = {
		.address = L->host, .port = L->port, .tls = false, .path = "/",
		.protocol = "janus-protocol",
		.on_open = on_open, .on_message = on_message, .on_close = on_close, .ud = p,
	};
	p->ws = bws_connect(L->ws, &cc);
	if (!p->ws)
		ld_fail(p, "janus: cannot connect");
}

void ld_janus_candidate(ld_part_t *p, ld_conn_t *c, const char *cand)
{
	json_t *x = cand[0] ? json_pack("{s:s,s:s,s:i}", "candidate", cand, "sdpMid", "0", "sdpMLineIndex", 0)
			    : json_pack("{s:b}", "completed", 1);
	request(p, json_pack("{s:s,s:o}", "janus", "trickle", "candidate", x), "trickle",
		c == p->pub ? p->pub_handle : p->sub_handle);
}

void ld_janus_tick(ld_part_t *p, int64_t now_us)
{
	if (!p->session || now_us < p->next_keepalive_us || !bws_is_open(p->ws))
		return;
	p->next_keepalive_us = now_us + KEEPALIVE_US;
	request(p, json_pack("{s:s}", "janus", "keepalive"), "ka", 0);
}
