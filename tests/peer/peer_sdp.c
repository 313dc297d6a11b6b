/* peer_sdp.c — the test peer's SDP glue (see peer_sdp.h): browser-like
 * offers for pub/echo, browser-like answers to kamer's sub offers (and, in
 * the self-test, kamer-like answers), and the transport and ssrc values of
 * a remote description. No I/O, no state; any thread. */
#include "tests/peer/peer_sdp.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

uint32_t km_peer_random32(void)
{
	uint32_t v = 0;
	while (v == 0)
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
			v = 0;
	return v;
}

void km_peer_sdp_token(char *out, size_t n)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	if (n == 0)
		return;
	for (size_t i = 0; i + 1 < n; i++)
		out[i] = chars[km_peer_random32() % (sizeof chars - 1)];
	out[n - 1] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void fp_format(const uint8_t md[KM_SDP_FP_LEN], char out[KM_DTLS_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < KM_SDP_FP_LEN; i++) {
		out[i * 3] = hex[md[i] >> 4];
		out[i * 3 + 1] = hex[md[i] & 15];
		out[i * 3 + 2] = i + 1 < KM_SDP_FP_LEN ? ':' : '\0';
	}
}

int km_peer_sdp_fp_parse(const char *hex, uint8_t out[KM_SDP_FP_LEN])
{
	if (!hex || strlen(hex) != KM_SDP_FP_LEN * 3 - 1)
		return KM_EINVAL;
	for (size_t i = 0; i < KM_SDP_FP_LEN; i++) {
		const char *p = hex + i * 3;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (i + 1 < KM_SDP_FP_LEN && p[2] != ':'))
			return KM_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Writes our ICE credentials, fingerprint and role into m. */
static int set_local(km_sdp_media_t *m, const km_peer_sdp_local_t *l, char *err, size_t errlen)
{
	if (strlen(l->ufrag) > KM_SDP_MAX_UFRAG || strlen(l->pwd) > KM_SDP_MAX_PWD)
		return km_errf(KM_EINVAL, err, errlen, "local ICE credentials too long");
	snprintf(m->ice.ufrag, sizeof m->ice.ufrag, "%s", l->ufrag);
	snprintf(m->ice.pwd, sizeof m->ice.pwd, "%s", l->pwd);
	m->ice.trickle = true;
	if (km_peer_sdp_fp_parse(l->fingerprint, m->fp.sha256) != 0)
		return km_errf(KM_EINVAL, err, errlen, "local fingerprint malformed");
	m->fp.set = true;
	m->setup = l->setup;
	return 0;
}

static void add_opus(km_sdp_media_t *m)
{
	km_sdp_codec_t *c = &m->codecs[m->ncodecs++];
	km_sdp_codec_init(c, KM_PEER_OPUS_PT, "opus", 48000, 2);
	c->minptime = 10;
	c->useinbandfec = 1;
}

static void add_vp8(km_sdp_media_t *m)
{
	km_sdp_codec_t *c = &m->codecs[m->ncodecs++];
	km_sdp_codec_init(c, KM_PEER_VP8_PT, "VP8", 90000, 0);
	c->fb = KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI | KM_SDP_FB_CCM_FIR | KM_SDP_FB_GOOG_REMB;
}

/* One sending section of an offer: kind, mid, codec, extmap, direction,
 * msid and a=ssrc lines. */
static int add_send_section(km_sdp_t *s, km_sdp_kind_t kind, uint32_t ssrc,
			    const km_peer_sdp_local_t *l, const km_peer_sdp_send_t *snd, char *err,
			    size_t errlen)
{
	km_sdp_media_t *m = &s->media[s->nmedia];
	km_sdp_media_init(m, kind);
	snprintf(m->mid, sizeof m->mid, "%u", s->nmedia);
	int rc = set_local(m, l, err, errlen);
	if (rc)
		return rc;
	if (kind == KM_SDP_AUDIO)
		add_opus(m);
	else
		add_vp8(m);
	km_sdp_extmap_t *e = &m->extmaps[m->nextmaps++];
	e->id = KM_PEER_EXT_ABS_SEND_TIME;
	e->kind = KM_SDP_EXT_ABS_SEND_TIME;
	snprintf(e->uri, sizeof e->uri, "%s", KM_SDP_URI_ABS_SEND_TIME);
	m->dir = snd->dir;
	const char *track = kind == KM_SDP_AUDIO ? "audio0" : "video0";
	snprintf(m->msid_stream, sizeof m->msid_stream, "%s", snd->stream);
	snprintf(m->msid_track, sizeof m->msid_track, "%s", track);
	km_sdp_ssrc_t *x = &m->ssrcs[m->nssrcs++];
	x->ssrc = ssrc;
	snprintf(x->cname, sizeof x->cname, "%s", snd->cname);
	snprintf(x->msid_stream, sizeof x->msid_stream, "%s", snd->stream);
	snprintf(x->msid_track, sizeof x->msid_track, "%s", track);
	memcpy(s->bundle[s->nbundle++], m->mid, sizeof m->mid);
	s->nmedia++;
	return 0;
}

int km_peer_sdp_offer(km_sdp_t *s, const km_peer_sdp_local_t *l, const km_peer_sdp_send_t *snd,
		      char *err, size_t errlen)
{
	km_sdp_init(s, snd->sess_id);
	if (!snd->audio && !snd->video)
		return km_errf(KM_EINVAL, err, errlen, "an offer needs audio or video");
	snprintf(s->msid_semantic, sizeof s->msid_semantic, "WMS %s", snd->stream);
	int rc = 0;
	if (snd->audio)
		rc = add_send_section(s, KM_SDP_AUDIO, snd->audio_ssrc, l, snd, err, errlen);
	if (!rc && snd->video)
		rc = add_send_section(s, KM_SDP_VIDEO, snd->video_ssrc, l, snd, err, errlen);
	return rc;
}

/* The Opus or VP8 payload type of an offered section, or -1. */
static int usable_pt(const km_sdp_media_t *o)
{
	if (o->kind == KM_SDP_AUDIO)
		return km_sdp_find_codec(o, "opus", 48000);
	if (o->kind == KM_SDP_VIDEO)
		return km_sdp_find_codec(o, "VP8", 90000);
	return -1;
}

static km_sdp_dir_t answer_dir(km_sdp_dir_t offered, bool send_back)
{
	switch (offered) {
	case KM_SDP_SENDONLY:
		return KM_SDP_RECVONLY;
	case KM_SDP_SENDRECV:
		return send_back ? KM_SDP_SENDRECV : KM_SDP_RECVONLY;
	case KM_SDP_RECVONLY:
		return send_back ? KM_SDP_SENDONLY : KM_SDP_INACTIVE;
	default:
		return KM_SDP_INACTIVE;
	}
}

/* A rejected section mirroring o: port 0, its first payload type. */
static void reject_section(km_sdp_media_t *m, const km_sdp_media_t *o)
{
	km_sdp_media_init(m, o->kind);
	m->port = 0;
	snprintf(m->proto, sizeof m->proto, "%s", o->proto);
	snprintf(m->mid, sizeof m->mid, "%s", o->mid);
	m->dir = KM_SDP_INACTIVE;
	if (o->kind == KM_SDP_APPLICATION) {
		snprintf(m->app_fmt, sizeof m->app_fmt, "%s",
			 o->app_fmt[0] ? o->app_fmt : "webrtc-datachannel");
	} else {
		uint8_t pt = o->ncodecs ? o->codecs[0].pt : KM_PEER_OPUS_PT;
		km_sdp_codec_init(&m->codecs[0], pt, "", 0, 0);
		m->ncodecs = 1;
	}
}

static int answer_section(km_sdp_media_t *m, const km_sdp_media_t *o, const km_peer_sdp_local_t *l,
			  bool send_back, char *err, size_t errlen)
{
	int pt = o->port ? usable_pt(o) : -1;
	if (pt < 0 || !o->mid[0]) {
		reject_section(m, o);
		return 0;
	}
	km_sdp_media_init(m, o->kind);
	snprintf(m->mid, sizeof m->mid, "%s", o->mid);
	int rc = set_local(m, l, err, errlen);
	if (rc)
		return rc;
	m->codecs[0] = *km_sdp_codec(o, pt);
	m->ncodecs = 1;
	for (size_t i = 0; i < o->nextmaps && m->nextmaps < KM_SDP_MAX_EXTMAPS; i++)
		if (o->extmaps[i].kind != KM_SDP_EXT_OTHER)
			m->extmaps[m->nextmaps++] = o->extmaps[i];
	m->dir = answer_dir(o->dir, send_back);
	m->rtcp_mux = true;
	return 0;
}

int km_peer_sdp_answer(km_sdp_t *ans, const km_sdp_t *offer, const km_peer_sdp_local_t *l,
		       bool send_back, char *err, size_t errlen)
{
	km_sdp_init(ans, offer->sess_id ^ 0x5eed5eedULL);
	snprintf(ans->msid_semantic, sizeof ans->msid_semantic, "WMS");
	size_t active = 0;
	for (size_t i = 0; i < offer->nmedia; i++) {
		km_sdp_media_t *m = &ans->media[i];
		int rc = answer_section(m, &offer->media[i], l, send_back, err, errlen);
		if (rc)
			return rc;
		ans->nmedia = (uint8_t)(i + 1);
		if (m->port == 0)
			continue;
		active++;
		for (size_t b = 0; b < offer->nbundle; b++)
			if (strcmp(offer->bundle[b], m->mid) == 0)
				memcpy(ans->bundle[ans->nbundle++], m->mid, sizeof m->mid);
	}
	if (offer->nmedia > 0 && active == 0 && offer->media[0].port != 0)
		return km_errf(KM_EINVAL, err, errlen, "no offered section has Opus or VP8");
	return 0;
}

int km_peer_sdp_remote(const km_sdp_t *s, km_peer_sdp_remote_t *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nmedia; i++) {
		const km_sdp_media_t *m = &s->media[i];
		if (m->port == 0 || !m->ice.ufrag[0] || !m->fp.set)
			continue;
		snprintf(out->ufrag, sizeof out->ufrag, "%s", m->ice.ufrag);
		snprintf(out->pwd, sizeof out->pwd, "%s", m->ice.pwd);
		fp_format(m->fp.sha256, out->fingerprint);
		out->setup = m->setup;
		return 0;
	}
	return km_errf(KM_EINVAL, err, errlen, "no active m-section with ICE and fingerprint");
}

size_t km_peer_sdp_tracks(const km_sdp_t *s, km_peer_sdp_track_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nmedia; i++) {
		const km_sdp_media_t *m = &s->media[i];
		if (m->port == 0 || m->kind == KM_SDP_APPLICATION || m->dir == KM_SDP_INACTIVE ||
		    m->dir == KM_SDP_RECVONLY)
			continue;
		for (size_t j = 0; j < m->nssrcs && n < cap; j++) {
			km_peer_sdp_track_t *t = &out[n++];
			t->ssrc = m->ssrcs[j].ssrc;
			t->video = m->kind == KM_SDP_VIDEO;
			const char *st = m->ssrcs[j].msid_stream[0] ? m->ssrcs[j].msid_stream
								    : m->msid_stream;
			snprintf(t->stream, sizeof t->stream, "%s", strcmp(st, "-") ? st : "");
		}
	}
	return n;
}

char *km_peer_sdp_text(const km_sdp_t *s, char *err, size_t errlen)
{
	char *buf = malloc(KM_PEER_SDP_MAX_TEXT);
	if (!buf) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	size_t len;
	int rc = km_sdp_write(s, buf, KM_PEER_SDP_MAX_TEXT, &len, err, errlen);
	if (rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

km_sdp_t *km_peer_sdp_parse(const char *text, size_t len, char *err, size_t errlen)
{
	km_sdp_t *s = malloc(sizeof *s);
	if (!s) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	if (km_sdp_parse(text, len, s, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	return s;
}
