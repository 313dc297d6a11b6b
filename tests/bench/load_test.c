/* load_test.c — unit tests of the load client's own parts: the delay
 * histogram and its percentiles, the replayed packets (header fields, the
 * stamp and its sequence, keyframe on request), loss counting over a window
 * from the stamp sequences, and the Janus VideoRoom messages it builds and
 * parses. No network. Built by tests/bench/build.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "media/rtp.h"
#include "media/wire.h"
#include "tests/bench/load.h"

#include <stdlib.h>
#include <string.h>

/* load.c is not linked: the hooks load_media.c calls. */
void ld_proto_candidate(ld_part_t *p, ld_conn_t *c, const char *cand) {}
void ld_proto_state(ld_part_t *p, ld_conn_t *c) {}
void ld_fail(ld_part_t *p, const char *fmt, ...) {}
void ld_log(ld_t *l, const char *fmt, ...) {}

static void hist_percentiles(void **state)
{
	uint64_t h[LD_HIST] = { 0 };
	assert_int_equal(ld_hist_pct(h, 50), 0);
	for (int us = 1; us <= 1000; us++)
		h[ld_hist_bucket(us * 100)]++; /* 0.1 .. 100 ms, uniform */
	int64_t p50 = ld_hist_pct(h, 50), p99 = ld_hist_pct(h, 99);
	assert_in_range(p50, 50000 * 98 / 100, 50000 * 103 / 100);
	assert_in_range(p99, 99000 * 98 / 100, 99000 * 103 / 100);
	assert_true(ld_hist_bucket(-5) == 0);
	assert_true(ld_hist_bucket(INT64_MAX / 2) == LD_HIST - 1);
	assert_true(ld_hist_bucket(2000) > ld_hist_bucket(1000));
}

typedef struct {
	uint8_t pkt[64][KM_CONN_MAX_PACKET];
	size_t len[64];
	int n;
} sink_t;

static void sink(void *ud, uint8_t *p, size_t len, size_t cap)
{
	sink_t *s = ud;
	assert_true(cap >= len + KM_CONN_SEND_SLACK);
	if (s->n < 64) {
		memcpy(s->pkt[s->n], p, len);
		s->len[s->n++] = len;
	}
}

static ld_src_t src;

static int record(void **state)
{
	return ld_src_record(&src, 64, 48, 10, 200, 2, 10);
}

static int unrecord(void **state)
{
	ld_src_free(&src);
	return 0;
}

static void replay_headers_and_stamps(void **state)
{
	sink_t *s = calloc(1, sizeof *s);
	ld_tx_t t = { .ssrc = 0x11223344, .pt = 96, .seq = 65535, .ts = 1000, .stamp_seq = 7 };
	assert_int_equal(src.nframes, 20);
	assert_true(src.frames[0].key && src.frames[10].key && !src.frames[1].key);
	int n = ld_src_video(&src, &t, 123456789, sink, s);
	assert_true(n >= 1 && n == s->n);
	for (int i = 0; i < n; i++) {
		km_rtp_t r;
		assert_int_equal(km_rtp_parse(s->pkt[i], s->len[i], &r), 0);
		assert_int_equal(r.ssrc, 0x11223344);
		assert_int_equal(r.pt, 96);
		assert_int_equal(r.seq, (uint16_t)(65535 + i)); /* wraps */
		assert_int_equal(r.ts, 1000);
		assert_int_equal(r.marker, i == n - 1);
		assert_true(r.padding && r.pad_len == KM_PEER_STAMP_LEN);
		const uint8_t *st = s->pkt[i] + s->len[i] - KM_PEER_STAMP_LEN;
		assert_int_equal(km_wire_ld64(st), 123456789);
		assert_int_equal(km_wire_ld32(st + 8), 7 + i);
	}
	assert_int_equal(t.stamp_seq, 7 + n);
	assert_int_equal(t.ts, 1000 + 9000);
	assert_int_equal(t.pos, 1);
	free(s);
}

static void keyframe_on_request(void **state)
{
	sink_t *s = calloc(1, sizeof *s);
	ld_tx_t t = { .ssrc = 1, .pt = 96 };
	for (int i = 0; i < 13; i++)
		ld_src_video(&src, &t, 0, sink, s);
	assert_int_equal(t.pos, 13);
	t.want_key = true;
	s->n = 0;
	ld_src_video(&src, &t, 0, sink, s);
	assert_int_equal(t.pos, 11); /* played frame 10, the last keyframe */
	assert_int_equal(s->pkt[0][16] & 1, 0); /* VP8 payload header: keyframe */
	assert_false(t.want_key);
	free(s);
}

static void audio_packets(void **state)
{
	sink_t *s = calloc(1, sizeof *s);
	ld_tx_t t = { .ssrc = 5, .pt = 111, .ts = 0 };
	for (int i = 0; i < 51; i++)
		ld_src_audio(&src, &t, i, sink, s);
	assert_int_equal(t.ts, 51 * 960);
	assert_int_equal(t.pos, 1); /* 50 packets loop */
	assert_int_equal(t.packets, 51);
	free(s);
}

static void window_loss(void **state)
{
	ld_conn_t *c = calloc(1, sizeof *c);
	c->nrx = 3;
	/* flowing: 100 stamps advanced, 97 received */
	c->rx[0] = (ld_rx_t){ .started = true, .video = true, .packets = 500, .stamp_hi = 499 };
	/* stalled: nothing during the window */
	c->rx[1] = (ld_rx_t){ .started = true, .video = false, .packets = 80, .stamp_hi = 79 };
	/* wraps around 2^32 */
	c->rx[2] = (ld_rx_t){ .started = true, .video = false, .packets = 10, .stamp_hi = 0xfffffff0u };
	ld_conn_window_start(c);
	c->rx[0].packets += 97;
	c->rx[0].stamp_hi += 100;
	c->rx[2].packets += 32;
	c->rx[2].stamp_hi += 32;
	ld_window_t w = { 0 };
	ld_conn_window_end(c, &w);
	assert_int_equal(w.expected, 132);
	assert_int_equal(w.received, 129);
	assert_int_equal(w.stalled[0], 1);
	assert_int_equal(w.stalled[1], 0);
	assert_int_equal(w.flowing[1], 1);
	assert_int_equal(w.flowing_packets[0], 32);
	free(c);
}

static void janus_messages(void **state)
{
	json_t *b = ld_janus_create_body(1007, 4, 4000000);
	assert_string_equal(json_string_value(json_object_get(b, "request")), "create");
	assert_int_equal(json_integer_value(json_object_get(b, "room")), 1007);
	assert_int_equal(json_integer_value(json_object_get(b, "bitrate")), 4000000);
	assert_string_equal(json_string_value(json_object_get(b, "videocodec")), "vp8");
	assert_true(json_is_false(json_object_get(b, "transport_wide_cc_ext")));
	json_decref(b);

	uint64_t feeds[3] = { 11, 22, 4503599627370495ull };
	b = ld_janus_subscribe_body(1007, feeds, 3);
	assert_string_equal(json_string_value(json_object_get(b, "ptype")), "subscriber");
	json_t *st = json_object_get(b, "streams");
	assert_int_equal(json_array_size(st), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 2), "feed")), 4503599627370495ll);
	json_decref(b);

	json_t *d = json_loads("{\"videoroom\":\"joined\",\"publishers\":[{\"id\":5,\"display\":\"x\"},"
			       "{\"id\":0},{\"nope\":1},{\"id\":9}]}", 0, NULL);
	uint64_t out[4];
	assert_int_equal(ld_janus_feeds(d, out, 4), 2);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[1], 9);
	assert_int_equal(ld_janus_feeds(d, out, 1), 1);
	json_decref(d);
	d = json_loads("{\"videoroom\":\"joined\"}", 0, NULL);
	assert_int_equal(ld_janus_feeds(d, out, 4), 0);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hist_percentiles),
		cmocka_unit_test_setup_teardown(replay_headers_and_stamps, record, unrecord),
		cmocka_unit_test_setup_teardown(keyframe_on_request, record, unrecord),
		cmocka_unit_test_setup_teardown(audio_packets, record, unrecord),
		cmocka_unit_test(window_loss),
		cmocka_unit_test(janus_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
