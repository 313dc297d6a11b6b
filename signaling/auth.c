/* auth.c — the session behind a request: cookie -> session -> user, with
 * the organisation's idle timeout and the absolute lifetime applied; the
 * session cookie; audit rows for API callers. Signaling thread only. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "signaling/api_int.h"

#include <stdio.h>
#include <string.h>

/* Sessions in a partial stage live at most this long. */
#define PARTIAL_SESSION_S 600
/* last_seen is written at most this often (each write is a durable commit). */
#define TOUCH_EVERY_S 15

void km_auth_set_cookie(km_api_ctx_t *c, const char *token)
{
	if (token)
		snprintf(c->resp->set_cookie, sizeof c->resp->set_cookie,
			 "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict", KM_SESSION_COOKIE, token);
	else
		snprintf(c->resp->set_cookie, sizeof c->resp->set_cookie,
			 "%s=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0", KM_SESSION_COOKIE);
}

static void end_session(km_api_ctx_t *c, const char *why)
{
	km_accounts_session_end(c->srv->store, c->sess.id);
	char detail[64];
	snprintf(detail, sizeof detail, "reason=%s", why);
	c->has_session = 1; /* so that the audit row names the user */
	km_api_audit(c, -1, "session.end", "success", "session", c->sess.id, detail);
	c->has_session = 0;
	km_auth_set_cookie(c, NULL);
}

int km_auth_load(km_api_ctx_t *c)
{
	km_store_t *s = c->srv->store;
	c->has_session = 0;
	if (!c->req->session[0] || strlen(c->req->session) != 43)
		return -1;
	if (km_accounts_session_get(s, c->req->session, &c->sess) != 0)
		return -1;
	if (km_accounts_user_get(s, c->sess.user_id, &c->user) != 0 ||
	    km_accounts_org_get(s, c->user.org_id, &c->org) != 0 ||
	    km_accounts_policy_get(s, c->user.org_id, &c->policy) != 0) {
		km_accounts_session_end(s, c->sess.id);
		return -1;
	}
	int64_t idle = c->policy.idle_timeout_min * 60;
	int64_t partial_end = c->sess.created_at + PARTIAL_SESSION_S;
	if (c->user.disabled) {
		end_session(c, "user_disabled");
		return -1;
	}
	if (c->now - c->sess.last_seen > idle) {
		end_session(c, "idle_timeout");
		return -1;
	}
	if (c->now >= c->sess.expires_at || (strcmp(c->sess.stage, "full") != 0 && c->now >= partial_end)) {
		end_session(c, "lifetime");
		return -1;
	}
	if (c->now - c->sess.last_seen >= TOUCH_EVERY_S)
		km_accounts_session_touch(s, c->sess.id, c->now);
	c->has_session = 1;
	return 0;
}

static int api_audit(km_api_ctx_t *c, int in_tx, int64_t org_id, const char *action, const char *outcome,
		  const char *object_type, int64_t object_id, const char *detail)
{
	if (!c->srv->audit)
		return 0;
	char actor[32], object[32], ip[64];
	const char *role = "unknown";
	if (c->has_session) {
		snprintf(actor, sizeof actor, "%lld", (long long)c->user.id);
		role = c->user.role;
		if (org_id < 0)
			org_id = c->user.org_id;
	} else {
		snprintf(actor, sizeof actor, "unknown");
	}
	if (org_id < 0)
		org_id = 0;
	object[0] = 0;
	if (object_type)
		snprintf(object, sizeof object, "%lld", (long long)object_id);
	int full_ip = c->has_session ? (int)c->policy.full_client_ip : 0;
	km_audit_ip_truncate(c->req->ip, full_ip, ip, sizeof ip);
	km_audit_event_t ev = {
		.org_id = org_id,
		.action = action,
		.outcome = outcome,
		.actor_type = "user",
		.actor_id = actor,
		.actor_role = role,
		.object_type = object_type,
		.object_id = object,
		.client_ip = ip,
		.detail = detail,
	};
	int rc = in_tx ? km_audit_append_in_tx(c->srv->audit, &ev, NULL) : km_audit_append(c->srv->audit, &ev, NULL);
	if (rc)
		km_error("audit", "append_failed", "action=%s err=%s", action, km_err_name(rc));
	return rc;
}

void km_api_audit(km_api_ctx_t *c, int64_t org_id, const char *action, const char *outcome,
		  const char *object_type, int64_t object_id, const char *detail)
{
	api_audit(c, 0, org_id, action, outcome, object_type, object_id, detail);
}

int km_api_audit_in_tx(km_api_ctx_t *c, int64_t org_id, const char *action, const char *outcome,
		       const char *object_type, int64_t object_id, const char *detail)
{
	return api_audit(c, 1, org_id, action, outcome, object_type, object_id, detail);
}

int km_api_tx_end(km_server_t *srv, int rc)
{
	rc = km_accounts_tx_end(srv->store, rc);
	if (srv->audit) {
		if (rc == 0)
			km_audit_after_commit(srv->audit);
		else
			km_audit_after_rollback(srv->audit);
	}
	return rc;
}

int km_api_audited(km_api_ctx_t *c, km_api_write_fn write, void *arg, const char *action, const char *object_type,
		   int64_t object_id, const char *detail)
{
	int rc = km_accounts_tx_begin(c->srv->store);
	if (rc)
		return rc;
	rc = write(c, arg);
	if (rc == 0)
		rc = km_api_audit_in_tx(c, -1, action, "success", object_type, object_id, detail);
	return km_api_tx_end(c->srv, rc);
}

void km_api_store_failed(km_api_ctx_t *c, const char *op, int rc)
{
	if (rc == KM_EFULL || km_store_full(c->srv->store)) {
		km_error("api", "storage_full", "op=%s err=%s", op, km_err_name(rc));
		km_http_error(c->resp, 507, "storage_full",
			      "the server's storage is full; nothing was changed. Tell the administrator.");
		return;
	}
	km_error("api", "store_failed", "op=%s err=%s", op, km_err_name(rc));
	km_http_error(c->resp, 503, "store_failed", "could not save; nothing was changed, try again");
}

const char *km_api_str(km_api_ctx_t *c, const char *name, size_t max)
{
	json_t *v = json_object_get(c->body, name);
	char msg[128];
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof msg, "field \"%s\" must be a string of 1 to %zu bytes", name, max);
		km_http_error(c->resp, 400, "invalid_field", msg);
		return NULL;
	}
	return json_string_value(v);
}

int km_api_only(km_api_ctx_t *c, const char *const *fields)
{
	const char *key;
	json_t *v;
	json_object_foreach(c->body, key, v) {
		int ok = 0;
		for (const char *const *f = fields; *f; f++)
			if (strcmp(*f, key) == 0)
				ok = 1;
		if (!ok) {
			char msg[160];
			snprintf(msg, sizeof msg, "unknown field \"%.64s\"", key);
			km_http_error(c->resp, 400, "unknown_field", msg);
			return -1;
		}
	}
	return 0;
}
