/* server.h — kamer's signaling server: one libwebsockets context serving
 * HTTPS (HTTP/1.1 and HTTP/2) and WSS on one port, TLS 1.2/1.3 with ECDHE
 * and AEAD ciphers only. It runs on the thread that calls km_server_run and
 * is the only thread that uses the store. */
#ifndef KM_SERVER_H
#define KM_SERVER_H

#include "core/config.h"
#include "rooms/audit.h"
#include "rooms/mail.h"
#include "rooms/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct km_server km_server_t;

/* What the server needs; everything borrowed, must outlive the server. */
typedef struct km_server_opts {
	const km_config_t *cfg;
	km_store_t *store;
	km_audit_t *audit;
	const uint8_t *server_key; /* 32 bytes: seals TOTP secrets (rooms/secretbox.h) */
	const char *cert_path, *key_path; /* PEM files for TLS */
	const km_smtp_config_t *smtp;     /* NULL: invitation emails go to the outbox */
} km_server_opts_t;

/* Creates the server and binds its port. Returns KM_EBUSY if the port is
 * taken, KM_EIO/KM_ECRYPTO with a reason otherwise. */
int km_server_new(const km_server_opts_t *opts, km_server_t **out, char *err, size_t errlen);

/* Runs the event loop until km_server_stop. Returns 0. */
int km_server_run(km_server_t *srv);

/* Asks the loop to stop. Async-signal-safe (sets a flag, wakes the loop). */
void km_server_stop(km_server_t *srv);

/* Closes every connection and frees the server. NULL is ok. */
void km_server_free(km_server_t *srv);

#endif
