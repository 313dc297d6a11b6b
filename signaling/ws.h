/* ws.h — the WSS endpoint (/ws): messages are JSON objects with a "type".
 * Fragments are joined up to ws_max_message bytes; larger messages, invalid
 * JSON, a missing or unknown type each get an error message
 * {"type":"error","code":...,"message":...} and the connection stays open.
 * Outgoing messages are queued per connection and written only from the
 * WRITEABLE callback. Single-threaded (the lws service thread). */
#ifndef KM_WS_H
#define KM_WS_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

typedef struct km_server km_server_t;
struct km_ws_out;

typedef struct km_ws_conn {
	struct lws *wsi;
	struct km_ws_conn *next, *prev; /* the server's list of open connections */
	char ip[48];
	char ip_log[72];      /* the address as the log shows it (km__log_ip) */
	const char *cur_ref;  /* the "ref" of the message being handled (into it), NULL if none */
	char session[64];     /* staff session cookie at the upgrade, "" if none */
	char pcookie[64];     /* participant cookie at the upgrade, "" if none */
	int role;             /* KM_WS_NONE, KM_WS_PARTICIPANT, KM_WS_STAFF */
	int64_t consult_id;   /* the consult this connection belongs to, 0 if none */
	int64_t participant_id, user_id;
	char *msg;            /* message being assembled (owned) */
	size_t msg_len, msg_cap;
	int discarding;       /* current message is over the limit */
	struct km_ws_out *out_head, *out_tail;
	int out_count;
	uint64_t window_start_ms;
	unsigned window_count; /* messages in the current 1 s window */
	int counted;
	uint64_t media_id;    /* this connection as an SFU member (media/sfu.h) */
	uint64_t sub_offered; /* the version of the last subscribe offer sent */
	uint64_t sub_closed;  /* offers up to this version went with a closed sub connection */
} km_ws_conn_t;

enum { KM_WS_NONE = 0, KM_WS_PARTICIPANT, KM_WS_STAFF };

/* The consult protocol (consult.c): handles msg of type t if it is one of
 * its types (returns 0, or -1 to close the connection), else returns -2. */
int km_consult_handle(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *t, json_t *msg);
/* A connection closed: updates the consult's live state. */
void km_consult_on_close(km_server_t *srv, km_ws_conn_t *c);

int km_ws_on_open(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c);
int km_ws_on_receive(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const void *in, size_t len);
int km_ws_on_writeable(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c);
void km_ws_on_close(km_server_t *srv, km_ws_conn_t *c);

/* Queues a JSON message (taken: decref'd here). Returns 0 or -1 if the
 * connection's queue is full (the caller should close it). */
int km_ws_send(struct lws *wsi, km_ws_conn_t *c, json_t *msg);
/* Queues {"type":"error","code":code,"message":message[,"ref":ref]}. */
int km_ws_send_error(struct lws *wsi, km_ws_conn_t *c, const char *code, const char *message,
		     const char *ref);

#endif
