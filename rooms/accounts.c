/* accounts.c — organisations, their policy and user accounts in the store
 * (rooms/accounts.h), and the transaction and statement helpers the other
 * accounts_*.c files share. Storage only: no hashing decisions, no audit
 * rows. Set-up links, TOTP state, recovery codes and sessions live in
 * accounts_session.c.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/accounts.h"
#include "rooms/accounts_int.h"
#include "rooms/codes.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

int km_accounts_tx_begin(km_store_t *s)
{
	if (!sqlite3_get_autocommit(s->db))
		return KM_ESTORE;
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : KM_ESTORE;
}

int km_accounts_tx_end(km_store_t *s, int rc)
{
	km__store_tx_t tx = { .nested = 0 };
	return km__store_end(s, &tx, rc);
}

int km__acc_col_text(sqlite3_stmt *st, int col, char *out, size_t len)
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

int km__acc_token_hash(const char *token, char out[65])
{
	if (!token || strnlen(token, 256) >= 256)
		return KM_EINVAL;
	return km_codes_sha256_hex(token, out) ? KM_ECRYPTO : 0;
}

int km__acc_clean_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || i + n > len || c < 0x20 || c == 0x7f || c == 0xc0 || c == 0xc1 || c > 0xf4)
			return 0;
		for (size_t k = 1; k < n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		/* Overlong 3/4-byte forms, surrogates, past U+10FFFF. */
		if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0) ||
		    (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))
			return 0;
		/* C1 control characters (U+0080..U+009F). */
		if (c == 0xc2 && p[i + 1] < 0xa0)
			return 0;
		i += n;
	}
	return 1;
}

/* ---- policy ---- */

static const struct {
	const char *name;
	size_t off;
	long min, max, def;
} fields[] = {
#define F(n, lo, hi, d) { #n, offsetof(km_policy_t, n), lo, hi, d }
	F(min_password_len, 8, 128, 12),
	F(require_2fa, 0, 1, 1),
	F(idle_timeout_min, 1, 240, 15),
	F(session_max_hours, 1, 24, 12),
	F(lockout_failures, 3, 100, 10),
	F(lockout_minutes, 1, 1440, 15),
	F(audit_retention_days, 730, 7300, 1825),
	F(calllog_retention_days, 1, 3650, 90),
	F(consult_max_hours, 1, 24, 24),
	F(full_client_ip, 0, 1, 0),
	F(allow_aes128, 0, 1, 0),
	F(colleagues_wait, 0, 1, 0),
	F(reconsent_on_join, 0, 1, 0),
#undef F
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

void km_policy_defaults(km_policy_t *p)
{
	for (int i = 0; i < NFIELDS; i++)
		*(long *)((char *)p + fields[i].off) = fields[i].def;
}

const char *km_policy_field(km_policy_t *p, int i, long **value, long *min, long *max)
{
	if (i < 0 || i >= NFIELDS)
		return NULL;
	if (value)
		*value = p ? (long *)((char *)p + fields[i].off) : NULL;
	if (min)
		*min = fields[i].min;
	if (max)
		*max = fields[i].max;
	return fields[i].name;
}

int km_policy_set(km_policy_t *p, const char *name, long value, char *err, size_t errlen)
{
	for (int i = 0; name && i < NFIELDS; i++) {
		if (strcmp(name, fields[i].name) != 0)
			continue;
		if (value < fields[i].min || value > fields[i].max)
			return km_errf(KM_EINVAL, err, errlen, "%s must be from %ld to %ld", name, fields[i].min,
				       fields[i].max);
		*(long *)((char *)p + fields[i].off) = value;
		return 0;
	}
	return km_errf(KM_EINVAL, err, errlen, "unknown policy setting '%.64s'", name ? name : "");
}

static int policy_valid(const km_policy_t *p)
{
	for (int i = 0; i < NFIELDS; i++) {
		long v = *(const long *)((const char *)p + fields[i].off);
		if (v < fields[i].min || v > fields[i].max)
			return 0;
	}
	return 1;
}

#define POLICY_COLS                                                                                    \
	"min_password_len, require_2fa, idle_timeout_min, session_max_hours, lockout_failures, "       \
	"lockout_minutes, audit_retention_days, calllog_retention_days, consult_max_hours, "           \
	"full_client_ip, allow_aes128, colleagues_wait, reconsent_on_join"

int km_accounts_policy_get(km_store_t *s, int64_t org_id, km_policy_t *out)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " POLICY_COLS " FROM org_policy WHERE org_id = ?", "i", org_id))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		km_policy_defaults(out);
		for (int i = 0; i < NFIELDS; i++)
			*(long *)((char *)out + fields[i].off) = (long)sqlite3_column_int64(st, i);
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_policy_put(km_store_t *s, int64_t org_id, const km_policy_t *p)
{
	if (!p || !policy_valid(p))
		return KM_EINVAL;
	int changes = 0;
	int rc = km__store_exec(s, &changes,
			      "UPDATE org_policy SET min_password_len = ?, require_2fa = ?, idle_timeout_min = ?, "
			      "session_max_hours = ?, lockout_failures = ?, lockout_minutes = ?, "
			      "audit_retention_days = ?, calllog_retention_days = ?, consult_max_hours = ?, "
			      "full_client_ip = ?, allow_aes128 = ?, colleagues_wait = ?, reconsent_on_join = ? "
			      "WHERE org_id = ?",
			      "llllllllllllli", p->min_password_len, p->require_2fa, p->idle_timeout_min,
			      p->session_max_hours, p->lockout_failures, p->lockout_minutes, p->audit_retention_days,
			      p->calllog_retention_days, p->consult_max_hours, p->full_client_ip, p->allow_aes128,
			      p->colleagues_wait, p->reconsent_on_join, org_id);
	if (rc)
		return rc;
	return changes ? 0 : KM_ENOTFOUND;
}

/* ---- organisations ---- */

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int km_accounts_org_create(km_store_t *s, const char *name, int64_t now, int64_t *id_out)
{
	size_t len = name ? strnlen(name, 101) : 0;
	/* All-digit names are refused: org_find reads them as ids. */
	if (len < 1 || len > 100 || !km__acc_clean_text(name, len) || all_digits(name))
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	rc = km__store_exec(s, NULL, "INSERT INTO orgs (name, created_at) VALUES (?, ?)", "ti", name, now);
	int64_t id = sqlite3_last_insert_rowid(s->db);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "INSERT INTO org_policy (org_id) VALUES (?)", "i", id);
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && id_out)
		*id_out = id;
	return rc;
}

static int org_row(sqlite3_stmt *st, km_org_t *out)
{
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return KM_ENOTFOUND;
	if (step != SQLITE_ROW)
		return KM_ESTORE;
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	out->created_at = sqlite3_column_int64(st, 2);
	return km__acc_col_text(st, 1, out->name, sizeof out->name);
}

int km_accounts_org_get(km_store_t *s, int64_t id, km_org_t *out)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT id, name, created_at FROM orgs WHERE id = ?", "i", id))
		return KM_ESTORE;
	int rc = org_row(st, out);
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_org_find(km_store_t *s, const char *ref, km_org_t *out)
{
	if (!ref || !*ref)
		return KM_EINVAL;
	if (all_digits(ref)) {
		if (strlen(ref) > 18)
			return KM_ENOTFOUND;
		return km_accounts_org_get(s, strtoll(ref, NULL, 10), out);
	}
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT id, name, created_at FROM orgs WHERE name = ?", "t", ref))
		return KM_ESTORE;
	int rc = org_row(st, out);
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_org_list(km_store_t *s, km_org_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT id, name, created_at FROM orgs ORDER BY id", ""))
		return KM_ESTORE;
	km_org_t *list = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			km_org_t *nl = realloc(list, ncap * sizeof *nl);
			if (!nl) {
				rc = KM_ENOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		if ((rc = org_row(st, &list[cnt])))
			break;
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != KM_ENOTFOUND) {
		free(list);
		return rc;
	}
	*out = list;
	*n = cnt;
	return 0;
}

/* ---- users ---- */

static int role_valid(const char *role)
{
	return role && (strcmp(role, "admin") == 0 || strcmp(role, "clinician") == 0);
}

int km_accounts_email_valid(const char *e)
{
	size_t len = e ? strnlen(e, 255) : 0;
	if (len < 3 || len > 254 || !km__acc_clean_text(e, len))
		return 0;
	const char *at = strchr(e, '@');
	if (!at || at == e || at[1] == 0 || strchr(at + 1, '@'))
		return 0;
	for (const char *p = e; *p; p++)
		if (*p == ' ')
			return 0;
	return 1;
}

#define USER_COLS                                                                                      \
	"id, org_id, email, role, pw_hash, totp_secret, totp_pending, totp_last_step, disabled, "      \
	"failed_count, locked_until, created_at, pw_changed_at"

static int blob_col(sqlite3_stmt *st, int col, uint8_t *out, size_t *len)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = b ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (n > KM_SEALED_MAX)
		return KM_ESTORE;
	if (n)
		memcpy(out, b, n);
	*len = n;
	return 0;
}

static int user_row(sqlite3_stmt *st, km_user_t *u)
{
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, 0);
	u->org_id = sqlite3_column_int64(st, 1);
	if (km__acc_col_text(st, 2, u->email, sizeof u->email) || km__acc_col_text(st, 3, u->role, sizeof u->role) ||
	    km__acc_col_text(st, 4, u->pw_hash, sizeof u->pw_hash) ||
	    blob_col(st, 5, u->totp, &u->totp_len) || blob_col(st, 6, u->totp_pending, &u->totp_pending_len))
		return KM_ESTORE;
	u->totp_last_step = sqlite3_column_int64(st, 7);
	u->disabled = sqlite3_column_int64(st, 8) != 0;
	u->failed_count = (long)sqlite3_column_int64(st, 9);
	u->locked_until = sqlite3_column_int64(st, 10);
	u->created_at = sqlite3_column_int64(st, 11);
	u->pw_changed_at = sqlite3_column_int64(st, 12);
	return 0;
}

static int user_row_any(sqlite3_stmt *st, void *e)
{
	return user_row(st, e);
}

static int user_one(km_store_t *s, const char *sql, const char *types, int64_t id, const char *email,
		    km_user_t *out)
{
	sqlite3_stmt *st;
	int rc = *types == 'i' ? km__store_prepare(s, &st, sql, types, id) : km__store_prepare(s, &st, sql, types, email);
	if (rc)
		return rc;
	int step = sqlite3_step(st);
	rc = step == SQLITE_ROW ? user_row(st, out) : step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_user_get(km_store_t *s, int64_t id, km_user_t *out)
{
	return user_one(s, "SELECT " USER_COLS " FROM users WHERE id = ?", "i", id, NULL, out);
}

int km_accounts_user_by_email(km_store_t *s, const char *email, km_user_t *out)
{
	if (!email || strnlen(email, 255) > 254)
		return KM_ENOTFOUND;
	return user_one(s, "SELECT " USER_COLS " FROM users WHERE email = ?", "t", 0, email, out);
}

int km_accounts_user_list(km_store_t *s, int64_t org_id, km_user_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " USER_COLS " FROM users WHERE org_id = ? ORDER BY id", "i", org_id))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_user_t), user_row_any, (void **)out, n);
}

int km_accounts_user_add(km_store_t *s, int64_t org_id, const char *email, const char *role, int64_t now,
			 int64_t *id_out, char setup_token[KM_TOKEN_LEN])
{
	if (!km_accounts_email_valid(email) || !role_valid(role))
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	int64_t id = 0;
	int n = 0;
	rc = km__store_exec(s, &n, "INSERT INTO users (org_id, email, role, created_at) "
				 "SELECT id, ?, ?, ? FROM orgs WHERE id = ?",
			  "ttii", email, role, now, org_id);
	if (rc == 0 && n == 0)
		rc = KM_ENOTFOUND;
	if (rc == 0) {
		id = sqlite3_last_insert_rowid(s->db);
		rc = km__acc_setup_link_put(s, id, now, setup_token);
	}
	rc = km__store_end(s, &tx, rc);
	if (rc) {
		if (setup_token)
			memset(setup_token, 0, KM_TOKEN_LEN);
		return rc;
	}
	if (id_out)
		*id_out = id;
	return 0;
}

int km_accounts_user_set_disabled(km_store_t *s, int64_t id, int disabled)
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), n = 0;
	if (rc)
		return rc;
	rc = km__store_exec(s, &n, "UPDATE users SET disabled = ? WHERE id = ?", "ii", (int64_t)(disabled != 0), id);
	if (rc == 0 && n == 0)
		rc = KM_ENOTFOUND;
	if (rc == 0 && disabled)
		rc = km__acc_sessions_end(s, id, 0);
	return km__store_end(s, &tx, rc);
}

int km_accounts_user_set_role(km_store_t *s, int64_t id, const char *role)
{
	if (!role_valid(role))
		return KM_EINVAL;
	int n = 0;
	int rc = km__store_exec(s, &n, "UPDATE users SET role = ? WHERE id = ?", "ti", role, id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_user_reset_2fa(km_store_t *s, int64_t id)
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), n = 0;
	if (rc)
		return rc;
	rc = km__store_exec(s, &n,
			  "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = 0 WHERE id = ?",
			  "i", id);
	if (rc == 0 && n == 0)
		rc = KM_ENOTFOUND;
	if (rc == 0)
		rc = km__store_exec(s, NULL, "DELETE FROM recovery_codes WHERE user_id = ?", "i", id);
	if (rc == 0)
		rc = km__acc_sessions_end(s, id, 0);
	return km__store_end(s, &tx, rc);
}
