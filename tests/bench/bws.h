/* bws.h — the load client's WebSocket client: many client connections on
 * one libwebsockets context, each with JSON messages in and out; TLS
 * (verified against a CA file, with a host name for SNI and the check) or
 * plain ws://, an Origin, an optional Cookie and subprotocol. It knows no
 * protocol: load_kamer.c and load_janus.c speak theirs over it.
 *
 * Threads: one thread calls everything; bws_service() must be called often
 * (it never blocks); callbacks run inside it. */
#ifndef KM_BENCH_BWS_H
#define KM_BENCH_BWS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct bws bws_t;         /* the context */
typedef struct bws_conn bws_conn_t; /* one connection */

/* ca: PEM file for TLS connections, or NULL when every connection is
 * plain. Returns a new context or NULL. */
bws_t *bws_new(const char *ca);
/* Closes every connection (no callbacks) and frees. Accepts NULL. */
void bws_free(bws_t *b);
void bws_service(bws_t *b);

typedef struct {
	const char *address;  /* "127.0.0.2" (copied) */
	int port;
	bool tls;
	const char *host;     /* Host header, SNI and certificate name ("localhost") */
	const char *path;     /* "/ws" */
	const char *origin;   /* exact Origin header, or NULL */
	const char *cookie;   /* "NAME=VALUE" or NULL (copied, never logged) */
	const char *protocol; /* subprotocol ("janus-protocol") or NULL */
	void (*on_open)(void *ud);
	void (*on_message)(void *ud, json_t *msg); /* borrowed for the call */
	void (*on_close)(void *ud, const char *why);
	void *ud;
} bws_conn_config_t;

/* Starts connecting; returns the connection (owned by the context until
 * bws_conn_free) or NULL. */
bws_conn_t *bws_connect(bws_t *b, const bws_conn_config_t *cfg);
/* Queues msg (taken). Returns 0 or -1 when closed. */
int bws_send(bws_conn_t *c, json_t *msg);
bool bws_is_open(const bws_conn_t *c);
/* Closes (if open) and frees; no callback runs afterwards. Accepts NULL. */
void bws_conn_free(bws_conn_t *c);

#endif
