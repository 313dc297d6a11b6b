/* sdp_fuzz.c — libFuzzer harness for media/sdp. Parses the input; every
 * refusal must carry a reason. For every input that parses, writes it back,
 * re-parses the output and traps unless the two descriptions are equal byte
 * for byte (the round-trip property parse(write(x)) == x), and checks that a
 * too small buffer is refused without writing past it. The input is also fed
 * to the trickle candidate parser with the same round trip. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/sdp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Large (a few hundred KiB each): static, not on the stack. */
static km_sdp_t a, b;
static char out[1 << 20];

static void fuzz_candidate(const char *p, size_t n)
{
	km_sdp_candidate_t c1, c2;
	char err[256], buf[512];
	size_t len;
	if (km_sdp_parse_candidate(p, n, &c1, err, sizeof err) != 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(km_sdp_write_candidate(&c1, buf, sizeof buf, &len, err, sizeof err) == 0);
	CHECK(len == strlen(buf));
	CHECK(km_sdp_parse_candidate(buf, len, &c2, err, sizeof err) == 0);
	CHECK(memcmp(&c1, &c2, sizeof c1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t len;
	const char *p = (const char *)data;
	if (size < 512)
		fuzz_candidate(p, size);
	if (km_sdp_parse(p, size, &a, err, sizeof err) != 0) {
		CHECK(err[0] != '\0');
		return 0;
	}
	CHECK(km_sdp_write(&a, out, sizeof out, &len, err, sizeof err) == 0);
	CHECK(len == strlen(out));
	if (len <= KM_SDP_MAX_LEN) {
		CHECK(km_sdp_parse(out, len, &b, err, sizeof err) == 0);
		CHECK(memcmp(&a, &b, sizeof a) == 0);
	}
	/* a buffer one byte short is refused; the canary after it is untouched */
	size_t cap = len < sizeof out - 1 ? len : sizeof out - 2;
	out[cap] = 'Z';
	out[cap + 1] = 'Z';
	CHECK(km_sdp_write(&a, out, cap, &len, err, sizeof err) == KM_SDP_ESPACE);
	CHECK(out[cap] == 'Z' && out[cap + 1] == 'Z');
	return 0;
}
