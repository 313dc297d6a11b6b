/* negotiate.c — see negotiate.h. Pure functions over parsed SDP. */
#include "media/negotiate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static const char *kind_name(km_sdp_kind_t k)
{
	return k == KM_SDP_AUDIO ? "audio" : k == KM_SDP_VIDEO ? "video" : "application";
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

/* The transport values of section m (ICE, fingerprint, role, candidates). */
static int read_transport(const km_sdp_media_t *m, bool kamer_offered, km_neg_transport_t *t, char *err,
			  size_t errlen)
{
	copy_str(t->ufrag, sizeof t->ufrag, m->ice.ufrag);
	copy_str(t->pwd, sizeof t->pwd, m->ice.pwd);
	memcpy(t->fingerprint, m->fp.sha256, sizeof t->fingerprint);
	switch (m->setup) {
	case KM_SDP_SETUP_ACTPASS:
		if (kamer_offered)
			return fail(KM_SDP_EUNSUPPORTED, err, errlen,
				    "a=setup:actpass in an answer (must be active or passive)");
		t->local_dtls_server = true;
		break;
	case KM_SDP_SETUP_ACTIVE:
		t->local_dtls_server = true;
		break;
	case KM_SDP_SETUP_PASSIVE:
		t->local_dtls_server = false;
		break;
	default:
		if (kamer_offered)
			return fail(KM_SDP_EMISSING, err, errlen, "no a=setup in the answer");
		t->local_dtls_server = true; /* RFC 5763: an offer without a=setup means actpass */
	}
	t->ncands = 0;
	for (size_t i = 0; i < m->ncands; i++)
		if (!m->cands[i].tcp && m->cands[i].component == 1)
			t->cands[t->ncands++] = m->cands[i];
	return 0;
}

static km_sdp_setup_t answer_setup(const km_neg_transport_t *t)
{
	return t->local_dtls_server ? KM_SDP_SETUP_PASSIVE : KM_SDP_SETUP_ACTIVE;
}

static bool in_bundle(const km_sdp_t *s, const char *mid)
{
	for (size_t i = 0; i < s->nbundle; i++)
		if (strcmp(s->bundle[i], mid) == 0)
			return true;
	return false;
}

/* The media SSRC of a section: the first a=ssrc that is not the second
 * member of an FID (rtx) group. 0 when none is given. */
static uint32_t media_ssrc(const km_sdp_media_t *m)
{
	for (size_t i = 0; i < m->nssrcs; i++) {
		bool rtx = false;
		for (size_t g = 0; g < m->ngroups && !rtx; g++)
			rtx = m->groups[g].sem == KM_SDP_GROUP_FID && m->groups[g].n >= 2 &&
			      m->groups[g].ssrcs[1] == m->ssrcs[i].ssrc;
		if (!rtx)
			return m->ssrcs[i].ssrc;
	}
	return 0;
}

/* Starts answer section a for offer section o, rejected (port 0) unless
 * the caller fills it further. */
static void reject(km_sdp_media_t *a, const km_sdp_media_t *o)
{
	km_sdp_media_init(a, o->kind);
	a->port = 0;
	copy_str(a->proto, sizeof a->proto, o->proto);
	copy_str(a->mid, sizeof a->mid, o->mid);
	a->dir = KM_SDP_INACTIVE;
	if (o->kind == KM_SDP_APPLICATION) {
		copy_str(a->app_fmt, sizeof a->app_fmt, o->app_fmt[0] ? o->app_fmt : "webrtc-datachannel");
		a->rtcp_mux = false;
	} else if (o->ncodecs) {
		const km_sdp_codec_t *c = &o->codecs[0];
		km_sdp_codec_init(&a->codecs[0], c->pt, c->name, c->clock, c->channels);
		a->ncodecs = 1;
	}
}

static void add_ext(km_sdp_media_t *a, uint16_t id, km_sdp_ext_kind_t kind, const char *uri)
{
	if (a->nextmaps >= KM_SDP_MAX_EXTMAPS)
		return;
	km_sdp_extmap_t *e = &a->extmaps[a->nextmaps++];
	memset(e, 0, sizeof *e);
	e->id = id;
	e->kind = kind;
	copy_str(e->uri, sizeof e->uri, uri);
}

/* Accepts the offered extensions kamer uses, with the offer's ids (the rid
 * ones only for a track whose simulcast kamer accepted). */
static void accept_exts(const km_sdp_media_t *o, km_sdp_media_t *a, km_neg_track_t *t)
{
	for (size_t i = 0; i < o->nextmaps; i++) {
		const km_sdp_extmap_t *e = &o->extmaps[i];
		if (e->id > 14)
			continue; /* kamer keeps to the one-byte form */
		if (e->kind == KM_SDP_EXT_MID)
			t->ext_mid = (uint8_t)e->id;
		else if (e->kind == KM_SDP_EXT_ABS_SEND_TIME)
			t->ext_abs_send_time = (uint8_t)e->id;
		else if (e->kind == KM_SDP_EXT_AUDIO_LEVEL && o->kind == KM_SDP_AUDIO)
			t->ext_audio_level = (uint8_t)e->id;
		else if (e->kind == KM_SDP_EXT_RID && t->nlayers)
			t->ext_rid = (uint8_t)e->id;
		else if (e->kind == KM_SDP_EXT_REPAIRED_RID && t->nlayers)
			t->ext_repaired_rid = (uint8_t)e->id;
		else
			continue;
		add_ext(a, e->id, e->kind, e->uri);
	}
}

static uint8_t ext_id(const km_sdp_media_t *m, km_sdp_ext_kind_t kind)
{
	for (size_t i = 0; i < m->nextmaps; i++)
		if (m->extmaps[i].kind == kind && m->extmaps[i].id <= 14)
			return (uint8_t)m->extmaps[i].id;
	return 0;
}

/* The offer's a=rid:<id> send line whose pt= list (if any) allows pt. */
static const km_sdp_rid_t *send_rid(const km_sdp_media_t *o, const char *id, uint8_t pt)
{
	for (size_t i = 0; i < o->nrids; i++) {
		const km_sdp_rid_t *r = &o->rids[i];
		if (!r->send || strcmp(r->id, id) != 0)
			continue;
		bool allowed = r->npts == 0;
		for (size_t k = 0; k < r->npts && !allowed; k++)
			allowed = r->pts[k] == pt;
		return allowed ? r : NULL;
	}
	return NULL;
}

static bool has_layer(const km_neg_track_t *t, const char *id)
{
	for (size_t i = 0; i < t->nlayers; i++)
		if (strcmp(t->rids[i], id) == 0)
			return true;
	return false;
}

/* Simulcast of a publish offer's video section (its codec chosen in t):
 * up to KM_NEG_MAX_LAYERS streams of a=simulcast:send in the offer's order,
 * each by its first alternative unless paused, into t and the answer
 * (a=rid recv, a=simulcast:recv). Nothing without the rid extension, which
 * is how their SSRCs are learnt. */
static void accept_simulcast(const km_sdp_media_t *o, km_sdp_media_t *a, km_neg_track_t *t)
{
	if (o->kind != KM_SDP_VIDEO || !o->sim_send.nstreams || !ext_id(o, KM_SDP_EXT_RID))
		return;
	for (size_t i = 0; i < o->sim_send.nstreams && t->nlayers < KM_NEG_MAX_LAYERS; i++) {
		const km_sdp_sim_stream_t *st = &o->sim_send.streams[i];
		if (st->nalts == 0 || st->alts[0].paused || has_layer(t, st->alts[0].rid) ||
		    !send_rid(o, st->alts[0].rid, t->pt))
			continue;
		copy_str(t->rids[t->nlayers++], sizeof t->rids[0], st->alts[0].rid);
		km_sdp_rid_t *r = &a->rids[a->nrids++];
		memset(r, 0, sizeof *r);
		copy_str(r->id, sizeof r->id, st->alts[0].rid);
		km_sdp_sim_stream_t *rs = &a->sim_recv.streams[a->sim_recv.nstreams++];
		memset(rs, 0, sizeof *rs);
		rs->nalts = 1;
		copy_str(rs->alts[0].rid, sizeof rs->alts[0].rid, st->alts[0].rid);
	}
}

/* Chooses the codec of an audio/video offer section; fills the answer's. */
static int choose_codec(const km_sdp_media_t *o, km_sdp_media_t *a, km_neg_track_t *t, size_t idx, char *err,
			size_t errlen)
{
	const char *want = o->kind == KM_SDP_AUDIO ? "opus" : "VP8";
	uint32_t clock = o->kind == KM_SDP_AUDIO ? 48000 : 90000;
	int pt = km_sdp_find_codec(o, want, clock);
	const km_sdp_codec_t *oc = pt >= 0 ? km_sdp_codec(o, pt) : NULL;
	if (!oc || (o->kind == KM_SDP_AUDIO && oc->channels != 2)) {
		char offered[96] = "";
		size_t off = 0;
		for (size_t i = 0; i < o->ncodecs && off < sizeof offered; i++) {
			const char *n = o->codecs[i].name;
			if (!n[0] || strcasecmp(n, "rtx") == 0 || strcasecmp(n, "red") == 0 ||
			    strcasecmp(n, "ulpfec") == 0 || strstr(offered, n))
				continue;
			int w = snprintf(offered + off, sizeof offered - off, "%s%s", off ? ", " : "", n);
			off += w > 0 ? (size_t)w : 0;
		}
		return fail(KM_SDP_EUNSUPPORTED, err, errlen,
			    "m=%zu (%s): no codec kamer can forward (offered: %s; kamer forwards %s)", idx,
			    kind_name(o->kind), offered[0] ? offered : "none", o->kind == KM_SDP_AUDIO ? "Opus" : "VP8");
	}
	km_sdp_codec_t *c = &a->codecs[0];
	km_sdp_codec_init(c, oc->pt, oc->name, oc->clock, oc->channels);
	a->ncodecs = 1;
	if (o->kind == KM_SDP_AUDIO) {
		c->minptime = 10;
		c->useinbandfec = 1;
		c->usedtx = oc->usedtx == 1 ? 1 : -1;
	} else {
		c->fb = (uint8_t)(oc->fb & (KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI | KM_SDP_FB_CCM_FIR | KM_SDP_FB_GOOG_REMB));
		t->nack = (c->fb & KM_SDP_FB_NACK) != 0;
	}
	t->pt = oc->pt;
	t->clock = oc->clock;
	return 0;
}

static void set_transport(km_sdp_media_t *a, const km_neg_local_t *l, km_sdp_setup_t setup)
{
	copy_str(a->ice.ufrag, sizeof a->ice.ufrag, l->ufrag);
	copy_str(a->ice.pwd, sizeof a->ice.pwd, l->pwd);
	a->ice.trickle = true;
	a->fp.set = true;
	memcpy(a->fp.sha256, l->fingerprint, sizeof a->fp.sha256);
	a->setup = setup;
}

static void add_ssrc(km_sdp_media_t *a, uint32_t ssrc, const char *stream, const char *track)
{
	km_sdp_ssrc_t *s = &a->ssrcs[a->nssrcs++];
	memset(s, 0, sizeof *s);
	s->ssrc = ssrc;
	copy_str(s->cname, sizeof s->cname, "kamer");
	copy_str(s->msid_stream, sizeof s->msid_stream, stream);
	copy_str(s->msid_track, sizeof s->msid_track, track);
	copy_str(a->msid_stream, sizeof a->msid_stream, stream);
	copy_str(a->msid_track, sizeof a->msid_track, track);
}

/* One offer section of a publish/echo offer into the answer and a track. */
static int answer_section(const km_sdp_t *offer, size_t i, const km_neg_local_t *l, int echo,
			  uint32_t echo_ssrc, km_sdp_media_t *a, km_neg_publish_t *out, char *err, size_t errlen)
{
	const km_sdp_media_t *o = &offer->media[i];
	reject(a, o);
	bool sends = o->dir == KM_SDP_SENDONLY || o->dir == KM_SDP_SENDRECV;
	if (o->port == 0 || o->kind == KM_SDP_APPLICATION || !sends || out->ntracks >= KM_NEG_MAX_TRACKS)
		return 0;
	if (offer->nmedia > 1 && !in_bundle(offer, o->mid))
		return fail(KM_SDP_EUNSUPPORTED, err, errlen, "m=%zu (%s): not in the BUNDLE group (kamer needs BUNDLE)",
			    i, kind_name(o->kind));
	km_neg_track_t *t = &out->tracks[out->ntracks];
	memset(t, 0, sizeof *t);
	int rc = choose_codec(o, a, t, i, err, errlen);
	if (rc)
		return rc;
	if (out->ntracks == 0 && (rc = read_transport(o, false, &out->transport, err, errlen)) != 0)
		return rc;
	copy_str(t->mid, sizeof t->mid, o->mid);
	t->kind = o->kind;
	t->ssrc = media_ssrc(o);
	if (!echo)
		accept_simulcast(o, a, t);
	if (t->nlayers)
		t->ssrc = 0; /* one SSRC per layer, learnt from the rid extension */
	accept_exts(o, a, t);
	a->port = 9;
	a->rtcp_mux = true;
	a->rtcp_rsize = o->rtcp_rsize;
	set_transport(a, l, answer_setup(&out->transport));
	if (echo) {
		a->dir = KM_SDP_SENDRECV;
		char track[16];
		snprintf(track, sizeof track, "echo-%s", o->kind == KM_SDP_AUDIO ? "audio" : "video");
		add_ssrc(a, echo_ssrc, "echo", track);
	} else {
		a->dir = KM_SDP_RECVONLY;
	}
	out->ntracks++;
	return 0;
}

int km_neg_answer_publish(const km_sdp_t *offer, const km_neg_local_t *local, int echo,
			  uint32_t echo_ssrc_base, km_sdp_t *answer, km_neg_publish_t *out, char *err,
			  size_t errlen)
{
	if (!offer || !local || !local->ufrag || !local->pwd || !answer || !out)
		return fail(KM_SDP_EINVAL, err, errlen, "bad argument");
	memset(out, 0, sizeof *out);
	km_sdp_init(answer, local->sess_id);
	copy_str(answer->msid_semantic, sizeof answer->msid_semantic, "WMS *");
	answer->nmedia = offer->nmedia;
	for (size_t i = 0; i < offer->nmedia; i++) {
		uint32_t ssrc = echo_ssrc_base + out->ntracks;
		int rc = answer_section(offer, i, local, echo, ssrc, &answer->media[i], out, err, errlen);
		if (rc)
			return rc;
		if (answer->media[i].port != 0)
			copy_str(answer->bundle[answer->nbundle++], sizeof answer->bundle[0], answer->media[i].mid);
	}
	if (out->ntracks == 0)
		return fail(KM_SDP_EMISSING, err, errlen, "the offer sends no audio or video kamer can use");
	return 0;
}

static void offer_codec(km_sdp_media_t *m, km_sdp_kind_t kind)
{
	km_sdp_codec_t *c = &m->codecs[0];
	if (kind == KM_SDP_AUDIO) {
		km_sdp_codec_init(c, KM_NEG_PT_OPUS, "opus", 48000, 2);
		c->minptime = 10;
		c->useinbandfec = 1;
		add_ext(m, KM_NEG_EXT_AUDIO_LEVEL, KM_SDP_EXT_AUDIO_LEVEL, KM_SDP_URI_AUDIO_LEVEL);
	} else {
		km_sdp_codec_init(c, KM_NEG_PT_VP8, "VP8", 90000, 0);
		c->fb = KM_SDP_FB_NACK | KM_SDP_FB_NACK_PLI | KM_SDP_FB_CCM_FIR | KM_SDP_FB_GOOG_REMB;
	}
	m->ncodecs = 1;
	add_ext(m, KM_NEG_EXT_ABS_SEND_TIME, KM_SDP_EXT_ABS_SEND_TIME, KM_SDP_URI_ABS_SEND_TIME);
}

int km_neg_offer_subscribe(const km_neg_out_t *outs, size_t n, const km_neg_local_t *local,
			   km_sdp_t *offer, char *err, size_t errlen)
{
	if (!outs || !local || !local->ufrag || !local->pwd || !offer || n == 0 || n > KM_NEG_MAX_OUTS)
		return fail(KM_SDP_EINVAL, err, errlen, "bad argument (%zu sections)", n);
	km_sdp_init(offer, local->sess_id);
	offer->sess_version = local->version;
	copy_str(offer->msid_semantic, sizeof offer->msid_semantic, "WMS *");
	offer->nmedia = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		km_sdp_media_t *m = &offer->media[i];
		km_sdp_media_init(m, outs[i].kind == KM_SDP_AUDIO ? KM_SDP_AUDIO : KM_SDP_VIDEO);
		snprintf(m->mid, sizeof m->mid, "%zu", i);
		set_transport(m, local, KM_SDP_SETUP_ACTPASS);
		m->rtcp_rsize = true;
		offer_codec(m, m->kind);
		if (outs[i].active) {
			m->dir = KM_SDP_SENDONLY;
			add_ssrc(m, outs[i].ssrc, outs[i].stream, outs[i].track);
		} else {
			m->dir = KM_SDP_INACTIVE;
		}
		copy_str(offer->bundle[offer->nbundle++], sizeof offer->bundle[0], m->mid);
	}
	return 0;
}

int km_neg_read_subscribe_answer(const km_sdp_t *answer, const km_neg_out_t *outs, size_t n,
				 km_neg_subscribe_t *out, char *err, size_t errlen)
{
	if (!answer || !outs || !out || n == 0 || n > KM_NEG_MAX_OUTS)
		return fail(KM_SDP_EINVAL, err, errlen, "bad argument");
	memset(out, 0, sizeof *out);
	if (answer->nmedia != n)
		return fail(KM_SDP_EINVAL, err, errlen, "the answer has %u sections, the offer %zu", answer->nmedia, n);
	out->n = n;
	bool have_transport = false;
	for (size_t i = 0; i < n; i++) {
		const km_sdp_media_t *m = &answer->media[i];
		char mid[24];
		snprintf(mid, sizeof mid, "%zu", i);
		if (m->port != 0 && strcmp(m->mid, mid) != 0)
			return fail(KM_SDP_EINVAL, err, errlen, "m=%zu: mid '%s', the offer said '%s'", i, m->mid, mid);
		bool wanted = outs[i].kind == KM_SDP_AUDIO ? m->kind == KM_SDP_AUDIO : m->kind == KM_SDP_VIDEO;
		if (!wanted)
			return fail(KM_SDP_EINVAL, err, errlen, "m=%zu: kind %s, the offer said %s", i,
				    kind_name(m->kind), kind_name(outs[i].kind));
		if (m->port == 0)
			continue;
		if (!have_transport) {
			int rc = read_transport(m, true, &out->transport, err, errlen);
			if (rc)
				return rc;
			have_transport = true;
		}
		int pt = outs[i].kind == KM_SDP_AUDIO ? KM_NEG_PT_OPUS : KM_NEG_PT_VP8;
		const km_sdp_codec_t *c = km_sdp_codec(m, pt);
		km_neg_sub_section_t *s = &out->sections[i];
		s->accepted = outs[i].active && c && c->usable &&
			      (m->dir == KM_SDP_RECVONLY || m->dir == KM_SDP_SENDRECV);
		if (!c && outs[i].active)
			return fail(KM_SDP_EUNSUPPORTED, err, errlen, "m=%zu: the answer dropped payload type %d", i, pt);
		s->ext_abs_send_time = ext_id(m, KM_SDP_EXT_ABS_SEND_TIME);
		s->ext_audio_level = ext_id(m, KM_SDP_EXT_AUDIO_LEVEL);
		if (c) {
			s->nack = c->fb & KM_SDP_FB_NACK;
			s->pli = c->fb & KM_SDP_FB_NACK_PLI;
			s->fir = c->fb & KM_SDP_FB_CCM_FIR;
			s->remb = c->fb & KM_SDP_FB_GOOG_REMB;
		}
	}
	if (!have_transport)
		return fail(KM_SDP_EMISSING, err, errlen, "the answer rejects every section");
	return 0;
}
