/* wss.h — the test peer's WSS client: one libwebsockets client connection
 * to kamer's /ws, TLS verified against a given CA file, with kamer's
 * Origin and an optional Cookie header; JSON messages in and out. It is
 * not the consult protocol (session.c speaks that).
 *
 * Threads: one thread calls everything; km_peer_wss_service() must be
 * called often (it never blocks); callbacks run inside it. */
#ifndef KM_PEER_WSS_H
#define KM_PEER_WSS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct km_peer_wss km_peer_wss_t;

typedef struct {
	const char *url;    /* "wss://127.0.0.1:8443/ws" (copied) */
	const char *ca;     /* PEM file of the CA that signed the server (copied) */
	const char *cookie; /* "NAME=VALUE" for the upgrade, or NULL (copied, never logged) */
	void (*on_open)(void *ud);
	/* One complete message (borrowed for the call). */
	void (*on_message)(void *ud, json_t *msg);
	/* The connection closed or could not be made; why is short English. */
	void (*on_close)(void *ud, const char *why);
	void *ud;
} km_peer_wss_config_t;

/* Starts connecting. *out is new; free with km_peer_wss_free. Returns 0 or
 * a negative code with the reason in err (bad URL, no TLS context). */
int km_peer_wss_new(const km_peer_wss_config_t *cfg, km_peer_wss_t **out, char *err,
		    size_t errlen);
void km_peer_wss_free(km_peer_wss_t *w);

/* Queues msg (taken) for sending. Returns 0, or KM_EIO when closed. */
int km_peer_wss_send(km_peer_wss_t *w, json_t *msg);

/* Runs libwebsockets without waiting: connects, reads, writes. */
void km_peer_wss_service(km_peer_wss_t *w);

/* Closes after the queued messages are written. */
void km_peer_wss_close(km_peer_wss_t *w);

bool km_peer_wss_is_open(const km_peer_wss_t *w);

/* Parses "wss://HOST:PORT/PATH" into its parts (host without brackets).
 * Returns 0 or KM_EINVAL. */
int km_peer_wss_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
			  size_t pathlen);

#endif
