/* media_ws.c — the media part of the consult protocol (docs/protocol.md,
 * "Media"): WebRTC offers, answers and candidates between a WSS connection
 * and the SFU (media/sfu.h), allowed only to admitted participants and the
 * watching clinician (echo: anyone who has consented), and the SFU's
 * events routed back to the right connection. A WSS connection is one SFU
 * member (its media_id); the consult is the SFU room.
 * Signaling thread only. */
#include "core/err.h"
#include "core/log.h"
#include "media/sfu.h"
#include "media/srtp.h"
#include "rooms/accounts.h"
#include "rooms/consults.h"
#include "signaling/consult_int.h"
#include "signaling/media_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int conn_kind(const char *s, km_sfu_conn_kind_t *k)
{
	if (!s)
		return -1;
	if (strcmp(s, "pub") == 0)
		*k = KM_SFU_PUB;
	else if (strcmp(s, "sub") == 0)
		*k = KM_SFU_SUB;
	else if (strcmp(s, "echo") == 0)
		*k = KM_SFU_ECHO;
	else
		return -1;
	return 0;
}

/* Applies the organisation's SRTP policy to the consult's room. */
static void room_policy(km_server_t *srv, km_ws_conn_t *c)
{
	km_consult_t k;
	km_policy_t pol;
	if (km_consults_get(srv->store, c->consult_id, &k) == 0 && km_accounts_policy_get(srv->store, k.org_id, &pol) == 0)
		km_sfu_room_policy(srv->sfu, (uint64_t)c->consult_id, pol.allow_aes128 != 0);
}

/* 0 if c may have this kind of media connection, else sends the error. */
static int allowed(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, int echo)
{
	if (!srv->sfu)
		return km_ws_send_error(wsi, c, "media_unavailable", "media is not available on this server", NULL), -1;
	if (c->role == KM_WS_STAFF && c->consult_id)
		return 0;
	km_participant_t p;
	if (c->role != KM_WS_PARTICIPANT || km_consults_participant_get(srv->store, c->participant_id, &p) != 0) {
		km_ws_send_error(wsi, c, "out_of_order", "join or watch a consult first", NULL);
		return -1;
	}
	int pending = 0;
	if (strcmp(p.state, "admitted") == 0 && !echo &&
	    (km_consults_reconsent_pending(srv->store, p.id, &pending) != 0 || !pending))
		return 0;
	if (echo && (strcmp(p.state, "name") == 0 || strcmp(p.state, "waiting") == 0 || strcmp(p.state, "admitted") == 0))
		return 0;
	km_ws_send_error(wsi, c, "out_of_order", echo ? "give consent first" : "wait until you are admitted", NULL);
	return -1;
}

static int on_offer(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg, int echo)
{
	const char *sdp = json_string_value(json_object_get(msg, "sdp"));
	if (allowed(srv, wsi, c, echo))
		return 0;
	room_policy(srv, c);
	char err[256] = "", *answer = NULL;
	int rc = km_sfu_offer(srv->sfu, (uint64_t)c->consult_id, c->media_id, echo, sdp ? sdp : "",
			      sdp ? strlen(sdp) : 0, &answer, err, sizeof err);
	if (rc == KM_EBUSY)
		return km_ws_send_error(wsi, c, "media_unavailable", err, NULL) ? -1 : 0;
	if (rc) {
		km_info("media", "offer_refused", "consult=%lld conn=%s reason=\"%s\"", (long long)c->consult_id,
			echo ? "echo" : "pub", err);
		return km_ws_send_error(wsi, c, "sdp_invalid", err, NULL) ? -1 : 0;
	}
	km_info("media", "offer_answered", "consult=%lld member=%llu conn=%s", (long long)c->consult_id,
		(unsigned long long)c->media_id, echo ? "echo" : "pub");
	json_t *m = json_pack("{s:s,s:s,s:s}", "type", "media.answer", "conn", echo ? "echo" : "pub", "sdp", answer);
	free(answer);
	return km_ws_send(wsi, c, m) ? -1 : 0;
}

static int on_subscribe(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	if (allowed(srv, wsi, c, 0))
		return 0;
	room_policy(srv, c);
	if (km_sfu_subscribe(srv->sfu, (uint64_t)c->consult_id, c->media_id) != 0)
		return km_ws_send_error(wsi, c, "media_unavailable", "cannot subscribe", NULL) ? -1 : 0;
	km__media_events(srv); /* an offer may be ready at once */
	return 0;
}

static int on_answer(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	const char *sdp = json_string_value(json_object_get(msg, "sdp"));
	json_t *v = json_object_get(msg, "version");
	if (allowed(srv, wsi, c, 0))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return km_ws_send_error(wsi, c, "invalid_message", "version must be a positive integer", NULL) ? -1 : 0;
	char err[256] = "";
	int rc = km_sfu_answer(srv->sfu, c->media_id, (uint64_t)json_integer_value(v), sdp ? sdp : "",
			       sdp ? strlen(sdp) : 0, err, sizeof err);
	if (rc == KM_EPERM && (uint64_t)json_integer_value(v) <= c->sub_closed) {
		/* the client answered just as its sub connection closed (it hung
		 * up, or the connection failed): a race, like a replaced offer */
		snprintf(err, sizeof err, "offer version %lld was withdrawn: its connection has closed",
			 (long long)json_integer_value(v));
		rc = KM_EEXPIRED;
	}
	if (rc == KM_EEXPIRED)
		return km_ws_send_error(wsi, c, "offer_replaced", err, NULL) ? -1 : 0;
	if (rc == KM_EPERM)
		return km_ws_send_error(wsi, c, "out_of_order", err, NULL) ? -1 : 0;
	if (rc)
		return km_ws_send_error(wsi, c, "sdp_invalid", err, NULL) ? -1 : 0;
	km__media_events(srv);
	return 0;
}

static int on_candidate(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_sfu_conn_kind_t k;
	const char *cand = json_string_value(json_object_get(msg, "candidate"));
	if (!srv->sfu || conn_kind(json_string_value(json_object_get(msg, "conn")), &k) != 0 || !cand)
		return km_ws_send_error(wsi, c, "invalid_message", "conn must be pub, sub or echo; candidate a string", NULL)
			       ? -1 : 0;
	int rc = km_sfu_candidate(srv->sfu, c->media_id, k, cand);
	if (rc == KM_ETOOBIG)
		return km_ws_send_error(wsi, c, "invalid_message", "candidate too long", NULL) ? -1 : 0;
	return 0; /* a candidate for a connection that is gone is harmless */
}

static int on_close(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_sfu_conn_kind_t k;
	if (!srv->sfu || conn_kind(json_string_value(json_object_get(msg, "conn")), &k) != 0)
		return km_ws_send_error(wsi, c, "invalid_message", "conn must be pub, sub or echo", NULL) ? -1 : 0;
	km_sfu_close(srv->sfu, c->media_id, k);
	if (k == KM_SFU_SUB)
		c->sub_closed = c->sub_offered;
	km__media_events(srv);
	return 0;
}

int km__media_handle(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *t, json_t *msg)
{
	if (strcmp(t, "media.publish") == 0)
		return on_offer(srv, wsi, c, msg, 0);
	if (strcmp(t, "media.echo") == 0)
		return on_offer(srv, wsi, c, msg, 1);
	if (strcmp(t, "media.subscribe") == 0)
		return on_subscribe(srv, wsi, c, msg);
	if (strcmp(t, "media.answer") == 0)
		return on_answer(srv, wsi, c, msg);
	if (strcmp(t, "media.candidate") == 0)
		return on_candidate(srv, wsi, c, msg);
	if (strcmp(t, "media.close") == 0)
		return on_close(srv, wsi, c, msg);
	return -2;
}

void km__media_leave(km_server_t *srv, km_ws_conn_t *c)
{
	if (srv->sfu && c->media_id) {
		km_sfu_leave(srv->sfu, c->media_id);
		km__media_events(srv);
	}
}

/* Who is behind each stream id ("k<media id>") of a consult. */
static json_t *streams_json(km_server_t *srv, int64_t consult_id)
{
	json_t *o = json_object();
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next) {
		if (w->consult_id != consult_id || !w->media_id)
			continue;
		char key[32];
		snprintf(key, sizeof key, "k%llu", (unsigned long long)w->media_id);
		km_participant_t p;
		if (w->role == KM_WS_PARTICIPANT && km_consults_participant_get(srv->store, w->participant_id, &p) == 0)
			json_object_set_new(o, key, json_pack("{s:I,s:s,s:s}", "participant", (json_int_t)p.id, "role",
							      p.kind, "name", p.display_name));
		else if (w->role == KM_WS_STAFF)
			json_object_set_new(o, key, json_pack("{s:i,s:s,s:s}", "participant", 0, "role", "clinician", "name", ""));
	}
	return o;
}

static km_ws_conn_t *by_member(km_server_t *srv, uint64_t member)
{
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next)
		if (w->media_id == member)
			return w;
	return NULL;
}

static void deliver(km_server_t *srv, km_sfu_event_t *e)
{
	km_ws_conn_t *w = by_member(srv, e->member);
	const char *conn = km_sfu_conn_name(e->conn);
	json_t *m = NULL;
	if (e->type == KM_SFU_EV_OFFER && w) {
		if (e->version <= w->sub_closed) /* the SFU forgot this member: it counts from 1 again */
			w->sub_closed = 0;
		w->sub_offered = e->version;
		m = json_pack("{s:s,s:s,s:I,s:s,s:o}", "type", "media.offer", "conn", conn, "version",
			      (json_int_t)e->version, "sdp", e->sdp, "streams", streams_json(srv, w->consult_id));
	} else if (e->type == KM_SFU_EV_CANDIDATE && w)
		m = json_pack("{s:s,s:s,s:s}", "type", "media.candidate", "conn", conn, "candidate", e->text);
	else if (e->type == KM_SFU_EV_STATE) {
		km_info("media", "conn_state", "member=%llu conn=%s state=%s detail=\"%s\"",
			(unsigned long long)e->member, conn, e->state, e->text);
		if (w && e->conn == KM_SFU_SUB && strcmp(e->state, "connected") != 0)
			w->sub_closed = w->sub_offered; /* the SFU has forgotten its offer */
		if (w && strcmp(e->state, "connected") == 0)
			m = json_pack("{s:s,s:s,s:s,s:s}", "type", "media.state", "conn", conn, "state", e->state, "srtp",
				      e->text);
		else if (w)
			m = json_pack("{s:s,s:s,s:s,s:s}", "type", "media.state", "conn", conn, "state", e->state, "reason",
				      e->text);
	}
	free(e->sdp);
	if (m && km_ws_send(w->wsi, w, m) != 0)
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void km__media_events(km_server_t *srv)
{
	km_sfu_event_t ev[32];
	size_t n;
	if (!srv->sfu)
		return;
	for (int round = 0; round < 64 && (n = km_sfu_poll(srv->sfu, ev, 32)) > 0; round++)
		for (size_t i = 0; i < n; i++)
			deliver(srv, &ev[i]);
}

static void wake(void *ud)
{
	km_server_t *srv = ud;
	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

int km__media_start(km_server_t *srv, char *err, size_t errlen)
{
	char addrs[KM_ICE_MAX_ADDRS_SIG][64];
	const char *ptrs[KM_ICE_MAX_ADDRS_SIG];
	size_t n;
	const km_config_t *cfg = srv->cfg;
	int rc = km_config_media_addresses(cfg, addrs, KM_ICE_MAX_ADDRS_SIG, &n, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = addrs[i];
	km_sfu_config_t sc = {
		.addresses = ptrs, .n_addresses = n, .port_min = (uint16_t)cfg->media_port_min,
		.port_max = (uint16_t)cfg->media_port_max, .workers = (unsigned)cfg->media_workers,
		.max_bitrate_kbps = (unsigned)cfg->media_max_kbps, .wake = wake, .wake_ud = srv,
	};
	rc = km_sfu_new(&sc, &srv->sfu, err, errlen);
	if (!rc)
		km_info("media", "started", "addresses=%s ports=%ld-%ld srtp_aes_gcm=%s", cfg->media_addresses,
			cfg->media_port_min, cfg->media_port_max, km_srtp_backend());
	return rc;
}
