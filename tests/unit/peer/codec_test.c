/* codec_test.c — unit tests of tests/peer/codec: the pre-encoded VP8/Opus
 * source, its RTP packetization and stamps, and the receiver (reassembly,
 * decoding, loss, NACK, keyframe recovery, delay percentiles). Time is
 * simulated: the tests advance now_us themselves, nothing measures the wall
 * clock except the figures printed for the report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <math.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "core/err.h"
#include "media/rtp.h"
#include "media/wire.h"
#include "tests/peer/codec.h"

void km__peer_pattern(uint8_t *const planes[3], const int strides[3], int w, int h, int pos);

#define W 320
#define H 240
#define FPS 30
#define KF 60
#define LOOP_FRAMES (FPS * 4)

static const km_peer_src_config_t cfg = {
	.width = W, .height = H, .fps = FPS, .video_kbps = 800, .seconds = 4,
	.keyframe_interval = KF,
};

static km_peer_src_t *new_src(void)
{
	km_peer_src_t *s = NULL;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(km_peer_src_new(&cfg, &s), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	static bool shown;
	if (!shown) {
		shown = true;
		printf("# encode at start: %.0f ms (%dx%d, %d frames + branches, 1 s opus)\n",
		       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
		       W, H, LOOP_FRAMES);
	}
	return s;
}

/* ---- RTP / VP8 helpers on the test side ---- */

static size_t desc_len(const uint8_t *p, size_t len)
{
	size_t n = 1;
	if (p[0] & 0x80) {
		n = 2;
		if (p[1] & 0x80)
			n += (len > 2 && (p[2] & 0x80)) ? 2 : 1;
		n += (p[1] & 0x40) ? 1 : 0;
		n += (p[1] & 0x30) ? 1 : 0;
	}
	return n;
}

/* ---- a simulated network between one source and the receivers ---- */

#define RING 4096
#define INFLIGHT 512

typedef struct {
	uint8_t b[KM_PEER_MAX_RTP];
	size_t len;
	int64_t due;
} held_t;

typedef struct {
	km_peer_src_t *src;
	km_peer_rx_t *vrx, *arx;
	km_peer_stream_t vst, ast;
	int64_t now;
	unsigned loss_pct;       /* of first transmissions, video only */
	uint64_t rng;
	bool nack, pli;          /* answer NACKs (30 ms later) and keyframe requests */
	int64_t next_video, next_audio, next_tick;
	uint64_t frames, video_packets, video_bytes, lost_on_wire, resent;
	size_t max_len;
	uint8_t (*sent)[KM_PEER_MAX_RTP];
	size_t sent_len[RING];
	held_t q[INFLIGHT];
	/* frame structure checks */
	bool in_frame;
	uint32_t frame_ts, last_frame_ts;
	uint16_t last_pid;
	bool check_next_key, next_was_key;
	uint64_t keyframes, keyframe_packets;
	bool cur_key;
	size_t cur_packets;
} sim_t;

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_video_packet(sim_t *m, const uint8_t *p, size_t len)
{
	km_rtp_t h;
	assert_int_equal(km_rtp_parse(p, len, &h), 0);
	const uint8_t *pl = h.data + h.header_len;
	assert_true(h.payload_len > 4);
	bool start = (pl[0] & 0x10) && (pl[0] & 0x07) == 0;
	assert_int_equal(pl[0] & 0x80, 0x80); /* X */
	assert_int_equal(pl[1], 0x80);        /* I */
	uint16_t pid = km_wire_ld16(pl + 2);
	assert_true(pid & 0x8000);            /* 15-bit PictureID */
	if (start) {
		assert_false(m->in_frame);
		bool key = !(pl[desc_len(pl, h.payload_len)] & 1);
		if (m->frames > 0) {
			assert_int_equal(h.ts - m->last_frame_ts, 90000 / FPS);
			assert_int_equal((pid - m->last_pid) & 0x7fff, 1);
		}
		if (m->check_next_key) {
			m->check_next_key = false;
			m->next_was_key = key;
		}
		m->in_frame = true;
		m->frame_ts = h.ts;
		m->last_pid = pid & 0x7fff;
		m->cur_key = key;
		m->cur_packets = 0;
	}
	assert_true(m->in_frame);
	assert_int_equal(h.ts, m->frame_ts);
	m->cur_packets++;
	if (h.marker) {
		m->in_frame = false;
		m->last_frame_ts = h.ts;
		m->frames++;
		if (m->cur_key) {
			m->keyframes++;
			m->keyframe_packets += m->cur_packets;
		}
	}
}

static void emit_video(void *ud, const uint8_t *p, size_t len)
{
	sim_t *m = ud;
	assert_true(len <= KM_PEER_MAX_RTP);
	if (len > m->max_len)
		m->max_len = len;
	check_video_packet(m, p, len);
	m->video_packets++;
	m->video_bytes += len;
	uint16_t seq = km_wire_ld16(p + 2);
	memcpy(m->sent[seq % RING], p, len);
	m->sent_len[seq % RING] = len;
	if (m->loss_pct && next_rand(&m->rng) % 100 < m->loss_pct) {
		m->lost_on_wire++;
		return;
	}
	if (m->vrx)
		km_peer_rx_packet(m->vrx, p, len, m->now);
}

static void emit_audio(void *ud, const uint8_t *p, size_t len)
{
	sim_t *m = ud;
	assert_true(len <= KM_PEER_MAX_RTP);
	if (m->arx)
		assert_int_equal(km_peer_rx_packet(m->arx, p, len, m->now), 0);
}

static sim_t *sim_new(bool video, bool audio)
{
	sim_t *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	m->sent = malloc(RING * sizeof(*m->sent));
	assert_non_null(m->sent);
	m->src = new_src();
	if (video)
		assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &m->vrx), 0);
	if (audio)
		assert_int_equal(km_peer_rx_new(KM_PEER_AUDIO, &m->arx), 0);
	m->vst = (km_peer_stream_t){ .ssrc = 0x1234, .pt = 96, .seq = 65500, .ts = 0xfff00000u };
	m->ast = (km_peer_stream_t){ .ssrc = 0x5678, .pt = 111, .seq = 65530, .ts = 7 };
	m->rng = 0x2545f4914f6cdd1dull;
	return m;
}

static void sim_free(sim_t *m)
{
	km_peer_src_free(m->src);
	km_peer_rx_free(m->vrx);
	km_peer_rx_free(m->arx);
	free(m->sent);
	free(m);
}

static void sim_resend(sim_t *m)
{
	uint16_t seqs[64];
	size_t n = km_peer_rx_nack_list(m->vrx, m->now, seqs, 64);
	for (size_t i = 0; i < n; i++) {
		size_t k = seqs[i] % RING, j = 0;
		assert_true(m->sent_len[k] > 0);
		assert_int_equal(km_wire_ld16(m->sent[k] + 2), seqs[i]);
		while (j < INFLIGHT && m->q[j].len)
			j++;
		assert_true(j < INFLIGHT);
		memcpy(m->q[j].b, m->sent[k], m->sent_len[k]);
		m->q[j].len = m->sent_len[k];
		m->q[j].due = m->now + 30000;
		m->resent++;
	}
}

/* Runs until `until` in 1 ms steps: video at FPS, audio every 20 ms, a tick
 * (and NACK/PLI handling) every 10 ms; video stops at video_until. */
static void sim_run(sim_t *m, int64_t until, int64_t video_until)
{
	for (; m->now < until; m->now += 1000) {
		for (size_t j = 0; j < INFLIGHT; j++) {
			if (m->q[j].len && m->q[j].due <= m->now) {
				km_peer_rx_packet(m->vrx, m->q[j].b, m->q[j].len, m->now);
				m->q[j].len = 0;
			}
		}
		if (m->now >= m->next_video && m->now < video_until) {
			int n = km_peer_src_video_frame(m->src, &m->vst, m->now, emit_video, m);
			assert_true(n >= 1);
			m->next_video += 1000000 / FPS + (m->frames % 3 == 0 ? 1 : 0);
		}
		if (m->arx && m->now >= m->next_audio) {
			assert_int_equal(km_peer_src_audio_frame(m->src, &m->ast, m->now, emit_audio, m), 1);
			m->next_audio += 20000;
		}
		if (m->now >= m->next_tick && m->vrx) {
			m->next_tick += 10000;
			km_peer_rx_tick(m->vrx, m->now);
			if (m->nack)
				sim_resend(m);
			if (m->pli && km_peer_rx_need_keyframe(m->vrx))
				km_peer_src_request_keyframe(m->src);
		}
	}
}

/* ---- 1. lossless: everything decodes ---- */

static void test_lossless(void **state)
{
	sim_t *m = sim_new(true, true);
	sim_run(m, 3000000 + 1000, 3000000);
	km_peer_rx_stats_t v, a;
	km_peer_rx_stats(m->vrx, &v);
	km_peer_rx_stats(m->arx, &a);
	assert_int_equal(m->frames, 90);
	assert_int_equal(v.frames_decoded, 90);
	assert_int_equal(v.frames_corrupt, 0);
	assert_int_equal(v.frames_dropped, 0);
	assert_int_equal(v.width, W);
	assert_int_equal(v.height, H);
	assert_int_equal(v.lost, 0);
	assert_int_equal(v.duplicates, 0);
	assert_int_equal(v.packets, m->video_packets);
	assert_true(v.max_freeze_ms <= 34);
	assert_int_equal(v.stamped, 0);
	assert_false(km_peer_rx_need_keyframe(m->vrx));
	assert_int_equal(km_peer_rx_ssrc(m->vrx), 0x1234);
	assert_int_equal(a.frames_decoded, 151);
	assert_int_equal(a.packets, 151);
	assert_int_equal(a.lost, 0);
	assert_int_equal(a.frames_corrupt, 0);
	assert_true(a.audio_level > 0.1 && a.audio_level < 0.6);
	assert_int_equal(km_peer_rx_ssrc(m->arx), 0x5678);
	assert_false(km_peer_rx_need_keyframe(m->arx));
	assert_int_equal(m->keyframes, 2); /* positions 0 and 60 */
	printf("# video: %.1f packets/frame (keyframes %.1f), %.0f kbit/s, largest packet %zu\n",
	       (double)m->video_packets / (double)m->frames,
	       (double)m->keyframe_packets / (double)m->keyframes,
	       (double)m->video_bytes * 8 / 3000.0, m->max_len);
	uint16_t seqs[8];
	assert_int_equal(km_peer_rx_nack_list(m->vrx, m->now, seqs, 8), 0);
	sim_free(m);
}

/* ---- 2. 5 % loss repaired by NACK ---- */

static void test_loss_with_nack(void **state)
{
	sim_t *m = sim_new(true, false);
	m->loss_pct = 5;
	m->nack = m->pli = true;
	sim_run(m, 6300000, 6000000);
	km_peer_rx_stats_t v;
	km_peer_rx_stats(m->vrx, &v);
	printf("# nack: %llu lost on the wire, %llu resent, max freeze %lld ms\n",
	       (unsigned long long)m->lost_on_wire, (unsigned long long)m->resent,
	       (long long)v.max_freeze_ms);
	assert_true(m->lost_on_wire > 10);
	assert_true(m->resent >= m->lost_on_wire - 3); /* trailing losses are never seen */
	assert_int_equal(v.frames_corrupt, 0);
	assert_int_equal(v.frames_dropped, 0);
	assert_true(v.max_freeze_ms <= 500);
	assert_true(v.frames_decoded >= m->frames - 1);
	assert_int_equal(v.lost, 0);
	assert_int_equal(v.width, W);
	sim_free(m);
}

/* ---- 3. 5 % loss without repair: keyframe recovery ---- */

static void test_loss_keyframe_recovery(void **state)
{
	sim_t *m = sim_new(true, false);
	m->loss_pct = 5;
	bool need = false;
	while (!need && m->now < 3000000) {
		sim_run(m, m->now + 10000, INT64_MAX);
		need = km_peer_rx_need_keyframe(m->vrx);
	}
	assert_true(need);
	km_peer_rx_stats_t v;
	km_peer_rx_stats(m->vrx, &v);
	assert_true(v.frames_dropped > 0);
	assert_true(v.lost > 0);
	uint64_t before = v.frames_decoded;

	m->loss_pct = 0;
	km_peer_src_request_keyframe(m->src);
	m->check_next_key = true;
	uint64_t frames_before = m->frames;
	sim_run(m, m->now + 1000000, INT64_MAX);
	assert_false(m->check_next_key);
	assert_true(m->next_was_key);
	km_peer_rx_stats(m->vrx, &v);
	assert_int_equal(v.frames_corrupt, 0);
	/* every frame from the keyframe on decodes */
	assert_true(v.frames_decoded >= before + (m->frames - frames_before) - 1);
	assert_false(km_peer_rx_need_keyframe(m->vrx));
	sim_free(m);
}

/* ---- 4. reordering and duplicates ---- */

typedef struct {
	uint8_t (*p)[KM_PEER_MAX_RTP];
	size_t *len;
	size_t n, cap;
} capture_t;

static void capture(void *ud, const uint8_t *p, size_t len)
{
	capture_t *c = ud;
	assert_true(c->n < c->cap);
	memcpy(c->p[c->n], p, len);
	c->len[c->n++] = len;
}

static void capture_init(capture_t *c, size_t cap)
{
	c->p = malloc(cap * sizeof(*c->p));
	c->len = malloc(cap * sizeof(*c->len));
	assert_non_null(c->p);
	assert_non_null(c->len);
	c->n = 0;
	c->cap = cap;
}

static void capture_free(capture_t *c)
{
	free(c->p);
	free(c->len);
}

static void test_reorder_duplicates(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t st = { .ssrc = 9, .pt = 96, .seq = 65530 };
	capture_t c;
	capture_init(&c, 4096);
	for (int i = 0; i < 90; i++)
		km_peer_src_video_frame(s, &st, 0, capture, &c);
	size_t n = c.n;
	size_t *order = malloc(2 * n * sizeof(*order));
	size_t k = 0, dups = 0;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 0; i + 3 < n; i += 10) { /* swap near neighbours, 0 and 1 first */
		size_t t = order[i];
		order[i] = order[i + 1 + (i / 10) % 3];
		order[i + 1 + (i / 10) % 3] = t;
	}
	km_peer_rx_t *r = NULL;
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &r), 0);
	for (size_t i = 0; i < n; i++) {
		size_t j = order[i];
		int64_t now = (int64_t)i * 1000;
		assert_int_equal(km_peer_rx_packet(r, c.p[j], c.len[j], now), 0);
		if (i % 7 == 3) { /* an immediate duplicate */
			assert_int_equal(km_peer_rx_packet(r, c.p[j], c.len[j], now), 0);
			dups++;
		}
		if (i % 50 == 49) { /* a late duplicate of a decoded packet */
			assert_int_equal(km_peer_rx_packet(r, c.p[k], c.len[k], now), 0);
			k += 13;
			dups++;
		}
		km_peer_rx_tick(r, now);
	}
	km_peer_rx_stats_t v;
	km_peer_rx_stats(r, &v);
	assert_int_equal(v.packets, n);
	assert_int_equal(v.duplicates, dups);
	assert_int_equal(v.lost, 0);
	assert_int_equal(v.frames_decoded, 90);
	assert_int_equal(v.frames_dropped, 0);
	assert_int_equal(v.frames_corrupt, 0);
	km_peer_rx_free(r);

	/* audio: a swapped pair and a duplicate */
	km_peer_stream_t as = { .ssrc = 10, .pt = 111 };
	capture_t ac;
	capture_init(&ac, 64);
	for (int i = 0; i < 10; i++)
		km_peer_src_audio_frame(s, &as, 0, capture, &ac);
	assert_int_equal(km_peer_rx_new(KM_PEER_AUDIO, &r), 0);
	const size_t aorder[] = { 0, 1, 3, 2, 4, 4, 5, 6, 1, 7, 8, 9 };
	for (size_t i = 0; i < sizeof(aorder) / sizeof(aorder[0]); i++)
		assert_int_equal(km_peer_rx_packet(r, ac.p[aorder[i]], ac.len[aorder[i]], 0), 0);
	km_peer_rx_stats(r, &v);
	assert_int_equal(v.packets, 10);
	assert_int_equal(v.duplicates, 2);
	assert_int_equal(v.lost, 0);
	assert_int_equal(v.frames_decoded, 9); /* packet 2 came too late to play */
	km_peer_rx_free(r);
	capture_free(&ac);
	free(order);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 5. stamps and one-way delay ---- */

static void test_stamps(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t as = { .ssrc = 3, .pt = 111, .stamp = true, .stamp_seq = 41 };
	capture_t c;
	capture_init(&c, 256);
	for (int i = 0; i < 200; i++)
		km_peer_src_audio_frame(s, &as, (int64_t)i * 20000 + 1000000, capture, &c);
	km_peer_rx_t *r = NULL;
	assert_int_equal(km_peer_rx_new(KM_PEER_AUDIO, &r), 0);
	for (size_t i = 0; i < 200; i++) {
		const uint8_t *p = c.p[i];
		size_t len = c.len[i];
		assert_true(p[0] & 0x20);
		assert_int_equal(p[len - 1], KM_PEER_STAMP_LEN);
		int64_t sent = (int64_t)km_wire_ld64(p + len - 13);
		assert_int_equal(sent, (int64_t)i * 20000 + 1000000);
		assert_int_equal(km_wire_ld32(p + len - 5), 41 + i);
		int64_t delay = (int64_t)((i * 37) % 200 + 1) * 100; /* 100..20000 us, each once */
		assert_int_equal(km_peer_rx_packet(r, p, len, sent + delay), 0);
	}
	assert_int_equal(as.stamp_seq, 241);
	km_peer_rx_stats_t v;
	km_peer_rx_stats(r, &v);
	assert_int_equal(v.stamped, 200);
	assert_int_equal(v.delay_us_p50, 10000); /* nearest rank 100 of 200 */
	assert_int_equal(v.delay_us_p99, 19800); /* rank 198 */
	assert_int_equal(v.delay_us_max, 20000);
	assert_int_equal(v.frames_decoded, 200);
	assert_true(v.audio_level > 0.1);
	km_peer_rx_free(r);

	/* stamped video stays within the size limit and decodes */
	km_peer_stream_t vs = { .ssrc = 4, .pt = 96, .stamp = true };
	c.n = 0;
	for (int i = 0; i < 30; i++)
		km_peer_src_video_frame(s, &vs, 5, capture, &c);
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &r), 0);
	for (size_t i = 0; i < c.n; i++) {
		assert_true(c.len[i] <= KM_PEER_MAX_RTP);
		assert_int_equal(km_peer_rx_packet(r, c.p[i], c.len[i], 7), 0);
	}
	assert_int_equal(vs.stamp_seq, c.n);
	km_peer_rx_stats(r, &v);
	assert_int_equal(v.frames_decoded, 30);
	assert_int_equal(v.stamped, c.n);
	assert_int_equal(v.delay_us_p50, 2);
	assert_int_equal(v.delay_us_max, 2);
	km_peer_rx_free(r);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 6. malformed packets ---- */

static int feed_exact(km_peer_rx_t *r, const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	assert_non_null(d);
	memcpy(d, p, len);
	int rc = km_peer_rx_packet(r, d, len, 0);
	free(d);
	return rc;
}

static void test_malformed(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t vs = { .ssrc = 4, .pt = 96 };
	capture_t c;
	capture_init(&c, 64);
	km_peer_src_video_frame(s, &vs, 0, capture, &c);
	km_peer_rx_t *v = NULL, *a = NULL;
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &v), 0);
	assert_int_equal(km_peer_rx_new(KM_PEER_AUDIO, &a), 0);
	uint8_t p[KM_PEER_MAX_RTP];
	memcpy(p, c.p[0], c.len[0]);
	for (size_t n = 0; n < 12; n++) { /* short */
		assert_true(feed_exact(v, p, n) < 0);
		assert_true(feed_exact(a, p, n) < 0);
	}
	p[0] = 0x40; /* version 1 */
	assert_true(feed_exact(v, p, c.len[0]) < 0);
	assert_true(feed_exact(a, p, c.len[0]) < 0);
	p[0] = 0x80;
	for (size_t n = 13; n <= 16; n++) /* descriptor cut: X, I, M, then no VP8 data */
		assert_true(feed_exact(v, p, n) < 0);
	p[12] = 0x90; /* X but the extension byte missing */
	assert_true(feed_exact(v, p, 13) < 0);
	p[12] = 0x10; /* no X: one byte, then nothing */
	assert_true(feed_exact(v, p, 13) < 0);
	p[0] = 0xa0; /* P with a padding count past the payload, or 0 */
	p[12] = 0x90;
	p[39] = 40;
	assert_true(feed_exact(v, p, 40) < 0);
	assert_true(feed_exact(a, p, 40) < 0);
	p[39] = 0;
	assert_true(feed_exact(v, p, 40) < 0);
	p[39] = 25; /* padding leaves only 2 bytes: a cut descriptor */
	assert_true(feed_exact(v, p, 40) < 0);
	assert_int_equal(km_peer_rx_packet(NULL, p, 20, 0), KM_EINVAL);
	km_peer_rx_stats_t st;
	km_peer_rx_stats(v, &st);
	assert_int_equal(st.packets, 0);
	assert_int_equal(km_peer_rx_ssrc(v), 0);

	/* random bytes: no crash, nothing beyond the window kept */
	uint64_t rng = 88172645463325252ull;
	for (int i = 0; i < 20000; i++) {
		size_t n = next_rand(&rng) % 64;
		uint8_t b[64];
		for (size_t j = 0; j < n; j++)
			b[j] = (uint8_t)next_rand(&rng);
		if (n > 0 && i % 2)
			b[0] = (uint8_t)(0x80 | (b[0] & 0x3f));
		feed_exact(v, b, n);
		feed_exact(a, b, n);
		km_peer_rx_tick(v, i * 1000);
	}
	/* a fresh receiver still decodes the real stream after bad input */
	km_peer_rx_free(v);
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &v), 0);
	assert_true(feed_exact(v, p, 11) < 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(feed_exact(v, c.p[i], c.len[i]), 0);
	km_peer_rx_stats(v, &st);
	assert_int_equal(st.frames_decoded, 1);
	km_peer_rx_free(v);
	km_peer_rx_free(a);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 7. NACK list rules ---- */

static void feed_seq(km_peer_rx_t *r, const capture_t *c, size_t i, uint16_t seq, int64_t now)
{
	uint8_t p[KM_PEER_MAX_RTP];
	memcpy(p, c->p[i % c->n], c->len[i % c->n]);
	km_rtp_set_seq(p, c->len[i % c->n], seq);
	assert_int_equal(km_peer_rx_packet(r, p, c->len[i % c->n], now), 0);
}

static void test_nack_list(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t as = { .ssrc = 3, .pt = 111 };
	capture_t c;
	capture_init(&c, 64);
	for (int i = 0; i < 50; i++)
		km_peer_src_audio_frame(s, &as, 0, capture, &c);
	km_peer_rx_t *r = NULL;
	assert_int_equal(km_peer_rx_new(KM_PEER_AUDIO, &r), 0);
	uint16_t q[16];
	assert_int_equal(km_peer_rx_nack_list(r, 0, q, 16), 0);
	const uint16_t got[] = { 65533, 65534, 65535, 2, 3 };
	for (size_t i = 0; i < 5; i++)
		feed_seq(r, &c, i, got[i], 0);
	assert_int_equal(km_peer_rx_nack_list(r, 0, q, 1), 1); /* cap */
	assert_int_equal(q[0], 0);
	assert_int_equal(km_peer_rx_nack_list(r, 0, q, 16), 1);
	assert_int_equal(q[0], 1);
	assert_int_equal(km_peer_rx_nack_list(r, 50000, q, 16), 0); /* too soon */
	assert_int_equal(km_peer_rx_nack_list(r, 100000, q, 16), 2);
	assert_int_equal(q[0], 0);
	assert_int_equal(q[1], 1);
	km_peer_rx_stats_t st;
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.lost, 2);
	feed_seq(r, &c, 5, 0, 150000); /* a retransmission arrives */
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(km_peer_rx_nack_list(r, 200000, q, 16), 1); /* third time for 1 */
	assert_int_equal(q[0], 1);
	assert_int_equal(km_peer_rx_nack_list(r, 400000, q, 16), 0); /* given up after 3 */
	/* a jump: gaps older than the window are not asked for */
	feed_seq(r, &c, 6, 3000, 500000);
	size_t n = km_peer_rx_nack_list(r, 500000, q, 16);
	assert_int_equal(n, 16);
	assert_int_equal(q[0], 3000 - 1023);
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.lost, 3000 + 65536 - 65533 + 1 - 7); /* 7 distinct seqs received */
	km_peer_rx_free(r);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 8. keyframe requests start clean chains ---- */

static double psnr_at(const vpx_image_t *img, int *pos_out, uint8_t *ref)
{
	int pos = 0;
	for (int b = 0; b < 16; b++)
		if (img->planes[0][8 * img->stride[0] + b * 16 + 8] > 128)
			pos |= 1 << b;
	uint8_t *planes[3] = { ref, ref + W * H, ref + W * H + W * H / 4 };
	const int strides[3] = { W, W / 2, W / 2 };
	km__peer_pattern(planes, strides, W, H, pos);
	double se = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int d = img->planes[0][y * img->stride[0] + x] - ref[y * W + x];
			se += d * d;
		}
	*pos_out = pos;
	return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 * W * H / se);
}

static void test_keyframe_chains(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t vs = { .ssrc = 4, .pt = 96 };
	capture_t c;
	capture_init(&c, 16384);
	/* requests at assorted positions, some twice in a row, across a loop wrap */
	const int req[] = { 3, 4, 20, 21, 59, 61, 77, 100, 119, 150, 151, 152, 200 };
	size_t ri = 0;
	int frames = 300;
	bool requested[300] = { false };
	for (int i = 0; i < frames; i++) {
		if (ri < sizeof(req) / sizeof(req[0]) && req[ri] == i) {
			km_peer_src_request_keyframe(s);
			requested[i] = true;
			ri++;
		}
		km_peer_src_video_frame(s, &vs, 0, capture, &c);
	}
	vpx_codec_ctx_t dec;
	vpx_codec_dec_cfg_t dc = { .threads = 1 };
	assert_int_equal(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &dc, 0), 0);
	uint8_t *buf = malloc(1 << 20), *ref = malloc(W * H * 3 / 2);
	size_t len = 0;
	int frame = 0, prev = -1, keys = 0;
	double worst = 99;
	for (size_t i = 0; i < c.n; i++) {
		km_rtp_t h;
		assert_int_equal(km_rtp_parse(c.p[i], c.len[i], &h), 0);
		const uint8_t *pl = h.data + h.header_len;
		size_t d = desc_len(pl, h.payload_len);
		if (pl[0] & 0x10)
			len = 0;
		memcpy(buf + len, pl + d, h.payload_len - d);
		len += h.payload_len - d;
		if (!h.marker)
			continue;
		bool key = !(buf[0] & 1);
		keys += key;
		assert_int_equal(vpx_codec_decode(&dec, buf, (unsigned)len, NULL, 0), 0);
		int corrupt = 1;
		vpx_codec_control(&dec, VP8D_GET_FRAME_CORRUPTED, &corrupt);
		assert_int_equal(corrupt, 0);
		vpx_codec_iter_t it = NULL;
		vpx_image_t *img = vpx_codec_get_frame(&dec, &it);
		assert_non_null(img);
		int pos;
		double q = psnr_at(img, &pos, ref);
		if (q < worst)
			worst = q;
		assert_true(q > 31.0); /* a delta after the wrong reference drifts below 30 */
		if (requested[frame]) {
			assert_true(key);
			int jump = (pos - (prev + 1) + LOOP_FRAMES) % LOOP_FRAMES;
			assert_true(jump < KF / 4 || pos == 0);
		} else if (prev >= 0) {
			assert_int_equal(pos, (prev + 1) % LOOP_FRAMES);
			assert_int_equal(key, pos % KF == 0);
		}
		prev = pos;
		frame++;
	}
	printf("# keyframe chains: %d frames, %d keyframes, worst luma PSNR %.1f dB\n",
	       frame, keys, worst);
	assert_int_equal(frame, frames);
	km_peer_rx_t *r = NULL; /* the receiver agrees */
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &r), 0);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(km_peer_rx_packet(r, c.p[i], c.len[i], (int64_t)i * 100), 0);
	km_peer_rx_stats_t st;
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.frames_decoded, frames);
	assert_int_equal(st.frames_corrupt + st.frames_dropped, 0);
	km_peer_rx_free(r);
	vpx_codec_destroy(&dec);
	free(buf);
	free(ref);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 9. a jump beyond the window ---- */

static void test_window(void **state)
{
	km_peer_src_t *s = new_src();
	km_peer_stream_t vs = { .ssrc = 4, .pt = 96 };
	capture_t c;
	capture_init(&c, 4096);
	size_t first_of[62];
	for (int i = 0; i < 61; i++) { /* frame 60 is a keyframe */
		first_of[i] = c.n;
		km_peer_src_video_frame(s, &vs, 0, capture, &c);
	}
	first_of[61] = c.n;
	km_peer_rx_t *r = NULL;
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &r), 0);
	int64_t now = 0;
	for (size_t i = 0; i < first_of[10]; i++, now += 1000) {
		if (i == first_of[5] + 1)
			continue; /* frame 5 stays incomplete */
		assert_int_equal(km_peer_rx_packet(r, c.p[i], c.len[i], now), 0);
		km_peer_rx_tick(r, now);
	}
	km_peer_rx_stats_t st;
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.frames_decoded, 5);
	for (size_t i = first_of[10]; i < c.n; i++, now += 1000) {
		uint8_t p[KM_PEER_MAX_RTP];
		memcpy(p, c.p[i], c.len[i]);
		km_rtp_set_seq(p, c.len[i], (uint16_t)(km_wire_ld16(p + 2) + 5000));
		assert_int_equal(km_peer_rx_packet(r, p, c.len[i], now), 0);
		km_peer_rx_tick(r, now);
	}
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.frames_decoded, 6); /* 0..4, then the keyframe */
	assert_true(st.frames_dropped >= 1);
	assert_int_equal(st.frames_corrupt, 0);
	assert_int_equal(st.lost, 5000 + 1);
	assert_true(km_peer_rx_need_keyframe(r));
	uint16_t q[2048];
	size_t n = km_peer_rx_nack_list(r, now, q, 2048);
	assert_true(n > 0 && n < 1024);
	km_peer_rx_free(r);
	capture_free(&c);
	km_peer_src_free(s);
}

/* ---- 10. arguments ---- */

static void test_arguments(void **state)
{
	km_peer_src_t *s = (km_peer_src_t *)1;
	km_peer_src_config_t bad = cfg;
	bad.width = 321;
	assert_int_equal(km_peer_src_new(&bad, &s), KM_EINVAL);
	assert_null(s);
	assert_int_equal(km_peer_src_new(NULL, &s), KM_EINVAL);
	bad = cfg;
	bad.fps = 0;
	assert_int_equal(km_peer_src_new(&bad, &s), KM_EINVAL);
	km_peer_rx_t *r = NULL;
	assert_int_equal(km_peer_rx_new((km_peer_kind_t)7, &r), KM_EINVAL);
	km_peer_src_free(NULL);
	km_peer_rx_free(NULL);
	km_peer_rx_stats_t st;
	km_peer_rx_stats(NULL, &st);
	assert_int_equal(st.packets, 0);
	/* a small loop with keyframes only at the start still plays and jumps */
	km_peer_src_config_t small = { .width = 64, .height = 48, .fps = 10, .video_kbps = 100,
				       .seconds = 1, .keyframe_interval = 0 };
	assert_int_equal(km_peer_src_new(&small, &s), 0);
	km_peer_stream_t vs = { .ssrc = 4, .pt = 96 };
	assert_int_equal(km_peer_rx_new(KM_PEER_VIDEO, &r), 0);
	capture_t c;
	capture_init(&c, 1024);
	for (int i = 0; i < 40; i++) {
		if (i % 7 == 6)
			km_peer_src_request_keyframe(s);
		km_peer_src_video_frame(s, &vs, 0, capture, &c);
	}
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(km_peer_rx_packet(r, c.p[i], c.len[i], (int64_t)i), 0);
	km_peer_rx_stats(r, &st);
	assert_int_equal(st.frames_decoded, 40);
	assert_int_equal(st.width, 64);
	assert_int_equal(st.frames_corrupt, 0);
	capture_free(&c);
	km_peer_rx_free(r);
	km_peer_src_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lossless),
		cmocka_unit_test(test_loss_with_nack),
		cmocka_unit_test(test_loss_keyframe_recovery),
		cmocka_unit_test(test_reorder_duplicates),
		cmocka_unit_test(test_stamps),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nack_list),
		cmocka_unit_test(test_keyframe_chains),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
