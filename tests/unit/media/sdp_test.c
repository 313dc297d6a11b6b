/* sdp_test.c — unit tests of media/sdp: the parser on hand-written SDP in the
 * shape Chrome, Firefox and Safari send (publish offers, simulcast, a
 * subscriber answer, an ICE restart), every refusal it must make with the
 * reason it must give, truncation at every length, and the writer's round
 * trip parse(write(x)) == x. Every input is parsed from an exact-size heap
 * copy so that ASan reports any read past its end.
 * With KM_SDP_CORPUS_DIR set, the inputs are also written there as fuzz seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/sdp.h"

#define FP1 "A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C"
#define FP2 "34:60:BE:31:20:1E:69:FE:DA:A0:EE:E8:B9:99:7F:5C:7C:29:99:FD:AF:E5:93:25:3C:D6:54:AF:4D:FA:D7:14"
#define SHA1 "27:A0:AE:B3:FE:E9:23:2F:8A:F2:21:1F:9E:E4:91:C5:B1:0B:EC:B5"

/* Chrome publishing audio + video (unified plan, trickle, one mDNS host). */
#define CHROME_SESSION \
	"v=0\r\n" \
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" \
	"s=-\r\n" \
	"t=0 0\r\n" \
	"a=group:BUNDLE 0 1\r\n" \
	"a=extmap-allow-mixed\r\n" \
	"a=msid-semantic: WMS 5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70\r\n"

#define CHROME_AUDIO(ufrag, pwd) \
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" \
	"c=IN IP4 0.0.0.0\r\n" \
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" \
	"a=candidate:1467250027 1 udp 2122260223 3d1e1b8c-2f0a-4f0e-9c5e-0a1b2c3d4e5f.local 46243 typ host generation 0 network-id 1\r\n" \
	"a=candidate:842163049 1 udp 1686052607 203.0.113.7 46243 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10\r\n" \
	"a=ice-ufrag:" ufrag "\r\n" \
	"a=ice-pwd:" pwd "\r\n" \
	"a=ice-options:trickle\r\n" \
	"a=fingerprint:sha-256 " FP1 "\r\n" \
	"a=setup:actpass\r\n" \
	"a=mid:0\r\n" \
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" \
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" \
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" \
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" \
	"a=sendonly\r\n" \
	"a=msid:5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70 0d6e9a44-1b2c-4d3e-8f90-a1b2c3d4e5f6\r\n" \
	"a=rtcp-mux\r\n" \
	"a=rtcp-rsize\r\n" \
	"a=rtpmap:111 opus/48000/2\r\n" \
	"a=rtcp-fb:111 transport-cc\r\n" \
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" \
	"a=rtpmap:63 red/48000/2\r\n" \
	"a=fmtp:63 111/111\r\n" \
	"a=rtpmap:9 G722/8000\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n" \
	"a=rtpmap:8 PCMA/8000\r\n" \
	"a=rtpmap:13 CN/8000\r\n" \
	"a=rtpmap:110 telephone-event/48000\r\n" \
	"a=rtpmap:126 telephone-event/8000\r\n" \
	"a=ssrc:3735928559 cname:n7z4Q5FQbhEYm/Nb\r\n" \
	"a=ssrc:3735928559 msid:5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70 0d6e9a44-1b2c-4d3e-8f90-a1b2c3d4e5f6\r\n"

#define CHROME_VIDEO_HEAD(ufrag, pwd) \
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102 103 104 105 45 46 116 117 118\r\n" \
	"c=IN IP4 0.0.0.0\r\n" \
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" \
	"a=ice-ufrag:" ufrag "\r\n" \
	"a=ice-pwd:" pwd "\r\n" \
	"a=ice-options:trickle\r\n" \
	"a=fingerprint:sha-256 " FP1 "\r\n" \
	"a=setup:actpass\r\n" \
	"a=mid:1\r\n" \
	"a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n" \
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" \
	"a=extmap:13 urn:3gpp:video-orientation\r\n" \
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" \
	"a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n" \
	"a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n" \
	"a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n" \
	"a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n" \
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" \
	"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n" \
	"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n" \
	"a=sendonly\r\n" \
	"a=msid:5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70 7c1e2d3f-4a5b-4c6d-8e7f-90a1b2c3d4e5\r\n" \
	"a=rtcp-mux\r\n" \
	"a=rtcp-rsize\r\n" \
	"a=rtpmap:96 VP8/90000\r\n" \
	"a=rtcp-fb:96 goog-remb\r\n" \
	"a=rtcp-fb:96 transport-cc\r\n" \
	"a=rtcp-fb:96 ccm fir\r\n" \
	"a=rtcp-fb:96 nack\r\n" \
	"a=rtcp-fb:96 nack pli\r\n" \
	"a=rtpmap:97 rtx/90000\r\n" \
	"a=fmtp:97 apt=96\r\n" \
	"a=rtpmap:98 VP9/90000\r\n" \
	"a=rtcp-fb:98 nack\r\n" \
	"a=rtcp-fb:98 nack pli\r\n" \
	"a=fmtp:98 profile-id=0\r\n" \
	"a=rtpmap:99 rtx/90000\r\n" \
	"a=fmtp:99 apt=98\r\n" \
	"a=rtpmap:102 H264/90000\r\n" \
	"a=rtcp-fb:102 nack pli\r\n" \
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" \
	"a=rtpmap:103 rtx/90000\r\n" \
	"a=fmtp:103 apt=102\r\n" \
	"a=rtpmap:104 H264/90000\r\n" \
	"a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" \
	"a=rtpmap:105 rtx/90000\r\n" \
	"a=fmtp:105 apt=104\r\n" \
	"a=rtpmap:45 AV1/90000\r\n" \
	"a=fmtp:45 level-idx=5;profile=0;tier=0\r\n" \
	"a=rtpmap:46 rtx/90000\r\n" \
	"a=fmtp:46 apt=45\r\n" \
	"a=rtpmap:116 red/90000\r\n" \
	"a=rtpmap:117 rtx/90000\r\n" \
	"a=fmtp:117 apt=116\r\n" \
	"a=rtpmap:118 ulpfec/90000\r\n"

#define CHROME_VIDEO_SSRCS \
	"a=ssrc-group:FID 1111111111 2222222222\r\n" \
	"a=ssrc:1111111111 cname:n7z4Q5FQbhEYm/Nb\r\n" \
	"a=ssrc:1111111111 msid:5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70 7c1e2d3f-4a5b-4c6d-8e7f-90a1b2c3d4e5\r\n" \
	"a=ssrc:2222222222 cname:n7z4Q5FQbhEYm/Nb\r\n" \
	"a=ssrc:2222222222 msid:5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70 7c1e2d3f-4a5b-4c6d-8e7f-90a1b2c3d4e5\r\n"

#define CHROME_SIMULCAST \
	"a=rid:q send\r\n" \
	"a=rid:h send\r\n" \
	"a=rid:f send pt=96,98;max-width=1280\r\n" \
	"a=simulcast:send q;h;~f\r\n"

static const char chrome_offer[] = CHROME_SESSION CHROME_AUDIO("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
	CHROME_VIDEO_HEAD("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O") CHROME_VIDEO_SSRCS;

static const char chrome_simulcast[] = CHROME_SESSION CHROME_AUDIO("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
	CHROME_VIDEO_HEAD("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O") CHROME_SIMULCAST;

/* ICE restart: same session, version bumped, new credentials. */
static const char chrome_restart[] =
	"v=0\r\n"
	"o=- 4611731400430051336 3 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0 1\r\n"
	"a=msid-semantic: WMS 5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70\r\n"
	CHROME_AUDIO("x7Rq", "h2Kq9b+Vr4pL0sNw8Ty6Zc1M") CHROME_VIDEO_HEAD("x7Rq", "h2Kq9b+Vr4pL0sNw8Ty6Zc1M")
	CHROME_VIDEO_SSRCS;

/* Firefox: session-level fingerprint and ice-options, LF line endings,
 * directional extmaps, upper-case transport in candidates, a datachannel. */
static const char firefox_offer[] =
	"v=0\n"
	"o=mozilla...THIS_IS_SDPARTA-115.0 7165346437183342000 0 IN IP4 0.0.0.0\n"
	"s=-\n"
	"t=0 0\n"
	"a=fingerprint:sha-256 " FP2 "\n"
	"a=group:BUNDLE 0 1 2\n"
	"a=ice-options:trickle\n"
	"a=msid-semantic:WMS *\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\n"
	"c=IN IP4 0.0.0.0\n"
	"a=candidate:0 1 UDP 2122252543 2001:db8::17 49320 typ host\n"
	"a=candidate:3 1 TCP 2105524479 192.0.2.44 9 typ host tcptype active\n"
	"a=sendrecv\n"
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
	"a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\n"
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\n"
	"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\n"
	"a=fmtp:101 0-15\n"
	"a=ice-pwd:6a2b9d3f1e0c4b8a7d6e5f4a3b2c1d0e\n"
	"a=ice-ufrag:8f1e2d3c\n"
	"a=mid:0\n"
	"a=msid:{6c0f5f3e-1a2b-4c3d-9e8f-7a6b5c4d3e2f} {1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b}\n"
	"a=rtcp-mux\n"
	"a=rtpmap:109 opus/48000/2\n"
	"a=rtpmap:9 G722/8000/1\n"
	"a=rtpmap:0 PCMU/8000\n"
	"a=rtpmap:8 PCMA/8000\n"
	"a=rtpmap:101 telephone-event/8000/1\n"
	"a=setup:actpass\n"
	"a=ssrc:2339237372 cname:{a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d}\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 123 122 119\n"
	"c=IN IP4 0.0.0.0\n"
	"a=sendrecv\n"
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\n"
	"a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\n"
	"a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\n"
	"a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\n"
	"a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\n"
	"a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\n"
	"a=fmtp:127 apt=126\n"
	"a=fmtp:120 max-fs=12288;max-fr=60\n"
	"a=fmtp:124 apt=120\n"
	"a=fmtp:121 max-fs=12288;max-fr=60\n"
	"a=fmtp:125 apt=121\n"
	"a=fmtp:119 apt=122\n"
	"a=ice-pwd:6a2b9d3f1e0c4b8a7d6e5f4a3b2c1d0e\n"
	"a=ice-ufrag:8f1e2d3c\n"
	"a=mid:1\n"
	"a=msid:{6c0f5f3e-1a2b-4c3d-9e8f-7a6b5c4d3e2f} {2a3b4c5d-6e7f-4081-9293-a4b5c6d7e8f9}\n"
	"a=rtcp-fb:120 nack\n"
	"a=rtcp-fb:120 nack pli\n"
	"a=rtcp-fb:120 ccm fir\n"
	"a=rtcp-fb:120 goog-remb\n"
	"a=rtcp-fb:120 transport-cc\n"
	"a=rtcp-fb:* nack\n"
	"a=rtcp-mux\n"
	"a=rtcp-rsize\n"
	"a=rtpmap:120 VP8/90000\n"
	"a=rtpmap:124 rtx/90000\n"
	"a=rtpmap:121 VP9/90000\n"
	"a=rtpmap:125 rtx/90000\n"
	"a=rtpmap:126 H264/90000\n"
	"a=rtpmap:127 rtx/90000\n"
	"a=rtpmap:123 ulpfec/90000\n"
	"a=rtpmap:122 red/90000\n"
	"a=rtpmap:119 rtx/90000\n"
	"a=setup:actpass\n"
	"a=ssrc:1450349617 cname:{a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d}\n"
	"a=ssrc:2883422395 cname:{a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d}\n"
	"a=ssrc-group:FID 1450349617 2883422395\n"
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
	"c=IN IP4 0.0.0.0\n"
	"a=sendrecv\n"
	"a=ice-pwd:6a2b9d3f1e0c4b8a7d6e5f4a3b2c1d0e\n"
	"a=ice-ufrag:8f1e2d3c\n"
	"a=mid:2\n"
	"a=setup:actpass\n"
	"a=sctp-port:5000\n"
	"a=max-message-size:1073741823\n";

/* A subscriber's (Safari-like) answer to kamer's offer: recvonly, active,
 * ICE and fingerprint per section, one rejected section. */
static const char subscriber_answer[] =
	"v=0\r\n"
	"o=- 8127441539276408711 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE a1 v1\r\n"
	"a=msid-semantic: WMS\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:Qz4m\r\n"
	"a=ice-pwd:b8PqL2xV9sK0mN4rT7wY1zA3\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 " FP2 "\r\n"
	"a=setup:active\r\n"
	"a=mid:a1\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	"a=recvonly\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;stereo=0\r\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:Qz4m\r\n"
	"a=ice-pwd:b8PqL2xV9sK0mN4rT7wY1zA3\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 " FP2 "\r\n"
	"a=setup:active\r\n"
	"a=mid:v1\r\n"
	"a=recvonly\r\n"
	"a=rtcp-mux\r\n"
	"a=rtcp-rsize\r\n"
	"a=rtpmap:96 VP8/90000\r\n"
	"a=rtcp-fb:96 nack\r\n"
	"a=rtcp-fb:96 nack pli\r\n"
	"a=rtpmap:97 rtx/90000\r\n"
	"a=fmtp:97 apt=96\r\n"
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=mid:v2\r\n"
	"a=inactive\r\n";

typedef struct {
	km_sdp_t *a, *b;
	char err[256];
	char *buf;
	size_t cap;
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	f->a = malloc(sizeof *f->a);
	f->b = malloc(sizeof *f->b);
	f->cap = 256 * 1024;
	f->buf = malloc(f->cap);
	*state = f;
	return f && f->a && f->b && f->buf ? 0 : -1;
}

static int teardown(void **state)
{
	fx_t *f = *state;
	free(f->a);
	free(f->b);
	free(f->buf);
	free(f);
	return 0;
}

/* Parses an exact-size heap copy of p[0..n). */
static int parse_n(fx_t *f, const char *p, size_t n, km_sdp_t *out)
{
	char *d = malloc(n ? n : 1);
	assert_non_null(d);
	memcpy(d, p, n);
	f->err[0] = '\0';
	int rc = km_sdp_parse(d, n, out, f->err, sizeof f->err);
	free(d);
	if (rc)
		assert_true(f->err[0] != '\0'); /* every refusal says why */
	return rc;
}

static int parse(fx_t *f, const char *s, km_sdp_t *out)
{
	return parse_n(f, s, strlen(s), out);
}

static void expect_fail(fx_t *f, const char *s, int code, const char *needle)
{
	int rc = parse(f, s, f->a);
	if (rc != code || !strstr(f->err, needle))
		fail_msg("expected %d with '%s', got %d: %s", code, needle, rc, f->err);
}

/* parse(write(x)) == x, byte for byte over the whole struct. */
static void round_trip(fx_t *f, const km_sdp_t *x)
{
	size_t n = 0;
	int rc = km_sdp_write(x, f->buf, f->cap, &n, f->err, sizeof f->err);
	if (rc)
		fail_msg("write: %s", f->err);
	assert_int_equal(strlen(f->buf), n);
	assert_true(n >= 2 && f->buf[n - 2] == '\r' && f->buf[n - 1] == '\n');
	rc = parse_n(f, f->buf, n, f->b);
	if (rc)
		fail_msg("re-parse: %s\n%s", f->err, f->buf);
	assert_memory_equal(x, f->b, sizeof *x);
}

static char *to_lf(const char *s)
{
	char *d = malloc(strlen(s) + 1), *o = d;
	for (; *s; s++)
		if (*s != '\r')
			*o++ = *s;
	*o = '\0';
	return d;
}

/* ---- well-formed descriptions ------------------------------------------- */

static void test_chrome_offer(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, chrome_offer, f->a), 0);
	const km_sdp_t *s = f->a;
	assert_string_equal(s->o_user, "-");
	assert_true(s->sess_id == 4611731400430051336ull);
	assert_true(s->sess_version == 2);
	assert_int_equal(s->nbundle, 2);
	assert_string_equal(s->bundle[1], "1");
	assert_string_equal(s->msid_semantic, "WMS 5a7f1b0e-8c3d-4e2a-9f61-2b3c4d5e6f70");
	assert_int_equal(s->nmedia, 2);

	const km_sdp_media_t *a = &s->media[0];
	assert_int_equal(a->kind, KM_SDP_AUDIO);
	assert_true(a->usable);
	assert_string_equal(a->mid, "0");
	assert_string_equal(a->ice.ufrag, "T9ha");
	assert_string_equal(a->ice.pwd, "Wl0bSY5d6PGA2nmzO5fnZm0O");
	assert_true(a->ice.trickle);
	assert_true(a->fp.set);
	assert_int_equal(a->fp.sha256[0], 0xA5);
	assert_int_equal(a->fp.sha256[31], 0x5C);
	assert_int_equal(a->setup, KM_SDP_SETUP_ACTPASS);
	assert_int_equal(a->dir, KM_SDP_SENDONLY);
	assert_true(a->rtcp_mux && a->rtcp_rsize);
	assert_string_equal(a->msid_track, "0d6e9a44-1b2c-4d3e-8f90-a1b2c3d4e5f6");
	assert_int_equal(a->ncodecs, 8);
	const km_sdp_codec_t *opus = km_sdp_codec(a, 111);
	assert_non_null(opus);
	assert_string_equal(opus->name, "opus");
	assert_int_equal(opus->clock, 48000);
	assert_int_equal(opus->channels, 2);
	assert_int_equal(opus->minptime, 10);
	assert_int_equal(opus->useinbandfec, 1);
	assert_int_equal(opus->usedtx, -1);
	assert_int_equal(opus->fb, KM_SDP_FB_TRANSPORT_CC);
	assert_true(opus->usable);
	const km_sdp_codec_t *red = km_sdp_codec(a, 63);
	assert_false(red->usable);
	assert_string_equal(red->fmtp_extra, "111/111");
	assert_false(km_sdp_codec(a, 0)->usable);
	assert_int_equal(a->nextmaps, 4);
	assert_int_equal(a->extmaps[0].kind, KM_SDP_EXT_AUDIO_LEVEL);
	assert_int_equal(a->extmaps[1].kind, KM_SDP_EXT_ABS_SEND_TIME);
	assert_int_equal(a->extmaps[2].kind, KM_SDP_EXT_TWCC);
	assert_int_equal(a->extmaps[3].kind, KM_SDP_EXT_MID);
	assert_int_equal(a->extmaps[3].id, 4);
	assert_int_equal(a->ncands, 2);
	assert_string_equal(a->cands[0].addr, "3d1e1b8c-2f0a-4f0e-9c5e-0a1b2c3d4e5f.local");
	assert_int_equal(a->cands[0].port, 46243);
	assert_int_equal(a->cands[0].priority, 2122260223u);
	assert_int_equal(a->cands[1].type, KM_SDP_CAND_SRFLX);
	assert_true(a->cands[1].has_raddr);
	assert_string_equal(a->cands[1].raddr, "0.0.0.0");
	assert_int_equal(a->nssrcs, 1);
	assert_int_equal(a->ssrcs[0].ssrc, 3735928559u);
	assert_string_equal(a->ssrcs[0].cname, "n7z4Q5FQbhEYm/Nb");
	assert_string_equal(a->ssrcs[0].msid_track, "0d6e9a44-1b2c-4d3e-8f90-a1b2c3d4e5f6");

	const km_sdp_media_t *v = &s->media[1];
	assert_int_equal(v->kind, KM_SDP_VIDEO);
	assert_int_equal(v->ncodecs, 13);
	assert_int_equal(v->codecs[0].pt, 96); /* m= line order kept */
	assert_int_equal(km_sdp_codec(v, 96)->fb, KM_SDP_FB_GOOG_REMB | KM_SDP_FB_TRANSPORT_CC |
		KM_SDP_FB_CCM_FIR | KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI);
	assert_int_equal(km_sdp_codec(v, 98)->profile_id, 0);
	const km_sdp_codec_t *h264 = km_sdp_codec(v, 102);
	assert_string_equal(h264->profile_level_id, "42001f");
	assert_int_equal(h264->packetization_mode, 1);
	assert_int_equal(h264->level_asymmetry_allowed, 1);
	assert_int_equal(km_sdp_codec(v, 104)->packetization_mode, 0);
	assert_true(km_sdp_codec(v, 45)->usable); /* AV1 */
	assert_string_equal(km_sdp_codec(v, 45)->fmtp_extra, "level-idx=5;profile=0;tier=0");
	assert_true(km_sdp_codec(v, 97)->usable);  /* rtx of VP8 */
	assert_false(km_sdp_codec(v, 116)->usable); /* red */
	assert_false(km_sdp_codec(v, 117)->usable); /* rtx of red */
	assert_false(km_sdp_codec(v, 118)->usable); /* ulpfec */
	assert_int_equal(v->nextmaps, 11);
	assert_int_equal(v->extmaps[9].kind, KM_SDP_EXT_RID);
	assert_int_equal(v->extmaps[10].kind, KM_SDP_EXT_REPAIRED_RID);
	assert_int_equal(v->extmaps[0].kind, KM_SDP_EXT_OTHER);
	assert_int_equal(v->ngroups, 1);
	assert_int_equal(v->groups[0].sem, KM_SDP_GROUP_FID);
	assert_int_equal(v->groups[0].n, 2);
	assert_int_equal(v->groups[0].ssrcs[1], 2222222222u);
	assert_int_equal(v->nssrcs, 2);
	round_trip(f, s);
}

static void test_chrome_simulcast(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, chrome_simulcast, f->a), 0);
	const km_sdp_media_t *v = &f->a->media[1];
	assert_int_equal(v->nrids, 3);
	assert_string_equal(v->rids[0].id, "q");
	assert_true(v->rids[0].send);
	assert_int_equal(v->rids[0].npts, 0);
	assert_int_equal(v->rids[2].npts, 2);
	assert_int_equal(v->rids[2].pts[1], 98);
	assert_int_equal(v->sim_send.nstreams, 3);
	assert_int_equal(v->sim_recv.nstreams, 0);
	assert_string_equal(v->sim_send.streams[1].alts[0].rid, "h");
	assert_false(v->sim_send.streams[1].alts[0].paused);
	assert_string_equal(v->sim_send.streams[2].alts[0].rid, "f");
	assert_true(v->sim_send.streams[2].alts[0].paused);
	assert_int_equal(v->nssrcs, 0);
	round_trip(f, f->a);
}

static void test_simulcast_alternatives(void **state)
{
	fx_t *f = *state;
	static const char sdp[] = CHROME_SESSION CHROME_AUDIO("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
		CHROME_VIDEO_HEAD("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
		"a=rid:1 send\r\na=rid:2 send\r\na=rid:3 send\r\na=rid:r recv pt=96\r\n"
		"a=simulcast:send 1;2,~3 recv r\r\n";
	assert_int_equal(parse(f, sdp, f->a), 0);
	const km_sdp_media_t *v = &f->a->media[1];
	assert_int_equal(v->sim_send.nstreams, 2);
	assert_int_equal(v->sim_send.streams[1].nalts, 2);
	assert_true(v->sim_send.streams[1].alts[1].paused);
	assert_int_equal(v->sim_recv.nstreams, 1);
	assert_false(v->rids[3].send);
	round_trip(f, f->a);

	static const char undeclared[] = CHROME_SESSION CHROME_AUDIO("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
		CHROME_VIDEO_HEAD("T9ha", "Wl0bSY5d6PGA2nmzO5fnZm0O")
		"a=rid:1 send\r\na=simulcast:send 1;2\r\n";
	expect_fail(f, undeclared, KM_SDP_ESYNTAX, "rid '2' has no a=rid:2 send");
}

static void test_firefox_offer(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, firefox_offer, f->a), 0);
	const km_sdp_t *s = f->a;
	assert_string_equal(s->o_user, "mozilla...THIS_IS_SDPARTA-115.0");
	assert_true(s->fp.set);
	assert_true(s->ice.trickle);
	assert_string_equal(s->msid_semantic, "WMS *");
	assert_int_equal(s->nmedia, 3);
	for (int i = 0; i < 3; i++) { /* session-level values reach every section */
		assert_true(s->media[i].fp.set);
		assert_int_equal(s->media[i].fp.sha256[0], 0x34);
		assert_true(s->media[i].ice.trickle);
		assert_string_equal(s->media[i].ice.ufrag, "8f1e2d3c");
	}
	const km_sdp_media_t *a = &s->media[0];
	assert_int_equal(a->dir, KM_SDP_SENDRECV);
	assert_string_equal(a->cands[0].addr, "2001:db8::17");
	assert_false(a->cands[0].tcp);
	assert_true(a->cands[1].tcp);
	assert_int_equal(a->cands[1].tcptype, KM_SDP_TCP_ACTIVE);
	assert_true(a->extmaps[1].has_dir);
	assert_int_equal(a->extmaps[1].dir, KM_SDP_RECVONLY);
	assert_false(a->extmaps[0].has_dir);
	const km_sdp_codec_t *opus = km_sdp_codec(a, 109);
	assert_int_equal(opus->stereo, 1);
	assert_int_equal(opus->useinbandfec, 1);
	assert_string_equal(opus->fmtp_extra, "maxplaybackrate=48000");
	assert_int_equal(km_sdp_codec(a, 9)->channels, 1);
	assert_string_equal(a->msid_stream, "{6c0f5f3e-1a2b-4c3d-9e8f-7a6b5c4d3e2f}");

	const km_sdp_media_t *v = &s->media[1];
	assert_int_equal(v->ncodecs, 9);
	/* a=rtcp-fb:* nack applies to every payload type */
	assert_int_equal(km_sdp_codec(v, 121)->fb, KM_SDP_FB_NACK);
	assert_int_equal(km_sdp_codec(v, 120)->fb, 0x1f);
	assert_string_equal(km_sdp_codec(v, 126)->profile_level_id, "42e01f");
	assert_int_equal(km_sdp_codec(v, 124)->apt, 120);
	assert_string_equal(km_sdp_codec(v, 120)->fmtp_extra, "max-fs=12288;max-fr=60");
	assert_int_equal(v->ngroups, 1);

	const km_sdp_media_t *d = &s->media[2];
	assert_int_equal(d->kind, KM_SDP_APPLICATION);
	assert_false(d->usable);
	assert_string_equal(d->app_fmt, "webrtc-datachannel");
	assert_string_equal(d->proto, "UDP/DTLS/SCTP");
	assert_int_equal(d->sctp_port, 5000);
	assert_int_equal(d->max_message_size, 1073741823u);
	round_trip(f, s);
}

static void test_subscriber_answer(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, subscriber_answer, f->a), 0);
	const km_sdp_t *s = f->a;
	assert_int_equal(s->nmedia, 3);
	assert_string_equal(s->msid_semantic, "WMS");
	assert_int_equal(s->media[0].dir, KM_SDP_RECVONLY);
	assert_int_equal(s->media[0].setup, KM_SDP_SETUP_ACTIVE);
	assert_int_equal(km_sdp_codec(&s->media[0], 111)->usedtx, 1);
	assert_int_equal(km_sdp_codec(&s->media[0], 111)->stereo, 0);
	assert_int_equal(s->media[1].dir, KM_SDP_RECVONLY);
	assert_int_equal(s->media[2].port, 0);
	assert_false(s->media[2].usable);
	assert_int_equal(s->media[2].dir, KM_SDP_INACTIVE);
	round_trip(f, s);
}

static void test_ice_restart(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, chrome_offer, f->b), 0);
	uint64_t v1 = f->b->sess_version;
	assert_int_equal(parse(f, chrome_restart, f->a), 0);
	assert_true(f->a->sess_id == f->b->sess_id);
	assert_true(f->a->sess_version == v1 + 1);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(f->a->media[i].ice.ufrag, "x7Rq");
		assert_string_equal(f->a->media[i].ice.pwd, "h2Kq9b+Vr4pL0sNw8Ty6Zc1M");
		assert_string_not_equal(f->a->media[i].ice.ufrag, f->b->media[i].ice.ufrag);
	}
	round_trip(f, f->a);
}

static void test_crlf_equals_lf(void **state)
{
	fx_t *f = *state;
	char *lf = to_lf(chrome_offer);
	assert_int_equal(parse(f, chrome_offer, f->a), 0);
	assert_int_equal(parse(f, lf, f->b), 0);
	assert_memory_equal(f->a, f->b, sizeof *f->a);
	/* no final line ending is tolerated too */
	lf[strlen(lf) - 1] = '\0';
	assert_int_equal(parse(f, lf, f->b), 0);
	assert_memory_equal(f->a, f->b, sizeof *f->a);
	free(lf);
}

static void test_port0_rejected(void **state)
{
	fx_t *f = *state;
	/* no ICE, no fingerprint, no rtcp-mux, no usable codec: fine when rejected */
	static const char sdp[] =
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		"m=video 0 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:100 H265/90000\r\n"
		"a=mid:0\r\n"
		"m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n";
	assert_int_equal(parse(f, sdp, f->a), 0);
	assert_int_equal(f->a->nmedia, 2);
	assert_int_equal(f->a->media[0].port, 0);
	assert_false(f->a->media[0].usable);
	assert_false(f->a->media[0].rtcp_mux);
	assert_string_equal(f->a->media[1].mid, "");
	round_trip(f, f->a);
}

/* ---- refusals ------------------------------------------------------------- */

#define MIN_HEAD "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define MIN_AUDIO_NOICE \
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n" \
	"a=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
#define ICE "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
#define FPL "a=fingerprint:sha-256 " FP1 "\r\n"

static void test_minimal_ok(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL, f->a), 0);
	round_trip(f, f->a);
}

static void test_missing_ufrag(void **state)
{
	fx_t *f = *state;
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=ice-pwd:abcdefghijklmnopqrstuv\r\n" FPL,
		KM_SDP_EMISSING, "m=audio (line 5, mid 0): no a=ice-ufrag");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=ice-ufrag:abcd\r\n" FPL, KM_SDP_EMISSING, "no a=ice-pwd");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE, KM_SDP_EMISSING, "no a=fingerprint");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=ice-ufrag:abc\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n" FPL,
		KM_SDP_ESYNTAX, "line 10: a=ice-ufrag: 3 characters, RFC 8839 allows 4..256");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=ice-ufrag:ab-d\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n" FPL,
		KM_SDP_ESYNTAX, "a=ice-ufrag: invalid character");
}

static void test_fingerprint_sha1(void **state)
{
	fx_t *f = *state;
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE "a=fingerprint:sha-1 " SHA1 "\r\n",
		KM_SDP_EUNSUPPORTED, "line 12: a=fingerprint: unsupported hash 'sha-1'");
	expect_fail(f, MIN_HEAD "a=fingerprint:md5 AB:CD\r\n" MIN_AUDIO_NOICE ICE FPL,
		KM_SDP_EUNSUPPORTED, "line 5: a=fingerprint: unsupported hash 'md5'");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE "a=fingerprint:sha-256 " SHA1 "\r\n",
		KM_SDP_ESYNTAX, "32 ':'-separated hex pairs");
	/* upper-case hash name and lower-case hex are fine */
	assert_int_equal(parse(f, MIN_HEAD MIN_AUDIO_NOICE ICE "a=fingerprint:SHA-256 "
		"a5:4d:ca:18:25:30:bb:1d:6d:13:2c:de:d6:23:7b:2e:d9:1e:3f:72:1f:cb:19:71:17:44:94:d6:49:3c:9d:5c\r\n",
		f->a), 0);
	assert_int_equal(f->a->media[0].fp.sha256[1], 0x4d);
}

static void test_no_rtcp_mux(void **state)
{
	fx_t *f = *state;
	expect_fail(f, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
		"a=rtpmap:111 opus/48000/2\r\n" ICE FPL,
		KM_SDP_EUNSUPPORTED, "m=audio (line 5, mid 0): no a=rtcp-mux");
}

static void test_no_usable_codec(void **state)
{
	fx_t *f = *state;
	expect_fail(f, MIN_HEAD ICE FPL MIN_AUDIO_NOICE
		"m=video 9 UDP/TLS/RTP/SAVPF 100 101 102\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtcp-mux\r\n"
		"a=rtpmap:100 H265/90000\r\na=rtpmap:101 rtx/90000\r\na=fmtp:101 apt=100\r\n"
		"a=rtpmap:102 H265/90000\r\n",
		KM_SDP_EUNSUPPORTED, "m=video (line 13, mid 1): no payload type kamer can use (offered: H265)");
	/* opus in mono is not what kamer forwards */
	expect_fail(f, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
		"a=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000\r\n" ICE FPL,
		KM_SDP_EUNSUPPORTED, "offered: opus");
	expect_fail(f, MIN_HEAD "m=audio 9 RTP/AVP 111\r\nc=IN IP4 0.0.0.0\r\n"
		"a=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n" ICE FPL,
		KM_SDP_EUNSUPPORTED, "transport 'RTP/AVP' is not supported");
}

static void test_17_sections(void **state)
{
	fx_t *f = *state;
	char *sdp = malloc(32 * 1024);
	size_t off = (size_t)sprintf(sdp, MIN_HEAD ICE FPL);
	for (int i = 0; i < 17; i++)
		off += (size_t)sprintf(sdp + off, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
			"a=mid:%d\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n", i);
	expect_fail(f, sdp, KM_SDP_ELIMIT, "more than 16 m-sections");
	/* 16 is fine, and round-trips */
	*strstr(sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:16\r\n") = '\0';
	assert_int_equal(parse(f, sdp, f->a), 0);
	assert_int_equal(f->a->nmedia, 16);
	assert_string_equal(f->a->media[15].ice.ufrag, "abcd");
	round_trip(f, f->a);
	free(sdp);
}

static void test_bad_candidates(void **state)
{
	fx_t *f = *state;
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 2122260223 192.0.2.1\r\n",
		KM_SDP_ESYNTAX, "line 13: a=candidate: 5 fields, at least 8 needed");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 sctp 1 192.0.2.1 9 typ host\r\n",
		KM_SDP_EUNSUPPORTED, "transport 'sctp'");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 1 example.com 9 typ host\r\n",
		KM_SDP_EUNSUPPORTED, "address 'example.com' is neither");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 1 192.0.2.1 70000 typ host\r\n",
		KM_SDP_ESYNTAX, "port '70000'");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 1 192.0.2.1 9 typ host generation\r\n",
		KM_SDP_ESYNTAX, "'generation' without a value");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 1 192.0.2.1 9 typ weird\r\n",
		KM_SDP_ESYNTAX, "unknown type 'weird'");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 1 192.0.2.1 9 host typ\r\n",
		KM_SDP_ESYNTAX, "expected 'typ'");
	char *sdp = malloc(8192);
	size_t off = (size_t)sprintf(sdp, MIN_HEAD MIN_AUDIO_NOICE ICE FPL);
	for (int i = 0; i < 17; i++)
		off += (size_t)sprintf(sdp + off, "a=candidate:%d 1 udp 1 192.0.2.1 %d typ host\r\n", i, 1000 + i);
	expect_fail(f, sdp, KM_SDP_ELIMIT, "more than 16");
	free(sdp);
}

static void test_trickle_candidate(void **state)
{
	fx_t *f = *state;
	km_sdp_candidate_t c;
	char buf[256];
	size_t n;
	static const char cand[] = "candidate:3 1 tcp 1518280447 192.0.2.44 9 typ relay raddr "
		"3d1e1b8c-2f0a-4f0e-9c5e-0a1b2c3d4e5f.local rport 50000 tcptype passive generation 0 ufrag T9ha";
	assert_int_equal(km_sdp_parse_candidate(cand, strlen(cand), &c, f->err, sizeof f->err), 0);
	assert_true(c.tcp);
	assert_int_equal(c.type, KM_SDP_CAND_RELAY);
	assert_int_equal(c.tcptype, KM_SDP_TCP_PASSIVE);
	assert_int_equal(c.rport, 50000);
	assert_int_equal(km_sdp_write_candidate(&c, buf, sizeof buf, &n, f->err, sizeof f->err), 0);
	assert_string_equal(buf, "candidate:3 1 tcp 1518280447 192.0.2.44 9 typ relay raddr "
		"3d1e1b8c-2f0a-4f0e-9c5e-0a1b2c3d4e5f.local rport 50000 tcptype passive");
	km_sdp_candidate_t c2;
	assert_int_equal(km_sdp_parse_candidate(buf, n, &c2, f->err, sizeof f->err), 0);
	assert_memory_equal(&c, &c2, sizeof c);
	assert_int_equal(km_sdp_write_candidate(&c, buf, 20, &n, f->err, sizeof f->err), KM_SDP_ESPACE);
	assert_int_equal(km_sdp_parse_candidate("1 1 udp 1 192.0.2.1 9 typ host tcptype active", 45, &c,
		f->err, sizeof f->err), KM_SDP_ESYNTAX);
	assert_non_null(strstr(f->err, "tcptype on a udp candidate"));
	assert_int_equal(km_sdp_parse_candidate(NULL, 0, &c, f->err, sizeof f->err), KM_SDP_ESYNTAX);
	assert_non_null(strstr(f->err, "0 fields"));
}

static void test_syntax(void **state)
{
	fx_t *f = *state;
	expect_fail(f, "o=- 1 1 IN IP4 127.0.0.1\r\n", KM_SDP_ESYNTAX, "line 1: the first line must be v=0");
	expect_fail(f, "v=1\r\n", KM_SDP_ESYNTAX, "v=0");
	expect_fail(f, "", KM_SDP_EMISSING, "empty description");
	expect_fail(f, "v=0\r\ns=-\r\n", KM_SDP_EMISSING, "no o= line");
	expect_fail(f, MIN_HEAD "hello world\r\n", KM_SDP_ESYNTAX, "line 5: expected '<lowercase letter>='");
	expect_fail(f, MIN_HEAD "A=foo\r\n", KM_SDP_ESYNTAX, "line 5:");
	expect_fail(f, MIN_HEAD "ab=foo\r\n", KM_SDP_ESYNTAX, "line 5:");
	expect_fail(f, MIN_HEAD "a=x\rb\r\n", KM_SDP_ESYNTAX, "line 5: control byte 0x0d");
	expect_fail(f, "v=0\r\no=- x 1 IN IP4 127.0.0.1\r\n", KM_SDP_ESYNTAX, "line 2: o=");
	expect_fail(f, "v=0\r\no=- 1 1 IN IP4\r\n", KM_SDP_ESYNTAX, "line 2: o=: expected 'IN IP4|IP6");
	expect_fail(f, MIN_HEAD "m=text 9 RTP/AVP 0\r\n", KM_SDP_EUNSUPPORTED, "unsupported media type 'text'");
	expect_fail(f, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\n", KM_SDP_ESYNTAX, "listed twice");
	expect_fail(f, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", KM_SDP_ESYNTAX, "'128' is not 0..127");
	expect_fail(f, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", KM_SDP_ESYNTAX, "expected '<media>");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=setup:holdconn\r\n", KM_SDP_EUNSUPPORTED, "'holdconn'");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=extmap:3 urn:a\r\na=extmap:3 urn:b\r\n", KM_SDP_ESYNTAX,
		"line 11: a=extmap: id 3 used twice");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=extmap:0 urn:a\r\n", KM_SDP_ESYNTAX, "a=extmap:");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=fmtp:111 useinbandfec=2\r\n", KM_SDP_ESYNTAX,
		"useinbandfec must be a number 0..1");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "a=mid\r\n", KM_SDP_ESYNTAX, "a=mid: missing value");
	expect_fail(f, MIN_HEAD "a=group:BUNDLE 0 7\r\n" MIN_AUDIO_NOICE ICE FPL, KM_SDP_ESYNTAX,
		"mid '7' names no m-section");
	expect_fail(f, MIN_HEAD ICE FPL MIN_AUDIO_NOICE "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
		"c=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n",
		KM_SDP_ESYNTAX, "'0' used by two m-sections");
	expect_fail(f, MIN_HEAD MIN_AUDIO_NOICE "o=- 1 1 IN IP4 127.0.0.1\r\n", KM_SDP_ESYNTAX, "o= inside");
	/* unknown lines and attributes are skipped */
	assert_int_equal(parse(f, MIN_HEAD "b=AS:30\r\na=foo-bar:baz\r\n" MIN_AUDIO_NOICE ICE FPL
		"a=x-unknown\r\nb=TIAS:1\r\n\r\n", f->a), 0);
}

static void test_nul_byte(void **state)
{
	fx_t *f = *state;
	char sdp[] = MIN_HEAD MIN_AUDIO_NOICE ICE FPL;
	size_t n = strlen(sdp);
	sdp[strlen(MIN_HEAD) + 3] = '\0'; /* inside "m=audio" on line 5 */
	assert_int_equal(parse_n(f, sdp, n, f->a), KM_SDP_ESYNTAX);
	assert_non_null(strstr(f->err, "line 5: NUL byte"));
}

static void test_long_line(void **state)
{
	fx_t *f = *state;
	size_t n = strlen(MIN_HEAD) + 5000;
	char *sdp = malloc(n + 1);
	strcpy(sdp, MIN_HEAD "a=x-long:");
	size_t off = strlen(sdp);
	memset(sdp + off, 'x', n - off - 2);
	memcpy(sdp + n - 2, "\r\n", 3);
	expect_fail(f, sdp, KM_SDP_ELIMIT, "line 5: line of 4998 bytes is over the 4096-byte limit");
	free(sdp);
	/* and the whole description over 64 KiB */
	n = KM_SDP_MAX_LEN + 1;
	sdp = malloc(n);
	memset(sdp, '\n', n);
	memcpy(sdp, "v=0", 3);
	assert_int_equal(parse_n(f, sdp, n, f->a), KM_SDP_ELIMIT);
	assert_non_null(strstr(f->err, "over the 65536-byte limit"));
	free(sdp);
}

static void test_limits(void **state)
{
	fx_t *f = *state;
	char *sdp = malloc(8192);
	size_t off = (size_t)sprintf(sdp, MIN_HEAD MIN_AUDIO_NOICE);
	for (int i = 0; i < 9; i++)
		off += (size_t)sprintf(sdp + off, "a=rid:r%d send\r\n", i);
	expect_fail(f, sdp, KM_SDP_ELIMIT, "a=rid: more than 8");
	off = (size_t)sprintf(sdp, MIN_HEAD MIN_AUDIO_NOICE);
	for (int i = 1; i <= 33; i++)
		off += (size_t)sprintf(sdp + off, "a=extmap:%d urn:x:%d\r\n", i, i);
	expect_fail(f, sdp, KM_SDP_ELIMIT, "a=extmap: more than 32");
	off = (size_t)sprintf(sdp, MIN_HEAD "m=video 9 UDP/TLS/RTP/SAVPF");
	for (int i = 0; i < 65; i++)
		off += (size_t)sprintf(sdp + off, " %d", i);
	strcpy(sdp + off, "\r\n");
	expect_fail(f, sdp, KM_SDP_ELIMIT, "more than 64 payload types");
	free(sdp);
	char mid[64];
	memset(mid, 'm', 33);
	mid[33] = '\0';
	char s2[512];
	snprintf(s2, sizeof s2, MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%s\r\n", mid);
	expect_fail(f, s2, KM_SDP_ELIMIT, "a=mid:");
}

/* Every prefix of every sample parses or is refused with a reason; never a
 * read past the end (the copy is exact-size, ASan watches). */
static void test_truncated(void **state)
{
	fx_t *f = *state;
	const char *samples[] = { chrome_offer, chrome_simulcast, firefox_offer, subscriber_answer };
	for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
		size_t n = strlen(samples[k]), ok = 0;
		for (size_t i = 0; i <= n; i++)
			if (parse_n(f, samples[k], i, f->a) == 0)
				ok++;
		assert_true(ok >= 1); /* at least the full text */
	}
}

/* ---- writer ----------------------------------------------------------------- */

/* An answer built from scratch as the negotiation code will: fields set by
 * hand, written, parsed back equal. */
static void build_answer(km_sdp_t *s)
{
	km_sdp_init(s, 77);
	s->ice_lite = true;
	strcpy(s->msid_semantic, "WMS *");
	s->nbundle = 2;
	strcpy(s->bundle[0], "0");
	strcpy(s->bundle[1], "1");
	s->nmedia = 2;
	for (int i = 0; i < 2; i++) {
		km_sdp_media_t *m = &s->media[i];
		km_sdp_media_init(m, i ? KM_SDP_VIDEO : KM_SDP_AUDIO);
		sprintf(m->mid, "%d", i);
		strcpy(m->ice.ufrag, "kmr1");
		strcpy(m->ice.pwd, "0123456789abcdefABCDEF+/");
		m->fp.set = true;
		memset(m->fp.sha256, 0xa0 + i, sizeof m->fp.sha256);
		m->setup = KM_SDP_SETUP_PASSIVE;
		m->dir = KM_SDP_RECVONLY;
		m->rtcp_rsize = true;
		m->nextmaps = 1;
		m->extmaps[0].id = 4;
		m->extmaps[0].kind = KM_SDP_EXT_MID;
		strcpy(m->extmaps[0].uri, KM_SDP_URI_MID);
		m->ncands = 1;
		strcpy(m->cands[0].foundation, "1");
		m->cands[0].component = 1;
		m->cands[0].priority = 2130706431;
		strcpy(m->cands[0].addr, "192.0.2.10");
		m->cands[0].port = 40000;
		m->end_of_candidates = true;
	}
	km_sdp_media_t *a = &s->media[0], *v = &s->media[1];
	a->ncodecs = 1;
	km_sdp_codec_init(&a->codecs[0], 111, "opus", 48000, 2);
	a->codecs[0].minptime = 10;
	a->codecs[0].useinbandfec = 1;
	a->codecs[0].fb = KM_SDP_FB_TRANSPORT_CC;
	a->codecs[0].usable = true;
	a->usable = true;
	v->ncodecs = 2;
	km_sdp_codec_init(&v->codecs[0], 96, "VP8", 90000, 0);
	v->codecs[0].fb = KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI | KM_SDP_FB_CCM_FIR;
	v->codecs[0].usable = true;
	km_sdp_codec_init(&v->codecs[1], 97, "rtx", 90000, 0);
	v->codecs[1].apt = 96;
	v->codecs[1].usable = true;
	v->usable = true;
	v->dir = KM_SDP_SENDONLY;
	strcpy(v->msid_stream, "kamer-7");
	strcpy(v->msid_track, "video-3");
	v->nssrcs = 2;
	v->ssrcs[0].ssrc = 1000;
	strcpy(v->ssrcs[0].cname, "kamer");
	strcpy(v->ssrcs[0].msid_stream, "kamer-7");
	strcpy(v->ssrcs[0].msid_track, "video-3");
	v->ssrcs[1].ssrc = 1001;
	strcpy(v->ssrcs[1].cname, "kamer");
	v->ngroups = 1;
	v->groups[0].sem = KM_SDP_GROUP_FID;
	v->groups[0].n = 2;
	v->groups[0].ssrcs[0] = 1000;
	v->groups[0].ssrcs[1] = 1001;
	v->nrids = 1;
	strcpy(v->rids[0].id, "h");
	v->sim_recv.nstreams = 1;
	v->sim_recv.streams[0].nalts = 1;
	strcpy(v->sim_recv.streams[0].alts[0].rid, "h");
}

static void test_write_built(void **state)
{
	fx_t *f = *state;
	build_answer(f->a);
	round_trip(f, f->a);
	const char *out = f->buf;
	assert_non_null(strstr(out, "v=0\r\no=- 77 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"
		"a=group:BUNDLE 0 1\r\na=msid-semantic: WMS *\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
	assert_non_null(strstr(out, "a=candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host\r\n"
		"a=end-of-candidates\r\na=ice-ufrag:kmr1\r\n"));
	assert_non_null(strstr(out, "a=fingerprint:sha-256 A0:A0:A0:"));
	assert_non_null(strstr(out, "a=setup:passive\r\na=mid:0\r\na=extmap:4 " KM_SDP_URI_MID "\r\n"
		"a=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\n"
		"a=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\n"
		"a=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"));
	assert_non_null(strstr(out, "a=rid:h recv\r\na=simulcast:recv h\r\na=ssrc-group:FID 1000 1001\r\n"
		"a=ssrc:1000 cname:kamer\r\na=ssrc:1000 msid:kamer-7 video-3\r\na=ssrc:1001 cname:kamer\r\n"));
	assert_null(strchr(out, '\t'));
	for (const char *p = out; (p = strchr(p, '\n')); p++)
		assert_true(p[-1] == '\r');
	assert_int_equal(km_sdp_find_codec(&f->a->media[1], "vp8", 90000), 96);
	assert_int_equal(km_sdp_find_codec(&f->a->media[1], "VP8", 48000), -1);
	assert_int_equal(km_sdp_find_codec(&f->a->media[1], "H264", 90000), -1);
	assert_int_equal(km_sdp_find_rtx(&f->a->media[1], 96), 97);
	assert_int_equal(km_sdp_find_rtx(&f->a->media[1], 97), -1);
}

static void test_find_helpers(void **state)
{
	fx_t *f = *state;
	assert_int_equal(parse(f, chrome_offer, f->a), 0);
	const km_sdp_media_t *v = &f->a->media[1];
	assert_int_equal(km_sdp_find_codec(v, "H264", 90000), 102); /* first in preference order */
	assert_int_equal(km_sdp_find_rtx(v, 102), 103);
	assert_int_equal(km_sdp_find_rtx(v, 104), 105);
	assert_int_equal(km_sdp_find_rtx(v, 118), -1);
	assert_int_equal(km_sdp_find_codec(&f->a->media[0], "opus", 48000), 111);
	assert_null(km_sdp_codec(v, 50));
}

static void test_write_space_and_invalid(void **state)
{
	fx_t *f = *state;
	size_t need, n;
	build_answer(f->a);
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &need, f->err, sizeof f->err), 0);
	char *exact = malloc(need + 1);
	for (size_t cap = 0; cap <= need; cap += (cap < 64 || cap > need - 64) ? 1 : 97) {
		assert_int_equal(km_sdp_write(f->a, exact, cap, &n, f->err, sizeof f->err), KM_SDP_ESPACE);
		assert_non_null(strstr(f->err, "too small"));
	}
	assert_int_equal(km_sdp_write(f->a, exact, need + 1, &n, f->err, sizeof f->err), 0);
	assert_int_equal(n, need);
	free(exact);

	strcpy(f->a->media[1].mid, "a b"); /* would inject a second field */
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &n, f->err, sizeof f->err), KM_SDP_EINVAL);
	assert_non_null(strstr(f->err, "mid"));
	build_answer(f->a);
	strcpy(f->a->media[0].ssrcs[0].cname, "x\r\na=evil");
	f->a->media[0].nssrcs = 1;
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &n, f->err, sizeof f->err), KM_SDP_EINVAL);
	build_answer(f->a);
	f->a->media[0].ice.ufrag[0] = '\0';
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &n, f->err, sizeof f->err), KM_SDP_EINVAL);
	assert_non_null(strstr(f->err, "ice-ufrag"));
	build_answer(f->a);
	f->a->media[1].rtcp_mux = false;
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &n, f->err, sizeof f->err), KM_SDP_EINVAL);
	assert_non_null(strstr(f->err, "rtcp-mux"));
	assert_string_equal(km_sdp_strerror(KM_SDP_ESPACE), "output buffer too small");
}

/* Writes the samples (and a few refusals) as fuzz seeds when asked to. */
static void test_write_corpus(void **state)
{
	fx_t *f = *state;
	const char *dir = getenv("KM_SDP_CORPUS_DIR");
	if (!dir)
		skip();
	char *lf = to_lf(chrome_simulcast);
	build_answer(f->a);
	size_t n;
	assert_int_equal(km_sdp_write(f->a, f->buf, f->cap, &n, f->err, sizeof f->err), 0);
	const char *seeds[][2] = {
		{ "chrome_offer", chrome_offer }, { "chrome_simulcast", chrome_simulcast },
		{ "chrome_restart", chrome_restart }, { "firefox_offer", firefox_offer },
		{ "subscriber_answer", subscriber_answer }, { "chrome_simulcast_lf", lf },
		{ "kamer_answer", f->buf },
		{ "minimal", MIN_HEAD MIN_AUDIO_NOICE ICE FPL },
		{ "sha1", MIN_HEAD MIN_AUDIO_NOICE ICE "a=fingerprint:sha-1 " SHA1 "\r\n" },
		{ "trickle_candidate", "candidate:842163049 1 udp 1686052607 203.0.113.7 46243 typ srflx "
			"raddr 0.0.0.0 rport 0 generation 0 ufrag T9ha network-id 1" },
		{ "candidate_5", MIN_HEAD MIN_AUDIO_NOICE ICE FPL "a=candidate:1 1 udp 2122260223 192.0.2.1\r\n" },
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s.sdp", dir, seeds[i][0]);
		FILE *fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(seeds[i][1], 1, strlen(seeds[i][1]), fp), strlen(seeds[i][1]));
		fclose(fp);
	}
	free(lf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chrome_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chrome_simulcast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simulcast_alternatives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_firefox_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriber_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ice_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_equals_lf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port0_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_ufrag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint_sha1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_rtcp_mux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_usable_codec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_17_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_candidates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trickle_candidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_built, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_space_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_corpus, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
