/* http.c — request handling, static files, responses and the security
 * headers every response carries. An API answer may be deferred
 * (req->api_job, api.c): nothing is written until km_http_answer, and a
 * connection that closes meanwhile detaches it. Runs on the lws service
 * thread only. */
#include "signaling/device.h"
#include "signaling/http.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "signaling/server_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define STATIC_MAX (8u << 20)
#define CHUNK 4096

static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const struct {
	const char *name, *value;
} security_headers[] = {
	{ "strict-transport-security:", "max-age=63072000; includeSubDomains" },
	{ "content-security-policy:", csp },
	{ "x-content-type-options:", "nosniff" },
	{ "referrer-policy:", "no-referrer" },
	{ "x-frame-options:", "DENY" },
	{ "cross-origin-opener-policy:", "same-origin" },
	{ "cross-origin-resource-policy:", "same-origin" },
	{ "permissions-policy:", "camera=(self), microphone=(self), speaker-selection=(self), "
				 "geolocation=(), payment=(), usb=()" },
};

static const struct {
	const char *ext, *type;
} mime_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".webp", "image/webp" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".wav", "audio/wav" },
	{ ".ogg", "audio/ogg" },
	{ ".pem", "application/x-pem-file" },
};

static void resp_reset(km_http_resp_t *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* Sets the response, keeping a cookie and disposition already chosen. */
static void resp_set(km_http_resp_t *r, int status, const char *type, char *body, size_t len)
{
	char cookie[sizeof r->set_cookie], cookie2[sizeof r->set_cookie2], disp[sizeof r->disposition];
	memcpy(cookie, r->set_cookie, sizeof cookie);
	memcpy(cookie2, r->set_cookie2, sizeof cookie2);
	memcpy(disp, r->disposition, sizeof disp);
	resp_reset(r);
	memcpy(r->set_cookie, cookie, sizeof cookie);
	memcpy(r->set_cookie2, cookie2, sizeof cookie2);
	memcpy(r->disposition, disp, sizeof disp);
	r->status = status;
	r->content_type = type;
	r->body = body;
	r->len = len;
}

void km_http_json(km_http_resp_t *r, int status, json_t *json)
{
	char *s = json ? json_dumps(json, JSON_COMPACT) : NULL;
	json_decref(json);
	if (!s) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		s = strdup(oom);
		status = 500;
	}
	resp_set(r, status, "application/json", s, s ? strlen(s) : 0);
	r->no_store = 1;
}

void km_http_raw(km_http_resp_t *r, int status, const char *content_type, char *body, size_t len)
{
	resp_set(r, status, content_type, body, len);
	r->no_store = 1;
}

void km_http_error(km_http_resp_t *r, int status, const char *code, const char *message)
{
	km_http_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

static const char *mime_for(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
			if (strcmp(dot, mime_types[i].ext) == 0)
				return mime_types[i].type;
	return NULL;
}

/* A request path is safe to map into web_dir if it has only plain
 * characters, no "..", no "//", no hidden file or folder, no backslash. */
static int path_is_safe(const char *p)
{
	if (p[0] != '/' || strstr(p, "..") || strstr(p, "//") || strstr(p, "/."))
		return 0;
	for (const char *c = p; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (!(u == '/' || u == '-' || u == '_' || u == '.' || (u >= '0' && u <= '9') ||
		      (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')))
			return 0;
	}
	return 1;
}

static void serve_static(km_server_t *srv, km_http_req_t *req)
{
	const char *p = req->path;
	char rel[600];
	if (req->method != KM_GET) {
		km_http_error(&req->resp, 405, "method_not_allowed", "only GET is allowed here");
		return;
	}
	if (strcmp(p, "/") == 0)
		p = "/index.html";
	else if (strncmp(p, "/j/", 3) == 0)
		p = "/join.html"; /* the token stays in the page's URL, never in a log */
	if (!path_is_safe(p)) {
		km_http_error(&req->resp, 404, "not_found", "no such page");
		return;
	}
	snprintf(rel, sizeof rel, "%s", p);
	if (!strrchr(rel, '.') || strrchr(rel, '/') > strrchr(rel, '.'))
		snprintf(rel, sizeof rel, "%s.html", p); /* /admin -> /admin.html */
	const char *type = mime_for(rel);
	char full[KM_PATH_MAX + 600], real[PATH_MAX], webreal[PATH_MAX];
	snprintf(full, sizeof full, "%s%s", srv->cfg->web_dir, rel);
	if (!type || !realpath(full, real) || !realpath(srv->cfg->web_dir, webreal) ||
	    strncmp(real, webreal, strlen(webreal)) != 0 || real[strlen(webreal)] != '/') {
		km_http_error(&req->resp, 404, "not_found", "no such page");
		return;
	}
	char *data;
	size_t len;
	char err[256];
	int rc = km_fs_read_all(real, STATIC_MAX, &data, &len, err, sizeof err);
	if (rc) {
		km_warn("http", "static_read_failed", "err=%s", km_err_name(rc));
		km_http_error(&req->resp, rc == KM_ENOTFOUND ? 404 : 500, rc == KM_ENOTFOUND ? "not_found" : "internal",
			      rc == KM_ENOTFOUND ? "no such page" : "cannot read the file");
		return;
	}
	resp_set(&req->resp, 200, type, data, len);
	req->resp.no_store = strcmp(type, "text/html; charset=utf-8") == 0;
}

int km_http_query_get(const km_http_req_t *req, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	const char *p = req->query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);
		if (seg > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t vl = seg - n - 1;
			if (vl >= len)
				return -1;
			memcpy(buf, p + n + 1, vl);
			buf[vl] = 0;
			return 0;
		}
		p += seg + (amp ? 1 : 0);
	}
	return -1;
}

/* The path as it may appear in a log: tokens of join links are cut. */
static const char *loggable_path(const char *path)
{
	return strncmp(path, "/j/", 3) == 0 ? "/j/-" : path;
}

void km_http_answer(km_server_t *srv, km_http_req_t *req)
{
	char q[600];
	km_info("http", "request", "ip=%s method=%d path=%s status=%d bytes=%zu", KM_LOG_IP(srv, req->ip), req->method,
		km_log_quote(q, sizeof q, loggable_path(req->path)), req->resp.status, req->resp.len);
	lws_callback_on_writable(req->wsi);
}

static void dispatch(km_server_t *srv, struct lws *wsi, km_http_req_t *req)
{
	if (!km_api_dispatch(srv, req))
		serve_static(srv, req);
	if (req->api_job)
		return; /* answered later (api.c), or never if the connection closes */
	km_http_answer(srv, req);
}

static int method_of(struct lws *wsi)
{
	char *uri;
	int len;
	switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
	case LWSHUMETH_GET: return KM_GET;
	case LWSHUMETH_POST: return KM_POST;
	case LWSHUMETH_PUT: return KM_PUT;
	case LWSHUMETH_PATCH: return KM_PATCH;
	case LWSHUMETH_DELETE: return KM_DELETE;
	default: return KM_OTHER;
	}
}

/* The URI arguments, '&'-joined: lws keeps each as its own fragment (a
 * plain lws_hdr_copy gives only the first). Arguments that do not fit are
 * left out whole. */
static void copy_query(struct lws *wsi, char *out, size_t cap)
{
	size_t used = 0;
	char frag[512];
	out[0] = 0;
	for (int i = 0; i < 32; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (n == 0)
			continue;
		size_t need = (size_t)n + (used ? 1 : 0);
		if (used + need >= cap)
			continue;
		if (used)
			out[used++] = '&';
		memcpy(out + used, frag, (size_t)n);
		used += (size_t)n;
		out[used] = 0;
	}
}

int km_http_on_request(km_server_t *srv, struct lws *wsi, km_http_req_t *req, const char *uri, size_t urilen)
{
	km__api_req_closed(req); /* none can be pending here; never answer a stale one */
	req->wsi = wsi;
	resp_reset(&req->resp);
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
	req->body_too_big = 0;
	req->active = 1;
	srv->http_reqs++;
	req->method = method_of(wsi);
	if (lws_get_peer_simple(wsi, req->ip, sizeof req->ip) == NULL)
		snprintf(req->ip, sizeof req->ip, "unknown");
	size_t n = urilen < sizeof req->path ? urilen : sizeof req->path - 1;
	memcpy(req->path, uri, n);
	req->path[n] = 0;
	char *qm = strchr(req->path, '?');
	if (qm)
		*qm = 0;
	req->query[0] = req->origin[0] = req->user_agent[0] = req->session[0] = req->device[0] = 0;
	copy_query(wsi, req->query, sizeof req->query);
	if (lws_hdr_copy(wsi, req->origin, sizeof req->origin, WSI_TOKEN_ORIGIN) < 0)
		req->origin[0] = 0;
	if (lws_hdr_copy(wsi, req->user_agent, sizeof req->user_agent, WSI_TOKEN_HTTP_USER_AGENT) < 0)
		req->user_agent[0] = 0;
	size_t clen = sizeof req->session;
	if (lws_http_cookie_get(wsi, KM_SESSION_COOKIE, req->session, &clen) != 0)
		req->session[0] = 0;
	clen = sizeof req->device;
	if (lws_http_cookie_get(wsi, KM_DEVICE_COOKIE, req->device, &clen) != 0)
		req->device[0] = 0;

	long wait = km_ratelimit_take(srv->rl, req->ip, km__now_ms());
	if (wait > 0) {
		km_http_error(&req->resp, 429, "rate_limited", "too many requests, try again later");
		req->resp.retry_after = (wait + 999) / 1000;
		km_warn("http", "rate_limited", "ip=%s", KM_LOG_IP(srv, req->ip));
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (req->method == KM_OTHER) {
		km_http_error(&req->resp, 405, "method_not_allowed", "method not allowed");
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (req->method == KM_GET || req->method == KM_DELETE) {
		dispatch(srv, wsi, req);
		return 0;
	}
	/* A body follows: refuse early if it announces more than allowed. */
	char cl[32];
	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoll(cl, NULL, 10) > srv->cfg->http_max_body) {
		km_http_error(&req->resp, 413, "body_too_large", "request body too large");
		req->resp.close_after = 1;
		lws_callback_on_writable(wsi);
		req->body_too_big = 1;
	}
	return 0;
}

int km_http_on_body(km_server_t *srv, struct lws *wsi, km_http_req_t *req, const void *in, size_t len)
{
	if (req->body_too_big)
		return 0;
	if (req->body_len + len > (size_t)srv->cfg->http_max_body) {
		req->body_too_big = 1;
		km_http_error(&req->resp, 413, "body_too_large", "request body too large");
		req->resp.close_after = 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	char *nb = realloc(req->body, req->body_len + len + 1);
	if (!nb)
		return -1;
	req->body = nb;
	memcpy(req->body + req->body_len, in, len);
	req->body_len += len;
	req->body[req->body_len] = 0;
	return 0;
}

int km_http_on_body_done(km_server_t *srv, struct lws *wsi, km_http_req_t *req)
{
	if (req->body_too_big || req->resp.status)
		return 0;
	if (!req->body) {
		req->body = calloc(1, 1);
		if (!req->body)
			return -1;
	}
	dispatch(srv, wsi, req);
	return 0;
}

static int write_headers(km_server_t *srv, struct lws *wsi, km_http_resp_t *r)
{
	uint8_t buf[LWS_PRE + 3072];
	uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->content_type, r->len, &p, end))
		return -1;
	for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
		if (lws_add_http_header_by_name(wsi, (const uint8_t *)security_headers[i].name,
						(const uint8_t *)security_headers[i].value,
						(int)strlen(security_headers[i].value), &p, end))
			return -1;
	if (r->no_store && lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
						       (const uint8_t *)"no-store", 8, &p, end))
		return -1;
	if (r->retry_after > 0) {
		char ra[24];
		int n = snprintf(ra, sizeof ra, "%ld", r->retry_after);
		if (lws_add_http_header_by_name(wsi, (const uint8_t *)"retry-after:", (const uint8_t *)ra, n, &p, end))
			return -1;
	}
	if (r->set_cookie[0] && lws_add_http_header_by_name(wsi, (const uint8_t *)"set-cookie:",
							    (const uint8_t *)r->set_cookie,
							    (int)strlen(r->set_cookie), &p, end))
		return -1;
	if (r->set_cookie2[0] && lws_add_http_header_by_name(wsi, (const uint8_t *)"set-cookie:",
							     (const uint8_t *)r->set_cookie2,
							     (int)strlen(r->set_cookie2), &p, end))
		return -1;
	if (r->disposition[0] && lws_add_http_header_by_name(wsi, (const uint8_t *)"content-disposition:",
							     (const uint8_t *)r->disposition,
							     (int)strlen(r->disposition), &p, end))
		return -1;
	/* HTTP/1.1 only: HTTP/2 forbids the header (a stream ends, not the connection). */
	if (r->close_after && lws_get_network_wsi(wsi) == wsi &&
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"connection:",
							  (const uint8_t *)"close", 5, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	r->headers_sent = 1;
	return 0;
}

int km_http_on_writeable(km_server_t *srv, struct lws *wsi, km_http_req_t *req)
{
	km_http_resp_t *r = &req->resp;
	if (!r->status)
		return 0; /* nothing to say yet */
	if (!r->headers_sent) {
		if (write_headers(srv, wsi, r))
			return -1;
		if (r->len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (r->sent < r->len) {
		uint8_t buf[LWS_PRE + CHUNK];
		size_t n = r->len - r->sent;
		if (n > CHUNK)
			n = CHUNK;
		memcpy(buf + LWS_PRE, r->body + r->sent, n);
		int last = r->sent + n == r->len;
		if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		r->sent += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	int close_after = r->close_after;
	resp_reset(r);
	free(req->body);
	req->body = NULL;
	req->active = 0;
	/* Closing an h2 stream whose body still arrives aborts lws 4.1.6: only
	 * an HTTP/1.1 connection is closed; an h2 stream just completes. */
	if (close_after && lws_get_network_wsi(wsi) == wsi)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void km_http_on_close(km_server_t *srv, km_http_req_t *req)
{
	km__api_req_closed(req);
	resp_reset(&req->resp);
	free(req->body);
	req->body = NULL;
	req->active = 0;
}
