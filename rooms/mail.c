/* mail.c — composes the invitation email (RFC 5322 + MIME, quoted-printable,
 * Dutch then English) and writes it to the outbox folder. Composing is a pure
 * function (no I/O, clock or randomness); the SMTP transport is in
 * mail_smtp.c. Not the place for deciding who is invited (consults).
 *
 * Threading: no shared state; every function is safe from any thread. */
#include "rooms/mail.h"

#include "core/err.h"
#include "core/fs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LINE_SOFT 78        /* RFC 5322 §2.1.1 SHOULD */
#define QP_LINE 76          /* RFC 2045 §6.7 (5) */
#define EW_MAX 75           /* RFC 2047 §2 */
#define EW_PREFIX "=?utf-8?q?"
#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

static const char SUBJECT[] = "Uitnodiging voor een videoconsult / Invitation to a video consult";

/* ---- a growing buffer; an allocation failure is remembered, not checked at every call */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024]; /* formatted pieces are bounded: an address is at most 254 bytes */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		b->oom = true; /* cannot happen with the bounded fields; fail closed */
	else
		put(b, tmp, (size_t)n);
}

/* ---- validation */

/* Length of the UTF-8 sequence at s (1..4) and its code point, or 0 if it is
 * not well-formed (overlong, surrogate, over U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0];
	size_t k;
	unsigned min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		k = 2, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return k;
}

/* Control characters, line separators and bidi embedding/override controls
 * have no place in a header or a one-line name. */
static bool cp_forbidden(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static int check_org(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n == 0)
		return km_errf(KM_EINVAL, err, errlen, "organisation name is empty");
	if (n > KM_MAIL_ORG_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "organisation name over %d bytes", KM_MAIL_ORG_MAX);
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
		if (k == 0)
			return km_errf(KM_EINVAL, err, errlen, "organisation name is not valid UTF-8");
		if (cp_forbidden(cp))
			return km_errf(KM_EINVAL, err, errlen,
				       "organisation name contains a control character (U+%04X)", cp);
		i += k;
	}
	return 0;
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_atext(int c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A host name: labels of [A-Za-z0-9-], 1..63 each, no '-' at either end,
 * at least min_labels of them. */
static bool host_ok(const char *s, size_t n, int min_labels)
{
	int labels = 0;
	size_t i = 0;
	if (n == 0 || n > 253)
		return false;
	while (i <= n) {
		size_t start = i;
		while (i < n && s[i] != '.') {
			if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
				return false;
			i++;
		}
		size_t ll = i - start;
		if (ll == 0 || ll > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		labels++;
		i++; /* past the dot (or past the end) */
	}
	return labels >= min_labels;
}

int km_mail_address_check(const char *addr, char *err, size_t errlen)
{
	if (addr == NULL)
		return km_errf(KM_EINVAL, err, errlen, "address missing");
	size_t n = strlen(addr);
	if (n > KM_MAIL_ADDR_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "address over %d bytes", KM_MAIL_ADDR_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)addr[i] < 0x20 || (unsigned char)addr[i] >= 0x7f)
			return km_errf(KM_EINVAL, err, errlen,
				       "address contains a control or non-ASCII character");
	const char *at = strrchr(addr, '@');
	if (at == NULL)
		return km_errf(KM_EINVAL, err, errlen, "address has no @");
	size_t ln = (size_t)(at - addr);
	if (ln == 0 || ln > 64)
		return km_errf(KM_EINVAL, err, errlen, "address local part empty or over 64 bytes");
	if (addr[0] == '.' || addr[ln - 1] == '.')
		return km_errf(KM_EINVAL, err, errlen, "address local part starts or ends with a dot");
	for (size_t i = 0; i < ln; i++) {
		if (addr[i] == '.' && addr[i + 1] == '.')
			return km_errf(KM_EINVAL, err, errlen, "address local part has two dots in a row");
		if (addr[i] != '.' && !is_atext((unsigned char)addr[i]))
			return km_errf(KM_EINVAL, err, errlen, "address local part has a character not allowed");
	}
	if (!host_ok(at + 1, n - ln - 1, 2))
		return km_errf(KM_EINVAL, err, errlen, "address domain is not a valid host name");
	return 0;
}

static bool is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int check_link(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n > KM_MAIL_LINK_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "link over %d bytes", KM_MAIL_LINK_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return km_errf(KM_EINVAL, err, errlen, "link contains a control or non-ASCII character");
		if (c == '%' && !(is_hex((unsigned char)s[i + 1]) && is_hex((unsigned char)s[i + 2])))
			return km_errf(KM_EINVAL, err, errlen, "link has a bad %%-escape");
		if (!is_alnum(c) && strchr("-._~:/?#[]@!$&'()*+,;=%", c) == NULL)
			return km_errf(KM_EINVAL, err, errlen, "link contains a character not allowed in a URL");
	}
	if (strncmp(s, "https://", 8) != 0)
		return km_errf(KM_EINVAL, err, errlen, "link is not https://");
	if (s[8] == '\0' || strchr("/?#@:", s[8]) != NULL)
		return km_errf(KM_EINVAL, err, errlen, "link has no host");
	return 0;
}

/* ---- Europe/Amsterdam time (EU rule), from civil-date arithmetic */

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = y / 400; /* y >= 0 here */
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of day z since 1970-01-01 (z >= 0). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 01:00 UTC on the last Sunday of month m (31 days long) of year y. */
static int64_t last_sunday_0100(int y, int m)
{
	int64_t d31 = days_from_civil(y, m, 31);
	int wd = (int)((d31 + 4) % 7); /* 1970-01-01 was a Thursday */
	return (d31 - wd) * 86400 + 3600;
}

static void split_utc(int64_t t, km_mail_localtime_t *o)
{
	int64_t days = t / 86400, secs = t % 86400;
	civil_from_days(days, &o->year, &o->month, &o->day);
	o->wday = (int)((days + 4) % 7);
	o->hour = (int)(secs / 3600);
	o->minute = (int)(secs / 60 % 60);
	o->second = (int)(secs % 60);
}

int km_mail_amsterdam_time(int64_t utc, km_mail_localtime_t *out)
{
	if (out == NULL || utc < 0 || utc > TIME_MAX)
		return KM_EINVAL;
	km_mail_localtime_t u;
	split_utc(utc, &u);
	bool summer = utc >= last_sunday_0100(u.year, 3) && utc < last_sunday_0100(u.year, 10);
	int off = summer ? 7200 : 3600;
	split_utc(utc + off, out);
	out->utc_offset = off;
	return 0;
}

static const char *const EN_DAY[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const EN_MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const EN_DAY_LONG[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
					  "Thursday", "Friday", "Saturday"};
static const char *const EN_MON_LONG[] = {"January", "February", "March",     "April",
					  "May",     "June",     "July",      "August",
					  "September", "October", "November", "December"};
static const char *const NL_DAY[] = {"zondag",    "maandag", "dinsdag", "woensdag",
				     "donderdag", "vrijdag", "zaterdag"};
static const char *const NL_MON[] = {"januari", "februari", "maart",     "april",
				     "mei",     "juni",     "juli",      "augustus",
				     "september", "oktober", "november", "december"};

/* ---- header encoding */

/* Bytes a character takes in an RFC 2047 "Q" word inside a phrase (§5 (3)). */
static size_t q_size(const unsigned char *s, size_t k)
{
	if (k == 1 && (is_alnum(s[0]) || s[0] == ' ' || strchr("!*+-/", s[0]) != NULL) && s[0])
		return 1;
	return 3 * k;
}

static void q_put(struct buf *b, const unsigned char *s, size_t k)
{
	static const char hex[] = "0123456789ABCDEF";
	if (q_size(s, k) == 1) {
		char c = s[0] == ' ' ? '_' : (char)s[0];
		put(b, &c, 1);
		return;
	}
	for (size_t i = 0; i < k; i++) {
		char e[3] = {'=', hex[s[i] >> 4], hex[s[i] & 15]};
		put(b, e, 3);
	}
}

/* Appends "From: <name as encoded-words> <addr>" folded at 78 columns; the
 * name is split between whole UTF-8 characters (RFC 2047 §5). */
static void put_from(struct buf *b, const char *name, const char *addr)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), col = 5; /* "From:" */
	puts_(b, "From:");
	for (size_t i = 0; i < n;) {
		if (col + 1 + 24 > LINE_SOFT) { /* no room for a word with a 4-byte character */
			puts_(b, "\r\n");
			col = 0;
		}
		size_t avail = LINE_SOFT - col - 1;
		size_t limit = avail < EW_MAX ? avail : EW_MAX;
		size_t wlen = strlen(EW_PREFIX) + 2, j = i;
		while (j < n) { /* how many whole characters fit in this word */
			unsigned cp;
			size_t k = utf8_next(s + j, n - j, &cp); /* validated: k >= 1 */
			if (wlen + q_size(s + j, k) > limit)
				break;
			wlen += q_size(s + j, k);
			j += k;
		}
		puts_(b, " " EW_PREFIX);
		for (size_t p = i; p < j;) {
			unsigned cp;
			size_t k = utf8_next(s + p, n - p, &cp);
			q_put(b, s + p, k);
			p += k;
		}
		puts_(b, "?=");
		col += 1 + wlen;
		i = j;
	}
	if (col + 3 + strlen(addr) > LINE_SOFT)
		puts_(b, "\r\n");
	putf(b, " <%s>\r\n", addr);
}

static void put_headers(struct buf *b, const km_invite_mail_t *m, int64_t now, const char *mid_domain)
{
	km_mail_localtime_t t;
	km_mail_amsterdam_time(now, &t); /* range checked by the caller */
	put_from(b, m->org_name, m->from);
	putf(b, "To: %s\r\n", m->to);
	putf(b, "Subject: %s\r\n", SUBJECT);
	putf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +%02d00\r\n", EN_DAY[t.wday], t.day,
	     EN_MON[t.month - 1], t.year, t.hour, t.minute, t.second, t.utc_offset / 3600);
	puts_(b, "Message-ID: <");
	for (size_t i = 0; i < KM_MAIL_RANDOM_LEN; i++)
		putf(b, "%02x", m->random[i]);
	putf(b, "@%s>\r\n", mid_domain);
	puts_(b, "MIME-Version: 1.0\r\n"
		 "Content-Type: text/plain; charset=utf-8\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n"
		 "Content-Language: nl, en\r\n"
		 "Auto-Submitted: auto-generated\r\n"
		 "\r\n");
}

/* ---- body */

/* The plain UTF-8 body, LF line ends. Only org, date/time and link vary. */
static void put_text(struct buf *b, const km_invite_mail_t *m)
{
	km_mail_localtime_t t;
	km_mail_amsterdam_time(m->starts_at, &t);
	bool summer = t.utc_offset == 7200;
	puts_(b, "U bent uitgenodigd voor een videoconsult bij ");
	puts_(b, m->org_name);
	putf(b, ".\n\nDatum en tijd: %s %d %s %d om %02d:%02d uur (%s)\n\n", NL_DAY[t.wday], t.day,
	     NL_MON[t.month - 1], t.year, t.hour, t.minute,
	     summer ? "Midden-Europese zomertijd" : "Midden-Europese tijd");
	puts_(b, "Deelnemen via deze link:\n");
	puts_(b, m->link);
	puts_(b, "\n\nDeze link is persoonlijk en geldig tot het einde van het consult.\n"
		 "\n----------\n\n"
		 "You are invited to a video consult with ");
	puts_(b, m->org_name);
	putf(b, ".\n\nDate and time: %s %d %s %d at %02d:%02d (%s)\n\n", EN_DAY_LONG[t.wday], t.day,
	     EN_MON_LONG[t.month - 1], t.year, t.hour, t.minute,
	     summer ? "Central European Summer Time" : "Central European Time");
	puts_(b, "Join with this link:\n");
	puts_(b, m->link);
	puts_(b, "\n\nThis link is personal and valid until the consult ends.\n");
}

/* Quoted-printable (RFC 2045 §6.7) of LF-separated text, CRLF line ends,
 * soft breaks so that no line exceeds 76 bytes. */
static void put_qp(struct buf *b, const char *text, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			puts_(b, "\r\n");
			col = 0;
			continue;
		}
		bool line_end = i + 1 == n || text[i + 1] == '\n';
		bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
		size_t w = literal ? 1 : 3;
		if (col + w > QP_LINE - 1) {
			puts_(b, "=\r\n");
			col = 0;
		}
		if (literal) {
			put(b, (const char *)&c, 1);
		} else {
			char e[3] = {'=', hex[c >> 4], hex[c & 15]};
			put(b, e, 3);
		}
		col += w;
	}
}

/* ---- compose */

static int check_fields(const km_invite_mail_t *m, int64_t now, char *err, size_t errlen)
{
	int rc;
	if (m->to == NULL || m->link == NULL || m->org_name == NULL || m->from == NULL)
		return km_errf(KM_EINVAL, err, errlen, "a mail field is missing");
	if ((rc = km_mail_address_check(m->to, err, errlen)) != 0 ||
	    (rc = km_mail_address_check(m->from, err, errlen)) != 0)
		return rc;
	if ((rc = check_link(m->link, err, errlen)) != 0 || (rc = check_org(m->org_name, err, errlen)) != 0)
		return rc;
	if (m->message_id_domain != NULL &&
	    !host_ok(m->message_id_domain, strlen(m->message_id_domain), 1))
		return km_errf(KM_EINVAL, err, errlen, "Message-ID domain is not a valid host name");
	if (m->starts_at < 0 || m->starts_at > TIME_MAX - 7200 || now < 0 || now > TIME_MAX - 7200)
		return km_errf(KM_EINVAL, err, errlen, "time outside 1970..9999");
	return 0;
}

int km_mail_compose(const km_invite_mail_t *m, int64_t now, char **out, size_t *len, char *err,
		    size_t errlen)
{
	struct buf msg = {0}, text = {0};
	int rc;
	if (out == NULL || len == NULL || m == NULL)
		return km_errf(KM_EINVAL, err, errlen, "no message or output");
	*out = NULL;
	*len = 0;
	if ((rc = check_fields(m, now, err, errlen)) != 0)
		return rc;
	const char *mid = m->message_id_domain ? m->message_id_domain : strrchr(m->from, '@') + 1;

	put_headers(&msg, m, now, mid);
	put_text(&text, m);
	if (!text.oom)
		put_qp(&msg, text.p, text.len);
	if (msg.oom || text.oom) {
		rc = km_errf(KM_ENOMEM, err, errlen, "out of memory composing mail");
		goto out;
	}
	if (msg.len > KM_MAIL_MSG_MAX) {
		rc = km_errf(KM_ETOOBIG, err, errlen, "composed mail over %d bytes", KM_MAIL_MSG_MAX);
		goto out;
	}
	*out = msg.p;
	*len = msg.len;
	msg.p = NULL;
	rc = 0;
out:
	free(msg.p);
	free(text.p);
	return rc;
}

/* ---- outbox */

int km_mail_outbox_write(const char *outbox_dir, const char *msg, size_t len, char *name_out,
			 size_t name_len, char *err, size_t errlen)
{
	uint8_t rnd[8];
	char name[64], path[4096];
	struct tm tm;
	time_t now = time(NULL);

	if (name_out != NULL && name_len > 0)
		name_out[0] = '\0';
	if (outbox_dir == NULL || msg == NULL || len == 0)
		return km_errf(KM_EINVAL, err, errlen, "no outbox folder or message");
	if (len > KM_MAIL_MSG_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "mail over %d bytes", KM_MAIL_MSG_MAX);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return km_errf(KM_ECRYPTO, err, errlen, "no randomness for the outbox file name");
	if (gmtime_r(&now, &tm) == NULL)
		return km_errf(KM_EIO, err, errlen, "clock out of range");
	size_t n = strftime(name, sizeof name, "%Y%m%dT%H%M%SZ-", &tm);
	for (size_t i = 0; i < sizeof rnd; i++)
		n += (size_t)snprintf(name + n, sizeof name - n, "%02x", rnd[i]);
	snprintf(name + n, sizeof name - n, ".eml");
	if (km_fs_join(path, sizeof path, outbox_dir, name) != 0)
		return km_errf(KM_ETOOBIG, err, errlen, "outbox path too long");
	int rc = km_fs_write_atomic(path, msg, len, 0600, err, errlen);
	if (rc != 0)
		return rc;
	if (name_out != NULL) {
		if (strlen(name) >= name_len)
			return km_errf(KM_ETOOBIG, err, errlen, "name buffer too small (file was written)");
		memcpy(name_out, name, strlen(name) + 1);
	}
	return 0;
}
