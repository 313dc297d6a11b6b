/* sdp_parse.c — SDP parser: text in, a filled km_sdp_t out (see sdp.h): line
 * splitting, session lines, session-level attributes and the checks of each
 * section; media attributes are in sdp_attr.c, the writer in sdp_write.c.
 * Pure leaf: no I/O, no allocation, no logging, no globals (tables are
 * const); safe from any thread. It does not negotiate. */
#include "media/sdp_int.h"

/* ---- session-or-media attributes ---------------------------------------- */

static int ice_string(pst_t *st, sv_t v, const char *what, size_t min, char *dst, size_t cap)
{
	if (v.n < min || v.n >= cap)
		return fail(st, v.n >= cap ? KM_SDP_ELIMIT : KM_SDP_ESYNTAX,
			"a=%s: %zu characters, RFC 8839 allows %zu..%zu", what, v.n, min, cap - 1);
	if (!sv_all(v, is_ice_char))
		return fail(st, KM_SDP_ESYNTAX, "a=%s: invalid character (RFC 8839 ice-char only)", what);
	sv_copy(dst, cap, v);
	return 0;
}

static km_sdp_ice_t *cur_ice(pst_t *st)
{
	return st->m ? &st->m->ice : &st->s->ice;
}

static int at_ufrag(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_ice_t *ice = cur_ice(st);
	return ice_string(st, v, "ice-ufrag", KM_SDP_MIN_UFRAG, ice->ufrag, sizeof ice->ufrag);
}

static int at_pwd(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_ice_t *ice = cur_ice(st);
	return ice_string(st, v, "ice-pwd", KM_SDP_MIN_PWD, ice->pwd, sizeof ice->pwd);
}

static int at_ice_options(pst_t *st, sv_t name, sv_t v)
{
	for (sv_t t = sv_tok(&v); t.n; t = sv_tok(&v))
		if (sv_eq(t, "trickle"))
			cur_ice(st)->trickle = true;
	return 0;
}

static int at_fingerprint(pst_t *st, sv_t name, sv_t v)
{
	sv_t hash = sv_tok(&v), fp = sv_tok(&v);
	if (!hash.n || !fp.n || sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "a=fingerprint: expected '<hash> <value>'");
	if (!sv_ieq(hash, "sha-256"))
		return fail(st, KM_SDP_EUNSUPPORTED,
			"a=fingerprint: unsupported hash '%.*s' (kamer accepts sha-256 only)", SV(hash));
	km_sdp_fingerprint_t *f = st->m ? &st->m->fp : &st->s->fp;
	if (fp.n != 3 * KM_SDP_FP_LEN - 1)
		goto bad;
	for (size_t i = 0; i < KM_SDP_FP_LEN; i++) {
		const char *h = fp.p + 3 * i;
		if (!is_hex((unsigned char)h[0]) || !is_hex((unsigned char)h[1]) ||
			(i + 1 < KM_SDP_FP_LEN && h[2] != ':'))
			goto bad;
		f->sha256[i] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
	}
	f->set = true;
	return 0;
bad:
	return fail(st, KM_SDP_ESYNTAX, "a=fingerprint: sha-256 value must be 32 ':'-separated hex pairs");
}

static int at_setup(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_setup_t s;
	if (sv_eq(v, "actpass"))
		s = KM_SDP_SETUP_ACTPASS;
	else if (sv_eq(v, "active"))
		s = KM_SDP_SETUP_ACTIVE;
	else if (sv_eq(v, "passive"))
		s = KM_SDP_SETUP_PASSIVE;
	else
		return fail(st, KM_SDP_EUNSUPPORTED, "a=setup: unsupported role '%.*s'", SV(v));
	*(st->m ? &st->m->setup : &st->s->setup) = s;
	return 0;
}

static int at_dir(pst_t *st, sv_t name, sv_t v)
{
	km_sdp_dir_t d = sv_eq(name, "sendonly") ? KM_SDP_SENDONLY
		: sv_eq(name, "recvonly") ? KM_SDP_RECVONLY
		: sv_eq(name, "inactive") ? KM_SDP_INACTIVE : KM_SDP_SENDRECV;
	if (st->m) {
		st->m->dir = d;
		st->m_has_dir = true;
	} else {
		st->sess_dir = d;
		st->sess_has_dir = true;
	}
	return 0;
}

/* ---- session attributes ------------------------------------------------- */

static int at_group(pst_t *st, sv_t name, sv_t v)
{
	if (!sv_eq(sv_tok(&v), "BUNDLE"))
		return 0; /* LS, FID, ...: not used by kamer */
	if (st->seen_bundle)
		return fail(st, KM_SDP_EUNSUPPORTED, "a=group:BUNDLE: only one BUNDLE group is supported");
	st->seen_bundle = true;
	km_sdp_t *s = st->s;
	for (sv_t t = sv_tok(&v); t.n; t = sv_tok(&v)) {
		if (!valid_mid(t))
			return fail(st, KM_SDP_ESYNTAX, "a=group:BUNDLE: invalid mid '%.*s'", SV(t));
		if (s->nbundle == KM_SDP_MAX_MEDIA)
			return fail(st, KM_SDP_ELIMIT, "a=group:BUNDLE: more than %d mids", KM_SDP_MAX_MEDIA);
		for (size_t i = 0; i < s->nbundle; i++)
			if (sv_eq(t, s->bundle[i]))
				return fail(st, KM_SDP_ESYNTAX, "a=group:BUNDLE: mid '%.*s' listed twice", SV(t));
		sv_copy(s->bundle[s->nbundle++], sizeof s->bundle[0], t);
	}
	return 0;
}

static int at_msid_semantic(pst_t *st, sv_t name, sv_t v)
{
	v = sv_trim(v);
	if (!v.n)
		return fail(st, KM_SDP_ESYNTAX, "a=msid-semantic: empty value");
	if (!sv_copy(st->s->msid_semantic, sizeof st->s->msid_semantic, v))
		return fail(st, KM_SDP_ELIMIT, "a=msid-semantic: over %d characters",
			KM_SDP_MAX_MSID_SEMANTIC);
	return 0;
}

static int at_ice_lite(pst_t *st, sv_t name, sv_t v)
{
	st->s->ice_lite = true;
	return 0;
}

/* ---- lines ---------------------------------------------------------------- */

enum { L_SESS = 1, L_BOTH = 3 };

typedef int (*attr_fn)(pst_t *, sv_t name, sv_t value);

static const struct {
	const char *name;
	uint8_t level;
	bool value; /* needs a value */
	attr_fn fn;
} attrs[] = {
	{ "ice-ufrag", L_BOTH, true, at_ufrag },
	{ "ice-pwd", L_BOTH, true, at_pwd },
	{ "ice-options", L_BOTH, true, at_ice_options },
	{ "fingerprint", L_BOTH, true, at_fingerprint },
	{ "setup", L_BOTH, true, at_setup },
	{ "sendrecv", L_BOTH, false, at_dir },
	{ "sendonly", L_BOTH, false, at_dir },
	{ "recvonly", L_BOTH, false, at_dir },
	{ "inactive", L_BOTH, false, at_dir },
	{ "group", L_SESS, true, at_group },
	{ "msid-semantic", L_SESS, true, at_msid_semantic },
	{ "ice-lite", L_SESS, false, at_ice_lite },
};

static int line_attr(pst_t *st, sv_t v)
{
	bool colon;
	sv_t name = sv_split(&v, ':', &colon);
	if (!name.n || !sv_all(name, is_token_char))
		return fail(st, KM_SDP_ESYNTAX, "a=: attribute name missing or not a token");
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (!sv_eq(name, attrs[i].name))
			continue;
		if (st->m && attrs[i].level == L_SESS)
			return 0; /* session attribute inside a section: ignored */
		if (attrs[i].value && !sv_trim(v).n)
			return fail(st, KM_SDP_ESYNTAX, "a=%s: missing value", attrs[i].name);
		return attrs[i].fn(st, name, attrs[i].value ? sv_trim(v) : v);
	}
	/* media attributes at session level (and unknown ones) are skipped */
	return st->m ? km__sdp_media_attr(st, name, v) : 0;
}

static int net_addr(pst_t *st, const char *what, sv_t *v, bool *ip6, char *addr)
{
	sv_t net = sv_tok(v), type = sv_tok(v), a = sv_tok(v);
	if (!sv_eq(net, "IN") || !(sv_eq(type, "IP4") || sv_eq(type, "IP6")) || !a.n)
		return fail(st, KM_SDP_ESYNTAX, "%s: expected 'IN IP4|IP6 <address>'", what);
	if (!sv_copy(addr, KM_SDP_MAX_ADDR + 1, a))
		return fail(st, KM_SDP_ELIMIT, "%s: address over %d characters", what, KM_SDP_MAX_ADDR);
	*ip6 = sv_eq(type, "IP6");
	return 0;
}

static int line_origin(pst_t *st, sv_t v)
{
	km_sdp_t *s = st->s;
	sv_t user = sv_tok(&v), id = sv_tok(&v), ver = sv_tok(&v);
	if (!user.n || !sv_u64(id, UINT64_MAX, &s->sess_id) ||
		!sv_u64(ver, UINT64_MAX, &s->sess_version))
		return fail(st, KM_SDP_ESYNTAX, "o=: expected '<user> <sess-id> <sess-version> IN IP4 <addr>'"
			" with 64-bit numbers");
	if (!sv_copy(s->o_user, sizeof s->o_user, user))
		return fail(st, KM_SDP_ELIMIT, "o=: user over %d characters", KM_SDP_MAX_TOKEN);
	int rc = net_addr(st, "o=", &v, &s->o_ip6, s->o_addr);
	if (rc)
		return rc;
	if (sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "o=: more than 6 fields");
	st->seen_o = true;
	return 0;
}

static int line_conn(pst_t *st, sv_t v)
{
	bool *ip6 = st->m ? &st->m->c_ip6 : &st->s->c_ip6;
	int rc = net_addr(st, "c=", &v, ip6, st->m ? st->m->c_addr : st->s->c_addr);
	if (rc == 0 && sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "c=: more than 3 fields");
	return rc;
}

static int line_time(pst_t *st, sv_t v)
{
	sv_t a = sv_tok(&v), b = sv_tok(&v);
	if (!sv_u64(a, UINT64_MAX, &st->s->t_start) || !sv_u64(b, UINT64_MAX, &st->s->t_stop) ||
		sv_tok(&v).n)
		return fail(st, KM_SDP_ESYNTAX, "t=: expected '<start> <stop>'");
	return 0;
}

static int media_fmts(pst_t *st, km_sdp_media_t *m, sv_t v)
{
	if (m->kind == KM_SDP_APPLICATION) {
		sv_t f = sv_tok(&v);
		if (!sv_copy(m->app_fmt, sizeof m->app_fmt, f))
			return fail(st, KM_SDP_ELIMIT, "m=application: format over %d characters",
				KM_SDP_MAX_PROTO);
		return 0;
	}
	for (sv_t t = sv_tok(&v); t.n; t = sv_tok(&v)) {
		uint32_t pt;
		if (!sv_u32(t, 127, &pt))
			return fail(st, KM_SDP_ESYNTAX, "m=%s: payload type '%.*s' is not 0..127",
				kind_name(m->kind), SV(t));
		if (codec_by_pt(m, pt))
			return fail(st, KM_SDP_ESYNTAX, "m=%s: payload type %u listed twice",
				kind_name(m->kind), pt);
		if (m->ncodecs == KM_SDP_MAX_CODECS)
			return fail(st, KM_SDP_ELIMIT, "m=%s: more than %d payload types",
				kind_name(m->kind), KM_SDP_MAX_CODECS);
		km_sdp_codec_init(&m->codecs[m->ncodecs++], (uint8_t)pt, "", 0, 0);
	}
	return 0;
}

static int finish_media(pst_t *st);

static int line_media(pst_t *st, sv_t v)
{
	km_sdp_t *s = st->s;
	int rc = st->m ? finish_media(st) : 0;
	if (rc)
		return rc;
	sv_t kind = sv_tok(&v), port = sv_tok(&v), proto = sv_tok(&v);
	uint32_t p;
	if (s->nmedia == KM_SDP_MAX_MEDIA)
		return fail(st, KM_SDP_ELIMIT, "more than %d m-sections", KM_SDP_MAX_MEDIA);
	km_sdp_media_t *m = &s->media[s->nmedia];
	if (sv_eq(kind, "audio"))
		m->kind = KM_SDP_AUDIO;
	else if (sv_eq(kind, "video"))
		m->kind = KM_SDP_VIDEO;
	else if (sv_eq(kind, "application"))
		m->kind = KM_SDP_APPLICATION;
	else
		return fail(st, KM_SDP_EUNSUPPORTED, "m=: unsupported media type '%.*s'", SV(kind));
	if (!sv_u32(port, 65535, &p) || !proto.n || !sv_trim(v).n)
		return fail(st, KM_SDP_ESYNTAX, "m=: expected '<media> <port> <proto> <format>...'");
	if (!sv_copy(m->proto, sizeof m->proto, proto))
		return fail(st, KM_SDP_ELIMIT, "m=: proto over %d characters", KM_SDP_MAX_PROTO);
	m->port = (uint16_t)p;
	m->dir = KM_SDP_SENDRECV;
	rc = media_fmts(st, m, v);
	if (rc)
		return rc;
	s->nmedia++;
	st->m = m;
	st->m_line = st->line;
	st->m_has_dir = false;
	st->fb_all = 0;
	return 0;
}

static int line_dispatch(pst_t *st, char type, sv_t v)
{
	if (!st->seen_v) {
		if (type != 'v' || !sv_eq(v, "0"))
			return fail(st, KM_SDP_ESYNTAX, "the first line must be v=0");
		st->seen_v = true;
		return 0;
	}
	if (st->m && (type == 'v' || type == 'o' || type == 's' || type == 't'))
		return fail(st, KM_SDP_ESYNTAX, "%c= inside an m-section", type);
	switch (type) {
	case 'v':
		return fail(st, KM_SDP_ESYNTAX, "v= given twice");
	case 'o':
		return line_origin(st, v);
	case 's':
		v = sv_trim(v); /* "s= " (no name) keeps the default "-" */
		if (v.n && !sv_copy(st->s->name, sizeof st->s->name, v))
			return fail(st, KM_SDP_ELIMIT, "s=: over %d characters", KM_SDP_MAX_TOKEN);
		return 0;
	case 't':
		return line_time(st, v);
	case 'c':
		return line_conn(st, v);
	case 'm':
		return line_media(st, v);
	case 'a':
		return line_attr(st, v);
	default:
		return 0; /* b=, i=, u=, e=, p=, r=, z=, k=: skipped */
	}
}

static int parse_line(pst_t *st, const char *p, size_t n)
{
	if (n > KM_SDP_MAX_LINE)
		return fail(st, KM_SDP_ELIMIT, "line of %zu bytes is over the %d-byte limit", n,
			KM_SDP_MAX_LINE);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == 0)
			return fail(st, KM_SDP_ESYNTAX, "NUL byte at column %zu", i + 1);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(st, KM_SDP_ESYNTAX, "control byte 0x%02x at column %zu", c, i + 1);
	}
	if (n == 0)
		return 0; /* blank line: tolerated */
	if (n < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
		return fail(st, KM_SDP_ESYNTAX, "expected '<lowercase letter>=', got '%.*s'",
			(int)(n > 20 ? 20 : n), p);
	return line_dispatch(st, p[0], mk(p + 2, n - 2));
}

/* ---- section and session checks ----------------------------------------- */

static bool codec_is(const km_sdp_codec_t *c, const char *name, uint32_t clock)
{
	return strcasecmp(c->name, name) == 0 && c->clock == clock;
}

static void mark_usable(km_sdp_media_t *m)
{
	for (size_t i = 0; i < m->ncodecs; i++) {
		km_sdp_codec_t *c = &m->codecs[i];
		c->usable = (codec_is(c, "opus", 48000) && c->channels == 2) ||
			codec_is(c, "VP8", 90000) || codec_is(c, "VP9", 90000) ||
			codec_is(c, "H264", 90000) || codec_is(c, "AV1", 90000);
		if (c->usable && m->port != 0 && m->kind != KM_SDP_APPLICATION)
			m->usable = true;
	}
	for (size_t i = 0; i < m->ncodecs; i++) {
		km_sdp_codec_t *c = &m->codecs[i], *a;
		if (codec_is(c, "rtx", 90000) && c->apt >= 0 && (a = codec_by_pt(m, (uint32_t)c->apt)))
			c->usable = a->usable;
	}
}

static void inherit(pst_t *st, km_sdp_media_t *m)
{
	const km_sdp_t *s = st->s;
	if (!m->ice.ufrag[0])
		memcpy(m->ice.ufrag, s->ice.ufrag, sizeof m->ice.ufrag);
	if (!m->ice.pwd[0])
		memcpy(m->ice.pwd, s->ice.pwd, sizeof m->ice.pwd);
	m->ice.trickle |= s->ice.trickle;
	if (!m->fp.set)
		m->fp = s->fp;
	if (m->setup == KM_SDP_SETUP_NONE)
		m->setup = s->setup;
	if (!m->c_addr[0]) {
		memcpy(m->c_addr, s->c_addr, sizeof m->c_addr);
		m->c_ip6 = s->c_ip6;
	}
	if (!st->m_has_dir && st->sess_has_dir)
		m->dir = st->sess_dir;
	for (size_t i = 0; i < m->ncodecs; i++)
		m->codecs[i].fb |= st->fb_all;
}

static int check_unusable(pst_t *st, const km_sdp_media_t *m)
{
	char list[128] = "";
	size_t off = 0;
	for (size_t i = 0; i < m->ncodecs && off < sizeof list; i++) {
		const char *n = m->codecs[i].name[0] ? m->codecs[i].name : "?";
		if (strcasecmp(n, "rtx") == 0 || strstr(list, n))
			continue;
		int w = snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", n);
		off += w > 0 ? (size_t)w : 0;
	}
	return fail_m(st, KM_SDP_EUNSUPPORTED, "no payload type kamer can use (offered: %s)", list);
}

static int check_simulcast(pst_t *st, const km_sdp_media_t *m, const km_sdp_sim_list_t *l, bool send)
{
	for (size_t i = 0; i < l->nstreams; i++)
		for (size_t j = 0; j < l->streams[i].nalts; j++) {
			const char *rid = l->streams[i].alts[j].rid;
			bool found = false;
			for (size_t k = 0; k < m->nrids && !found; k++)
				found = strcmp(m->rids[k].id, rid) == 0 && m->rids[k].send == send;
			if (!found)
				return fail_m(st, KM_SDP_ESYNTAX, "a=simulcast: rid '%s' has no a=rid:%s %s",
					rid, rid, send ? "send" : "recv");
		}
	return 0;
}

static int finish_media(pst_t *st)
{
	km_sdp_media_t *m = st->m;
	inherit(st, m);
	mark_usable(m);
	int rc = check_simulcast(st, m, &m->sim_send, true);
	if (rc || (rc = check_simulcast(st, m, &m->sim_recv, false)))
		return rc;
	if (m->port == 0)
		return 0; /* rejected: nothing more is required */
	if (!m->mid[0])
		return fail_m(st, KM_SDP_EMISSING, "no a=mid");
	if (!m->c_addr[0])
		return fail_m(st, KM_SDP_EMISSING, "no c= line (neither in the section nor at session level)");
	if (!m->ice.ufrag[0] || !m->ice.pwd[0])
		return fail_m(st, KM_SDP_EMISSING, "no a=%s (neither in the section nor at session level)",
			m->ice.ufrag[0] ? "ice-pwd" : "ice-ufrag");
	if (!m->fp.set)
		return fail_m(st, KM_SDP_EMISSING, "no a=fingerprint (neither in the section nor at session level)");
	if (m->kind == KM_SDP_APPLICATION)
		return 0;
	if (strcmp(m->proto, "UDP/TLS/RTP/SAVPF") != 0)
		return fail_m(st, KM_SDP_EUNSUPPORTED, "transport '%s' is not supported (UDP/TLS/RTP/SAVPF only)",
			m->proto);
	if (!m->rtcp_mux)
		return fail_m(st, KM_SDP_EUNSUPPORTED, "no a=rtcp-mux (kamer requires RTP/RTCP multiplexing)");
	if (!m->usable)
		return check_unusable(st, m);
	return 0;
}

static int finish_session(pst_t *st)
{
	km_sdp_t *s = st->s;
	if (!st->seen_v)
		return fail(st, KM_SDP_EMISSING, "empty description (no v=0)");
	if (!st->seen_o)
		return fail(st, KM_SDP_EMISSING, "no o= line");
	for (size_t i = 0; i < s->nmedia; i++)
		for (size_t j = i + 1; j < s->nmedia; j++)
			if (s->media[i].mid[0] && strcmp(s->media[i].mid, s->media[j].mid) == 0)
				return fail(st, KM_SDP_ESYNTAX, "a=mid: '%s' used by two m-sections",
					s->media[i].mid);
	for (size_t i = 0; i < s->nbundle; i++) {
		bool found = false;
		for (size_t j = 0; j < s->nmedia && !found; j++)
			found = strcmp(s->bundle[i], s->media[j].mid) == 0;
		if (!found)
			return fail(st, KM_SDP_ESYNTAX, "a=group:BUNDLE: mid '%s' names no m-section",
				s->bundle[i]);
	}
	return 0;
}

int km_sdp_parse(const char *p, size_t len, km_sdp_t *out, char *err, size_t errlen)
{
	pst_t st = { .s = out, .err = err, .errlen = errlen };
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!p && len))
		return fail(&st, KM_SDP_EINVAL, "NULL argument");
	if (len > KM_SDP_MAX_LEN)
		return fail(&st, KM_SDP_ELIMIT, "description of %zu bytes is over the %d-byte limit",
			len, KM_SDP_MAX_LEN);
	memset(out, 0, sizeof *out);
	out->name[0] = '-';
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - p) : len, n = end - pos;
		st.line++;
		if (n && p[end - 1] == '\r')
			n--;
		int rc = parse_line(&st, p + pos, n);
		if (rc)
			return rc;
		pos = end + 1;
	}
	int rc = st.m ? finish_media(&st) : 0;
	st.line = 0; /* what follows is about the whole description */
	return rc ? rc : finish_session(&st);
}
