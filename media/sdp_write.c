/* sdp_write.c — SDP writer of the codec (see sdp.h): a km_sdp_t in, CRLF text
 * in a caller buffer out; plus the small helpers to build and query a
 * description (init, find_codec, find_rtx). Pure leaf: no I/O, no allocation,
 * no logging, no globals; safe from any thread. It writes what the struct
 * says; choosing codecs and directions is the negotiation code's job. */
#include "media/sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Output cursor: len keeps counting past cap so that the needed size is known. */
typedef struct {
	char *buf;
	size_t cap, len;
	char *err;
	size_t errlen;
	int rc;
} out_t;

__attribute__((format(printf, 2, 3)))
static void put(out_t *o, const char *fmt, ...)
{
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* Records the first refusal; later ones are ignored. */
__attribute__((format(printf, 3, 4)))
static void bad(out_t *o, int code, const char *fmt, ...)
{
	if (o->rc)
		return;
	o->rc = code;
	if (o->err && o->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(o->err, o->errlen, fmt, ap);
		va_end(ap);
	}
}

/* A value that parses back as one field: non-empty, no control byte, and no
 * space unless spaces_ok. */
static bool ok_str(const char *s, bool spaces_ok)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		bool sp = *c == ' ' || *c == '\t';
		if ((*c < 0x20 && !sp) || *c == 0x7f || (sp && !spaces_ok))
			return false;
	}
	return true;
}

static void check(out_t *o, const char *s, const char *what, bool spaces_ok)
{
	if (!ok_str(s, spaces_ok))
		bad(o, KM_SDP_EINVAL, "%s: empty, or with a control byte%s", what,
			spaces_ok ? " or outer space" : " or a space");
}

static const char *dir_name(km_sdp_dir_t d)
{
	static const char *const n[] = { "sendrecv", "sendonly", "recvonly", "inactive" };
	return (unsigned)d < 4 ? n[d] : "sendrecv";
}

static const char *kind_str(km_sdp_kind_t k)
{
	return k == KM_SDP_AUDIO ? "audio" : k == KM_SDP_VIDEO ? "video" : "application";
}

static void w_ice(out_t *o, const km_sdp_ice_t *ice, const km_sdp_fingerprint_t *fp,
	km_sdp_setup_t setup)
{
	static const char *const roles[] = { "", "actpass", "active", "passive" };
	if (ice->ufrag[0]) {
		check(o, ice->ufrag, "ice-ufrag", false);
		put(o, "a=ice-ufrag:%s\r\n", ice->ufrag);
	}
	if (ice->pwd[0]) {
		check(o, ice->pwd, "ice-pwd", false);
		put(o, "a=ice-pwd:%s\r\n", ice->pwd);
	}
	if (ice->trickle)
		put(o, "a=ice-options:trickle\r\n");
	if (fp->set) {
		put(o, "a=fingerprint:sha-256 ");
		for (size_t i = 0; i < KM_SDP_FP_LEN; i++)
			put(o, "%02X%s", fp->sha256[i], i + 1 < KM_SDP_FP_LEN ? ":" : "\r\n");
	}
	if (setup > KM_SDP_SETUP_NONE && setup <= KM_SDP_SETUP_PASSIVE)
		put(o, "a=setup:%s\r\n", roles[setup]);
}

static void w_session(out_t *o, const km_sdp_t *s)
{
	check(o, s->o_user, "o= user", false);
	check(o, s->o_addr, "o= address", false);
	check(o, s->name, "s= name", true);
	put(o, "v=0\r\no=%s %llu %llu IN %s %s\r\ns=%s\r\n", s->o_user,
		(unsigned long long)s->sess_id, (unsigned long long)s->sess_version,
		s->o_ip6 ? "IP6" : "IP4", s->o_addr, s->name);
	if (s->c_addr[0]) {
		check(o, s->c_addr, "c= address", false);
		put(o, "c=IN %s %s\r\n", s->c_ip6 ? "IP6" : "IP4", s->c_addr);
	}
	put(o, "t=%llu %llu\r\n", (unsigned long long)s->t_start, (unsigned long long)s->t_stop);
	if (s->ice_lite)
		put(o, "a=ice-lite\r\n");
	if (s->nbundle > KM_SDP_MAX_MEDIA)
		bad(o, KM_SDP_EINVAL, "nbundle %u over %d", s->nbundle, KM_SDP_MAX_MEDIA);
	else if (s->nbundle) {
		put(o, "a=group:BUNDLE");
		for (size_t i = 0; i < s->nbundle; i++) {
			check(o, s->bundle[i], "BUNDLE mid", false);
			put(o, " %s", s->bundle[i]);
		}
		put(o, "\r\n");
	}
	if (s->msid_semantic[0]) {
		check(o, s->msid_semantic, "msid-semantic", true);
		put(o, "a=msid-semantic: %s\r\n", s->msid_semantic);
	}
	w_ice(o, &s->ice, &s->fp, s->setup);
}

static void w_cand(out_t *o, const km_sdp_candidate_t *c)
{
	static const char *const types[] = { "host", "srflx", "prflx", "relay" };
	static const char *const tcpt[] = { "", "active", "passive", "so" };
	check(o, c->foundation, "candidate foundation", false);
	check(o, c->addr, "candidate address", false);
	put(o, "candidate:%s %u %s %u %s %u typ %s", c->foundation, c->component,
		c->tcp ? "tcp" : "udp", c->priority, c->addr, c->port,
		types[(unsigned)c->type < 4 ? c->type : 0]);
	if (c->has_raddr) {
		check(o, c->raddr, "candidate raddr", false);
		put(o, " raddr %s rport %u", c->raddr, c->rport);
	} else if (c->rport) {
		put(o, " rport %u", c->rport);
	}
	if (c->tcptype > KM_SDP_TCP_NONE && c->tcptype <= KM_SDP_TCP_SO)
		put(o, " tcptype %s", tcpt[c->tcptype]);
}

/* Starts the a=fmtp line of c, or separates the next parameter on it. */
static void fmtp_sep(out_t *o, const km_sdp_codec_t *c, bool *open)
{
	if (*open)
		put(o, ";");
	else
		put(o, "a=fmtp:%u ", c->pt);
	*open = true;
}

static void w_fmtp(out_t *o, const km_sdp_codec_t *c)
{
	static const struct {
		const char *key;
		size_t off;
	} ints[] = {
		{ "minptime", offsetof(km_sdp_codec_t, minptime) },
		{ "useinbandfec", offsetof(km_sdp_codec_t, useinbandfec) },
		{ "usedtx", offsetof(km_sdp_codec_t, usedtx) },
		{ "stereo", offsetof(km_sdp_codec_t, stereo) },
		{ "apt", offsetof(km_sdp_codec_t, apt) },
		{ "profile-id", offsetof(km_sdp_codec_t, profile_id) },
		{ "level-asymmetry-allowed", offsetof(km_sdp_codec_t, level_asymmetry_allowed) },
		{ "packetization-mode", offsetof(km_sdp_codec_t, packetization_mode) },
	};
	bool open = false;
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		int32_t v;
		memcpy(&v, (const char *)c + ints[i].off, sizeof v);
		if (v < 0)
			continue;
		fmtp_sep(o, c, &open);
		put(o, "%s=%d", ints[i].key, (int)v);
	}
	if (c->profile_level_id[0]) {
		check(o, c->profile_level_id, "profile-level-id", false);
		fmtp_sep(o, c, &open);
		put(o, "profile-level-id=%s", c->profile_level_id);
	}
	if (c->fmtp_extra[0]) {
		check(o, c->fmtp_extra, "fmtp parameters", true);
		fmtp_sep(o, c, &open);
		put(o, "%s", c->fmtp_extra);
	}
	if (open)
		put(o, "\r\n");
}

static void w_codec(out_t *o, const km_sdp_codec_t *c)
{
	static const struct {
		uint8_t bit;
		const char *text;
	} fbs[] = {
		{ KM_SDP_FB_GOOG_REMB, "goog-remb" },
		{ KM_SDP_FB_TRANSPORT_CC, "transport-cc" },
		{ KM_SDP_FB_CCM_FIR, "ccm fir" },
		{ KM_SDP_FB_NACK, "nack" },
		{ KM_SDP_FB_NACK_PLI, "nack pli" },
	};
	if (c->name[0]) {
		check(o, c->name, "codec name", false);
		if (c->clock == 0)
			bad(o, KM_SDP_EINVAL, "payload type %u: clock rate 0", c->pt);
		put(o, "a=rtpmap:%u %s/%u", c->pt, c->name, c->clock);
		if (c->channels)
			put(o, "/%u", c->channels);
		put(o, "\r\n");
	}
	for (size_t i = 0; i < sizeof fbs / sizeof fbs[0]; i++)
		if (c->fb & fbs[i].bit)
			put(o, "a=rtcp-fb:%u %s\r\n", c->pt, fbs[i].text);
	w_fmtp(o, c);
}

static void w_extmap(out_t *o, const km_sdp_extmap_t *e)
{
	check(o, e->uri, "extmap URI", false);
	if (e->id == 0 || e->id > 255)
		bad(o, KM_SDP_EINVAL, "extmap id %u not 1..255", e->id);
	put(o, "a=extmap:%u", e->id);
	if (e->has_dir)
		put(o, "/%s", dir_name(e->dir));
	put(o, " %s\r\n", e->uri);
}

static void w_rid(out_t *o, const km_sdp_rid_t *r)
{
	check(o, r->id, "rid", false);
	put(o, "a=rid:%s %s", r->id, r->send ? "send" : "recv");
	for (size_t i = 0; i < r->npts && i < KM_SDP_MAX_RID_PTS; i++)
		put(o, "%s%u", i ? "," : " pt=", r->pts[i]);
	put(o, "\r\n");
}

static void w_sim_list(out_t *o, const km_sdp_sim_list_t *l, const char *dir, bool first)
{
	put(o, "%s%s ", first ? "" : " ", dir);
	for (size_t i = 0; i < l->nstreams && i < KM_SDP_MAX_RIDS; i++) {
		const km_sdp_sim_stream_t *s = &l->streams[i];
		if (s->nalts == 0)
			bad(o, KM_SDP_EINVAL, "a=simulcast: stream without rids");
		for (size_t j = 0; j < s->nalts && j < KM_SDP_MAX_SIM_ALTS; j++) {
			check(o, s->alts[j].rid, "simulcast rid", false);
			put(o, "%s%s%s", j ? "," : i ? ";" : "", s->alts[j].paused ? "~" : "",
				s->alts[j].rid);
		}
	}
}

static void w_ssrcs(out_t *o, const km_sdp_media_t *m)
{
	for (size_t i = 0; i < m->ngroups && i < KM_SDP_MAX_SSRC_GROUPS; i++) {
		const km_sdp_ssrc_group_t *g = &m->groups[i];
		if (g->n == 0)
			bad(o, KM_SDP_EINVAL, "a=ssrc-group without ssrcs");
		put(o, "a=ssrc-group:%s", g->sem == KM_SDP_GROUP_SIM ? "SIM" : "FID");
		for (size_t j = 0; j < g->n && j < KM_SDP_MAX_GROUP_SSRCS; j++)
			put(o, " %u", g->ssrcs[j]);
		put(o, "\r\n");
	}
	for (size_t i = 0; i < m->nssrcs && i < KM_SDP_MAX_SSRCS; i++) {
		const km_sdp_ssrc_t *s = &m->ssrcs[i];
		if (s->cname[0]) {
			check(o, s->cname, "ssrc cname", false);
			put(o, "a=ssrc:%u cname:%s\r\n", s->ssrc, s->cname);
		}
		if (s->msid_stream[0]) {
			check(o, s->msid_stream, "ssrc msid", false);
			put(o, "a=ssrc:%u msid:%s", s->ssrc, s->msid_stream);
			put(o, "%s%s\r\n", s->msid_track[0] ? " " : "", s->msid_track);
		}
		if (!s->cname[0] && !s->msid_stream[0])
			bad(o, KM_SDP_EINVAL, "a=ssrc:%u without cname or msid", s->ssrc);
	}
}

/* The m= line and the transport part of a section. */
static void w_media_head(out_t *o, const km_sdp_media_t *m)
{
	check(o, m->proto, "m= proto", false);
	put(o, "m=%s %u %s", kind_str(m->kind), m->port, m->proto);
	if (m->kind == KM_SDP_APPLICATION) {
		check(o, m->app_fmt, "m=application format", false);
		put(o, " %s", m->app_fmt);
	} else if (m->ncodecs == 0 || m->ncodecs > KM_SDP_MAX_CODECS) {
		bad(o, KM_SDP_EINVAL, "m=%s: %u payload types (1..%d)", kind_str(m->kind), m->ncodecs,
			KM_SDP_MAX_CODECS);
	}
	for (size_t i = 0; m->kind != KM_SDP_APPLICATION && i < m->ncodecs && i < KM_SDP_MAX_CODECS; i++)
		put(o, " %u", m->codecs[i].pt);
	put(o, "\r\n");
	if (m->c_addr[0]) {
		check(o, m->c_addr, "c= address", false);
		put(o, "c=IN %s %s\r\n", m->c_ip6 ? "IP6" : "IP4", m->c_addr);
	}
	for (size_t i = 0; i < m->ncands && i < KM_SDP_MAX_CANDIDATES; i++) {
		put(o, "a=");
		w_cand(o, &m->cands[i]);
		put(o, "\r\n");
	}
	if (m->end_of_candidates)
		put(o, "a=end-of-candidates\r\n");
	w_ice(o, &m->ice, &m->fp, m->setup);
	if (m->mid[0]) {
		check(o, m->mid, "mid", false);
		put(o, "a=mid:%s\r\n", m->mid);
	}
}

/* What km_sdp_parse requires of an active section. */
static void w_require(out_t *o, const km_sdp_media_t *m, size_t idx)
{
	const char *miss = !m->mid[0] ? "a=mid" : !m->c_addr[0] ? "c=" : !m->ice.ufrag[0] ? "ice-ufrag"
		: !m->ice.pwd[0] ? "ice-pwd" : !m->fp.set ? "fingerprint"
		: (m->kind != KM_SDP_APPLICATION && !m->rtcp_mux) ? "rtcp-mux" : NULL;
	if (m->port != 0 && miss)
		bad(o, KM_SDP_EINVAL, "m-section %zu (%s) is active but has no %s", idx,
			kind_str(m->kind), miss);
}

static void w_media(out_t *o, const km_sdp_media_t *m, size_t idx)
{
	w_require(o, m, idx);
	w_media_head(o, m);
	for (size_t i = 0; i < m->nextmaps && i < KM_SDP_MAX_EXTMAPS; i++)
		w_extmap(o, &m->extmaps[i]);
	put(o, "a=%s\r\n", dir_name(m->dir));
	if (m->msid_stream[0]) {
		check(o, m->msid_stream, "msid", false);
		put(o, "a=msid:%s%s%s\r\n", m->msid_stream, m->msid_track[0] ? " " : "", m->msid_track);
	}
	if (m->rtcp_mux)
		put(o, "a=rtcp-mux\r\n");
	if (m->rtcp_rsize)
		put(o, "a=rtcp-rsize\r\n");
	for (size_t i = 0; m->kind != KM_SDP_APPLICATION && i < m->ncodecs && i < KM_SDP_MAX_CODECS; i++)
		w_codec(o, &m->codecs[i]);
	if (m->sctp_port)
		put(o, "a=sctp-port:%u\r\n", m->sctp_port);
	if (m->max_message_size)
		put(o, "a=max-message-size:%u\r\n", m->max_message_size);
	for (size_t i = 0; i < m->nrids && i < KM_SDP_MAX_RIDS; i++)
		w_rid(o, &m->rids[i]);
	if (m->sim_send.nstreams || m->sim_recv.nstreams) {
		put(o, "a=simulcast:");
		if (m->sim_send.nstreams)
			w_sim_list(o, &m->sim_send, "send", true);
		if (m->sim_recv.nstreams)
			w_sim_list(o, &m->sim_recv, "recv", !m->sim_send.nstreams);
		put(o, "\r\n");
	}
	w_ssrcs(o, m);
}

/* Common end of both writers: NUL, length, and the buffer check. */
static int finish(out_t *o, size_t *outlen)
{
	if (o->rc)
		return o->rc;
	if (o->len >= o->cap) {
		bad(o, KM_SDP_ESPACE, "buffer of %zu bytes too small: %zu needed", o->cap, o->len + 1);
		if (o->cap)
			o->buf[0] = '\0';
		return o->rc;
	}
	o->buf[o->len] = '\0';
	if (outlen)
		*outlen = o->len;
	return 0;
}

int km_sdp_write(const km_sdp_t *s, char *buf, size_t cap, size_t *outlen, char *err, size_t errlen)
{
	out_t o = { .buf = buf, .cap = buf ? cap : 0, .err = err, .errlen = errlen };
	if (err && errlen)
		err[0] = '\0';
	if (outlen)
		*outlen = 0;
	if (!s) {
		bad(&o, KM_SDP_EINVAL, "NULL description");
		return o.rc;
	}
	w_session(&o, s);
	if (s->nmedia > KM_SDP_MAX_MEDIA)
		bad(&o, KM_SDP_EINVAL, "nmedia %u over %d", s->nmedia, KM_SDP_MAX_MEDIA);
	for (size_t i = 0; i < s->nmedia && i < KM_SDP_MAX_MEDIA; i++)
		w_media(&o, &s->media[i], i);
	return finish(&o, outlen);
}

int km_sdp_write_candidate(const km_sdp_candidate_t *c, char *buf, size_t cap, size_t *outlen,
	char *err, size_t errlen)
{
	out_t o = { .buf = buf, .cap = buf ? cap : 0, .err = err, .errlen = errlen };
	if (err && errlen)
		err[0] = '\0';
	if (outlen)
		*outlen = 0;
	if (!c) {
		bad(&o, KM_SDP_EINVAL, "NULL candidate");
		return o.rc;
	}
	w_cand(&o, c);
	return finish(&o, outlen);
}

/* ---- building and querying ---------------------------------------------- */

void km_sdp_init(km_sdp_t *s, uint64_t sess_id)
{
	memset(s, 0, sizeof *s);
	strcpy(s->o_user, "-");
	s->sess_id = sess_id;
	s->sess_version = 2;
	strcpy(s->o_addr, "127.0.0.1");
	strcpy(s->name, "-");
}

void km_sdp_media_init(km_sdp_media_t *m, km_sdp_kind_t kind)
{
	memset(m, 0, sizeof *m);
	m->kind = kind;
	m->port = 9;
	strcpy(m->proto, kind == KM_SDP_APPLICATION ? "UDP/DTLS/SCTP" : "UDP/TLS/RTP/SAVPF");
	if (kind == KM_SDP_APPLICATION)
		strcpy(m->app_fmt, "webrtc-datachannel");
	strcpy(m->c_addr, "0.0.0.0");
	m->dir = KM_SDP_SENDRECV;
	m->rtcp_mux = kind != KM_SDP_APPLICATION;
}

void km_sdp_codec_init(km_sdp_codec_t *c, uint8_t pt, const char *name, uint32_t clock,
	uint8_t channels)
{
	memset(c, 0, sizeof *c);
	c->pt = pt;
	snprintf(c->name, sizeof c->name, "%s", name ? name : "");
	c->clock = clock;
	c->channels = channels;
	c->minptime = c->useinbandfec = c->usedtx = c->stereo = -1;
	c->apt = c->profile_id = c->packetization_mode = c->level_asymmetry_allowed = -1;
}

int km_sdp_find_codec(const km_sdp_media_t *m, const char *name, uint32_t clock)
{
	for (size_t i = 0; m && name && i < m->ncodecs && i < KM_SDP_MAX_CODECS; i++)
		if (strcasecmp(m->codecs[i].name, name) == 0 && m->codecs[i].clock == clock)
			return m->codecs[i].pt;
	return -1;
}

int km_sdp_find_rtx(const km_sdp_media_t *m, int pt)
{
	for (size_t i = 0; m && pt >= 0 && i < m->ncodecs && i < KM_SDP_MAX_CODECS; i++)
		if (strcasecmp(m->codecs[i].name, "rtx") == 0 && m->codecs[i].apt == pt)
			return m->codecs[i].pt;
	return -1;
}

const km_sdp_codec_t *km_sdp_codec(const km_sdp_media_t *m, int pt)
{
	for (size_t i = 0; m && i < m->ncodecs && i < KM_SDP_MAX_CODECS; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

const char *km_sdp_strerror(int code)
{
	switch (code) {
	case KM_SDP_OK: return "ok";
	case KM_SDP_ESYNTAX: return "malformed SDP";
	case KM_SDP_ELIMIT: return "SDP over a limit";
	case KM_SDP_EUNSUPPORTED: return "SDP kamer does not support";
	case KM_SDP_EMISSING: return "SDP misses a required line";
	case KM_SDP_ESPACE: return "output buffer too small";
	case KM_SDP_EINVAL: return "invalid argument";
	default: return "unknown SDP error";
	}
}
