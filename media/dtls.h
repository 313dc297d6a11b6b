/* dtls.h — DTLS-SRTP for kamer's SFU: the per-process certificate and a
 * per-connection DTLS 1.2 endpoint (OpenSSL 3) that negotiates use_srtp with
 * SRTP_AEAD_AES_256_GCM only (RFC 5764, RFC 7714), plus
 * SRTP_AEAD_AES_128_GCM when the org allows it, never the HMAC-SHA1
 * profiles, checks the peer certificate against the SHA-256 fingerprint from
 * its SDP, and exports the SRTP keys.
 *
 * No I/O of its own: the caller (the ICE glue) feeds each received DTLS
 * datagram to km_dtls_handle() and gets outgoing datagrams through the send
 * callback, one call per datagram (at most KM_DTLS_MTU bytes). It carries no
 * application data (no data channels) and does not log: the caller logs
 * km_dtls_error() with its own connection id.
 *
 * Threads: km_dtls_cert_t is made once at start and is read-only afterwards;
 * any thread may call km_dtls_new() with it concurrently. It must outlive
 * every km_dtls_t made from it. A km_dtls_t belongs to the one worker thread
 * that owns its connection (OpenSSL's error queue is per thread). */
#ifndef KM_DTLS_H
#define KM_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "media/srtp.h"

/* SRTP profiles a connection may accept (bitmask for km_dtls_new). */
#define KM_DTLS_AES256GCM 1u /* always offered and preferred */
#define KM_DTLS_AES128GCM 2u /* also offered, only if the org allows it */

#define KM_DTLS_MTU 1200        /* largest datagram sent */
#define KM_DTLS_FP_LEN 96       /* "AB:CD:...": 32 bytes, 95 chars + NUL */

typedef enum {
	KM_DTLS_NEW = 0,     /* made, not started */
	KM_DTLS_HANDSHAKING, /* started (client) or first datagram seen (server) */
	KM_DTLS_CONNECTED,   /* handshake done, fingerprint and profile checked */
	KM_DTLS_CLOSED,      /* peer sent close_notify, or km_dtls_close() */
	KM_DTLS_FAILED,      /* see km_dtls_error() */
} km_dtls_state_t;

typedef struct km_dtls_cert km_dtls_cert_t;
typedef struct km_dtls km_dtls_t;

/* ---- the per-process certificate ---- */

/* A new ECDSA P-256 key and self-signed certificate (CN=kamer, valid 30
 * days from now) with the SSL_CTX every connection shares. *out is new;
 * free with km_dtls_cert_free(). Returns 0, KM_ENOMEM or KM_ECRYPTO. */
int km_dtls_cert_new(km_dtls_cert_t **out);

/* NULL is fine. Only after every km_dtls_t made from it is freed. */
void km_dtls_cert_free(km_dtls_cert_t *c);

/* SHA-256 fingerprint for SDP (a=fingerprint:sha-256 <this>), uppercase hex
 * pairs joined by ':'. Borrowed, lives as long as the cert. */
const char *km_dtls_cert_fingerprint(const km_dtls_cert_t *c);

/* ---- a connection ---- */

/* Called for each outgoing datagram (p borrowed for the call). Runs inside
 * km_dtls_start/handle/on_timeout/close: it must only send or queue, never
 * call back into the same km_dtls_t. */
typedef void (*km_dtls_send_fn)(void *userdata, const uint8_t *p, size_t len);

/* A new endpoint. cert borrowed (must outlive it). is_server = 1: we are the
 * DTLS server (our SDP says a=setup:passive); 0: client (a=setup:active).
 * peer_fingerprint: the peer's SDP "sha-256" value, hex pairs with ':' in any
 * case (copied). profiles: KM_DTLS_* bits; 0 means KM_DTLS_AES256GCM, which
 * is always included. Returns NULL only on allocation failure or NULL cert;
 * a malformed fingerprint gives an endpoint already FAILED with the reason.
 * Free with km_dtls_free(). */
km_dtls_t *km_dtls_new(const km_dtls_cert_t *cert, int is_server,
		       const char *peer_fingerprint, unsigned profiles);

/* NULL is fine. Sends nothing (call km_dtls_close() first for a clean end). */
void km_dtls_free(km_dtls_t *d);

/* Sets the send callback (userdata borrowed). Set it before start/handle. */
void km_dtls_set_send(km_dtls_t *d, km_dtls_send_fn fn, void *userdata);

/* Client: sends the ClientHello (state HANDSHAKING). Server: only marks the
 * state HANDSHAKING (it waits for the ClientHello). Returns 0 or a negative
 * KM_E* code (state FAILED). */
int km_dtls_start(km_dtls_t *d);

/* Feeds one received datagram p[0..len) (borrowed), which must be DTLS by
 * RFC 7983 (first byte 20..63). A server starts on its first datagram.
 * Returns 0 (check km_dtls_state(): it may now be CONNECTED or CLOSED), or a
 * negative code when the endpoint is (or just became) FAILED:
 * KM_EPERM (fingerprint or SRTP profile refused), KM_ECRYPTO (handshake or
 * alert), KM_EINVAL (a datagram that is not DTLS records: dropped, state
 * unchanged). Datagrams after FAILED or CLOSED are ignored (KM_EINVAL). */
int km_dtls_handle(km_dtls_t *d, const uint8_t *p, size_t len);

/* Milliseconds until km_dtls_on_timeout() must be called (0: now), or -1 if
 * no retransmission timer runs. Retransmission starts at 100 ms, doubles up
 * to 3 s; the handshake fails after 12 retransmissions (about 27 s). */
int km_dtls_timeout_ms(km_dtls_t *d);

/* Retransmits the last flight if the timer expired. Returns 0, or
 * KM_EEXPIRED when the handshake gave up (state FAILED, "handshake timed
 * out"). */
int km_dtls_on_timeout(km_dtls_t *d);

/* Sends close_notify (if connected) and moves to CLOSED. Returns 0. */
int km_dtls_close(km_dtls_t *d);

km_dtls_state_t km_dtls_state(const km_dtls_t *d);

/* Static name of a state ("connected"). */
const char *km_dtls_state_name(km_dtls_state_t s);

/* Human reason for FAILED (borrowed, "" when none). Safe for logs and for
 * the participant's page: no keys, no addresses. */
const char *km_dtls_error(const km_dtls_t *d);

/* The negotiated profile name ("SRTP_AEAD_AES_256_GCM") once CONNECTED,
 * else "none". Static. */
const char *km_dtls_profile(const km_dtls_t *d);

/* RFC 5764 4.2 key export for the negotiated profile. Only when CONNECTED.
 * out is filled (caller wipes it with km_srtp_keys_wipe() after making the
 * sessions). Returns 0, KM_EINVAL (not connected) or KM_ECRYPTO. */
int km_dtls_export_keys(km_dtls_t *d, km_srtp_keys_t *out);

#endif
