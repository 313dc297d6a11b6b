/* wss.c — the test peer's WSS client over libwebsockets (see wss.h): one
 * context with one client connection, messages reassembled from frames,
 * an outgoing queue written one message per WRITEABLE callback.
 * Threads: the one thread that calls km_peer_wss_service. */
#include "tests/peer/wss.h"

#include "core/err.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MESSAGE (1024 * 1024)

struct out {
	struct out *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE, then len bytes */
};

struct km_peer_wss {
	km_peer_wss_config_t cfg;
	char *url, *ca, *cookie;
	char host[256], path[256], origin[300];
	int port;
	struct lws_context *ctx;
	struct lws *wsi;
	bool open, closed, closing;
	struct out *head, *tail;
	char *in;
	size_t in_len, in_cap;
	bool in_overflow;
};

int km_peer_wss_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
			  size_t pathlen)
{
	if (!url || strncmp(url, "wss://", 6) != 0)
		return KM_EINVAL;
	const char *h = url + 6, *end;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return KM_EINVAL;
		h++;
	} else {
		end = h + strcspn(h, ":/");
	}
	size_t n = (size_t)(end - h);
	if (n == 0 || n >= hostlen)
		return KM_EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	const char *p = *end == ']' ? end + 1 : end;
	*port = 443;
	if (*p == ':') {
		char *e;
		long v = strtol(p + 1, &e, 10);
		if (e == p + 1 || v < 1 || v > 65535)
			return KM_EINVAL;
		*port = (int)v;
		p = e;
	}
	if (*p && *p != '/')
		return KM_EINVAL;
	if (snprintf(path, pathlen, "%s", *p ? p : "/ws") >= (int)pathlen)
		return KM_EINVAL;
	return 0;
}

static void mark_closed(km_peer_wss_t *w, const char *why)
{
	w->open = false;
	w->wsi = NULL;
	if (w->closed)
		return;
	w->closed = true;
	if (w->cfg.on_close)
		w->cfg.on_close(w->cfg.ud, why);
}

static void on_receive(km_peer_wss_t *w, struct lws *wsi, const void *in, size_t len)
{
	if (w->in_len + len > MAX_MESSAGE)
		w->in_overflow = true;
	if (!w->in_overflow && w->in_len + len + 1 > w->in_cap) {
		size_t cap = (w->in_len + len + 1) * 2;
		char *b = realloc(w->in, cap);
		if (!b)
			w->in_overflow = true;
		else {
			w->in = b;
			w->in_cap = cap;
		}
	}
	if (!w->in_overflow) {
		memcpy(w->in + w->in_len, in, len);
		w->in_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return;
	json_t *msg = NULL;
	if (!w->in_overflow)
		msg = json_loadb(w->in, w->in_len, 0, NULL);
	w->in_len = 0;
	w->in_overflow = false;
	if (msg && json_is_object(msg) && w->cfg.on_message)
		w->cfg.on_message(w->cfg.ud, msg);
	json_decref(msg);
}

static int on_writeable(km_peer_wss_t *w, struct lws *wsi)
{
	struct out *o = w->head;
	if (!o && w->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1; /* lws sends the close frame */
	}
	if (!o)
		return 0;
	w->head = o->next;
	if (!w->head)
		w->tail = NULL;
	int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
	free(o);
	if (n < 0)
		return -1;
	if (w->head || w->closing)
		lws_callback_on_writable(wsi);
	return 0;
}

static int add_cookie(km_peer_wss_t *w, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;
	if (!w->cookie)
		return 0;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)"cookie:",
					   (const unsigned char *)w->cookie, (int)strlen(w->cookie),
					   p, end) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	km_peer_wss_t *w = lws_context_user(lws_get_context(wsi));
	if (!w)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_cookie(w, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		w->open = true;
		if (w->cfg.on_open)
			w->cfg.on_open(w->cfg.ud);
		if (w->head)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(w, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(w, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char why[200];
		snprintf(why, sizeof why, "connection failed: %.*s", in ? (int)len : 7,
			 in ? (const char *)in : "unknown");
		mark_closed(w, why);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		mark_closed(w, "closed by the server");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == w->wsi)
			mark_closed(w, "connection gone");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "kamer-peer", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static int connect_client(km_peer_wss_t *w, char *err, size_t errlen)
{
	struct lws_client_connect_info cc;
	memset(&cc, 0, sizeof cc);
	cc.context = w->ctx;
	cc.address = w->host;
	cc.port = w->port;
	cc.ssl_connection = LCCSCF_USE_SSL;
	cc.path = w->path;
	cc.host = w->host;
	cc.origin = w->origin;
	cc.protocol = NULL;
	cc.local_protocol_name = protocols[0].name;
	cc.ietf_version_or_minus_one = -1;
	cc.pwsi = &w->wsi;
	if (!lws_client_connect_via_info(&cc) && !w->closed)
		return km_errf(KM_EIO, err, errlen, "could not start the WSS connection");
	return 0;
}

int km_peer_wss_new(const km_peer_wss_config_t *cfg, km_peer_wss_t **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	km_peer_wss_t *w = calloc(1, sizeof *w);
	if (!w)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	w->cfg = *cfg;
	int rc = KM_EINVAL;
	if (km_peer_wss_parse_url(cfg->url, w->host, sizeof w->host, &w->port, w->path,
				  sizeof w->path) != 0) {
		km_errf(rc, err, errlen, "--url: expected wss://HOST:PORT/ws");
		goto fail;
	}
	bool v6 = strchr(w->host, ':') != NULL;
	snprintf(w->origin, sizeof w->origin, "https://%s%s%s:%d", v6 ? "[" : "", w->host,
		 v6 ? "]" : "", w->port);
	if (!cfg->ca || access(cfg->ca, R_OK) != 0) {
		km_errf(rc, err, errlen, "--ca: cannot read the CA file");
		goto fail;
	}
	w->ca = strdup(cfg->ca);
	w->cookie = cfg->cookie ? strdup(cfg->cookie) : NULL;
	/* KAMER_PEER_LWS_DEBUG=1 shows libwebsockets' own log (it may print
	 * headers, so never in a shared log). */
	lws_set_log_level(getenv("KAMER_PEER_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO
						  : LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	/* RAW_ORIGIN: send our Origin as given (lws would prefix "http://"). */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	info.client_ssl_ca_filepath = w->ca;
	info.fd_limit_per_thread = 64;
	info.user = w;
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		rc = km_errf(KM_EIO, err, errlen, "could not make the TLS client context (CA file?)");
		goto fail;
	}
	rc = connect_client(w, err, errlen);
	if (rc)
		goto fail;
	*out = w;
	return 0;
fail:
	km_peer_wss_free(w);
	return rc;
}

void km_peer_wss_free(km_peer_wss_t *w)
{
	if (!w)
		return;
	w->cfg.on_close = NULL;
	w->cfg.on_message = NULL;
	if (w->ctx)
		lws_context_destroy(w->ctx);
	while (w->head) {
		struct out *o = w->head;
		w->head = o->next;
		free(o);
	}
	free(w->in);
	free(w->ca);
	if (w->cookie) {
		memset(w->cookie, 0, strlen(w->cookie));
		free(w->cookie);
	}
	free(w);
}

int km_peer_wss_send(km_peer_wss_t *w, json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!s)
		return KM_EINVAL;
	if (w->closed || w->closing) {
		free(s);
		return KM_EIO;
	}
	size_t len = strlen(s);
	struct out *o = malloc(sizeof *o + LWS_PRE + len);
	if (!o) {
		free(s);
		return KM_ENOMEM;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, s, len);
	free(s);
	if (w->tail)
		w->tail->next = o;
	else
		w->head = o;
	w->tail = o;
	if (w->open && w->wsi)
		lws_callback_on_writable(w->wsi);
	return 0;
}

void km_peer_wss_service(km_peer_wss_t *w)
{
	if (w && w->ctx)
		lws_service(w->ctx, -1);
}

void km_peer_wss_close(km_peer_wss_t *w)
{
	if (!w || w->closed)
		return;
	w->closing = true;
	if (w->wsi)
		lws_callback_on_writable(w->wsi);
}

bool km_peer_wss_is_open(const km_peer_wss_t *w)
{
	return w && w->open && !w->closed;
}
