/* sdp_test.c — unit tests of media/sdp's parser on hand-written SDP in the
 * shape Chrome, Firefox and Safari send (publish offers, simulcast, a
 * subscriber answer, an ICE restart; tests/unit/media/sdp_samples.h), every
 * refusal it must make with the reason it must give, and truncation at
 * every length. The writer: sdp_write_test.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/media/sdp_samples.h"

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
