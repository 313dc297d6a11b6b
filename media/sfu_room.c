/* sfu_room.c — the SFU's worker side: rooms and their connections on one
 * media worker, built and torn down by commands from the signaling thread
 * (sfu_int.h), with a 1 s timer for RTCP reports and the echo time limit.
 * The packet path itself is sfu_path.c.
 * Threads: everything here runs on the worker's thread. */
#include "media/sfu_int.h"

#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sfu_wroom_t *room_find(sfu_wstate_t *ws, uint64_t id, bool create)
{
	for (sfu_wroom_t *r = ws->rooms; r; r = r->next)
		if (r->id == id)
			return r;
	if (!create)
		return NULL;
	sfu_wroom_t *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->id = id;
	r->next = ws->rooms;
	ws->rooms = r;
	__atomic_add_fetch(&ws->live_rooms, 1, __ATOMIC_RELAXED);
	return r;
}

static sfu_wconn_t *conn_find(sfu_wroom_t *r, uint64_t id)
{
	for (sfu_wconn_t *c = r ? r->conns : NULL; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void room_drop_if_empty(sfu_wstate_t *ws, sfu_wroom_t *r)
{
	if (r->conns)
		return;
	for (sfu_wroom_t **pp = &ws->rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			free(r);
			__atomic_sub_fetch(&ws->live_rooms, 1, __ATOMIC_RELAXED);
			return;
		}
}

static void push(sfu_wstate_t *ws, int type, uint64_t conn, int code, const char *text)
{
	km_worker_push_event(ws->worker, type, conn, code, text);
}

static void free_rings(sfu_wconn_t *c)
{
	for (size_t i = 0; i < c->ntracks; i++)
		for (size_t k = 0; k < KM_NEG_MAX_LAYERS; k++)
			km_ring_free(c->tracks[i].layers[k].ring);
}

/* Frees c: routes, transport, rings. Safe inside c's own callbacks. */
static void conn_destroy(sfu_wconn_t *c)
{
	sfu_wroom_t *r = c->room;
	sfu_unlink_all(c);
	for (sfu_wconn_t **pp = &r->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	km_conn_free(c->conn);
	km_subctx_free(c->sub); /* after the transport that ran on it */
	free_rings(c);
	__atomic_sub_fetch(&c->ws->live_conns, 1, __ATOMIC_RELAXED);
	free(c);
}

static void on_candidate(void *ud, const char *cand)
{
	sfu_wconn_t *c = ud;
	if (!cand)
		push(c->ws, KM_MEDIA_EV_ICE_GATHERED, c->id, 0, NULL);
	else
		push(c->ws, KM_MEDIA_EV_ICE_CANDIDATE, c->id, 0, cand);
}

static void on_state(void *ud, km_conn_state_t st, const char *reason)
{
	sfu_wconn_t *c = ud;
	if (st == KM_CONN_CONNECTED) {
		c->connected = true;
		push(c->ws, SFU_EV_STATE, c->id, st, km_conn_srtp_profile(c->conn));
		for (size_t i = 0; i < c->nouts; i++) { /* a keyframe for the new viewer */
			sfu_out_t *o = &c->outs[i];
			if (o->src && o->kind == KM_SDP_VIDEO)
				sfu_request_keyframe(o->src, &o->src->tracks[o->src_track], sfu_out_layer(o), 0);
		}
	} else if (st == KM_CONN_FAILED || st == KM_CONN_CLOSED) {
		sfu_wstate_t *ws = c->ws;
		sfu_wroom_t *r = c->room;
		push(ws, SFU_EV_STATE, c->id, st, reason && reason[0] ? reason : "peer_closed");
		conn_destroy(c);
		room_drop_if_empty(ws, r);
	}
}

/* Applies the peer's transport values: ICE credentials, fingerprint, role,
 * candidates from the SDP. Returns 0 or a KM_E code (reason in err). */
/* The candidates the remote SDP itself carried. */
static void add_sdp_candidates(sfu_wconn_t *c, const km_neg_transport_t *t)
{
	char line[KM_ICE_CANDIDATE_MAX + 1];
	for (size_t i = 0; i < t->ncands; i++) {
		size_t n;
		if (km_sdp_write_candidate(&t->cands[i], line, sizeof line, &n, NULL, 0) == 0)
			km_conn_add_candidate(c->conn, line, NULL, 0);
	}
}

static int set_remote(sfu_wconn_t *c, const km_neg_transport_t *t, char *err, size_t errlen)
{
	char fp[KM_DTLS_FP_LEN];
	km_conn_fingerprint_hex(t->fingerprint, fp);
	int rc = km_conn_set_remote(c->conn, t->ufrag, t->pwd, fp, t->local_dtls_server, err, errlen);
	if (!rc)
		add_sdp_candidates(c, t);
	return rc;
}

/* A received track: one stream, or one per simulcast layer (each with
 * its ring when video). Returns 0 or KM_ENOMEM (rings made are left in t). */
static int init_track(sfu_track_t *t, const km_neg_track_t *neg, int64_t now_us)
{
	t->neg = *neg;
	t->nlayers = neg->nlayers ? neg->nlayers : 1;
	t->layers[0].ssrc = neg->nlayers ? 0 : neg->ssrc;
	t->rate_at_us = now_us;
	for (size_t k = 0; k < t->nlayers; k++) {
		km_rtp_unwrap_init(&t->layers[k].unwrap);
		if (neg->kind == KM_SDP_VIDEO && !(t->layers[k].ring = km_ring_new_sized(SFU_RING_SLOTS, KM_CONN_MAX_PACKET, SFU_RING_BYTES_START)))
			return KM_ENOMEM;
	}
	return 0;
}

static int make_conn(sfu_wstate_t *ws, sfu_wroom_t *r, const sfu_cmd_open_t *cmd, sfu_wconn_t **out, char *err,
		     size_t errlen)
{
	sfu_wconn_t *c = calloc(1, sizeof *c);
	if (!c)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	c->id = cmd->conn;
	c->kind = cmd->kind;
	c->room = r;
	c->ws = ws;
	c->opened_us = g_get_monotonic_time();
	c->ntracks = cmd->ntracks;
	for (size_t i = 0; i < cmd->ntracks; i++)
		if (init_track(&c->tracks[i], &cmd->tracks[i], c->opened_us) != 0) {
			free_rings(c);
			free(c);
			return km_errf(KM_ENOMEM, err, errlen, "out of memory");
		}
	km_conn_config_t cfg = {
		.addresses = ws->addresses, .n_addresses = ws->n_addresses, .port_min = ws->port_min,
		.port_max = ws->port_max, .ice_controlling = cmd->kind == KM_SFU_SUB, .cert = ws->cert,
		.profiles = cmd->profiles | KM_DTLS_AES256GCM, .on_candidate = on_candidate, .on_state = on_state,
		.on_rtp = sfu_on_rtp, .on_rtcp = sfu_on_rtcp, .ud = c,
		.sendq = km_worker_sendq(ws->worker),
	};
	c->sub = km_subctx_new(ws->subloop);
	cfg.subloop = c->sub ? ws->subloop : NULL;
	GMainContext *ctx = c->sub ? km_subctx_context(c->sub) : km_worker_context(ws->worker);
	int rc = km_conn_new(ctx, &cfg, cmd->ufrag, cmd->pwd, &c->conn, err, errlen);
	if (rc) {
		km_subctx_free(c->sub);
		free_rings(c);
		free(c);
		return rc;
	}
	c->next = r->conns;
	r->conns = c;
	__atomic_add_fetch(&ws->live_conns, 1, __ATOMIC_RELAXED);
	*out = c;
	return 0;
}

/* The echo connection sends each track back to its own browser. */
static void echo_outs(sfu_wconn_t *c, uint32_t ssrc_base)
{
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_out_t *o = &c->outs[i];
		const km_neg_track_t *t = &c->tracks[i].neg;
		o->accepted = true;
		o->kind = t->kind;
		o->ssrc = ssrc_base + (uint32_t)i;
		o->pt = t->pt;
		o->src_conn = c->id;
		snprintf(o->src_mid, sizeof o->src_mid, "%s", t->mid);
		o->ext_abs = t->ext_abs_send_time;
		o->ext_level = t->ext_audio_level;
		km_rewrite_init(&o->rw, o->ssrc, o->pt, t->clock ? t->clock : 90000);
		km_simulcast_sel_init(&o->sel);
	}
	c->nouts = c->ntracks;
	for (uint8_t i = 0; i < c->nouts; i++)
		sfu_link_out(c, i);
}

void sfu_w_open(void *arg)
{
	sfu_cmd_open_t *cmd = arg;
	sfu_wstate_t *ws = cmd->ws;
	char err[256] = "";
	sfu_wroom_t *r = room_find(ws, cmd->room, true);
	sfu_wconn_t *old = r ? conn_find(r, cmd->conn) : NULL, *c = NULL;
	if (old)
		conn_destroy(old);
	int rc = r ? make_conn(ws, r, cmd, &c, err, sizeof err) : KM_ENOMEM;
	if (!rc && cmd->has_remote)
		rc = set_remote(c, &cmd->remote, err, sizeof err);
	if (rc) {
		if (c)
			conn_destroy(c);
		push(ws, SFU_EV_STATE, cmd->conn, KM_CONN_FAILED, err[0] ? err : "no media connection possible");
	} else {
		if (c->kind == KM_SFU_PUB) { /* subscribers waiting for this publisher */
			for (sfu_wconn_t *s = r->conns; s; s = s->next)
				for (uint8_t i = 0; i < s->nouts; i++)
					if (!s->outs[i].src && s->outs[i].src_conn == c->id)
						sfu_link_out(s, i);
		} else if (c->kind == KM_SFU_ECHO) {
			echo_outs(c, cmd->echo_ssrc_base);
		}
	}
	if (r)
		room_drop_if_empty(ws, r);
	free(cmd);
}

void sfu_w_outs(void *arg)
{
	sfu_cmd_outs_t *cmd = arg;
	sfu_wroom_t *r = room_find(cmd->ws, cmd->room, false);
	sfu_wconn_t *c = conn_find(r, cmd->conn);
	if (!c) {
		free(cmd);
		return;
	}
	char err[256] = "";
	if (cmd->has_remote && set_remote(c, &cmd->remote, err, sizeof err) != 0) {
		push(cmd->ws, SFU_EV_STATE, c->id, KM_CONN_FAILED, err);
		conn_destroy(c);
		room_drop_if_empty(cmd->ws, r);
		free(cmd);
		return;
	}
	sfu_unlink_all(c); /* the outs are replaced; the publishers stay linked */
	for (size_t i = 0; i < cmd->n; i++) {
		sfu_out_t *o = &c->outs[i];
		const sfu_out_spec_t *s = &cmd->outs[i];
		bool same = i < c->nouts && o->accepted && s->accepted && o->ssrc == s->ssrc && o->src_conn == s->src_conn &&
			    strcmp(o->src_mid, s->src_mid) == 0;
		if (!same) {
			memset(o, 0, sizeof *o);
			km_rewrite_init(&o->rw, s->ssrc ? s->ssrc : 1, s->pt, s->kind == KM_SDP_AUDIO ? 48000 : 90000);
			km_simulcast_sel_init(&o->sel);
			km_simulcast_vp8_map_init(&o->vp8);
			o->shown_cur = o->shown_want = -1;
		}
		o->accepted = s->accepted;
		o->kind = s->kind;
		o->ssrc = s->ssrc;
		o->pt = s->pt;
		o->src_conn = s->src_conn;
		snprintf(o->src_mid, sizeof o->src_mid, "%s", s->src_mid);
		o->ext_abs = s->ext_abs;
		o->ext_level = s->ext_level;
	}
	c->nouts = (uint8_t)cmd->n;
	for (uint8_t i = 0; i < c->nouts; i++)
		if (c->outs[i].accepted)
			sfu_link_out(c, i);
	free(cmd);
}

void sfu_w_candidate(void *arg)
{
	sfu_cmd_cand_t *cmd = arg;
	sfu_wconn_t *c = conn_find(room_find(cmd->ws, cmd->room, false), cmd->conn);
	if (c)
		km_conn_add_candidate(c->conn, cmd->text[0] ? cmd->text : NULL, NULL, 0);
	free(cmd);
}

void sfu_w_restart(void *arg)
{
	sfu_cmd_open_t *cmd = arg;
	sfu_wconn_t *c = conn_find(room_find(cmd->ws, cmd->room, false), cmd->conn);
	char err[160] = "";
	/* Gone already: its failure event is on its way to the signaling side. */
	if (c && km_conn_ice_restart(c->conn, cmd->ufrag, cmd->pwd, cmd->remote.ufrag, cmd->remote.pwd, err,
				     sizeof err) == 0)
		add_sdp_candidates(c, &cmd->remote);
	else if (c)
		km_warn("sfu", "ice_restart_failed", "conn=%llu reason=\"%s\"", (unsigned long long)cmd->conn, err);
	free(cmd);
}

void sfu_w_close(void *arg)
{
	sfu_cmd_close_t *cmd = arg;
	sfu_wroom_t *r = room_find(cmd->ws, cmd->room, false);
	if (r) {
		if (cmd->conn) {
			sfu_wconn_t *c = conn_find(r, cmd->conn);
			if (c)
				conn_destroy(c);
		} else {
			while (r->conns)
				conn_destroy(r->conns);
		}
		room_drop_if_empty(cmd->ws, r);
	}
	free(cmd);
}

static const char *rid_name(const sfu_track_t *t, int layer)
{
	return layer >= 0 && layer < t->neg.nlayers ? t->neg.rids[layer] : "-";
}

/* The video bitrate subscriber c receives now (as measured at its sources). */
static uint64_t video_sent(const sfu_wconn_t *c)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < c->nouts; i++) {
		const sfu_out_t *o = &c->outs[i];
		const sfu_track_t *t = o->src ? &o->src->tracks[o->src_track] : NULL;
		if (t && o->kind == KM_SDP_VIDEO && (!t->neg.nlayers || o->sel.cur >= 0))
			sum += t->rates[sfu_out_layer(o)].bps;
	}
	return sum;
}

/* Once a second: the simulcast layer each out of subscriber c should
 * receive (from its REMB estimate), and a key frame of a layer to switch
 * to. Changes are logged at debug level. */
static void choose_layers(sfu_wconn_t *c, int64_t now)
{
	uint64_t sent = video_sent(c);
	for (size_t i = 0; i < c->nouts; i++) {
		sfu_out_t *o = &c->outs[i];
		sfu_track_t *t = o->src ? &o->src->tracks[o->src_track] : NULL;
		if (!t || !t->neg.nlayers)
			continue;
		if (km_simulcast_decide(&o->sel, t->rates, t->nlayers, c->remb_bps, sent) && o->sel.want >= 0)
			sfu_request_keyframe(o->src, t, (uint8_t)o->sel.want, now);
		if (o->sel.cur == o->shown_cur && o->sel.want == o->shown_want)
			continue;
		o->shown_cur = o->sel.cur;
		o->shown_want = o->sel.want;
		const km_simulcast_layer_t *r = t->rates;
		km_debug("sfu", "simulcast_layer",
			 "member=%llu out=%zu cur=%s want=%s probing=%d est_bps=%llu sent_bps=%llu "
			 "layers=%s:%llu/%u,%s:%llu/%u,%s:%llu/%u",
			 (unsigned long long)sfu_conn_member(c->id), i, rid_name(t, o->sel.cur),
			 rid_name(t, o->sel.want), o->sel.probing, (unsigned long long)c->remb_bps,
			 (unsigned long long)sent, rid_name(t, 0), (unsigned long long)r[0].bps, r[0].width,
			 rid_name(t, 1), (unsigned long long)r[1].bps, r[1].width, rid_name(t, 2),
			 (unsigned long long)r[2].bps, r[2].width);
	}
}

/* Once a second: the echo time limit; the publishers' bitrates, then the
 * layer each subscriber receives; RTCP reports. */
static gboolean on_timer(gpointer ud)
{
	sfu_wstate_t *ws = ud;
	int64_t now = g_get_monotonic_time();
	for (sfu_wroom_t *r = ws->rooms, *rn; r; r = rn) {
		rn = r->next;
		for (sfu_wconn_t *c = r->conns, *cn; c; c = cn) {
			cn = c->next;
			if (c->kind == KM_SFU_ECHO && now - c->opened_us > ws->echo_us) {
				push(ws, SFU_EV_STATE, c->id, KM_CONN_CLOSED, "time_limit");
				conn_destroy(c);
				continue;
			}
			sfu_measure(c, now);
		}
		for (sfu_wconn_t *c = r->conns, *cn; c; c = cn) {
			cn = c->next;
			if (!c->connected)
				continue;
			choose_layers(c, now);
			sfu_send_reports(c, now);
		}
		room_drop_if_empty(ws, r);
	}
	return G_SOURCE_CONTINUE;
}

void sfu_w_start(void *arg)
{
	sfu_wstate_t *ws = arg;
	if (km_subloop_new(km_worker_context(ws->worker), &ws->subloop) != 0)
		km_warn("sfu", "subloop_failed", "fallback=worker_context"); /* works, but O(connections) per wake-up */
	else /* one epoll_wait per wake-up */
		km_worker_set_poll(ws->worker, km_subloop_poll, ws->subloop);
	ws->timer = g_timeout_source_new(1000);
	g_source_set_callback(ws->timer, on_timer, ws, NULL);
	g_source_attach(ws->timer, km_worker_context(ws->worker));
}

void sfu_w_stop(void *arg)
{
	sfu_wstate_t *ws = arg;
	while (ws->rooms) {
		sfu_wroom_t *r = ws->rooms;
		while (r->conns)
			conn_destroy(r->conns);
		ws->rooms = r->next;
		free(r);
		__atomic_sub_fetch(&ws->live_rooms, 1, __ATOMIC_RELAXED);
	}
	if (ws->timer) {
		g_source_destroy(ws->timer);
		g_source_unref(ws->timer);
		ws->timer = NULL;
	}
	km_worker_set_poll(ws->worker, NULL, NULL);
	km_subloop_free(ws->subloop);
	ws->subloop = NULL;
}
