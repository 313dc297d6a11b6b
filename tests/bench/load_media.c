/* load_media.c — the load client's media transport (see load.h): one
 * connection is a km_conn (ICE + DTLS-SRTP, against kamer and Janus) or,
 * against the floor forwarder, a connected UDP socket with fixed SRTP keys.
 * Received RTP is counted per stream (stamp sequence for loss, stamp time
 * for the one-way delay histogram); video is decoded only until the first
 * frame (join-to-first-frame), with PLIs while a keyframe is missing.
 * Publishers replay the recorded loop (load_src.c), answer PLI/FIR with a
 * keyframe and send a sender report per stream every second; subscribers
 * send a receiver report every second. No personal data anywhere.
 * Threads: the load client's. */
#include "tests/bench/load.h"

#include "core/err.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/wire.h"

#include <arpa/inet.h>
#include <glib-unix.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PLI_GAP_US 300000
#define FLOOR_BATCH 32

/* ---- delay histogram ---- */

int ld_hist_bucket(int64_t us)
{
	if (us <= 1)
		return 0;
	int b = (int)(log((double)us) / log(1.02));
	return b < 0 ? 0 : b >= LD_HIST ? LD_HIST - 1 : b;
}

int64_t ld_hist_pct(const uint64_t *hist, double pct)
{
	uint64_t total = 0, acc = 0;
	for (int i = 0; i < LD_HIST; i++)
		total += hist[i];
	if (!total)
		return 0;
	uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)total);
	for (int i = 0; i < LD_HIST; i++) {
		acc += hist[i];
		if (acc >= want && acc > 0)
			return (int64_t)ceil(pow(1.02, i + 1));
	}
	return 0;
}

/* ---- sending ---- */

static int send_rtp(ld_conn_t *c, uint8_t *p, size_t len, size_t cap, bool rtcp)
{
	if (c->conn)
		return rtcp ? km_conn_send_rtcp(c->conn, p, len, cap) : km_conn_send_rtp(c->conn, p, len, cap);
	int rc = rtcp ? km_srtp_protect_rtcp(c->srtp_out, p, &len, cap)
		      : km_srtp_protect(c->srtp_out, p, &len, cap);
	if (rc == 0 && send(c->fd, p, len, MSG_DONTWAIT) != (ssize_t)len)
		rc = KM_EIO;
	return rc;
}

static void send_media(void *ud, uint8_t *p, size_t len, size_t cap)
{
	ld_conn_t *c = ud;
	if (send_rtp(c, p, len, cap, false) != 0)
		c->tx_fail++;
	else if (c->part->L->st.on)
		c->part->L->st.tx_packets++;
}

void ld_part_send_due(ld_part_t *p, int64_t now_us)
{
	if (!p->publishing || !p->pub || p->pub->state != KM_CONN_CONNECTED)
		return;
	const ld_src_t *s = &p->L->src;
	int64_t gap[2] = { 20000, 1000000 / s->fps };
	for (int k = 0; k < 2; k++) {
		ld_tx_t *t = &p->tx[k];
		if (now_us - t->next_us > 200000)
			t->next_us = now_us; /* far behind (a stall): no burst */
		for (int i = 0; i < 4 && t->next_us <= now_us; i++) {
			if (k == 0)
				ld_src_audio(s, t, now_us, send_media, p->pub);
			else
				ld_src_video(s, t, now_us, send_media, p->pub);
			t->next_us += gap[k];
		}
	}
}

static void send_sr(ld_conn_t *c)
{
	uint8_t b[200];
	size_t n = 0;
	int64_t now = g_get_real_time();
	uint64_t ntp = ((uint64_t)(now / 1000000 + 2208988800LL) << 32) |
		       (uint64_t)(((now % 1000000) << 32) / 1000000);
	for (int k = 0; k < 2; k++) {
		ld_tx_t *t = &c->part->tx[k];
		km_rtcp_sender_info_t si = { .ssrc = t->ssrc, .ntp = ntp, .rtp_ts = t->ts,
			.packet_count = t->sr_packets, .octet_count = t->sr_octets };
		int w = km_rtcp_write_sr(b + n, sizeof b - n, &si, NULL, 0);
		if (w > 0)
			n += (size_t)w;
	}
	if (n && send_rtp(c, b, n, sizeof b, true) != 0)
		c->tx_fail++;
}

static void send_rr(ld_conn_t *c)
{
	km_rtcp_report_t blocks[LD_MAX_RX];
	size_t nb = 0;
	for (int i = 0; i < c->nrx && nb < LD_MAX_RX; i++) {
		ld_rx_t *x = &c->rx[i];
		if (!x->started)
			continue;
		memset(&blocks[nb], 0, sizeof blocks[nb]);
		blocks[nb].ssrc = x->ssrc;
		blocks[nb].ext_highest_seq = (uint32_t)x->rtp_hi;
		nb++;
	}
	uint8_t b[1024];
	int w = km_rtcp_write_rr(b, sizeof b, c->rtcp_ssrc, blocks, nb);
	if (w > 0 && send_rtp(c, b, (size_t)w, sizeof b, true) != 0)
		c->tx_fail++;
}

static void send_pli(ld_conn_t *c, uint32_t ssrc)
{
	uint8_t b[64];
	int w = km_rtcp_write_pli(b, sizeof b, c->rtcp_ssrc, ssrc);
	c->plis_sent++;
	if (w > 0 && send_rtp(c, b, (size_t)w, sizeof b, true) != 0)
		c->tx_fail++;
}

/* ---- receiving ---- */

static ld_rx_t *rx_for(ld_conn_t *c, const km_rtp_t *r)
{
	for (int i = 0; i < c->nrx; i++)
		if (c->rx[i].ssrc == r->ssrc)
			return &c->rx[i];
	bool video;
	size_t t = 0;
	while (t < c->ntracks && c->tracks[t].ssrc != r->ssrc)
		t++;
	if (t < c->ntracks)
		video = c->tracks[t].video;
	else if (r->pt == c->video_pt)
		video = true;
	else if (r->pt == c->audio_pt)
		video = false;
	else
		return NULL;
	if (c->nrx >= LD_MAX_RX)
		return NULL;
	ld_rx_t *x = &c->rx[c->nrx++];
	memset(x, 0, sizeof *x);
	x->ssrc = r->ssrc;
	x->video = video;
	km_rtp_unwrap_init(&x->uw);
	if (video && km_peer_rx_new(KM_PEER_VIDEO, &x->dec) != 0)
		x->dec = NULL;
	return x;
}

static void on_rtp(void *ud, uint8_t *p, size_t len)
{
	ld_conn_t *c = ud;
	ld_t *L = c->part->L;
	km_rtp_t r;
	if (km_rtp_parse(p, len, &r) != 0) {
		c->rx_bad++;
		return;
	}
	ld_rx_t *x = rx_for(c, &r);
	if (!x) {
		c->rx_unknown++;
		return;
	}
	int64_t now = g_get_monotonic_time();
	int64_t ext = km_rtp_unwrap(&x->uw, r.seq);
	if (ext > x->rtp_hi)
		x->rtp_hi = ext;
	if (r.padding && r.pad_len == KM_PEER_STAMP_LEN) {
		const uint8_t *s = p + len - KM_PEER_STAMP_LEN;
		uint32_t seq = km_wire_ld32(s + 8);
		if (!x->started || (int32_t)(seq - x->stamp_hi) > 0)
			x->stamp_hi = seq;
		x->started = true;
		x->packets++;
		if (L->st.on) {
			int64_t d = now - (int64_t)km_wire_ld64(s);
			L->st.hist[ld_hist_bucket(d)]++;
			if (d > L->st.max_us)
				L->st.max_us = d;
			L->st.rx_packets++;
			L->st.rx_bytes += len;
		}
	}
	if (x->dec) {
		km_peer_rx_packet(x->dec, p, len, now);
		km_peer_rx_stats_t st = { 0 };
		if (r.marker) /* a frame may have completed (stats sort the delays: not per packet) */
			km_peer_rx_stats(x->dec, &st);
		if (st.frames_decoded > 0) {
			x->first_frame_us = now;
			if (L->verbose)
				ld_log(L, "room %d part %d: first frame of %08x after %lld ms (sub up after %lld ms, %llu pkts, %llu plis)",
				       c->part->room->index, c->part->slot, x->ssrc, (long long)(now - c->part->room->join_us) / 1000,
				       (long long)(c->connected_us - c->part->room->join_us) / 1000, (unsigned long long)x->packets,
				       (unsigned long long)c->plis_sent);
			km_peer_rx_free(x->dec);
			x->dec = NULL;
		} else if (km_peer_rx_need_keyframe(x->dec) && now >= x->next_pli_us) {
			send_pli(c, x->ssrc);
			x->next_pli_us = now + PLI_GAP_US;
		}
	}
}

static void on_rtcp(void *ud, uint8_t *p, size_t len)
{
	ld_conn_t *c = ud;
	if (c->kind != LD_PUB)
		return;
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, p, len);
	while (km_rtcp_next(&it, &pkt) == 1) {
		km_rtcp_fb_t fb;
		if (pkt.pt != KM_RTCP_PSFB || km_rtcp_parse_fb(&pkt, &fb) != 0)
			continue;
		if (km_rtcp_parse_pli(&fb) == 0 || km_rtcp_fir_count(&fb) > 0) {
			ld_tx_t *t = &c->part->tx[1];
			c->plis_received++;
			int64_t now = g_get_monotonic_time();
			if (now - t->last_key_us >= 50000) { /* servers rate-limit PLIs themselves */
				t->want_key = true;
				t->last_key_us = now;
			}
		}
	}
}

/* ---- connection lifecycle ---- */

static void on_candidate(void *ud, const char *cand)
{
	ld_conn_t *c = ud;
	if (!cand)
		cand = "";
	if (c->local_sent)
		ld_proto_candidate(c->part, c, cand);
	else if (c->ncands < LD_MAX_CANDS && strlen(cand) < KM_ICE_CANDIDATE_MAX)
		snprintf(c->cands[c->ncands++], KM_ICE_CANDIDATE_MAX, "%s", cand);
}

void ld_conn_flush(ld_conn_t *c)
{
	if (c->local_sent)
		return;
	c->local_sent = true;
	for (int i = 0; i < c->ncands; i++)
		ld_proto_candidate(c->part, c, c->cands[i]);
	c->ncands = 0;
}

static void connected(ld_conn_t *c)
{
	int64_t now = g_get_monotonic_time();
	c->connected_us = now;
	if (c->kind == LD_PUB) {
		ld_part_t *p = c->part;
		int64_t stagger = (int64_t)(km_peer_random32() % 20000);
		p->tx[0].next_us = now + stagger;
		p->tx[1].next_us = now + stagger / 2;
		p->publishing = true;
	}
}

static void on_state(void *ud, km_conn_state_t st, const char *reason)
{
	ld_conn_t *c = ud;
	c->state = st;
	snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "");
	if (st == KM_CONN_CONNECTED)
		connected(c);
	ld_proto_state(c->part, c);
}

static gboolean on_floor_rx(gint fd, GIOCondition cond, gpointer ud)
{
	ld_conn_t *c = ud;
	static uint8_t bufs[FLOOR_BATCH][KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	struct mmsghdr m[FLOOR_BATCH];
	struct iovec v[FLOOR_BATCH];
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < FLOOR_BATCH; i++) {
			v[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = KM_CONN_MAX_PACKET };
			m[i].msg_hdr = (struct msghdr){ .msg_iov = &v[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, m, FLOOR_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			size_t len = m[i].msg_len;
			uint8_t *p = bufs[i];
			bool rtcp = len >= 2 && p[1] >= 192 && p[1] <= 223;
			int rc = rtcp ? km_srtp_unprotect_rtcp(c->srtp_in, p, &len)
				      : km_srtp_unprotect(c->srtp_in, p, &len);
			if (rc != 0)
				c->rx_bad++;
			else if (rtcp)
				on_rtcp(c, p, len);
			else
				on_rtp(c, p, len);
		}
		if (n < FLOOR_BATCH)
			break;
	}
	return G_SOURCE_CONTINUE;
}

/* The floor's fixed keys: the same for everyone, both directions. */
static int floor_keys(ld_conn_t *c)
{
	km_srtp_keys_t k = { .profile = KM_SRTP_AES256GCM, .key_len = 32, .salt_len = 12 };
	for (int i = 0; i < 32; i++)
		k.client_key[i] = k.server_key[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 12; i++)
		k.client_salt[i] = k.server_salt[i] = (uint8_t)(0x10 + i);
	k.local_is_client = 1;
	if (km_srtp_session_new(&k, 1, &c->srtp_in) || km_srtp_session_new(&k, 0, &c->srtp_out))
		return KM_ECRYPTO;
	return 0;
}

static int floor_open(ld_conn_t *c, char *err, size_t errlen)
{
	ld_t *L = c->part->L;
	int k = c->kind == LD_PUB ? 0 : 1;
	struct sockaddr_in me = { .sin_family = AF_INET }, srv = { .sin_family = AF_INET };
	me.sin_port = htons((uint16_t)(L->floor_client_port + 2 * c->part->index + k));
	srv.sin_port = htons((uint16_t)(L->port + 2 * c->part->index + k));
	if (inet_pton(AF_INET, L->address, &me.sin_addr) != 1 || inet_pton(AF_INET, L->host, &srv.sin_addr) != 1)
		return km_errf(KM_EINVAL, err, errlen, "floor: bad address");
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int big = LD_RCVBUF;
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big) ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big) ||
	    bind(c->fd, (struct sockaddr *)&me, sizeof me) || connect(c->fd, (struct sockaddr *)&srv, sizeof srv))
		return km_errf(KM_EIO, err, errlen, "floor: socket: %s", strerror(errno));
	if (floor_keys(c))
		return km_errf(KM_ECRYPTO, err, errlen, "floor: SRTP sessions");
	c->fd_src = g_unix_fd_source_new(c->fd, G_IO_IN);
	g_source_set_callback(c->fd_src, (GSourceFunc)(void (*)(void))on_floor_rx, c, NULL);
	g_source_attach(c->fd_src, L->ctx);
	c->audio_pt = KM_PEER_OPUS_PT;
	c->video_pt = KM_PEER_VP8_PT;
	c->state = KM_CONN_CONNECTED;
	connected(c);
	return 0;
}

ld_conn_t *ld_conn_new(ld_part_t *p, ld_conn_kind_t kind, char *err, size_t errlen)
{
	ld_conn_t *c = calloc(1, sizeof *c);
	if (!c) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	c->part = p;
	c->kind = kind;
	c->fd = -1;
	c->audio_pt = c->video_pt = -1;
	c->rtcp_ssrc = km_peer_random32();
	ld_t *L = p->L;
	int rc;
	if (L->server == LD_FLOOR) {
		rc = floor_open(c, err, errlen);
	} else {
		const char *addrs[1] = { L->address };
		km_conn_config_t cc = {
			.addresses = addrs, .n_addresses = 1, .ice_controlling = kind == LD_PUB,
			.cert = L->cert, .on_candidate = on_candidate, .on_state = on_state,
			.on_rtp = on_rtp, .on_rtcp = on_rtcp, .ud = c,
			.rcvbuf = LD_RCVBUF, /* fan-out bursts to one core: see load.h */
			.sendq = L->sendq,
		};
		rc = km_conn_new(L->ctx, &cc, NULL, NULL, &c->conn, err, errlen);
		if (rc == 0 && km_conn_local_credentials(c->conn, c->local.ufrag, c->local.pwd) != 0)
			rc = km_errf(KM_EINVAL, err, errlen, "no local ICE credentials");
		snprintf(c->local.fingerprint, sizeof c->local.fingerprint, "%s",
			 km_dtls_cert_fingerprint(L->cert));
	}
	if (rc) {
		ld_conn_free(c);
		return NULL;
	}
	return c;
}

void ld_conn_free(ld_conn_t *c)
{
	if (!c)
		return;
	if (c->part && c->part->pub == c)
		c->part->publishing = false;
	km_conn_free(c->conn);
	if (c->fd_src) {
		g_source_destroy(c->fd_src);
		g_source_unref(c->fd_src);
	}
	if (c->fd >= 0)
		close(c->fd);
	km_srtp_free(c->srtp_in);
	km_srtp_free(c->srtp_out);
	for (int i = 0; i < c->nrx; i++)
		km_peer_rx_free(c->rx[i].dec);
	free(c);
}

/* ---- SDP ---- */

/* The candidates in the first active section of s go to the connection. */
static void sdp_candidates(ld_conn_t *c, const km_sdp_t *s)
{
	for (size_t i = 0; i < s->nmedia; i++) {
		const km_sdp_media_t *m = &s->media[i];
		if (m->port == 0)
			continue;
		for (size_t k = 0; k < m->ncands; k++) {
			char line[KM_ICE_CANDIDATE_MAX];
			size_t n = 0;
			if (km_sdp_write_candidate(&m->cands[k], line, sizeof line, &n, NULL, 0) == 0)
				km_conn_add_candidate(c->conn, line, NULL, 0);
		}
		if (m->end_of_candidates)
			km_conn_add_candidate(c->conn, NULL, NULL, 0);
		return;
	}
}

char *ld_conn_offer(ld_conn_t *c, char *err, size_t errlen)
{
	ld_part_t *p = c->part;
	km_sdp_t *s = malloc(sizeof *s);
	if (!s) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	c->local.setup = KM_SDP_SETUP_ACTPASS;
	km_peer_sdp_send_t snd = { .audio = true, .video = true, .audio_ssrc = p->tx[0].ssrc,
		.video_ssrc = p->tx[1].ssrc, .dir = KM_SDP_SENDONLY, .sess_id = km_peer_random32() };
	km_peer_sdp_token(snd.cname, sizeof snd.cname);
	km_peer_sdp_token(snd.stream, sizeof snd.stream);
	char *text = NULL;
	if (km_peer_sdp_offer(s, &c->local, &snd, err, errlen) == 0)
		text = km_peer_sdp_text(s, err, errlen);
	free(s);
	return text;
}

int ld_conn_set_answer(ld_conn_t *c, const char *sdp, char *err, size_t errlen)
{
	if (c->remote_set)
		return 0;
	km_sdp_t *s = km_peer_sdp_parse(sdp, strlen(sdp), err, errlen);
	if (!s)
		return KM_EINVAL;
	km_peer_sdp_remote_t r;
	int rc = km_peer_sdp_remote(s, &r, err, errlen);
	if (rc == 0 && r.setup != KM_SDP_SETUP_ACTIVE && r.setup != KM_SDP_SETUP_PASSIVE)
		rc = km_errf(KM_EINVAL, err, errlen, "answer without a=setup:active|passive");
	if (rc == 0)
		rc = km_conn_set_remote(c->conn, r.ufrag, r.pwd, r.fingerprint,
					r.setup == KM_SDP_SETUP_ACTIVE, err, errlen);
	if (rc == 0) {
		c->remote_set = true;
		sdp_candidates(c, s);
	}
	free(s);
	return rc;
}

char *ld_conn_take_offer(ld_conn_t *c, const char *sdp, char *err, size_t errlen)
{
	km_sdp_t *offer = km_peer_sdp_parse(sdp, strlen(sdp), err, errlen);
	km_sdp_t *ans = offer ? malloc(sizeof *ans) : NULL;
	char *text = NULL;
	if (!ans)
		goto out;
	c->local.setup = KM_SDP_SETUP_ACTIVE;
	if (km_peer_sdp_answer(ans, offer, &c->local, false, err, errlen) != 0)
		goto out;
	if (!c->remote_set) {
		km_peer_sdp_remote_t r;
		if (km_peer_sdp_remote(offer, &r, err, errlen) != 0 ||
		    km_conn_set_remote(c->conn, r.ufrag, r.pwd, r.fingerprint, 0, err, errlen) != 0)
			goto out;
		c->remote_set = true;
		sdp_candidates(c, offer);
	}
	for (size_t i = 0; i < offer->nmedia; i++) {
		const km_sdp_media_t *m = &offer->media[i];
		if (m->port && m->kind == KM_SDP_AUDIO && c->audio_pt < 0)
			c->audio_pt = km_sdp_find_codec(m, "opus", 48000);
		if (m->port && m->kind == KM_SDP_VIDEO && c->video_pt < 0)
			c->video_pt = km_sdp_find_codec(m, "VP8", 90000);
	}
	c->ntracks = km_peer_sdp_tracks(offer, c->tracks, LD_MAX_RX);
	text = km_peer_sdp_text(ans, err, errlen);
out:
	free(offer);
	free(ans);
	return text;
}

int ld_conn_add_candidate(ld_conn_t *c, const char *cand)
{
	if (!c || !c->conn)
		return 0;
	return km_conn_add_candidate(c->conn, cand && cand[0] ? cand : NULL, NULL, 0);
}

/* ---- timers and windows ---- */

void ld_conn_tick(ld_conn_t *c, int64_t now_us, bool reports)
{
	if (!c || c->state != KM_CONN_CONNECTED)
		return;
	if (c->kind == LD_SUB) {
		for (int i = 0; i < c->nrx; i++) {
			ld_rx_t *x = &c->rx[i];
			if (!x->dec)
				continue;
			km_peer_rx_tick(x->dec, now_us);
			if (km_peer_rx_need_keyframe(x->dec) && now_us >= x->next_pli_us) {
				send_pli(c, x->ssrc);
				x->next_pli_us = now_us + PLI_GAP_US;
			}
		}
	}
	if (reports && c->kind == LD_SUB)
		send_rr(c);
	if (reports && c->kind == LD_PUB)
		send_sr(c);
}

void ld_conn_window_start(ld_conn_t *c)
{
	for (int i = 0; c && i < c->nrx; i++) {
		c->rx[i].w_packets = c->rx[i].packets;
		c->rx[i].w_hi = c->rx[i].stamp_hi;
	}
}

void ld_conn_window_end(ld_conn_t *c, ld_window_t *w)
{
	for (int i = 0; c && i < c->nrx; i++) {
		ld_rx_t *x = &c->rx[i];
		if (!x->started || !x->w_packets)
			continue; /* not flowing at the window's start: counted as missing */
		uint64_t got = x->packets - x->w_packets;
		if (!got) {
			w->stalled[x->video]++;
			continue;
		}
		w->expected += (uint32_t)(x->stamp_hi - x->w_hi);
		w->received += got;
		w->flowing[x->video]++;
		w->flowing_packets[x->video] += got;
	}
}
