/* sfu_test.c — the SFU as the signaling thread drives it, with real
 * workers: publish answers, subscribe offers and their versions as members
 * come and go, answers to the wrong version, candidates from the workers,
 * refusals with reasons, room isolation of members, a simulcast publisher,
 * teardown. (Media
 * forwarding itself is tested end to end with the test peer and Chromium.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "core/err.h"
#include "media/negotiate.h"
#include "media/sfu.h"
#include "tests/unit/media/chrome_offer.h"

static km_sfu_t *sfu;
static km_sdp_t *sdp_a, *sdp_b;

static int setup(void **state)
{
	const char *addrs[] = { "127.0.0.1" };
	km_sfu_config_t cfg = { .addresses = addrs, .n_addresses = 1, .workers = 2 };
	char err[256];
	if (km_sfu_new(&cfg, &sfu, err, sizeof err) != 0)
		return -1;
	sdp_a = malloc(sizeof *sdp_a);
	sdp_b = malloc(sizeof *sdp_b);
	return sdp_a && sdp_b ? 0 : -1;
}

static void drain(void);

static int teardown(void **state)
{
	drain();
	km_sfu_free(sfu);
	free(sdp_a);
	free(sdp_b);
	return 0;
}

/* Events polled but not yet asked for (offers must not be lost). */
static km_sfu_event_t stash[64];
static size_t nstash;

static int take(int type, uint64_t member, km_sfu_event_t *out)
{
	for (size_t i = 0; i < nstash; i++)
		if (stash[i].type == type && stash[i].member == member) {
			*out = stash[i];
			memmove(stash + i, stash + i + 1, (--nstash - i) * sizeof *stash);
			return 0;
		}
	return -1;
}

/* Polls until an event of type for member arrives (bounded: ms) into *out
 * (its sdp then belongs to the caller); other events are kept for later.
 * Offers are made on the caller's thread, so "no offer" needs no long wait. */
static int wait_event_ms(int type, uint64_t member, km_sfu_event_t *out, int ms)
{
	int64_t end = g_get_monotonic_time() + (int64_t)ms * 1000;
	for (;;) {
		if (take(type, member, out) == 0)
			return 0;
		if (g_get_monotonic_time() > end)
			return -1;
		km_sfu_event_t ev[16];
		size_t n = km_sfu_poll(sfu, ev, 16);
		for (size_t i = 0; i < n; i++) {
			if (nstash < sizeof stash / sizeof stash[0])
				stash[nstash++] = ev[i];
			else
				free(ev[i].sdp);
		}
		if (n == 0)
			g_usleep(5000);
	}
}

static int wait_event(int type, uint64_t member, km_sfu_event_t *out)
{
	return wait_event_ms(type, member, out, 3000);
}

static void drain(void)
{
	for (size_t i = 0; i < nstash; i++)
		free(stash[i].sdp);
	nstash = 0;
	km_sfu_event_t ev[16];
	size_t n;
	while ((n = km_sfu_poll(sfu, ev, 16)) > 0)
		for (size_t i = 0; i < n; i++)
			free(ev[i].sdp);
}

static void publish(uint64_t room, uint64_t member)
{
	char *answer = NULL, err[256];
	const char *offer = offer_text(vp8_codecs, "96 97 102");
	int rc = km_sfu_offer(sfu, room, member, 0, offer, strlen(offer), &answer, err, sizeof err);
	if (rc)
		fail_msg("publish: %s", err);
	assert_int_equal(km_sdp_parse(answer, strlen(answer), sdp_a, err, sizeof err), 0);
	assert_int_equal(sdp_a->media[0].dir, KM_SDP_RECVONLY);
	free(answer);
}

/* The browser's answer to an offer text: recvonly where kamer sends. */
static char *answer_for(const char *offer)
{
	static char text[65536];
	char err[256];
	size_t len;
	assert_int_equal(km_sdp_parse(offer, strlen(offer), sdp_b, err, sizeof err), 0);
	for (int i = 0; i < sdp_b->nmedia; i++) {
		km_sdp_media_t *m = &sdp_b->media[i];
		strcpy(m->ice.ufrag, "brwz");
		strcpy(m->ice.pwd, "browserpasswordbrowser");
		m->setup = KM_SDP_SETUP_ACTIVE;
		m->dir = m->dir == KM_SDP_SENDONLY ? KM_SDP_RECVONLY : KM_SDP_INACTIVE;
		m->nssrcs = 0;
		m->msid_stream[0] = m->msid_track[0] = 0;
	}
	assert_int_equal(km_sdp_write(sdp_b, text, sizeof text, &len, err, sizeof err), 0);
	return text;
}

static int active_sections(const char *sdp, const char *stream)
{
	char err[256];
	assert_int_equal(km_sdp_parse(sdp, strlen(sdp), sdp_a, err, sizeof err), 0);
	int n = 0;
	for (int i = 0; i < sdp_a->nmedia; i++)
		if (sdp_a->media[i].dir == KM_SDP_SENDONLY && (!stream || strcmp(sdp_a->media[i].msid_stream, stream) == 0))
			n++;
	return n;
}

/* Waits for the next offer to member, checks its version, answers it. */
static void expect_offer(uint64_t member, uint64_t version, int active, const char *stream, int nactive_stream)
{
	km_sfu_event_t ev;
	char err[256];
	if (wait_event(KM_SFU_EV_OFFER, member, &ev) != 0)
		fail_msg("no offer %llu for member %llu", (unsigned long long)version, (unsigned long long)member);
	assert_int_equal(ev.version, version);
	assert_int_equal(active_sections(ev.sdp, NULL), active);
	if (stream)
		assert_int_equal(active_sections(ev.sdp, stream), nactive_stream);
	char *ans = answer_for(ev.sdp);
	free(ev.sdp);
	assert_int_equal(km_sfu_answer(sfu, member, version + 1, ans, strlen(ans), err, sizeof err), KM_EPERM);
	assert_int_equal(km_sfu_answer(sfu, member, version, ans, strlen(ans), err, sizeof err), 0);
	assert_int_equal(km_sfu_answer(sfu, member, version, ans, strlen(ans), err, sizeof err), KM_EPERM);
}

/* The workers' live connections once they reach want (bounded: 3 s). */
static uint64_t worker_conns(uint64_t want)
{
	km_sfu_stats_t st;
	for (int i = 0; i < 300; i++) {
		km_sfu_stats(sfu, &st);
		if (st.worker_connections == want)
			break;
		g_usleep(10000);
	}
	return st.worker_connections;
}

static void test_offers_follow_publishers(void **state)
{
	km_sfu_event_t ev;
	km_sfu_stats_t st;
	publish(10, 1);
	/* A's candidates come from its worker, on 127.0.0.1 only */
	assert_int_equal(wait_event(KM_SFU_EV_CANDIDATE, 1, &ev), 0);
	assert_int_equal(ev.conn, KM_SFU_PUB);
	assert_non_null(strstr(ev.text, "127.0.0.1"));

	/* B subscribes: an offer of A's two tracks */
	assert_int_equal(km_sfu_subscribe(sfu, 10, 2), 0);
	expect_offer(2, 1, 2, "k1", 2);
	/* A subscribes: nothing to receive yet, so no offer */
	assert_int_equal(km_sfu_subscribe(sfu, 10, 1), 0);
	assert_int_equal(wait_event_ms(KM_SFU_EV_OFFER, 1, &ev, 50), -1);
	/* B publishes: A gets an offer of B's tracks; B's own stays as it is */
	publish(10, 2);
	expect_offer(1, 1, 2, "k2", 2);
	/* C publishes in the same room: both renegotiate to four tracks */
	publish(10, 3);
	expect_offer(2, 2, 4, "k3", 2);
	expect_offer(1, 2, 4, "k3", 2);
	/* a member of another room sees none of it, and cannot be moved */
	assert_int_equal(km_sfu_subscribe(sfu, 11, 9), 0);
	assert_int_equal(wait_event_ms(KM_SFU_EV_OFFER, 9, &ev, 50), -1);
	assert_int_equal(km_sfu_subscribe(sfu, 11, 1), KM_EINVAL);
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.rooms, 2);
	assert_int_equal(st.members, 4);
	assert_int_equal(worker_conns(5), 5); /* 3 publishers, 2 subscribers */
	/* A leaves: B's offer keeps the section order, A's sections inactive */
	km_sfu_leave(sfu, 1);
	expect_offer(2, 3, 2, "k1", 0);
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.members, 3);
	/* the room ends: everything goes */
	km_sfu_close_room(sfu, 10);
	km_sfu_close_room(sfu, 11);
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.rooms, 0);
	assert_int_equal(st.members, 0);
	/* and the workers freed every connection and room they held */
	assert_int_equal(worker_conns(0), 0);
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.worker_rooms, 0);
	drain();
}

static void test_refusals(void **state)
{
	char *answer = NULL, err[256];
	const char *offer = offer_text(h264_codecs, "102 103");
	assert_int_equal(km_sfu_offer(sfu, 20, 5, 0, offer, strlen(offer), &answer, err, sizeof err), KM_EINVAL);
	assert_null(answer);
	assert_non_null(strstr(err, "VP8"));
	assert_int_equal(km_sfu_offer(sfu, 20, 5, 0, "v=0\r\n", 5, &answer, err, sizeof err), KM_EINVAL);
	assert_int_equal(km_sfu_offer(sfu, 20, 5, 0, "", 0, &answer, err, sizeof err), KM_EINVAL);
	assert_int_equal(km_sfu_offer(sfu, 20, 0, 0, offer, strlen(offer), &answer, err, sizeof err), KM_EINVAL);
	assert_int_equal(km_sfu_candidate(sfu, 5, KM_SFU_PUB, "candidate:1 1 UDP 1 127.0.0.1 9 typ host"),
			 KM_ENOTFOUND);
	assert_int_equal(km_sfu_answer(sfu, 5, 1, "v=0", 3, err, sizeof err), KM_EPERM);
	km_sfu_stats_t st;
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.members, 0); /* a refused offer leaves nothing behind */
}

static void test_echo_is_not_published(void **state)
{
	km_sfu_event_t ev;
	char *answer = NULL, err[256];
	const char *offer = offer_text(vp8_codecs, "96 97 102");
	assert_int_equal(km_sfu_offer(sfu, 30, 7, 1, offer, strlen(offer), &answer, err, sizeof err), 0);
	assert_int_equal(km_sdp_parse(answer, strlen(answer), sdp_a, err, sizeof err), 0);
	assert_int_equal(sdp_a->media[0].dir, KM_SDP_SENDRECV);
	assert_int_equal(sdp_a->media[1].nssrcs, 1);
	free(answer);
	assert_int_equal(km_sfu_subscribe(sfu, 30, 8), 0);
	assert_int_equal(wait_event_ms(KM_SFU_EV_OFFER, 8, &ev, 50), -1); /* the echo reaches no one */
	km_sfu_close(sfu, 7, KM_SFU_ECHO);
	km_sfu_leave(sfu, 8);
	km_sfu_stats_t st;
	km_sfu_stats(sfu, &st);
	assert_int_equal(st.members, 0);
	drain();
}

/* A simulcast publisher: kamer answers its layers, and a subscriber still
 * gets one video section of it (kamer picks the layer per subscriber). */
static void test_simulcast_publisher(void **state)
{
	km_sfu_event_t ev;
	char *answer = NULL, err[256];
	const char *offer = sim_offer_text(sim_qhf);
	assert_int_equal(km_sfu_offer(sfu, 40, 11, 0, offer, strlen(offer), &answer, err, sizeof err), 0);
	assert_non_null(strstr(answer, "a=simulcast:recv q;h;f\r\n"));
	assert_non_null(strstr(answer, "a=rid:h recv\r\n"));
	free(answer);
	assert_int_equal(km_sfu_subscribe(sfu, 40, 12), 0);
	expect_offer(12, 1, 2, "k11", 2);
	assert_int_equal(worker_conns(2), 2);
	/* the echo of the same offer: one stream, no simulcast */
	assert_int_equal(km_sfu_offer(sfu, 40, 13, 1, offer, strlen(offer), &answer, err, sizeof err), 0);
	assert_null(strstr(answer, "simulcast"));
	free(answer);
	assert_int_equal(wait_event_ms(KM_SFU_EV_OFFER, 12, &ev, 50), -1);
	km_sfu_close_room(sfu, 40);
	assert_int_equal(worker_conns(0), 0);
	drain();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offers_follow_publishers),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_echo_is_not_published),
		cmocka_unit_test(test_simulcast_publisher),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
