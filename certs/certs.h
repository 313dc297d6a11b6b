/* certs.h — how kamer's TLS certificates are made and checked: a development
 * CA and server certificate made on first run (and renewed when due), and the
 * start-up check of a production certificate and key named in the config.
 * It does not set up TLS contexts (signaling/ does) and keeps no state.
 * Threading: no globals; call from one thread at a time for a given folder
 * (it is meant for the start-up path). Uses OpenSSL 3. */
#ifndef KM_CERTS_H
#define KM_CERTS_H

#include <stddef.h>
#include <time.h>

/* Paths of the development certificates inside a certs folder. */
typedef struct km_certs_paths {
	char ca_cert[4096];     /* <dir>/dev-ca.pem : development CA certificate (give this to a browser) */
	char ca_key[4096];      /* <dir>/dev-ca.key : its private key, 0600 */
	char server_cert[4096]; /* <dir>/server.pem : server certificate, the leaf only (the CA is the
				 * client's trust anchor, so it is not sent) */
	char server_key[4096];  /* <dir>/server.key : its private key, 0600 */
} km_certs_paths_t;

/* Makes sure a development CA and a server certificate exist in dir (borrowed;
 * created 0700 with its parents if missing), judged at time `now` (pass
 * time(NULL); tests pass other times).
 *
 * First call: makes an EC P-256 CA (10 years, CA:TRUE, keyCertSign, subject
 * CN "kamer development CA <8 random hex>") and an EC P-256 server certificate
 * signed by it (90 days, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth,
 * random 128-bit serial, CA:FALSE). Both notBefore are `now` minus one hour
 * (client clock skew). Keys (PKCS#8 PEM, unencrypted) and certificates 0600,
 * each written atomically, key before certificate, so that an interrupted
 * write leaves a mismatch that the next call repairs.
 *
 * Next calls reuse the files byte for byte, except that the server key and
 * certificate are remade (same CA) when the certificate is unreadable, not
 * valid at `now`, expires within 30 days, does not verify against the CA for
 * serverAuth, does not cover the three names above, or does not match its
 * key; and both CA and server are remade when the CA certificate or key is
 * missing or unreadable, the key does not match, it is not a CA, or it is not
 * valid at `now` or expires within 30 days.
 *
 * *renewed (may be NULL) is set to 1 if anything was (re)made, else 0. *out
 * (caller's) gets the four paths. Returns 0, or a negative KM_E* code with a
 * reason in err (KM_ETOOBIG: dir too long; KM_EIO: folder or file write
 * failed; KM_ECRYPTO: key generation or signing failed). */
int km_certs_ensure_dev(const char *dir, time_t now, km_certs_paths_t *out, int *renewed,
			char *err, size_t errlen);

/* Checks a production certificate and key (paths borrowed, from the config):
 * both readable regular files, PEM (cert_path may hold a chain: the first
 * certificate is the leaf; an encrypted key is refused), the key matches the
 * certificate's public key, and the certificate is valid at `now`
 * (notBefore <= now < notAfter).
 *
 * *days_left (may be NULL) gets the whole days from now until notAfter
 * (rounded down, negative once expired) whenever the certificate could be
 * read, even if a later check fails.
 *
 * Returns 0, or: KM_ENOTFOUND (a file is missing), KM_EIO (unreadable),
 * KM_EINVAL (not PEM, or "key does not match certificate", or not yet
 * valid), KM_EEXPIRED ("certificate expired on 2026-01-01 12:00:00 UTC");
 * the reason in err always names the file. */
int km_certs_check_pair(const char *cert_path, const char *key_path, time_t now, int *days_left,
			char *err, size_t errlen);

#endif
