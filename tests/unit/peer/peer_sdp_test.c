/* peer_sdp_test.c — unit tests of the test peer's SDP glue
 * (tests/peer/peer_sdp.h) and WSS URL parsing (tests/peer/wss.h): our pub
 * offer parses back with what kamer needs (Opus 111 with in-band FEC, VP8 96
 * with nack/pli/fir/remb, sendonly, BUNDLE, rtcp-mux, trickle, actpass,
 * a=ssrc with cname and msid); the answer to a kamer-like sub offer is
 * recvonly with the offered payload types and setup:active and rejects what
 * it cannot receive; remote transport, ssrc -> stream map, fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/peer/peer_sdp.h"
#include "tests/peer/wss.h"

#define FP "A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C"

/* What kamer offers on a sub connection: one person's audio and video, and a
 * section it stopped using (port 0). */
static const char kamer_offer[] =
	"v=0\r\n"
	"o=- 77 3 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0 1\r\n"
	"a=msid-semantic: WMS *\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 109\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:kmr1\r\n"
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 " FP "\r\n"
	"a=setup:actpass\r\n"
	"a=mid:0\r\n"
	"a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:9 urn:example:unknown\r\n"
	"a=sendonly\r\n"
	"a=msid:k12 a12\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:109 opus/48000/2\r\n"
	"a=fmtp:109 minptime=10;useinbandfec=1\r\n"
	"a=ssrc:1111 cname:k12\r\n"
	"a=ssrc:1111 msid:k12 a12\r\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 98\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:kmr1\r\n"
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
	"a=fingerprint:sha-256 " FP "\r\n"
	"a=setup:actpass\r\n"
	"a=mid:1\r\n"
	"a=sendonly\r\n"
	"a=msid:k12 v12\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:98 VP8/90000\r\n"
	"a=rtcp-fb:98 nack\r\n"
	"a=rtcp-fb:98 nack pli\r\n"
	"a=ssrc:2222 cname:k12\r\n"
	"a=ssrc:2222 msid:k12 v12\r\n"
	"m=video 0 UDP/TLS/RTP/SAVPF 98\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=mid:2\r\n"
	"a=inactive\r\n"
	"a=rtpmap:98 VP8/90000\r\n";

static void local(km_peer_sdp_local_t *l, km_sdp_setup_t setup)
{
	memset(l, 0, sizeof *l);
	strcpy(l->ufrag, "peer");
	strcpy(l->pwd, "0123456789012345678901");
	strcpy(l->fingerprint, FP);
	l->setup = setup;
}

static km_sdp_t *parse_text(const char *text)
{
	char err[200] = "";
	km_sdp_t *s = km_peer_sdp_parse(text, strlen(text), err, sizeof err);
	if (!s)
		fail_msg("parse: %s", err);
	return s;
}

static void test_pub_offer(void **state)
{
	km_peer_sdp_local_t l;
	local(&l, KM_SDP_SETUP_ACTPASS);
	km_peer_sdp_send_t snd = { .audio = true, .video = true, .audio_ssrc = 11, .video_ssrc = 22,
				   .cname = "cn", .stream = "st", .dir = KM_SDP_SENDONLY, .sess_id = 5 };
	km_sdp_t *s = calloc(1, sizeof *s);
	assert_non_null(s);
	char err[200];
	assert_int_equal(km_peer_sdp_offer(s, &l, &snd, err, sizeof err), 0);
	char *text = km_peer_sdp_text(s, err, sizeof err);
	assert_non_null(text);
	km_sdp_t *p = parse_text(text);
	assert_int_equal(p->nmedia, 2);
	assert_int_equal(p->nbundle, 2);
	const km_sdp_media_t *a = &p->media[0], *v = &p->media[1];
	assert_int_equal(a->kind, KM_SDP_AUDIO);
	assert_int_equal(a->dir, KM_SDP_SENDONLY);
	assert_true(a->rtcp_mux && a->ice.trickle && a->fp.set);
	assert_int_equal(a->setup, KM_SDP_SETUP_ACTPASS);
	assert_int_equal(km_sdp_find_codec(a, "opus", 48000), 111);
	assert_int_equal(km_sdp_codec(a, 111)->useinbandfec, 1);
	assert_int_equal(km_sdp_codec(a, 111)->channels, 2);
	assert_int_equal(a->nssrcs, 1);
	assert_int_equal(a->ssrcs[0].ssrc, 11);
	assert_string_equal(a->ssrcs[0].cname, "cn");
	assert_string_equal(a->ssrcs[0].msid_stream, "st");
	assert_int_equal(km_sdp_find_codec(v, "VP8", 90000), 96);
	uint8_t fb = km_sdp_codec(v, 96)->fb;
	assert_int_equal(fb, KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI | KM_SDP_FB_CCM_FIR | KM_SDP_FB_GOOG_REMB);
	assert_int_equal(v->nextmaps, 1);
	assert_int_equal(v->extmaps[0].kind, KM_SDP_EXT_ABS_SEND_TIME);
	assert_string_equal(v->ice.ufrag, "peer");
	uint8_t want[KM_SDP_FP_LEN];
	assert_int_equal(km_peer_sdp_fp_parse(FP, want), 0);
	assert_memory_equal(v->fp.sha256, want, sizeof want);
	km_peer_sdp_track_t t[4];
	assert_int_equal(km_peer_sdp_tracks(p, t, 4), 2);
	assert_false(t[0].video);
	assert_true(t[1].video);
	assert_int_equal(t[1].ssrc, 22);
	free(text);
	free(p);
	free(s);
}

static void test_offer_needs_media(void **state)
{
	km_peer_sdp_local_t l;
	local(&l, KM_SDP_SETUP_ACTPASS);
	km_peer_sdp_send_t snd = { .cname = "cn", .stream = "st", .dir = KM_SDP_SENDONLY };
	km_sdp_t *s = calloc(1, sizeof *s);
	char err[200];
	assert_int_not_equal(km_peer_sdp_offer(s, &l, &snd, err, sizeof err), 0);
	strcpy(l.fingerprint, "AB:CD");
	snd.audio = true;
	assert_int_not_equal(km_peer_sdp_offer(s, &l, &snd, err, sizeof err), 0);
	free(s);
}

static void test_sub_answer(void **state)
{
	km_sdp_t *offer = parse_text(kamer_offer);
	km_sdp_t *ans = calloc(1, sizeof *ans);
	km_peer_sdp_local_t l;
	local(&l, KM_SDP_SETUP_ACTIVE);
	char err[200];
	assert_int_equal(km_peer_sdp_answer(ans, offer, &l, false, err, sizeof err), 0);
	char *text = km_peer_sdp_text(ans, err, sizeof err);
	assert_non_null(text);
	km_sdp_t *p = parse_text(text);
	assert_int_equal(p->nmedia, 3);
	assert_int_equal(p->nbundle, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(p->media[i].dir, KM_SDP_RECVONLY);
		assert_int_equal(p->media[i].setup, KM_SDP_SETUP_ACTIVE);
		assert_int_equal(p->media[i].ncodecs, 1);
		assert_int_equal(p->media[i].nssrcs, 0);
	}
	assert_int_equal(p->media[0].codecs[0].pt, 109);
	assert_int_equal(p->media[0].nextmaps, 1); /* the unknown extension is dropped */
	assert_int_equal(p->media[1].codecs[0].pt, 98);
	assert_true(p->media[1].codecs[0].fb & KM_SDP_FB_NACK);
	assert_int_equal(p->media[2].port, 0);
	assert_string_equal(p->media[2].mid, "2");

	km_peer_sdp_remote_t r;
	assert_int_equal(km_peer_sdp_remote(offer, &r, err, sizeof err), 0);
	assert_string_equal(r.ufrag, "kmr1");
	assert_string_equal(r.fingerprint, FP);
	assert_int_equal(r.setup, KM_SDP_SETUP_ACTPASS);
	km_peer_sdp_track_t t[4];
	assert_int_equal(km_peer_sdp_tracks(offer, t, 4), 2);
	assert_int_equal(t[0].ssrc, 1111);
	assert_string_equal(t[0].stream, "k12");
	assert_true(t[1].video);
	free(text);
	free(p);
	free(ans);
	free(offer);
}

static void test_fingerprint(void **state)
{
	uint8_t b[KM_SDP_FP_LEN];
	assert_int_equal(km_peer_sdp_fp_parse(FP, b), 0);
	assert_int_equal(b[0], 0xA5);
	assert_int_equal(b[31], 0x5C);
	char lower[] = FP;
	for (char *c = lower; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c + 32);
	assert_int_equal(km_peer_sdp_fp_parse(lower, b), 0);
	assert_int_not_equal(km_peer_sdp_fp_parse("A5:4D", b), 0);
	char bad[] = FP;
	bad[2] = '-';
	assert_int_not_equal(km_peer_sdp_fp_parse(bad, b), 0);
	bad[2] = ':';
	bad[0] = 'G';
	assert_int_not_equal(km_peer_sdp_fp_parse(bad, b), 0);
}

static void test_url(void **state)
{
	char host[64], path[64];
	int port;
	assert_int_equal(km_peer_wss_parse_url("wss://127.0.0.1:8443/ws", host, sizeof host, &port,
					       path, sizeof path), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8443);
	assert_string_equal(path, "/ws");
	assert_int_equal(km_peer_wss_parse_url("wss://[::1]:9/x?y", host, sizeof host, &port, path,
					       sizeof path), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9);
	assert_string_equal(path, "/x?y");
	assert_int_equal(km_peer_wss_parse_url("wss://localhost", host, sizeof host, &port, path,
					       sizeof path), 0);
	assert_int_equal(port, 443);
	assert_string_equal(path, "/ws");
	const char *bad[] = { "ws://h:1/ws", "wss://:1/ws", "wss://h:0/ws", "wss://h:70000/ws",
			      "wss://h:1x/ws", "wss://[::1/ws", "https://h/ws", NULL };
	for (int i = 0; bad[i]; i++)
		assert_int_not_equal(km_peer_wss_parse_url(bad[i], host, sizeof host, &port, path,
							   sizeof path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pub_offer),
		cmocka_unit_test(test_offer_needs_media),
		cmocka_unit_test(test_sub_answer),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
