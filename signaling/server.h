/* server.h — kamer's signaling server: one libwebsockets context serving
 * HTTPS (HTTP/1.1 and HTTP/2) and WSS on one port, TLS 1.2/1.3 with ECDHE
 * and AEAD ciphers only. It runs on the thread that calls km_server_run and
 * is the only thread that uses the store. */
#ifndef KM_SERVER_H
#define KM_SERVER_H

#include "core/config.h"
#include "rooms/store.h"

#include <stddef.h>

typedef struct km_server km_server_t;

/* Creates the server and binds its port. cfg and store are borrowed and must
 * outlive the server. cert/key are PEM file paths. Returns KM_EBUSY if the
 * port is taken, KM_EIO/KM_ECRYPTO with a reason otherwise. */
int km_server_new(const km_config_t *cfg, km_store_t *store, const char *cert_path,
		  const char *key_path, km_server_t **out, char *err, size_t errlen);

/* Runs the event loop until km_server_stop. Returns 0. */
int km_server_run(km_server_t *srv);

/* Asks the loop to stop. Async-signal-safe (sets a flag, wakes the loop). */
void km_server_stop(km_server_t *srv);

/* Closes every connection and frees the server. NULL is ok. */
void km_server_free(km_server_t *srv);

#endif
