/* mail_test.c — the invitation email: exact content (headers parsed back, body
 * decoded and compared whole), Europe/Amsterdam time around both DST changes
 * and against the system's tz database, header-injection and address/link
 * refusals, long names folded, the outbox file (0600, name, atomic), and the
 * SMTP sender's refusals that need no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "rooms/mail.h"

#define ORG "Huisartsenpraktijk De Linde"
#define LABEL63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
#define LINK "https://kamer.example/j/q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = s};
	return (int64_t)timegm(&tm);
}

static km_invite_mail_t base_mail(void)
{
	km_invite_mail_t m = {
		.to = "patient@example.org",
		.link = LINK,
		.starts_at = utc(2026, 3, 3, 13, 30, 0), /* Tuesday, 14:30 CET */
		.org_name = ORG,
		.from = "noreply@kamer.example",
		.message_id_domain = NULL,
	};
	for (int i = 0; i < KM_MAIL_RANDOM_LEN; i++)
		m.random[i] = (uint8_t)i;
	return m;
}

/* ---- parsing the message back */

struct parsed {
	char names[16][32];
	char values[16][1024]; /* unfolded */
	int n;
	char body[16384];      /* quoted-printable decoded */
	size_t body_len;
};

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Checks the line structure (CRLF only, lengths) and fills p. */
static void parse(const char *msg, size_t len, struct parsed *p)
{
	memset(p, 0, sizeof *p);
	assert_int_equal(strlen(msg), len);
	for (size_t i = 0; i < len; i++) {
		assert_true((unsigned char)msg[i] < 0x80); /* 7-bit */
		if (msg[i] == '\n')
			assert_true(i > 0 && msg[i - 1] == '\r');
		if (msg[i] == '\r')
			assert_true(i + 1 < len && msg[i + 1] == '\n');
	}
	const char *sep = strstr(msg, "\r\n\r\n");
	assert_non_null(sep);
	const char *q = msg;
	while (q < sep + 2) { /* header lines */
		const char *e = strstr(q, "\r\n");
		size_t ll = (size_t)(e - q);
		assert_true(ll <= 998);
		if (*q == ' ' || *q == '\t') { /* continuation */
			assert_true(p->n > 0);
			strncat(p->values[p->n - 1], q, ll);
		} else {
			const char *colon = memchr(q, ':', ll);
			assert_non_null(colon);
			assert_true(p->n < 16);
			memcpy(p->names[p->n], q, (size_t)(colon - q));
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			memcpy(p->values[p->n], v, (size_t)(e - v));
			p->n++;
		}
		q = e + 2;
	}
	q = sep + 4;
	const char *end = msg + len;
	while (q < end) { /* body lines, quoted-printable */
		const char *e = strstr(q, "\r\n");
		assert_non_null(e);
		assert_true(e - q <= 76);
		for (const char *c = q; c < e; c++) {
			if (*c == '=') {
				if (c + 1 == e) { /* soft break */
					goto next;
				}
				assert_true(c + 2 < e);
				int hi = hexval(c[1]), lo = hexval(c[2]);
				assert_true(hi >= 0 && lo >= 0);
				p->body[p->body_len++] = (char)(hi * 16 + lo);
				c += 2;
			} else {
				assert_true(*c == ' ' || (*c > 32 && *c < 127));
				p->body[p->body_len++] = *c;
			}
		}
		assert_true(e == q || (e[-1] != ' ' && e[-1] != '\t')); /* no trailing blank */
		p->body[p->body_len++] = '\n';
next:
		q = e + 2;
	}
}

static const char *header(const struct parsed *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcasecmp(p->names[i], name) == 0)
			return p->values[i];
	return NULL;
}

/* Decodes "=?utf-8?q?..?= =?utf-8?q?..?= <addr>" into name and addr. */
static void decode_from(const char *v, char *name, char *addr)
{
	size_t n = 0;
	const char *q = v;
	while (strncmp(q, "=?utf-8?q?", 10) == 0) {
		q += 10;
		const char *e = strstr(q, "?=");
		assert_non_null(e);
		assert_true(e + 2 - (q - 10) <= 75);
		for (; q < e; q++) {
			if (*q == '_') {
				name[n++] = ' ';
			} else if (*q == '=') {
				name[n++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
				q += 2;
			} else {
				name[n++] = *q;
			}
		}
		q = e + 2;
		while (*q == ' ')
			q++;
	}
	name[n] = '\0';
	assert_true(*q == '<');
	strcpy(addr, q + 1);
	assert_true(strlen(addr) > 0 && addr[strlen(addr) - 1] == '>');
	addr[strlen(addr) - 1] = '\0';
}

static char *compose_ok(const km_invite_mail_t *m, int64_t now, size_t *len)
{
	char *out = NULL, err[256] = "";
	int rc = km_mail_compose(m, now, &out, len, err, sizeof err);
	if (rc != 0)
		fail_msg("compose failed: %s", err);
	assert_non_null(out);
	return out;
}

static const char EXPECTED_BODY_WINTER[] =
	"U bent uitgenodigd voor een videoconsult bij " ORG ".\n"
	"\n"
	"Datum en tijd: dinsdag 3 maart 2026 om 14:30 uur (Midden-Europese tijd)\n"
	"\n"
	"Deelnemen via deze link:\n" LINK "\n"
	"\n"
	"Deze link is persoonlijk en geldig tot het einde van het consult.\n"
	"\n"
	"----------\n"
	"\n"
	"You are invited to a video consult with " ORG ".\n"
	"\n"
	"Date and time: Tuesday 3 March 2026 at 14:30 (Central European Time)\n"
	"\n"
	"Join with this link:\n" LINK "\n"
	"\n"
	"This link is personal and valid until the consult ends.\n";

static void test_compose_exact(void **state)
{
	km_invite_mail_t m = base_mail();
	size_t len;
	char *msg = compose_ok(&m, utc(2026, 3, 1, 10, 0, 0), &len);
	struct parsed *p = malloc(sizeof *p);
	parse(msg, len, p);

	static const char *const names[] = {"From", "To", "Subject", "Date", "Message-ID",
					    "MIME-Version", "Content-Type",
					    "Content-Transfer-Encoding", "Content-Language",
					    "Auto-Submitted"};
	assert_int_equal(p->n, 10); /* exactly these, in this order */
	for (int i = 0; i < 10; i++)
		assert_string_equal(p->names[i], names[i]);
	char name[512], addr[300];
	decode_from(header(p, "From"), name, addr);
	assert_string_equal(name, ORG);
	assert_string_equal(addr, "noreply@kamer.example");
	assert_string_equal(header(p, "To"), "patient@example.org");
	assert_string_equal(header(p, "Subject"),
			    "Uitnodiging voor een videoconsult / Invitation to a video consult");
	assert_string_equal(header(p, "Date"), "Sun, 01 Mar 2026 11:00:00 +0100");
	assert_string_equal(header(p, "Message-ID"),
			    "<000102030405060708090a0b0c0d0e0f@kamer.example>");
	assert_string_equal(header(p, "MIME-Version"), "1.0");
	assert_string_equal(header(p, "Content-Type"), "text/plain; charset=utf-8");
	assert_string_equal(header(p, "Content-Transfer-Encoding"), "quoted-printable");
	assert_string_equal(header(p, "Auto-Submitted"), "auto-generated");

	p->body[p->body_len] = '\0';
	assert_string_equal(p->body, EXPECTED_BODY_WINTER); /* nothing else in the body */
	free(p);
	free(msg);
}

static void test_compose_summer_and_mid_domain(void **state)
{
	km_invite_mail_t m = base_mail();
	m.starts_at = utc(2026, 7, 4, 7, 5, 0); /* Saturday 09:05 CEST */
	m.message_id_domain = "mail.kamer.example";
	size_t len;
	char *msg = compose_ok(&m, utc(2026, 7, 1, 22, 30, 15), &len);
	struct parsed *p = malloc(sizeof *p);
	parse(msg, len, p);
	assert_string_equal(header(p, "Date"), "Thu, 02 Jul 2026 00:30:15 +0200");
	assert_string_equal(header(p, "Message-ID"),
			    "<000102030405060708090a0b0c0d0e0f@mail.kamer.example>");
	p->body[p->body_len] = '\0';
	assert_non_null(strstr(p->body, "Datum en tijd: zaterdag 4 juli 2026 om 09:05 uur "
					 "(Midden-Europese zomertijd)\n"));
	assert_non_null(strstr(p->body, "Date and time: Saturday 4 July 2026 at 09:05 "
					 "(Central European Summer Time)\n"));
	free(p);
	free(msg);
}

static void test_compose_deterministic(void **state)
{
	km_invite_mail_t m = base_mail();
	size_t l1, l2, l3;
	char *a = compose_ok(&m, 1800000000, &l1);
	char *b = compose_ok(&m, 1800000000, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	m.random[0] = 0xff;
	char *c = compose_ok(&m, 1800000000, &l3);
	assert_int_equal(l1, l3); /* only the Message-ID changed */
	assert_memory_not_equal(a, c, l1);
	assert_non_null(strstr(c, "<ff0102"));
	free(a);
	free(b);
	free(c);
}

static void test_compose_utf8_org(void **state)
{
	/* "Zorggroep Één & Co — Brussel/Amsterdam" with é, É, an em dash and an emoji */
	const char *org = "Zorggroep \xc3\x89\xc3\xa9n & Co \xe2\x80\x94 Brussel/Amsterdam \xf0\x9f\x8f\xa5";
	km_invite_mail_t m = base_mail();
	m.org_name = org;
	size_t len;
	char *msg = compose_ok(&m, 1800000000, &len);
	struct parsed *p = malloc(sizeof *p);
	parse(msg, len, p);
	char name[512], addr[300];
	decode_from(header(p, "From"), name, addr);
	assert_string_equal(name, org);
	p->body[p->body_len] = '\0';
	char want[512];
	snprintf(want, sizeof want, "videoconsult bij %s.\n", org);
	assert_non_null(strstr(p->body, want));
	snprintf(want, sizeof want, "video consult with %s.\n", org);
	assert_non_null(strstr(p->body, want));
	free(p);
	free(msg);
}

static void test_long_org_folded_or_refused(void **state)
{
	char org[KM_MAIL_ORG_MAX + 8] = "";
	for (int i = 0; i < KM_MAIL_ORG_MAX / 2; i++)
		strcat(org, "\xc3\xab"); /* ë: 200 bytes, 600 once encoded */
	km_invite_mail_t m = base_mail();
	m.org_name = org;
	size_t len;
	char *msg = compose_ok(&m, 1800000000, &len);
	/* every header line within 78; From takes several lines */
	const char *end = strstr(msg, "\r\n\r\n");
	int from_lines = 0, in_from = 0;
	for (const char *q = msg; q < end;) {
		const char *e = strstr(q, "\r\n");
		assert_true(e - q <= 78);
		if (*q != ' ')
			in_from = strncmp(q, "From:", 5) == 0;
		from_lines += in_from;
		q = e + 2;
	}
	assert_true(from_lines >= 8); /* 600 encoded bytes need at least 8 lines */
	struct parsed *p = malloc(sizeof *p);
	parse(msg, len, p);
	char name[1024], addr[300];
	decode_from(header(p, "From"), name, addr);
	assert_string_equal(name, org);
	p->body[p->body_len] = '\0';
	assert_non_null(strstr(p->body, org));
	free(p);
	free(msg);

	/* a long name of plain ASCII words also folds and decodes */
	char ascii[KM_MAIL_ORG_MAX + 1];
	memset(ascii, 'a', KM_MAIL_ORG_MAX);
	for (int i = 7; i < KM_MAIL_ORG_MAX; i += 9)
		ascii[i] = ' ';
	ascii[KM_MAIL_ORG_MAX] = '\0';
	m.org_name = ascii;
	msg = compose_ok(&m, 1800000000, &len);
	p = malloc(sizeof *p);
	parse(msg, len, p);
	decode_from(header(p, "From"), name, addr);
	assert_string_equal(name, ascii);
	free(p);
	free(msg);

	/* one byte over the limit is refused */
	strcat(org, "x");
	m.org_name = org;
	char *out = (char *)1, err[128] = "";
	assert_int_equal(km_mail_compose(&m, 1800000000, &out, &len, err, sizeof err), KM_ETOOBIG);
	assert_null(out);
	assert_non_null(strstr(err, "organisation name"));
}

struct lt_case {
	int64_t t;
	int y, mo, d, h, mi, s, wday, off;
};

static void test_amsterdam_dst_edges(void **state)
{
	const struct lt_case c[] = {
		/* spring forward: 2026-03-29 01:00 UTC, 02:00 CET -> 03:00 CEST */
		{utc(2026, 3, 29, 0, 59, 59), 2026, 3, 29, 1, 59, 59, 0, 3600},
		{utc(2026, 3, 29, 1, 0, 0), 2026, 3, 29, 3, 0, 0, 0, 7200},
		{utc(2026, 3, 29, 0, 59, 0), 2026, 3, 29, 1, 59, 0, 0, 3600},
		/* fall back: 2026-10-25 01:00 UTC, 03:00 CEST -> 02:00 CET */
		{utc(2026, 10, 25, 0, 59, 59), 2026, 10, 25, 2, 59, 59, 0, 7200},
		{utc(2026, 10, 25, 1, 0, 0), 2026, 10, 25, 2, 0, 0, 0, 3600},
		{utc(2026, 10, 25, 0, 59, 0), 2026, 10, 25, 2, 59, 0, 0, 7200},
		/* winter, summer, year end, leap day, epoch */
		{utc(2026, 1, 15, 12, 0, 0), 2026, 1, 15, 13, 0, 0, 4, 3600},
		{utc(2026, 7, 1, 12, 0, 0), 2026, 7, 1, 14, 0, 0, 3, 7200},
		{utc(2025, 12, 31, 23, 30, 0), 2026, 1, 1, 0, 30, 0, 4, 3600},
		{utc(2028, 2, 29, 22, 59, 59), 2028, 2, 29, 23, 59, 59, 2, 3600},
		{utc(2028, 2, 29, 23, 0, 0), 2028, 3, 1, 0, 0, 0, 3, 3600},
		{0, 1970, 1, 1, 1, 0, 0, 4, 3600},
		/* a year whose last Sunday of March is the 31st (2024) and of October the 27th */
		{utc(2024, 3, 31, 1, 0, 0), 2024, 3, 31, 3, 0, 0, 0, 7200},
		{utc(2024, 3, 30, 1, 0, 0), 2024, 3, 30, 2, 0, 0, 6, 3600},
		{utc(2024, 10, 27, 0, 59, 59), 2024, 10, 27, 2, 59, 59, 0, 7200},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		km_mail_localtime_t t;
		assert_int_equal(km_mail_amsterdam_time(c[i].t, &t), 0);
		int got[] = {t.year, t.month, t.day, t.hour, t.minute, t.second, t.wday, t.utc_offset};
		int want[] = {c[i].y, c[i].mo, c[i].d, c[i].h, c[i].mi, c[i].s, c[i].wday, c[i].off};
		for (int k = 0; k < 8; k++)
			if (got[k] != want[k])
				fail_msg("case %zu field %d: got %d want %d", i, k, got[k], want[k]);
	}
	km_mail_localtime_t t;
	assert_int_equal(km_mail_amsterdam_time(-1, &t), KM_EINVAL);
	assert_int_equal(km_mail_amsterdam_time(253402300800LL, &t), KM_EINVAL);
	assert_int_equal(km_mail_amsterdam_time(0, NULL), KM_EINVAL);
}

/* Compares with the system's tz database every 7 h 13 min from 1997 to 2037
 * (the EU rule has held since 1996) and at every transition minute. */
static void test_amsterdam_matches_tzdb(void **state)
{
	setenv("TZ", "Europe/Amsterdam", 1);
	tzset();
	int checked = 0;
	for (int64_t t = utc(1997, 1, 1, 0, 0, 0); t < utc(2037, 12, 31, 0, 0, 0); t += 7 * 3600 + 13 * 60) {
		for (int d = -1; d <= 1; d++) {
			time_t tt = (time_t)(t + d);
			struct tm tm;
			km_mail_localtime_t k;
			assert_non_null(localtime_r(&tt, &tm));
			assert_int_equal(km_mail_amsterdam_time(t + d, &k), 0);
			if (k.year != tm.tm_year + 1900 || k.month != tm.tm_mon + 1 || k.day != tm.tm_mday ||
			    k.hour != tm.tm_hour || k.minute != tm.tm_min || k.second != tm.tm_sec ||
			    k.wday != tm.tm_wday || k.utc_offset != tm.tm_gmtoff)
				fail_msg("mismatch at %lld", (long long)(t + d));
			checked++;
		}
	}
	for (int y = 1997; y <= 2037; y++) { /* each transition, one second either side */
		for (int mo = 3; mo <= 10; mo += 7) {
			for (int d = 25; d <= 31; d++) {
				for (int s = -1; s <= 0; s++) {
					int64_t t = utc(y, mo, d, 1, 0, 0) + s;
					time_t tt = (time_t)t;
					struct tm tm;
					km_mail_localtime_t k;
					localtime_r(&tt, &tm);
					km_mail_amsterdam_time(t, &k);
					assert_int_equal(k.utc_offset, tm.tm_gmtoff);
					assert_int_equal(k.hour, tm.tm_hour);
					checked++;
				}
			}
		}
	}
	assert_true(checked > 100000);
	unsetenv("TZ");
	tzset();
}

struct bad {
	const char *what;
	km_invite_mail_t m;
	int rc;
};

static void test_injection_and_bad_fields_refused(void **state)
{
	km_invite_mail_t b = base_mail();
	struct bad cases[64];
	size_t n = 0;
#define BAD(field, value, code)                                                           \
	do {                                                                              \
		cases[n].what = #field " = " #value;                                      \
		cases[n].m = b;                                                           \
		cases[n].m.field = value;                                                 \
		cases[n].rc = code;                                                       \
		n++;                                                                      \
	} while (0)
	BAD(to, "evil@example.org\r\nBcc: all@example.org", KM_EINVAL);
	BAD(to, "evil@example.org\nBcc: all@example.org", KM_EINVAL);
	BAD(to, "evil@example.org\r", KM_EINVAL);
	BAD(to, "evil@exa\tmple.org", KM_EINVAL);
	BAD(to, "Evil <evil@example.org>", KM_EINVAL);
	BAD(to, "evil example.org", KM_EINVAL);
	BAD(to, "evil@localhost", KM_EINVAL);
	BAD(to, "evil..x@example.org", KM_EINVAL);
	BAD(to, ".evil@example.org", KM_EINVAL);
	BAD(to, "evil@-example.org", KM_EINVAL);
	BAD(to, "evil@example..org", KM_EINVAL);
	BAD(to, "evil@example.org.", KM_EINVAL);
	BAD(to, "\"evil\"@example.org", KM_EINVAL);
	BAD(to, "ev\xc3\xafl@example.org", KM_EINVAL);
	BAD(to, "evil@[127.0.0.1]", KM_EINVAL);
	BAD(to, "", KM_EINVAL);
	BAD(to, NULL, KM_EINVAL);
	BAD(from, "noreply@kamer.example\r\nX-Evil: 1", KM_EINVAL);
	BAD(from, "noreply@kamer.example>\r\n", KM_EINVAL);
	BAD(from, NULL, KM_EINVAL);
	BAD(org_name, "Praktijk\r\nBcc: all@example.org", KM_EINVAL);
	BAD(org_name, "Praktijk\n", KM_EINVAL);
	BAD(org_name, "Prak\ttijk", KM_EINVAL);
	BAD(org_name, "Prak\x7ftijk", KM_EINVAL);
	BAD(org_name, "Prak\xc2\x85tijk", KM_EINVAL);      /* U+0085 NEL */
	BAD(org_name, "Prak\xe2\x80\xa8tijk", KM_EINVAL);  /* U+2028 */
	BAD(org_name, "Prak\xe2\x80\xaetijk", KM_EINVAL);  /* U+202E RLO */
	BAD(org_name, "Prak\xc3\x28tijk", KM_EINVAL);      /* invalid UTF-8 */
	BAD(org_name, "Prak\xc0\xaftijk", KM_EINVAL);      /* overlong */
	BAD(org_name, "Prak\xed\xa0\x80tijk", KM_EINVAL);  /* surrogate */
	BAD(org_name, "Prak\xc3", KM_EINVAL);              /* truncated */
	BAD(org_name, "", KM_EINVAL);
	BAD(link, "https://kamer.example/j/x\r\nBcc: all@example.org", KM_EINVAL);
	BAD(link, "https://kamer.example/j/x\n", KM_EINVAL);
	BAD(link, "http://kamer.example/j/x", KM_EINVAL);
	BAD(link, "HTTPS://kamer.example/j/x", KM_EINVAL);
	BAD(link, "javascript:alert(1)//https://", KM_EINVAL);
	BAD(link, "https://", KM_EINVAL);
	BAD(link, "https:///j/x", KM_EINVAL);
	BAD(link, "https://kamer.example/j/x y", KM_EINVAL);
	BAD(link, "https://kamer.example/j/<x>", KM_EINVAL);
	BAD(link, "https://kamer.example/j/\"x", KM_EINVAL);
	BAD(link, "https://kamer.example/j/%zz", KM_EINVAL);
	BAD(link, "https://kamer.example/j/%4", KM_EINVAL);
	BAD(link, "https://kamer.example/j/\xc3\xa9", KM_EINVAL);
	BAD(link, NULL, KM_EINVAL);
	BAD(message_id_domain, "kamer.example\r\nX: y", KM_EINVAL);
	BAD(message_id_domain, "kamer example", KM_EINVAL);
	BAD(message_id_domain, "", KM_EINVAL);
	BAD(starts_at, -1, KM_EINVAL);
	BAD(starts_at, 253402300799LL, KM_EINVAL);
#undef BAD
	char long_to[300];
	memset(long_to, 'a', sizeof long_to);
	strcpy(long_to + 280, "@example.org");
	cases[n] = (struct bad){"long to", b, KM_ETOOBIG};
	cases[n++].m.to = long_to;
	char long_link[KM_MAIL_LINK_MAX + 32] = "https://kamer.example/j/";
	memset(long_link + 24, 'x', KM_MAIL_LINK_MAX);
	long_link[KM_MAIL_LINK_MAX + 1] = '\0';
	cases[n] = (struct bad){"long link", b, KM_ETOOBIG};
	cases[n++].m.link = long_link;

	for (size_t i = 0; i < n; i++) {
		char *out = (char *)1, err[256] = "";
		size_t len = 99;
		int rc = km_mail_compose(&cases[i].m, 1800000000, &out, &len, err, sizeof err);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].what, rc, cases[i].rc, err);
		assert_null(out);
		assert_int_equal(len, 0);
		assert_true(strlen(err) > 0);
		assert_null(strstr(err, "evil")); /* a reason never repeats the address */
	}
	char *out;
	size_t len;
	assert_int_equal(km_mail_compose(&b, -5, &out, &len, NULL, 0), KM_EINVAL);
	assert_int_equal(km_mail_compose(NULL, 0, &out, &len, NULL, 0), KM_EINVAL);
}

static void test_good_addresses_and_links(void **state)
{
	const char *good_addr[] = {"a@b.nl", "first.last+tag@sub.example.org", "x_y-z@x-1.example",
				   "o'brien@example.ie", "1@2.example"};
	for (size_t i = 0; i < sizeof good_addr / sizeof *good_addr; i++)
		assert_int_equal(km_mail_address_check(good_addr[i], NULL, 0), 0);
	/* the longest address and Message-ID domain allowed still compose (fuzz find) */
	char max_to[KM_MAIL_ADDR_MAX + 1], max_dom[254];
	memset(max_to, 'a', 64);
	snprintf(max_to + 64, sizeof max_to - 64, "@%s.%s.%.61s", LABEL63, LABEL63, LABEL63);
	assert_int_equal(strlen(max_to), KM_MAIL_ADDR_MAX);
	snprintf(max_dom, sizeof max_dom, "%s.%s.%s.%.61s", LABEL63, LABEL63, LABEL63, LABEL63);
	assert_int_equal(strlen(max_dom), 253);
	km_invite_mail_t mx = base_mail();
	mx.to = max_to;
	mx.message_id_domain = max_dom;
	size_t mlen;
	char *mmsg = compose_ok(&mx, 1800000000, &mlen);
	struct parsed *mp = malloc(sizeof *mp);
	parse(mmsg, mlen, mp);
	assert_string_equal(header(mp, "To"), max_to);
	free(mp);
	free(mmsg);

	const char *good_link[] = {"https://h/j/a", "https://kamer.example:8443/j/A-b_c~d",
				   "https://[::1]:8443/j/x?y=1&z=%2F#f"};
	km_invite_mail_t m = base_mail();
	for (size_t i = 0; i < sizeof good_link / sizeof *good_link; i++) {
		m.link = good_link[i];
		size_t len;
		char *msg = compose_ok(&m, 1800000000, &len);
		struct parsed *p = malloc(sizeof *p);
		parse(msg, len, p);
		p->body[p->body_len] = '\0';
		char want[256];
		snprintf(want, sizeof want, "\n%s\n", good_link[i]);
		assert_non_null(strstr(p->body, want)); /* decoded, whole, on its own line */
		free(p);
		free(msg);
	}
}

static void test_outbox_write(void **state)
{
	char dir[] = "/tmp/kamer-mail-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	km_invite_mail_t m = base_mail();
	size_t len;
	char *msg = compose_ok(&m, 1800000000, &len);
	char name1[64], name2[64], err[256] = "";
	assert_int_equal(km_mail_outbox_write(dir, msg, len, name1, sizeof name1, err, sizeof err), 0);
	assert_int_equal(km_mail_outbox_write(dir, msg, len, name2, sizeof name2, err, sizeof err), 0);
	assert_string_not_equal(name1, name2);

	regex_t re;
	assert_int_equal(regcomp(&re, "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}\\.eml$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, name1, 0, NULL, 0), 0);
	assert_int_equal(regexec(&re, name2, 0, NULL, 0), 0);
	regfree(&re);

	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((size_t)st.st_size, len);
	FILE *f = fopen(path, "rb");
	char *back = malloc(len);
	assert_int_equal(fread(back, 1, len, f), len);
	fclose(f);
	assert_memory_equal(back, msg, len);
	free(back);

	/* nothing but the two .eml files is left (no temporary files) */
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		assert_true(strcmp(e->d_name, name1) == 0 || strcmp(e->d_name, name2) == 0);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
		files++;
	}
	closedir(d);
	assert_int_equal(files, 2);
	rmdir(dir);

	/* a missing folder, a tiny name buffer, no message */
	assert_int_equal(km_mail_outbox_write("/nonexistent/kamer/outbox", msg, len, name1, sizeof name1,
					      err, sizeof err), KM_EIO);
	assert_string_equal(name1, "");
	assert_int_equal(km_mail_outbox_write(dir, NULL, 0, NULL, 0, err, sizeof err), KM_EINVAL);
	free(msg);
}

static void test_smtp_refusals_without_server(void **state)
{
	const char *msg = "Subject: x\r\n\r\nx\r\n";
	char err[256];
	const char *bad_urls[] = {"http://127.0.0.1:25", "ftp://h", "smtp://h\r\nRCPT", "smtp h",
				  "file:///etc/passwd", "127.0.0.1:25"};
	for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
		km_smtp_config_t c = {.url = bad_urls[i], .attempts = 1, .timeout_s = 1};
		err[0] = '\0';
		assert_int_equal(km_mail_smtp_send(&c, "a@b.example", "c@d.example", msg, strlen(msg),
						   err, sizeof err), KM_EINVAL);
		assert_true(strlen(err) > 0);
	}
	km_smtp_config_t c = {.url = "smtp://127.0.0.1:1", .attempts = 1, .timeout_s = 1};
	c.url = NULL;
	assert_int_equal(km_mail_smtp_send(&c, "a@b.example", "c@d.example", msg, strlen(msg), err,
					   sizeof err), KM_EINVAL);
	c.url = "smtp://127.0.0.1:1";
	assert_int_equal(km_mail_smtp_send(&c, "a@b.example\r\nRCPT TO:<x@y.z>", "c@d.example", msg,
					   strlen(msg), err, sizeof err), KM_EINVAL);
	assert_string_equal(err, "sender address is not valid");
	assert_int_equal(km_mail_smtp_send(&c, "a@b.example", "c@d.example>", msg, strlen(msg), err,
					   sizeof err), KM_EINVAL);
	assert_string_equal(err, "recipient address is not valid");
	assert_int_equal(km_mail_smtp_send(&c, "a@b.example", "c@d.example", msg, 0, err, sizeof err),
			 KM_EINVAL);
}

/* A port on 127.0.0.1 that nobody listens on: bind, read the port, close. */
static void test_smtp_connection_refused(void **state)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	char url[64], err[256] = "";
	snprintf(url, sizeof url, "smtp://127.0.0.1:%d", ntohs(a.sin_port));
	km_smtp_config_t c = {.url = url, .attempts = 2, .timeout_s = 5};
	const char *msg = "Subject: x\r\n\r\nx\r\n";
	assert_int_equal(km_mail_smtp_send(&c, "a@b.example", "c@d.example", msg, strlen(msg), err,
					   sizeof err), KM_EIO);
	assert_string_equal(err, "connection refused (2 attempts)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_exact),
		cmocka_unit_test(test_compose_summer_and_mid_domain),
		cmocka_unit_test(test_compose_deterministic),
		cmocka_unit_test(test_compose_utf8_org),
		cmocka_unit_test(test_long_org_folded_or_refused),
		cmocka_unit_test(test_amsterdam_dst_edges),
		cmocka_unit_test(test_amsterdam_matches_tzdb),
		cmocka_unit_test(test_injection_and_bad_fields_refused),
		cmocka_unit_test(test_good_addresses_and_links),
		cmocka_unit_test(test_outbox_write),
		cmocka_unit_test(test_smtp_refusals_without_server),
		cmocka_unit_test(test_smtp_connection_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
