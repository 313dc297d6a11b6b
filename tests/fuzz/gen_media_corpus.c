/* gen_media_corpus.c — writes the seed corpora of the media wire fuzzers
 * (tests/fuzz/corpus/{rtp,rtcp,demux}/seed-*). Every seed is built here, byte
 * by byte or with kamer's own RTCP writers. A developer tool, not part of
 * the server; crash inputs found later are added beside these seeds.
 *
 *   cc -std=c17 -I. -o /tmp/gen_media_corpus tests/fuzz/gen_media_corpus.c media/rtcp.c
 *   /tmp/gen_media_corpus tests/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"

static const char *root;
static int failures;

static void put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/seed-%s", root, dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "gen_media_corpus: cannot write %s\n", path);
		failures++;
	}
}

#define PUT(dir, name, ...)                                       \
	do {                                                      \
		const uint8_t b_[] = { __VA_ARGS__ };             \
		put(dir, name, b_, sizeof b_);                    \
	} while (0)

static void rtp_seeds(void)
{
	/* Opus: PT 111, no extension */
	PUT("rtp", "opus", 0x80, 111, 0x00, 0x01, 0, 0, 0x03, 0xc0, 0x12, 0x34, 0x56, 0x78,
		0xfc, 0xff, 0xfe);
	/* marker, 2 CSRCs, one-byte extensions (id 1, padding, id 3), 3 padding bytes */
	PUT("rtp", "full", 0xb2, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44,
		0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb, 0xbe, 0xde, 0x00, 0x03,
		0x10, 0x7f, 0x00, 0x32, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
		0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x03);
	/* two-byte extensions: id 200 empty, id 5 three bytes */
	PUT("rtp", "two-byte", 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x10, 0x03, 0x00, 0x02, 200, 0, 0, 5, 3, 0xa, 0xb, 0xc, 0x77);
	/* one-byte id 15 stops the block */
	PUT("rtp", "id15", 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01, 0x20, 0xaa, 0xff, 0x10, 0x99);
	/* VP8-like with abs-send-time (3 bytes) and transport-cc (2 bytes) */
	PUT("rtp", "vp8", 0x90, 0xe0, 0x7f, 0xff, 0x00, 0x01, 0x5f, 0x90, 0xfe, 0xed, 0xfa, 0xce,
		0xbe, 0xde, 0x00, 0x02, 0x22, 0x01, 0x02, 0x03, 0x51, 0x00, 0x07, 0x00,
		0x90, 0x80, 0x00, 0x9d, 0x01, 0x2a);
	/* an unknown extension profile, skipped */
	PUT("rtp", "profile", 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0x12, 0x34, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x01);
	/* lying: padding count beyond the payload; element past its block */
	PUT("rtp", "bad-pad", 0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x11, 0x09);
	PUT("rtp", "bad-ext", 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
		0xbe, 0xde, 0x00, 0x01, 0x13, 1, 2, 3, 0xee);
}

static void rtcp_seeds(void)
{
	uint8_t b[1024];
	km_rtcp_report_t rb[3] = {
		{ 0xa1a1a1a1, 0x40, -1, 0x10010, 32, 0x12345678, 0x8000 },
		{ 0xa2a2a2a2, 0, 5, 0xffff, 0, 0, 0 },
		{ 0xa3a3a3a3, 255, -0x800000, 1, 2, 3, 4 },
	};
	km_rtcp_sender_info_t si = { 0x11111111, 0xe000000180000000ull, 0x10000, 256, 65536 };
	size_t n = 0;
	n += (size_t)km_rtcp_write_sr(b + n, sizeof b - n, &si, rb, 2);
	n += (size_t)km_rtcp_write_rr(b + n, sizeof b - n, 0x22222222, rb, 3);
	const uint8_t tail[] = {
		0x81, 202, 0x00, 3, 0x22, 0x22, 0x22, 0x22, 0x01, 0x02, 'a', 'b', 0, 0, 0, 0,
		0x82, 203, 0x00, 3, 0x11, 0x11, 0x11, 0x11, 0x33, 0x33, 0x33, 0x33, 3, 'b', 'y', 'e',
	};
	memcpy(b + n, tail, sizeof tail);
	put("rtcp", "compound", b, n + sizeof tail);

	const uint16_t lost[] = { 65530, 65531, 65535, 0, 9, 500, 501, 517 };
	int len = km_rtcp_write_nack(b, sizeof b, 1, 2, lost, 8);
	put("rtcp", "nack", b, (size_t)len);
	len = km_rtcp_write_pli(b, sizeof b, 1, 2);
	put("rtcp", "pli", b, (size_t)len);
	const km_rtcp_fir_entry_t fir[] = { { 0xaabbccdd, 7 }, { 0x11223344, 255 } };
	len = km_rtcp_write_fir(b, sizeof b, 1, fir, 2);
	put("rtcp", "fir", b, (size_t)len);
	const uint32_t ssrcs[] = { 0x01020304, 0xa0b0c0d0 };
	len = km_rtcp_write_remb(b, sizeof b, 1, 2500000, ssrcs, 2);
	put("rtcp", "remb", b, (size_t)len);
	/* RR + PLI compound as the SFU sends it */
	n = (size_t)km_rtcp_write_rr(b, sizeof b, 9, rb, 1);
	n += (size_t)km_rtcp_write_pli(b + n, sizeof b - n, 9, 0xa1a1a1a1);
	put("rtcp", "rr-pli", b, n);
	/* transport-cc: run, 2-bit vector, run; 14 delta bytes */
	PUT("rtcp", "twcc", 0x8f, 205, 0x00, 9, 0, 0, 0, 1, 0, 0, 0, 2,
		0x03, 0xe8, 0x00, 20, 0x12, 0x34, 0x56, 7, 0x20, 10, 0xd8, 0x40, 0x00, 3,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1);
	/* padding on the last (only) packet */
	PUT("rtcp", "padded", 0xa0, 201, 0x00, 2, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x04);
}

static void demux_seeds(void)
{
	/* STUN binding request: USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
	 * MESSAGE-INTEGRITY, FINGERPRINT */
	PUT("demux", "stun-request", 0x00, 0x01, 0x00, 72, 0x21, 0x12, 0xa4, 0x42,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
		0x00, 0x06, 0x00, 9, 'a', 'b', 'c', 'd', ':', 'e', 'f', 'g', 'h', 0, 0, 0,
		0x00, 0x24, 0x00, 4, 0x6e, 0x7f, 0x00, 0xff,
		0x80, 0x2a, 0x00, 8, 1, 1, 2, 2, 3, 3, 4, 4,
		0x00, 0x25, 0x00, 0,
		0x00, 0x08, 0x00, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x80, 0x28, 0x00, 4, 0xde, 0xad, 0xbe, 0xef);
	/* STUN success response with XOR-MAPPED-ADDRESS (IPv4) */
	PUT("demux", "stun-success", 0x01, 0x01, 0x00, 12, 0x21, 0x12, 0xa4, 0x42,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
		0x00, 0x20, 0x00, 8, 0x00, 0x01, 0xa1, 0x47, 0x5e, 0x12, 0xa6, 0x43);
	/* DTLS ClientHello record (header + handshake header + 4 bytes) */
	PUT("demux", "dtls-hello", 22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 16,
		1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, 0xfe, 0xfd, 0xaa, 0xbb);
	/* DTLS ChangeCipherSpec then an epoch-1 handshake record */
	PUT("demux", "dtls-two", 20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 1,
		22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 1, 0x02, 0x03, 0, 3, 9, 9, 9);
	PUT("demux", "rtp", 0x80, 111, 0x00, 0x01, 0, 0, 0x03, 0xc0, 0x12, 0x34, 0x56, 0x78, 0xfc);
	PUT("demux", "rtcp", 0x80, 201, 0x00, 1, 0x12, 0x34, 0x56, 0x78);
	PUT("demux", "turn", 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4);
	PUT("demux", "zrtp", 0x10, 0x00, 0x50, 0x5a);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_ROOT (tests/fuzz/corpus)\n", argv[0]);
		return 2;
	}
	root = argv[1];
	rtp_seeds();
	rtcp_seeds();
	demux_seeds();
	return failures ? 1 : 0;
}
