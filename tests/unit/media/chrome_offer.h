/* chrome_offer.h — a publish offer in the shape Chrome sends (unified
 * plan, BUNDLE, rtcp-mux, trickle, transport-cc, rtx), written here for the
 * media unit tests; offer_text() fills in the video codecs, sim_offer_text()
 * makes the video section a simulcast one as Chrome sends it. */
#ifndef KM_TEST_CHROME_OFFER_H
#define KM_TEST_CHROME_OFFER_H

#include <stdio.h>

__attribute__((unused)) static const char *const offer_head =
	"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	"a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream1\r\n";

__attribute__((unused)) static const char *const audio_section =
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:AbCd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF\r\n"
	"a=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendonly\r\na=msid:stream1 audio1\r\n"
	"a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n"
	"a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n"
	"a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n"
	"a=ssrc:1111 cname:abc\r\na=ssrc:1111 msid:stream1 audio1\r\n";

__attribute__((unused)) static const char *const video_fmt =
	"m=video 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:AbCd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF\r\n"
	"a=setup:actpass\r\na=mid:1\r\n"
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendonly\r\na=msid:stream1 video1\r\n"
	"a=rtcp-mux\r\na=rtcp-rsize\r\n%s"
	"a=ssrc-group:FID 2222 3333\r\na=ssrc:2222 cname:abc\r\na=ssrc:2222 msid:stream1 video1\r\n"
	"a=ssrc:3333 cname:abc\r\na=ssrc:3333 msid:stream1 video1\r\n";

__attribute__((unused)) static const char *const vp8_codecs =
	"a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n"
	"a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
	"a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
	"a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n";

__attribute__((unused)) static const char *const h264_codecs =
	"a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\n"
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
	"a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n";

/* The video section Chrome sends for a camera with simulcast sendEncodings:
 * the rid and repaired-rid extensions, a=rid send lines and a=simulcast:send
 * (given as sim), and no a=ssrc lines at all. */
__attribute__((unused)) static const char *const video_sim_fmt =
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\nc=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:AbCd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF\r\n"
	"a=setup:actpass\r\na=mid:1\r\n"
	"a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
	"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
	"a=sendonly\r\na=msid:stream1 video1\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
	"a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n"
	"a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
	"a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
	"a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
	"%s";

/* Chrome's rid and simulcast lines for sendEncodings q, h, f. */
__attribute__((unused)) static const char *const sim_qhf =
	"a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n";

/* A publish offer (audio as above) whose video sends simulcast with the
 * rid and simulcast lines sim. */
static inline char *sim_offer_text(const char *sim)
{
	static char buf[16384];
	char video[8192];
	snprintf(video, sizeof video, video_sim_fmt, sim);
	snprintf(buf, sizeof buf, "%s%s%s", offer_head, audio_section, video);
	return buf;
}

static inline char *offer_text(const char *codecs, const char *pts)
{
	static char buf[16384];
	char video[8192];
	snprintf(video, sizeof video, video_fmt, pts, codecs);
	snprintf(buf, sizeof buf, "%s%s%s", offer_head, audio_section, video);
	return buf;
}

#endif
