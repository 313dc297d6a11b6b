/* api.c — the JSON API's router: route tables, the Origin check for
 * state-changing requests, body parsing and its schema check
 * (signaling/schema.h), the session and role checks, deferred answers
 * (password jobs in the KDF pool, signaling/kdf_pool.h, and requests parked
 * behind them: km_api_defer, km_api_serial) and the small endpoints
 * (/healthz, version, test hooks). Every error uses the one format
 * {"error": {"code": ..., "message": ...}}. Signaling thread only; the
 * pool's workers only wake the lws loop. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "media/sfu.h"
#include "signaling/api_int.h"
#include "signaling/consult_int.h"
#include "signaling/schema.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

json_t *km_api_body_object(km_http_req_t *req)
{
	json_error_t jerr;
	json_t *j = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		km_http_error(&req->resp, 400, "invalid_json", "the request body is not valid JSON");
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		km_http_error(&req->resp, 400, "invalid_body", "the request body must be a JSON object");
		return NULL;
	}
	return j;
}

static void healthz(km_api_ctx_t *c)
{
	km_http_json(c->resp, 200, json_pack("{s:s,s:i}", "status", "ok", "schema",
					     km_store_schema_version(c->srv->store)));
}

static void version(km_api_ctx_t *c)
{
	km_http_json(c->resp, 200, json_pack("{s:s,s:s}", "version", KM_VERSION, "revision", KM_GIT_REV));
}

/* Validates a probe key: 1..64 of [A-Za-z0-9_-]. */
static int probe_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = k[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

static void probe_put(km_api_ctx_t *c)
{
	const char *key = NULL, *value = NULL;
	json_error_t jerr;
	if (json_unpack_ex(c->body, &jerr, JSON_STRICT, "{s:s,s:s}", "key", &key, "value", &value) != 0) {
		km_http_error(c->resp, 400, "invalid_body", "expected {\"key\": string, \"value\": string} and nothing else");
		return;
	}
	if (!probe_key_ok(key) || strlen(value) > 1024) {
		km_http_error(c->resp, 400, "invalid_field", "key must be 1-64 of A-Z a-z 0-9 - _, value at most 1024 bytes");
		return;
	}
	int rc = km_store_probe_put(c->srv->store, key, value);
	if (rc == 0)
		km_http_json(c->resp, 201, json_pack("{s:s}", "key", key));
	else if (rc == KM_EEXIST)
		km_http_error(c->resp, 409, "exists", "that key is already stored");
	else
		km_api_store_failed(c, "probe_put", rc);
}

static void probe_get(km_api_ctx_t *c)
{
	const char *key = c->req->path + strlen("/api/v1/test/probe/");
	char val[1100];
	if (!probe_key_ok(key)) {
		km_http_error(c->resp, 400, "invalid_field", "bad key");
		return;
	}
	int rc = km_store_probe_get(c->srv->store, key, val, sizeof val);
	if (rc == 0)
		km_http_json(c->resp, 200, json_pack("{s:s,s:s}", "key", key, "value", val));
	else if (rc == KM_ENOTFOUND)
		km_http_error(c->resp, 404, "not_found", "no such key");
	else
		km_api_store_failed(c, "probe_get", rc);
}

/* POST /api/v1/test/clock {"advance": seconds}: moves kamer's clock. */
static void clock_advance(km_api_ctx_t *c)
{
	json_t *a = json_object_get(c->body, "advance");
	if (!json_is_integer(a) || json_integer_value(a) < 0 || json_integer_value(a) > 4000LL * 86400) {
		km_http_error(c->resp, 400, "invalid_field", "advance must be 0 to 4000 days in seconds");
		return;
	}
	km_clock_advance(json_integer_value(a));
	km_warn("test", "clock_advanced", "seconds=%lld offset=%lld", (long long)json_integer_value(a),
		(long long)km_clock_offset());
	km_http_json(c->resp, 200, json_pack("{s:I}", "now", (json_int_t)km_clock_now()));
}

/* POST /api/v1/test/retention: runs the daily retention purge now. */
static void retention_now(km_api_ctx_t *c)
{
	km__server_retention(c->srv);
	km_http_json(c->resp, 200, json_object());
}

/* POST /api/v1/test/expire: runs the expiry timer's work now. */
static void expire_now(km_api_ctx_t *c)
{
	km__consult_expire(c->srv);
	km_http_json(c->resp, 200, json_object());
}

/* GET /api/v1/test/media: the SFU's live counters. */
static void media_stats(km_api_ctx_t *c)
{
	km_sfu_stats_t st = { 0 };
	km_sfu_stats(c->srv->sfu, &st);
	km_http_json(c->resp, 200, json_pack("{s:I,s:I,s:I,s:I,s:I}", "rooms", (json_int_t)st.rooms, "members",
					     (json_int_t)st.members, "connections", (json_int_t)st.connections,
					     "worker_rooms", (json_int_t)st.worker_rooms, "worker_connections",
					     (json_int_t)st.worker_connections));
}

static const km_route_t base_routes[] = {
	{ KM_GET, "/healthz", KM_AUTH_NONE, NULL, healthz },
	{ KM_GET, "/api/v1/version", KM_AUTH_NONE, NULL, version },
	{ 0, NULL, 0, NULL, NULL },
};

static const km_route_t test_routes[] = {
	{ KM_POST, "/api/v1/test/probe", KM_AUTH_NONE, NULL, probe_put },
	{ KM_GET, "/api/v1/test/probe/{key}", KM_AUTH_NONE, NULL, probe_get },
	{ KM_POST, "/api/v1/test/clock", KM_AUTH_NONE, NULL, clock_advance },
	{ KM_POST, "/api/v1/test/retention", KM_AUTH_NONE, NULL, retention_now },
	{ KM_POST, "/api/v1/test/expire", KM_AUTH_NONE, NULL, expire_now },
	{ KM_GET, "/api/v1/test/media", KM_AUTH_NONE, NULL, media_stats },
	{ 0, NULL, 0, NULL, NULL },
};

/* Matches path against pattern; "{id}" takes a positive decimal id (stored
 * in *id), "{key}" any one segment. 1 on a match. */
static int match(const char *pattern, const char *path, int64_t *id)
{
	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			char *end;
			if (*path < '1' || *path > '9')
				return 0;
			long long v = strtoll(path, &end, 10);
			if (end - path > 15)
				return 0;
			*id = v;
			path = end;
			pattern += 4;
		} else if (strncmp(pattern, "{key}", 5) == 0) {
			while (*path && *path != '/')
				path++;
			pattern += 5;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

static const km_route_t *find_route(const km_route_t *table, const char *path, int method, int64_t *id,
				    int *path_matched)
{
	for (const km_route_t *r = table; r->pattern; r++) {
		if (match(r->pattern, path, id)) {
			*path_matched = 1;
			if (r->method == method)
				return r;
		}
	}
	return NULL;
}

static int origin_ok(km_server_t *srv, const char *origin)
{
	if (!origin[0])
		return 0;
	for (int i = 0; i < 3; i++)
		if (srv->origins[i][0] && strcmp(origin, srv->origins[i]) == 0)
			return 1;
	return 0;
}

static int stage_in(const char *stage, const char *list)
{
	size_t n = strlen(stage);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, stage, n) == 0)
			return 1;
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

/* 400 invalid_field with the schema's reason and the field it names. */
static void invalid_field(km_http_resp_t *resp, const char *why)
{
	char field[96];
	if (km_schema_err_field(why, field, sizeof field) != 0) {
		km_http_error(resp, 400, "invalid_field", why);
		return;
	}
	km_http_json(resp, 400, json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "invalid_field", "message", why, "field",
					  field));
}

static void run_route(km_server_t *srv, km_http_req_t *req, const km_route_t *r, int64_t id, int is_test)
{
	km_api_ctx_t c;
	memset(&c, 0, sizeof c);
	c.srv = srv;
	c.req = req;
	c.resp = &req->resp;
	c.now = km_clock_now();
	c.id = id;
	int changes = r->method != KM_GET;
	if (changes && !is_test && !origin_ok(srv, req->origin)) {
		km_warn("api", "origin_refused", "ip=%s", KM_LOG_IP(srv, req->ip));
		km_http_error(c.resp, 403, "origin_refused", "this request must come from kamer's own pages");
		return;
	}
	/* The body is parsed now (invalid JSON is a 400 before anything else)
	 * and checked against its schema after the caller's rights: a
	 * stranger gets 401, not a lesson in the body's shape. */
	int field_rc = 0;
	char why[200];
	if (r->method == KM_POST || r->method == KM_PUT || r->method == KM_PATCH) {
		field_rc = km_schema_api_body(r->method, r->pattern, req->body, req->body_len, &c.body, why, sizeof why);
		if (!c.body) {
			km_http_error(c.resp, 400, km_schema_api_code(field_rc),
				      field_rc == KM_SCHEMA_EJSON ? "the request body is not valid JSON"
								  : "the request body must be a JSON object");
			return;
		}
	}
	if (r->auth != KM_AUTH_NONE) {
		if (km_auth_load(&c) != 0) {
			km_http_error(c.resp, 401, "not_signed_in", "please sign in");
			goto out;
		}
		if (r->auth == KM_AUTH_STAGE && !stage_in(c.sess.stage, r->stages)) {
			km_http_error(c.resp, 403, "wrong_stage", "finish signing in first");
			goto out;
		}
		if (r->auth >= KM_AUTH_FULL && strcmp(c.sess.stage, "full") != 0) {
			km_http_error(c.resp, 403, "second_factor_required", "sign in with your second factor first");
			goto out;
		}
		if (r->auth == KM_AUTH_ADMIN && strcmp(c.user.role, "admin") != 0) {
			km_http_error(c.resp, 403, "forbidden", "only an administrator may do this");
			goto out;
		}
	}
	if (field_rc == KM_SCHEMA_EFIELD) {
		invalid_field(c.resp, why);
		goto out;
	}
	r->fn(&c);
	if (!c.resp->status && !req->api_job)
		km_http_error(c.resp, 500, "internal", "no answer");
out:
	json_decref(c.body);
}

int km_api_dispatch(km_server_t *srv, km_http_req_t *req)
{
	const char *p = req->path;
	if (strcmp(p, "/healthz") != 0 && strncmp(p, "/api/", 5) != 0)
		return 0;
	const km_route_t *tables[] = { base_routes, km_api_auth_routes, km_api_admin_routes, km_api_consult_routes,
				       srv->cfg->test_hooks ? test_routes : NULL };
	int64_t id = 0;
	int path_matched = 0;
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		if (!tables[i])
			continue;
		const km_route_t *r = find_route(tables[i], p, req->method, &id, &path_matched);
		if (r) {
			run_route(srv, req, r, id, tables[i] == test_routes);
			return 1;
		}
	}
	if (path_matched)
		km_http_error(&req->resp, 405, "method_not_allowed", "method not allowed here");
	else
		km_http_error(&req->resp, 404, "not_found", "no such API endpoint");
	return 1;
}

/* ---- deferred answers ---- */

#define JOBS_MAX 64      /* password jobs out at once (kdf_pool.h) */
#define PARKED_MAX 64    /* requests parked behind a key */
#define PARKED_PER_ADDRESS 8

struct api_jobs;

struct km_api_job {
	struct km_api_job *prev, *next; /* in owner->running or owner->parked */
	struct api_jobs *owner;
	km_http_req_t *live;    /* the request to answer; NULL once its connection closed */
	int parked;             /* 1: waits for wait_key, no pool job */
	char wait_key[KM_API_KEY_MAX];
	km_api_cont_fn cont;
	void *state;            /* owned, wiped */
	size_t state_len;
	km_api_ctx_t ctx;       /* the continuation's context; ctx.req = &shadow */
	km_http_req_t shadow;   /* the request's fields, without body; its resp is the answer */
};

typedef struct api_jobs {
	km_server_t *srv;
	km_kdf_pool_t *pool;
	struct km_api_job *running, *parked;
	size_t n_parked;
	uint64_t busy_log_ms;
	unsigned long busy_refused;
} api_jobs_t;

/* The per-server state lives in lws's per-vhost storage of our protocol. */
static api_jobs_t **jobs_slot(km_server_t *srv, int create)
{
	const struct lws_protocols *pr = srv->vh ? lws_vhost_name_to_protocol(srv->vh, "kamer") : NULL;
	if (!pr)
		return NULL;
	api_jobs_t **slot = lws_protocol_vh_priv_get(srv->vh, pr);
	if (!slot && create)
		slot = lws_protocol_vh_priv_zalloc(srv->vh, pr, sizeof *slot);
	return slot;
}

static void link_job(struct km_api_job **head, struct km_api_job *j)
{
	struct km_api_job **pp = head;
	struct km_api_job *last = NULL;
	while (*pp) {
		last = *pp;
		pp = &(*pp)->next;
	}
	j->prev = last;
	j->next = NULL;
	*pp = j;
}

static void unlink_job(struct km_api_job **head, struct km_api_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else if (*head == j)
		*head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

static void job_free(struct km_api_job *j)
{
	if (j->state) {
		OPENSSL_cleanse(j->state, j->state_len);
		free(j->state);
	}
	free(j->shadow.resp.body);
	OPENSSL_cleanse(j, sizeof *j);
	free(j);
}

/* The pool's worker has a result: wake the lws loop (any thread). */
static void jobs_wake(void *ud)
{
	km_server_t *srv = ud;
	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

/* km_kdf_pool_free: a job whose result never came back. */
static void jobs_drop(void *ud)
{
	struct km_api_job *j = ud;
	if (j->live)
		j->live->api_job = NULL;
	job_free(j);
}

static api_jobs_t *jobs_get(km_server_t *srv)
{
	api_jobs_t **slot = jobs_slot(srv, 1);
	if (!slot)
		return NULL;
	if (*slot)
		return *slot;
	api_jobs_t *jobs = calloc(1, sizeof *jobs);
	if (!jobs)
		return NULL;
	jobs->srv = srv;
	int rc = km_kdf_pool_new(0, JOBS_MAX, jobs_wake, srv, jobs_drop, &jobs->pool);
	if (rc) {
		km_error("api", "kdf_pool_failed", "err=%s", km_err_name(rc));
		free(jobs);
		return NULL;
	}
	km_info("api", "kdf_pool_started", "threads=%u max_jobs=%d", km_kdf_pool_default_threads(), JOBS_MAX);
	*slot = jobs;
	return jobs;
}

static void busy(km_api_ctx_t *c, api_jobs_t *jobs)
{
	km_http_error(c->resp, 503, "busy", "The server is busy. Try again in a moment.");
	c->resp->retry_after = 1;
	if (!jobs)
		return;
	jobs->busy_refused++;
	uint64_t now = km__now_ms();
	if (now - jobs->busy_log_ms >= 1000) {
		km_warn("api", "kdf_busy", "refused=%lu", jobs->busy_refused);
		jobs->busy_refused = 0;
		jobs->busy_log_ms = now;
	}
}

static int key_busy(const api_jobs_t *jobs, const char *key)
{
	for (const struct km_api_job *j = jobs->running; j; j = j->next)
		for (int k = 0; k < j->ctx.n_keys; k++)
			if (strcmp(j->ctx.keys[k], key) == 0)
				return 1;
	return 0;
}

int km_api_serial(km_api_ctx_t *c, const char *key)
{
	if (c->job || c->n_keys >= 2 || strlen(key) >= KM_API_KEY_MAX)
		return 0; /* continuations already hold their keys */
	api_jobs_t **slot = jobs_slot(c->srv, 0);
	api_jobs_t *jobs = slot ? *slot : NULL;
	if (!jobs || !key_busy(jobs, key)) {
		snprintf(c->keys[c->n_keys++], KM_API_KEY_MAX, "%s", key);
		return 0;
	}
	/* Parked requests per caller address are bounded, so that one address
	 * cannot take every place (per key would let strangers crowd out the
	 * account's own user). */
	size_t same = 0;
	for (const struct km_api_job *j = jobs->parked; j; j = j->next)
		same += strcmp(j->live->ip, c->req->ip) == 0;
	struct km_api_job *j = NULL;
	if (jobs->n_parked >= PARKED_MAX || same >= PARKED_PER_ADDRESS || !(j = calloc(1, sizeof *j))) {
		busy(c, jobs);
		return 1;
	}
	j->parked = 1;
	j->owner = jobs;
	j->live = c->req;
	snprintf(j->wait_key, sizeof j->wait_key, "%s", key);
	link_job(&jobs->parked, j);
	jobs->n_parked++;
	c->req->api_job = j;
	return 1;
}

int km_api_defer(km_api_ctx_t *c, int kind, const char *password, const char *stored, km_api_cont_fn cont,
		 const void *state, size_t state_len)
{
	api_jobs_t *jobs = jobs_get(c->srv);
	struct km_api_job *j = jobs ? calloc(1, sizeof *j) : NULL;
	if (!j || (state_len && !(j->state = malloc(state_len)))) {
		free(j);
		km_http_error(c->resp, 500, "internal", "cannot check the password now");
		return KM_ENOMEM;
	}
	if (state_len)
		memcpy(j->state, state, state_len);
	j->state_len = state_len;
	j->owner = jobs;
	j->cont = cont;
	j->live = c->job ? c->job->live : c->req;
	j->shadow = *c->req;
	j->shadow.body = NULL;
	j->shadow.body_len = 0;
	j->shadow.api_job = NULL;
	j->shadow.resp = *c->resp; /* an answer begun (a cookie) goes on with it */
	j->ctx = *c;
	j->ctx.req = &j->shadow;
	j->ctx.resp = &j->shadow.resp;
	j->ctx.body = NULL;
	j->ctx.job = j;
	int rc = kind == KM_KDF_VERIFY ? km_kdf_pool_verify(jobs->pool, password, stored, j)
				       : km_kdf_pool_hash(jobs->pool, password, j);
	if (rc) {
		j->shadow.resp.body = NULL; /* still c->resp's */
		job_free(j);
		if (rc == KM_EBUSY)
			busy(c, jobs);
		else
			km_http_error(c->resp, 500, "internal", "cannot check the password now");
		return rc;
	}
	memset(c->resp, 0, sizeof *c->resp); /* moved into the job */
	link_job(&jobs->running, j);
	if (j->live)
		j->live->api_job = j;
	return 0;
}

/* Runs j's continuation and answers its request (unless it deferred again
 * or the connection is gone). */
static void complete(api_jobs_t *jobs, const km_kdf_result_t *r)
{
	struct km_api_job *j = r->ud;
	unlink_job(&jobs->running, j);
	j->cont(&j->ctx, r, j->state);
	km_http_req_t *live = j->live;
	if (live && live->api_job == j) {
		if (!j->shadow.resp.status)
			km_http_error(&j->shadow.resp, 500, "internal", "no answer");
		free(live->resp.body);
		live->resp = j->shadow.resp;
		memset(&j->shadow.resp, 0, sizeof j->shadow.resp);
		live->api_job = NULL;
		km_http_answer(jobs->srv, live);
	}
	job_free(j);
}

/* Dispatches again, in arrival order, the parked requests whose key is free. */
static void unpark(api_jobs_t *jobs)
{
	struct km_api_job *ready = NULL, *next;
	for (struct km_api_job *j = jobs->parked; j; j = next) {
		next = j->next;
		if (key_busy(jobs, j->wait_key))
			continue;
		unlink_job(&jobs->parked, j);
		jobs->n_parked--;
		link_job(&ready, j);
	}
	while (ready) {
		struct km_api_job *j = ready;
		unlink_job(&ready, j);
		km_http_req_t *req = j->live;
		req->api_job = NULL;
		job_free(j);
		km_api_dispatch(jobs->srv, req);
		if (!req->api_job)
			km_http_answer(jobs->srv, req);
	}
}

void km__api_jobs_done(km_server_t *srv)
{
	api_jobs_t **slot = jobs_slot(srv, 0);
	api_jobs_t *jobs = slot ? *slot : NULL;
	km_kdf_result_t r[8];
	size_t n;
	if (!jobs)
		return;
	while ((n = km_kdf_pool_poll(jobs->pool, r, 8)) > 0) {
		for (size_t i = 0; i < n; i++)
			complete(jobs, &r[i]);
		OPENSSL_cleanse(r, sizeof r);
		unpark(jobs);
	}
}

void km__api_req_closed(km_http_req_t *req)
{
	struct km_api_job *j = req->api_job;
	if (!j)
		return;
	req->api_job = NULL;
	j->live = NULL;
	if (j->parked) {
		unlink_job(&j->owner->parked, j);
		j->owner->n_parked--;
		job_free(j);
	}
}

void km__api_jobs_free(km_server_t *srv)
{
	api_jobs_t **slot = jobs_slot(srv, 0);
	api_jobs_t *jobs = slot ? *slot : NULL;
	if (!jobs)
		return;
	km_kdf_pool_free(jobs->pool); /* drops every running job */
	while (jobs->parked) {
		struct km_api_job *j = jobs->parked;
		unlink_job(&jobs->parked, j);
		if (j->live)
			j->live->api_job = NULL;
		job_free(j);
	}
	free(jobs);
	*slot = NULL;
}
