/* srtp_test.c — unit tests of media/srtp: AES-GCM SRTP/SRTCP sessions made
 * from hand-filled keys (the DTLS export is tested in dtls_test.c):
 * round trips, tampering, replay, buffer limits, direction, AES-128, many
 * SSRCs in one outbound session, kamer's
 * OpenSSL AES-GCM against libsrtp2's own (NSS), and a printed (never
 * asserted) timing of protect and unprotect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <srtp2/cipher.h>

#include "core/err.h"
#include "media/srtp.h"
#include "media/srtp_gcm.h"

/* libsrtp2's own (NSS) AES-GCM types, exported though not declared. */
extern const srtp_cipher_type_t srtp_aes_gcm_128, srtp_aes_gcm_256;

#define PKT 1200
#define CAP 1500

static void fill_keys(km_srtp_keys_t *k, km_srtp_profile_t prof, int local_is_client)
{
	memset(k, 0, sizeof *k);
	k->profile = prof;
	k->key_len = prof == KM_SRTP_AES256GCM ? 32 : 16;
	k->salt_len = KM_SRTP_SALT;
	for (size_t i = 0; i < KM_SRTP_MAX_KEY; i++) {
		k->client_key[i] = (uint8_t)(0x10 + i);
		k->server_key[i] = (uint8_t)(0x80 + i);
	}
	for (size_t i = 0; i < KM_SRTP_SALT; i++) {
		k->client_salt[i] = (uint8_t)(0x40 + i);
		k->server_salt[i] = (uint8_t)(0xc0 + i);
	}
	k->local_is_client = local_is_client;
}

/* A sender (the "client") and the matching receiver (the "server"). */
static void make_pair(km_srtp_profile_t prof, km_srtp_t **tx, km_srtp_t **rx)
{
	km_srtp_keys_t k;
	fill_keys(&k, prof, 1);
	assert_int_equal(km_srtp_session_new(&k, 0, tx), 0);
	k.local_is_client = 0;
	assert_int_equal(km_srtp_session_new(&k, 1, rx), 0);
	km_srtp_keys_wipe(&k);
	for (size_t i = 0; i < sizeof k; i++)
		assert_int_equal(((uint8_t *)&k)[i], 0);
}

/* V=2, PT 96, seq, ts, SSRC 0x01020304, then payload bytes. */
static void build_rtp(uint8_t *p, size_t len, uint16_t seq)
{
	p[0] = 0x80;
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	uint32_t ts = 90000u + 3000u * seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = 1, p[9] = 2, p[10] = 3, p[11] = 4;
	for (size_t i = 12; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seq);
}

/* A sender report without report blocks: 28 bytes. */
static size_t build_sr(uint8_t *p)
{
	static const uint8_t sr[28] = {
		0x80, 200, 0x00, 0x06, 0x01, 0x02, 0x03, 0x04, /* V=2 SR len=6 SSRC */
		0xe0, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, /* NTP */
		0x00, 0x01, 0x5f, 0x90, 0x00, 0x00, 0x00, 0x0a, /* RTP ts, packets */
		0x00, 0x00, 0x30, 0x39,                         /* octets */
	};
	memcpy(p, sr, sizeof sr);
	return sizeof sr;
}

static void test_rtp_round_trip(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t plain[PKT], buf[CAP];
	build_rtp(plain, PKT, 1);
	memcpy(buf, plain, PKT);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(len, PKT + KM_SRTP_RTP_OVERHEAD);
	assert_memory_equal(buf, plain, 12);                /* header stays clear */
	assert_memory_not_equal(buf + 12, plain + 12, 64);  /* payload is not */
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), 0);
	assert_int_equal(len, PKT);
	assert_memory_equal(buf, plain, PKT);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_rtcp_round_trip(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t plain[64], buf[128];
	size_t n = build_sr(plain), len = n;
	memcpy(buf, plain, n);
	assert_int_equal(km_srtp_protect_rtcp(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(len, n + KM_SRTP_RTCP_OVERHEAD);
	assert_memory_not_equal(buf + 8, plain + 8, n - 8);
	uint8_t copy[128];
	memcpy(copy, buf, len);
	size_t clen = len;
	assert_int_equal(km_srtp_unprotect_rtcp(rx, buf, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(buf, plain, n);
	/* the same SRTCP packet again is a replay */
	assert_int_equal(km_srtp_unprotect_rtcp(rx, copy, &clen), KM_SRTP_EREPLAY);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_tampering_fails(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t buf[CAP], bad[CAP];
	build_rtp(buf, PKT, 7);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
	const size_t flips[] = {5 /* timestamp */, 100 /* payload */, PKT + 3 /* tag */};
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		memcpy(bad, buf, len);
		bad[flips[i]] ^= 0x01;
		size_t blen = len;
		assert_int_equal(km_srtp_unprotect(rx, bad, &blen), KM_SRTP_EAUTH);
		assert_int_equal(blen, len);
	}
	/* the genuine packet still passes after the forgeries */
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), 0);

	uint8_t r[128];
	size_t rl = build_sr(r);
	assert_int_equal(km_srtp_protect_rtcp(tx, r, &rl, sizeof r), 0);
	r[12] ^= 0x80;
	assert_int_equal(km_srtp_unprotect_rtcp(rx, r, &rl), KM_SRTP_EAUTH);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_replay_refused(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t a[CAP], b[CAP];
	build_rtp(a, PKT, 42);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, a, &len, sizeof a), 0);
	memcpy(b, a, len);
	size_t blen = len;
	assert_int_equal(km_srtp_unprotect(rx, a, &len), 0);
	assert_int_equal(km_srtp_unprotect(rx, b, &blen), KM_SRTP_EREPLAY);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_retransmission_allowed_on_send(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t a[CAP], b[CAP];
	build_rtp(a, PKT, 9);
	memcpy(b, a, PKT);
	size_t la = PKT, lb = PKT;
	assert_int_equal(km_srtp_protect(tx, a, &la, sizeof a), 0);
	assert_int_equal(km_srtp_protect(tx, b, &lb, sizeof b), 0); /* a NACKed resend */
	assert_int_equal(km_srtp_unprotect(rx, a, &la), 0);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_limits_and_bad_input(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t buf[CAP];
	build_rtp(buf, PKT, 3);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, buf, &len, PKT + KM_SRTP_RTP_OVERHEAD - 1),
			 KM_SRTP_ETOOBIG);
	assert_int_equal(len, PKT);
	len = 100;
	assert_int_equal(km_srtp_protect_rtcp(tx, buf, &len, 119), KM_SRTP_ETOOBIG);
	len = 11;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), KM_SRTP_EINVAL);
	len = 20;
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), KM_SRTP_EINVAL);
	assert_int_equal(km_srtp_protect(NULL, buf, &len, sizeof buf), KM_SRTP_EINVAL);
	buf[0] = 0x40; /* version 1 */
	len = 100;
	assert_true(km_srtp_unprotect(rx, buf, &len) < 0);
	assert_string_equal(km_srtp_strerror(KM_SRTP_EAUTH), "authentication failed");

	km_srtp_keys_t k;
	km_srtp_t *s = NULL;
	fill_keys(&k, KM_SRTP_AES256GCM, 1);
	k.key_len = 16; /* does not match the profile */
	assert_int_equal(km_srtp_session_new(&k, 0, &s), KM_EINVAL);
	assert_null(s);
	km_srtp_free(NULL);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_wrong_direction_fails(void **state)
{
	km_srtp_keys_t k;
	km_srtp_t *tx, *rx;
	fill_keys(&k, KM_SRTP_AES256GCM, 1);
	assert_int_equal(km_srtp_session_new(&k, 0, &tx), 0);
	/* the receiver also thinks it is the client: it uses the server key */
	assert_int_equal(km_srtp_session_new(&k, 1, &rx), 0);
	uint8_t buf[CAP];
	build_rtp(buf, PKT, 5);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), KM_SRTP_EAUTH);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void test_aes128_round_trip(void **state)
{
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES128GCM, &tx, &rx);
	uint8_t plain[PKT], buf[CAP];
	build_rtp(plain, PKT, 11);
	memcpy(buf, plain, PKT);
	size_t len = PKT;
	assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(km_srtp_unprotect(rx, buf, &len), 0);
	assert_memory_equal(buf, plain, PKT);
	assert_string_equal(km_srtp_profile_name(KM_SRTP_AES128GCM), "SRTP_AEAD_AES_128_GCM");
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Printed, not asserted: 100k protect + unprotect of 1200-byte packets. */
static void test_timing(void **state)
{
	enum { N = 100000 };
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint8_t plain[PKT], buf[CAP];
	build_rtp(plain, PKT, 0);
	double tp = 0, tu = 0;
	for (uint32_t i = 0; i < N; i++) {
		memcpy(buf, plain, PKT);
		buf[2] = (uint8_t)(i >> 8);
		buf[3] = (uint8_t)i;
		size_t len = PKT;
		double t0 = now_us();
		int a = km_srtp_protect(tx, buf, &len, sizeof buf);
		double t1 = now_us();
		int b = km_srtp_unprotect(rx, buf, &len);
		double t2 = now_us();
		if (a || b || len != PKT)
			fail_msg("iteration %u: protect %d unprotect %d", i, a, b);
		tp += t1 - t0;
		tu += t2 - t1;
	}
	printf("srtp timing: %d x 1200-byte RTP, AES-256-GCM: protect %.2f us, unprotect %.2f us\n",
	       N, tp / N, tu / N);
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One outbound session protects many SSRCs (a subscriber of several
 * publishers), RTP and RTCP interleaved, SSRCs joining in later rounds:
 * each SSRC keeps one stream in libsrtp2, so its SRTCP index climbs by one
 * (a stream made twice would restart it and repeat GCM nonces) and the
 * receiver accepts every packet. */
static void test_many_ssrcs(void **state)
{
	enum { SSRCS = 40, ROUNDS = 6 };
	km_srtp_t *tx, *rx;
	make_pair(KM_SRTP_AES256GCM, &tx, &rx);
	uint32_t last_index[SSRCS] = { 0 };
	for (int r = 0; r < ROUNDS; r++) {
		int upto = r == 0 ? SSRCS / 4 : r == 1 ? SSRCS / 2 : SSRCS; /* more SSRCs join later */
		for (int i = upto - 1; i >= 0; i--) {
			uint32_t ssrc = 0x5000u + (uint32_t)i * 7919u;
			uint8_t plain[PKT], buf[CAP];
			build_rtp(plain, 200, (uint16_t)(100 + r));
			put32(plain + 8, ssrc);
			memcpy(buf, plain, 200);
			size_t len = 200;
			assert_int_equal(km_srtp_protect(tx, buf, &len, sizeof buf), 0);
			assert_int_equal(km_srtp_unprotect(rx, buf, &len), 0);
			assert_memory_equal(buf, plain, 200);
			size_t n = build_sr(plain);
			put32(plain + 4, ssrc);
			memcpy(buf, plain, n);
			len = n;
			assert_int_equal(km_srtp_protect_rtcp(tx, buf, &len, sizeof buf), 0);
			/* RFC 7714 9.1: ..., the tag, then E and the SRTCP index. */
			uint32_t word = (uint32_t)buf[len - 4] << 24 | (uint32_t)buf[len - 3] << 16 |
					(uint32_t)buf[len - 2] << 8 | buf[len - 1];
			assert_true(word & 0x80000000u); /* E: encrypted */
			uint32_t index = word & 0x7fffffffu;
			if (last_index[i] && index != last_index[i] + 1)
				fail_msg("SSRC %d round %d: SRTCP index %u after %u", i, r, index, last_index[i]);
			last_index[i] = index;
			assert_int_equal(km_srtp_unprotect_rtcp(rx, buf, &len), 0);
			assert_memory_equal(buf, plain, n);
		}
	}
	km_srtp_free(tx);
	km_srtp_free(rx);
}

static unsigned rnd(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* A cipher of type ct, keyed, with the nonce and the AAD of one packet. */
static srtp_cipher_t *gcm_start(const srtp_cipher_type_t *ct, int key_len, const uint8_t *key, uint8_t *iv,
				int dir, const uint8_t *aad, unsigned aad_len)
{
	srtp_cipher_t *c = NULL;
	assert_int_equal(srtp_cipher_type_alloc(ct, &c, key_len, 16), srtp_err_status_ok);
	assert_int_equal(srtp_cipher_init(c, key), srtp_err_status_ok);
	assert_int_equal(srtp_cipher_set_iv(c, iv, dir), srtp_err_status_ok);
	assert_int_equal(srtp_cipher_set_aad(c, aad, aad_len), srtp_err_status_ok);
	return c;
}

/* One packet sealed: encrypted in place, its tag appended. */
static void gcm_seal(const srtp_cipher_type_t *ct, int key_len, const uint8_t *key, uint8_t *iv,
		     const uint8_t *aad, unsigned aad_len, uint8_t *buf, unsigned *len)
{
	srtp_cipher_t *c = gcm_start(ct, key_len, key, iv, srtp_direction_encrypt, aad, aad_len);
	assert_int_equal(srtp_cipher_encrypt(c, buf, len), srtp_err_status_ok);
	uint32_t tag_len = 0;
	assert_int_equal(srtp_cipher_get_tag(c, buf + *len, &tag_len), srtp_err_status_ok);
	assert_int_equal(tag_len, 16);
	*len += tag_len;
	srtp_cipher_dealloc(c);
}

/* One packet opened; returns libsrtp2's status (auth_fail for a bad tag). */
static int gcm_open(const srtp_cipher_type_t *ct, int key_len, const uint8_t *key, uint8_t *iv,
		    const uint8_t *aad, unsigned aad_len, uint8_t *buf, unsigned *len)
{
	srtp_cipher_t *c = gcm_start(ct, key_len, key, iv, srtp_direction_decrypt, aad, aad_len);
	int st = srtp_cipher_decrypt(c, buf, len);
	srtp_cipher_dealloc(c);
	return st;
}

/* kamer's AES-GCM (installed by km_srtp_init) and libsrtp2's NSS one give
 * the same ciphertext and tag for random keys, nonces, AAD and lengths
 * (0..1500), open each other's packets, and refuse a flipped bit. */
static void test_gcm_matches_libsrtp(void **state)
{
	assert_string_equal(km_srtp_backend(), "OpenSSL");
	unsigned seed = 20261127;
	for (int i = 0; i < 400; i++) {
		int bits = i % 2 ? 256 : 128;
		const srtp_cipher_type_t *ours = km_srtp_gcm_type(bits);
		const srtp_cipher_type_t *nss = bits == 256 ? &srtp_aes_gcm_256 : &srtp_aes_gcm_128;
		assert_non_null(ours);
		int key_len = bits == 256 ? SRTP_AES_GCM_256_KEY_LEN_WSALT : SRTP_AES_GCM_128_KEY_LEN_WSALT;
		uint8_t key[48], iv[12], aad[64], plain[CAP], a[CAP + 16], b[CAP + 16];
		for (size_t k = 0; k < sizeof key; k++)
			key[k] = (uint8_t)rnd(&seed, 256);
		for (size_t k = 0; k < sizeof iv; k++)
			iv[k] = (uint8_t)rnd(&seed, 256);
		unsigned aad_len = 1 + rnd(&seed, sizeof aad); /* SRTP always has a header */
		for (size_t k = 0; k < aad_len; k++)
			aad[k] = (uint8_t)rnd(&seed, 256);
		unsigned n = i < 4 ? (unsigned)i : rnd(&seed, CAP + 1);
		for (size_t k = 0; k < n; k++)
			plain[k] = (uint8_t)rnd(&seed, 256);
		unsigned la = n, lb = n;
		memcpy(a, plain, n);
		memcpy(b, plain, n);
		gcm_seal(ours, key_len, key, iv, aad, aad_len, a, &la);
		gcm_seal(nss, key_len, key, iv, aad, aad_len, b, &lb);
		assert_int_equal(la, n + 16);
		assert_int_equal(lb, n + 16);
		if (memcmp(a, b, la) != 0)
			fail_msg("case %d (%d-bit, %u bytes, aad %u): ciphertext or tag differs", i, bits, n, aad_len);
		/* Each opens the other's packet. */
		assert_int_equal(gcm_open(ours, key_len, key, iv, aad, aad_len, b, &lb), srtp_err_status_ok);
		assert_int_equal(lb, n);
		assert_memory_equal(b, plain, n);
		assert_int_equal(gcm_open(nss, key_len, key, iv, aad, aad_len, a, &la), srtp_err_status_ok);
		assert_int_equal(la, n);
		/* A flipped bit in the ciphertext, the tag or the AAD is refused. */
		memcpy(a, plain, n);
		la = n;
		gcm_seal(ours, key_len, key, iv, aad, aad_len, a, &la);
		unsigned at = rnd(&seed, la + aad_len);
		if (at < la)
			a[at] ^= (uint8_t)(1u << rnd(&seed, 8));
		else
			aad[at - la] ^= 0x01;
		assert_int_equal(gcm_open(ours, key_len, key, iv, aad, aad_len, a, &la), srtp_err_status_auth_fail);
	}
	/* Shorter than a tag: refused, not read out of bounds. */
	uint8_t key[48] = { 0 }, iv[12] = { 0 }, aad[12] = { 0 }, buf[16] = { 0 };
	unsigned len = 15;
	assert_int_equal(gcm_open(km_srtp_gcm_type(256), SRTP_AES_GCM_256_KEY_LEN_WSALT, key, iv, aad, sizeof aad,
				  buf, &len),
			 srtp_err_status_auth_fail);
}

int main(void)
{
	assert_int_equal(km_srtp_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtp_round_trip),
		cmocka_unit_test(test_rtcp_round_trip),
		cmocka_unit_test(test_tampering_fails),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_retransmission_allowed_on_send),
		cmocka_unit_test(test_limits_and_bad_input),
		cmocka_unit_test(test_wrong_direction_fails),
		cmocka_unit_test(test_aes128_round_trip),
		cmocka_unit_test(test_gcm_matches_libsrtp),
		cmocka_unit_test(test_many_ssrcs),
		cmocka_unit_test(test_timing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
