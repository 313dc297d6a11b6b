/* sdp_write_test.c — unit tests of media/sdp's writer: an answer built as
 * the negotiation code builds one, written and parsed back byte for byte;
 * the find helpers; too little space and invalid fields refused.
 * With KM_SDP_CORPUS_DIR set, the samples (sdp_samples.h) are also written
 * there as fuzz seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/media/sdp_samples.h"

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
		cmocka_unit_test_setup_teardown(test_write_built, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_space_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_corpus, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
