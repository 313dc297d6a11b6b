/* rtp_fuzz.c — libFuzzer harness for media/rtp: parses the input; when it is
 * a valid packet, checks the parse's invariants, rewrites SSRC, sequence,
 * timestamp, payload type and every extension id in a copy, re-parses the
 * copy and checks that only those fields changed. Also feeds the sequence
 * helpers. Traps on any broken invariant. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/rtp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t map_id(const km_rtp_t *r, uint8_t id)
{
	if (r->ext_form == 1)
		return (uint8_t)(id % 14 + 1); /* 1..14 -> 2..14, 1 */
	return (uint8_t)(id % 255 + 1);    /* 1..255 -> 2..255, 1 */
}

static void check_parse(const km_rtp_t *r, size_t size)
{
	CHECK(r->header_len + r->pad_len + r->payload_len == size);
	CHECK(r->header_len >= 12 + 4u * r->cc);
	CHECK(r->ext_count <= KM_RTP_MAX_EXT);
	for (size_t i = 0; i < r->ext_count; i++) {
		const km_rtp_ext_t *e = &r->ext[i];
		CHECK(e->id != 0 && (r->ext_form != 1 || e->id < 15));
		CHECK(e->off >= r->ext_off && e->off + (size_t)e->len <= r->ext_off + r->ext_len);
		CHECK(km_rtp_ext_find(r, e->id) != NULL);
	}
}

static void rewrite_and_reparse(const uint8_t *data, size_t size, const km_rtp_t *r)
{
	uint8_t c[KM_RTP_MAX_PACKET];
	memcpy(c, data, size);
	CHECK(km_rtp_set_ssrc(c, size, r->ssrc ^ 0x5a5a5a5a) == 0);
	CHECK(km_rtp_set_seq(c, size, (uint16_t)(r->seq + 1)) == 0);
	CHECK(km_rtp_set_ts(c, size, r->ts + 3000) == 0);
	CHECK(km_rtp_set_pt(c, size, (uint8_t)((r->pt + 1) & 0x7f)) == 0);
	CHECK(km_rtp_set_pt(c, size, 200) == KM_RTP_EINVAL);
	for (size_t i = 0; i < r->ext_count; i++)
		CHECK(km_rtp_ext_rewrite_id(c, size, r, r->ext[i].id, map_id(r, r->ext[i].id)) == 0);

	km_rtp_t s;
	CHECK(km_rtp_parse(c, size, &s) == 0);
	CHECK(s.ssrc == (r->ssrc ^ 0x5a5a5a5a));
	CHECK(s.seq == (uint16_t)(r->seq + 1));
	CHECK(s.ts == r->ts + 3000);
	CHECK(s.pt == ((r->pt + 1) & 0x7f));
	CHECK(s.marker == r->marker);
	CHECK(s.header_len == r->header_len && s.payload_len == r->payload_len);
	CHECK(s.ext_count == r->ext_count && s.ext_overflow == r->ext_overflow);
	for (size_t i = 0; i < r->ext_count; i++) {
		CHECK(s.ext[i].off == r->ext[i].off && s.ext[i].len == r->ext[i].len);
		CHECK(s.ext[i].id == map_id(r, r->ext[i].id));
	}
	CHECK(memcmp(c + r->header_len, data + r->header_len, size - r->header_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	km_rtp_t r;
	int rc = km_rtp_parse(data, size, &r);
	CHECK(km_rtp_strerror(rc) != NULL);
	if (size >= 4) {
		uint16_t a = (uint16_t)(data[0] << 8 | data[1]), b = (uint16_t)(data[2] << 8 | data[3]);
		CHECK(a == b || km_rtp_seq_newer(a, b) != km_rtp_seq_newer(b, a));
		km_rtp_unwrap_t u;
		km_rtp_unwrap_init(&u);
		int64_t prev = km_rtp_unwrap(&u, a);
		for (size_t i = 4; i + 1 < size && i < 64; i += 2) {
			uint16_t s = (uint16_t)(data[i] << 8 | data[i + 1]);
			int64_t v = km_rtp_unwrap(&u, s);
			CHECK((uint16_t)v == s);
			CHECK(v - prev <= 0x8000 && prev - v <= 0x8000);
			if (v > prev)
				prev = v;
		}
	}
	if (rc != 0)
		return 0;
	check_parse(&r, size);
	rewrite_and_reparse(data, size, &r);
	return 0;
}
