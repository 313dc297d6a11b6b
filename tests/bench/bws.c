/* bws.c — many WebSocket client connections on one libwebsockets context
 * (see bws.h): messages reassembled from fragments, an outgoing queue
 * written one message per WRITEABLE callback, connections freed at any
 * time (lws then kills the socket asynchronously).
 * Threads: the one thread that calls bws_service. */
#include "tests/bench/bws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (1024 * 1024)

struct out {
	struct out *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE, then len bytes */
};

struct bws {
	struct lws_context *ctx;
	char *ca;
};

struct bws_conn {
	bws_t *b;
	bws_conn_config_t cfg;
	char *address, *host, *path, *origin, *cookie, *protocol;
	struct lws *wsi;
	bool open, closed;
	struct out *head, *tail;
	char *in;
	size_t in_len, in_cap;
	bool in_overflow;
};

static void mark_closed(bws_conn_t *c, const char *why)
{
	c->open = false;
	c->wsi = NULL;
	if (c->closed)
		return;
	c->closed = true;
	if (c->cfg.on_close)
		c->cfg.on_close(c->cfg.ud, why);
}

static void on_receive(bws_conn_t *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->in_len + len > MAX_MESSAGE)
		c->in_overflow = true;
	if (!c->in_overflow && c->in_len + len + 1 > c->in_cap) {
		size_t cap = (c->in_len + len + 1) * 2;
		char *b = realloc(c->in, cap);
		if (!b) {
			c->in_overflow = true;
		} else {
			c->in = b;
			c->in_cap = cap;
		}
	}
	if (!c->in_overflow) {
		memcpy(c->in + c->in_len, in, len);
		c->in_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return;
	json_t *msg = c->in_overflow ? NULL : json_loadb(c->in, c->in_len, 0, NULL);
	c->in_len = 0;
	c->in_overflow = false;
	if (msg && json_is_object(msg) && c->cfg.on_message)
		c->cfg.on_message(c->cfg.ud, msg);
	json_decref(msg);
}

static int on_writeable(bws_conn_t *c, struct lws *wsi)
{
	struct out *o = c->head;
	if (!o)
		return 0;
	c->head = o->next;
	if (!c->head)
		c->tail = NULL;
	int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
	free(o);
	if (n < 0)
		return -1;
	if (c->head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int add_cookie(bws_conn_t *c, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;
	if (!c->cookie)
		return 0;
	return lws_add_http_header_by_name(wsi, (const unsigned char *)"cookie:",
					   (const unsigned char *)c->cookie, (int)strlen(c->cookie),
					   p, end) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	bws_conn_t *c = user;
	if (!c) {
		/* a freed connection: let lws close it */
		return reason == LWS_CALLBACK_CLIENT_RECEIVE ||
		       reason == LWS_CALLBACK_CLIENT_WRITEABLE ? -1 : 0;
	}
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_cookie(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->open = true;
		if (c->cfg.on_open)
			c->cfg.on_open(c->cfg.ud);
		if (c->head && c->wsi)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char why[200];
		snprintf(why, sizeof why, "connection failed: %.*s", in ? (int)len : 7,
			 in ? (const char *)in : "unknown");
		mark_closed(c, why);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		mark_closed(c, "closed by the server");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == c->wsi)
			mark_closed(c, "connection gone");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "kamer-bench", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

bws_t *bws_new(const char *ca)
{
	bws_t *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->ca = ca ? strdup(ca) : NULL;
	lws_set_log_level(getenv("KAMER_BENCH_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR,
			  NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN |
		       (ca ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
	info.client_ssl_ca_filepath = b->ca;
	info.fd_limit_per_thread = 4096;
	b->ctx = lws_create_context(&info);
	if (!b->ctx) {
		bws_free(b);
		return NULL;
	}
	return b;
}

void bws_free(bws_t *b)
{
	if (!b)
		return;
	if (b->ctx)
		lws_context_destroy(b->ctx);
	free(b->ca);
	free(b);
}

void bws_service(bws_t *b)
{
	if (b && b->ctx)
		lws_service(b->ctx, -1);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

bws_conn_t *bws_connect(bws_t *b, const bws_conn_config_t *cfg)
{
	bws_conn_t *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->b = b;
	c->cfg = *cfg;
	c->address = dup_or_null(cfg->address);
	c->host = dup_or_null(cfg->host ? cfg->host : cfg->address);
	c->path = dup_or_null(cfg->path ? cfg->path : "/");
	c->origin = dup_or_null(cfg->origin);
	c->cookie = dup_or_null(cfg->cookie);
	c->protocol = dup_or_null(cfg->protocol);
	struct lws_client_connect_info cc;
	memset(&cc, 0, sizeof cc);
	cc.context = b->ctx;
	cc.address = c->address;
	cc.port = cfg->port;
	cc.ssl_connection = cfg->tls ? LCCSCF_USE_SSL : 0;
	cc.path = c->path;
	cc.host = c->host;
	cc.origin = c->origin;
	cc.protocol = c->protocol;
	cc.local_protocol_name = protocols[0].name;
	cc.ietf_version_or_minus_one = -1;
	cc.userdata = c;
	cc.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&cc) && !c->closed)
		mark_closed(c, "could not start the connection");
	return c;
}

int bws_send(bws_conn_t *c, json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!s)
		return -1;
	if (!c || c->closed) {
		free(s);
		return -1;
	}
	size_t len = strlen(s);
	struct out *o = malloc(sizeof *o + LWS_PRE + len);
	if (!o) {
		free(s);
		return -1;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, s, len);
	free(s);
	if (c->tail)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	if (c->open && c->wsi)
		lws_callback_on_writable(c->wsi);
	return 0;
}

bool bws_is_open(const bws_conn_t *c)
{
	return c && c->open && !c->closed;
}

void bws_conn_free(bws_conn_t *c)
{
	if (!c)
		return;
	if (c->wsi) {
		lws_set_wsi_user(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	}
	while (c->head) {
		struct out *o = c->head;
		c->head = o->next;
		free(o);
	}
	free(c->in);
	free(c->address);
	free(c->host);
	free(c->path);
	free(c->origin);
	if (c->cookie) {
		memset(c->cookie, 0, strlen(c->cookie));
		free(c->cookie);
	}
	free(c->protocol);
	free(c);
}
