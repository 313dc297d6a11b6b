/* totp.h — time-based one-time passwords (RFC 6238 over RFC 4226: HMAC-SHA-1,
 * 30-second steps, 6 digits), the base32 (RFC 4648) form of their secrets,
 * the otpauth:// URI authenticator apps read, and that URI as a QR code in
 * SVG. Not the storage of secrets (seal them with secretbox.h) and not rate
 * limiting of attempts (the caller's job: at ±1 step skew a guess hits with
 * probability 3/10^6, so limit tries per account).
 *
 * Threading: no state; safe from any thread (Debian's libqrencode is built
 * with pthread support). */
#ifndef KM_TOTP_H
#define KM_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KM_TOTP_SECRET_LEN 20  /* bytes of a generated secret (160 bits) */
#define KM_TOTP_STEP 30        /* seconds per step */
#define KM_TOTP_DIGITS 6
#define KM_TOTP_URI_MAX 1024   /* longest URI km_totp_qr_svg accepts */

/* The RFC 4226 code for counter (a step number), 0..999999, or a negative
 * KM_E* code (KM_EINVAL for an empty or over-long (> 1024 bytes) secret,
 * KM_ECRYPTO if OpenSSL fails). Borrows secret. */
int km_totp_code(const uint8_t *secret, size_t len, uint64_t counter);

/* Fills out with 20 random bytes. Returns 0 or KM_ECRYPTO. */
int km_totp_generate_secret(uint8_t out[KM_TOTP_SECRET_LEN]);

/* Base32 (RFC 4648 §6, alphabet A-Z2-7) of p into out (outlen bytes with the
 * NUL; needs (len * 8 + 4) / 5 + 1), uppercase, without '=' padding.
 * Returns 0 or KM_ETOOBIG. */
int km_base32_encode(const uint8_t *p, size_t len, char *out, size_t outlen);

/* Decodes base32 s into out (cap bytes). Tolerates lowercase, spaces and
 * tabs anywhere, and '=' padding at the end; refuses (KM_EINVAL) any other
 * character, '=' before the end, a length no encoder makes (1, 3 or 6 chars
 * in the last group) and non-zero unused trailing bits. Returns 0 and
 * *outlen, KM_EINVAL, or KM_ETOOBIG if out is too small. */
int km_base32_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen);

/* Checks a 6-digit code typed at time now against steps now-1, now and now+1
 * (one step of clock skew either way), considering only steps greater than
 * last_used_step (pass -1 when no code was ever used), so that no code, nor
 * an older one, is accepted twice. Digits are compared in constant time and
 * all three candidate codes are computed whatever matches. Returns 0 and
 * *matched_step (store it as the new last_used_step) or KM_EPERM: wrong
 * code, replay, or code not exactly 6 ASCII digits. KM_EINVAL for a bad
 * secret or a negative now. Borrows all inputs. */
int km_totp_verify(const uint8_t *secret, size_t len, const char *code, time_t now,
		   int64_t last_used_step, int64_t *matched_step);

/* Writes the provisioning URI
 *   otpauth://totp/<issuer>:<label>?secret=<b32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30
 * with issuer and label percent-encoded (everything but A-Za-z0-9-._~), into
 * out (len bytes with the NUL). issuer and label must be non-empty; secret_b32
 * must be non-empty, uppercase A-Z2-7 without padding. Returns 0, KM_EINVAL
 * or KM_ETOOBIG. */
int km_totp_uri(const char *issuer, const char *account_label, const char *secret_b32,
		char *out, size_t len);

/* Renders uri (at most KM_TOTP_URI_MAX bytes) as a QR code (libqrencode, EC
 * level M) in a self-contained SVG: a white background rect, one black
 * <path> of the dark modules, a quiet zone of 4 modules, a viewBox in module
 * units (scale it with CSS), no script, no external reference. The same URI
 * always gives the same bytes. *svg_out is returns-new, caller frees (free()).
 * Returns 0, KM_EINVAL, KM_ETOOBIG or KM_ENOMEM. */
int km_totp_qr_svg(const char *uri, char **svg_out);

#endif
