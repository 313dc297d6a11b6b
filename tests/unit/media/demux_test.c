/* demux_test.c — unit tests of media/demux: RFC 7983 classification at each
 * range boundary, the STUN header and attribute iterator, DTLS record
 * headers. Packets are built byte by byte here and parsed from exact-size
 * heap copies so that ASan reports any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/demux.h"

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static km_demux_kind_t classify2(uint8_t b0, uint8_t b1)
{
	uint8_t p[2] = { b0, b1 };
	uint8_t *d = dup_exact(p, 2);
	km_demux_kind_t k = km_demux_classify(d, 2);
	free(d);
	return k;
}

static void test_classify_boundaries(void **state)
{
	const struct {
		uint8_t b;
		km_demux_kind_t k;
	} cases[] = {
		{ 0, KM_DEMUX_STUN }, { 3, KM_DEMUX_STUN }, { 4, KM_DEMUX_DROP },
		{ 15, KM_DEMUX_DROP }, { 16, KM_DEMUX_ZRTP }, { 19, KM_DEMUX_ZRTP },
		{ 20, KM_DEMUX_DTLS }, { 63, KM_DEMUX_DTLS }, { 64, KM_DEMUX_TURN },
		{ 79, KM_DEMUX_TURN }, { 80, KM_DEMUX_DROP }, { 127, KM_DEMUX_DROP },
		{ 128, KM_DEMUX_RTP }, { 191, KM_DEMUX_RTP }, { 192, KM_DEMUX_DROP },
		{ 255, KM_DEMUX_DROP },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		assert_int_equal(classify2(cases[i].b, 96), cases[i].k);
	/* RTP vs RTCP by the second byte (RFC 5761): 192..223 is RTCP */
	assert_int_equal(classify2(128, 191), KM_DEMUX_RTP);
	assert_int_equal(classify2(128, 192), KM_DEMUX_RTCP);
	assert_int_equal(classify2(191, 200), KM_DEMUX_RTCP);
	assert_int_equal(classify2(128, 223), KM_DEMUX_RTCP);
	assert_int_equal(classify2(128, 224), KM_DEMUX_RTP);
	assert_int_equal(classify2(128, 0x80 | 111), KM_DEMUX_RTP); /* marker + PT 111 */
	/* too short for the RTP/RTCP decision, and empty */
	uint8_t *one = dup_exact((const uint8_t[]){ 0x80 }, 1);
	assert_int_equal(km_demux_classify(one, 1), KM_DEMUX_DROP);
	assert_int_equal(km_demux_classify(one, 0), KM_DEMUX_DROP);
	free(one);
	uint8_t *s = dup_exact((const uint8_t[]){ 0x00 }, 1);
	assert_int_equal(km_demux_classify(s, 1), KM_DEMUX_STUN);
	free(s);
	assert_int_equal(km_demux_classify(NULL, 5), KM_DEMUX_DROP);
	assert_string_equal(km_demux_kind_name(KM_DEMUX_RTCP), "rtcp");
	assert_string_equal(km_demux_kind_name(KM_DEMUX_DROP), "drop");
}

/* Binding request, transaction id 1..12, attributes:
 *   USERNAME "abcd:efgh" (9 + 3 pad)  @20
 *   PRIORITY 0x6e7f00ff               @36
 *   ICE-CONTROLLING 8 bytes           @44
 *   USE-CANDIDATE (empty)             @56
 *   MESSAGE-INTEGRITY 20 bytes        @60
 *   FINGERPRINT 4 bytes               @84
 * message length 72, total 92 bytes. */
static const uint8_t stun_req[] = {
	0x00, 0x01, 0x00, 72, 0x21, 0x12, 0xa4, 0x42,
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	0x00, 0x06, 0x00, 9, 'a', 'b', 'c', 'd', ':', 'e', 'f', 'g', 'h', 0, 0, 0,
	0x00, 0x24, 0x00, 4, 0x6e, 0x7f, 0x00, 0xff,
	0x80, 0x2a, 0x00, 8, 1, 1, 2, 2, 3, 3, 4, 4,
	0x00, 0x25, 0x00, 0,
	0x00, 0x08, 0x00, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x80, 0x28, 0x00, 4, 0xde, 0xad, 0xbe, 0xef,
};

static int stun_walk(const uint8_t *p, size_t n, km_demux_stun_attr_t *attrs, size_t cap,
	size_t *count)
{
	km_demux_stun_t m;
	int rc = km_demux_stun_parse(p, n, &m);
	if (rc < 0)
		return rc;
	km_demux_stun_iter_t it;
	km_demux_stun_iter_init(&it, &m);
	*count = 0;
	km_demux_stun_attr_t a;
	while ((rc = km_demux_stun_next(&it, &a)) > 0)
		if (*count < cap)
			attrs[(*count)++] = a;
	return rc;
}

static void test_stun_binding_request(void **state)
{
	uint8_t *d = dup_exact(stun_req, sizeof stun_req);
	km_demux_stun_t m;
	assert_int_equal(km_demux_stun_parse(d, sizeof stun_req, &m), 0);
	assert_int_equal(m.method, KM_STUN_BINDING);
	assert_int_equal(m.cls, KM_STUN_CLASS_REQUEST);
	assert_int_equal(m.length, 72);
	assert_memory_equal(m.txid, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);

	km_demux_stun_attr_t a[8];
	size_t n = 0;
	assert_int_equal(stun_walk(d, sizeof stun_req, a, 8, &n), 0);
	assert_int_equal(n, 6);
	const uint16_t types[] = { KM_STUN_ATTR_USERNAME, KM_STUN_ATTR_PRIORITY,
		KM_STUN_ATTR_ICE_CONTROLLING, KM_STUN_ATTR_USE_CANDIDATE,
		KM_STUN_ATTR_MESSAGE_INTEGRITY, KM_STUN_ATTR_FINGERPRINT };
	const size_t offs[] = { 20, 36, 44, 56, 60, 84 };
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(a[i].type, types[i]);
		assert_int_equal(a[i].offset, offs[i]);
		assert_ptr_equal(a[i].value, d + offs[i] + 4);
		assert_int_equal(a[i].after_integrity, i == 5);
	}
	assert_int_equal(a[0].len, 9);
	assert_memory_equal(a[0].value, "abcd:efgh", 9);
	assert_memory_equal(a[1].value, "\x6e\x7f\x00\xff", 4);
	assert_int_equal(a[3].len, 0);
	assert_int_equal(a[4].len, 20);
	free(d);

	/* a success response: class bits C1 C0 = 1 0 -> type 0x0101 */
	uint8_t r[20] = { 0x01, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42 };
	assert_int_equal(km_demux_stun_parse(r, sizeof r, &m), 0);
	assert_int_equal(m.cls, KM_STUN_CLASS_SUCCESS);
	assert_int_equal(m.method, KM_STUN_BINDING);
	r[1] = 0x11; /* error response */
	assert_int_equal(km_demux_stun_parse(r, sizeof r, &m), 0);
	assert_int_equal(m.cls, KM_STUN_CLASS_ERROR);
	r[0] = 0x00; r[1] = 0x11; /* indication */
	assert_int_equal(km_demux_stun_parse(r, sizeof r, &m), 0);
	assert_int_equal(m.cls, KM_STUN_CLASS_INDICATION);
}

static void test_stun_truncation(void **state)
{
	km_demux_stun_attr_t a[8];
	size_t n;
	for (size_t len = 0; len < sizeof stun_req; len++) {
		uint8_t *d = dup_exact(stun_req, len);
		assert_true(stun_walk(d, len, a, 8, &n) < 0);
		free(d);
	}
	/* trailing bytes past the message length are ignored */
	uint8_t big[sizeof stun_req + 4];
	memcpy(big, stun_req, sizeof stun_req);
	memset(big + sizeof stun_req, 0xee, 4);
	assert_int_equal(stun_walk(big, sizeof big, a, 8, &n), 0);
	assert_int_equal(n, 6);
}

static void test_stun_bad(void **state)
{
	uint8_t c[sizeof stun_req];
	km_demux_stun_attr_t a[8];
	size_t n;
	km_demux_stun_t m;
#define RESET() memcpy(c, stun_req, sizeof c)
	RESET(); c[7] = 0x43; /* cookie */
	assert_int_equal(km_demux_stun_parse(c, sizeof c, &m), KM_DEMUX_ESTUN);
	RESET(); c[0] = 0x40; /* top bits */
	assert_int_equal(km_demux_stun_parse(c, sizeof c, &m), KM_DEMUX_ESTUN);
	RESET(); c[3] = 70; /* not a multiple of 4 */
	assert_int_equal(km_demux_stun_parse(c, sizeof c, &m), KM_DEMUX_ESTUN);
	RESET(); c[3] = 76; /* longer than the datagram */
	assert_int_equal(km_demux_stun_parse(c, sizeof c, &m), KM_DEMUX_ETRUNC);
	RESET(); c[23] = 13; /* USERNAME eats PRIORITY's header; its value then reads as a TLV of 255 */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), KM_DEMUX_ETRUNC);
	RESET(); c[22] = 0x01; c[23] = 0x00; /* USERNAME 256 bytes: past the message */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), KM_DEMUX_ETRUNC);
	RESET(); c[39] = 5; /* PRIORITY of 5 bytes */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), KM_DEMUX_EATTR);
	RESET(); c[59] = 4; /* USE-CANDIDATE with a value */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), KM_DEMUX_EATTR);
	RESET(); c[63] = 16; /* MESSAGE-INTEGRITY of 16 bytes */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), KM_DEMUX_EATTR);
	RESET(); c[3] = 64; /* message ends at FINGERPRINT: MI is last, fine */
	assert_int_equal(stun_walk(c, sizeof c, a, 8, &n), 0);
	assert_int_equal(n, 5);
	/* an attribute after FINGERPRINT */
	uint8_t e[sizeof stun_req + 4];
	memcpy(e, stun_req, sizeof stun_req);
	e[3] = 76;
	e[92] = 0x80; e[93] = 0x22; e[94] = 0; e[95] = 0; /* SOFTWARE, empty */
	assert_int_equal(stun_walk(e, sizeof e, a, 8, &n), KM_DEMUX_EATTR);
	/* unknown attribute types pass */
	e[84] = 0x80; e[85] = 0x22;
	assert_int_equal(stun_walk(e, sizeof e, a, 8, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(km_demux_stun_parse(NULL, 20, &m), KM_DEMUX_EINVAL);
#undef RESET
}

/* A DTLS 1.0-versioned ClientHello record as a browser sends first:
 * type 22, version FE FF, epoch 0, seq 0, length 16; a handshake header
 * (client_hello, length 4, message_seq 0, fragment 0..4) and 4 body bytes. */
static const uint8_t dtls_hello[] = {
	22, 0xfe, 0xff, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 16,
	1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0xfe, 0xfd, 0xaa, 0xbb,
};

static void test_dtls_client_hello(void **state)
{
	uint8_t *d = dup_exact(dtls_hello, sizeof dtls_hello);
	assert_int_equal(km_demux_classify(d, sizeof dtls_hello), KM_DEMUX_DTLS);
	size_t off = 0;
	km_demux_dtls_record_t r;
	assert_int_equal(km_demux_dtls_next(d, sizeof dtls_hello, &off, &r), 1);
	assert_int_equal(r.content_type, KM_DTLS_HANDSHAKE);
	assert_int_equal(r.version, 0xfeff);
	assert_int_equal(r.epoch, 0);
	assert_true(r.seq == 0);
	assert_int_equal(r.length, 16);
	assert_ptr_equal(r.fragment, d + 13);
	assert_int_equal(r.fragment[0], 1); /* client_hello */
	assert_int_equal(off, sizeof dtls_hello);
	assert_int_equal(km_demux_dtls_next(d, sizeof dtls_hello, &off, &r), 0);
	for (size_t n = 0; n < sizeof dtls_hello; n++)
		assert_true(km_demux_dtls_validate(d, n) < 0);
	free(d);
}

static void test_dtls_records(void **state)
{
	/* ChangeCipherSpec (epoch 0, seq 5) then an encrypted handshake record
	 * (epoch 1, seq 0x0000_0001_0203) in one datagram */
	const uint8_t p[] = {
		20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 1,
		22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 1, 0x02, 0x03, 0, 3, 9, 9, 9,
	};
	uint8_t *d = dup_exact(p, sizeof p);
	size_t off = 0;
	km_demux_dtls_record_t r;
	assert_int_equal(km_demux_dtls_next(d, sizeof p, &off, &r), 1);
	assert_int_equal(r.content_type, KM_DTLS_CHANGE_CIPHER_SPEC);
	assert_true(r.seq == 5);
	assert_int_equal(km_demux_dtls_next(d, sizeof p, &off, &r), 1);
	assert_int_equal(r.epoch, 1);
	assert_true(r.seq == 0x010203);
	assert_int_equal(r.version, 0xfefd);
	assert_int_equal(r.length, 3);
	assert_int_equal(km_demux_dtls_next(d, sizeof p, &off, &r), 0);
	assert_int_equal(km_demux_dtls_validate(d, sizeof p), 2);
	free(d);

	uint8_t c[sizeof p];
	memcpy(c, p, sizeof c);
	c[14] = 26; /* unknown content type in the second record */
	assert_int_equal(km_demux_dtls_validate(c, sizeof c), KM_DEMUX_EDTLS);
	memcpy(c, p, sizeof c);
	c[0] = 19;
	assert_int_equal(km_demux_dtls_validate(c, sizeof c), KM_DEMUX_EDTLS);
	memcpy(c, p, sizeof c);
	c[1] = 0x03; c[2] = 0x03; /* TLS 1.2 version, not DTLS */
	assert_int_equal(km_demux_dtls_validate(c, sizeof c), KM_DEMUX_EDTLS);
	memcpy(c, p, sizeof c);
	c[26] = 4; /* second record one byte longer than the datagram */
	assert_int_equal(km_demux_dtls_validate(c, sizeof c), KM_DEMUX_ETRUNC);
	memcpy(c, p, sizeof c);
	c[11] = 0x48; /* 18 KiB + : over the DTLS limit */
	assert_int_equal(km_demux_dtls_validate(c, sizeof c), KM_DEMUX_EDTLS);
	assert_int_equal(km_demux_dtls_validate(c, 0), KM_DEMUX_ETRUNC);
}

static void test_strerror(void **state)
{
	for (int c = KM_DEMUX_EINVAL; c <= 0; c++)
		assert_string_not_equal(km_demux_strerror(c), "demux: unknown error");
	assert_string_equal(km_demux_strerror(-77), "demux: unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_boundaries),
		cmocka_unit_test(test_stun_binding_request),
		cmocka_unit_test(test_stun_truncation),
		cmocka_unit_test(test_stun_bad),
		cmocka_unit_test(test_dtls_client_hello),
		cmocka_unit_test(test_dtls_records),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
