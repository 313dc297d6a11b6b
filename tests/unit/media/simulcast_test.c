/* simulcast_test.c — the pure parts of simulcast: the VP8 payload
 * descriptor and key frame test (every optional field, truncation at each
 * of them), the continuity of picture numbers across switches, the layer
 * choice (0.9 x estimate, ranking by width or offer order, no estimate),
 * the periodic decision (down at once, up after two, probing with its
 * success, failures and back-off) and the packet-path switch on a key
 * frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/simulcast.h"

/* A VP8 key frame header: frame tag (P bit 0), start code, 640x360. */
#define KEY_HDR 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01

/* ---- descriptor and key frames ---- */

static void test_minimal_descriptor(void **state)
{
	const uint8_t key[] = { 0x10, KEY_HDR, 0xaa };
	km_simulcast_vp8_t d;
	assert_int_equal(km_simulcast_vp8_parse(key, sizeof key, &d), 0);
	assert_int_equal(d.desc_len, 1);
	assert_true(d.start);
	assert_true(d.keyframe);
	assert_int_equal(d.width, 640);
	assert_int_equal(d.height, 360);
	assert_false(d.has_picture_id);
	assert_int_equal(km_simulcast_vp8_keyframe(key, sizeof key), 1);

	const uint8_t delta[] = { 0x10, 0x51, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01 }; /* P = 1 */
	assert_int_equal(km_simulcast_vp8_parse(delta, sizeof delta, &d), 0);
	assert_true(d.start);
	assert_false(d.keyframe);
	assert_int_equal(d.width, 0);
	const uint8_t cont[] = { 0x00, KEY_HDR }; /* S = 0: a later packet of a frame */
	assert_int_equal(km_simulcast_vp8_keyframe(cont, sizeof cont), 0);
	const uint8_t part1[] = { 0x11, KEY_HDR }; /* partition 1 */
	assert_int_equal(km_simulcast_vp8_parse(part1, sizeof part1, &d), 0);
	assert_int_equal(d.pid, 1);
	assert_false(d.start);
	assert_false(d.keyframe);
	const uint8_t badcode[] = { 0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0x68, 0x01 };
	assert_int_equal(km_simulcast_vp8_keyframe(badcode, sizeof badcode), 0);
	const uint8_t shortkey[] = { 0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68 };
	assert_int_equal(km_simulcast_vp8_keyframe(shortkey, sizeof shortkey), 0);
}

static void test_full_descriptor(void **state)
{
	/* X; I (15-bit 0x1234), L (tl0 0x56), T and K (tid 2, Y, keyidx 9) */
	const uint8_t p[] = { 0xb0, 0xf0, 0x92, 0x34, 0x56, 0xa9, KEY_HDR };
	km_simulcast_vp8_t d;
	assert_int_equal(km_simulcast_vp8_parse(p, sizeof p, &d), 0);
	assert_int_equal(d.desc_len, 6);
	assert_true(d.non_ref);
	assert_true(d.has_picture_id);
	assert_int_equal(d.picture_id_len, 2);
	assert_int_equal(d.picture_id, 0x1234);
	assert_true(d.has_tl0picidx);
	assert_int_equal(d.tl0picidx, 0x56);
	assert_true(d.has_tid);
	assert_int_equal(d.tid, 2);
	assert_true(d.layer_sync);
	assert_true(d.has_keyidx);
	assert_int_equal(d.keyidx, 9);
	assert_true(d.keyframe);
	assert_int_equal(d.width, 640);

	/* 7-bit picture id, T without K, no L */
	const uint8_t q[] = { 0x90, 0xa0, 0x45, 0x40, 0x31 };
	assert_int_equal(km_simulcast_vp8_parse(q, sizeof q, &d), 0);
	assert_int_equal(d.desc_len, 4);
	assert_int_equal(d.picture_id_len, 1);
	assert_int_equal(d.picture_id, 0x45);
	assert_false(d.has_tl0picidx);
	assert_int_equal(d.tid, 1);
	assert_false(d.has_keyidx);
	assert_false(d.keyframe); /* the P bit of 0x31 */
	/* K without T: the byte is there, tid is not */
	const uint8_t k[] = { 0x80, 0x10, 0x1f, 0x00 };
	assert_int_equal(km_simulcast_vp8_parse(k, sizeof k, &d), 0);
	assert_false(d.has_tid);
	assert_int_equal(d.keyidx, 31);
	assert_int_equal(d.desc_len, 3);
}

static void test_truncated_descriptors(void **state)
{
	const uint8_t p[] = { 0xb0, 0xf0, 0x92, 0x34, 0x56, 0xa9, 0x00 };
	km_simulcast_vp8_t d;
	/* cut inside every optional field: truncated; right after it: empty */
	for (size_t n = 0; n < 6; n++)
		assert_int_equal(km_simulcast_vp8_parse(p, n, &d), KM_SIMULCAST_ETRUNC);
	assert_int_equal(km_simulcast_vp8_parse(p, 6, &d), KM_SIMULCAST_EEMPTY);
	assert_int_equal(km_simulcast_vp8_parse(p, 7, &d), 0);
	const uint8_t one[] = { 0x10 };
	assert_int_equal(km_simulcast_vp8_parse(one, 1, &d), KM_SIMULCAST_EEMPTY);
	assert_int_equal(km_simulcast_vp8_keyframe(one, 1), 0);
	assert_int_equal(km_simulcast_vp8_parse(NULL, 3, &d), KM_SIMULCAST_EINVAL);
	assert_int_equal(km_simulcast_vp8_parse(p, 3, NULL), KM_SIMULCAST_EINVAL);
	assert_string_equal(km_simulcast_strerror(KM_SIMULCAST_ETRUNC), "VP8 payload descriptor truncated");
}

/* ---- picture numbers across switches ---- */

static void vp8_pkt(uint8_t *p, uint16_t pid, uint8_t tl0, uint8_t keyidx)
{
	const uint8_t b[] = { 0x90, 0xd0, (uint8_t)(0x80 | pid >> 8), (uint8_t)pid, tl0, keyidx, 0x01 };
	memcpy(p, b, sizeof b);
}

static void expect_pkt(const uint8_t *p, uint16_t pid, uint8_t tl0, uint8_t keyidx)
{
	km_simulcast_vp8_t d;
	assert_int_equal(km_simulcast_vp8_parse(p, 7, &d), 0);
	assert_int_equal(d.picture_id, pid);
	assert_int_equal(d.tl0picidx, tl0);
	assert_int_equal(d.keyidx, keyidx);
}

static void test_picture_numbers_continue(void **state)
{
	km_simulcast_vp8_map_t m;
	uint8_t p[7];
	km_simulcast_vp8_map_init(&m);
	/* the first source goes out as it is */
	vp8_pkt(p, 100, 7, 3);
	assert_int_equal(km_simulcast_vp8_map(&m, 0, p, sizeof p), 0);
	expect_pkt(p, 100, 7, 3);
	vp8_pkt(p, 101, 8, 3);
	km_simulcast_vp8_map(&m, 0, p, sizeof p);
	expect_pkt(p, 101, 8, 3);
	vp8_pkt(p, 99, 6, 3); /* a late packet does not move the newest */
	km_simulcast_vp8_map(&m, 0, p, sizeof p);
	expect_pkt(p, 99, 6, 3);
	/* a switch to layer 1, whose encoder counts elsewhere: follows 101 */
	vp8_pkt(p, 0x7ffe, 250, 30);
	assert_int_equal(km_simulcast_vp8_map(&m, 1, p, sizeof p), 0);
	expect_pkt(p, 102, 9, 4);
	vp8_pkt(p, 0x7fff, 251, 30);
	km_simulcast_vp8_map(&m, 1, p, sizeof p);
	expect_pkt(p, 103, 10, 4);
	vp8_pkt(p, 0, 252, 31); /* the source wraps; the output goes on */
	km_simulcast_vp8_map(&m, 1, p, sizeof p);
	expect_pkt(p, 104, 11, 5);
	/* and back to layer 0, far ahead now */
	vp8_pkt(p, 150, 30, 3);
	km_simulcast_vp8_map(&m, 0, p, sizeof p);
	expect_pkt(p, 105, 12, 6);
	/* the source's first packet after a reset (new publisher) follows too */
	m.src = -1;
	vp8_pkt(p, 5000, 1, 0);
	km_simulcast_vp8_map(&m, 0, p, sizeof p);
	expect_pkt(p, 106, 13, 7);
	/* other bits of the K byte are kept */
	vp8_pkt(p, 5001, 1, 0xc0);
	km_simulcast_vp8_map(&m, 0, p, sizeof p);
	assert_int_equal(p[5], 0xc7);
	/* a malformed payload is left alone */
	uint8_t bad[3] = { 0x90, 0xe0, 0x92 };
	assert_int_equal(km_simulcast_vp8_map(&m, 0, bad, sizeof bad), KM_SIMULCAST_ETRUNC);
	assert_int_equal(bad[2], 0x92);
	assert_int_equal(km_simulcast_vp8_map(&m, -1, p, sizeof p), KM_SIMULCAST_EINVAL);
}

static void test_short_picture_ids_wrap(void **state)
{
	km_simulcast_vp8_map_t m;
	km_simulcast_vp8_map_init(&m);
	uint8_t a[] = { 0x90, 0x80, 0x7f, 0x00 }; /* 7-bit 127 */
	km_simulcast_vp8_map(&m, 0, a, sizeof a);
	uint8_t b[] = { 0x90, 0x80, 0x05, 0x00 }; /* layer 1 at 5: follows as 0 (128 mod 128) */
	km_simulcast_vp8_map(&m, 1, b, sizeof b);
	assert_int_equal(b[2], 0x00);
	uint8_t c[] = { 0x90, 0x80, 0x06, 0x00 };
	km_simulcast_vp8_map(&m, 1, c, sizeof c);
	assert_int_equal(c[2], 0x01);
	uint8_t none[] = { 0x10, 0x01 }; /* no extension: nothing to rewrite */
	assert_int_equal(km_simulcast_vp8_map(&m, 1, none, sizeof none), 0);
	assert_int_equal(none[0], 0x10);
	assert_int_equal(none[1], 0x01);
}

/* ---- the layer choice ---- */

static void test_choose(void **state)
{
	km_simulcast_layer_t l[3] = { { 150000, 0 }, { 500000, 0 }, { 1500000, 0 } };
	assert_int_equal(km_simulcast_choose(l, 3, 0), 0); /* no estimate: the lowest */
	assert_int_equal(km_simulcast_choose(l, 3, 2000000), 2);
	assert_int_equal(km_simulcast_choose(l, 3, 1666667), 2); /* 0.9 x 1666667 >= 1500000 */
	assert_int_equal(km_simulcast_choose(l, 3, 1666666), 1);
	assert_int_equal(km_simulcast_choose(l, 3, 600000), 1);
	assert_int_equal(km_simulcast_choose(l, 3, 100000), 0); /* nothing fits: the lowest */
	l[0].bps = 0; /* a layer that does not send is never chosen */
	assert_int_equal(km_simulcast_choose(l, 3, 100000), 1);
	assert_int_equal(km_simulcast_choose(l, 3, 0), 1);
	l[1].bps = l[2].bps = 0;
	assert_int_equal(km_simulcast_choose(l, 3, 5000000), -1);
	assert_int_equal(km_simulcast_choose(l, 0, 5000000), -1);
	assert_int_equal(km_simulcast_choose(NULL, 3, 5000000), -1);
	assert_int_equal(km_simulcast_choose(l, 3, UINT64_MAX), -1);
	/* an offer listing high to low: ranked by the widths once known */
	km_simulcast_layer_t r[3] = { { 1500000, 1280 }, { 500000, 640 }, { 150000, 320 } };
	assert_int_equal(km_simulcast_choose(r, 3, 0), 2);
	assert_int_equal(km_simulcast_choose(r, 3, 700000), 1);
	assert_int_equal(km_simulcast_choose(r, 3, UINT64_MAX), 0);
	assert_true(km_simulcast_below(r, 2, 0));
	assert_false(km_simulcast_below(r, 0, 2));
	r[0].width = 0; /* a width unknown: offer order */
	assert_true(km_simulcast_below(r, 0, 2));
}

static void test_accept_switches_on_keyframe(void **state)
{
	km_simulcast_sel_t s;
	km_simulcast_sel_init(&s);
	assert_false(km_simulcast_accept(&s, 0, true)); /* nothing wanted yet */
	s.want = 0;
	assert_false(km_simulcast_accept(&s, 0, false)); /* waits for a key frame */
	assert_false(km_simulcast_accept(&s, 1, true));  /* of the wanted layer */
	assert_true(km_simulcast_accept(&s, 0, true));
	assert_int_equal(s.cur, 0);
	assert_true(km_simulcast_accept(&s, 0, false));
	s.want = 1;
	assert_false(km_simulcast_accept(&s, 1, false));
	assert_true(km_simulcast_accept(&s, 0, false)); /* the old layer until then */
	assert_false(km_simulcast_accept(&s, 2, true));
	assert_true(km_simulcast_accept(&s, 1, true));
	assert_int_equal(s.cur, 1);
	assert_false(km_simulcast_accept(&s, 0, false));
	assert_false(km_simulcast_accept(&s, -1, true));
}

static void on(km_simulcast_sel_t *s, int layer)
{
	s->cur = s->want = (int8_t)layer;
}

static void test_decide_hysteresis(void **state)
{
	km_simulcast_layer_t l[3] = { { 150000, 320 }, { 500000, 640 }, { 1500000, 1280 } };
	km_simulcast_sel_t s;
	km_simulcast_sel_init(&s);
	/* nothing sending: nothing decided */
	km_simulcast_layer_t none[3] = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
	assert_false(km_simulcast_decide(&s, none, 3, 0, 0));
	assert_int_equal(s.want, -1);
	/* no estimate: the lowest, and a key frame is wanted */
	assert_true(km_simulcast_decide(&s, l, 3, 0, 0));
	assert_int_equal(s.want, 0);
	on(&s, 0);
	/* the top fits: up only at the second decision in a row */
	assert_false(km_simulcast_decide(&s, l, 3, 2000000, 0));
	assert_int_equal(s.want, 0);
	assert_true(km_simulcast_decide(&s, l, 3, 2000000, 0));
	assert_int_equal(s.want, 2);
	on(&s, 2);
	/* down at once */
	assert_true(km_simulcast_decide(&s, l, 3, 600000, 0));
	assert_int_equal(s.want, 1);
	/* the current layer fits again before the switch: stay */
	assert_false(km_simulcast_decide(&s, l, 3, 2000000, 0));
	assert_int_equal(s.want, 2);
	/* a fit interrupted does not count */
	on(&s, 0);
	assert_false(km_simulcast_decide(&s, l, 3, 600000, 0));
	assert_false(km_simulcast_decide(&s, l, 3, 100000, 0));
	assert_false(km_simulcast_decide(&s, l, 3, 600000, 0));
	assert_int_equal(s.want, 0);
	assert_true(km_simulcast_decide(&s, l, 3, 600000, 0));
	assert_int_equal(s.want, 1);
	/* the layer received stops sending: away from it at once */
	on(&s, 2);
	l[2].bps = 0;
	assert_true(km_simulcast_decide(&s, l, 3, 5000000, 0));
	assert_int_equal(s.want, 1);
}

static void test_probe_succeeds(void **state)
{
	/* Chrome's REMB sits at ~1.5 x what it receives: h never "fits" f */
	km_simulcast_layer_t l[2] = { { 130000, 320 }, { 260000, 640 } };
	km_simulcast_sel_t s;
	km_simulcast_sel_init(&s);
	on(&s, 0);
	assert_false(km_simulcast_decide(&s, l, 2, 205000, 130000)); /* capped: 1 */
	assert_false(s.probing);
	assert_true(km_simulcast_decide(&s, l, 2, 205000, 130000)); /* 2: probe f */
	assert_true(s.probing);
	assert_int_equal(s.want, 1);
	on(&s, 1);
	/* held while the estimate rises, although f does not fit yet */
	assert_false(km_simulcast_decide(&s, l, 2, 220000, 260000));
	assert_false(km_simulcast_decide(&s, l, 2, 240000, 260000));
	assert_int_equal(s.want, 1);
	assert_true(s.probing);
	/* fits twice in a row: on f for good */
	assert_false(km_simulcast_decide(&s, l, 2, 300000, 260000));
	assert_true(s.probing);
	assert_false(km_simulcast_decide(&s, l, 2, 320000, 260000));
	assert_false(s.probing);
	assert_int_equal(s.want, 1);
	/* no probing without the top ... */
	assert_false(km_simulcast_decide(&s, l, 2, 420000, 260000));
	assert_false(s.probing);
	/* ... nor without knowing what is sent, nor below 1.3 x that */
	on(&s, 0);
	km_simulcast_sel_t t = s;
	for (int i = 0; i < 5; i++) {
		assert_false(km_simulcast_decide(&s, l, 2, 205000, 0));
		assert_false(km_simulcast_decide(&t, l, 2, 160000, 130000));
	}
	assert_false(s.probing || t.probing);
}

static void test_probe_fails_and_backs_off(void **state)
{
	km_simulcast_layer_t l[2] = { { 130000, 320 }, { 260000, 640 } };
	km_simulcast_sel_t s;
	km_simulcast_sel_init(&s);
	on(&s, 0);
	km_simulcast_decide(&s, l, 2, 205000, 130000);
	assert_true(km_simulcast_decide(&s, l, 2, 205000, 130000));
	on(&s, 1);
	/* the receiver sees congestion: its estimate falls by more than 10 % */
	assert_true(km_simulcast_decide(&s, l, 2, 180000, 260000));
	assert_false(s.probing);
	assert_int_equal(s.want, 0);
	on(&s, 0);
	/* blocked for KM_SIMULCAST_PROBE_BLOCK decisions */
	int n = 0;
	while (!km_simulcast_decide(&s, l, 2, 205000, 130000) && n < 100)
		n++;
	assert_int_equal(n, KM_SIMULCAST_PROBE_BLOCK);
	assert_true(s.probing);
	on(&s, 1);
	/* the estimate never catches up: given up after KM_SIMULCAST_PROBE_HOLD */
	n = 0;
	while (!km_simulcast_decide(&s, l, 2, 205000, 260000) && n < 100)
		n++;
	assert_int_equal(n, KM_SIMULCAST_PROBE_HOLD - 1);
	assert_int_equal(s.want, 0);
	on(&s, 0);
	/* twice as long now */
	n = 0;
	while (!km_simulcast_decide(&s, l, 2, 205000, 130000) && n < 100)
		n++;
	assert_int_equal(n, 2 * KM_SIMULCAST_PROBE_BLOCK);
	/* a probed layer that stops sending ends the probe at once */
	on(&s, 1);
	l[1].bps = 0;
	assert_true(km_simulcast_decide(&s, l, 2, 400000, 130000));
	assert_int_equal(s.want, 0);
	assert_false(s.probing);
	assert_int_equal(s.probe_backoff, KM_SIMULCAST_PROBE_BLOCK_MAX < 8 * KM_SIMULCAST_PROBE_BLOCK
					     ? KM_SIMULCAST_PROBE_BLOCK_MAX : 8 * KM_SIMULCAST_PROBE_BLOCK);
	/* the back-off stops growing at its maximum */
	for (int i = 0; i < 10; i++) {
		s.probing = true;
		s.want = 1;
		km_simulcast_decide(&s, l, 2, 400000, 130000);
	}
	assert_int_equal(s.probe_backoff, KM_SIMULCAST_PROBE_BLOCK_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_descriptor),
		cmocka_unit_test(test_full_descriptor),
		cmocka_unit_test(test_truncated_descriptors),
		cmocka_unit_test(test_picture_numbers_continue),
		cmocka_unit_test(test_short_picture_ids_wrap),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_accept_switches_on_keyframe),
		cmocka_unit_test(test_decide_hysteresis),
		cmocka_unit_test(test_probe_succeeds),
		cmocka_unit_test(test_probe_fails_and_backs_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
