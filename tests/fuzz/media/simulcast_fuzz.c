/* simulcast_fuzz.c — libFuzzer harness for media/simulcast: parses the input
 * as a VP8 RTP payload and checks the descriptor's invariants; rewrites the
 * picture numbers of a copy (as a switch from another layer) and checks
 * that only they changed; then drives the layer choice and the periodic
 * decision with layers, estimates and key frames read from the input and
 * checks that the state stays in range. Traps on any broken invariant. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/simulcast.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_descriptor(const uint8_t *data, size_t size)
{
	km_simulcast_vp8_t d;
	int rc = km_simulcast_vp8_parse(data, size, &d);
	CHECK(km_simulcast_strerror(rc) != NULL);
	CHECK(km_simulcast_vp8_keyframe(data, size) == (rc == 0 && d.keyframe));
	if (rc != 0)
		return;
	CHECK(d.desc_len >= 1 && d.desc_len < size && d.desc_len <= 6);
	CHECK(!d.keyframe || (d.start && d.pid == 0 && size - d.desc_len >= 10));
	CHECK(d.width <= 0x3fff && d.height <= 0x3fff);
	CHECK(d.keyframe || (d.width == 0 && d.height == 0));
	CHECK(!d.has_picture_id || d.picture_id_len == 1 || d.picture_id_len == 2);
	CHECK(d.picture_id <= 0x7fff && d.tid <= 3 && d.keyidx <= 31);

	/* the picture numbers of a copy, as the second source of a subscriber */
	uint8_t c[2048];
	size_t n = size < sizeof c ? size : sizeof c;
	memcpy(c, data, n);
	km_simulcast_vp8_map_t m;
	km_simulcast_vp8_map_init(&m);
	m.started = true;
	m.src = 0;
	m.last_pid = (uint16_t)(size * 7919u & 0x7fff);
	m.last_tl0 = (uint8_t)size;
	m.last_key = (uint8_t)(size & 0x1f);
	uint16_t want_pid = (uint16_t)((m.last_pid + 1) & (d.picture_id_len == 1 ? 0x7f : 0x7fff));
	uint8_t want_tl0 = (uint8_t)(m.last_tl0 + 1), want_key = (uint8_t)((m.last_key + 1) & 0x1f);
	if (km_simulcast_vp8_map(&m, 1, c, n) != 0)
		return;
	km_simulcast_vp8_t e;
	CHECK(km_simulcast_vp8_parse(c, n, &e) == 0);
	CHECK(e.desc_len == d.desc_len && e.start == d.start && e.keyframe == d.keyframe);
	CHECK(e.has_picture_id == d.has_picture_id && e.picture_id_len == d.picture_id_len);
	CHECK(e.tid == d.tid && e.layer_sync == d.layer_sync && e.non_ref == d.non_ref);
	CHECK(c[0] == data[0] && (n < 2 || !(data[0] & 0x80) || c[1] == data[1]));
	CHECK(memcmp(c + d.desc_len, data + d.desc_len, n - d.desc_len) == 0);
	CHECK(!e.has_picture_id || e.picture_id == want_pid);
	CHECK(!e.has_tl0picidx || e.tl0picidx == want_tl0);
	CHECK(!e.has_keyidx || e.keyidx == want_key);
}

static uint64_t u32_at(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* 3 layers of (bps, width) from 18 bytes, then per step 9 bytes: estimate,
 * sent, and a packet (layer, key frame) for the packet path. */
static void drive_choice(const uint8_t *data, size_t size)
{
	if (size < 18)
		return;
	km_simulcast_layer_t l[3];
	for (size_t i = 0; i < 3; i++) {
		l[i].bps = u32_at(data + 6 * i) * (data[6 * i + 4] & 0x0f);
		l[i].width = data[6 * i + 5] & 0x80 ? 0 : (uint16_t)(data[6 * i + 5] * 16u + data[6 * i + 4]);
	}
	km_simulcast_sel_t s;
	km_simulcast_sel_init(&s);
	for (size_t off = 18; off + 9 <= size; off += 9) {
		const uint8_t *p = data + off;
		uint64_t est = u32_at(p) << (p[8] & 7), sent = u32_at(p + 4) & 0xfffff;
		int c = km_simulcast_choose(l, 3, est);
		CHECK(c >= -1 && c < 3);
		CHECK(c < 0 || l[c].bps > 0);
		km_simulcast_decide(&s, l, 3, est, sent);
		CHECK(s.want >= -1 && s.want < 3 && s.cur >= -1 && s.cur < 3);
		CHECK(c < 0 || l[s.want].bps > 0); /* with a layer sending, the one wanted sends */
		CHECK(s.probe_backoff <= KM_SIMULCAST_PROBE_BLOCK_MAX);
		CHECK(!s.probing || s.probe_age < KM_SIMULCAST_PROBE_HOLD);
		int layer = (p[8] >> 3) % 4 - 1;
		int8_t before = s.cur;
		bool fwd = km_simulcast_accept(&s, layer, p[8] & 0x80);
		CHECK(!fwd || layer == s.cur);
		CHECK(s.cur == before || (layer == s.want && (p[8] & 0x80)));
		if (p[8] & 0x40) /* a layer stops or starts */
			l[p[8] % 3].bps = l[p[8] % 3].bps ? 0 : u32_at(p) + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_descriptor(data, size);
	drive_choice(data, size);
	return 0;
}
