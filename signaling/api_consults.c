/* api_consults.c — a clinician's consults over the JSON API: create (with
 * the invitation emails), list, show, re-send or revoke one invitation, end.
 * A clinician sees and changes only their own consults (others give 404).
 * Emails go to the outbox folder (SMTP comes with its configuration).
 * Signaling thread only. */
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "rooms/consults.h"
#include "rooms/mail.h"
#include "rooms/secretbox.h"
#include "signaling/api_int.h"
#include "signaling/consult_int.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void base_url(const km_api_ctx_t *c, char *out, size_t len)
{
	if (c->srv->cfg->public_url[0])
		snprintf(out, len, "%s", c->srv->cfg->public_url);
	else
		snprintf(out, len, "https://localhost:%d", c->srv->cfg->listen_port);
}

/* Composes and writes the invitation email for one token; records the
 * outcome on the invitation. Returns 0 or a KM_E code (logged). */
static int send_invitation(km_api_ctx_t *c, const km_consult_t *k, int64_t inv_id, const char *email,
			   const char *token)
{
	char base[300], link[400], from[320], domain[300], err[256], name[128], outbox[KM_PATH_MAX + 16];
	base_url(c, base, sizeof base);
	snprintf(link, sizeof link, "%s/j/%s", base, token);
	const char *host = strstr(base, "://") ? strstr(base, "://") + 3 : base;
	snprintf(domain, sizeof domain, "%s", host);
	char *colon = strchr(domain, ':');
	if (colon)
		*colon = 0;
	if (!strchr(domain, '.')) /* "localhost": an address needs two labels */
		snprintf(domain, sizeof domain, "localhost.localdomain");
	if (c->srv->cfg->mail_from[0])
		snprintf(from, sizeof from, "%s", c->srv->cfg->mail_from);
	else
		snprintf(from, sizeof from, "noreply@%s", domain);
	km_invite_mail_t m = { .to = email, .link = link, .starts_at = k->starts_at, .org_name = c->org.name,
			       .from = from, .message_id_domain = domain };
	RAND_bytes(m.random, sizeof m.random);
	char *msg = NULL;
	size_t len = 0;
	int rc = km_mail_compose(&m, c->now, &msg, &len, err, sizeof err);
	const char *transport = c->srv->mailer ? "transport=smtp" : "transport=outbox";
	if (!rc && c->srv->mailer) {
		/* Sent by the mail thread; its result lands on the invitation. */
		rc = km_mailer_submit(c->srv->mailer, inv_id, from, email, msg, len);
		if (rc)
			snprintf(err, sizeof err, "the mail queue is full");
	} else if (!rc) {
		km_fs_join(outbox, sizeof outbox, c->srv->cfg->data_dir, "outbox");
		rc = km_mail_outbox_write(outbox, msg, len, name, sizeof name, err, sizeof err);
	}
	if (msg) {
		OPENSSL_cleanse(msg, len);
		free(msg);
	}
	OPENSSL_cleanse(link, sizeof link);
	if (rc || !c->srv->mailer)
		km_consults_invitation_sent(c->srv->store, inv_id, c->now, rc ? "the email could not be sent" : NULL);
	if (rc) {
		char q[300];
		km_error("mail", "send_failed", "invitation=%lld err=%s reason=%s", (long long)inv_id, km_err_name(rc),
			 km_log_quote(q, sizeof q, err)); /* mail.c's reasons never repeat an address */
	} else {
		km_api_audit(c, -1, "invitation.send", "success", "invitation", inv_id, transport);
	}
	return rc;
}

static json_t *invitation_json(const km_invitation_t *v)
{
	return json_pack("{s:I,s:s,s:s,s:b,s:b,s:b,s:s?}", "id", (json_int_t)v->id, "kind", v->kind, "email", v->email,
			 "revoked", v->revoked, "used", v->redeemed_at != 0, "sent", v->sent_at != 0, "send_error",
			 v->send_error[0] ? v->send_error : NULL);
}

static json_t *consult_json(km_api_ctx_t *c, const km_consult_t *k)
{
	json_t *o = json_pack("{s:I,s:s,s:I,s:I,s:I,s:b}", "id", (json_int_t)k->id, "label", k->label, "starts_at",
			      (json_int_t)k->starts_at, "expires_at", (json_int_t)k->expires_at, "created_at",
			      (json_int_t)k->created_at, "ended", k->ended_at != 0 || k->expires_at <= c->now);
	km_invitation_t *inv = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	if (km_consults_invitations(c->srv->store, k->id, &inv, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, invitation_json(&inv[i]));
	free(inv);
	json_object_set_new(o, "invitations", arr);
	return o;
}

/* The consult {id} if it is the caller's own. */
static int own_consult(km_api_ctx_t *c, int64_t id, km_consult_t *k)
{
	if (km_consults_get(c->srv->store, id, k) != 0 || k->clinician_id != c->user.id) {
		km_http_error(c->resp, 404, "not_found", "no such consult");
		return -1;
	}
	return 0;
}

static int parse_invitees(km_api_ctx_t *c, const char *emails[], const char *kinds[], size_t *n)
{
	json_t *arr = json_object_get(c->body, "invitees");
	if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > KM_CONSULT_MAX_INVITEES) {
		km_http_error(c->resp, 400, "invalid_field", "invitees must be a list of 1 to 8 {email, kind}");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		const char *e = NULL, *kind = NULL;
		json_error_t jerr;
		if (json_unpack_ex(v, &jerr, JSON_STRICT, "{s:s,s:s}", "email", &e, "kind", &kind) != 0 ||
		    !km_accounts_email_valid(e) || (strcmp(kind, "patient") != 0 && strcmp(kind, "colleague") != 0)) {
			km_http_error(c->resp, 400, "invalid_field",
				      "each invitee needs a valid email and kind \"patient\" or \"colleague\"");
			return -1;
		}
		emails[i] = e;
		kinds[i] = kind;
	}
	*n = json_array_size(arr);
	return 0;
}

static void consult_create(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("label", "starts_at", "expires_at", "invitees")))
		return;
	if (strcmp(c->user.role, "clinician") != 0) {
		km_http_error(c->resp, 403, "forbidden", "only clinicians create consults");
		return;
	}
	json_t *jl = json_object_get(c->body, "label"), *js = json_object_get(c->body, "starts_at"),
	       *je = json_object_get(c->body, "expires_at");
	if ((jl && !json_is_string(jl)) || !json_is_integer(js) || !json_is_integer(je)) {
		km_http_error(c->resp, 400, "invalid_field", "starts_at and expires_at are UTC seconds; label is text");
		return;
	}
	const char *emails[KM_CONSULT_MAX_INVITEES], *kinds[KM_CONSULT_MAX_INVITEES];
	size_t n;
	if (parse_invitees(c, emails, kinds, &n))
		return;
	uint8_t key[32], sealed[96];
	size_t slen;
	char aad[48];
	snprintf(aad, sizeof aad, "room:org:%lld", (long long)c->user.org_id);
	if (RAND_bytes(key, sizeof key) != 1 ||
	    km_secretbox_seal(c->srv->server_key, (const uint8_t *)aad, strlen(aad), key, sizeof key, sealed,
			      sizeof sealed, &slen) != 0) {
		OPENSSL_cleanse(key, sizeof key);
		km_http_error(c->resp, 500, "internal", "could not make the room key");
		return;
	}
	OPENSSL_cleanse(key, sizeof key);
	int64_t id, inv_ids[KM_CONSULT_MAX_INVITEES];
	char tokens[KM_CONSULT_MAX_INVITEES][KM_TOKEN_LEN];
	char d[32];
	snprintf(d, sizeof d, "invitees=%zu", n);
	int rc = km_accounts_tx_begin(c->srv->store);
	if (rc == 0) {
		rc = km_consults_create(c->srv->store, c->user.org_id, c->user.id, jl ? json_string_value(jl) : "",
					json_integer_value(js), json_integer_value(je), c->now, c->policy.consult_max_hours,
					emails, kinds, n, sealed, slen, &id, inv_ids, tokens);
		if (rc == 0)
			rc = km_api_audit_in_tx(c, -1, "consult.create", "success", "consult", id, d);
		rc = km_api_tx_end(c->srv, rc);
	}
	if (rc == KM_EINVAL) {
		char msg[160];
		snprintf(msg, sizeof msg, "expires_at must be in the future and at most %ld hours from now; "
					  "starts_at before it; label at most %d characters",
			 c->policy.consult_max_hours, KM_CONSULT_LABEL_MAX);
		km_http_error(c->resp, 400, "invalid_field", msg);
		return;
	}
	if (rc) {
		km_api_store_failed(c, "consult_create", rc);
		return;
	}
	km_consult_t k;
	km_consults_get(c->srv->store, id, &k);
	for (size_t i = 0; i < n; i++)
		send_invitation(c, &k, inv_ids[i], emails[i], tokens[i]);
	OPENSSL_cleanse(tokens, sizeof tokens);
	km_http_json(c->resp, 201, consult_json(c, &k));
}

static void consult_list(km_api_ctx_t *c)
{
	km_consult_t *list = NULL;
	size_t n = 0;
	int rc = km_consults_list(c->srv->store, c->user.id, 0, &list, &n);
	if (rc) {
		km_api_store_failed(c, "consult_list", rc);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, consult_json(c, &list[i]));
	free(list);
	km_http_json(c->resp, 200, json_pack("{s:o}", "consults", arr));
}

static void consult_show(km_api_ctx_t *c)
{
	km_consult_t k;
	if (own_consult(c, c->id, &k))
		return;
	km_http_json(c->resp, 200, consult_json(c, &k));
}

static void consult_end(km_api_ctx_t *c)
{
	km_consult_t k;
	if (km_api_only(c, FIELDS(NULL)) || own_consult(c, c->id, &k))
		return;
	km_api_audit(c, -1, "consult.end", "success", "consult", k.id, "by=clinician");
	km__consult_end(c->srv, k.id, "ended_by_clinician");
	km_http_json(c->resp, 200, json_object());
}

/* The invitation {id} and its consult, if the consult is the caller's. */
static int own_invitation(km_api_ctx_t *c, km_invitation_t *v, km_consult_t *k)
{
	if (km_consults_invitation_get(c->srv->store, c->id, v) != 0 || km_consults_get(c->srv->store, v->consult_id, k) != 0 ||
	    k->clinician_id != c->user.id) {
		km_http_error(c->resp, 404, "not_found", "no such invitation");
		return -1;
	}
	return 0;
}

static void invitation_resend(km_api_ctx_t *c)
{
	km_invitation_t v;
	km_consult_t k;
	if (km_api_only(c, FIELDS(NULL)) || own_invitation(c, &v, &k))
		return;
	char token[KM_TOKEN_LEN];
	int rc = km_consults_invitation_renew(c->srv->store, v.id, token);
	if (rc == KM_EPERM) {
		km_http_error(c->resp, 409, "not_possible", "this invitation was revoked or the consult has ended");
		return;
	}
	if (rc) {
		km_api_store_failed(c, "invitation_renew", rc);
		return;
	}
	km_api_audit(c, -1, "invitation.renew", "success", "invitation", v.id, NULL);
	rc = send_invitation(c, &k, v.id, v.email, token);
	OPENSSL_cleanse(token, sizeof token);
	km_consults_invitation_get(c->srv->store, v.id, &v);
	km_http_json(c->resp, rc ? 502 : 200, invitation_json(&v));
}

static void invitation_revoke(km_api_ctx_t *c)
{
	km_invitation_t v;
	km_consult_t k;
	if (km_api_only(c, FIELDS(NULL)) || own_invitation(c, &v, &k))
		return;
	int rc = km_consults_invitation_revoke_at(c->srv->store, v.id, c->now);
	if (rc) {
		km_api_store_failed(c, "invitation_revoke", rc);
		return;
	}
	km_api_audit(c, -1, "invitation.revoke", "success", "invitation", v.id, NULL);
	km_http_json(c->resp, 200, json_object());
}

/* POST /api/v1/participant/cookie {"resume"}: the join page hands over the
 * resume token it got on the WSS connection, and gets it back as an
 * HttpOnly cookie bound to this browser (so a reload comes straight back). */
static void participant_cookie(km_api_ctx_t *c)
{
	km_participant_t p;
	if (km_api_only(c, FIELDS("resume")))
		return;
	const char *r = km_api_str(c, "resume", 64);
	if (!r)
		return;
	if (strlen(r) != 43 || km_consults_participant_by_cookie(c->srv->store, r, c->now, &p) != 0) {
		km_http_error(c->resp, 404, "link_invalid", "This link is not valid (anymore).");
		return;
	}
	snprintf(c->resp->set_cookie, sizeof c->resp->set_cookie, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict",
		 KM_PARTICIPANT_COOKIE, r);
	km_http_json(c->resp, 200, json_object());
}

/* POST /api/v1/consults/{id}/end also disconnects everyone (consult.c). */
const km_route_t km_api_consult_routes[] = {
	{ KM_POST, "/api/v1/participant/cookie", KM_AUTH_NONE, NULL, participant_cookie },
	{ KM_GET, "/api/v1/consults", KM_AUTH_FULL, NULL, consult_list },
	{ KM_POST, "/api/v1/consults", KM_AUTH_FULL, NULL, consult_create },
	{ KM_GET, "/api/v1/consults/{id}", KM_AUTH_FULL, NULL, consult_show },
	{ KM_POST, "/api/v1/consults/{id}/end", KM_AUTH_FULL, NULL, consult_end },
	{ KM_POST, "/api/v1/invitations/{id}/resend", KM_AUTH_FULL, NULL, invitation_resend },
	{ KM_POST, "/api/v1/invitations/{id}/revoke", KM_AUTH_FULL, NULL, invitation_revoke },
	{ 0, NULL, 0, NULL, NULL },
};
