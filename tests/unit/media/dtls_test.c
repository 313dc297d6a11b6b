/* dtls_test.c — unit tests of media/dtls: two endpoints (or one endpoint and
 * a hand-made OpenSSL peer) in one process, wired through queues that the
 * send callbacks fill. Covers the handshake, key export into SRTP sessions
 * that interoperate, fingerprint checks on either side, profile refusal
 * (HMAC-SHA1 peers, AES-128-GCM unless allowed), retransmission after lost
 * flights, close_notify, and input that is not DTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/err.h"
#include "media/dtls.h"
#include "media/srtp.h"

/* ---- a datagram queue per sender ---- */

#define QMAX 64
#define DMAX 1500

typedef struct {
	uint8_t data[QMAX][DMAX];
	size_t len[QMAX];
	size_t head, n;
	int drop;        /* drop every datagram while set */
	size_t sent;     /* datagrams the sender produced */
} queue_t;

typedef struct {
	km_dtls_t *k;     /* a kamer endpoint, or: */
	SSL *raw;         /* a hand-made OpenSSL peer */
	BIO *raw_r;
	int raw_failed;
	queue_t out;
} peer_t;

static void on_send(void *ud, const uint8_t *p, size_t len)
{
	queue_t *q = ud;
	q->sent++;
	assert_true(len > 0 && len <= KM_DTLS_MTU); /* both sides set MTU 1200 */
	if (q->drop)
		return;
	assert_true(q->n < QMAX);
	memcpy(q->data[q->n], p, len);
	q->len[q->n++] = len;
}

static BIO_METHOD *raw_meth;

static int raw_bio_write(BIO *b, const char *buf, int len)
{
	on_send(BIO_get_data(b), (const uint8_t *)buf, (size_t)len);
	return len;
}

static long raw_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH;
}

static void raw_step(peer_t *p)
{
	if (p->raw_failed)
		return;
	if (!SSL_is_init_finished(p->raw)) {
		int r = SSL_do_handshake(p->raw);
		if (r <= 0 && SSL_get_error(p->raw, r) == SSL_ERROR_SSL)
			p->raw_failed = 1;
		return;
	}
	uint8_t sink[2048];
	while (SSL_read(p->raw, sink, sizeof sink) > 0)
		;
}

static void deliver(peer_t *to, const uint8_t *d, size_t len)
{
	if (to->k) {
		(void)km_dtls_handle(to->k, d, len); /* the state tells */
		return;
	}
	assert_int_equal(BIO_write(to->raw_r, d, (int)len), (int)len);
	raw_step(to);
}

/* Delivers queued datagrams both ways until both queues are empty. */
static void pump(peer_t *a, peer_t *b)
{
	for (int round = 0; round < 200; round++) {
		peer_t *from = (round & 1) ? b : a, *to = (round & 1) ? a : b;
		while (from->out.head < from->out.n) {
			size_t i = from->out.head++;
			deliver(to, from->out.data[i], from->out.len[i]);
		}
		from->out.head = from->out.n = 0;
		if (a->out.n == 0 && b->out.n == 0)
			return;
	}
	fail_msg("pump did not settle");
}

static void clear(queue_t *q)
{
	q->head = q->n = 0;
}

/* ---- fixtures ---- */

typedef struct {
	km_dtls_cert_t *srv, *cli, *other;
} certs_t;

static int setup(void **state)
{
	certs_t *c = calloc(1, sizeof *c);
	if (!c || km_dtls_cert_new(&c->srv) || km_dtls_cert_new(&c->cli) ||
	    km_dtls_cert_new(&c->other))
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	certs_t *c = *state;
	km_dtls_cert_free(c->srv);
	km_dtls_cert_free(c->cli);
	km_dtls_cert_free(c->other);
	free(c);
	return 0;
}

static peer_t *kpeer(const km_dtls_cert_t *own, int is_server, const char *peer_fp,
		     unsigned profiles)
{
	peer_t *p = calloc(1, sizeof *p);
	assert_non_null(p);
	p->k = km_dtls_new(own, is_server, peer_fp, profiles);
	assert_non_null(p->k);
	km_dtls_set_send(p->k, on_send, &p->out);
	return p;
}

/* A raw OpenSSL peer offering exactly `srtp`, with its own ECDSA cert
 * (its fingerprint goes to fp_out) unless with_cert is 0. */
static peer_t *rpeer(int is_server, const char *srtp, int with_cert, char fp_out[KM_DTLS_FP_LEN])
{
	peer_t *p = calloc(1, sizeof *p);
	assert_non_null(p);
	SSL_CTX *ctx = SSL_CTX_new(is_server ? DTLS_server_method() : DTLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_tlsext_use_srtp(ctx, srtp), 0); /* 0 = success */
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
	if (is_server)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (with_cert) {
		EVP_PKEY *key = EVP_EC_gen("P-256");
		X509 *x = X509_new();
		assert_non_null(key);
		assert_non_null(x);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
		X509_gmtime_adj(X509_getm_notBefore(x), -60);
		X509_gmtime_adj(X509_getm_notAfter(x), 3600);
		X509_set_pubkey(x, key);
		X509_NAME *n = X509_get_subject_name(x);
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"raw", -1, -1, 0);
		X509_set_issuer_name(x, n);
		assert_true(X509_sign(x, key, EVP_sha256()) > 0);
		assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
		uint8_t md[32];
		unsigned mdn = 0;
		assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdn), 1);
		for (size_t i = 0; i < 32; i++)
			snprintf(fp_out + i * 3, 4, "%02X%s", md[i], i < 31 ? ":" : "");
		X509_free(x);
		EVP_PKEY_free(key);
	}
	p->raw = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	assert_non_null(p->raw);
	p->raw_r = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(p->raw_r, -1);
	BIO *w = BIO_new(raw_meth);
	BIO_set_data(w, &p->out);
	BIO_set_init(w, 1);
	SSL_set_bio(p->raw, p->raw_r, w);
	assert_int_equal(DTLS_set_link_mtu(p->raw, 1200), 1);
	if (is_server)
		SSL_set_accept_state(p->raw);
	else
		SSL_set_connect_state(p->raw);
	return p;
}

static void peer_free(peer_t *p)
{
	if (!p)
		return;
	km_dtls_free(p->k);
	SSL_free(p->raw);
	free(p);
}

static void connect_pair(peer_t *cli, peer_t *srv)
{
	assert_int_equal(km_dtls_start(srv->k), 0);
	assert_int_equal(km_dtls_start(cli->k), 0);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_HANDSHAKING);
	pump(cli, srv);
}

/* ---- SRTP through exported keys ---- */

static void build_rtp(uint8_t *p, size_t len, uint16_t seq)
{
	const uint8_t hdr[12] = {0x80, 111, (uint8_t)(seq >> 8), (uint8_t)seq,
				 0, 0, 0x3a, 0x98, 0xca, 0xfe, 0xba, 0xbe};
	memcpy(p, hdr, sizeof hdr);
	for (size_t i = 12; i < len; i++)
		p[i] = (uint8_t)(i ^ seq);
}

/* tx protects RTP and RTCP; rx must get the same bytes back, refuse a
 * flipped bit and a replay. */
static void check_srtp(km_srtp_t *tx, km_srtp_t *rx, uint16_t seq)
{
	uint8_t plain[1200], buf[1500], copy[1500];
	build_rtp(plain, sizeof plain, seq);
	memcpy(buf, plain, sizeof plain);
	size_t len = sizeof plain;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(len, 1200 + KM_SRTP_RTP_OVERHEAD);
	memcpy(copy, buf, len);
	size_t clen = len;
	copy[600] ^= 0x04;
	assert_int_equal(km_srtp_unprotect(rx, copy, &clen), KM_SRTP_EAUTH);
	memcpy(copy, buf, len);
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), 0);
	assert_int_equal(len, 1200);
	assert_memory_equal(buf, plain, 1200);
	assert_int_equal(km_srtp_unprotect(rx, copy, &clen), KM_SRTP_EREPLAY);

	static const uint8_t rr[8] = {0x80, 201, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe};
	memcpy(buf, rr, sizeof rr);
	len = sizeof rr;
	assert_int_equal(km_srtp_protect_rtcp(tx, buf, &len, sizeof buf), 0);
	memcpy(copy, buf, len);
	clen = len;
	copy[5] ^= 0x01;
	assert_int_equal(km_srtp_unprotect_rtcp(rx, copy, &clen), KM_SRTP_EAUTH);
	assert_int_equal(km_srtp_unprotect_rtcp(rx, buf, &len), 0);
	assert_memory_equal(buf, rr, sizeof rr);
}

static void check_keys_agree(const km_srtp_keys_t *c, const km_srtp_keys_t *s, size_t kl)
{
	assert_int_equal(c->key_len, kl);
	assert_int_equal(s->key_len, kl);
	assert_int_equal(c->salt_len, 12);
	assert_int_equal(c->local_is_client, 1);
	assert_int_equal(s->local_is_client, 0);
	assert_memory_equal(c->client_key, s->client_key, kl);
	assert_memory_equal(c->server_key, s->server_key, kl);
	assert_memory_equal(c->client_salt, s->client_salt, 12);
	assert_memory_equal(c->server_salt, s->server_salt, 12);
	assert_memory_not_equal(c->client_key, c->server_key, kl);
}

/* ---- tests ---- */

static void test_handshake_keys_srtp(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	assert_int_equal(strlen(km_dtls_cert_fingerprint(c->srv)), 95);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_NEW);
	assert_int_equal(km_dtls_export_keys(cli->k, &(km_srtp_keys_t){0}), KM_EINVAL);
	connect_pair(cli, srv);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_CONNECTED);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	assert_string_equal(km_dtls_profile(cli->k), "SRTP_AEAD_AES_256_GCM");
	assert_string_equal(km_dtls_profile(srv->k), "SRTP_AEAD_AES_256_GCM");
	assert_string_equal(km_dtls_error(cli->k), "");
	assert_int_equal(km_dtls_timeout_ms(srv->k), -1);

	km_srtp_keys_t kc, ks;
	assert_int_equal(km_dtls_export_keys(cli->k, &kc), 0);
	assert_int_equal(km_dtls_export_keys(srv->k, &ks), 0);
	check_keys_agree(&kc, &ks, 32);
	assert_int_equal(kc.profile, KM_SRTP_AES256GCM);

	km_srtp_t *c_out, *c_in, *s_out, *s_in;
	assert_int_equal(km_srtp_session_new(&kc, 0, &c_out), 0);
	assert_int_equal(km_srtp_session_new(&kc, 1, &c_in), 0);
	assert_int_equal(km_srtp_session_new(&ks, 0, &s_out), 0);
	assert_int_equal(km_srtp_session_new(&ks, 1, &s_in), 0);
	km_srtp_keys_wipe(&kc);
	km_srtp_keys_wipe(&ks);
	check_srtp(c_out, s_in, 1000);  /* client -> server */
	check_srtp(s_out, c_in, 65535); /* server -> client */
	km_srtp_free(c_out);
	km_srtp_free(c_in);
	km_srtp_free(s_out);
	km_srtp_free(s_in);

	/* close_notify: the peer sees CLOSED, and later datagrams are ignored */
	assert_int_equal(km_dtls_close(cli->k), 0);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_CLOSED);
	assert_true(cli->out.n > 0);
	pump(cli, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CLOSED);
	peer_free(cli);
	peer_free(srv);
}

static void test_both_allow_128_still_256(void **state)
{
	certs_t *c = *state;
	unsigned both = KM_DTLS_AES256GCM | KM_DTLS_AES128GCM;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), both);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), both);
	connect_pair(cli, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	assert_string_equal(km_dtls_profile(srv->k), "SRTP_AEAD_AES_256_GCM");
	assert_string_equal(km_dtls_profile(cli->k), "SRTP_AEAD_AES_256_GCM");
	peer_free(cli);
	peer_free(srv);
}

static const char msg_fp[] = "peer certificate fingerprint does not match the SDP";
static const char msg_256[] = "peer offers no SRTP profile kamer accepts (AES-256-GCM required)";

static void test_wrong_fingerprint_client_checks(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->other), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	connect_pair(cli, srv);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_FAILED);
	assert_string_equal(km_dtls_error(cli->k), msg_fp);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_FAILED);
	assert_non_null(strstr(km_dtls_error(srv->k), "peer refused the DTLS handshake"));
	assert_string_equal(km_dtls_profile(cli->k), "none");
	assert_int_equal(km_dtls_export_keys(cli->k, &(km_srtp_keys_t){0}), KM_EINVAL);
	uint8_t junk[13] = {22, 0xfe, 0xfd};
	assert_int_equal(km_dtls_handle(cli->k, junk, sizeof junk), KM_EINVAL);
	peer_free(cli);
	peer_free(srv);
}

static void test_wrong_fingerprint_server_checks(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->other), 0);
	connect_pair(cli, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_FAILED);
	assert_string_equal(km_dtls_error(srv->k), msg_fp);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_FAILED);
	assert_string_not_equal(km_dtls_error(cli->k), "");
	peer_free(cli);
	peer_free(srv);
}

static void test_malformed_fingerprint(void **state)
{
	certs_t *c = *state;
	const char *bad[] = {NULL, "", "AB:CD", "zz" /* short */,
			     /* 32 pairs but ';' instead of one ':' */
			     "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			     "AB:CD:EF:01:23:45:67:89;AB:CD:EF:01:23:45:67:89"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		km_dtls_t *d = km_dtls_new(c->cli, 0, bad[i], 0);
		assert_non_null(d);
		assert_int_equal(km_dtls_state(d), KM_DTLS_FAILED);
		assert_non_null(strstr(km_dtls_error(d), "not a SHA-256 value"));
		assert_int_equal(km_dtls_start(d), KM_EINVAL);
		km_dtls_free(d);
	}
	/* lowercase is fine */
	char lower[KM_DTLS_FP_LEN];
	strcpy(lower, km_dtls_cert_fingerprint(c->srv));
	for (char *q = lower; *q; q++)
		if (*q >= 'A' && *q <= 'F')
			*q = (char)(*q - 'A' + 'a');
	peer_t *cli = kpeer(c->cli, 0, lower, 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	connect_pair(cli, srv);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_CONNECTED);
	peer_free(cli);
	peer_free(srv);
	assert_null(km_dtls_new(NULL, 0, lower, 0));
	km_dtls_free(NULL);
	km_dtls_cert_free(NULL);
}

static void test_sha1_only_client_refused(void **state)
{
	certs_t *c = *state;
	char fp[KM_DTLS_FP_LEN];
	peer_t *raw = rpeer(0, "SRTP_AES128_CM_SHA1_80", 1, fp);
	peer_t *srv = kpeer(c->srv, 1, fp, 0);
	raw_step(raw); /* ClientHello */
	assert_int_equal(raw->out.n, 1);
	pump(raw, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_FAILED);
	assert_string_equal(km_dtls_error(srv->k), msg_256);
	assert_true(raw->raw_failed); /* it got a handshake_failure alert */
	peer_free(raw);
	peer_free(srv);
}

static void test_sha1_only_server_refused(void **state)
{
	certs_t *c = *state;
	char fp[KM_DTLS_FP_LEN];
	peer_t *raw = rpeer(1, "SRTP_AES128_CM_SHA1_80", 1, fp);
	peer_t *cli = kpeer(c->cli, 0, fp, 0);
	assert_int_equal(km_dtls_start(cli->k), 0);
	pump(cli, raw);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_FAILED);
	assert_string_equal(km_dtls_error(cli->k), msg_256);
	assert_true(raw->raw_failed);
	peer_free(raw);
	peer_free(cli);
}

static void test_aes128_only_when_allowed(void **state)
{
	certs_t *c = *state;
	char fp[KM_DTLS_FP_LEN];
	peer_t *raw = rpeer(0, "SRTP_AEAD_AES_128_GCM", 1, fp);
	peer_t *srv = kpeer(c->srv, 1, fp, 0); /* org does not allow AES-128 */
	raw_step(raw);
	pump(raw, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_FAILED);
	assert_string_equal(km_dtls_error(srv->k), msg_256);
	peer_free(raw);
	peer_free(srv);

	raw = rpeer(0, "SRTP_AEAD_AES_128_GCM", 1, fp);
	srv = kpeer(c->srv, 1, fp, KM_DTLS_AES256GCM | KM_DTLS_AES128GCM);
	raw_step(raw);
	pump(raw, srv);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	assert_false(raw->raw_failed);
	assert_true(SSL_is_init_finished(raw->raw));
	assert_string_equal(km_dtls_profile(srv->k), "SRTP_AEAD_AES_128_GCM");

	/* the raw peer's own RFC 5764 export must give the same split */
	km_srtp_keys_t ks, kr = {0};
	assert_int_equal(km_dtls_export_keys(srv->k, &ks), 0);
	assert_int_equal(ks.profile, KM_SRTP_AES128GCM);
	uint8_t m[56];
	assert_int_equal(SSL_export_keying_material(raw->raw, m, sizeof m, "EXTRACTOR-dtls_srtp",
						    19, NULL, 0, 0), 1);
	kr.profile = KM_SRTP_AES128GCM;
	kr.key_len = 16;
	kr.salt_len = 12;
	memcpy(kr.client_key, m, 16);
	memcpy(kr.server_key, m + 16, 16);
	memcpy(kr.client_salt, m + 32, 12);
	memcpy(kr.server_salt, m + 44, 12);
	kr.local_is_client = 1;
	check_keys_agree(&kr, &ks, 16);
	km_srtp_t *s_out, *r_in;
	assert_int_equal(km_srtp_session_new(&ks, 0, &s_out), 0);
	assert_int_equal(km_srtp_session_new(&kr, 1, &r_in), 0);
	check_srtp(s_out, r_in, 5);
	km_srtp_free(s_out);
	km_srtp_free(r_in);
	peer_free(raw);
	peer_free(srv);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_lost_flights_retransmitted(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	assert_int_equal(km_dtls_timeout_ms(cli->k), -1); /* not started */
	assert_int_equal(km_dtls_start(srv->k), 0);
	assert_int_equal(km_dtls_start(cli->k), 0);
	assert_int_equal(cli->out.n, 1);
	clear(&cli->out); /* the ClientHello is lost */

	int t = km_dtls_timeout_ms(cli->k);
	assert_true(t > 0 && t <= 100);
	assert_int_equal(km_dtls_on_timeout(cli->k), 0); /* too early: nothing sent */
	assert_int_equal(cli->out.n, 0);
	sleep_ms(km_dtls_timeout_ms(cli->k) + 2);
	assert_int_equal(km_dtls_timeout_ms(cli->k), 0);
	assert_int_equal(km_dtls_on_timeout(cli->k), 0);
	assert_int_equal(cli->out.n, 1); /* the ClientHello again */

	/* the server's first flight is lost too */
	deliver(srv, cli->out.data[0], cli->out.len[0]);
	clear(&cli->out);
	assert_true(srv->out.n >= 1);
	clear(&srv->out);
	t = km_dtls_timeout_ms(srv->k);
	assert_true(t >= 0 && t <= 100);
	sleep_ms(t + 2);
	assert_int_equal(km_dtls_on_timeout(srv->k), 0);
	assert_true(srv->out.n >= 1);
	pump(cli, srv);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_CONNECTED);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	assert_int_equal(km_dtls_timeout_ms(cli->k), -1);
	peer_free(cli);
	peer_free(srv);
}

/* Delivers what `from` has queued now (one flight), nothing more. */
static void step(peer_t *from, peer_t *to)
{
	size_t n = from->out.n;
	for (size_t i = 0; i < n; i++)
		deliver(to, from->out.data[i], from->out.len[i]);
	memmove(from->out.data, from->out.data[n], (from->out.n - n) * DMAX);
	memmove(from->out.len, from->out.len + n, (from->out.n - n) * sizeof(size_t));
	from->out.n -= n;
}

/* The server's last flight (CCS, Finished) is lost after the server is
 * CONNECTED: the client's retransmission makes the server send it again. */
static void test_lost_last_flight(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	assert_int_equal(km_dtls_start(cli->k), 0);
	step(cli, srv); /* ClientHello */
	step(srv, cli); /* ServerHello .. ServerHelloDone */
	step(cli, srv); /* Certificate .. Finished */
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_HANDSHAKING);
	assert_true(srv->out.n >= 1);
	clear(&srv->out); /* lost */
	int t = km_dtls_timeout_ms(cli->k);
	assert_true(t >= 0 && t <= 100);
	sleep_ms(t + 2);
	assert_int_equal(km_dtls_on_timeout(cli->k), 0);
	assert_true(cli->out.n >= 1);
	pump(cli, srv);
	assert_int_equal(km_dtls_state(cli->k), KM_DTLS_CONNECTED);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	km_srtp_keys_t kc, ks;
	assert_int_equal(km_dtls_export_keys(cli->k, &kc), 0);
	assert_int_equal(km_dtls_export_keys(srv->k, &ks), 0);
	check_keys_agree(&kc, &ks, 32);
	peer_free(cli);
	peer_free(srv);
}

static void test_not_dtls_ignored(void **state)
{
	certs_t *c = *state;
	peer_t *cli = kpeer(c->cli, 0, km_dtls_cert_fingerprint(c->srv), 0);
	peer_t *srv = kpeer(c->srv, 1, km_dtls_cert_fingerprint(c->cli), 0);
	const uint8_t rtp[12] = {0x80, 96};
	const uint8_t trunc[10] = {22, 0xfe, 0xfd, 0, 0};
	uint8_t lie[20] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x00}; /* length 16 KiB */
	assert_int_equal(km_dtls_handle(srv->k, rtp, sizeof rtp), KM_EINVAL);
	assert_int_equal(km_dtls_handle(srv->k, trunc, sizeof trunc), KM_EINVAL);
	assert_int_equal(km_dtls_handle(srv->k, lie, sizeof lie), KM_EINVAL);
	assert_int_equal(km_dtls_handle(srv->k, rtp, 0), KM_EINVAL);
	assert_int_equal(km_dtls_state(srv->k), KM_DTLS_NEW);
	assert_int_equal(srv->out.n, 0);
	/* a client does not accept datagrams before it starts */
	uint8_t rec[13 + 4] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4};
	assert_int_equal(km_dtls_handle(cli->k, rec, sizeof rec), KM_EINVAL);
	/* a well-framed but bogus handshake record does not kill the server */
	assert_int_equal(km_dtls_start(cli->k), 0);
	(void)km_dtls_handle(srv->k, rec, sizeof rec);
	assert_int_not_equal(km_dtls_state(srv->k), KM_DTLS_CONNECTED);
	peer_free(cli);
	peer_free(srv);
}

int main(void)
{
	raw_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "test_send");
	BIO_meth_set_write(raw_meth, raw_bio_write);
	BIO_meth_set_ctrl(raw_meth, raw_bio_ctrl);
	if (km_srtp_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_keys_srtp),
		cmocka_unit_test(test_both_allow_128_still_256),
		cmocka_unit_test(test_wrong_fingerprint_client_checks),
		cmocka_unit_test(test_wrong_fingerprint_server_checks),
		cmocka_unit_test(test_malformed_fingerprint),
		cmocka_unit_test(test_sha1_only_client_refused),
		cmocka_unit_test(test_sha1_only_server_refused),
		cmocka_unit_test(test_aes128_only_when_allowed),
		cmocka_unit_test(test_lost_flights_retransmitted),
		cmocka_unit_test(test_lost_last_flight),
		cmocka_unit_test(test_not_dtls_ignored),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	BIO_meth_free(raw_meth);
	return rc;
}
