/* consults_db.c — the small SQLite helpers of the consult store
 * (consults_int.h): nesting transactions, parameterised one-shot
 * statements, text checks, tokens and the call-log writer. No domain rules
 * here.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/codes.h"
#include "rooms/consults_int.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <string.h>

int km__cons_int(sqlite3_stmt *st, int64_t *out)
{
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km__cons_col_text(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (n >= len) {
		out[0] = 0;
		return KM_ESTORE;
	}
	if (n)
		memcpy(out, t, n);
	out[n] = 0;
	return 0;
}

/* Length of the UTF-8 sequence at p (of left bytes), 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || n > left || c == 0xc0 || c == 0xc1 || c > 0xf4)
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) || (c == 0xf0 && p[1] < 0x90) ||
	    (c == 0xf4 && p[1] >= 0x90))
		return 0;
	if (c == 0xc2 && p[1] < 0xa0) /* C1 controls */
		return 0;
	return n;
}

int km__cons_clean_text(const char *s, size_t len, int allow_newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		if (c < 0x20 || c == 0x7f) {
			if (!allow_newlines || (c != '\n' && c != '\r' && c != '\t'))
				return 0;
			i++;
			continue;
		}
		size_t n = utf8_len(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

int km__cons_state_valid(const char *st)
{
	static const char *const states[] = { "consent", "name", "waiting", "admitted", "refused", "left" };
	if (!st)
		return 0;
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (strcmp(st, states[i]) == 0)
			return 1;
	return 0;
}

int km__cons_log(km_store_t *s, int64_t org_id, int64_t consult_id, int64_t ts, const char *event,
		 const char *role, const char *pseudonym)
{
	return km__store_exec(s, NULL,
			     "INSERT INTO calllog (org_id, consult_id, ts, event, role, pseudonym) "
			     "VALUES (?, ?, ?, ?, ?, ?)",
			     "iiittt", org_id, consult_id, ts, event, role, pseudonym ? pseudonym : "");
}

int km__cons_new_token(char token[KM_TOKEN_LEN], char hash[65])
{
	if (km_codes_token(token, KM_TOKEN_LEN) || km_codes_sha256_hex(token, hash)) {
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
		return KM_ECRYPTO;
	}
	return 0;
}

int km__cons_token_hash(const char *token, char hash[65])
{
	if (!token || strnlen(token, KM_TOKEN_LEN) != KM_TOKEN_LEN - 1)
		return KM_EINVAL;
	for (const char *p = token; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return KM_EINVAL;
	return km_codes_sha256_hex(token, hash) ? KM_ECRYPTO : 0;
}
