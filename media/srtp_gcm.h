/* srtp_gcm.h — AES-GCM for libsrtp2 on OpenSSL's EVP (media/srtp_gcm.c),
 * in place of Debian's libsrtp2's NSS one. Internal to media/srtp.c. */
#ifndef KM_SRTP_GCM_H
#define KM_SRTP_GCM_H

/* Replaces libsrtp2's AES-128-GCM and AES-256-GCM cipher types; libsrtp2
 * first runs its known-answer vectors against them. Call after srtp_init(),
 * before any session exists. Returns 0, or -1 when a type was refused
 * (then both ids keep libsrtp2's own ciphers). */
int km_srtp_gcm_install(void);

/* The installed type for 128- or 256-bit keys (for tests that compare it
 * with libsrtp2's own), or NULL before km_srtp_gcm_install() succeeded. */
struct srtp_cipher_type_t;
const struct srtp_cipher_type_t *km_srtp_gcm_type(int key_bits);

#endif
