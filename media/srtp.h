/* srtp.h — SRTP/SRTCP sessions for kamer's SFU: a thin layer over libsrtp2
 * with the only profiles kamer negotiates, AEAD_AES_256_GCM and (when the
 * org allows it) AEAD_AES_128_GCM (RFC 7714), keyed from a DTLS-SRTP export
 * (RFC 5764, see media/dtls.h).
 * It is not the DTLS handshake and does no I/O and no logging.
 *
 * Threads: km_srtp_init() once per process, before any worker starts. A
 * session belongs to the one worker thread that owns its connection; it is
 * never shared (libsrtp2 keeps replay windows and rollover counters in it).
 * The packet functions work in place and allocate nothing, except that
 * libsrtp2 clones its per-SSRC stream state the first time it sees an SSRC
 * (once per track, not per packet). */
#ifndef KM_SRTP_H
#define KM_SRTP_H

#include <stddef.h>
#include <stdint.h>

/* Codes of the packet functions (distinct from core/err.h's KM_E*). Setup
 * functions return core/err.h codes. */
enum {
	KM_SRTP_EINVAL = -100,  /* bad argument or a malformed (S)RTP(C) header */
	KM_SRTP_EAUTH = -101,   /* authentication tag did not verify */
	KM_SRTP_EREPLAY = -102, /* replayed or too old for the replay window */
	KM_SRTP_ETOOBIG = -103, /* protect: cap < len + overhead, or len too large */
	KM_SRTP_EFAIL = -104,   /* any other libsrtp2 failure */
};

/* Bytes protect adds (GCM tag 16; SRTCP also its 4-byte E|index word).
 * Give protect buffers at least len + this of capacity. */
#define KM_SRTP_RTP_OVERHEAD 16
#define KM_SRTP_RTCP_OVERHEAD 20

typedef enum {
	KM_SRTP_AES256GCM = 1, /* SRTP_AEAD_AES_256_GCM, id 0x0008 */
	KM_SRTP_AES128GCM = 2, /* SRTP_AEAD_AES_128_GCM, id 0x0007 */
} km_srtp_profile_t;

#define KM_SRTP_MAX_KEY 32
#define KM_SRTP_SALT 12

/* Keys exported by DTLS-SRTP (RFC 5764 4.2). Secret: wipe with
 * km_srtp_keys_wipe() once the sessions are made. */
typedef struct {
	km_srtp_profile_t profile;
	size_t key_len;                      /* 32 (AES-256) or 16 (AES-128) */
	size_t salt_len;                     /* 12 */
	uint8_t client_key[KM_SRTP_MAX_KEY]; /* client_write_SRTP_master_key */
	uint8_t server_key[KM_SRTP_MAX_KEY];
	uint8_t client_salt[KM_SRTP_SALT];
	uint8_t server_salt[KM_SRTP_SALT];
	int local_is_client;                 /* 1: we were the DTLS client */
} km_srtp_keys_t;

typedef struct km_srtp km_srtp_t;

/* srtp_init(), then AES-GCM on OpenSSL in place of libsrtp2's own (NSS,
 * which makes a context per packet; see media/srtp_gcm.c; installed once
 * per process). Call before any session is made; calling it again is
 * harmless. Returns 0 or KM_ECRYPTO. */
int km_srtp_init(void);

/* Which AES-GCM libsrtp2 uses after km_srtp_init(): "OpenSSL", or
 * "libsrtp2 (NSS)" if libsrtp2 refused the replacement; "none" before. */
const char *km_srtp_backend(void);

/* A new session from keys (borrowed; may be wiped afterwards). inbound = 1:
 * unprotects what the peer sends, keyed with the peer's write key (server key
 * if we were the client); inbound = 0: protects what we send, keyed with our
 * own write key. Any SSRC, replay window 1024, retransmissions with the same
 * sequence number allowed on send. *out is new; caller frees with
 * km_srtp_free(). Returns 0, KM_EINVAL or KM_ECRYPTO. */
int km_srtp_session_new(const km_srtp_keys_t *keys, int inbound, km_srtp_t **out);

/* Frees a session (NULL is fine). */
void km_srtp_free(km_srtp_t *s);

/* In place: buf[0..*len) is RTP in, SRTP out (*len grows by
 * KM_SRTP_RTP_OVERHEAD); cap is the size of buf. On error buf may be
 * changed and *len is unchanged. Returns 0 or KM_SRTP_E*. */
int km_srtp_protect(km_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);

/* In place: buf[0..*len) is SRTP in, RTP out (*len shrinks). A packet that
 * fails (EAUTH, EREPLAY) must be dropped; *len is unchanged then. */
int km_srtp_unprotect(km_srtp_t *s, uint8_t *buf, size_t *len);

/* The same for RTCP compound packets (SRTCP, always encrypted). */
int km_srtp_protect_rtcp(km_srtp_t *s, uint8_t *buf, size_t *len, size_t cap);
int km_srtp_unprotect_rtcp(km_srtp_t *s, uint8_t *buf, size_t *len);

/* Static English text for a KM_SRTP_E* code. */
const char *km_srtp_strerror(int code);

/* Static profile name as in use_srtp ("SRTP_AEAD_AES_256_GCM"), or "none". */
const char *km_srtp_profile_name(km_srtp_profile_t p);

/* Overwrites the key material (not optimised away). */
void km_srtp_keys_wipe(km_srtp_keys_t *k);

#endif
