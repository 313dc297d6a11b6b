/* secretbox.h — AES-256-GCM sealing of small secrets at rest (TOTP secrets,
 * per-room chat keys, chat rows) under a 32-byte key, and the server key file
 * that key comes from. Not a transport cipher and not for large files.
 *
 * Sealed format (version 1), KM_SECRETBOX_OVERHEAD = 29 bytes over the
 * plaintext:
 *
 *   0x01 | nonce (12 random bytes) | ciphertext (ptlen bytes) | tag (16 bytes)
 *
 * The GCM additional data is the version byte followed by the caller's AAD,
 * so the version is authenticated too. Callers should bind a sealed value to
 * where it lives through the AAD (e.g. "totp:<account id>"), so that a
 * value copied to another row does not open.
 *
 * Random 96-bit nonces: keep one key below 2^32 seals (NIST SP 800-38D).
 *
 * Threading: no state; safe from any thread. */
#ifndef KM_SECRETBOX_H
#define KM_SECRETBOX_H

#include <stddef.h>
#include <stdint.h>

#define KM_SECRETBOX_KEY_LEN 32
#define KM_SECRETBOX_VERSION 1
#define KM_SECRETBOX_NONCE_LEN 12
#define KM_SECRETBOX_TAG_LEN 16
#define KM_SECRETBOX_OVERHEAD (1 + KM_SECRETBOX_NONCE_LEN + KM_SECRETBOX_TAG_LEN)
#define KM_SECRETBOX_MAX_PT (16u * 1024 * 1024) /* larger input: KM_ETOOBIG */

/* Seals pt (ptlen bytes) under key with aad (may be NULL when aadlen is 0)
 * into out (cap bytes; needs ptlen + KM_SECRETBOX_OVERHEAD). Borrows all
 * inputs. Returns 0 and *outlen; KM_ETOOBIG if cap is too small or ptlen or
 * aadlen is over KM_SECRETBOX_MAX_PT; KM_EINVAL on NULL arguments;
 * KM_ECRYPTO if OpenSSL or the random generator fails. */
int km_secretbox_seal(const uint8_t key[KM_SECRETBOX_KEY_LEN], const uint8_t *aad, size_t aadlen,
		      const uint8_t *pt, size_t ptlen, uint8_t *out, size_t cap, size_t *outlen);

/* Opens a sealed value: in (inlen bytes) under key and aad into out (cap
 * bytes; needs inlen - KM_SECRETBOX_OVERHEAD). Returns 0 and *outlen;
 * KM_ECRYPTO if the input is truncated, of another version, tampered with
 * (any bit), or sealed under another key or AAD — out then holds no
 * plaintext; KM_ETOOBIG if cap is too small; KM_EINVAL on NULL arguments. */
int km_secretbox_open(const uint8_t key[KM_SECRETBOX_KEY_LEN], const uint8_t *aad, size_t aadlen,
		      const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);

/* Loads the 32-byte server key from path into key. If path does not exist,
 * makes a new random key and writes it with mode 0600 (atomically and
 * durably through core/fs.h; if another process creates it at the same time,
 * both end up with the same key). The folder must exist. Refuses, with a
 * reason in err and key zeroed: a file that is not a regular file
 * (KM_EINVAL), has any group or other permission bit set (KM_EPERM), or is
 * not exactly 32 bytes long (KM_EINVAL); KM_EIO when it cannot be read or
 * written. Symlinks are followed; the target is checked. */
int km_secretbox_key_load_or_create(const char *path, uint8_t key[KM_SECRETBOX_KEY_LEN],
				    char *err, size_t errlen);

#endif
