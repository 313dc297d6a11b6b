/* rtp_test.c — unit tests of media/rtp: the RTP header parser, RFC 8285
 * extensions, in-place writers and sequence helpers. Packets are built byte
 * by byte here; each is parsed from an exact-size heap copy so that ASan
 * reports any read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/rtp.h"

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static int parse_copy(const uint8_t *p, size_t n, km_rtp_t *r)
{
	uint8_t *d = dup_exact(p, n);
	int rc = km_rtp_parse(d, n, r);
	free(d);
	return rc;
}

/* V=2 P=1 X=1 CC=2, M=1 PT=96, seq 0x1234, ts 0xdeadbeef, ssrc 0x11223344,
 * CSRCs 0xaaaaaaaa 0xbbbbbbbb, one-byte extension block of 3 words:
 *   id 1 len 1: 0x7f
 *   padding 0x00
 *   id 3 len 3: 0x01 0x02 0x03
 *   padding 0x00 0x00 0x00, then 0x00 0x00 ... (12 bytes total)
 * payload 4 bytes, 3 bytes of padding (last byte 3). */
static const uint8_t full_pkt[] = {
	0xb2, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44,
	0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,
	0xbe, 0xde, 0x00, 0x03,
	0x10, 0x7f, 0x00, 0x32, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xca, 0xfe, 0xba, 0xbe,
	0x00, 0x00, 0x03,
};

static void test_basic_header(void **state)
{
	const uint8_t p[] = { 0x80, 0x6f, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x10, 0x01, 0x02, 0x03, 0x04,
		0x55, 0x66 };
	km_rtp_t r;
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_false(r.padding);
	assert_false(r.extension);
	assert_false(r.marker);
	assert_int_equal(r.cc, 0);
	assert_int_equal(r.pt, 111);
	assert_int_equal(r.seq, 0xfffe);
	assert_int_equal(r.ts, 16);
	assert_int_equal(r.ssrc, 0x01020304);
	assert_int_equal(r.header_len, 12);
	assert_int_equal(r.payload_len, 2);
	assert_int_equal(r.ext_count, 0);
	assert_null(km_rtp_ext_find(&r, 1));
}

static void test_full_packet(void **state)
{
	km_rtp_t r;
	assert_int_equal(km_rtp_parse(full_pkt, sizeof full_pkt, &r), 0);
	assert_true(r.padding);
	assert_true(r.extension);
	assert_true(r.marker);
	assert_int_equal(r.pt, 96);
	assert_int_equal(r.cc, 2);
	assert_int_equal(km_rtp_csrc(&r, 0), 0xaaaaaaaa);
	assert_int_equal(km_rtp_csrc(&r, 1), 0xbbbbbbbb);
	assert_int_equal(r.seq, 0x1234);
	assert_int_equal(r.ts, 0xdeadbeef);
	assert_int_equal(r.ssrc, 0x11223344);
	assert_int_equal(r.ext_profile, KM_RTP_EXT_ONE_BYTE);
	assert_int_equal(r.ext_form, 1);
	assert_int_equal(r.ext_off, 24);
	assert_int_equal(r.ext_len, 12);
	assert_int_equal(r.header_len, 36);
	assert_int_equal(r.pad_len, 3);
	assert_int_equal(r.payload_len, 4);
	assert_memory_equal(full_pkt + r.header_len, "\xca\xfe\xba\xbe", 4);
	assert_int_equal(r.ext_count, 2);
	const km_rtp_ext_t *e = km_rtp_ext_find(&r, 1);
	assert_non_null(e);
	assert_int_equal(e->off, 25);
	assert_int_equal(e->len, 1);
	assert_int_equal(*km_rtp_ext_data(&r, e), 0x7f);
	e = km_rtp_ext_find(&r, 3);
	assert_non_null(e);
	assert_int_equal(e->off, 28);
	assert_int_equal(e->len, 3);
	assert_memory_equal(km_rtp_ext_data(&r, e), "\x01\x02\x03", 3);
	assert_ptr_equal(km_rtp_ext_data(&r, e), full_pkt + 28); /* a view, not a copy */
	assert_null(km_rtp_ext_find(&r, 2));
}

static void test_padding(void **state)
{
	uint8_t p[] = { 0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x11, 0x22, 0x00, 0x02 };
	km_rtp_t r;
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_int_equal(r.payload_len, 2);
	assert_int_equal(r.pad_len, 2);
	p[15] = 4; /* padding is the whole payload: allowed */
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_int_equal(r.payload_len, 0);
	p[15] = 5; /* one byte more than there is */
	assert_int_equal(parse_copy(p, sizeof p, &r), KM_RTP_EPADDING);
	p[15] = 0; /* count includes itself: 0 is invalid */
	assert_int_equal(parse_copy(p, sizeof p, &r), KM_RTP_EPADDING);
	/* P bit with a header and no payload: the last header byte is no count */
	const uint8_t q[] = { 0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
	assert_int_equal(parse_copy(q, sizeof q, &r), KM_RTP_EPADDING);
}

static void test_ext_id15_stops(void **state)
{
	/* id 2 len 1, then id 15 with a length that would run past the block */
	const uint8_t p[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01, 0x20, 0xaa, 0xff, 0x10, 0x99 };
	km_rtp_t r;
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_int_equal(r.ext_count, 1);
	assert_int_equal(r.ext[0].id, 2);
	assert_int_equal(r.header_len, 20);
	assert_int_equal(r.payload_len, 1);
}

static void test_ext_two_byte(void **state)
{
	/* profile 0x1003; id 200 len 0; pad; id 5 len 3; pad pad pad -> 2 words */
	const uint8_t p[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x10, 0x03, 0x00, 0x02, 200, 0, 0, 5, 3, 0xa, 0xb, 0xc, 0x77 };
	km_rtp_t r;
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_int_equal(r.ext_form, 2);
	assert_int_equal(r.ext_count, 2);
	assert_int_equal(r.ext[0].id, 200);
	assert_int_equal(r.ext[0].len, 0);
	assert_int_equal(r.ext[0].off, 18);
	assert_int_equal(r.ext[1].id, 5);
	assert_int_equal(r.ext[1].len, 3);
	assert_int_equal(r.ext[1].off, 21);
	assert_int_equal(r.header_len, 24);
	assert_int_equal(r.payload_len, 1);
}

static void test_ext_other_profile_and_overflow(void **state)
{
	const uint8_t p[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x12, 0x34, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff };
	km_rtp_t r;
	assert_int_equal(parse_copy(p, sizeof p, &r), 0);
	assert_int_equal(r.ext_profile, 0x1234);
	assert_int_equal(r.ext_form, 0);
	assert_int_equal(r.ext_count, 0);
	assert_int_equal(r.header_len, 20);

	/* 20 zero-length two-byte elements: 16 stored, overflow flagged */
	uint8_t q[12 + 4 + 40];
	memcpy(q, p, 12);
	q[12] = 0x10; q[13] = 0x00; q[14] = 0x00; q[15] = 10;
	for (int i = 0; i < 20; i++) {
		q[16 + 2 * i] = (uint8_t)(i + 1);
		q[17 + 2 * i] = 0;
	}
	assert_int_equal(parse_copy(q, sizeof q, &r), 0);
	assert_int_equal(r.ext_count, KM_RTP_MAX_EXT);
	assert_true(r.ext_overflow);
	assert_int_equal(r.ext[15].id, 16);
}

static void test_lying_lengths(void **state)
{
	km_rtp_t r;
	/* CSRC count 3 but only one CSRC present */
	const uint8_t a[] = { 0x83, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4 };
	assert_int_equal(parse_copy(a, sizeof a, &r), KM_RTP_ETRUNC);
	/* extension block says 2 words, 1 present */
	const uint8_t b[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x02, 0x10, 0, 0, 0 };
	assert_int_equal(parse_copy(b, sizeof b, &r), KM_RTP_ETRUNC);
	/* extension header itself cut */
	const uint8_t c[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde };
	assert_int_equal(parse_copy(c, sizeof c, &r), KM_RTP_ETRUNC);
	/* one-byte element id 1 len 4 in a 1-word block (3 bytes left) */
	const uint8_t d[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01, 0x13, 1, 2, 3, 0xee, 0xee, 0xee, 0xee };
	assert_int_equal(parse_copy(d, sizeof d, &r), KM_RTP_EEXT);
	/* two-byte element len 3 with 2 bytes left in the block */
	const uint8_t e[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x10, 0x00, 0x00, 0x01, 7, 3, 1, 2, 0xee, 0xee, 0xee };
	assert_int_equal(parse_copy(e, sizeof e, &r), KM_RTP_EEXT);
	/* two-byte id as the very last byte of the block: no length byte */
	const uint8_t f[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x10, 0x00, 0x00, 0x01, 0, 0, 0, 9, 0xee };
	assert_int_equal(parse_copy(f, sizeof f, &r), KM_RTP_EEXT);
}

static void test_truncation_every_length(void **state)
{
	km_rtp_t r;
	for (size_t n = 0; n < sizeof full_pkt; n++) {
		int rc = parse_copy(full_pkt, n, &r);
		if (n < 36)
			assert_true(rc < 0);
		else if (rc == 0)
			assert_true(r.header_len + r.pad_len + r.payload_len == n);
	}
	assert_int_equal(parse_copy(full_pkt, sizeof full_pkt, &r), 0);
}

static void test_version_and_size(void **state)
{
	uint8_t p[KM_RTP_MAX_PACKET + 1];
	memset(p, 0, sizeof p);
	km_rtp_t r;
	p[0] = 0x80;
	assert_int_equal(parse_copy(p, KM_RTP_MAX_PACKET, &r), 0);
	assert_int_equal(r.payload_len, KM_RTP_MAX_PACKET - 12);
	assert_int_equal(parse_copy(p, KM_RTP_MAX_PACKET + 1, &r), KM_RTP_ETOOBIG);
	for (uint8_t v = 0; v < 4; v++) {
		p[0] = (uint8_t)(v << 6);
		assert_int_equal(parse_copy(p, 12, &r), v == 2 ? 0 : KM_RTP_EVERSION);
	}
	assert_int_equal(parse_copy(p, 11, &r), KM_RTP_ETRUNC);
	assert_int_equal(km_rtp_parse(NULL, 12, &r), KM_RTP_EINVAL);
}

static void test_writers(void **state)
{
	uint8_t c[sizeof full_pkt];
	memcpy(c, full_pkt, sizeof c);
	km_rtp_t r;
	assert_int_equal(km_rtp_set_ssrc(c, sizeof c, 0xcafef00d), 0);
	assert_int_equal(km_rtp_set_seq(c, sizeof c, 65535), 0);
	assert_int_equal(km_rtp_set_ts(c, sizeof c, 0x01020304), 0);
	assert_int_equal(km_rtp_set_pt(c, sizeof c, 100), 0);
	assert_int_equal(km_rtp_set_pt(c, sizeof c, 128), KM_RTP_EINVAL);
	assert_int_equal(km_rtp_set_ssrc(c, 11, 1), KM_RTP_ETRUNC);
	assert_int_equal(km_rtp_parse(c, sizeof c, &r), 0);
	assert_int_equal(r.ssrc, 0xcafef00d);
	assert_int_equal(r.seq, 65535);
	assert_int_equal(r.ts, 0x01020304);
	assert_int_equal(r.pt, 100);
	assert_true(r.marker); /* kept */
	assert_int_equal(r.payload_len, 4);
	assert_memory_equal(c + 12, full_pkt + 12, sizeof c - 12); /* rest untouched */
	c[1] = 0x05; /* marker clear stays clear */
	assert_int_equal(km_rtp_set_pt(c, sizeof c, 0x7f), 0);
	assert_int_equal(c[1], 0x7f);
}

static void test_ext_rewrite(void **state)
{
	km_rtp_t r;
	assert_int_equal(km_rtp_parse(full_pkt, sizeof full_pkt, &r), 0);
	uint8_t c[sizeof full_pkt];
	memcpy(c, full_pkt, sizeof c);
	/* swap ids 1 and 3: offsets come from r, so the second sees the original */
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c, &r, 1, 3), 0);
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c, &r, 3, 1), 0);
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c, &r, 2, 4), KM_RTP_ENOTFOUND);
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c, &r, 1, 15), KM_RTP_EEXTID);
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c, &r, 1, 0), KM_RTP_EEXTID);
	assert_int_equal(km_rtp_ext_rewrite_id(c, sizeof c - 1, &r, 1, 2), KM_RTP_EINVAL);
	km_rtp_t s;
	assert_int_equal(km_rtp_parse(c, sizeof c, &s), 0);
	assert_int_equal(s.ext_count, 2);
	assert_int_equal(s.ext[0].id, 3);
	assert_int_equal(s.ext[0].len, 1);
	assert_int_equal(s.ext[1].id, 1);
	assert_int_equal(s.ext[1].len, 3);
	assert_int_equal(c[24], 0x30);
	assert_int_equal(c[27], 0x12);

	/* two-byte form allows ids beyond 14 */
	const uint8_t p[] = { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x10, 0x00, 0x00, 0x01, 5, 1, 0x42, 0 };
	uint8_t q[sizeof p];
	memcpy(q, p, sizeof q);
	assert_int_equal(km_rtp_parse(p, sizeof p, &r), 0);
	assert_int_equal(km_rtp_ext_rewrite_id(q, sizeof q, &r, 5, 250), 0);
	assert_int_equal(km_rtp_parse(q, sizeof q, &s), 0);
	assert_non_null(km_rtp_ext_find(&s, 250));
	assert_int_equal(*km_rtp_ext_data(&s, km_rtp_ext_find(&s, 250)), 0x42);
}

static void test_seq_helpers(void **state)
{
	assert_true(km_rtp_seq_newer(1, 0));
	assert_false(km_rtp_seq_newer(0, 1));
	assert_false(km_rtp_seq_newer(7, 7));
	assert_true(km_rtp_seq_newer(0, 65535));
	assert_true(km_rtp_seq_newer(10, 65000));
	assert_false(km_rtp_seq_newer(65000, 10));
	assert_true(km_rtp_seq_newer(0x8000, 0) != km_rtp_seq_newer(0, 0x8000));
	assert_true(km_rtp_seq_newer(0x8001, 1) != km_rtp_seq_newer(1, 0x8001));

	km_rtp_unwrap_t u;
	km_rtp_unwrap_init(&u);
	assert_int_equal(km_rtp_unwrap(&u, 65534), 65534);
	assert_int_equal(km_rtp_unwrap(&u, 65535), 65535);
	assert_int_equal(km_rtp_unwrap(&u, 0), 65536);
	assert_int_equal(km_rtp_unwrap(&u, 65533), 65533); /* late, before the wrap */
	assert_int_equal(km_rtp_unwrap(&u, 2), 65538);
	assert_int_equal(km_rtp_unwrap(&u, 1), 65537);
	uint16_t s = 2;
	int64_t v = 0;
	for (int i = 0; i < 200000; i++)
		v = km_rtp_unwrap(&u, s += 3);
	assert_int_equal(v, 65538 + 600000);
}

static void test_strerror(void **state)
{
	for (int c = KM_RTP_EINVAL; c <= 0; c++) {
		assert_non_null(km_rtp_strerror(c));
		if (c < 0)
			assert_string_not_equal(km_rtp_strerror(c), km_rtp_strerror(c + 1));
	}
	assert_string_equal(km_rtp_strerror(-99), "rtp: unknown error");
}


/* A one-byte-form packet with a CSRC, three extensions, payload and padding. */
static size_t make_ext_packet(uint8_t *p)
{
	static const uint8_t pkt[] = {
		0xB1, 0x60, 0x00, 0x07, 0, 0, 0, 9, 0xAA, 0xBB, 0xCC, 0xDD, /* V2 P X CC1, pt 96 */
		0, 0, 0, 5,                                                 /* CSRC */
		0xBE, 0xDE, 0x00, 0x03,                                     /* 3 words */
		0x10, 0x7F,                                                 /* id 1 len 1 */
		0x22, 1, 2, 3,                                              /* id 2 len 3 */
		0x41, 9, 9,                                                 /* id 4 len 2 */
		0, 0, 0,                                                    /* padding to words */
		'p', 'a', 'y', 0, 0, 2                                      /* payload, 2 padding */
	};
	memcpy(p, pkt, sizeof pkt);
	return sizeof pkt;
}

static void test_copy_ext_map(void **state)
{
	(void)state;
	uint8_t src[64], dst[64];
	size_t len = make_ext_packet(src);
	km_rtp_t r, c;
	assert_int_equal(km_rtp_parse(src, len, &r), 0);
	assert_int_equal(r.ext_count, 3);
	uint8_t map[256] = { 0 };
	map[2] = 5; /* keep id 2 as 5, drop 1 and 4 */
	int n = km_rtp_copy_ext_map(&r, map, dst, sizeof dst);
	assert_true(n > 0);
	assert_int_equal(km_rtp_parse(dst, (size_t)n, &c), 0);
	assert_int_equal(c.ext_count, 1);
	assert_int_equal(c.ext[0].id, 5);
	assert_int_equal(c.ext[0].len, 3);
	assert_memory_equal(km_rtp_ext_data(&c, &c.ext[0]), "\x01\x02\x03", 3);
	assert_int_equal(c.cc, 1);
	assert_int_equal(c.payload_len, 4);
	assert_true(c.padding);
	assert_int_equal(c.pad_len, 2);
	assert_int_equal(c.ssrc, r.ssrc);
	assert_memory_equal(dst + c.header_len, "pay", 3);

	/* nothing kept: no block, X bit cleared, payload intact */
	memset(map, 0, sizeof map);
	n = km_rtp_copy_ext_map(&r, map, dst, sizeof dst);
	assert_int_equal(n, (int)(len - 16));
	assert_int_equal(km_rtp_parse(dst, (size_t)n, &c), 0);
	assert_false(c.extension);
	assert_int_equal(c.header_len, 16);

	/* identity keeps all three; too small a buffer is refused */
	for (int i = 1; i < 15; i++)
		map[i] = (uint8_t)i;
	n = km_rtp_copy_ext_map(&r, map, dst, sizeof dst);
	assert_int_equal(km_rtp_parse(dst, (size_t)n, &c), 0);
	assert_int_equal(c.ext_count, 3);
	assert_int_equal(km_rtp_copy_ext_map(&r, map, dst, 20), KM_RTP_ETOOBIG);
	map[1] = 15; /* not valid in the one-byte form: dropped */
	n = km_rtp_copy_ext_map(&r, map, dst, sizeof dst);
	assert_int_equal(km_rtp_parse(dst, (size_t)n, &c), 0);
	assert_int_equal(c.ext_count, 2);
	assert_null(km_rtp_ext_find(&c, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_header),
		cmocka_unit_test(test_full_packet),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_ext_id15_stops),
		cmocka_unit_test(test_ext_two_byte),
		cmocka_unit_test(test_ext_other_profile_and_overflow),
		cmocka_unit_test(test_lying_lengths),
		cmocka_unit_test(test_truncation_every_length),
		cmocka_unit_test(test_version_and_size),
		cmocka_unit_test(test_writers),
		cmocka_unit_test(test_ext_rewrite),
		cmocka_unit_test(test_seq_helpers),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_copy_ext_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
