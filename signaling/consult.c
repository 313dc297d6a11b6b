/* consult.c — the consult protocol over WSS (docs/protocol.md): a patient
 * or colleague joins with the token of their link, consents, gives a name
 * and waits; the clinician watches the room, admits or refuses each person,
 * chats, and ends the consult. Live state (who is connected) is the list of
 * open connections; everything durable goes through rooms/consults.h.
 * Signaling thread only. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "rooms/consults.h"
#include "rooms/secretbox.h"
#include "signaling/api_int.h"
#include "signaling/consult_int.h"
#include "signaling/media_int.h"
#include "media/sfu.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int err(struct lws *wsi, km_ws_conn_t *c, const char *code, const char *message)
{
	return km_ws_send_error(wsi, c, code, message, NULL) ? -1 : 0;
}

/* A write failed: says whether the server's disk is full. */
static int store_err(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *message)
{
	if (km_store_full(srv->store)) {
		km_error("consult", "storage_full", "ip=%s", c->ip_log);
		return err(wsi, c, "storage_full", "The server's storage is full; nothing was saved. Tell the clinic.");
	}
	return err(wsi, c, "store_failed", message);
}

/* One audit row for a WSS caller (participant pseudonym or staff user). */
static int audit(km_server_t *srv, km_ws_conn_t *c, int in_tx, int64_t org_id, const char *action, const char *outcome,
		  const char *actor_type, const char *actor_id, const char *role, const char *object_type,
		  int64_t object_id)
{
	char ip[64], obj[32];
	km_audit_ip_truncate(c->ip, 0, ip, sizeof ip);
	snprintf(obj, sizeof obj, "%lld", (long long)object_id);
	km_audit_event_t ev = { .org_id = org_id, .action = action, .outcome = outcome, .actor_type = actor_type,
				.actor_id = actor_id, .actor_role = role, .object_type = object_type, .object_id = obj,
				.client_ip = ip };
	int rc = !srv->audit ? 0 : in_tx ? km_audit_append_in_tx(srv->audit, &ev, NULL) : km_audit_append(srv->audit, &ev, NULL);
	if (rc)
		km_error("audit", "append_failed", "action=%s", action);
	return rc;
}

static int online(km_server_t *srv, int64_t participant_id)
{
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next)
		if (w->role == KM_WS_PARTICIPANT && w->participant_id == participant_id)
			return 1;
	return 0;
}

json_t *km__consult_participants_json(km_server_t *srv, int64_t consult_id)
{
	km_participant_t *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	if (km_consults_participants(srv->store, consult_id, &list, &n) != 0)
		return arr;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:b,s:b}", "id", (json_int_t)list[i].id,
						     "pseudonym", list[i].pseudonym, "kind", list[i].kind, "state",
						     list[i].state, "name", list[i].display_name, "other_device",
						     list[i].other_device, "online", online(srv, list[i].id)));
	free(list);
	return arr;
}

/* Sends msg (a new reference for each receiver) to every connection of a
 * consult that passes the filter, except participant `except` (0: none);
 * takes msg. */
enum { TO_STAFF = 1, TO_ADMITTED = 2 };
static void send_to(km_server_t *srv, int64_t consult_id, int who, int64_t except, json_t *msg)
{
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next) {
		if (w->consult_id != consult_id || (except && w->role == KM_WS_PARTICIPANT && w->participant_id == except))
			continue;
		int yes = (who & TO_STAFF) && w->role == KM_WS_STAFF;
		if ((who & TO_ADMITTED) && w->role == KM_WS_PARTICIPANT) {
			km_participant_t p;
			yes = km_consults_participant_get(srv->store, w->participant_id, &p) == 0 &&
			      strcmp(p.state, "admitted") == 0;
		}
		if (yes && km_ws_send(w->wsi, w, json_incref(msg)) != 0)
			lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	json_decref(msg);
}

void km__consult_notify_staff(km_server_t *srv, int64_t consult_id)
{
	send_to(srv, consult_id, TO_STAFF, 0,
		json_pack("{s:s,s:o}", "type", "participants", "participants",
			  km__consult_participants_json(srv, consult_id)));
}

/* Tells every connection of one participant its state. */
static void notify_participant(km_server_t *srv, int64_t participant_id, json_t *msg)
{
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next)
		if (w->role == KM_WS_PARTICIPANT && w->participant_id == participant_id)
			km_ws_send(w->wsi, w, json_incref(msg));
	json_decref(msg);
}

/* The unsealed room key of a consult; 0 or a KM_E code. */
static int room_key(km_server_t *srv, const km_consult_t *k, uint8_t key[32])
{
	uint8_t sealed[128];
	size_t slen, klen;
	char aad[48];
	snprintf(aad, sizeof aad, "room:org:%lld", (long long)k->org_id);
	int rc = km_consults_room_key(srv->store, k->id, sealed, sizeof sealed, &slen);
	if (!rc)
		rc = km_secretbox_open(srv->server_key, (const uint8_t *)aad, strlen(aad), sealed, slen, key, 32, &klen);
	return rc ? rc : klen == 32 ? 0 : KM_ECRYPTO;
}

/* The chat history of a consult as a JSON array (unsealed). */
json_t *km__consult_chat_json(km_server_t *srv, const km_consult_t *k)
{
	json_t *arr = json_array();
	uint8_t key[32];
	km_chat_row_t *rows = NULL;
	size_t n = 0;
	if (room_key(srv, k, key) != 0)
		return arr;
	if (km_consults_chat_list(srv->store, k->id, &rows, &n) == 0) {
		char aad[48], text[KM_CHAT_MAX + 1];
		snprintf(aad, sizeof aad, "chat:%lld", (long long)k->id);
		for (size_t i = 0; i < n; i++) {
			size_t tl;
			if (km_secretbox_open(key, (const uint8_t *)aad, strlen(aad), rows[i].sealed, rows[i].sealed_len,
					      (uint8_t *)text, KM_CHAT_MAX, &tl) != 0)
				continue;
			text[tl] = 0;
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I}", "type", "chat", "from", rows[i].sender,
							     "text", text, "ts", (json_int_t)rows[i].ts));
		}
		OPENSSL_cleanse(rows, n * sizeof *rows);
		free(rows);
	}
	OPENSSL_cleanse(key, sizeof key);
	return arr;
}

/* Ends a consult: everyone connected is told and disconnected shortly. */
void km__consult_end(km_server_t *srv, int64_t consult_id, const char *why)
{
	if (km_consults_end(srv->store, consult_id, km_clock_now()) != 0)
		return;
	if (srv->sfu) /* media stops at once, before anyone is told */
		km_sfu_close_room(srv->sfu, (uint64_t)consult_id);
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next) {
		if (w->consult_id != consult_id)
			continue;
		km_ws_send(w->wsi, w, json_pack("{s:s,s:s}", "type", "ended", "reason", why));
		w->consult_id = 0;
		w->role = KM_WS_NONE;
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, 2);
	}
	km_info("consult", "ended", "consult=%lld reason=%s", (long long)consult_id, why);
}

/* The org's current consent text as {version, nl, en}, or NULL. */
static json_t *consent_json(km_server_t *srv, int64_t org_id)
{
	int64_t version;
	char *nl = NULL, *en = NULL;
	json_t *o = NULL;
	if (km_consults_consent_current(srv->store, org_id, &version, &nl, &en) == 0)
		o = json_pack("{s:I,s:s,s:s}", "version", (json_int_t)version, "nl", nl, "en", en);
	free(nl);
	free(en);
	return o;
}

/* Someone (p) was just admitted to consult k: the others in the room are
 * told who joined by role, and when the org's policy asks for it, the
 * patients already in the room must consent again (the media reaching them
 * waits for it). */
static void after_admit(km_server_t *srv, const km_consult_t *k, const km_participant_t *p)
{
	km_policy_t pol;
	send_to(srv, k->id, TO_ADMITTED, p->id, json_pack("{s:s,s:s}", "type", "joined_room", "role", p->kind));
	long marked = 0;
	if (km_accounts_policy_get(srv->store, k->org_id, &pol) == 0 && pol.reconsent_on_join &&
	    km_consults_reconsent_mark(srv->store, k->id, p->id, &marked) == 0 && marked > 0) {
		for (km_ws_conn_t *w = srv->ws_list; w; w = w->next) {
			int pending = 0;
			if (w->role != KM_WS_PARTICIPANT || w->consult_id != k->id ||
			    km_consults_reconsent_pending(srv->store, w->participant_id, &pending) != 0 || !pending)
				continue;
			json_t *consent = consent_json(srv, k->org_id);
			km__media_leave(srv, w); /* no media until they consent again */
			km_ws_send(w->wsi, w, json_pack("{s:s,s:s,s:o*}", "type", "reconsent", "role", p->kind, "consent", consent));
		}
	}
	km__consult_notify_staff(srv, k->id);
}

/* ---- participants ---- */

static int welcome(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const km_participant_t *p, const char *resume)
{
	km_consult_t k;
	km_org_t org;
	if (km_consults_get(srv->store, p->consult_id, &k) != 0 || km_accounts_org_get(srv->store, k.org_id, &org) != 0)
		return err(wsi, c, "link_invalid", "This link is not valid (anymore).");
	c->role = KM_WS_PARTICIPANT;
	c->consult_id = p->consult_id;
	c->participant_id = p->id;
	json_t *m = json_pack("{s:s,s:{s:s,s:s,s:s,s:b},s:s,s:I,s:I}", "type", "joined", "participant", "id",
			      p->pseudonym, "kind", p->kind, "state", p->state, "other_device", p->other_device, "org",
			      org.name, "starts_at", (json_int_t)k.starts_at, "expires_at", (json_int_t)k.expires_at);
	if (resume)
		json_object_set_new(m, "resume", json_string(resume));
	int pending = 0;
	if (strcmp(p->state, "admitted") == 0)
		km_consults_reconsent_pending(srv->store, p->id, &pending);
	if (strcmp(p->state, "consent") == 0 || pending) {
		json_t *consent = consent_json(srv, k.org_id);
		if (consent)
			json_object_set_new(m, "consent", consent);
		if (pending)
			json_object_set_new(m, "reconsent", json_true());
	}
	if (strcmp(p->state, "admitted") == 0)
		json_object_set_new(m, "chat", km__consult_chat_json(srv, &k));
	int rc = km_ws_send(wsi, c, m);
	km__consult_notify_staff(srv, p->consult_id);
	return rc ? -1 : 0;
}

static int on_join(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	json_t *t = json_object_get(msg, "token");
	if (c->role != KM_WS_NONE)
		return err(wsi, c, "out_of_order", "this connection has already joined");
	uint64_t now_ms = km__now_ms();
	/* Over the limit of failed tokens: refuse without even checking. */
	if (km_ratelimit_peek(srv->bad_tokens, c->ip, now_ms) > 0)
		return err(wsi, c, "link_invalid", "This link is not valid (anymore).");
	km_participant_t p;
	char cookie[KM_TOKEN_LEN];
	if (!json_is_string(t) || json_string_length(t) != 43 ||
	    km_consults_redeem(srv->store, json_string_value(t), km_clock_now(), &p, cookie) != 0) {
		km_ratelimit_take(srv->bad_tokens, c->ip, now_ms);
		km_warn("consult", "join_refused", "ip=%s", c->ip_log);
		return err(wsi, c, "link_invalid", "This link is not valid (anymore).");
	}
	km_info("consult", "joined", "consult=%lld participant=%s other_device=%d", (long long)p.consult_id, p.pseudonym,
		p.other_device);
	int rc = welcome(srv, wsi, c, &p, cookie);
	OPENSSL_cleanse(cookie, sizeof cookie);
	return rc;
}

static int on_resume(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_participant_t p;
	if (c->role != KM_WS_NONE)
		return err(wsi, c, "out_of_order", "this connection has already joined");
	if (!c->pcookie[0] || km_consults_participant_by_cookie(srv->store, c->pcookie, km_clock_now(), &p) != 0 ||
	    strcmp(p.state, "left") == 0 || strcmp(p.state, "refused") == 0)
		return err(wsi, c, "link_invalid", "This link is not valid (anymore).");
	return welcome(srv, wsi, c, &p, NULL);
}

/* The caller's participant, if it is in state `state`. */
static int me_in(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *state, km_participant_t *p)
{
	if (c->role != KM_WS_PARTICIPANT || km_consults_participant_get(srv->store, c->participant_id, p) != 0) {
		err(wsi, c, "out_of_order", "join first");
		return -1;
	}
	if (state && strcmp(p->state, state) != 0) {
		err(wsi, c, "out_of_order", "not possible in this step");
		return -1;
	}
	return 0;
}

static int send_state(km_server_t *srv, int64_t participant_id, const char *state)
{
	notify_participant(srv, participant_id, json_pack("{s:s,s:s}", "type", "state", "state", state));
	return 0;
}

static int on_consent(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_participant_t p;
	km_consult_t k;
	json_t *accept = json_object_get(msg, "accept"), *ver = json_object_get(msg, "version");
	int pending = 0;
	if (me_in(srv, wsi, c, NULL, &p))
		return 0;
	if (strcmp(p.state, "admitted") == 0)
		km_consults_reconsent_pending(srv->store, p.id, &pending);
	if (strcmp(p.state, "consent") != 0 && !pending)
		return err(wsi, c, "out_of_order", "not possible in this step");
	if (!json_is_boolean(accept) || !json_is_integer(ver))
		return err(wsi, c, "invalid_message", "consent needs \"accept\" (true/false) and the text's \"version\"");
	int64_t version;
	char *nl = NULL, *en = NULL;
	if (km_consults_get(srv->store, p.consult_id, &k) != 0 ||
	    km_consults_consent_current(srv->store, k.org_id, &version, &nl, &en) != 0)
		return store_err(srv, wsi, c, "try again");
	free(nl);
	free(en);
	if (json_integer_value(ver) != version)
		return err(wsi, c, "consent_outdated", "the consent text changed; read it again");
	int given = json_is_true(accept);
	int rc = km_accounts_tx_begin(srv->store);
	if (rc == 0) {
		rc = km_consults_consent_record(srv->store, p.id, given, version, km_clock_now());
		if (rc == 0 && given && !pending)
			rc = km_consults_participant_step(srv->store, p.id, "consent", "name", km_clock_now());
		if (rc == 0 && given && pending)
			rc = km_consults_reconsent_clear(srv->store, p.id);
		if (rc == 0)
			rc = audit(srv, c, 1, k.org_id, given ? "consent.given" : "consent.refused", "success", "participant",
				   p.pseudonym, p.kind, "consult", k.id);
		rc = km_api_tx_end(srv, rc);
	}
	if (rc)
		return store_err(srv, wsi, c, "try again");
	send_state(srv, p.id, given ? (pending ? "admitted" : "name") : "refused");
	km__consult_notify_staff(srv, p.consult_id);
	return 0;
}

static int on_name(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_participant_t p;
	json_t *name = json_object_get(msg, "display_name"); /* checked by the schema (schema.c) */
	if (me_in(srv, wsi, c, "name", &p))
		return 0;
	/* the name and the step to waiting in one transaction: a kill or a
	 * failed write between them leaves neither */
	int rc = km_accounts_tx_begin(srv->store);
	if (rc == 0) {
		rc = km_consults_set_display_name(srv->store, p.id, json_string_value(name));
		if (rc == 0)
			rc = km_consults_participant_step(srv->store, p.id, "name", "waiting", km_clock_now());
		rc = km_api_tx_end(srv, rc);
	}
	if (rc)
		return store_err(srv, wsi, c, "try again");
	km_consult_t k;
	km_policy_t pol;
	/* Colleagues skip the waiting room unless the org's policy says otherwise
	 * (a link opened on another device always waits for the clinician). */
	if (strcmp(p.kind, "colleague") == 0 && !p.other_device && km_consults_get(srv->store, p.consult_id, &k) == 0 &&
	    km_accounts_policy_get(srv->store, k.org_id, &pol) == 0 && !pol.colleagues_wait &&
	    km_consults_participant_step(srv->store, p.id, "waiting", "admitted", km_clock_now()) == 0) {
		notify_participant(srv, p.id, json_pack("{s:s,s:s,s:o}", "type", "state", "state", "admitted", "chat",
							km__consult_chat_json(srv, &k)));
		after_admit(srv, &k, &p);
		return 0;
	}
	send_state(srv, p.id, "waiting");
	send_to(srv, p.consult_id, TO_STAFF, 0, json_pack("{s:s,s:I}", "type", "waiting_alert", "participant", (json_int_t)p.id));
	km__consult_notify_staff(srv, p.consult_id);
	return 0;
}

static int on_leave(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_participant_t p;
	if (me_in(srv, wsi, c, NULL, &p))
		return 0;
	km_consults_participant_step(srv->store, p.id, p.state, "left", km_clock_now());
	km__media_leave(srv, c);
	c->role = KM_WS_NONE;
	c->consult_id = 0;
	km_ws_send(wsi, c, json_pack("{s:s,s:s}", "type", "state", "state", "left"));
	km__consult_notify_staff(srv, p.consult_id);
	return 0;
}

/* ---- chat (participants and staff) ---- */

static int on_chat(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	json_t *text = json_object_get(msg, "text");
	char sender[40];
	km_consult_t k;
	if (c->role == KM_WS_PARTICIPANT) {
		km_participant_t p;
		if (me_in(srv, wsi, c, "admitted", &p))
			return 0;
		snprintf(sender, sizeof sender, "%s:%.20s", p.kind, p.display_name[0] ? p.pseudonym : p.pseudonym);
	} else if (c->role == KM_WS_STAFF) {
		snprintf(sender, sizeof sender, "clinician:%lld", (long long)c->user_id);
	} else {
		return err(wsi, c, "out_of_order", "join first");
	}
	if (!json_is_string(text) || json_string_length(text) < 1 || json_string_length(text) > KM_CHAT_MAX)
		return err(wsi, c, "invalid_message", "text must be 1 to 2000 bytes");
	if (km_consults_get(srv->store, c->consult_id, &k) != 0)
		return err(wsi, c, "not_found", "no such consult");
	uint8_t key[32], sealed[KM_CHAT_MAX + 64];
	size_t slen;
	char aad[48];
	int64_t id, now = km_clock_now();
	snprintf(aad, sizeof aad, "chat:%lld", (long long)k.id);
	int rc = room_key(srv, &k, key);
	if (!rc)
		rc = km_secretbox_seal(key, (const uint8_t *)aad, strlen(aad), (const uint8_t *)json_string_value(text),
				       json_string_length(text), sealed, sizeof sealed, &slen);
	OPENSSL_cleanse(key, sizeof key);
	if (!rc)
		rc = km_consults_chat_add(srv->store, k.id, sender, sealed, slen, now, &id);
	if (rc)
		return store_err(srv, wsi, c, "the message was not sent; try again");
	send_to(srv, k.id, TO_STAFF | TO_ADMITTED, 0,
		json_pack("{s:s,s:s,s:O,s:I}", "type", "chat", "from", sender, "text", text, "ts", (json_int_t)now));
	return 0;
}

/* ---- private messages between the clinician and one waiting person ---- */

/* Before admitting, the clinician may check who is waiting: messages go
 * between the clinician and that one person only, relayed and not stored,
 * so they end with the room. */
static int on_private(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	json_t *text = json_object_get(msg, "text");
	if (!json_is_string(text) || json_string_length(text) < 1 || json_string_length(text) > KM_CHAT_MAX)
		return err(wsi, c, "invalid_message", "text must be 1 to 2000 bytes");
	km_participant_t p;
	if (c->role == KM_WS_STAFF) {
		json_t *jid = json_object_get(msg, "participant");
		if (!json_is_integer(jid) || km_consults_participant_get(srv->store, json_integer_value(jid), &p) != 0 ||
		    p.consult_id != c->consult_id)
			return err(wsi, c, "not_found", "no such participant in this consult");
		if (strcmp(p.state, "waiting") != 0)
			return err(wsi, c, "out_of_order", "private messages are for someone who is waiting");
		notify_participant(srv, p.id, json_pack("{s:s,s:s,s:O}", "type", "private", "from", "clinician", "text", text));
		return 0;
	}
	if (me_in(srv, wsi, c, "waiting", &p))
		return 0;
	send_to(srv, p.consult_id, TO_STAFF, 0,
		json_pack("{s:s,s:I,s:O}", "type", "private", "participant", (json_int_t)p.id, "text", text));
	return 0;
}

/* ---- staff ---- */

/* Loads the staff session of the upgrade request (idle timeout applied). */
static int staff_session(km_server_t *srv, km_ws_conn_t *c, km_api_ctx_t *ctx, km_http_req_t *req)
{
	memset(ctx, 0, sizeof *ctx);
	memset(req, 0, sizeof *req);
	snprintf(req->session, sizeof req->session, "%s", c->session);
	snprintf(req->ip, sizeof req->ip, "%s", c->ip);
	ctx->srv = srv;
	ctx->req = req;
	ctx->resp = &req->resp;
	ctx->now = km_clock_now();
	int rc = km_auth_load(ctx);
	free(req->resp.body);
	req->resp.body = NULL;
	if (rc || strcmp(ctx->sess.stage, "full") != 0)
		return -1;
	return 0;
}

static int on_watch(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	json_t *jid = json_object_get(msg, "consult");
	km_api_ctx_t ctx;
	km_http_req_t req;
	km_consult_t k;
	if (c->role == KM_WS_PARTICIPANT)
		return err(wsi, c, "forbidden", "not for participants");
	if (staff_session(srv, c, &ctx, &req) != 0)
		return err(wsi, c, "not_signed_in", "please sign in");
	if (!json_is_integer(jid) || km_consults_get(srv->store, json_integer_value(jid), &k) != 0 ||
	    k.clinician_id != ctx.user.id)
		return err(wsi, c, "not_found", "no such consult");
	if (k.ended_at || k.expires_at <= km_clock_now())
		return err(wsi, c, "ended", "this consult has ended");
	if (c->consult_id != k.id)
		km__media_leave(srv, c);
	c->role = KM_WS_STAFF;
	c->consult_id = k.id;
	c->user_id = ctx.user.id;
	json_t *m = json_pack("{s:s,s:{s:I,s:s,s:I,s:I},s:o,s:o}", "type", "room", "consult", "id", (json_int_t)k.id,
			      "label", k.label, "starts_at", (json_int_t)k.starts_at, "expires_at",
			      (json_int_t)k.expires_at, "participants", km__consult_participants_json(srv, k.id), "chat",
			      km__consult_chat_json(srv, &k));
	return km_ws_send(wsi, c, m) ? -1 : 0;
}

/* The participant named by msg's "participant" (an id) in the caller's
 * consult; staff only. */
static int target(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg, km_participant_t *p)
{
	json_t *jid = json_object_get(msg, "participant");
	if (c->role != KM_WS_STAFF) {
		err(wsi, c, "forbidden", "only the clinician may do this");
		return -1;
	}
	if (!json_is_integer(jid) || km_consults_participant_get(srv->store, json_integer_value(jid), p) != 0 ||
	    p->consult_id != c->consult_id) {
		err(wsi, c, "not_found", "no such participant in this consult");
		return -1;
	}
	return 0;
}

static int decide(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg, int admit)
{
	km_participant_t p;
	km_consult_t k;
	if (target(srv, wsi, c, msg, &p))
		return 0;
	if (km_consults_get(srv->store, p.consult_id, &k) != 0)
		return err(wsi, c, "not_found", "no such consult");
	char actor[32];
	snprintf(actor, sizeof actor, "%lld", (long long)c->user_id);
	int rc = km_accounts_tx_begin(srv->store);
	if (rc)
		return store_err(srv, wsi, c, "try again");
	if (km_consults_participant_step(srv->store, p.id, "waiting", admit ? "admitted" : "refused", km_clock_now())) {
		km_api_tx_end(srv, KM_EPERM);
		return err(wsi, c, "out_of_order", "this person is not waiting");
	}
	rc = audit(srv, c, 1, k.org_id, admit ? "participant.admit" : "participant.refuse", "success", "user", actor,
		   "clinician", "participant", p.id);
	if (km_api_tx_end(srv, rc))
		return store_err(srv, wsi, c, "try again");
	if (admit) {
		json_t *m = json_pack("{s:s,s:s,s:o}", "type", "state", "state", "admitted", "chat",
				      km__consult_chat_json(srv, &k));
		notify_participant(srv, p.id, m);
		after_admit(srv, &k, &p);
		return 0;
	}
	for (km_ws_conn_t *w = srv->ws_list; w; w = w->next) /* e.g. a device check still running */
		if (w->role == KM_WS_PARTICIPANT && w->participant_id == p.id)
			km__media_leave(srv, w);
	send_state(srv, p.id, "refused");
	km__consult_notify_staff(srv, p.consult_id);
	return 0;
}

static int on_admit(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	return decide(srv, wsi, c, msg, 1);
}

static int on_refuse(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	return decide(srv, wsi, c, msg, 0);
}

static int on_end(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	km_consult_t k;
	if (c->role != KM_WS_STAFF)
		return err(wsi, c, "forbidden", "only the clinician may end the consult");
	char actor[32];
	snprintf(actor, sizeof actor, "%lld", (long long)c->user_id);
	if (km_consults_get(srv->store, c->consult_id, &k) == 0)
		audit(srv, c, 0, k.org_id, "consult.end", "success", "user", actor, "clinician", "consult", k.id);
	km__consult_end(srv, c->consult_id, "ended_by_clinician");
	return 0;
}

static const struct {
	const char *type;
	int (*fn)(km_server_t *, struct lws *, km_ws_conn_t *, json_t *);
} handlers[] = {
	{ "join", on_join },	   { "resume", on_resume }, { "consent", on_consent }, { "name", on_name },
	{ "leave", on_leave },	   { "chat", on_chat },	    { "watch", on_watch },     { "admit", on_admit },
	{ "refuse", on_refuse },   { "end", on_end },	    { "private", on_private },
};

int km_consult_handle(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *t, json_t *msg)
{
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (strcmp(handlers[i].type, t) == 0)
			return handlers[i].fn(srv, wsi, c, msg);
	return km__media_handle(srv, wsi, c, t, msg);
}

void km_consult_on_close(km_server_t *srv, km_ws_conn_t *c)
{
	int64_t consult = c->consult_id;
	km__media_leave(srv, c);
	c->consult_id = 0;
	c->role = KM_WS_NONE;
	if (consult)
		km__consult_notify_staff(srv, consult);
}

/* Ends every consult whose time is up. */
void km__consult_expire(km_server_t *srv)
{
	int64_t *ids = NULL;
	size_t n = 0;
	if (km_consults_expired(srv->store, km_clock_now(), &ids, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		km__consult_end(srv, ids[i], "expired");
	free(ids);
}
