/* certs.c — the development CA and server certificate (made on first run,
 * reused, renewed when due) and the check of a production certificate and key.
 * Not TLS context set-up (signaling/ does that). No global state; one thread
 * at a time per folder. OpenSSL 3 API only; every public function leaves the
 * thread's OpenSSL error queue empty so that later TLS calls see no stale
 * errors. */
#include "certs/certs.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_SECS 86400L
#define RENEW_BEFORE_SECS (30 * DAY_SECS) /* renew what expires sooner than this */
#define CA_DAYS 3652                      /* ten years, leap days included */
#define SERVER_DAYS 90
#define BACKDATE_SECS 3600L               /* notBefore = now - 1 h, for clients' clock skew */

static const char *const server_dns = "localhost";
static const char *const server_ips[] = { "127.0.0.1", "::1" };
static const char *const server_san = "DNS:localhost,IP:127.0.0.1,IP:::1";

/* ---- small helpers ---- */

/* The reason of the oldest queued OpenSSL error, or a fallback. */
static const char *ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_error());
	return r ? r : "unknown OpenSSL error";
}

static int asn1_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static void fmt_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

/* Refuses to prompt for a pass phrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Opens path for reading as a BIO (returns new, caller frees). */
static int open_bio(const char *path, const char *what, BIO **out, char *err, size_t errlen)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return km_errf(errno == ENOENT ? KM_ENOTFOUND : KM_EIO, err, errlen,
			       "cannot read %s %s: %s", what, path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return km_errf(KM_EIO, err, errlen, "cannot read %s %s: not a regular file", what, path);
	}
	BIO *b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		fclose(f);
		return km_errf(KM_ENOMEM, err, errlen, "cannot read %s %s: out of memory", what, path);
	}
	*out = b;
	return 0;
}

/* Reads the first PEM certificate of path (returns new, caller frees). */
static int load_cert(const char *path, X509 **out, char *err, size_t errlen)
{
	BIO *b;
	int rc = open_bio(path, "certificate", &b, err, errlen);
	if (rc)
		return rc;
	*out = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!*out)
		return km_errf(KM_EINVAL, err, errlen, "%s: no PEM certificate found (%s)", path,
			       ossl_reason());
	return 0;
}

/* Reads the first PEM private key of path (returns new, caller frees). */
static int load_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	BIO *b;
	int rc = open_bio(path, "private key", &b, err, errlen);
	if (rc)
		return rc;
	*out = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!*out)
		return km_errf(KM_EINVAL, err, errlen,
			       "%s: no unencrypted PEM private key found (%s)", path, ossl_reason());
	return 0;
}

static int key_matches(X509 *x, EVP_PKEY *key)
{
	EVP_PKEY *pub = X509_get0_pubkey(x);
	return pub && EVP_PKEY_eq(pub, key) == 1;
}

/* Checks notBefore <= now < notAfter and that more than min_left seconds
 * remain; *days_left (may be NULL) gets the whole days left. */
static int check_validity(X509 *x, const char *path, time_t now, long min_left, int *days_left,
			  char *err, size_t errlen)
{
	time_t nb, na;
	char when[64];
	if (asn1_to_time(X509_get0_notBefore(x), &nb) != 0 ||
	    asn1_to_time(X509_get0_notAfter(x), &na) != 0)
		return km_errf(KM_EINVAL, err, errlen, "%s: certificate has unreadable validity dates", path);
	long long left = (long long)na - (long long)now;
	if (days_left) {
		long long d = left >= 0 ? left / DAY_SECS : -((-left + DAY_SECS - 1) / DAY_SECS);
		*days_left = d > 1000000 ? 1000000 : d < -1000000 ? -1000000 : (int)d;
	}
	if ((long long)nb > (long long)now) {
		fmt_utc(nb, when, sizeof when);
		return km_errf(KM_EINVAL, err, errlen, "%s: certificate not valid before %s", path, when);
	}
	if (left <= 0) {
		fmt_utc(na, when, sizeof when);
		return km_errf(KM_EEXPIRED, err, errlen, "%s: certificate expired on %s", path, when);
	}
	if (left < min_left) {
		fmt_utc(na, when, sizeof when);
		return km_errf(KM_EEXPIRED, err, errlen, "%s: certificate expires soon, on %s", path, when);
	}
	return 0;
}

/* ---- making keys and certificates ---- */

/* A random positive serial of 128 bits (top bit of the first byte clear so
 * that its DER form stays 16 octets and it is never negative). */
static int set_random_serial(X509 *x)
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40); /* nonzero, positive */
	BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
	OPENSSL_cleanse(raw, sizeof raw);
	if (!bn)
		return -1;
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	int ok = ai && X509_set_serialNumber(x, ai) == 1;
	ASN1_INTEGER_free(ai);
	return ok ? 0 : -1;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A v3 certificate with a random serial, subject CN=cn, the given issuer
 * name (NULL: self-issued), validity [now - 1 h, now + days] and key's public
 * half. Returns new (caller frees) or NULL. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, const X509_NAME *issuer, time_t now, int days)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	if (!x || !name)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0)
		goto fail;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
				       -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? issuer : name) != 1)
		goto fail;
	if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_SECS, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now))
		goto fail;
	if (X509_set_pubkey(x, key) != 1)
		goto fail;
	X509_NAME_free(name);
	return x;
fail:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

/* A self-signed development CA for key (returns new, caller frees). */
static X509 *make_ca(EVP_PKEY *key, time_t now)
{
	unsigned char tag[4];
	char cn[64];
	if (RAND_bytes(tag, sizeof tag) != 1)
		return NULL;
	snprintf(cn, sizeof cn, "kamer development CA %02x%02x%02x%02x", tag[0], tag[1], tag[2], tag[3]);
	X509 *x = new_cert(key, cn, NULL, now, CA_DAYS);
	if (!x)
		return NULL;
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always") != 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A server certificate for key, signed by ca/ca_key (returns new, caller frees). */
static X509 *make_server(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, time_t now)
{
	X509 *x = new_cert(key, server_dns, X509_get_subject_name(ca), now, SERVER_DAYS);
	if (!x)
		return NULL;
	if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth") != 0 ||
	    add_ext(x, ca, NID_subject_alt_name, server_san) != 0 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid") != 0 ||
	    X509_sign(x, ca_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* PEM-encodes obj (a private key if is_key, else a certificate) and writes it
 * to path atomically with mode. */
static int write_pem(const char *path, mode_t mode, int is_key, void *obj, char *err, size_t errlen)
{
	BIO *b = BIO_new(is_key ? BIO_s_secmem() : BIO_s_mem());
	if (!b)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory writing %s", path);
	int ok = is_key ? PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL)
			: PEM_write_bio_X509(b, obj);
	int rc;
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (ok != 1 || n <= 0 || !data)
		rc = km_errf(KM_ECRYPTO, err, errlen, "cannot encode %s: %s", path, ossl_reason());
	else
		rc = km_fs_write_atomic(path, data, (size_t)n, mode, err, errlen);
	BIO_free(b);
	return rc;
}

/* ---- the development pair ---- */

/* Loads the CA and checks that it can go on signing; on success *ca and
 * *ca_key are new (caller frees). On failure why says what is wrong. */
static int load_usable_ca(const km_certs_paths_t *p, time_t now, X509 **ca, EVP_PKEY **ca_key,
			  char *why, size_t whylen)
{
	*ca = NULL;
	*ca_key = NULL;
	int rc = load_cert(p->ca_cert, ca, why, whylen);
	if (rc == 0)
		rc = load_key(p->ca_key, ca_key, why, whylen);
	if (rc == 0 && !key_matches(*ca, *ca_key))
		rc = km_errf(KM_EINVAL, why, whylen, "%s: key does not match certificate", p->ca_key);
	if (rc == 0 && X509_check_ca(*ca) != 1)
		rc = km_errf(KM_EINVAL, why, whylen, "%s: not a CA certificate", p->ca_cert);
	if (rc == 0)
		rc = check_validity(*ca, p->ca_cert, now, RENEW_BEFORE_SECS, NULL, why, whylen);
	if (rc != 0) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	return rc;
}

/* Verifies leaf against ca alone, at `now`, for TLS server use. */
static int verify_leaf(X509 *leaf, X509 *ca, time_t now, const char *path, char *why, size_t whylen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = km_errf(KM_ENOMEM, why, whylen, "out of memory verifying %s", path);
	if (!store || !ctx || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, now);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) == 1)
		rc = 0;
	else
		rc = km_errf(KM_EINVAL, why, whylen, "%s: does not verify against the CA: %s", path,
			     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static int covers_names(X509 *x)
{
	if (X509_check_host(x, server_dns, strlen(server_dns), 0, NULL) != 1)
		return 0;
	for (size_t i = 0; i < sizeof server_ips / sizeof server_ips[0]; i++)
		if (X509_check_ip_asc(x, server_ips[i], 0) != 1)
			return 0;
	return 1;
}

/* 0 when the server pair on disk can be kept; else why says why not. */
static int server_usable(const km_certs_paths_t *p, X509 *ca, time_t now, char *why, size_t whylen)
{
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	int rc = load_cert(p->server_cert, &x, why, whylen);
	if (rc == 0)
		rc = load_key(p->server_key, &key, why, whylen);
	if (rc == 0 && !key_matches(x, key))
		rc = km_errf(KM_EINVAL, why, whylen, "%s: key does not match certificate", p->server_key);
	if (rc == 0)
		rc = check_validity(x, p->server_cert, now, RENEW_BEFORE_SECS, NULL, why, whylen);
	if (rc == 0)
		rc = verify_leaf(x, ca, now, p->server_cert, why, whylen);
	if (rc == 0 && !covers_names(x))
		rc = km_errf(KM_EINVAL, why, whylen, "%s: does not cover localhost, 127.0.0.1 and ::1",
			     p->server_cert);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static EVP_PKEY *new_p256_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* Makes and writes a new CA (key first); *ca and *ca_key are new on success. */
static int remake_ca(const km_certs_paths_t *p, time_t now, X509 **ca, EVP_PKEY **ca_key,
		     char *err, size_t errlen)
{
	*ca_key = new_p256_key();
	*ca = *ca_key ? make_ca(*ca_key, now) : NULL;
	int rc;
	if (!*ca)
		rc = km_errf(KM_ECRYPTO, err, errlen, "cannot make the development CA: %s", ossl_reason());
	else if ((rc = write_pem(p->ca_key, 0600, 1, *ca_key, err, errlen)) == 0)
		rc = write_pem(p->ca_cert, 0600, 0, *ca, err, errlen);
	if (rc != 0) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	return rc;
}

/* Makes and writes a new server key and certificate signed by ca (key first). */
static int remake_server(const km_certs_paths_t *p, X509 *ca, EVP_PKEY *ca_key, time_t now,
			 char *err, size_t errlen)
{
	EVP_PKEY *key = new_p256_key();
	X509 *x = key ? make_server(key, ca, ca_key, now) : NULL;
	int rc;
	if (!x)
		rc = km_errf(KM_ECRYPTO, err, errlen, "cannot make the server certificate: %s",
			     ossl_reason());
	else if ((rc = write_pem(p->server_key, 0600, 1, key, err, errlen)) == 0)
		rc = write_pem(p->server_cert, 0600, 0, x, err, errlen);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int fill_paths(const char *dir, km_certs_paths_t *p)
{
	memset(p, 0, sizeof *p);
	if (km_fs_join(p->ca_cert, sizeof p->ca_cert, dir, "dev-ca.pem") ||
	    km_fs_join(p->ca_key, sizeof p->ca_key, dir, "dev-ca.key") ||
	    km_fs_join(p->server_cert, sizeof p->server_cert, dir, "server.pem") ||
	    km_fs_join(p->server_key, sizeof p->server_key, dir, "server.key"))
		return KM_ETOOBIG;
	return 0;
}

int km_certs_ensure_dev(const char *dir, time_t now, km_certs_paths_t *out, int *renewed,
			char *err, size_t errlen)
{
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char why[512], q[600];
	int made = 0, rc;
	if (renewed)
		*renewed = 0;
	if (!dir || !*dir || !out)
		return km_errf(KM_EINVAL, err, errlen, "no certificate folder given");
	if (fill_paths(dir, out) != 0)
		return km_errf(KM_ETOOBIG, err, errlen, "certificate folder path too long: %s", dir);
	if ((rc = km_fs_mkdirs(dir, 0700, err, errlen)) != 0)
		goto out;
	if (load_usable_ca(out, now, &ca, &ca_key, why, sizeof why) != 0) {
		if (access(out->ca_cert, F_OK) == 0 || access(out->ca_key, F_OK) == 0)
			km_warn("certs", "dev_ca_remade", "reason=%s", km_log_quote(q, sizeof q, why));
		ERR_clear_error();
		if ((rc = remake_ca(out, now, &ca, &ca_key, err, errlen)) != 0)
			goto out;
		km_info("certs", "dev_ca_created", "path=%s", km_log_quote(q, sizeof q, out->ca_cert));
		made = 1;
	}
	if (made || server_usable(out, ca, now, why, sizeof why) != 0) {
		if (!made)
			km_info("certs", "dev_server_cert_renewed", "reason=%s",
				km_log_quote(q, sizeof q, why));
		ERR_clear_error();
		if ((rc = remake_server(out, ca, ca_key, now, err, errlen)) != 0)
			goto out;
		km_info("certs", "dev_server_cert_created", "path=%s days=%d",
			km_log_quote(q, sizeof q, out->server_cert), SERVER_DAYS);
		made = 1;
	}
	if (renewed)
		*renewed = made;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	ERR_clear_error();
	return rc;
}

/* ---- production pair ---- */

int km_certs_check_pair(const char *cert_path, const char *key_path, time_t now, int *days_left,
			char *err, size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	int rc;
	if (!cert_path || !*cert_path || !key_path || !*key_path)
		return km_errf(KM_EINVAL, err, errlen, "tls_cert and tls_key must both be set");
	if ((rc = load_cert(cert_path, &x, err, errlen)) != 0)
		goto out;
	rc = load_key(key_path, &key, err, errlen);
	if (rc == 0 && !key_matches(x, key))
		rc = km_errf(KM_EINVAL, err, errlen, "%s: key does not match certificate %s", key_path,
			     cert_path);
	/* Runs even after a failure so that *days_left is filled; reports only if first. */
	int vrc = check_validity(x, cert_path, now, 0, days_left, rc ? NULL : err, errlen);
	if (rc == 0)
		rc = vrc;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
