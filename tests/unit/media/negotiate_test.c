/* negotiate_test.c — the SFU's SDP negotiation: answers to browser-style
 * publish and echo offers, refusals with reasons, subscribe offers and the
 * reading of their answers; simulcast publish offers (rids, paused streams,
 * rid pt= limits, echo refusing simulcast). The offers are written here in
 * the shape Chrome sends (unified plan, BUNDLE, rtcp-mux, trickle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/negotiate.h"

#include "tests/unit/media/chrome_offer.h"

typedef struct {
	km_sdp_t offer, answer, reparsed;
	km_neg_publish_t pub;
	km_neg_local_t local;
	char text[65536];
	char err[256];
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	f->local.ufrag = "kamerUfr";
	f->local.pwd = "kamerPasswordPassword123";
	memset(f->local.fingerprint, 0xAB, 32);
	f->local.sess_id = 77;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void parse_offer(fx_t *f, const char *text)
{
	int rc = km_sdp_parse(text, strlen(text), &f->offer, f->err, sizeof f->err);
	if (rc)
		fail_msg("offer did not parse: %s", f->err);
}

/* Writes the answer and parses it back, as the browser would. */
static void write_and_reparse(fx_t *f, const km_sdp_t *s)
{
	size_t len;
	int rc = km_sdp_write(s, f->text, sizeof f->text, &len, f->err, sizeof f->err);
	if (rc)
		fail_msg("write: %s", f->err);
	rc = km_sdp_parse(f->text, len, &f->reparsed, f->err, sizeof f->err);
	if (rc)
		fail_msg("reparse: %s\n%s", f->err, f->text);
}

static void test_publish_answer(void **state)
{
	fx_t *f = *state;
	parse_offer(f, offer_text(vp8_codecs, "96 97 102"));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.ntracks, 2);
	km_neg_track_t *a = &f->pub.tracks[0], *v = &f->pub.tracks[1];
	assert_string_equal(a->mid, "0");
	assert_int_equal(a->kind, KM_SDP_AUDIO);
	assert_int_equal(a->pt, 111);
	assert_int_equal(a->clock, 48000);
	assert_int_equal(a->ssrc, 1111);
	assert_int_equal(a->ext_audio_level, 1);
	assert_int_equal(a->ext_abs_send_time, 2);
	assert_int_equal(a->ext_mid, 4);
	assert_int_equal(v->kind, KM_SDP_VIDEO);
	assert_int_equal(v->pt, 96);
	assert_int_equal(v->ssrc, 2222); /* not the rtx ssrc */
	assert_true(v->nack);
	assert_int_equal(v->ext_audio_level, 0);
	assert_string_equal(f->pub.transport.ufrag, "AbCd");
	assert_true(f->pub.transport.local_dtls_server);
	assert_int_equal(f->pub.transport.fingerprint[0], 0x01);

	write_and_reparse(f, &f->answer);
	km_sdp_t *r = &f->reparsed;
	assert_int_equal(r->nmedia, 2);
	assert_int_equal(r->nbundle, 2);
	for (int i = 0; i < 2; i++) {
		km_sdp_media_t *m = &r->media[i];
		assert_int_equal(m->dir, KM_SDP_RECVONLY);
		assert_int_equal(m->setup, KM_SDP_SETUP_PASSIVE);
		assert_string_equal(m->ice.ufrag, "kamerUfr");
		assert_int_equal(m->ncodecs, 1);
		assert_true(m->rtcp_mux);
		for (int e = 0; e < m->nextmaps; e++) /* never transport-cc */
			assert_int_not_equal(m->extmaps[e].kind, KM_SDP_EXT_TWCC);
	}
	assert_int_equal(r->media[1].codecs[0].pt, 96);
	assert_true(r->media[1].codecs[0].fb & KM_SDP_FB_GOOG_REMB);
	assert_false(r->media[1].codecs[0].fb & KM_SDP_FB_TRANSPORT_CC);
	assert_int_equal(r->media[0].codecs[0].useinbandfec, 1);
	assert_null(strstr(f->text, "rtx"));
}

static void test_echo_answer(void **state)
{
	fx_t *f = *state;
	parse_offer(f, offer_text(vp8_codecs, "96 97 102"));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 1, 5000, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	write_and_reparse(f, &f->answer);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f->reparsed.media[i].dir, KM_SDP_SENDRECV);
		assert_int_equal(f->reparsed.media[i].nssrcs, 1);
		assert_int_equal(f->reparsed.media[i].ssrcs[0].ssrc, 5000 + (uint32_t)i);
	}
}

static void test_h264_only_video_refused(void **state)
{
	fx_t *f = *state;
	parse_offer(f, offer_text(h264_codecs, "102 103"));
	int rc = km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err);
	assert_int_equal(rc, KM_SDP_EUNSUPPORTED);
	assert_non_null(strstr(f->err, "m=1 (video)"));
	assert_non_null(strstr(f->err, "H264"));
	assert_non_null(strstr(f->err, "VP8"));
}

static void test_recvonly_offer_has_nothing(void **state)
{
	fx_t *f = *state;
	char *t = offer_text(vp8_codecs, "96 97 102");
	for (char *p; (p = strstr(t, "a=sendonly"));)
		memcpy(p, "a=recvonly", 10);
	parse_offer(f, t);
	int rc = km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err);
	assert_int_equal(rc, KM_SDP_EMISSING);
	assert_non_null(strstr(f->err, "no audio or video"));
}

static void test_setup_passive_makes_kamer_client(void **state)
{
	fx_t *f = *state;
	char *t = offer_text(vp8_codecs, "96 97 102");
	for (char *p; (p = strstr(t, "a=setup:actpass"));)
		memcpy(p, "a=setup:passive", 15);
	parse_offer(f, t);
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_false(f->pub.transport.local_dtls_server);
	assert_int_equal(f->answer.media[0].setup, KM_SDP_SETUP_ACTIVE);
}

static void test_not_bundled_refused(void **state)
{
	fx_t *f = *state;
	char *t = offer_text(vp8_codecs, "96 97 102");
	char *g = strstr(t, "a=group:BUNDLE 0 1");
	memcpy(g, "a=group:BUNDLE 0  ", 18);
	parse_offer(f, t);
	int rc = km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err);
	assert_int_equal(rc, KM_SDP_EUNSUPPORTED);
	assert_non_null(strstr(f->err, "BUNDLE"));
}

static const km_sdp_extmap_t *find_ext(const km_sdp_media_t *m, km_sdp_ext_kind_t kind)
{
	for (int i = 0; i < m->nextmaps; i++)
		if (m->extmaps[i].kind == kind)
			return &m->extmaps[i];
	return NULL;
}

static void test_simulcast_answer(void **state)
{
	fx_t *f = *state;
	parse_offer(f, sim_offer_text(sim_qhf));
	assert_int_equal(f->offer.media[1].nssrcs, 0); /* Chrome gives no a=ssrc for simulcast */
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.ntracks, 2);
	km_neg_track_t *a = &f->pub.tracks[0], *v = &f->pub.tracks[1];
	assert_int_equal(a->nlayers, 0);
	assert_int_equal(a->ext_rid, 0);
	assert_int_equal(v->nlayers, 3);
	assert_string_equal(v->rids[0], "q");
	assert_string_equal(v->rids[1], "h");
	assert_string_equal(v->rids[2], "f");
	assert_int_equal(v->ext_rid, 10);
	assert_int_equal(v->ext_repaired_rid, 11);
	assert_int_equal(v->ext_mid, 4);
	assert_int_equal(v->ssrc, 0); /* learnt per layer from the rid extension */
	assert_int_equal(v->pt, 96);

	write_and_reparse(f, &f->answer);
	assert_non_null(strstr(f->text, "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n"));
	assert_non_null(strstr(f->text, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"));
	assert_non_null(strstr(f->text, "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"));
	km_sdp_media_t *m = &f->reparsed.media[1];
	assert_int_equal(m->dir, KM_SDP_RECVONLY);
	assert_int_equal(m->nrids, 3);
	for (int i = 0; i < 3; i++) {
		assert_false(m->rids[i].send);
		assert_int_equal(m->rids[i].npts, 0);
	}
	assert_int_equal(m->sim_send.nstreams, 0);
	assert_int_equal(m->sim_recv.nstreams, 3);
	assert_string_equal(m->sim_recv.streams[2].alts[0].rid, "f");
	assert_false(m->sim_recv.streams[0].alts[0].paused);
	assert_int_equal(find_ext(m, KM_SDP_EXT_RID)->id, 10);
	assert_int_equal(find_ext(m, KM_SDP_EXT_REPAIRED_RID)->id, 11);
	assert_null(find_ext(m, KM_SDP_EXT_TWCC));
	assert_null(find_ext(m, KM_SDP_EXT_OTHER)); /* toffset */
	assert_int_equal(f->reparsed.media[0].nrids, 0);
	assert_int_equal(f->reparsed.media[0].sim_recv.nstreams, 0);
	assert_null(find_ext(&f->reparsed.media[0], KM_SDP_EXT_RID));
	/* and the answer's own round trip: what was written is what is read */
	char *text2 = malloc(sizeof f->text);
	size_t len;
	assert_int_equal(km_sdp_write(&f->reparsed, text2, sizeof f->text, &len, f->err, sizeof f->err), 0);
	assert_string_equal(text2, f->text);
	free(text2);
}

static void test_simulcast_choice_of_rids(void **state)
{
	fx_t *f = *state;
	/* ~p paused; a allows only pt 97 (not VP8); "b,x": first alternative;
	 * c and d; e is beyond three layers */
	parse_offer(f, sim_offer_text("a=rid:p send\r\na=rid:a send pt=97\r\na=rid:b send\r\na=rid:x send\r\n"
				      "a=rid:c send pt=96,97\r\na=rid:d send\r\na=rid:e send\r\n"
				      "a=simulcast:send ~p;a;b,x;c;d;e\r\n"));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	km_neg_track_t *v = &f->pub.tracks[1];
	assert_int_equal(v->nlayers, 3);
	assert_string_equal(v->rids[0], "b");
	assert_string_equal(v->rids[1], "c");
	assert_string_equal(v->rids[2], "d");
	write_and_reparse(f, &f->answer);
	assert_non_null(strstr(f->text, "a=simulcast:recv b;c;d\r\n"));
	assert_null(strstr(f->text, "a=rid:p"));
	assert_null(strstr(f->text, "a=rid:x"));

	/* every stream paused: no simulcast, and no rid extensions either */
	parse_offer(f, sim_offer_text("a=rid:q send\r\na=rid:h send\r\na=simulcast:send ~q;~h\r\n"));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.tracks[1].nlayers, 0);
	assert_int_equal(f->pub.tracks[1].ext_rid, 0);
	write_and_reparse(f, &f->answer);
	assert_null(strstr(f->text, "rid"));
	assert_null(strstr(f->text, "simulcast"));
}

static void test_simulcast_needs_rid_extension(void **state)
{
	fx_t *f = *state;
	char *t = sim_offer_text(sim_qhf);
	char *e = strstr(t, "a=extmap:10 ");
	memcpy(e, "a=extmap:15", 11); /* two-byte id: kamer keeps to the one-byte form */
	parse_offer(f, t);
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.tracks[1].nlayers, 0);
	write_and_reparse(f, &f->answer);
	assert_null(strstr(f->text, "simulcast"));
	assert_null(strstr(f->text, "rtp-stream-id"));
}

static void test_echo_refuses_simulcast(void **state)
{
	fx_t *f = *state;
	parse_offer(f, sim_offer_text(sim_qhf));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 1, 5000, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	km_neg_track_t *v = &f->pub.tracks[1];
	assert_int_equal(v->nlayers, 0);
	assert_int_equal(v->ext_rid, 0);
	assert_int_equal(v->ext_repaired_rid, 0);
	assert_int_equal(v->ext_mid, 4);
	write_and_reparse(f, &f->answer);
	assert_null(strstr(f->text, "rid"));
	assert_null(strstr(f->text, "simulcast"));
	assert_int_equal(f->reparsed.media[1].dir, KM_SDP_SENDRECV);
	assert_int_equal(f->reparsed.media[1].ssrcs[0].ssrc, 5001);
}

/* Chrome offers the rid extensions in every video section: without
 * simulcast kamer keeps answering as it always did, without them. */
static void test_rid_extensions_alone_are_not_taken(void **state)
{
	fx_t *f = *state;
	parse_offer(f, sim_offer_text(""));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.tracks[1].nlayers, 0);
	assert_int_equal(f->pub.tracks[1].ext_rid, 0);
	write_and_reparse(f, &f->answer);
	assert_null(strstr(f->text, "rid"));
	assert_null(strstr(f->text, "simulcast"));
	/* the plain offer: nothing of simulcast in the answer or the tracks */
	parse_offer(f, offer_text(vp8_codecs, "96 97 102"));
	assert_int_equal(km_neg_answer_publish(&f->offer, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err), 0);
	assert_int_equal(f->pub.tracks[1].nlayers, 0);
	assert_int_equal(f->pub.tracks[1].ssrc, 2222);
	write_and_reparse(f, &f->answer);
	assert_null(strstr(f->text, "rid"));
	assert_null(strstr(f->text, "simulcast"));
}

static void make_outs(km_neg_out_t *outs)
{
	memset(outs, 0, 3 * sizeof *outs);
	outs[0] = (km_neg_out_t){ .active = true, .kind = KM_SDP_AUDIO, .ssrc = 7001 };
	outs[1] = (km_neg_out_t){ .active = true, .kind = KM_SDP_VIDEO, .ssrc = 7002 };
	outs[2] = (km_neg_out_t){ .active = false, .kind = KM_SDP_VIDEO };
	strcpy(outs[0].stream, "k12");
	strcpy(outs[0].track, "k12-a");
	strcpy(outs[1].stream, "k12");
	strcpy(outs[1].track, "k12-v");
}

/* Turns kamer's offer into an answer as a browser would. */
static void browser_answer(km_sdp_t *ans, const km_sdp_t *offer, km_sdp_setup_t setup)
{
	*ans = *offer;
	for (int i = 0; i < ans->nmedia; i++) {
		km_sdp_media_t *m = &ans->media[i];
		strcpy(m->ice.ufrag, "brwz");
		strcpy(m->ice.pwd, "browserpasswordbrowser");
		m->setup = setup;
		m->dir = m->dir == KM_SDP_SENDONLY ? KM_SDP_RECVONLY : KM_SDP_INACTIVE;
		m->nssrcs = 0;
		m->msid_stream[0] = m->msid_track[0] = 0;
	}
}

static void test_subscribe_offer_and_answer(void **state)
{
	fx_t *f = *state;
	km_neg_out_t outs[3];
	make_outs(outs);
	f->local.version = 4;
	assert_int_equal(km_neg_offer_subscribe(outs, 3, &f->local, &f->offer, f->err, sizeof f->err), 0);
	write_and_reparse(f, &f->offer);
	km_sdp_t *r = &f->reparsed;
	assert_int_equal(r->sess_version, 4);
	assert_int_equal(r->nmedia, 3);
	assert_int_equal(r->media[0].dir, KM_SDP_SENDONLY);
	assert_int_equal(r->media[0].setup, KM_SDP_SETUP_ACTPASS);
	assert_int_equal(r->media[0].codecs[0].pt, KM_NEG_PT_OPUS);
	assert_int_equal(r->media[1].codecs[0].pt, KM_NEG_PT_VP8);
	assert_int_equal(r->media[1].ssrcs[0].ssrc, 7002);
	assert_string_equal(r->media[1].ssrcs[0].msid_stream, "k12");
	assert_int_equal(r->media[2].dir, KM_SDP_INACTIVE);
	assert_string_equal(r->media[2].mid, "2");

	browser_answer(&f->answer, r, KM_SDP_SETUP_ACTIVE);
	km_neg_subscribe_t sub;
	assert_int_equal(km_neg_read_subscribe_answer(&f->answer, outs, 3, &sub, f->err, sizeof f->err), 0);
	assert_true(sub.transport.local_dtls_server);
	assert_string_equal(sub.transport.ufrag, "brwz");
	assert_true(sub.sections[0].accepted);
	assert_true(sub.sections[1].accepted);
	assert_false(sub.sections[2].accepted);
	assert_int_equal(sub.sections[0].ext_audio_level, KM_NEG_EXT_AUDIO_LEVEL);
	assert_int_equal(sub.sections[1].ext_abs_send_time, KM_NEG_EXT_ABS_SEND_TIME);
	assert_true(sub.sections[1].nack && sub.sections[1].pli && sub.sections[1].remb);

	/* actpass in an answer is a misuse */
	browser_answer(&f->answer, r, KM_SDP_SETUP_ACTPASS);
	assert_int_equal(km_neg_read_subscribe_answer(&f->answer, outs, 3, &sub, f->err, sizeof f->err),
			 KM_SDP_EUNSUPPORTED);
	assert_non_null(strstr(f->err, "actpass"));

	/* a section missing from the answer */
	browser_answer(&f->answer, r, KM_SDP_SETUP_ACTIVE);
	f->answer.nmedia = 2;
	assert_int_not_equal(km_neg_read_subscribe_answer(&f->answer, outs, 3, &sub, f->err, sizeof f->err), 0);
	assert_non_null(strstr(f->err, "sections"));

	/* a changed mid */
	browser_answer(&f->answer, r, KM_SDP_SETUP_PASSIVE);
	strcpy(f->answer.media[1].mid, "x");
	assert_int_not_equal(km_neg_read_subscribe_answer(&f->answer, outs, 3, &sub, f->err, sizeof f->err), 0);
	assert_non_null(strstr(f->err, "mid"));
}

static void test_bad_arguments(void **state)
{
	fx_t *f = *state;
	km_neg_out_t outs[3];
	make_outs(outs);
	assert_int_equal(km_neg_offer_subscribe(outs, 0, &f->local, &f->offer, f->err, sizeof f->err), KM_SDP_EINVAL);
	assert_int_equal(km_neg_offer_subscribe(outs, KM_NEG_MAX_OUTS + 1, &f->local, &f->offer, f->err, sizeof f->err),
			 KM_SDP_EINVAL);
	assert_int_equal(km_neg_answer_publish(NULL, &f->local, 0, 0, &f->answer, &f->pub, f->err, sizeof f->err),
			 KM_SDP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_h264_only_video_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recvonly_offer_has_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_passive_makes_kamer_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_bundled_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_offer_and_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simulcast_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simulcast_choice_of_rids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simulcast_needs_rid_extension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_refuses_simulcast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rid_extensions_alone_are_not_taken, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
