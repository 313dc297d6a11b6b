/* api.c — the JSON API: /healthz, /api/v1/version, and the test hooks
 * (/api/v1/test/..., only with test_hooks = true). Every error uses the one
 * format {"error": {"code": ..., "message": ...}}. lws service thread only. */
#include "core/err.h"
#include "core/log.h"
#include "signaling/http.h"
#include "signaling/server_int.h"

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

static void healthz(km_server_t *srv, km_http_req_t *req)
{
	km_http_json(&req->resp, 200, json_pack("{s:s,s:i}", "status", "ok", "schema",
					       km_store_schema_version(srv->store)));
}

static void version(km_server_t *srv, km_http_req_t *req)
{
	km_http_json(&req->resp, 200, json_pack("{s:s,s:s}", "version", KM_VERSION, "revision", KM_GIT_REV));
}

/* Validates a probe key: 1..64 of [A-Za-z0-9_-]. */
static int probe_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static void probe_put(km_server_t *srv, km_http_req_t *req)
{
	json_t *b = km_api_body_object(req);
	if (!b)
		return;
	const char *key = NULL, *value = NULL;
	json_error_t jerr;
	if (json_unpack_ex(b, &jerr, JSON_STRICT, "{s:s,s:s}", "key", &key, "value", &value) != 0) {
		km_http_error(&req->resp, 400, "invalid_body", "expected {\"key\": string, \"value\": string} and nothing else");
	} else if (!probe_key_ok(key) || strlen(value) > 1024) {
		km_http_error(&req->resp, 400, "invalid_field", "key must be 1-64 of A-Z a-z 0-9 - _, value at most 1024 bytes");
	} else {
		int rc = km_store_probe_put(srv->store, key, value);
		if (rc == 0)
			km_http_json(&req->resp, 201, json_pack("{s:s}", "key", key));
		else if (rc == KM_EEXIST)
			km_http_error(&req->resp, 409, "exists", "that key is already stored");
		else {
			km_error("api", "store_failed", "op=probe_put err=%s", km_err_name(rc));
			km_http_error(&req->resp, 503, "store_failed", "could not save; nothing was stored");
		}
	}
	json_decref(b);
}

static void probe_get(km_server_t *srv, km_http_req_t *req, const char *key)
{
	char val[1100];
	if (!probe_key_ok(key)) {
		km_http_error(&req->resp, 400, "invalid_field", "bad key");
		return;
	}
	int rc = km_store_probe_get(srv->store, key, val, sizeof val);
	if (rc == 0)
		km_http_json(&req->resp, 200, json_pack("{s:s,s:s}", "key", key, "value", val));
	else if (rc == KM_ENOTFOUND)
		km_http_error(&req->resp, 404, "not_found", "no such key");
	else
		km_http_error(&req->resp, 503, "store_failed", "could not read");
}

int km_api_dispatch(km_server_t *srv, km_http_req_t *req)
{
	const char *p = req->path;
	int m = req->method;
	if (strcmp(p, "/healthz") == 0) {
		if (m == KM_GET)
			healthz(srv, req);
		else
			km_http_error(&req->resp, 405, "method_not_allowed", "use GET");
		return 1;
	}
	if (strncmp(p, "/api/", 5) != 0)
		return 0;
	if (strcmp(p, "/api/v1/version") == 0 && m == KM_GET) {
		version(srv, req);
	} else if (srv->cfg->test_hooks && strcmp(p, "/api/v1/test/probe") == 0 && m == KM_POST) {
		probe_put(srv, req);
	} else if (srv->cfg->test_hooks && strncmp(p, "/api/v1/test/probe/", 19) == 0 && m == KM_GET) {
		probe_get(srv, req, p + 19);
	} else {
		km_http_error(&req->resp, 404, "not_found", "no such API endpoint");
	}
	return 1;
}
