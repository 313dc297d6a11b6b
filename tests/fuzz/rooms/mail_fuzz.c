/* mail_fuzz.c — libFuzzer harness for km_mail_compose with arbitrary bytes in
 * every field. It must never crash; a refusal is KM_EINVAL or KM_ETOOBIG with
 * no output; any message it writes is 7-bit, has CRLF line ends only (no bare
 * LF or CR), header lines of at most 998 bytes (78 unless they hold an
 * address or the Message-ID, which cannot fold), exactly the ten allowed
 * header fields once each (so nothing was injected), a To header equal to
 * the input, body lines of at most 76 bytes; and the same input composes to
 * the same bytes again (pure function).
 *
 * Input: 8 bytes starts_at, 8 bytes now (little-endian; reduced into
 * 1970..9999 when flag bit 0 is set), 16 bytes Message-ID randomness, 1 flag
 * byte, then fields separated by NUL: to, link, org_name, from,
 * message_id_domain. A missing field takes a valid default (bit 1 of the
 * flags makes a missing message_id_domain NULL instead). */
#include "core/err.h"
#include "rooms/mail.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXIN 8192
#define RANGE 253402290000LL

static int64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

static void check_message(const char *out, size_t len, const char *to)
{
	static const char *const allowed[] = {"From", "To", "Subject", "Date", "Message-ID",
					      "MIME-Version", "Content-Type",
					      "Content-Transfer-Encoding", "Content-Language",
					      "Auto-Submitted"};
	int seen[10] = {0};
	if (out == NULL || strlen(out) != len || len > KM_MAIL_MSG_MAX)
		abort();
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)out[i] >= 0x80)
			abort();
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
		if (out[i] == '\r' && (i + 1 >= len || out[i + 1] != '\n'))
			abort();
	}
	const char *sep = strstr(out, "\r\n\r\n");
	if (sep == NULL)
		abort();
	for (const char *q = out; q < sep + 2;) {
		const char *e = strstr(q, "\r\n");
		if (e - q > 998)
			abort();
		/* folded at 78, except where an address or msg-id cannot be folded */
		if (e - q > 78 && strncmp(q, "To: ", 4) != 0 && strncmp(q, " <", 2) != 0 &&
		    strncmp(q, "Message-ID: ", 12) != 0)
			abort();
		if (*q != ' ' && *q != '\t') {
			const char *colon = memchr(q, ':', (size_t)(e - q));
			size_t k;
			if (colon == NULL)
				abort();
			for (k = 0; k < 10; k++)
				if (strlen(allowed[k]) == (size_t)(colon - q) &&
				    memcmp(allowed[k], q, (size_t)(colon - q)) == 0)
					break;
			if (k == 10 || seen[k]++)
				abort();
			if (k == 1 && ((size_t)(e - colon - 2) != strlen(to) ||
				       memcmp(colon + 2, to, strlen(to)) != 0))
				abort();
		}
		q = e + 2;
	}
	for (int k = 0; k < 10; k++)
		if (seen[k] != 1)
			abort();
	for (const char *q = sep + 4; q < out + len;) {
		const char *e = strstr(q, "\r\n");
		if (e == NULL || e - q > 76)
			abort();
		q = e + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAXIN + 1];
	if (size < 33 || size - 33 > MAXIN)
		return 0;
	km_invite_mail_t m = {
		.to = "patient@example.org",
		.link = "https://kamer.example/j/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		.org_name = "Huisartsenpraktijk De Linde",
		.from = "noreply@kamer.example",
		.message_id_domain = "kamer.example",
	};
	int64_t now = load_le64(data + 8);
	m.starts_at = load_le64(data);
	memcpy(m.random, data + 16, KM_MAIL_RANDOM_LEN);
	uint8_t flags = data[32];
	if (flags & 1) {
		m.starts_at = (int64_t)((uint64_t)m.starts_at % RANGE);
		now = (int64_t)((uint64_t)now % RANGE);
	}
	if (flags & 2)
		m.message_id_domain = NULL;

	memcpy(buf, data + 33, size - 33);
	buf[size - 33] = '\0';
	const char **fields[] = {&m.to, &m.link, &m.org_name, &m.from, &m.message_id_domain};
	char *p = buf, *end = buf + (size - 33);
	for (size_t i = 0; i < 5 && p <= end && size > 33; i++) {
		*fields[i] = p;
		p += strlen(p) + 1;
	}

	char *out = (char *)1, err[256];
	size_t len = 1;
	int rc = km_mail_compose(&m, now, &out, &len, err, sizeof err);
	if (rc != 0) {
		if ((rc != KM_EINVAL && rc != KM_ETOOBIG) || out != NULL || len != 0 || err[0] == '\0')
			abort();
		return 0;
	}
	check_message(out, len, m.to);
	char *again = NULL;
	size_t len2 = 0;
	if (km_mail_compose(&m, now, &again, &len2, NULL, 0) != 0 || len2 != len ||
	    memcmp(out, again, len) != 0)
		abort();
	free(again);
	free(out);
	return 0;
}
