/* api_admin.c — an organisation admin's endpoints: users, policy and the
 * audit log of their own organisation only (another organisation's ids give
 * 404, exactly like ids that do not exist). Every change and every read of
 * the audit log is audited. Signaling thread only. */
#include "core/err.h"
#include "core/log.h"
#include "rooms/consults.h"
#include "signaling/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static json_t *user_json(const km_api_ctx_t *c, const km_user_t *u)
{
	return json_pack("{s:I,s:s,s:s,s:b,s:b,s:b,s:b}", "id", (json_int_t)u->id, "email", u->email, "role", u->role,
			 "disabled", u->disabled, "locked", u->locked_until > c->now, "has_password",
			 u->pw_hash[0] != 0, "totp", u->totp_len > 0);
}

/* The target user of /admin/users/{id}, if it is in the caller's org. */
static int target(km_api_ctx_t *c, km_user_t *u)
{
	if (km_accounts_user_get(c->srv->store, c->id, u) != 0 || u->org_id != c->user.org_id) {
		km_http_error(c->resp, 404, "not_found", "no such user");
		return -1;
	}
	return 0;
}

static void setup_link(const km_api_ctx_t *c, const char *token, char *out, size_t len)
{
	const km_config_t *cfg = c->srv->cfg;
	if (cfg->public_url[0])
		snprintf(out, len, "%s/setup#%s", cfg->public_url, token);
	else
		snprintf(out, len, "https://localhost:%d/setup#%s", cfg->listen_port, token);
}

static int valid_role(const char *r)
{
	return strcmp(r, "admin") == 0 || strcmp(r, "clinician") == 0;
}

static void users_list(km_api_ctx_t *c)
{
	km_user_t *list = NULL;
	size_t n = 0;
	int rc = km_accounts_user_list(c->srv->store, c->user.org_id, &list, &n);
	if (rc) {
		km_api_store_failed(c, "user_list", rc);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, user_json(c, &list[i]));
	free(list);
	km_http_json(c->resp, 200, json_pack("{s:o}", "users", arr));
}

static void user_create(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("email", "role")))
		return;
	const char *email = km_api_str(c, "email", 254);
	const char *role = email ? km_api_str(c, "role", 16) : NULL;
	if (!role)
		return;
	if (!valid_role(role)) {
		km_http_error(c->resp, 400, "invalid_field", "role must be \"admin\" or \"clinician\"");
		return;
	}
	char token[KM_TOKEN_LEN], link[512];
	int64_t id;
	char d[32];
	snprintf(d, sizeof d, "role=%s", role);
	int rc = km_accounts_tx_begin(c->srv->store);
	if (rc == 0) {
		rc = km_accounts_user_add(c->srv->store, c->user.org_id, email, role, c->now, &id, token);
		if (rc == 0)
			rc = km_api_audit_in_tx(c, -1, "user.create", "success", "user", id, d);
		rc = km_api_tx_end(c->srv, rc);
	}
	if (rc == KM_EEXIST) {
		km_http_error(c->resp, 409, "email_taken", "an account with this email address exists");
		return;
	}
	if (rc == KM_EINVAL) {
		km_http_error(c->resp, 400, "invalid_field", "email must be a valid email address");
		return;
	}
	if (rc) {
		km_api_store_failed(c, "user_add", rc);
		return;
	}
	setup_link(c, token, link, sizeof link);
	km_http_json(c->resp, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "setup_link", link));
}

/* The writes of the user and policy actions, each run with its audit row
 * in one transaction (km_api_audited). */
struct user_arg {
	int64_t id;
	const char *role;
	int flag;
	char *token; /* KM_TOKEN_LEN */
};

static int w_set_role(km_api_ctx_t *c, void *arg)
{
	struct user_arg *a = arg;
	return km_accounts_user_set_role(c->srv->store, a->id, a->role);
}

static int w_set_disabled(km_api_ctx_t *c, void *arg)
{
	struct user_arg *a = arg;
	return km_accounts_user_set_disabled(c->srv->store, a->id, a->flag);
}

static int w_reset_2fa(km_api_ctx_t *c, void *arg)
{
	struct user_arg *a = arg;
	return km_accounts_user_reset_2fa(c->srv->store, a->id);
}

static int w_setup_link(km_api_ctx_t *c, void *arg)
{
	struct user_arg *a = arg;
	return km_accounts_setup_link_new(c->srv->store, a->id, c->now, a->token);
}

static int w_policy_put(km_api_ctx_t *c, void *arg)
{
	return km_accounts_policy_put(c->srv->store, c->user.org_id, arg);
}

static void user_patch(km_api_ctx_t *c)
{
	km_user_t u;
	if (km_api_only(c, FIELDS("role")) || target(c, &u))
		return;
	const char *role = km_api_str(c, "role", 16);
	if (!role)
		return;
	if (!valid_role(role)) {
		km_http_error(c->resp, 400, "invalid_field", "role must be \"admin\" or \"clinician\"");
		return;
	}
	if (u.id == c->user.id) {
		km_http_error(c->resp, 409, "not_yourself", "you cannot change your own role");
		return;
	}
	char d[48];
	snprintf(d, sizeof d, "from=%s to=%s", u.role, role);
	struct user_arg a = { .id = u.id, .role = role };
	int rc = km_api_audited(c, w_set_role, &a, "user.role", "user", u.id, d);
	if (rc) {
		km_api_store_failed(c, "set_role", rc);
		return;
	}
	km_http_json(c->resp, 200, json_object());
}

static void user_state(km_api_ctx_t *c, int disable)
{
	km_user_t u;
	if (km_api_only(c, FIELDS(NULL)) || target(c, &u))
		return;
	if (u.id == c->user.id) {
		km_http_error(c->resp, 409, "not_yourself", "you cannot disable your own account");
		return;
	}
	struct user_arg a = { .id = u.id, .flag = disable };
	int rc = km_api_audited(c, w_set_disabled, &a, disable ? "user.disable" : "user.enable", "user", u.id, NULL);
	if (rc) {
		km_api_store_failed(c, "set_disabled", rc);
		return;
	}
	km_http_json(c->resp, 200, json_object());
}

static void user_disable(km_api_ctx_t *c) { user_state(c, 1); }
static void user_enable(km_api_ctx_t *c) { user_state(c, 0); }

static void user_reset_2fa(km_api_ctx_t *c)
{
	km_user_t u;
	if (km_api_only(c, FIELDS(NULL)) || target(c, &u))
		return;
	struct user_arg a = { .id = u.id };
	int rc = km_api_audited(c, w_reset_2fa, &a, "2fa.reset", "user", u.id, NULL);
	if (rc) {
		km_api_store_failed(c, "reset_2fa", rc);
		return;
	}
	km_http_json(c->resp, 200, json_object());
}

static void user_setup_link(km_api_ctx_t *c)
{
	km_user_t u;
	if (km_api_only(c, FIELDS(NULL)) || target(c, &u))
		return;
	char token[KM_TOKEN_LEN], link[512];
	struct user_arg a = { .id = u.id, .token = token };
	int rc = km_api_audited(c, w_setup_link, &a, "user.setup_link", "user", u.id, NULL);
	if (rc) {
		km_api_store_failed(c, "setup_link", rc);
		return;
	}
	setup_link(c, token, link, sizeof link);
	km_http_json(c->resp, 200, json_pack("{s:s}", "setup_link", link));
}

static json_t *policy_json(km_policy_t *p, json_t **limits)
{
	json_t *o = json_object();
	if (limits)
		*limits = json_object();
	long *v, mn, mx;
	const char *name;
	for (int i = 0; (name = km_policy_field(p, i, &v, &mn, &mx)); i++) {
		json_object_set_new(o, name, json_integer(*v));
		if (limits)
			json_object_set_new(*limits, name, json_pack("[I,I]", (json_int_t)mn, (json_int_t)mx));
	}
	return o;
}

static void policy_get(km_api_ctx_t *c)
{
	json_t *limits;
	json_t *p = policy_json(&c->policy, &limits);
	km_http_json(c->resp, 200, json_pack("{s:o,s:o}", "policy", p, "limits", limits));
}

static void policy_put(km_api_ctx_t *c)
{
	km_policy_t p = c->policy;
	const char *key;
	json_t *v;
	char err[160], changed[512] = "";
	json_object_foreach(c->body, key, v) {
		if (!json_is_integer(v) && !json_is_boolean(v)) {
			snprintf(err, sizeof err, "field \"%.64s\" must be a number", key);
			km_http_error(c->resp, 400, "invalid_field", err);
			return;
		}
		long val = json_is_boolean(v) ? json_is_true(v) : (long)json_integer_value(v);
		if (km_policy_set(&p, key, val, err, sizeof err)) {
			km_http_json(c->resp, 400, json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "invalid_field",
							     "message", err, "field", key));
			return;
		}
		size_t n = strlen(changed);
		snprintf(changed + n, sizeof changed - n, "%s%.40s", n ? "," : "", key);
	}
	char d[600];
	snprintf(d, sizeof d, "fields=%s", changed[0] ? changed : "-");
	int rc = km_api_audited(c, w_policy_put, &p, "policy.change", "policy", c->user.org_id, d);
	if (rc) {
		km_api_store_failed(c, "policy_put", rc);
		return;
	}
	km_http_json(c->resp, 200, json_pack("{s:o}", "policy", policy_json(&p, NULL)));
}

static void audit_page(km_api_ctx_t *c)
{
	char buf[32];
	long long after = 0, limit = 100;
	if (km_http_query_get(c->req, "after", buf, sizeof buf) == 0)
		after = strtoll(buf, NULL, 10);
	if (km_http_query_get(c->req, "limit", buf, sizeof buf) == 0)
		limit = strtoll(buf, NULL, 10);
	if (after < 0 || limit < 1 || limit > KM_AUDIT_LIST_MAX) {
		km_http_error(c->resp, 400, "invalid_field", "after must be >= 0 and limit 1..1000");
		return;
	}
	json_t *rows = NULL;
	int rc = km_audit_list(c->srv->store, c->user.org_id, after, (int)limit, &rows);
	if (rc) {
		km_api_store_failed(c, "audit_list", rc);
		return;
	}
	size_t n = json_array_size(rows);
	json_int_t next = n ? json_integer_value(json_object_get(json_array_get(rows, n - 1), "seq")) : after;
	km_api_audit(c, -1, "audit.read", "success", "audit", c->user.org_id, "format=page");
	km_http_json(c->resp, 200, json_pack("{s:o,s:I}", "rows", rows, "next_after", next));
}

static const char *const audit_cols[] = { "seq", "ts", "org_id", "action", "outcome", "actor_type",
					  "actor_id", "actor_role", "on_behalf", "object_type", "object_id",
					  "source", "client_ip", "detail", "prev_hash", "hash", NULL };

/* Appends v as one CSV field (quoted when needed; a leading = + - @ is
 * prefixed with ' so that spreadsheets do not run it as a formula). */
static void csv_field(char **buf, size_t *len, size_t *cap, json_t *v)
{
	char num[32];
	const char *s = json_is_string(v) ? json_string_value(v) : num;
	if (!json_is_string(v))
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	size_t need = *len + 2 * strlen(s) + 8;
	if (need > *cap) {
		size_t nc = *cap * 2 > need ? *cap * 2 : need * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return;
		*buf = nb;
		*cap = nc;
	}
	char *o = *buf + *len;
	*o++ = '"';
	if (strchr("=+-@", s[0]) && s[0])
		*o++ = '\'';
	for (; *s; s++) {
		if (*s == '"')
			*o++ = '"';
		*o++ = *s;
	}
	*o++ = '"';
	*len = (size_t)(o - *buf);
}

/* A CSV document (header line, then one line per row) of the given
 * columns of a JSON array of objects. Returns new (caller frees) or NULL. */
static char *csv_of(json_t *rows, const char *const *cols, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (int i = 0; cols[i]; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", cols[i]);
	buf[len++] = '\n';
	size_t idx;
	json_t *row;
	json_array_foreach(rows, idx, row) {
		for (int i = 0; cols[i]; i++) {
			if (i) {
				if (len + 1 >= cap)
					break;
				buf[len++] = ',';
			}
			csv_field(&buf, &len, &cap, json_object_get(row, cols[i]));
		}
		if (len + 1 < cap)
			buf[len++] = '\n';
	}
	*out_len = len;
	return buf;
}

static void audit_export(km_api_ctx_t *c, int csv)
{
	json_t *all = json_array();
	int64_t after = 0;
	for (int guard = 0; guard < 10000; guard++) {
		json_t *rows = NULL;
		if (km_audit_list(c->srv->store, c->user.org_id, after, KM_AUDIT_LIST_MAX, &rows) != 0) {
			json_decref(all);
			km_api_store_failed(c, "audit_export", KM_ESTORE);
			return;
		}
		size_t n = json_array_size(rows);
		if (n)
			after = json_integer_value(json_object_get(json_array_get(rows, n - 1), "seq"));
		json_array_extend(all, rows);
		json_decref(rows);
		if (n < KM_AUDIT_LIST_MAX)
			break;
	}
	km_api_audit(c, -1, "audit.read", "success", "audit", c->user.org_id, csv ? "format=csv" : "format=json");
	snprintf(c->resp->disposition, sizeof c->resp->disposition, "attachment; filename=\"kamer-audit-org%lld.%s\"",
		 (long long)c->user.org_id, csv ? "csv" : "json");
	if (!csv) {
		km_http_json(c->resp, 200, json_pack("{s:o}", "rows", all));
		return;
	}
	size_t len;
	char *buf = csv_of(all, audit_cols, &len);
	json_decref(all);
	if (!buf) {
		km_http_error(c->resp, 500, "internal", "out of memory");
		return;
	}
	km_http_raw(c->resp, 200, "text/csv; charset=utf-8", buf, len);
}

static void audit_csv(km_api_ctx_t *c) { audit_export(c, 1); }
static void audit_json(km_api_ctx_t *c) { audit_export(c, 0); }

static const char *const calllog_cols[] = { "id", "consult_id", "ts", "event", "role", "pseudonym", NULL };

/* The org's call log from after_id on, as JSON rows (at most limit). */
static json_t *calllog_rows(km_api_ctx_t *c, int64_t after, int limit)
{
	km_calllog_row_t *rows = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	if (km_consults_calllog(c->srv->store, c->user.org_id, after, limit, &rows, &n) != 0) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:s,s:s,s:s}", "id", (json_int_t)rows[i].id, "consult_id",
						     (json_int_t)rows[i].consult_id, "ts", (json_int_t)rows[i].ts, "event",
						     rows[i].event, "role", rows[i].role, "pseudonym", rows[i].pseudonym));
	free(rows);
	return arr;
}

static void calllog_page(km_api_ctx_t *c)
{
	char buf[32];
	long long after = 0, limit = 100;
	if (km_http_query_get(c->req, "after", buf, sizeof buf) == 0)
		after = strtoll(buf, NULL, 10);
	if (km_http_query_get(c->req, "limit", buf, sizeof buf) == 0)
		limit = strtoll(buf, NULL, 10);
	if (after < 0 || limit < 1 || limit > 1000) {
		km_http_error(c->resp, 400, "invalid_field", "after must be >= 0 and limit 1..1000");
		return;
	}
	json_t *rows = calllog_rows(c, after, (int)limit);
	if (!rows) {
		km_api_store_failed(c, "calllog", KM_ESTORE);
		return;
	}
	size_t n = json_array_size(rows);
	json_int_t next = n ? json_integer_value(json_object_get(json_array_get(rows, n - 1), "id")) : after;
	km_api_audit(c, -1, "calllog.read", "success", "calllog", c->user.org_id, "format=page");
	km_http_json(c->resp, 200, json_pack("{s:o,s:I}", "rows", rows, "next_after", next));
}

static void calllog_csv(km_api_ctx_t *c)
{
	json_t *all = json_array();
	int64_t after = 0;
	for (int guard = 0; guard < 10000; guard++) {
		json_t *rows = calllog_rows(c, after, 1000);
		if (!rows) {
			json_decref(all);
			km_api_store_failed(c, "calllog", KM_ESTORE);
			return;
		}
		size_t n = json_array_size(rows);
		if (n)
			after = json_integer_value(json_object_get(json_array_get(rows, n - 1), "id"));
		json_array_extend(all, rows);
		json_decref(rows);
		if (n < 1000)
			break;
	}
	size_t len;
	char *buf = csv_of(all, calllog_cols, &len);
	json_decref(all);
	if (!buf) {
		km_http_error(c->resp, 500, "internal", "out of memory");
		return;
	}
	km_api_audit(c, -1, "calllog.read", "success", "calllog", c->user.org_id, "format=csv");
	snprintf(c->resp->disposition, sizeof c->resp->disposition, "attachment; filename=\"kamer-calllog-org%lld.csv\"",
		 (long long)c->user.org_id);
	km_http_raw(c->resp, 200, "text/csv; charset=utf-8", buf, len);
}

static void consent_get(km_api_ctx_t *c)
{
	int64_t version;
	char *nl = NULL, *en = NULL;
	if (km_consults_consent_current(c->srv->store, c->user.org_id, &version, &nl, &en) != 0) {
		km_api_store_failed(c, "consent_get", KM_ESTORE);
		return;
	}
	km_http_json(c->resp, 200, json_pack("{s:I,s:s,s:s}", "version", (json_int_t)version, "nl", nl, "en", en));
	free(nl);
	free(en);
}

static void consent_put(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("nl", "en")))
		return;
	const char *nl = km_api_str(c, "nl", 8000);
	const char *en = nl ? km_api_str(c, "en", 8000) : NULL;
	if (!en)
		return;
	int64_t version = 0;
	char d[32];
	int rc = km_accounts_tx_begin(c->srv->store);
	if (rc == 0) {
		rc = km_consults_consent_put(c->srv->store, c->user.org_id, nl, en, c->now, &version);
		snprintf(d, sizeof d, "version=%lld", (long long)version);
		if (rc == 0)
			rc = km_api_audit_in_tx(c, -1, "consent_text.change", "success", "org", c->user.org_id, d);
		rc = km_api_tx_end(c->srv, rc);
	}
	if (rc == KM_EINVAL) {
		km_http_error(c->resp, 400, "invalid_field", "the consent texts must be plain text (no control characters)");
		return;
	}
	if (rc) {
		km_api_store_failed(c, "consent_put", rc);
		return;
	}
	km_http_json(c->resp, 200, json_pack("{s:I}", "version", (json_int_t)version));
}

/* "Active consults now": per open consult its start times, its clinician and
 * head counts; nothing about who the patients are or why. */
static void active(km_api_ctx_t *c)
{
	long n = 0;
	km_consult_active_t *a = NULL;
	size_t na = 0;
	if (km_consults_count_open(c->srv->store, c->user.org_id, c->now, &n) != 0 ||
	    km_consults_active(c->srv->store, c->user.org_id, c->now, &a, &na) != 0) {
		km_api_store_failed(c, "active", KM_ESTORE);
		return;
	}
	json_t *list = json_array();
	int in_call = 0, waiting = 0;
	for (size_t i = 0; i < na; i++) {
		in_call += a[i].in_call;
		waiting += a[i].waiting;
		json_array_append_new(list, json_pack("{s:I,s:I,s:s,s:i,s:i}", "starts_at", (json_int_t)a[i].starts_at,
						      "started_at", (json_int_t)a[i].started_at, "clinician",
						      a[i].clinician, "in_call", a[i].in_call, "waiting", a[i].waiting));
	}
	free(a);
	km_http_json(c->resp, 200,
		     json_pack("{s:i,s:i,s:i,s:o}", "open_consults", (int)n, "in_call", in_call, "waiting", waiting,
			       "consults", list));
}

const km_route_t km_api_admin_routes[] = {
	{ KM_GET, "/api/v1/admin/calllog", KM_AUTH_ADMIN, NULL, calllog_page },
	{ KM_GET, "/api/v1/admin/calllog.csv", KM_AUTH_ADMIN, NULL, calllog_csv },
	{ KM_GET, "/api/v1/admin/consent", KM_AUTH_ADMIN, NULL, consent_get },
	{ KM_PUT, "/api/v1/admin/consent", KM_AUTH_ADMIN, NULL, consent_put },
	{ KM_GET, "/api/v1/admin/active", KM_AUTH_ADMIN, NULL, active },
	{ KM_GET, "/api/v1/admin/users", KM_AUTH_ADMIN, NULL, users_list },
	{ KM_POST, "/api/v1/admin/users", KM_AUTH_ADMIN, NULL, user_create },
	{ KM_PATCH, "/api/v1/admin/users/{id}", KM_AUTH_ADMIN, NULL, user_patch },
	{ KM_POST, "/api/v1/admin/users/{id}/disable", KM_AUTH_ADMIN, NULL, user_disable },
	{ KM_POST, "/api/v1/admin/users/{id}/enable", KM_AUTH_ADMIN, NULL, user_enable },
	{ KM_POST, "/api/v1/admin/users/{id}/reset-2fa", KM_AUTH_ADMIN, NULL, user_reset_2fa },
	{ KM_POST, "/api/v1/admin/users/{id}/setup-link", KM_AUTH_ADMIN, NULL, user_setup_link },
	{ KM_GET, "/api/v1/admin/policy", KM_AUTH_ADMIN, NULL, policy_get },
	{ KM_PUT, "/api/v1/admin/policy", KM_AUTH_ADMIN, NULL, policy_put },
	{ KM_GET, "/api/v1/admin/audit", KM_AUTH_ADMIN, NULL, audit_page },
	{ KM_GET, "/api/v1/admin/audit.csv", KM_AUTH_ADMIN, NULL, audit_csv },
	{ KM_GET, "/api/v1/admin/audit.json", KM_AUTH_ADMIN, NULL, audit_json },
	{ 0, NULL, 0, NULL, NULL },
};
