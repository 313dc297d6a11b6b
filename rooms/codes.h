/* codes.h — random secrets handed to people: invitation tokens, session ids,
 * set-up links and recovery codes, and the SHA-256 under which the store keeps
 * them (the store never holds the secret itself). Not password hashing (see
 * password.h) and not encryption (see secretbox.h).
 *
 * Threading: no state; every function is safe from any thread (OpenSSL's
 * RAND_bytes is thread-safe). */
#ifndef KM_CODES_H
#define KM_CODES_H

#include <stddef.h>

#define KM_CODES_TOKEN_LEN 43      /* chars of a token, without the NUL */
#define KM_CODES_RECOVERY_COUNT 10 /* codes per set */
#define KM_CODES_RECOVERY_SIZE 16  /* buffer per code, with the NUL */
#define KM_CODES_RECOVERY_CHARS 12 /* alphabet characters per code */

/* Writes 256 random bits as base64url without padding (RFC 4648 §5):
 * exactly 43 chars of [A-Za-z0-9_-] and a NUL into out (len >= 44).
 * Returns 0, KM_ETOOBIG if out is too small, KM_ECRYPTO if the random
 * generator fails (out is then the empty string). */
int km_codes_token(char *out, size_t len);

/* SHA-256 of the bytes of s (without its NUL) as 64 lowercase hex digits and
 * a NUL. Borrows s. Returns 0 or KM_ECRYPTO. */
int km_codes_sha256_hex(const char *s, char out[65]);

/* Fills out with ten distinct recovery codes, like "k7m2-9xq4-hp3w": three
 * groups of four characters from the 31-character alphabet
 * "23456789abcdefghjkmnpqrstuvwxyz" (no 0/o, 1/l/i look-alikes), drawn
 * without modulo bias: 12 * log2(31) = 59.4 bits each. Returns 0 or
 * KM_ECRYPTO (out is then all empty strings). Store only
 * km_codes_sha256_hex() of the normalized code. */
int km_codes_recovery(char out[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE]);

/* Normalizes what a person typed into the form that is hashed: ASCII letters
 * lowercased, spaces, tabs and dashes removed ("K7M2 9XQ4-HP3W" ->
 * "k7m29xq4hp3w"). Returns 0; KM_EINVAL if in holds any other character
 * than ASCII letters, digits, spaces, tabs and dashes; KM_ETOOBIG if the
 * result does not fit in out (len bytes with the NUL). On error out is "". */
int km_codes_recovery_normalize(const char *in, char *out, size_t len);

#endif
