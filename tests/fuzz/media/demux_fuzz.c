/* demux_fuzz.c — libFuzzer harness for media/demux: classifies the input,
 * then runs the STUN header parser and attribute iterator and the DTLS
 * record iterator over it whatever its class, checking that every view they
 * return lies inside the input. Traps on any broken invariant. */
#include <stddef.h>
#include <stdint.h>

#include "media/demux.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stun(const uint8_t *data, size_t size)
{
	km_demux_stun_t m;
	if (km_demux_stun_parse(data, size, &m) != 0)
		return;
	CHECK(20 + (size_t)m.length <= size && m.length % 4 == 0);
	CHECK(m.cls <= 3 && m.method < 0x1000);
	km_demux_stun_iter_t it;
	km_demux_stun_attr_t a;
	km_demux_stun_iter_init(&it, &m);
	int rc, fp = 0;
	while ((rc = km_demux_stun_next(&it, &a)) > 0) {
		CHECK(!fp);
		CHECK(a.offset >= 20 && a.value == data + a.offset + 4);
		CHECK(a.offset + 4 + (size_t)a.len <= 20 + (size_t)m.length);
		if (a.type == KM_STUN_ATTR_MESSAGE_INTEGRITY)
			CHECK(a.len == 20);
		if (a.type == KM_STUN_ATTR_FINGERPRINT)
			fp = 1;
	}
	CHECK(km_demux_strerror(rc) != NULL);
}

static void dtls(const uint8_t *data, size_t size)
{
	size_t off = 0, prev = 0;
	km_demux_dtls_record_t r;
	int rc, n = 0;
	while ((rc = km_demux_dtls_next(data, size, &off, &r)) > 0) {
		CHECK(off > prev && off <= size);
		CHECK(r.fragment + r.length == data + off);
		CHECK(r.content_type >= 20 && r.content_type <= 25 && r.seq < (1ull << 48));
		prev = off;
		n++;
	}
	int v = km_demux_dtls_validate(data, size);
	CHECK(rc < 0 ? v == rc : (size == 0 ? v < 0 : v == n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	km_demux_kind_t k = km_demux_classify(data, size);
	CHECK(km_demux_kind_name(k) != NULL);
	if (size > 0 && k == KM_DEMUX_STUN)
		CHECK(data[0] <= 3);
	if (k == KM_DEMUX_RTCP)
		CHECK(size >= 2 && data[1] >= 192 && data[1] <= 223);
	stun(data, size);
	dtls(data, size);
	return 0;
}
