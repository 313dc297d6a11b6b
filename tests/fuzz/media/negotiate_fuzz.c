/* negotiate_fuzz.c — libFuzzer harness for media/negotiate: any SDP that
 * parses is answered as a publish offer and as an echo offer, and read as
 * the answer to a three-section subscribe offer. Every refusal must carry a
 * reason; every answer kamer makes must be writable and parse back, with
 * only recvonly (publish) or sendrecv (echo) sections and never more
 * tracks than the limit. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/negotiate.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static km_sdp_t offer, answer, back;
static char out[1 << 17];

static void answer_it(int echo)
{
	km_neg_local_t local = { .ufrag = "kamerUfr", .pwd = "kamerPasswordPassword123", .sess_id = 1 };
	km_neg_publish_t pub;
	char err[256] = "";
	size_t len;
	if (km_neg_answer_publish(&offer, &local, echo, 1000, &answer, &pub, err, sizeof err) != 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(pub.ntracks >= 1 && pub.ntracks <= KM_NEG_MAX_TRACKS);
	CHECK(km_sdp_write(&answer, out, sizeof out, &len, err, sizeof err) == 0);
	CHECK(km_sdp_parse(out, len, &back, err, sizeof err) == 0);
	size_t active = 0;
	for (size_t i = 0; i < back.nmedia; i++) {
		if (back.media[i].port == 0)
			continue;
		active++;
		CHECK(back.media[i].dir == (echo ? KM_SDP_SENDRECV : KM_SDP_RECVONLY));
		CHECK(back.media[i].ncodecs == 1);
	}
	CHECK(active == pub.ntracks);
}

static void read_as_answer(void)
{
	km_neg_out_t outs[3] = {
		{ .active = true, .kind = KM_SDP_AUDIO, .ssrc = 1, .stream = "k1", .track = "k1-0" },
		{ .active = true, .kind = KM_SDP_VIDEO, .ssrc = 2, .stream = "k1", .track = "k1-1" },
		{ .active = false, .kind = KM_SDP_VIDEO },
	};
	km_neg_subscribe_t sub;
	char err[256] = "";
	if (km_neg_read_subscribe_answer(&offer, outs, 3, &sub, err, sizeof err) != 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(sub.n == 3 && !sub.sections[2].accepted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (km_sdp_parse((const char *)data, size, &offer, err, sizeof err) != 0)
		return 0;
	answer_it(0);
	answer_it(1);
	read_as_answer();
	return 0;
}
