/* password.h — password hashing (scrypt through OpenSSL's EVP_KDF) and the
 * password policy (length, UTF-8, control characters, the email's local
 * part, libcrack2's dictionary and simplicity checks). Not session or TOTP
 * handling, and not the per-organisation settings themselves (the caller
 * passes min_len).
 *
 * Stored format (one ASCII string, at most KM_PASSWORD_HASH_MAX - 1 chars):
 *
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>
 *   e.g. $scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$<44 chars>
 *
 * salt and hash are standard base64 (RFC 4648 §4) with '=' padding. Defaults:
 * N = 2^15, r = 8, p = 1 (32 MiB of memory), 16-byte random salt, 32-byte
 * hash. Accepted when verifying: ln 1..20, r 1..32, p 1..16, 128*r*N at most
 * 256 MiB and p*128*r*N at most 1 GiB, salt 8..64 bytes, hash 32..64 bytes
 * (a shorter one would let a truncated hash verify), base64 in its canonical
 * spelling (unused bits zero), numbers in plain decimal without leading
 * zeros; anything else is malformed.
 *
 * Cost measured on the development machine (2 vCPUs, OpenSSL 3.0.19, idle):
 * one hash or verify at the defaults takes about 150-160 ms, a third of it
 * in the kernel faulting in the 32 MiB (Python's hashlib.scrypt, also
 * OpenSSL, measures the same). The "timing" test in
 * tests/unit/rooms/password_test.c prints it; it asserts nothing.
 *
 * Threading: hashing has no state and is safe from any thread; the policy
 * check serialises its libcrack2 call behind a mutex (libcrack2 is not
 * documented as thread-safe). A hash or verify blocks for tens of ms: callers
 * on an event loop should budget for it and rate-limit sign-in attempts. */
#ifndef KM_PASSWORD_H
#define KM_PASSWORD_H

#include <stddef.h>

#define KM_PASSWORD_HASH_MAX 192    /* buffer for a stored hash, with the NUL */
#define KM_PASSWORD_MAX_BYTES 256   /* longest password the policy allows */
#define KM_PASSWORD_MIN_FLOOR 8     /* min_len below this is raised to it */
#define KM_PASSWORD_INPUT_MAX 1024  /* longest input hash/verify will process */

#define KM_PASSWORD_DEFAULT_LN 15
#define KM_PASSWORD_DEFAULT_R 8
#define KM_PASSWORD_DEFAULT_P 1

/* Hashes password (NUL-terminated UTF-8, borrowed) with the default
 * parameters and a fresh random salt into out (outlen bytes; use
 * KM_PASSWORD_HASH_MAX). Returns 0; KM_ETOOBIG if out is too small or the
 * password is over KM_PASSWORD_INPUT_MAX bytes; KM_EINVAL for NULL;
 * KM_ECRYPTO if OpenSSL fails. */
int km_password_hash(const char *password, char *out, size_t outlen);

/* As km_password_hash with explicit parameters (within the limits above).
 * Meant for tests (to make a "weak" hash) and for raising the cost later. */
int km_password_hash_params(const char *password, unsigned ln, unsigned r, unsigned p,
			    char *out, size_t outlen);

/* Checks password against a stored string made by km_password_hash. The
 * hash is compared in constant time (CRYPTO_memcmp). Returns 0 when it
 * matches; KM_EPERM when it does not (also for a password over
 * KM_PASSWORD_INPUT_MAX bytes, without hashing it); KM_EINVAL when stored is
 * NULL or malformed (never crashes, whatever the string); KM_ECRYPTO if
 * OpenSSL fails. *needs_rehash (may be NULL) is set to 1 when the password
 * matched and the stored parameters, salt or hash length are below the
 * current defaults (the caller should then store km_password_hash() of the
 * password), else 0. */
int km_password_verify(const char *password, const char *stored, int *needs_rehash);

/* Stable reason codes of km_password_policy_check (the UI translates them). */
#define KM_PW_TOO_SHORT "too_short"          /* fewer than min_len code points */
#define KM_PW_TOO_LONG "too_long"            /* over KM_PASSWORD_MAX_BYTES bytes */
#define KM_PW_INVALID_UTF8 "invalid_utf8"    /* not well-formed UTF-8 */
#define KM_PW_CONTROL_CHARS "control_chars"  /* U+0000-001F, U+007F-009F */
#define KM_PW_CONTAINS_EMAIL "contains_email" /* holds the email's local part */
#define KM_PW_DICTIONARY "dictionary"        /* libcrack2 refused it */
#define KM_PW_DICT_UNAVAILABLE "dictionary_unavailable" /* server fault */

/* Checks a new password against the policy. email (may be NULL) is the
 * account's address: the password may not contain its local part (the part
 * before the last '@', compared ASCII-case-insensitively) when that part is
 * at least 3 characters long. min_len counts UTF-8 code points and is raised
 * to KM_PASSWORD_MIN_FLOOR. Checks run in this order: too_long,
 * invalid_utf8, control_chars, too_short, contains_email, dictionary.
 * Returns 0 when acceptable, or KM_EINVAL with the first failing reason code
 * in reason_code (len bytes; "" on success). If libcrack2's dictionary is
 * missing it returns KM_EIO with "dictionary_unavailable" (fails closed):
 * treat any non-zero result as a refusal. Borrows all inputs. */
int km_password_policy_check(const char *password, const char *email, int min_len,
			     char *reason_code, size_t len);

/* As km_password_policy_check, and also copies libcrack2's English message
 * (e.g. "it is based on a dictionary word") into debug (may be NULL) when the
 * reason is "dictionary". That message describes the password: show it to
 * its owner at most, never log it. */
int km_password_policy_check_debug(const char *password, const char *email, int min_len,
				   char *reason_code, size_t len, char *debug, size_t debuglen);

#endif
