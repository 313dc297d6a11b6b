/* dtls.c — DTLS 1.2 endpoint for DTLS-SRTP (RFC 5764) over OpenSSL 3 with
 * no I/O of its own: datagrams come in through km_dtls_handle() (a memory
 * BIO) and go out through a BIO whose write calls the owner's send callback.
 * Threads: see media/dtls.h (the cert and its SSL_CTX are shared read-only;
 * an endpoint belongs to one worker thread). */
#include "media/dtls.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/err.h"
#include "media/demux.h"

#define FP_BYTES 32
#define USE_SRTP_EXT 14        /* TLS extension type of use_srtp */
#define ID_AES128GCM 0x0007    /* RFC 7714 14.2 */
#define ID_AES256GCM 0x0008
#define TIMER_FIRST_US 100000u /* first retransmission after 100 ms */
#define TIMER_MAX_US 3000000u  /* doubling up to 3 s */

/* ECDHE with AEAD only. Our own certificate is ECDSA; the RSA suites are
 * there for a peer (when we are the client) whose certificate is RSA. */
static const char ciphers[] =
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305";

static const char msg_fingerprint[] = "peer certificate fingerprint does not match the SDP";
static const char msg_profile256[] =
	"peer offers no SRTP profile kamer accepts (AES-256-GCM required)";
static const char msg_profile_any[] =
	"peer offers no SRTP profile kamer accepts (AES-256-GCM or AES-128-GCM required)";

struct km_dtls_cert {
	EVP_PKEY *key;
	X509 *x509;
	SSL_CTX *ctx;
	BIO_METHOD *send_meth;
	char fp[KM_DTLS_FP_LEN];
};

struct km_dtls {
	SSL *ssl;
	BIO *rbio;
	int is_server;
	unsigned profiles;
	km_dtls_state_t state;
	uint8_t peer_fp[FP_BYTES];
	km_dtls_send_fn send;
	void *send_ud;
	int err_code;
	char err[192];
};

/* ---- helpers ---- */

static void reason(km_dtls_t *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the first reason only: the most specific one comes first (a
 * callback inside OpenSSL), the generic one after the call returns. */
static void reason(km_dtls_t *d, int code, const char *fmt, ...)
{
	if (d->err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof d->err, fmt, ap);
	va_end(ap);
	d->err_code = code;
}

static int fail(km_dtls_t *d, int code, const char *why)
{
	reason(d, code, "%s", why);
	d->state = KM_DTLS_FAILED;
	return d->err_code;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "AB:cd:..." (exactly 32 pairs) -> out. Returns 0 or -1. */
static int parse_fp(const char *s, uint8_t out[FP_BYTES])
{
	if (!s || strlen(s) != FP_BYTES * 3 - 1)
		return -1;
	for (size_t i = 0; i < FP_BYTES; i++) {
		const char *q = s + i * 3;
		int hi = hexval(q[0]), lo = hexval(q[1]);
		if (hi < 0 || lo < 0 || (i + 1 < FP_BYTES && q[2] != ':'))
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int cert_digest(X509 *x, uint8_t out[FP_BYTES])
{
	unsigned n = 0;
	if (!x || X509_digest(x, EVP_sha256(), out, &n) != 1 || n != FP_BYTES)
		return -1;
	return 0;
}

/* Does the peer certificate match the SDP fingerprint? Constant time. */
static bool fp_matches(const km_dtls_t *d, X509 *x)
{
	uint8_t md[FP_BYTES];
	return cert_digest(x, md) == 0 && CRYPTO_memcmp(md, d->peer_fp, FP_BYTES) == 0;
}

static bool profile_allowed(const km_dtls_t *d, unsigned long id)
{
	return id == ID_AES256GCM || (id == ID_AES128GCM && (d->profiles & KM_DTLS_AES128GCM));
}

static const char *profile_msg(const km_dtls_t *d)
{
	return (d->profiles & KM_DTLS_AES128GCM) ? msg_profile_any : msg_profile256;
}

/* ---- OpenSSL callbacks (shared SSL_CTX; the endpoint is the app data) ---- */

static km_dtls_t *from_store(X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	return ssl ? SSL_get_app_data(ssl) : NULL;
}

/* The peer's certificate is self-signed: no chain is trusted, the SDP
 * fingerprint is. Only the leaf (depth 0) decides. A client also refuses here
 * a ServerHello without an acceptable use_srtp (parsed before Certificate). */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	km_dtls_t *d = from_store(x);
	if (!d)
		return 0;
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	if (!fp_matches(d, X509_STORE_CTX_get_current_cert(x))) {
		reason(d, KM_EPERM, "%s", msg_fingerprint);
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (!d->is_server) {
		SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
		SRTP_PROTECTION_PROFILE *pp = SSL_get_selected_srtp_profile(ssl);
		if (!pp || !profile_allowed(d, pp->id)) {
			reason(d, KM_EPERM, "%s", profile_msg(d));
			X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
			return 0;
		}
	}
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

/* use_srtp extension body (RFC 5764 4.1.1): u16 list length, u16 profile
 * ids, u8 MKI length, MKI. Returns 1 if a profile we accept is offered, 0 if
 * none, -1 if malformed. */
static int srtp_ext_acceptable(const km_dtls_t *d, const uint8_t *p, size_t n)
{
	if (n < 2)
		return -1;
	size_t l = (size_t)p[0] << 8 | p[1];
	if (l < 2 || l % 2 || l > n - 2 || n - 2 - l < 1)
		return -1;
	size_t mki = p[2 + l];
	if (n - 3 - l != mki)
		return -1;
	int found = 0;
	for (size_t i = 0; i < l; i += 2) {
		unsigned long id = (unsigned long)p[2 + i] << 8 | p[3 + i];
		if (profile_allowed(d, id))
			found = 1;
	}
	return found;
}

/* Server side: refuse at the ClientHello a peer without an acceptable
 * profile, so that it gets a handshake_failure alert at once. */
static int hello_cb(SSL *ssl, int *al, void *arg)
{
	km_dtls_t *d = SSL_get_app_data(ssl);
	const unsigned char *p = NULL;
	size_t n = 0;
	if (!d)
		return SSL_CLIENT_HELLO_ERROR;
	int ok = SSL_client_hello_get0_ext(ssl, USE_SRTP_EXT, &p, &n)
		? srtp_ext_acceptable(d, p, n) : 0;
	if (ok == 1)
		return SSL_CLIENT_HELLO_SUCCESS;
	if (ok < 0) {
		reason(d, KM_EPERM, "peer's use_srtp extension is malformed");
		*al = SSL_AD_DECODE_ERROR;
	} else {
		reason(d, KM_EPERM, "%s", profile_msg(d));
		*al = SSL_AD_HANDSHAKE_FAILURE;
	}
	return SSL_CLIENT_HELLO_ERROR;
}

/* Names alerts the peer sends, for a clearer reason than OpenSSL's. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	km_dtls_t *d = SSL_get_app_data(ssl);
	if (!d || !(where & SSL_CB_READ_ALERT))
		return;
	if ((ret >> 8) == SSL3_AL_FATAL)
		reason(d, KM_ECRYPTO, "peer refused the DTLS handshake: %s",
		       SSL_alert_desc_string_long(ret));
}

static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
	if (prev_us == 0)
		return TIMER_FIRST_US;
	return prev_us >= TIMER_MAX_US / 2 ? TIMER_MAX_US : prev_us * 2;
}

/* ---- the send BIO: every write is one datagram to the callback ---- */

static int bio_write(BIO *b, const char *buf, int len)
{
	km_dtls_t *d = BIO_get_data(b);
	if (len <= 0)
		return 0;
	if (d && d->send)
		d->send(d->send_ud, (const uint8_t *)buf, (size_t)len);
	return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* ---- the certificate ---- */

static X509 *make_x509(EVP_PKEY *key)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	uint8_t serial[16];
	if (!x || RAND_bytes(serial, sizeof serial) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto fail;
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400L) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400L) ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kamer",
				       -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

static SSL_CTX *make_ctx(X509 *x, EVP_PKEY *key)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 || SSL_CTX_set_cipher_list(ctx, ciphers) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
	SSL_CTX_set_info_callback(ctx, info_cb);
	return ctx;
}

static void format_fp(const uint8_t md[FP_BYTES], char out[KM_DTLS_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < FP_BYTES; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 15];
		out[i * 3 + 2] = i + 1 < FP_BYTES ? ':' : '\0';
	}
}

int km_dtls_cert_new(km_dtls_cert_t **out)
{
	if (!out)
		return KM_EINVAL;
	*out = NULL;
	km_dtls_cert_t *c = calloc(1, sizeof *c);
	if (!c)
		return KM_ENOMEM;
	uint8_t md[FP_BYTES];
	c->key = EVP_EC_gen("P-256");
	if (!c->key || !(c->x509 = make_x509(c->key)) || cert_digest(c->x509, md) != 0 ||
	    !(c->ctx = make_ctx(c->x509, c->key)))
		goto fail;
	format_fp(md, c->fp);
	int idx = BIO_get_new_index();
	if (idx < 0 || !(c->send_meth = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "km_dtls_send")) ||
	    BIO_meth_set_write(c->send_meth, bio_write) != 1 ||
	    BIO_meth_set_ctrl(c->send_meth, bio_ctrl) != 1)
		goto fail;
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	km_dtls_cert_free(c);
	return KM_ECRYPTO;
}

void km_dtls_cert_free(km_dtls_cert_t *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	BIO_meth_free(c->send_meth);
	free(c);
}

const char *km_dtls_cert_fingerprint(const km_dtls_cert_t *c)
{
	return c ? c->fp : "";
}

/* ---- an endpoint ---- */

static int setup_ssl(km_dtls_t *d, const km_dtls_cert_t *cert)
{
	BIO *wbio = NULL;
	d->ssl = SSL_new(cert->ctx);
	d->rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(cert->send_meth);
	if (!d->ssl || !d->rbio || !wbio) {
		BIO_free(d->rbio);
		BIO_free(wbio);
		d->rbio = NULL;
		return -1;
	}
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_data(wbio, d);
	BIO_set_init(wbio, 1);
	SSL_set_bio(d->ssl, d->rbio, wbio); /* the SSL owns both */
	SSL_set_app_data(d->ssl, d);
	const char *list = (d->profiles & KM_DTLS_AES128GCM)
		? "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM" : "SRTP_AEAD_AES_256_GCM";
	if (SSL_set_tlsext_use_srtp(d->ssl, list) != 0) /* 0 is success here */
		return -1;
	if (DTLS_set_link_mtu(d->ssl, KM_DTLS_MTU) != 1)
		return -1;
	DTLS_set_timer_cb(d->ssl, timer_cb);
	if (d->is_server)
		SSL_set_accept_state(d->ssl);
	else
		SSL_set_connect_state(d->ssl);
	return 0;
}

km_dtls_t *km_dtls_new(const km_dtls_cert_t *cert, int is_server, const char *peer_fingerprint,
		       unsigned profiles)
{
	if (!cert)
		return NULL;
	km_dtls_t *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->is_server = is_server ? 1 : 0;
	d->profiles = (profiles & (KM_DTLS_AES256GCM | KM_DTLS_AES128GCM)) | KM_DTLS_AES256GCM;
	d->state = KM_DTLS_NEW;
	if (setup_ssl(d, cert) != 0) {
		ERR_clear_error();
		km_dtls_free(d);
		return NULL;
	}
	if (parse_fp(peer_fingerprint, d->peer_fp) != 0)
		fail(d, KM_EINVAL, "peer fingerprint in the SDP is not a SHA-256 value");
	return d;
}

void km_dtls_free(km_dtls_t *d)
{
	if (!d)
		return;
	SSL_free(d->ssl);
	OPENSSL_cleanse(d, sizeof *d);
	free(d);
}

void km_dtls_set_send(km_dtls_t *d, km_dtls_send_fn fn, void *userdata)
{
	if (!d)
		return;
	d->send = fn;
	d->send_ud = userdata;
}

/* After an SSL call returned r <= 0: fine if it only wants more input. */
static int after_io(km_dtls_t *d, int r)
{
	int e = SSL_get_error(d->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		d->state = KM_DTLS_CLOSED;
		return 0;
	}
	unsigned long ec = ERR_peek_last_error();
	const char *lib = ec ? ERR_reason_error_string(ec) : NULL;
	reason(d, KM_ECRYPTO, "DTLS %s failed: %s",
	       d->state == KM_DTLS_CONNECTED ? "connection" : "handshake",
	       lib ? lib : "connection closed");
	ERR_clear_error();
	d->state = KM_DTLS_FAILED;
	return d->err_code;
}

/* The handshake finished: check again what the callbacks checked, so that
 * no path to CONNECTED skips the fingerprint or the profile. */
static int handshake_done(km_dtls_t *d)
{
	const char *why = NULL;
	SRTP_PROTECTION_PROFILE *pp = SSL_get_selected_srtp_profile(d->ssl);
	if (!fp_matches(d, SSL_get0_peer_certificate(d->ssl)))
		why = msg_fingerprint;
	else if (!pp || !profile_allowed(d, pp->id))
		why = profile_msg(d);
	if (!why) {
		d->state = KM_DTLS_CONNECTED;
		return 0;
	}
	(void)SSL_shutdown(d->ssl); /* tell the peer: close_notify */
	ERR_clear_error();
	return fail(d, KM_EPERM, why);
}

/* Runs the state machine on what the read BIO holds. Application data is
 * read and dropped (kamer carries none over DTLS). */
static int drive(km_dtls_t *d)
{
	if (d->state == KM_DTLS_HANDSHAKING) {
		ERR_clear_error();
		int r = SSL_do_handshake(d->ssl);
		if (r != 1)
			return after_io(d, r);
		int rc = handshake_done(d);
		if (rc)
			return rc;
	}
	uint8_t sink[2048];
	while (d->state == KM_DTLS_CONNECTED) {
		ERR_clear_error();
		int n = SSL_read(d->ssl, sink, sizeof sink);
		if (n <= 0)
			return after_io(d, n);
	}
	return 0;
}

int km_dtls_start(km_dtls_t *d)
{
	if (!d)
		return KM_EINVAL;
	if (d->state == KM_DTLS_FAILED)
		return d->err_code;
	if (d->state != KM_DTLS_NEW)
		return 0;
	d->state = KM_DTLS_HANDSHAKING;
	return d->is_server ? 0 : drive(d);
}

int km_dtls_handle(km_dtls_t *d, const uint8_t *p, size_t len)
{
	if (!d || !p)
		return KM_EINVAL;
	if (d->state == KM_DTLS_FAILED || d->state == KM_DTLS_CLOSED)
		return KM_EINVAL;
	if (len > 65535 || km_demux_dtls_validate(p, len) < 0)
		return KM_EINVAL;
	if (d->state == KM_DTLS_NEW) {
		if (!d->is_server)
			return KM_EINVAL; /* a client speaks first */
		d->state = KM_DTLS_HANDSHAKING;
	}
	(void)BIO_reset(d->rbio);
	if (BIO_write(d->rbio, p, (int)len) != (int)len)
		return fail(d, KM_ENOMEM, "out of memory");
	int rc = drive(d);
	(void)BIO_reset(d->rbio); /* never mix a leftover with the next datagram */
	return rc;
}

int km_dtls_timeout_ms(km_dtls_t *d)
{
	struct timeval tv;
	if (!d || d->state != KM_DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
		return -1;
	long ms = (long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
	return ms > 0x7fffffffL ? 0x7fffffff : (int)ms;
}

int km_dtls_on_timeout(km_dtls_t *d)
{
	if (!d)
		return KM_EINVAL;
	if (d->state != KM_DTLS_HANDSHAKING)
		return 0;
	ERR_clear_error();
	if (DTLSv1_handle_timeout(d->ssl) < 0) {
		ERR_clear_error();
		d->err[0] = '\0'; /* the timeout is the reason, not a stale callback note */
		return fail(d, KM_EEXPIRED, "handshake timed out");
	}
	return 0;
}

int km_dtls_close(km_dtls_t *d)
{
	if (!d)
		return KM_EINVAL;
	if (d->state == KM_DTLS_CONNECTED) {
		ERR_clear_error();
		(void)SSL_shutdown(d->ssl);
		ERR_clear_error();
	}
	if (d->state != KM_DTLS_FAILED)
		d->state = KM_DTLS_CLOSED;
	return 0;
}

km_dtls_state_t km_dtls_state(const km_dtls_t *d)
{
	return d ? d->state : KM_DTLS_FAILED;
}

const char *km_dtls_state_name(km_dtls_state_t s)
{
	switch (s) {
	case KM_DTLS_NEW: return "new";
	case KM_DTLS_HANDSHAKING: return "handshaking";
	case KM_DTLS_CONNECTED: return "connected";
	case KM_DTLS_CLOSED: return "closed";
	case KM_DTLS_FAILED: return "failed";
	}
	return "unknown";
}

const char *km_dtls_error(const km_dtls_t *d)
{
	return d ? d->err : "";
}

static km_srtp_profile_t negotiated(const km_dtls_t *d)
{
	if (d->state != KM_DTLS_CONNECTED)
		return 0;
	SRTP_PROTECTION_PROFILE *pp = SSL_get_selected_srtp_profile(d->ssl);
	if (pp && pp->id == ID_AES256GCM)
		return KM_SRTP_AES256GCM;
	if (pp && pp->id == ID_AES128GCM && (d->profiles & KM_DTLS_AES128GCM))
		return KM_SRTP_AES128GCM;
	return 0;
}

const char *km_dtls_profile(const km_dtls_t *d)
{
	return d ? km_srtp_profile_name(negotiated(d)) : "none";
}

/* RFC 5764 4.2: client key | server key | client salt | server salt. */
int km_dtls_export_keys(km_dtls_t *d, km_srtp_keys_t *out)
{
	if (!d || !out)
		return KM_EINVAL;
	km_srtp_profile_t prof = negotiated(d);
	if (!prof)
		return KM_EINVAL;
	static const char label[] = "EXTRACTOR-dtls_srtp";
	size_t kl = prof == KM_SRTP_AES256GCM ? 32 : 16, sl = KM_SRTP_SALT;
	uint8_t m[2 * (KM_SRTP_MAX_KEY + KM_SRTP_SALT)];
	memset(out, 0, sizeof *out);
	if (SSL_export_keying_material(d->ssl, m, 2 * (kl + sl), label, sizeof label - 1, NULL, 0,
				       0) != 1) {
		ERR_clear_error();
		OPENSSL_cleanse(m, sizeof m);
		return KM_ECRYPTO;
	}
	out->profile = prof;
	out->key_len = kl;
	out->salt_len = sl;
	memcpy(out->client_key, m, kl);
	memcpy(out->server_key, m + kl, kl);
	memcpy(out->client_salt, m + 2 * kl, sl);
	memcpy(out->server_salt, m + 2 * kl + sl, sl);
	out->local_is_client = !d->is_server;
	OPENSSL_cleanse(m, sizeof m);
	return 0;
}
