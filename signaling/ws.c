/* ws.c — the WSS endpoint: message assembly, the schema check of each
 * message (signaling/schema.h), dispatch by "type", per-connection outgoing
 * queue. lws service thread only. */
#include "signaling/ws.h"

#include "core/log.h"
#include "signaling/schema.h"
#include "signaling/server_int.h"

#include <stdlib.h>
#include <string.h>

#define OUT_QUEUE_MAX 256
#define MSGS_PER_SEC 50

struct km_ws_out {
	struct km_ws_out *next;
	size_t len;
	uint8_t buf[]; /* LWS_PRE headroom, then len bytes */
};

typedef int (*handler_fn)(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg);

static int on_ping(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	const char *ref = km_schema_ws_ref(msg);
	json_t *pong = json_pack("{s:s}", "type", "pong");
	if (pong && ref)
		json_object_set_new(pong, "ref", json_string(ref));
	return km_ws_send(wsi, c, pong);
}

static const struct {
	const char *type;
	handler_fn fn;
} handlers[] = {
	{ "ping", on_ping },
};

int km_ws_send(struct lws *wsi, km_ws_conn_t *c, json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!s)
		return -1;
	if (c->out_count >= OUT_QUEUE_MAX) {
		free(s);
		km_warn("ws", "queue_full", "ip=%s", c->ip_log);
		return -1;
	}
	size_t len = strlen(s);
	struct km_ws_out *o = malloc(sizeof *o + LWS_PRE + len);
	if (!o) {
		free(s);
		return -1;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, s, len);
	free(s);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_count++;
	lws_callback_on_writable(wsi);
	return 0;
}

int km_ws_send_error(struct lws *wsi, km_ws_conn_t *c, const char *code, const char *message,
		     const char *ref)
{
	json_t *m = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message);
	if (!ref)
		ref = c->cur_ref; /* an error about the message being handled carries its ref */
	if (m && ref)
		json_object_set_new(m, "ref", json_string(ref));
	return km_ws_send(wsi, c, m);
}

int km_ws_on_open(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c)
{
	c->wsi = wsi;
	c->media_id = ++srv->next_media_id;
	km__log_ip(srv, c->ip, c->ip_log);
	size_t n = sizeof c->session;
	if (lws_http_cookie_get(wsi, KM_SESSION_COOKIE, c->session, &n) != 0)
		c->session[0] = 0;
	n = sizeof c->pcookie;
	if (lws_http_cookie_get(wsi, KM_PARTICIPANT_COOKIE, c->pcookie, &n) != 0)
		c->pcookie[0] = 0;
	c->next = srv->ws_list;
	if (srv->ws_list)
		srv->ws_list->prev = c;
	srv->ws_list = c;
	km_info("ws", "open", "ip=%s", c->ip_log);
	return km_ws_send(wsi, c, json_pack("{s:s,s:i}", "type", "hello", "protocol", 1));
}

/* Checks the message against its schema (signaling/schema.h) and hands it
 * to its type's handler; every refusal keeps the connection open. */
static int handle_message(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c)
{
	srv->ws_msgs_in++;
	json_t *msg = NULL;
	const char *t = NULL;
	char why[200];
	int rc = km_schema_ws_parse(c->msg, c->msg_len, &msg, &t, why, sizeof why);
	const char *ref = msg ? km_schema_ws_ref(msg) : NULL; /* points into msg */
	switch (rc) {
	case KM_SCHEMA_OK:
		break;
	case KM_SCHEMA_EJSON:
		rc = km_ws_send_error(wsi, c, "invalid_json", "the message is not valid JSON", NULL);
		goto out;
	case KM_SCHEMA_EOBJECT:
		rc = km_ws_send_error(wsi, c, "invalid_message", "a message must be a JSON object", NULL);
		goto out;
	case KM_SCHEMA_ETYPE:
		rc = km_ws_send_error(wsi, c, "missing_type", "the message has no string \"type\"", ref);
		goto out;
	case KM_SCHEMA_EFIELD:
		km_debug("ws", "invalid_field", "ip=%s", c->ip_log);
		rc = km_ws_send_error(wsi, c, "invalid_field", why, ref);
		goto out;
	default:
		goto unknown;
	}
	c->cur_ref = ref;
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
		if (strcmp(handlers[i].type, t) == 0) {
			rc = handlers[i].fn(srv, wsi, c, msg);
			goto out;
		}
	}
	rc = km_consult_handle(srv, wsi, c, t, msg);
	if (rc != -2)
		goto out;
unknown:
	km_debug("ws", "unknown_type", "ip=%s", c->ip_log);
	rc = km_ws_send_error(wsi, c, "unknown_type", "unknown message type", ref);
out:
	c->cur_ref = NULL;
	json_decref(msg);
	return rc;
}

int km_ws_on_receive(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const void *in, size_t len)
{
	size_t max = (size_t)srv->cfg->ws_max_message;
	int final = lws_is_final_fragment(wsi);
	if (!c->discarding) {
		if (c->msg_len + len > max) {
			c->discarding = 1;
			free(c->msg);
			c->msg = NULL;
			c->msg_len = c->msg_cap = 0;
		} else {
			if (c->msg_len + len + 1 > c->msg_cap) {
				size_t cap = c->msg_cap ? c->msg_cap * 2 : 1024;
				while (cap < c->msg_len + len + 1)
					cap *= 2;
				char *nb = realloc(c->msg, cap);
				if (!nb)
					return -1;
				c->msg = nb;
				c->msg_cap = cap;
			}
			memcpy(c->msg + c->msg_len, in, len);
			c->msg_len += len;
		}
	}
	if (!final)
		return 0;
	int rc;
	uint64_t now = km__now_ms();
	if (now - c->window_start_ms >= 1000) {
		c->window_start_ms = now;
		c->window_count = 0;
	}
	if (c->discarding) {
		km_warn("ws", "message_too_large", "ip=%s", c->ip_log);
		rc = km_ws_send_error(wsi, c, "too_large", "the message is larger than allowed", NULL);
	} else if (++c->window_count > MSGS_PER_SEC) {
		/* Over the rate: one error per second says so, the rest is dropped
		 * unanswered (no reply per flood message); a connection that keeps
		 * sending at ten times the rate is closed. */
		rc = 0;
		if (c->window_count == MSGS_PER_SEC + 1)
			rc = km_ws_send_error(wsi, c, "rate_limited", "too many messages, slow down", NULL);
		if (c->window_count > 10 * MSGS_PER_SEC) {
			km_warn("ws", "flood_closed", "ip=%s", c->ip_log);
			rc = -1;
		}
	} else {
		rc = handle_message(srv, wsi, c);
	}
	c->discarding = 0;
	c->msg_len = 0;
	if (c->msg_cap > 16384) { /* do not keep a big buffer for a small stream */
		free(c->msg);
		c->msg = NULL;
		c->msg_cap = 0;
	}
	return rc < 0 ? -1 : 0;
}

int km_ws_on_writeable(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c)
{
	struct km_ws_out *o = c->out_head;
	if (!o)
		return 0;
	if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
		return -1;
	c->out_head = o->next;
	if (!c->out_head)
		c->out_tail = NULL;
	c->out_count--;
	free(o);
	if (c->out_head)
		lws_callback_on_writable(wsi);
	return 0;
}

void km_ws_on_close(km_server_t *srv, km_ws_conn_t *c)
{
	if (c->wsi) {
		km_consult_on_close(srv, c);
		if (c->prev)
			c->prev->next = c->next;
		else if (srv->ws_list == c)
			srv->ws_list = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->next = c->prev = NULL;
		c->wsi = NULL;
	}
	free(c->msg);
	c->msg = NULL;
	while (c->out_head) {
		struct km_ws_out *n = c->out_head->next;
		free(c->out_head);
		c->out_head = n;
	}
	c->out_tail = NULL;
	c->out_count = 0;
	km_info("ws", "close", "ip=%s", c->ip_log);
}
