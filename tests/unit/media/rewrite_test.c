/* rewrite_test.c — unit tests of media/rewrite: per-subscriber SSRC, payload
 * type, sequence and timestamp rewriting across source switches, dropping of
 * packets older than a switch, and NACK mapping back to source seqs. Every
 * rewritten packet is checked by parsing it again with km_rtp_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/rewrite.h"
#include "media/rtp.h"

#define OUT_SSRC 0xc0ffee01u
#define OUT_PT 102
#define LEN 40

typedef struct {
	uint8_t pkt[LEN];
	km_rtp_t in;  /* the source packet as parsed */
	km_rtp_t out; /* after rewriting, parsed again */
	int rc;
} fwd_t;

/* Builds a source packet (M=1, PT 96, the given header fields, a payload
 * pattern), rewrites it, and parses the result into f->out. */
static void forward(km_rewrite_t *rw, fwd_t *f, uint32_t ssrc, uint16_t seq, uint32_t ts,
	int64_t now_us)
{
	uint8_t *p = f->pkt;
	p[0] = 0x80;
	p[1] = 0x80 | 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	for (size_t i = 12; i < LEN; i++)
		p[i] = (uint8_t)i;
	assert_int_equal(km_rtp_parse(p, LEN, &f->in), 0);
	f->rc = km_rewrite_apply(rw, p, LEN, &f->in, now_us);
	assert_int_equal(km_rtp_parse(p, LEN, &f->out), 0);
	if (f->rc == 0) {
		assert_int_equal(f->out.ssrc, OUT_SSRC);
		assert_int_equal(f->out.pt, OUT_PT);
		assert_true(f->out.marker);
		for (size_t i = 12; i < LEN; i++)
			assert_int_equal(p[i], (uint8_t)i);
	}
}

static void test_init_args(void **state)
{
	km_rewrite_t rw;
	assert_int_equal(km_rewrite_init(&rw, 1, 128, 90000), KM_RTP_EINVAL);
	assert_int_equal(km_rewrite_init(&rw, 1, 96, 0), KM_RTP_EINVAL);
	assert_int_equal(km_rewrite_init(NULL, 1, 96, 90000), KM_RTP_EINVAL);
	assert_int_equal(km_rewrite_init(&rw, 1, 96, 90000), 0);
	uint16_t in;
	assert_int_equal(km_rewrite_map_nack(&rw, 0, &in), -1); /* nothing sent */
	uint8_t p[8] = { 0x80 };
	km_rtp_t r = { .len = 8 };
	assert_int_equal(km_rewrite_apply(&rw, p, 8, &r, 0), KM_RTP_ETRUNC);
	r.len = 7;
	assert_int_equal(km_rewrite_apply(&rw, p, 8, &r, 0), KM_RTP_EINVAL);
}

/* One source: SSRC and PT rewritten, seq and ts pass through unchanged. */
static void test_single_source(void **state)
{
	km_rewrite_t rw;
	fwd_t f;
	assert_int_equal(km_rewrite_init(&rw, OUT_SSRC, OUT_PT, 90000), 0);
	for (uint16_t i = 0; i < 10; i++) {
		forward(&rw, &f, 0x1111, (uint16_t)(500 + i), 3000u * i, 33333 * i);
		assert_int_equal(f.rc, 0);
		assert_int_equal(f.out.seq, 500 + i);
		assert_int_equal(f.out.ts, 3000u * i);
	}
}

/* Two switches (A -> B -> C, B's seq wrapping 65535 -> 0): the out seq
 * stays contiguous, the out ts keeps increasing by about the wall time. */
static void test_two_switches(void **state)
{
	km_rewrite_t rw;
	fwd_t f;
	assert_int_equal(km_rewrite_init(&rw, OUT_SSRC, OUT_PT, 90000), 0);
	uint16_t want_seq = 0;
	uint32_t last_ts = 0;
	int64_t now = 1000000;
	int n = 0;
	const struct { uint32_t ssrc; uint16_t seq0; uint32_t ts0; } src[3] = {
		{ 0xaaaa, 1000, 77777 }, { 0xbbbb, 65530, 0xfffff000u }, { 0xcccc, 42, 5 },
	};
	for (int s = 0; s < 3; s++) {
		for (uint16_t i = 0; i < 20; i++, n++, now += 33333) {
			forward(&rw, &f, src[s].ssrc, (uint16_t)(src[s].seq0 + i),
				src[s].ts0 + 3000u * i, now);
			assert_int_equal(f.rc, 0);
			if (n == 0) {
				want_seq = f.out.seq;
			} else {
				uint32_t d = f.out.ts - last_ts; /* modulo 2^32 */
				if (i == 0) /* a switch: 33.333 ms at 90 kHz */
					assert_int_equal(d, 2999);
				else
					assert_int_equal(d, 3000);
			}
			assert_int_equal(f.out.seq, want_seq);
			want_seq++;
			last_ts = f.out.ts;
		}
	}
}

/* After a switch, packets of the new source older than its first one are
 * dropped and leave the packet untouched; later reordering is fine. */
static void test_drop_before_switch(void **state)
{
	km_rewrite_t rw;
	fwd_t f;
	assert_int_equal(km_rewrite_init(&rw, OUT_SSRC, OUT_PT, 48000), 0);
	for (uint16_t i = 0; i < 5; i++)
		forward(&rw, &f, 1, (uint16_t)(10 + i), 960u * i, 20000 * i);
	forward(&rw, &f, 2, 300, 9000, 100000);
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.out.seq, 15);
	forward(&rw, &f, 2, 299, 8040, 100100);
	assert_int_equal(f.rc, 1);
	assert_int_equal(f.out.ssrc, 2);  /* untouched */
	assert_int_equal(f.out.seq, 299);
	forward(&rw, &f, 2, 250, 0, 100200);
	assert_int_equal(f.rc, 1);
	forward(&rw, &f, 2, 302, 10920, 140000);
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.out.seq, 17);
	uint32_t ts17 = f.out.ts;
	forward(&rw, &f, 2, 301, 9960, 140100); /* late but after the switch */
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.out.seq, 16);
	assert_int_equal(f.out.ts, ts17 - 960u);
	forward(&rw, &f, 2, 303, 11880, 160000);
	assert_int_equal(f.out.seq, 18); /* the late one did not move last_out */
}

/* A gap in wall time is carried into the timestamp at the switch; a
 * backwards clock gives the minimum step of 1. */
static void test_ts_gap(void **state)
{
	km_rewrite_t rw;
	fwd_t f;
	assert_int_equal(km_rewrite_init(&rw, OUT_SSRC, OUT_PT, 90000), 0);
	forward(&rw, &f, 1, 7, 1000, 5000000);
	uint32_t t0 = f.out.ts;
	forward(&rw, &f, 2, 9999, 123, 5000000 + 2000000); /* 2 s later */
	assert_int_equal(f.out.ts - t0, 180000u);
	uint32_t t1 = f.out.ts;
	forward(&rw, &f, 3, 1, 55, 1000); /* clock went back */
	assert_int_equal(f.out.ts - t1, 1u);
}

/* NACKed out seqs map back to the current source's seqs (the ring's keys);
 * seqs from before the switch, or never sent, do not map. */
static void test_nack_map(void **state)
{
	km_rewrite_t rw;
	fwd_t f;
	uint16_t in;
	assert_int_equal(km_rewrite_init(&rw, OUT_SSRC, OUT_PT, 90000), 0);
	for (uint16_t i = 0; i < 10; i++)
		forward(&rw, &f, 0xaaaa, (uint16_t)(65530 + i), 3000u * i, 33333 * i);
	assert_int_equal(km_rewrite_map_nack(&rw, 65531, &in), 0);
	assert_int_equal(in, 65531);
	assert_int_equal(km_rewrite_map_nack(&rw, 3, &in), 0); /* wrapped */
	assert_int_equal(in, 3);
	uint16_t last_a = f.out.seq;
	assert_int_equal(km_rewrite_map_nack(&rw, (uint16_t)(last_a + 1), &in), -1);

	for (uint16_t i = 0; i < 10; i++) {
		forward(&rw, &f, 0xbbbb, (uint16_t)(4000 + i), 3000u * i, 400000 + 33333 * i);
		assert_int_equal(f.rc, 0);
		/* round trip: the out seq just sent maps to its source seq */
		assert_int_equal(km_rewrite_map_nack(&rw, f.out.seq, &in), 0);
		assert_int_equal(in, f.in.seq);
	}
	assert_int_equal(km_rewrite_map_nack(&rw, (uint16_t)(last_a + 1), &in), 0);
	assert_int_equal(in, 4000);
	assert_int_equal(km_rewrite_map_nack(&rw, last_a, &in), -1);  /* source A */
	assert_int_equal(km_rewrite_map_nack(&rw, 65531, &in), -1);
	assert_int_equal(km_rewrite_map_nack(&rw, (uint16_t)(f.out.seq + 1), &in), -1);
	assert_int_equal(km_rewrite_map_nack(&rw, (uint16_t)(f.out.seq + 30000), &in), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_args),
		cmocka_unit_test(test_single_source),
		cmocka_unit_test(test_two_switches),
		cmocka_unit_test(test_drop_before_switch),
		cmocka_unit_test(test_ts_gap),
		cmocka_unit_test(test_nack_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
