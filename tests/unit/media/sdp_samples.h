/* sdp_samples.h — what the SDP unit tests share (sdp_test.c: the parser;
 * sdp_write_test.c: the writer): hand-written SDP in the shape Chrome,
 * Firefox and Safari send, a fixture, and helpers that parse from an
 * exact-size heap copy (so that ASan reports any read past its end) and
 * check parse(write(x)) == x. Include after <cmocka.h>. */
#ifndef KM_TEST_SDP_SAMPLES_H
#define KM_TEST_SDP_SAMPLES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static inline int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	f->a = malloc(sizeof *f->a);
	f->b = malloc(sizeof *f->b);
	f->cap = 256 * 1024;
	f->buf = malloc(f->cap);
	*state = f;
	return f && f->a && f->b && f->buf ? 0 : -1;
}

static inline int teardown(void **state)
{
	fx_t *f = *state;
	free(f->a);
	free(f->b);
	free(f->buf);
	free(f);
	return 0;
}

/* Parses an exact-size heap copy of p[0..n). */
static inline int parse_n(fx_t *f, const char *p, size_t n, km_sdp_t *out)
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

static inline int parse(fx_t *f, const char *s, km_sdp_t *out)
{
	return parse_n(f, s, strlen(s), out);
}

static inline void expect_fail(fx_t *f, const char *s, int code, const char *needle)
{
	int rc = parse(f, s, f->a);
	if (rc != code || !strstr(f->err, needle))
		fail_msg("expected %d with '%s', got %d: %s", code, needle, rc, f->err);
}

/* parse(write(x)) == x, byte for byte over the whole struct. */
static inline void round_trip(fx_t *f, const km_sdp_t *x)
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

static inline char *to_lf(const char *s)
{
	char *d = malloc(strlen(s) + 1), *o = d;
	for (; *s; s++)
		if (*s != '\r')
			*o++ = *s;
	*o = '\0';
	return d;
}

/* The smallest description the parser takes, in parts. */
#define MIN_HEAD "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
#define MIN_AUDIO_NOICE \
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n" \
	"a=mid:0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
#define ICE "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
#define FPL "a=fingerprint:sha-256 " FP1 "\r\n"

#endif
