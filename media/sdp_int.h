/* sdp_int.h — private helpers shared by sdp_parse.c and sdp_attr.c: byte
 * views over the input, character classes, the parser state and the error
 * formatting. Not part of the API (include media/sdp.h); no state of its own. */
#ifndef KM_SDP_INT_H
#define KM_SDP_INT_H

#include "media/sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
	const char *p;
	size_t n;
} sv_t;

/* For "%.*s" of input in messages, capped so that a reason stays short. */
#define SV(v) (int)((v).n > 40 ? 40 : (v).n), (v).p

typedef struct {
	km_sdp_t *s;
	char *err;
	size_t errlen;
	unsigned line;         /* current line number, from 1 */
	km_sdp_media_t *m;     /* current m-section, NULL at session level */
	unsigned m_line;       /* line of the current m= */
	bool m_has_dir;        /* current section gave a direction */
	uint8_t fb_all;        /* a=rtcp-fb:* bits of the current section */
	bool sess_has_dir;
	km_sdp_dir_t sess_dir;
	bool seen_v, seen_o, seen_bundle;
} pst_t;

static inline sv_t mk(const char *p, size_t n)
{
	sv_t v = { p, n };
	return v;
}

static inline bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline unsigned hexval(char c)
{
	return is_digit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* RFC 8839 ice-char. */
static inline bool is_ice_char(unsigned char c)
{
	return is_alnum(c) || c == '+' || c == '/';
}

/* RFC 8866 token-char. */
static inline bool is_token_char(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`{|}~", c) != NULL);
}

static inline bool is_rid_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

/* Any visible byte (UTF-8 included): no space, no control. */
static inline bool is_word_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static inline bool sv_all(sv_t v, bool (*ok)(unsigned char))
{
	for (size_t i = 0; i < v.n; i++)
		if (!ok((unsigned char)v.p[i]))
			return false;
	return true;
}

static inline sv_t sv_trim(sv_t v)
{
	while (v.n && is_sp(v.p[0]))
		v.p++, v.n--;
	while (v.n && is_sp(v.p[v.n - 1]))
		v.n--;
	return v;
}

/* Next whitespace-separated token of *rest (empty when none is left). */
static inline sv_t sv_tok(sv_t *rest)
{
	size_t i = 0;
	while (i < rest->n && is_sp(rest->p[i]))
		i++;
	size_t s = i;
	while (i < rest->n && !is_sp(rest->p[i]))
		i++;
	sv_t t = mk(rest->p + s, i - s);
	rest->p += i;
	rest->n -= i;
	return t;
}

/* Part of *rest before the first c; *rest becomes the part after it, or
 * empty (with *found false) when there is no c. */
static inline sv_t sv_split(sv_t *rest, char c, bool *found)
{
	const char *q = rest->n ? memchr(rest->p, c, rest->n) : NULL;
	sv_t head = mk(rest->p, q ? (size_t)(q - rest->p) : rest->n);
	if (found)
		*found = q != NULL;
	if (q)
		*rest = mk(q + 1, rest->n - head.n - 1);
	else
		*rest = mk(rest->p + rest->n, 0);
	return head;
}

static inline bool sv_eq(sv_t v, const char *lit)
{
	size_t n = strlen(lit);
	return v.n == n && memcmp(v.p, lit, n) == 0;
}

static inline bool sv_ieq(sv_t v, const char *lit)
{
	size_t n = strlen(lit);
	return v.n == n && strncasecmp(v.p, lit, n) == 0;
}

/* Decimal 0..max, 1 to 20 digits, no sign. */
static inline bool sv_u64(sv_t v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	if (v.n == 0 || v.n > 20)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		if (!is_digit((unsigned char)v.p[i]))
			return false;
		unsigned d = (unsigned)(v.p[i] - '0');
		if (d > max || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

static inline bool sv_u32(sv_t v, uint32_t max, uint32_t *out)
{
	uint64_t x;
	if (!sv_u64(v, max, &x))
		return false;
	*out = (uint32_t)x;
	return true;
}

/* Copies v into dst[cap], zero-filling the rest; false (dst untouched) if it
 * does not fit. */
static inline bool sv_copy(char *dst, size_t cap, sv_t v)
{
	if (v.n >= cap)
		return false;
	memcpy(dst, v.p, v.n);
	memset(dst + v.n, 0, cap - v.n); /* zero tail: equal values compare equal bytewise */
	return true;
}

static inline void verr(char *err, size_t errlen, const char *prefix, const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return;
	int n = snprintf(err, errlen, "%s", prefix);
	size_t off = n < 0 ? 0 : (size_t)n;
	if (off < errlen)
		vsnprintf(err + off, errlen - off, fmt, ap);
}

static inline bool valid_mid(sv_t v)
{
	return v.n >= 1 && v.n <= KM_SDP_MAX_MID && sv_all(v, is_token_char);
}

__attribute__((format(printf, 3, 4)))
static inline int fail(pst_t *st, int code, const char *fmt, ...)
{
	char prefix[24] = "";
	if (st->line)
		snprintf(prefix, sizeof prefix, "line %u: ", st->line);
	va_list ap;
	va_start(ap, fmt);
	verr(st->err, st->errlen, prefix, fmt, ap);
	va_end(ap);
	return code;
}

static inline const char *kind_name(km_sdp_kind_t k)
{
	return k == KM_SDP_AUDIO ? "audio" : k == KM_SDP_VIDEO ? "video" : "application";
}

/* A refusal about the current section as a whole. */
__attribute__((format(printf, 3, 4)))
static inline int fail_m(pst_t *st, int code, const char *fmt, ...)
{
	char prefix[80];
	const km_sdp_media_t *m = st->m;
	snprintf(prefix, sizeof prefix, "m=%s (line %u%s%s): ", kind_name(m->kind), st->m_line,
		m->mid[0] ? ", mid " : "", m->mid);
	va_list ap;
	va_start(ap, fmt);
	verr(st->err, st->errlen, prefix, fmt, ap);
	va_end(ap);
	return code;
}

static inline km_sdp_codec_t *codec_by_pt(km_sdp_media_t *m, uint32_t pt)
{
	for (size_t i = 0; i < m->ncodecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

/* Handles a media-level attribute of the current section (st->m != NULL);
 * unknown names are skipped. Returns 0 or a KM_SDP_E* code (err filled). */
int km__sdp_media_attr(pst_t *st, sv_t name, sv_t value);

#endif
