/* pc.c — the test peer's connection (see pc.h): lifecycle, the SDP to
 * km_conn glue, held-back local candidates, and the 5 ms media timer that
 * drives pc_tx.c and pc_rx.c. Threads: the thread iterating cfg.ctx. */
#include "tests/peer/pc_int.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emit_candidate(km_peer_pc_t *pc, const char *cand)
{
	if (pc->cfg.on_candidate)
		pc->cfg.on_candidate(pc->cfg.ud, pc, cand);
}

static void on_conn_candidate(void *ud, const char *cand)
{
	km_peer_pc_t *pc = ud;
	if (!cand) {
		pc->gathered = true;
		cand = "";
	}
	if (pc->local_sent) {
		emit_candidate(pc, cand);
		return;
	}
	if (pc->ncands < PC_MAX_CANDS && strlen(cand) < KM_ICE_CANDIDATE_MAX)
		snprintf(pc->cands[pc->ncands++], KM_ICE_CANDIDATE_MAX, "%s", cand);
}

void km_peer_pc_flush_candidates(km_peer_pc_t *pc)
{
	if (!pc || pc->local_sent)
		return;
	pc->local_sent = true;
	for (size_t i = 0; i < pc->ncands; i++)
		emit_candidate(pc, pc->cands[i]);
	pc->ncands = 0;
}

static gboolean on_tick(gpointer ud)
{
	km_peer_pc_t *pc = ud;
	if (pc->state != KM_CONN_CONNECTED)
		return G_SOURCE_CONTINUE;
	int64_t now = g_get_monotonic_time();
	km__pc_tx_tick(pc, now);
	if (now >= pc->next_rxtick_us) {
		km__pc_rx_tick(pc, now);
		pc->next_rxtick_us = now + 10000;
	}
	if (now >= pc->next_fb_us) {
		bool reports = now >= pc->next_rr_us;
		km__pc_rx_feedback(pc, now, reports);
		if (reports) {
			km__pc_tx_send_sr(pc);
			pc->next_rr_us = now + 1000000;
		}
		pc->next_fb_us = now + 20000;
	}
	return G_SOURCE_CONTINUE;
}

static void stop_tick(km_peer_pc_t *pc)
{
	if (pc->tick) {
		g_source_destroy(pc->tick);
		g_source_unref(pc->tick);
		pc->tick = NULL;
	}
}

static void start_tick(km_peer_pc_t *pc)
{
	int64_t now = g_get_monotonic_time();
	pc->connected_us = now;
	pc->next_fb_us = now + 20000;
	pc->next_rr_us = now + 1000000;
	pc->next_rxtick_us = now;
	for (int i = 0; i < 2; i++)
		pc->tx[i].next_us = now;
	if (pc->tick)
		return;
	pc->tick = g_timeout_source_new(PC_TICK_MS);
	g_source_set_callback(pc->tick, on_tick, pc, NULL);
	g_source_attach(pc->tick, pc->cfg.ctx);
}

static void on_conn_state(void *ud, km_conn_state_t st, const char *reason)
{
	km_peer_pc_t *pc = ud;
	pc->state = st;
	snprintf(pc->reason, sizeof pc->reason, "%s", reason ? reason : "");
	if (st == KM_CONN_CONNECTED && pc->conn) {
		pc->srtp = km_conn_srtp_profile(pc->conn);
		start_tick(pc);
	} else if (st == KM_CONN_FAILED || st == KM_CONN_CLOSED) {
		stop_tick(pc);
	}
	if (pc->cfg.on_state)
		pc->cfg.on_state(pc->cfg.ud, pc, st, pc->reason);
}

static int make_conn(km_peer_pc_t *pc, char *err, size_t errlen)
{
	const char *addrs[1] = { pc->cfg.address ? pc->cfg.address : "127.0.0.1" };
	km_conn_config_t cc = {
		.addresses = addrs,
		.n_addresses = 1,
		.ice_controlling = pc->cfg.offerer,
		.cert = pc->cfg.cert,
		.profiles = pc->cfg.profiles,
		.on_candidate = on_conn_candidate,
		.on_state = on_conn_state,
		.on_rtp = km__pc_on_rtp,
		.drop_rx = km__pc_drop_rx,
		.on_rtcp = km__pc_on_rtcp,
		.ud = pc,
	};
	int rc = km_conn_new(pc->cfg.ctx, &cc, NULL, NULL, &pc->conn, err, errlen);
	if (rc)
		return rc;
	if (km_conn_local_credentials(pc->conn, pc->local.ufrag, pc->local.pwd) != 0)
		return km_errf(KM_EINVAL, err, errlen, "no local ICE credentials");
	snprintf(pc->local.fingerprint, sizeof pc->local.fingerprint, "%s",
		 km_dtls_cert_fingerprint(pc->cfg.cert));
	return 0;
}

int km_peer_pc_new(const km_peer_pc_config_t *cfg, km_peer_pc_t **out, char *err, size_t errlen)
{
	*out = NULL;
	km_peer_pc_t *pc = calloc(1, sizeof *pc);
	if (!pc)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	pc->cfg = *cfg;
	pc->srtp = "none";
	pc->audio_pt = pc->video_pt = -1;
	pc->rtcp_ssrc = km_peer_random32();
	pc->loss_state = cfg->loss_seed ? cfg->loss_seed : 0x9e3779b9u;
	pc->tx_loss_state = pc->loss_state ^ 0x5bd1e995u;
	int rc = km__pc_tx_init(pc);
	if (rc) {
		km_errf(rc, err, errlen, "could not make the synthetic source");
		goto fail;
	}
	rc = make_conn(pc, err, errlen);
	if (rc)
		goto fail;
	*out = pc;
	return 0;
fail:
	km_peer_pc_free(pc);
	return rc;
}

void km_peer_pc_free(km_peer_pc_t *pc)
{
	if (!pc)
		return;
	stop_tick(pc);
	km_conn_free(pc->conn);
	km__pc_tx_free(pc);
	km__pc_rx_free(pc);
	free(pc);
}

/* Remembers the payload types and SSRCs the remote description sends. */
static void learn_remote(km_peer_pc_t *pc, const km_sdp_t *s)
{
	for (size_t i = 0; i < s->nmedia; i++) {
		const km_sdp_media_t *m = &s->media[i];
		if (m->port == 0)
			continue;
		if (m->kind == KM_SDP_AUDIO && pc->audio_pt < 0)
			pc->audio_pt = km_sdp_find_codec(m, "opus", 48000);
		if (m->kind == KM_SDP_VIDEO && pc->video_pt < 0)
			pc->video_pt = km_sdp_find_codec(m, "VP8", 90000);
		const km_sdp_codec_t *c = km_sdp_codec(m, m->kind == KM_SDP_AUDIO ? pc->audio_pt
										  : pc->video_pt);
		if (c && (c->fb & KM_SDP_FB_NACK)) {
			pc->nack_audio |= m->kind == KM_SDP_AUDIO;
			pc->nack_video |= m->kind == KM_SDP_VIDEO;
		}
	}
	pc->ntracks = km_peer_sdp_tracks(s, pc->tracks, PC_MAX_TRACKS);
	km__pc_rx_update_tracks(pc);
}

char *km_peer_pc_offer(km_peer_pc_t *pc, bool sendrecv, char *err, size_t errlen)
{
	km_sdp_t *s = malloc(sizeof *s);
	if (!s) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	pc->local.setup = KM_SDP_SETUP_ACTPASS;
	pc->send.dir = sendrecv ? KM_SDP_SENDRECV : KM_SDP_SENDONLY;
	char *text = NULL;
	if (km_peer_sdp_offer(s, &pc->local, &pc->send, err, errlen) == 0)
		text = km_peer_sdp_text(s, err, errlen);
	if (text && sendrecv) {
		/* Echo: what comes back uses the payload types we offered. */
		pc->audio_pt = pc->send.audio ? KM_PEER_OPUS_PT : -1;
		pc->video_pt = pc->send.video ? KM_PEER_VP8_PT : -1;
	}
	free(s);
	return text;
}

static int set_remote(km_peer_pc_t *pc, const km_sdp_t *s, bool dtls_server, char *err,
		      size_t errlen)
{
	km_peer_sdp_remote_t r;
	int rc = km_peer_sdp_remote(s, &r, err, errlen);
	if (rc)
		return rc;
	rc = km_conn_set_remote(pc->conn, r.ufrag, r.pwd, r.fingerprint, dtls_server, err, errlen);
	if (rc == 0)
		pc->remote_set = true;
	return rc;
}

int km_peer_pc_set_answer(km_peer_pc_t *pc, const char *sdp, size_t len, char *err, size_t errlen)
{
	if (pc->remote_set)
		return km_errf(KM_EINVAL, err, errlen, "%s: a second answer", pc->cfg.name);
	km_sdp_t *s = km_peer_sdp_parse(sdp, len, err, errlen);
	if (!s)
		return KM_EINVAL;
	km_peer_sdp_remote_t r;
	int rc = km_peer_sdp_remote(s, &r, err, errlen);
	if (rc == 0 && r.setup != KM_SDP_SETUP_ACTIVE && r.setup != KM_SDP_SETUP_PASSIVE)
		rc = km_errf(KM_EINVAL, err, errlen, "answer without a=setup:active|passive");
	if (rc == 0)
		rc = set_remote(pc, s, r.setup == KM_SDP_SETUP_ACTIVE, err, errlen);
	if (rc == 0)
		learn_remote(pc, s);
	free(s);
	return rc;
}

char *km_peer_pc_take_offer(km_peer_pc_t *pc, const char *sdp, size_t len, char *err,
			    size_t errlen)
{
	km_sdp_t *offer = km_peer_sdp_parse(sdp, len, err, errlen);
	km_sdp_t *ans = offer ? malloc(sizeof *ans) : NULL;
	char *text = NULL;
	if (!ans) {
		if (offer)
			km_errf(KM_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	pc->local.setup = pc->cfg.dtls_server ? KM_SDP_SETUP_PASSIVE : KM_SDP_SETUP_ACTIVE;
	if (km_peer_sdp_answer(ans, offer, &pc->local, pc->cfg.send_audio || pc->cfg.send_video,
			       err, errlen) != 0)
		goto out;
	if (!pc->remote_set && set_remote(pc, offer, pc->cfg.dtls_server, err, errlen) != 0)
		goto out;
	text = km_peer_sdp_text(ans, err, errlen);
	if (text)
		learn_remote(pc, offer);
out:
	free(offer);
	free(ans);
	return text;
}

int km_peer_pc_add_candidate(km_peer_pc_t *pc, const char *candidate, char *err, size_t errlen)
{
	return km_conn_add_candidate(pc->conn, candidate && candidate[0] ? candidate : NULL, err,
				     errlen);
}

void km_peer_pc_close(km_peer_pc_t *pc)
{
	if (pc && pc->conn)
		km_conn_close(pc->conn);
}

const char *km_peer_pc_name(const km_peer_pc_t *pc)
{
	return pc->cfg.name;
}

km_conn_state_t km_peer_pc_state(const km_peer_pc_t *pc)
{
	return pc->state;
}

const char *km_peer_pc_srtp(const km_peer_pc_t *pc)
{
	return pc->srtp;
}

int64_t km_peer_pc_connected_us(const km_peer_pc_t *pc)
{
	return pc->connected_us;
}

int64_t km_peer_pc_first_rx_us(const km_peer_pc_t *pc)
{
	return pc->first_rx_us;
}

uint64_t km_peer_pc_rx_packets(const km_peer_pc_t *pc)
{
	return pc->rx_packets;
}

uint64_t km_peer_pc_tx_packets(const km_peer_pc_t *pc)
{
	return pc->tx[0].packets + pc->tx[1].packets;
}

static json_t *conn_report(const km_peer_pc_t *pc)
{
	km_conn_stats_t st;
	km_conn_stats(pc->conn, &st);
	return json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:I}",
			 "state", km_conn_state_name(pc->state), "reason", pc->reason, "srtp",
			 pc->srtp, "stats", "rx_datagrams", (json_int_t)st.rx_datagrams, "rx_rtp",
			 (json_int_t)st.rx_rtp, "rx_rtcp", (json_int_t)st.rx_rtcp, "drop_early",
			 (json_int_t)st.drop_early, "drop_invalid", (json_int_t)st.drop_invalid,
			 "drop_auth", (json_int_t)st.drop_auth, "drop_replay",
			 (json_int_t)st.drop_replay, "tx_rtp", (json_int_t)st.tx_rtp, "tx_rtcp",
			 (json_int_t)st.tx_rtcp, "tx_fail", (json_int_t)st.tx_fail, "rx_dtls",
			 (json_int_t)st.rx_dtls, "rx_unknown_ssrc", (json_int_t)pc->rx_unknown,
			 "rx_malformed", (json_int_t)pc->rx_bad, "remb_bps",
			 (json_int_t)pc->remb_bps);
}

void km_peer_pc_report(km_peer_pc_t *pc, json_t *rx, json_t *tx, json_t *conns)
{
	km__pc_rx_report(pc, rx);
	if (pc->tx[0].on || pc->tx[1].on)
		json_object_set_new(tx, pc->cfg.name, km__pc_tx_report(pc));
	json_t *c = conn_report(pc);
	if (c)
		json_object_set_new(conns, pc->cfg.name, c);
}
