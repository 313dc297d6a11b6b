/* rtcp_test.c — unit tests of media/rtcp: the compound iterator, SR/RR/
 * SDES/BYE and feedback parsers, and the writers (round trips through the
 * parsers). Packets are built byte by byte here and parsed from exact-size
 * heap copies so that ASan reports any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/rtcp.h"

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* Compound: SR with 2 report blocks, RR with 3, SDES with one CNAME chunk,
 * BYE with 2 SSRCs and a reason. 76 + 80 + 16 + 16 = 188 bytes. */
static const uint8_t compound[] = {
	/* SR: V=2 RC=2, PT 200, length 18 words (76 bytes) */
	0x82, 200, 0x00, 18,
	0x11, 0x11, 0x11, 0x11,                         /* sender SSRC */
	0xe0, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, /* NTP */
	0x00, 0x01, 0x00, 0x00,                         /* RTP ts */
	0x00, 0x00, 0x01, 0x00,                         /* packets 256 */
	0x00, 0x01, 0x00, 0x00,                         /* octets 65536 */
	/* block 1: ssrc, fraction 0x40, cumulative -1, ehs, jitter, lsr, dlsr */
	0xa1, 0xa1, 0xa1, 0xa1, 0x40, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x10,
	0x00, 0x00, 0x00, 0x20, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x80, 0x00,
	/* block 2: cumulative +5 */
	0xa2, 0xa2, 0xa2, 0xa2, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0xff, 0xff,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* RR: RC=3, PT 201, length 19 words (80 bytes) */
	0x83, 201, 0x00, 19,
	0x22, 0x22, 0x22, 0x22,
	0xb1, 0xb1, 0xb1, 0xb1, 0x01, 0x80, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
	0xb2, 0xb2, 0xb2, 0xb2, 0x02, 0x7f, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
	0xb3, 0xb3, 0xb3, 0xb3, 0x03, 0x00, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
	/* SDES: SC=1, PT 202, length 3 words: ssrc, CNAME "ab", end, pad */
	0x81, 202, 0x00, 3,
	0x22, 0x22, 0x22, 0x22, 0x01, 0x02, 'a', 'b', 0x00, 0x00, 0x00, 0x00,
	/* BYE: SC=2, PT 203, length 3 words: 2 SSRCs, reason "bye" */
	0x82, 203, 0x00, 3,
	0x11, 0x11, 0x11, 0x11, 0x33, 0x33, 0x33, 0x33, 3, 'b', 'y', 'e',
};

static void test_compound(void **state)
{
	uint8_t *c = dup_exact(compound, sizeof compound);
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_report_t rb;
	km_rtcp_iter_init(&it, c, sizeof compound);

	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	km_rtcp_sr_t sr;
	assert_int_equal(km_rtcp_parse_sr(&pkt, &sr), 0);
	assert_int_equal(sr.info.ssrc, 0x11111111);
	assert_true(sr.info.ntp == 0xe000000180000000ull);
	assert_int_equal(sr.info.rtp_ts, 0x10000);
	assert_int_equal(sr.info.packet_count, 256);
	assert_int_equal(sr.info.octet_count, 65536);
	assert_int_equal(sr.blocks.count, 2);
	assert_int_equal(km_rtcp_report_at(&sr.blocks, 0, &rb), 0);
	assert_int_equal(rb.ssrc, 0xa1a1a1a1);
	assert_int_equal(rb.fraction_lost, 0x40);
	assert_int_equal(rb.cumulative_lost, -1);
	assert_int_equal(rb.ext_highest_seq, 0x10010);
	assert_int_equal(rb.jitter, 0x20);
	assert_int_equal(rb.lsr, 0x12345678);
	assert_int_equal(rb.dlsr, 0x8000);
	assert_int_equal(km_rtcp_report_at(&sr.blocks, 1, &rb), 0);
	assert_int_equal(rb.cumulative_lost, 5);
	assert_int_equal(km_rtcp_report_at(&sr.blocks, 2, &rb), KM_RTCP_EINVAL);
	km_rtcp_rr_t rr;
	assert_int_equal(km_rtcp_parse_rr(&pkt, &rr), KM_RTCP_ETYPE);

	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(km_rtcp_parse_rr(&pkt, &rr), 0);
	assert_int_equal(rr.ssrc, 0x22222222);
	assert_int_equal(rr.blocks.count, 3);
	assert_int_equal(km_rtcp_report_at(&rr.blocks, 0, &rb), 0);
	assert_int_equal(rb.cumulative_lost, -0x800000);
	assert_int_equal(km_rtcp_report_at(&rr.blocks, 1, &rb), 0);
	assert_int_equal(rb.cumulative_lost, 0x7fffff);
	assert_int_equal(km_rtcp_report_at(&rr.blocks, 2, &rb), 0);
	assert_int_equal(rb.ssrc, 0xb3b3b3b3);
	assert_int_equal(rb.fraction_lost, 3);
	assert_int_equal(rb.cumulative_lost, 0);
	assert_int_equal(rb.dlsr, 4);

	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(pkt.pt, KM_RTCP_SDES);
	assert_int_equal(km_rtcp_parse_sdes(&pkt), 1);

	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	km_rtcp_bye_t bye;
	assert_int_equal(km_rtcp_parse_bye(&pkt, &bye), 0);
	assert_int_equal(bye.count, 2);
	assert_int_equal(bye.ssrcs[1], 0x33333333);
	assert_int_equal(bye.reason_len, 3);
	assert_memory_equal(bye.reason, "bye", 3);

	assert_int_equal(km_rtcp_next(&it, &pkt), 0);
	assert_int_equal(km_rtcp_validate(c, sizeof compound), 4);
	free(c);
}

static void test_compound_errors(void **state)
{
	uint8_t c[sizeof compound];
	memcpy(c, compound, sizeof c);
	/* every truncation stops with an error or a short count, never reads out */
	for (size_t n = 0; n < sizeof compound; n++) {
		uint8_t *d = dup_exact(compound, n);
		int rc = km_rtcp_validate(d, n);
		if (n == 76 || n == 156 || n == 172)
			assert_int_equal(rc, n == 76 ? 1 : n == 156 ? 2 : 3);
		else
			assert_true(rc < 0);
		free(d);
	}
	c[0] = 0x42; /* version 1 */
	assert_int_equal(km_rtcp_validate(c, sizeof c), KM_RTCP_EVERSION);
	memcpy(c, compound, sizeof c);
	c[3] = 19; /* SR length says 80 bytes: the RR header is misread */
	assert_true(km_rtcp_validate(c, sizeof c) < 0);
	memcpy(c, compound, sizeof c);
	c[3] = 60; /* past the end */
	assert_int_equal(km_rtcp_validate(c, sizeof c), KM_RTCP_ETRUNC);
	memcpy(c, compound, sizeof c);
	c[0] |= 0x20; /* padding on the first packet */
	assert_int_equal(km_rtcp_validate(c, sizeof c), KM_RTCP_EPADDING);
	/* padding on the last packet: count in its last byte */
	const uint8_t pad[] = { 0xa0, 201, 0x00, 2, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x04 };
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, pad, sizeof pad);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(pkt.body_len, 4);
	uint8_t bad[sizeof pad];
	memcpy(bad, pad, sizeof bad);
	bad[11] = 9; /* more padding than body */
	assert_int_equal(km_rtcp_validate(bad, sizeof bad), KM_RTCP_EPADDING);
	bad[11] = 0;
	assert_int_equal(km_rtcp_validate(bad, sizeof bad), KM_RTCP_EPADDING);
	/* SR whose RC promises more blocks than its length holds */
	memcpy(c, compound, sizeof c);
	c[0] = 0x83;
	km_rtcp_iter_init(&it, c, sizeof c);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	km_rtcp_sr_t sr;
	assert_int_equal(km_rtcp_parse_sr(&pkt, &sr), KM_RTCP_EFORMAT);
	/* SDES item running past the packet; BYE reason too long */
	const uint8_t sdes[] = { 0x81, 202, 0x00, 2, 0, 0, 0, 1, 0x01, 0x09, 'a', 'b' };
	km_rtcp_iter_init(&it, sdes, sizeof sdes);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(km_rtcp_parse_sdes(&pkt), KM_RTCP_EFORMAT);
	/* SDES item type as the very last byte: no length byte to read */
	const uint8_t sdes2[] = { 0x81, 202, 0x00, 2, 0, 0, 0, 1, 0x01, 0x01, 'a', 0x05 };
	uint8_t *d = dup_exact(sdes2, sizeof sdes2);
	km_rtcp_iter_init(&it, d, sizeof sdes2);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(km_rtcp_parse_sdes(&pkt), KM_RTCP_EFORMAT);
	free(d);
	const uint8_t bye[] = { 0x81, 203, 0x00, 2, 0, 0, 0, 1, 4, 'b', 'y', 'e' };
	km_rtcp_iter_init(&it, bye, sizeof bye);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	km_rtcp_bye_t b;
	assert_int_equal(km_rtcp_parse_bye(&pkt, &b), KM_RTCP_EFORMAT);
}

static int first_fb(const uint8_t *p, size_t n, km_rtcp_fb_t *fb)
{
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, p, n);
	if (km_rtcp_next(&it, &pkt) != 1)
		return -100;
	return km_rtcp_parse_fb(&pkt, fb);
}

static int collect(uint16_t seq, void *ud)
{
	uint16_t *v = ud;
	v[1 + v[0]++] = seq;
	return v[0] >= 8 ? 42 : 0;
}

static void test_nack(void **state)
{
	/* items: PID 100 BLP 0x8001 -> 100 101 116; PID 65535 BLP 0x0003 -> 65535 0 1 */
	const uint8_t p[] = { 0x81, 205, 0x00, 4, 0, 0, 0, 1, 0, 0, 0, 2,
		0x00, 100, 0x80, 0x01, 0xff, 0xff, 0x00, 0x03 };
	uint8_t *d = dup_exact(p, sizeof p);
	km_rtcp_fb_t fb;
	assert_int_equal(first_fb(d, sizeof p, &fb), 0);
	assert_int_equal(fb.sender_ssrc, 1);
	assert_int_equal(fb.media_ssrc, 2);
	assert_int_equal(km_rtcp_nack_items(&fb), 2);
	uint16_t seqs[8];
	size_t n = 0;
	assert_int_equal(km_rtcp_nack_expand(&fb, seqs, 8, &n), 0);
	assert_int_equal(n, 6);
	const uint16_t want[] = { 100, 101, 116, 65535, 0, 1 };
	assert_memory_equal(seqs, want, sizeof want);
	assert_int_equal(km_rtcp_nack_expand(&fb, seqs, 4, &n), KM_RTCP_ENOSPACE);
	assert_int_equal(n, 4);
	assert_memory_equal(seqs, want, 4 * sizeof *seqs);
	uint16_t got[1 + 16] = { 0 };
	assert_int_equal(km_rtcp_nack_foreach(&fb, collect, got), 0);
	assert_int_equal(got[0], 6);
	assert_int_equal(got[6], 1);
	assert_int_equal(km_rtcp_parse_pli(&fb), KM_RTCP_ETYPE);
	free(d);

	/* writer round trip, with a wrap, a duplicate and a far jump */
	const uint16_t in[] = { 65530, 65531, 65535, 0, 0, 9, 500, 501, 517, 518 };
	uint8_t buf[64];
	int len = km_rtcp_write_nack(buf, sizeof buf, 7, 8, in, 10);
	assert_int_equal(len, 12 + 3 * 4); /* 65530+{1,5,6,15} | 500+{1} | 517+{1} */
	assert_int_equal(first_fb(buf, (size_t)len, &fb), 0);
	assert_int_equal(fb.media_ssrc, 8);
	uint16_t out[32];
	assert_int_equal(km_rtcp_nack_expand(&fb, out, 32, &n), 0);
	assert_int_equal(n, 8 + 1);
	assert_int_equal(out[0], 65530);
	assert_int_equal(out[3], 0);
	assert_int_equal(out[4], 9);
	assert_int_equal(out[5], 500);
	assert_int_equal(out[6], 501);
	assert_int_equal(out[7], 517);
	assert_int_equal(out[8], 518);
	assert_int_equal(km_rtcp_write_nack(buf, 23, 7, 8, in, 10), KM_RTCP_ENOSPACE);
	assert_int_equal(km_rtcp_write_nack(buf, sizeof buf, 7, 8, in, 0), KM_RTCP_EINVAL);

	/* a NACK whose FCI is not a multiple of 4 */
	const uint8_t q[] = { 0x81, 205, 0x00, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 100, 0x80, 0x01 };
	uint8_t r[sizeof q];
	memcpy(r, q, sizeof r);
	assert_int_equal(first_fb(r, sizeof r, &fb), 0);
	fb.fci_len = 3;
	assert_int_equal(km_rtcp_nack_items(&fb), KM_RTCP_EFORMAT);
	fb.fci_len = 0;
	assert_int_equal(km_rtcp_nack_expand(&fb, out, 32, &n), KM_RTCP_EFORMAT);
}

static void test_remb_round_trip(void **state)
{
	const uint32_t ssrcs[] = { 0x01020304, 0xa0b0c0d0, 7 };
	const uint64_t rates[] = { 0, 1, 0x3ffff, 0x40000, 1500000, 2500001, 1ull << 40 };
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
		int len = km_rtcp_write_remb(buf, sizeof buf, 0xabcdef01, rates[i], ssrcs, 3);
		assert_int_equal(len, 32);
		uint8_t *d = dup_exact(buf, (size_t)len);
		km_rtcp_fb_t fb;
		km_rtcp_remb_t remb;
		assert_int_equal(first_fb(d, (size_t)len, &fb), 0);
		assert_int_equal(fb.sender_ssrc, 0xabcdef01);
		assert_int_equal(fb.media_ssrc, 0);
		assert_int_equal(km_rtcp_parse_remb(&fb, &remb), 0);
		assert_int_equal(remb.num_ssrc, 3);
		assert_int_equal(remb.ssrc_count, 3);
		assert_int_equal(remb.ssrcs[1], 0xa0b0c0d0);
		/* the mantissa keeps 18 bits: exact below 2^18, else within 2^-17 */
		assert_true(remb.bitrate <= rates[i]);
		assert_true(rates[i] - remb.bitrate <= rates[i] >> 17);
		free(d);
	}
	assert_int_equal(km_rtcp_write_remb(buf, 31, 1, 1000, ssrcs, 3), KM_RTCP_ENOSPACE);
	/* hand-built: exp 63 saturates; 40 SSRCs stored up to the bound */
	uint8_t big[20 + 40 * 4];
	memset(big, 0, sizeof big);
	big[0] = 0x8f; big[1] = 206; big[3] = (uint8_t)(sizeof big / 4 - 1);
	memcpy(big + 12, "REMB", 4);
	big[16] = 40; big[17] = 0xff; big[18] = 0xff; big[19] = 0xff;
	big[20 + 39 * 4 + 3] = 9;
	km_rtcp_fb_t fb;
	km_rtcp_remb_t remb;
	assert_int_equal(first_fb(big, sizeof big, &fb), 0);
	assert_int_equal(km_rtcp_parse_remb(&fb, &remb), 0);
	assert_true(remb.bitrate == UINT64_MAX);
	assert_int_equal(remb.num_ssrc, 40);
	assert_int_equal(remb.ssrc_count, KM_RTCP_REMB_MAX_SSRC);
	big[16] = 41; /* lies about the list */
	assert_int_equal(km_rtcp_parse_remb(&fb, &remb), KM_RTCP_EFORMAT);
	big[12] = 'X';
	assert_int_equal(km_rtcp_parse_remb(&fb, &remb), KM_RTCP_ENOTREMB);
}

static void test_pli_fir(void **state)
{
	uint8_t buf[64];
	km_rtcp_fb_t fb;
	assert_int_equal(km_rtcp_write_pli(buf, sizeof buf, 5, 6), 12);
	assert_int_equal(first_fb(buf, 12, &fb), 0);
	assert_int_equal(km_rtcp_parse_pli(&fb), 0);
	assert_int_equal(fb.media_ssrc, 6);
	assert_int_equal(km_rtcp_write_pli(buf, 11, 5, 6), KM_RTCP_ENOSPACE);

	/* FIR built by hand: two entries */
	const uint8_t fir[] = { 0x84, 206, 0x00, 6, 0, 0, 0, 5, 0, 0, 0, 0,
		0xaa, 0xbb, 0xcc, 0xdd, 7, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 255, 0, 0, 0 };
	uint8_t *d = dup_exact(fir, sizeof fir);
	km_rtcp_fir_entry_t e;
	assert_int_equal(first_fb(d, sizeof fir, &fb), 0);
	assert_int_equal(km_rtcp_fir_count(&fb), 2);
	assert_int_equal(km_rtcp_fir_at(&fb, 1, &e), 0);
	assert_int_equal(e.ssrc, 0x11223344);
	assert_int_equal(e.seq, 255);
	assert_int_equal(km_rtcp_fir_at(&fb, 2, &e), KM_RTCP_EINVAL);
	assert_int_equal(km_rtcp_parse_pli(&fb), KM_RTCP_ETYPE);
	free(d);

	const km_rtcp_fir_entry_t in[] = { { 0xdeadbeef, 1 }, { 2, 3 }, { 4, 200 } };
	int len = km_rtcp_write_fir(buf, sizeof buf, 9, in, 3);
	assert_int_equal(len, 36);
	assert_int_equal(first_fb(buf, (size_t)len, &fb), 0);
	assert_int_equal(km_rtcp_fir_count(&fb), 3);
	assert_int_equal(km_rtcp_fir_at(&fb, 0, &e), 0);
	assert_int_equal(e.ssrc, 0xdeadbeef);
	assert_int_equal(e.seq, 1);
	assert_int_equal(km_rtcp_fir_at(&fb, 2, &e), 0);
	assert_int_equal(e.seq, 200);
	assert_int_equal(km_rtcp_write_fir(buf, 35, 9, in, 3), KM_RTCP_ENOSPACE);
}

static void test_twcc(void **state)
{
	/* base 1000, count 20, ref 0x123456, fb 7; chunks: run of 10 x small,
	 * vector 2-bit: small large none small none none none (7), run of 3 x
	 * none; deltas: 10 + 1+2+1 = 14 bytes; 40 bytes in all */
	uint8_t p[] = { 0x8f, 205, 0x00, 0, 0, 0, 0, 1, 0, 0, 0, 2,
		0x03, 0xe8, 0x00, 20, 0x12, 0x34, 0x56, 7,
		0x20, 10, 0xc0 | 0x18, 0x40, 0x00, 3,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1 };
	p[3] = (uint8_t)(sizeof p / 4 - 1);
	km_rtcp_fb_t fb;
	km_rtcp_twcc_t t;
	assert_int_equal(first_fb(p, sizeof p, &fb), 0);
	assert_int_equal(km_rtcp_parse_twcc(&fb, &t), 0);
	assert_int_equal(t.base_seq, 1000);
	assert_int_equal(t.status_count, 20);
	assert_int_equal(t.ref_time, 0x123456);
	assert_int_equal(t.fb_count, 7);
	assert_int_equal(t.chunk_count, 3);
	assert_int_equal(t.recv_count, 13);
	fb.fci_len = 8 + 6 + 13; /* one delta byte short */
	assert_int_equal(km_rtcp_parse_twcc(&fb, &t), KM_RTCP_EFORMAT);
	fb.fci_len = 8 + 5; /* chunk cut */
	assert_int_equal(km_rtcp_parse_twcc(&fb, &t), KM_RTCP_EFORMAT);
	assert_int_equal(km_rtcp_nack_items(&fb), KM_RTCP_ETYPE);
}

static void test_writers_round_trip(void **state)
{
	km_rtcp_report_t in[3] = {
		{ 1, 10, -7, 70000, 30, 0x11112222, 65536 },
		{ 2, 255, -0x900000, 1, 2, 3, 4 },  /* clamps to -0x800000 */
		{ 3, 0, 0x900000, 5, 6, 7, 8 },     /* clamps to 0x7fffff */
	};
	uint8_t buf[256];
	int rr = km_rtcp_write_rr(buf, sizeof buf, 0x99, in, 3);
	assert_int_equal(rr, 8 + 72);
	km_rtcp_sender_info_t si = { 0x77, 0x0102030405060708ull, 9, 10, 11 };
	int sr = km_rtcp_write_sr(buf + rr, sizeof buf - (size_t)rr, &si, in, 1);
	assert_int_equal(sr, 28 + 24);
	assert_int_equal(km_rtcp_validate(buf, (size_t)(rr + sr)), 2);

	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_rr_t r;
	km_rtcp_sr_t s;
	km_rtcp_report_t rb;
	km_rtcp_iter_init(&it, buf, (size_t)(rr + sr));
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(km_rtcp_parse_rr(&pkt, &r), 0);
	assert_int_equal(r.ssrc, 0x99);
	assert_int_equal(km_rtcp_report_at(&r.blocks, 0, &rb), 0);
	assert_int_equal(rb.ssrc, 1);
	assert_int_equal(rb.fraction_lost, 10);
	assert_int_equal(rb.cumulative_lost, -7);
	assert_int_equal(rb.ext_highest_seq, 70000);
	assert_int_equal(rb.jitter, 30);
	assert_int_equal(rb.lsr, 0x11112222);
	assert_int_equal(rb.dlsr, 65536);
	assert_int_equal(km_rtcp_report_at(&r.blocks, 1, &rb), 0);
	assert_int_equal(rb.cumulative_lost, -0x800000);
	assert_int_equal(rb.fraction_lost, 255);
	assert_int_equal(km_rtcp_report_at(&r.blocks, 2, &rb), 0);
	assert_int_equal(rb.cumulative_lost, 0x7fffff);
	assert_int_equal(km_rtcp_next(&it, &pkt), 1);
	assert_int_equal(km_rtcp_parse_sr(&pkt, &s), 0);
	assert_int_equal(s.info.ssrc, 0x77);
	assert_true(s.info.ntp == 0x0102030405060708ull);
	assert_int_equal(s.info.rtp_ts, 9);
	assert_int_equal(s.info.packet_count, 10);
	assert_int_equal(s.info.octet_count, 11);
	assert_int_equal(s.blocks.count, 1);
	assert_int_equal(km_rtcp_report_at(&s.blocks, 0, &rb), 0);
	assert_int_equal(rb.cumulative_lost, -7);

	assert_int_equal(km_rtcp_write_rr(buf, 79, 1, in, 3), KM_RTCP_ENOSPACE);
	assert_int_equal(km_rtcp_write_rr(buf, sizeof buf, 1, in, 32), KM_RTCP_EINVAL);
	assert_int_equal(km_rtcp_write_rr(buf, 8, 1, NULL, 0), 8);
	assert_int_equal(km_rtcp_write_sr(buf, 51, &si, in, 1), KM_RTCP_ENOSPACE);
}

static void test_strerror(void **state)
{
	for (int c = KM_RTCP_ENOTREMB; c <= 0; c++)
		assert_string_not_equal(km_rtcp_strerror(c), "rtcp: unknown error");
	assert_string_equal(km_rtcp_strerror(5), "rtcp: unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compound),
		cmocka_unit_test(test_compound_errors),
		cmocka_unit_test(test_nack),
		cmocka_unit_test(test_remb_round_trip),
		cmocka_unit_test(test_pli_fir),
		cmocka_unit_test(test_twcc),
		cmocka_unit_test(test_writers_round_trip),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
