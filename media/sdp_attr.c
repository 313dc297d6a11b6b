/* sdp_attr.c — media-level attribute parsers of the SDP codec (rtpmap, fmtp,
 * rtcp-fb, extmap, ssrc, ssrc-group, rid, simulcast, candidate, ...) and the
 * standalone trickle candidate parser. Pure leaf: no I/O, no allocation, no
 * logging, no globals (tables are const); safe from any thread. */
#include "media/sdp_int.h"

#include <arpa/inet.h>

/* ---- media attributes --------------------------------------------------- */

static int at_mid(pst_t *st, sv_t name, sv_t v)
{
	if (!valid_mid(v))
		return fail(st, v.n > KM_SDP_MAX_MID ? KM_SDP_ELIMIT : KM_SDP_ESYNTAX,
			"a=mid: '%.*s' is not a token of 1..%d characters", SV(v), KM_SDP_MAX_MID);
	sv_copy(st->m->mid, sizeof st->m->mid, v);
	return 0;
}

/* "<stream> [<track>]" of a=msid and a=ssrc:N msid:. */
static int msid_pair(pst_t *st, sv_t v, const char *what, char *stream, char *track)
{
	sv_t a = sv_tok(&v), b = sv_tok(&v);
	if (!a.n || sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "%s: expected '<stream id> [<track id>]'", what);
	if (a.n > KM_SDP_MAX_TOKEN || b.n > KM_SDP_MAX_TOKEN)
		return fail(st, KM_SDP_ELIMIT, "%s: id over %d characters", what, KM_SDP_MAX_TOKEN);
	if (!sv_all(a, is_token_char) || !sv_all(b, is_token_char))
		return fail(st, KM_SDP_ESYNTAX, "%s: invalid character in id", what);
	sv_copy(stream, KM_SDP_MAX_TOKEN + 1, a);
	sv_copy(track, KM_SDP_MAX_TOKEN + 1, b);
	return 0;
}

static int at_msid(pst_t *st, sv_t name, sv_t v)
{
	if (st->m->msid_stream[0])
		return 0; /* more than one stream: kamer keeps the first */
	return msid_pair(st, v, "a=msid", st->m->msid_stream, st->m->msid_track);
}

static int at_flag(pst_t *st, sv_t name, sv_t v)
{
	if (sv_eq(name, "rtcp-mux"))
		st->m->rtcp_mux = true;
	else if (sv_eq(name, "rtcp-rsize"))
		st->m->rtcp_rsize = true;
	else
		st->m->end_of_candidates = true;
	return 0;
}

static int at_rtpmap(pst_t *st, sv_t name, sv_t v)
{
	uint32_t pt, clock, ch = 0;
	sv_t spt = sv_tok(&v), enc = sv_tok(&v);
	if (!sv_u32(spt, 127, &pt) || !enc.n || sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "a=rtpmap: expected '<pt> <name>/<clock>[/<channels>]'");
	bool more;
	sv_t cname = sv_split(&enc, '/', &more);
	sv_t sclock = sv_split(&enc, '/', &more);
	if (!cname.n || !sv_all(cname, is_token_char) || !sv_u32(sclock, UINT32_MAX, &clock) ||
		clock == 0 || (more && (!sv_u32(enc, 255, &ch) || ch == 0)))
		return fail(st, KM_SDP_ESYNTAX, "a=rtpmap:%u: expected '<name>/<clock>[/<channels>]'", pt);
	km_sdp_codec_t *c = codec_by_pt(st->m, pt);
	if (!c)
		return 0; /* not on the m= line: ignored */
	if (!sv_copy(c->name, sizeof c->name, cname))
		return fail(st, KM_SDP_ELIMIT, "a=rtpmap:%u: codec name over %d characters", pt,
			KM_SDP_MAX_CODEC_NAME);
	c->clock = clock;
	c->channels = (uint8_t)ch;
	return 0;
}

static int fmtp_extra(pst_t *st, km_sdp_codec_t *c, sv_t kv)
{
	size_t have = strlen(c->fmtp_extra), need = have + (have ? 1 : 0) + kv.n;
	if (need > KM_SDP_MAX_FMTP_EXTRA)
		return fail(st, KM_SDP_ELIMIT, "a=fmtp:%u: unknown parameters over %d characters",
			c->pt, KM_SDP_MAX_FMTP_EXTRA);
	if (have)
		c->fmtp_extra[have++] = ';';
	memcpy(c->fmtp_extra + have, kv.p, kv.n);
	c->fmtp_extra[need] = '\0';
	return 0;
}

static int fmtp_param(pst_t *st, km_sdp_codec_t *c, sv_t kv)
{
	static const struct {
		const char *key;
		uint32_t max;
		size_t off;
	} known[] = {
		{ "minptime", 100000, offsetof(km_sdp_codec_t, minptime) },
		{ "useinbandfec", 1, offsetof(km_sdp_codec_t, useinbandfec) },
		{ "usedtx", 1, offsetof(km_sdp_codec_t, usedtx) },
		{ "stereo", 1, offsetof(km_sdp_codec_t, stereo) },
		{ "apt", 127, offsetof(km_sdp_codec_t, apt) },
		{ "profile-id", 255, offsetof(km_sdp_codec_t, profile_id) },
		{ "packetization-mode", 2, offsetof(km_sdp_codec_t, packetization_mode) },
		{ "level-asymmetry-allowed", 1, offsetof(km_sdp_codec_t, level_asymmetry_allowed) },
	};
	sv_t val = kv;
	bool has_eq;
	sv_t key = sv_trim(sv_split(&val, '=', &has_eq));
	val = sv_trim(val);
	if (has_eq && sv_ieq(key, "profile-level-id")) {
		if (val.n != 6 || !sv_all(val, is_hex))
			return fail(st, KM_SDP_ESYNTAX, "a=fmtp:%u: profile-level-id must be 6 hex digits", c->pt);
		sv_copy(c->profile_level_id, sizeof c->profile_level_id, val);
		return 0;
	}
	for (size_t i = 0; has_eq && i < sizeof known / sizeof known[0]; i++) {
		if (!sv_ieq(key, known[i].key))
			continue;
		uint32_t x;
		if (!sv_u32(val, known[i].max, &x))
			return fail(st, KM_SDP_ESYNTAX, "a=fmtp:%u: %s must be a number 0..%u", c->pt,
				known[i].key, known[i].max);
		int32_t sx = (int32_t)x;
		memcpy((char *)c + known[i].off, &sx, sizeof sx);
		return 0;
	}
	return fmtp_extra(st, c, kv);
}

static int at_fmtp(pst_t *st, sv_t name, sv_t v)
{
	uint32_t pt;
	sv_t spt = sv_tok(&v);
	if (!sv_u32(spt, 127, &pt))
		return 0; /* "a=fmtp:webrtc-datachannel ..." and the like: not an RTP format */
	km_sdp_codec_t *c = codec_by_pt(st->m, pt);
	if (!c)
		return 0;
	while (v.n) {
		sv_t kv = sv_trim(sv_split(&v, ';', NULL));
		if (!kv.n)
			continue;
		int rc = fmtp_param(st, c, kv);
		if (rc)
			return rc;
	}
	return 0;
}

static int at_rtcp_fb(pst_t *st, sv_t name, sv_t v)
{
	uint32_t pt = 0;
	sv_t spt = sv_tok(&v), type = sv_tok(&v), sub = sv_tok(&v);
	bool all = sv_eq(spt, "*");
	if ((!all && !sv_u32(spt, 127, &pt)) || !type.n)
		return fail(st, KM_SDP_ESYNTAX, "a=rtcp-fb: expected '<pt|*> <type> [<subtype>]'");
	uint8_t bit = 0;
	if (sv_eq(type, "nack"))
		bit = !sub.n ? KM_SDP_FB_NACK : sv_eq(sub, "pli") ? KM_SDP_FB_NACK_PLI : 0;
	else if (sv_eq(type, "ccm") && sv_eq(sub, "fir"))
		bit = KM_SDP_FB_CCM_FIR;
	else if (sv_eq(type, "goog-remb"))
		bit = KM_SDP_FB_GOOG_REMB;
	else if (sv_eq(type, "transport-cc"))
		bit = KM_SDP_FB_TRANSPORT_CC;
	if (all) {
		st->fb_all |= bit;
	} else {
		km_sdp_codec_t *c = codec_by_pt(st->m, pt);
		if (c)
			c->fb |= bit;
	}
	return 0;
}

static int parse_dir(sv_t v, km_sdp_dir_t *d)
{
	if (sv_eq(v, "sendrecv"))
		*d = KM_SDP_SENDRECV;
	else if (sv_eq(v, "sendonly"))
		*d = KM_SDP_SENDONLY;
	else if (sv_eq(v, "recvonly"))
		*d = KM_SDP_RECVONLY;
	else if (sv_eq(v, "inactive"))
		*d = KM_SDP_INACTIVE;
	else
		return -1;
	return 0;
}

static km_sdp_ext_kind_t ext_kind(sv_t uri)
{
	static const struct {
		const char *uri;
		km_sdp_ext_kind_t kind;
	} map[] = {
		{ KM_SDP_URI_MID, KM_SDP_EXT_MID },
		{ KM_SDP_URI_ABS_SEND_TIME, KM_SDP_EXT_ABS_SEND_TIME },
		{ KM_SDP_URI_TWCC, KM_SDP_EXT_TWCC },
		{ KM_SDP_URI_AUDIO_LEVEL, KM_SDP_EXT_AUDIO_LEVEL },
		{ KM_SDP_URI_RID, KM_SDP_EXT_RID },
		{ KM_SDP_URI_REPAIRED_RID, KM_SDP_EXT_REPAIRED_RID },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (sv_eq(uri, map[i].uri))
			return map[i].kind;
	return KM_SDP_EXT_OTHER;
}

static int at_extmap(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	sv_t idd = sv_tok(&v), uri = sv_tok(&v);
	bool slash;
	sv_t sid = sv_split(&idd, '/', &slash);
	uint32_t id;
	km_sdp_dir_t dir = KM_SDP_SENDRECV;
	if (!sv_u32(sid, 255, &id) || id == 0 || (slash && parse_dir(idd, &dir) < 0) || !uri.n)
		return fail(st, KM_SDP_ESYNTAX, "a=extmap: expected '<1..255>[/<direction>] <uri>'");
	if (uri.n > KM_SDP_MAX_EXT_URI)
		return fail(st, KM_SDP_ELIMIT, "a=extmap:%u: URI over %d characters", id, KM_SDP_MAX_EXT_URI);
	for (size_t i = 0; i < m->nextmaps; i++)
		if (m->extmaps[i].id == id)
			return fail(st, KM_SDP_ESYNTAX, "a=extmap: id %u used twice", id);
	if (m->nextmaps == KM_SDP_MAX_EXTMAPS)
		return fail(st, KM_SDP_ELIMIT, "a=extmap: more than %d in one m-section", KM_SDP_MAX_EXTMAPS);
	km_sdp_extmap_t *e = &m->extmaps[m->nextmaps++];
	e->id = (uint16_t)id;
	e->has_dir = slash;
	e->dir = dir;
	e->kind = ext_kind(uri);
	sv_copy(e->uri, sizeof e->uri, uri);
	return 0;
}

static int at_ssrc(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	uint32_t ssrc;
	sv_t sid = sv_tok(&v);
	v = sv_trim(v);
	bool colon;
	sv_t attr = sv_split(&v, ':', &colon);
	if (!sv_u32(sid, UINT32_MAX, &ssrc) || !attr.n)
		return fail(st, KM_SDP_ESYNTAX, "a=ssrc: expected '<ssrc> <attribute>[:<value>]'");
	bool cname = sv_eq(attr, "cname"), msid = sv_eq(attr, "msid");
	if (!cname && !msid)
		return 0; /* mslabel, label, ...: dropped */
	km_sdp_ssrc_t *e = NULL;
	for (size_t i = 0; i < m->nssrcs && !e; i++)
		if (m->ssrcs[i].ssrc == ssrc)
			e = &m->ssrcs[i];
	if (!e) {
		if (m->nssrcs == KM_SDP_MAX_SSRCS)
			return fail(st, KM_SDP_ELIMIT, "a=ssrc: more than %d ssrcs in one m-section",
				KM_SDP_MAX_SSRCS);
		e = &m->ssrcs[m->nssrcs++];
		e->ssrc = ssrc;
	}
	if (msid)
		return msid_pair(st, v, "a=ssrc: msid", e->msid_stream, e->msid_track);
	if (!v.n || !sv_all(v, is_word_char))
		return fail(st, KM_SDP_ESYNTAX, "a=ssrc:%u cname: empty or with spaces", ssrc);
	if (!sv_copy(e->cname, sizeof e->cname, v))
		return fail(st, KM_SDP_ELIMIT, "a=ssrc:%u cname: over %d characters", ssrc, KM_SDP_MAX_TOKEN);
	return 0;
}

static int at_ssrc_group(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	sv_t sem = sv_tok(&v);
	if (!sv_eq(sem, "FID") && !sv_eq(sem, "SIM"))
		return 0; /* FEC-FR, ...: dropped */
	if (m->ngroups == KM_SDP_MAX_SSRC_GROUPS)
		return fail(st, KM_SDP_ELIMIT, "a=ssrc-group: more than %d in one m-section",
			KM_SDP_MAX_SSRC_GROUPS);
	km_sdp_ssrc_group_t *g = &m->groups[m->ngroups];
	g->sem = sv_eq(sem, "FID") ? KM_SDP_GROUP_FID : KM_SDP_GROUP_SIM;
	for (sv_t t = sv_tok(&v); t.n; t = sv_tok(&v)) {
		if (g->n == KM_SDP_MAX_GROUP_SSRCS)
			return fail(st, KM_SDP_ELIMIT, "a=ssrc-group: more than %d ssrcs", KM_SDP_MAX_GROUP_SSRCS);
		if (!sv_u32(t, UINT32_MAX, &g->ssrcs[g->n++]))
			return fail(st, KM_SDP_ESYNTAX, "a=ssrc-group: '%.*s' is not an ssrc", SV(t));
	}
	if (g->n == 0)
		return fail(st, KM_SDP_ESYNTAX, "a=ssrc-group: no ssrcs");
	m->ngroups++;
	return 0;
}

static bool valid_rid(sv_t v)
{
	return v.n >= 1 && v.n <= KM_SDP_MAX_RID_LEN && sv_all(v, is_rid_char);
}

static int rid_pts(pst_t *st, km_sdp_rid_t *r, sv_t list)
{
	while (list.n) {
		uint32_t pt;
		sv_t t = sv_split(&list, ',', NULL);
		if (!sv_u32(t, 127, &pt))
			return fail(st, KM_SDP_ESYNTAX, "a=rid:%s: pt '%.*s' is not 0..127", r->id, SV(t));
		if (r->npts == KM_SDP_MAX_RID_PTS)
			return fail(st, KM_SDP_ELIMIT, "a=rid:%s: more than %d pts", r->id, KM_SDP_MAX_RID_PTS);
		r->pts[r->npts++] = (uint8_t)pt;
	}
	if (r->npts == 0)
		return fail(st, KM_SDP_ESYNTAX, "a=rid:%s: empty pt list", r->id);
	return 0;
}

static int at_rid(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	sv_t id = sv_tok(&v), dir = sv_tok(&v), params = sv_trim(v);
	if (!valid_rid(id) || !(sv_eq(dir, "send") || sv_eq(dir, "recv")))
		return fail(st, KM_SDP_ESYNTAX, "a=rid: expected '<id> send|recv [<restrictions>]' "
			"with an id of 1..%d [A-Za-z0-9_-]", KM_SDP_MAX_RID_LEN);
	for (size_t i = 0; i < m->nrids; i++)
		if (sv_eq(id, m->rids[i].id))
			return fail(st, KM_SDP_ESYNTAX, "a=rid: '%.*s' declared twice", SV(id));
	if (m->nrids == KM_SDP_MAX_RIDS)
		return fail(st, KM_SDP_ELIMIT, "a=rid: more than %d in one m-section", KM_SDP_MAX_RIDS);
	km_sdp_rid_t *r = &m->rids[m->nrids++];
	sv_copy(r->id, sizeof r->id, id);
	r->send = sv_eq(dir, "send");
	while (params.n) {
		sv_t kv = sv_trim(sv_split(&params, ';', NULL));
		bool eq;
		sv_t key = sv_split(&kv, '=', &eq);
		if (eq && sv_eq(key, "pt")) {
			int rc = rid_pts(st, r, kv);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int sim_list(pst_t *st, km_sdp_sim_list_t *l, sv_t v)
{
	while (v.n) {
		sv_t s = sv_split(&v, ';', NULL);
		if (l->nstreams == KM_SDP_MAX_RIDS)
			return fail(st, KM_SDP_ELIMIT, "a=simulcast: more than %d streams", KM_SDP_MAX_RIDS);
		km_sdp_sim_stream_t *ss = &l->streams[l->nstreams++];
		do {
			sv_t a = sv_split(&s, ',', NULL);
			if (ss->nalts == KM_SDP_MAX_SIM_ALTS)
				return fail(st, KM_SDP_ELIMIT, "a=simulcast: more than %d alternatives",
					KM_SDP_MAX_SIM_ALTS);
			km_sdp_sim_alt_t *alt = &ss->alts[ss->nalts++];
			if (a.n && a.p[0] == '~') {
				alt->paused = true;
				a = mk(a.p + 1, a.n - 1);
			}
			if (!valid_rid(a))
				return fail(st, KM_SDP_ESYNTAX, "a=simulcast: invalid rid '%.*s'", SV(a));
			sv_copy(alt->rid, sizeof alt->rid, a);
		} while (s.n);
	}
	return 0;
}

static int at_simulcast(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	if (m->sim_send.nstreams || m->sim_recv.nstreams)
		return fail(st, KM_SDP_ESYNTAX, "a=simulcast: given twice");
	for (sv_t dir = sv_tok(&v); dir.n; dir = sv_tok(&v)) {
		sv_t list = sv_tok(&v);
		bool send = sv_eq(dir, "send");
		km_sdp_sim_list_t *l = send ? &m->sim_send : &m->sim_recv;
		if ((!send && !sv_eq(dir, "recv")) || !list.n || l->nstreams)
			return fail(st, KM_SDP_ESYNTAX, "a=simulcast: expected 'send <rids>' and/or 'recv <rids>'");
		int rc = sim_list(st, l, list);
		if (rc)
			return rc;
	}
	if (!m->sim_send.nstreams && !m->sim_recv.nstreams)
		return fail(st, KM_SDP_ESYNTAX, "a=simulcast: empty");
	return 0;
}

/* ---- candidates ----------------------------------------------------------- */

/* IPv4, IPv6 or an RFC 8839/mDNS "<name>.local". */
static bool valid_addr(sv_t v)
{
	char buf[KM_SDP_MAX_ADDR + 1];
	unsigned char bin[16];
	if (!sv_copy(buf, sizeof buf, v) || v.n == 0)
		return false;
	if (inet_pton(AF_INET, buf, bin) == 1 || inet_pton(AF_INET6, buf, bin) == 1)
		return true;
	if (v.n <= 6 || strcasecmp(buf + v.n - 6, ".local") != 0)
		return false;
	for (size_t i = 0; i < v.n; i++)
		if (!is_alnum((unsigned char)buf[i]) && buf[i] != '-' && buf[i] != '.')
			return false;
	return true;
}

__attribute__((format(printf, 4, 5)))
static int cerr(char *msg, size_t msglen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(msg, msglen, "candidate: ", fmt, ap);
	va_end(ap);
	return code;
}

static int cand_ext(km_sdp_candidate_t *c, sv_t *rest, char *msg, size_t ml)
{
	uint32_t x;
	for (sv_t key = sv_tok(rest); key.n; key = sv_tok(rest)) {
		sv_t val = sv_tok(rest);
		if (!val.n)
			return cerr(msg, ml, KM_SDP_ESYNTAX, "'%.*s' without a value", SV(key));
		if (sv_eq(key, "raddr")) {
			if (!valid_addr(val))
				return cerr(msg, ml, KM_SDP_ESYNTAX, "raddr '%.*s' is not an address", SV(val));
			sv_copy(c->raddr, sizeof c->raddr, val);
			c->has_raddr = true;
		} else if (sv_eq(key, "rport")) {
			if (!sv_u32(val, 65535, &x))
				return cerr(msg, ml, KM_SDP_ESYNTAX, "rport '%.*s' is not a port", SV(val));
			c->rport = (uint16_t)x;
		} else if (sv_eq(key, "tcptype")) {
			c->tcptype = sv_eq(val, "active") ? KM_SDP_TCP_ACTIVE
				: sv_eq(val, "passive") ? KM_SDP_TCP_PASSIVE
				: sv_eq(val, "so") ? KM_SDP_TCP_SO : KM_SDP_TCP_NONE;
			if (c->tcptype == KM_SDP_TCP_NONE)
				return cerr(msg, ml, KM_SDP_ESYNTAX, "unknown tcptype '%.*s'", SV(val));
		} /* generation, ufrag, network-id, network-cost, ...: tolerated */
	}
	if (c->tcptype != KM_SDP_TCP_NONE && !c->tcp)
		return cerr(msg, ml, KM_SDP_ESYNTAX, "tcptype on a udp candidate");
	return 0;
}

static int cand_parse(sv_t v, km_sdp_candidate_t *c, char *msg, size_t ml)
{
	sv_t f[8];
	uint32_t x;
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < 8; i++) {
		f[i] = sv_tok(&v);
		if (!f[i].n)
			return cerr(msg, ml, KM_SDP_ESYNTAX, "%zu fields, at least 8 needed (foundation "
				"component transport priority address port typ type)", i);
	}
	if (f[0].n > KM_SDP_MAX_FOUNDATION || !sv_all(f[0], is_ice_char))
		return cerr(msg, ml, KM_SDP_ESYNTAX, "foundation must be 1..32 ice-chars");
	sv_copy(c->foundation, sizeof c->foundation, f[0]);
	if (!sv_u32(f[1], 256, &x) || x == 0)
		return cerr(msg, ml, KM_SDP_ESYNTAX, "component '%.*s' is not 1..256", SV(f[1]));
	c->component = (uint16_t)x;
	c->tcp = sv_ieq(f[2], "tcp");
	if (!c->tcp && !sv_ieq(f[2], "udp"))
		return cerr(msg, ml, KM_SDP_EUNSUPPORTED, "transport '%.*s' is not udp or tcp", SV(f[2]));
	if (!sv_u32(f[3], UINT32_MAX, &c->priority) || c->priority == 0)
		return cerr(msg, ml, KM_SDP_ESYNTAX, "priority '%.*s' is not 1..2^32-1", SV(f[3]));
	if (f[4].n > KM_SDP_MAX_ADDR)
		return cerr(msg, ml, KM_SDP_ELIMIT, "address over %d characters", KM_SDP_MAX_ADDR);
	if (!valid_addr(f[4]))
		return cerr(msg, ml, KM_SDP_EUNSUPPORTED, "address '%.*s' is neither IPv4, IPv6 nor "
			"an mDNS .local name", SV(f[4]));
	sv_copy(c->addr, sizeof c->addr, f[4]);
	if (!sv_u32(f[5], 65535, &x))
		return cerr(msg, ml, KM_SDP_ESYNTAX, "port '%.*s' is not 0..65535", SV(f[5]));
	c->port = (uint16_t)x;
	if (!sv_eq(f[6], "typ"))
		return cerr(msg, ml, KM_SDP_ESYNTAX, "expected 'typ' as field 7");
	if (sv_eq(f[7], "host"))
		c->type = KM_SDP_CAND_HOST;
	else if (sv_eq(f[7], "srflx"))
		c->type = KM_SDP_CAND_SRFLX;
	else if (sv_eq(f[7], "prflx"))
		c->type = KM_SDP_CAND_PRFLX;
	else if (sv_eq(f[7], "relay"))
		c->type = KM_SDP_CAND_RELAY;
	else
		return cerr(msg, ml, KM_SDP_ESYNTAX, "unknown type '%.*s'", SV(f[7]));
	return cand_ext(c, &v, msg, ml);
}

int km_sdp_parse_candidate(const char *p, size_t len, km_sdp_candidate_t *out, char *err,
	size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!p && len))
		return cerr(err, errlen, KM_SDP_EINVAL, "NULL argument");
	sv_t v = mk(p ? p : "", len);
	if (v.n >= 10 && memcmp(v.p, "candidate:", 10) == 0)
		v = mk(v.p + 10, v.n - 10);
	for (size_t i = 0; i < v.n; i++)
		if ((unsigned char)v.p[i] < 0x20 && v.p[i] != '\t')
			return cerr(err, errlen, KM_SDP_ESYNTAX, "control byte 0x%02x", (unsigned char)v.p[i]);
	return cand_parse(v, out, err, errlen);
}

static int at_candidate(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_media_t *m = st->m;
	char msg[160];
	if (m->ncands == KM_SDP_MAX_CANDIDATES)
		return fail(st, KM_SDP_ELIMIT, "a=candidate: more than %d in one m-section",
			KM_SDP_MAX_CANDIDATES);
	int rc = cand_parse(v, &m->cands[m->ncands], msg, sizeof msg);
	if (rc)
		return fail(st, rc, "a=%s", msg);
	m->ncands++;
	return 0;
}

static int at_app_num(pst_t *st, sv_t name, sv_t v)
{
	uint32_t x;
	bool port = sv_eq(name, "sctp-port");
	if (!sv_u32(sv_trim(v), port ? 65535 : UINT32_MAX, &x) || x == 0)
		return fail(st, KM_SDP_ESYNTAX, "a=%.*s: '%.*s' is not a number", SV(name), SV(v));
	if (port)
		st->m->sctp_port = (uint16_t)x;
	else
		st->m->max_message_size = x;
	return 0;
}

typedef int (*attr_fn)(pst_t *, sv_t name, sv_t value);

static const struct {
	const char *name;
	bool value; /* needs a value */
	attr_fn fn;
} attrs[] = {
	{ "mid", true, at_mid },
	{ "msid", true, at_msid },
	{ "rtcp-mux", false, at_flag },
	{ "rtcp-rsize", false, at_flag },
	{ "end-of-candidates", false, at_flag },
	{ "rtpmap", true, at_rtpmap },
	{ "fmtp", true, at_fmtp },
	{ "rtcp-fb", true, at_rtcp_fb },
	{ "extmap", true, at_extmap },
	{ "ssrc", true, at_ssrc },
	{ "ssrc-group", true, at_ssrc_group },
	{ "rid", true, at_rid },
	{ "simulcast", true, at_simulcast },
	{ "candidate", true, at_candidate },
	{ "sctp-port", true, at_app_num },
	{ "max-message-size", true, at_app_num },
};

int km__sdp_media_attr(pst_t *st, sv_t name, sv_t v)
{
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (!sv_eq(name, attrs[i].name))
			continue;
		if (attrs[i].value && !sv_trim(v).n)
			return fail(st, KM_SDP_ESYNTAX, "a=%s: missing value", attrs[i].name);
		return attrs[i].fn(st, name, attrs[i].value ? sv_trim(v) : v);
	}
	return 0; /* unknown attribute: skipped */
}
