/* accounts_session.c — the sign-in state of accounts in the store
 * (rooms/accounts.h): set-up links, password hashes, failure counting and
 * lockout, TOTP enrolment and replay protection, recovery codes and
 * sessions. Tokens are made here, returned once in clear and stored only
 * as SHA-256. Storage only: callers hash passwords, seal TOTP secrets,
 * check times against the policy and write the audit rows.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/accounts.h"
#include "rooms/accounts_int.h"
#include "rooms/codes.h"

#include <openssl/crypto.h>
#include <string.h>
#include <stdlib.h>

#define SETUP_LINK_SECONDS (24 * 3600)

/* A new token and its hash; the token is wiped on failure. */
static int new_token(char token[KM_TOKEN_LEN], char hash[65])
{
	if (km_codes_token(token, KM_TOKEN_LEN) || km_codes_sha256_hex(token, hash)) {
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
		return KM_ECRYPTO;
	}
	return 0;
}

/* ---- set-up links and passwords ---- */

int km__acc_setup_link_put(km_store_t *s, int64_t user_id, int64_t now, char token[KM_TOKEN_LEN])
{
	char hash[65];
	int rc = new_token(token, hash);
	if (rc)
		return rc;
	/* Expired links of anyone go too: they are never usable again. */
	rc = km__store_exec(s, NULL, "DELETE FROM setup_links WHERE user_id = ? OR expires_at <= ?", "ii", user_id,
			  now);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "INSERT INTO setup_links (hash, user_id, expires_at) VALUES (?, ?, ?)", "tii",
				  hash, user_id, now + SETUP_LINK_SECONDS);
	if (rc)
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
	return rc;
}

int km__acc_sessions_end(km_store_t *s, int64_t user_id, int64_t except_id)
{
	return km__store_exec(s, NULL, "DELETE FROM sessions WHERE user_id = ? AND rowid != ?", "ii", user_id,
			    except_id);
}

int km_accounts_setup_link_new(km_store_t *s, int64_t user_id, int64_t now, char token[KM_TOKEN_LEN])
{
	km_user_t u;
	int rc = km_accounts_user_get(s, user_id, &u);
	if (rc)
		return rc;
	km__store_tx_t tx;
	if ((rc = km__store_begin(s, &tx)))
		return rc;
	rc = km__acc_setup_link_put(s, user_id, now, token);
	return km__store_end(s, &tx, rc);
}

static int link_user(km_store_t *s, const char *hash, int64_t now, int64_t *user_id)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT user_id FROM setup_links WHERE hash = ? AND expires_at > ?", "ti", hash,
			    now))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW)
		*user_id = sqlite3_column_int64(st, 0);
	else
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_setup_link_check(km_store_t *s, const char *token, int64_t now, int64_t *user_id)
{
	char hash[65];
	if (km__acc_token_hash(token, hash))
		return KM_ENOTFOUND;
	return link_user(s, hash, now, user_id);
}

static int pw_hash_valid(const char *h)
{
	size_t n = h ? strnlen(h, sizeof ((km_user_t *)0)->pw_hash) : 0;
	return n > 0 && n < sizeof ((km_user_t *)0)->pw_hash;
}

int km_accounts_setup_link_use(km_store_t *s, const char *token, const char *pw_hash, int64_t now,
			       int64_t *user_id)
{
	char hash[65];
	if (!pw_hash_valid(pw_hash))
		return KM_EINVAL;
	if (km__acc_token_hash(token, hash))
		return KM_ENOTFOUND;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	int64_t uid = 0;
	rc = link_user(s, hash, now, &uid);
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				  "UPDATE users SET pw_hash = ?, pw_changed_at = ?, failed_count = 0, locked_until = 0 "
				  "WHERE id = ?",
				  "tii", pw_hash, now, uid);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "DELETE FROM setup_links WHERE user_id = ?", "i", uid);
	if (rc == 0)
		rc = km__acc_sessions_end(s, uid, 0);
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && user_id)
		*user_id = uid;
	return rc;
}

int km_accounts_set_password(km_store_t *s, int64_t user_id, const char *pw_hash, int64_t now,
			     int64_t keep_session_id)
{
	if (!pw_hash_valid(pw_hash))
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), n = 0;
	if (rc)
		return rc;
	rc = km__store_exec(s, &n, "UPDATE users SET pw_hash = ?, pw_changed_at = ? WHERE id = ?", "tii", pw_hash, now,
			  user_id);
	if (rc == 0 && n == 0)
		rc = KM_ENOTFOUND;
	/* An outstanding set-up link would let someone else set it again. */
	if (rc == 0)
		rc = km__store_exec(s, NULL, "DELETE FROM setup_links WHERE user_id = ?", "i", user_id);
	if (rc == 0)
		rc = km__acc_sessions_end(s, user_id, keep_session_id);
	return km__store_end(s, &tx, rc);
}

int km_accounts_record_failure(km_store_t *s, int64_t user_id, int64_t now, const km_policy_t *p,
			       int *locked_now)
{
	if (locked_now)
		*locked_now = 0;
	if (!p || p->lockout_failures < 1 || p->lockout_minutes < 0)
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	long count = 0;
	if ((rc = km__store_prepare(s, &st, "SELECT failed_count FROM users WHERE id = ?", "i", user_id)) == 0) {
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW)
			count = (long)sqlite3_column_int64(st, 0) + 1;
		else
			rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
		sqlite3_finalize(st);
	}
	int lock = rc == 0 && count >= p->lockout_failures;
	if (rc == 0 && lock)
		rc = km__store_exec(s, NULL, "UPDATE users SET failed_count = 0, locked_until = ? WHERE id = ?", "ii",
				  now + (int64_t)p->lockout_minutes * 60, user_id);
	else if (rc == 0)
		rc = km__store_exec(s, NULL, "UPDATE users SET failed_count = ? WHERE id = ?", "li", count, user_id);
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && locked_now)
		*locked_now = lock;
	return rc;
}

int km_accounts_record_success(km_store_t *s, int64_t user_id)
{
	int n = 0;
	int rc = km__store_exec(s, &n, "UPDATE users SET failed_count = 0 WHERE id = ?", "i", user_id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

/* ---- TOTP and recovery codes ---- */

int km_accounts_totp_set_pending(km_store_t *s, int64_t user_id, const uint8_t *sealed, size_t len)
{
	if (!sealed || len == 0 || len > KM_SEALED_MAX)
		return KM_EINVAL;
	int n = 0;
	int rc = km__store_exec(s, &n, "UPDATE users SET totp_pending = ? WHERE id = ?", "bi", sealed, len, user_id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_totp_activate(km_store_t *s, int64_t user_id, int64_t step)
{
	int n = 0;
	int rc = km__store_exec(s, &n,
			      "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ? "
			      "WHERE id = ? AND totp_pending IS NOT NULL",
			      "ii", step, user_id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_totp_use_step(km_store_t *s, int64_t user_id, int64_t step)
{
	int n = 0;
	int rc = km__store_exec(s, &n,
			      "UPDATE users SET totp_last_step = ? "
			      "WHERE id = ? AND totp_secret IS NOT NULL AND totp_last_step < ?",
			      "iii", step, user_id, step);
	if (rc || n)
		return rc;
	km_user_t u;
	rc = km_accounts_user_get(s, user_id, &u);
	if (rc)
		return rc;
	return u.totp_len ? KM_EPERM : KM_ENOTFOUND;
}

static int hex64(const char *h)
{
	if (!h || strnlen(h, 65) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}

int km_accounts_recovery_set(km_store_t *s, int64_t user_id, char hashes[][65], size_t n)
{
	if ((n && !hashes) || n > 100)
		return KM_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!hex64(hashes[i]))
			return KM_EINVAL;
	km_user_t u;
	int rc = km_accounts_user_get(s, user_id, &u);
	if (rc)
		return rc;
	km__store_tx_t tx;
	if ((rc = km__store_begin(s, &tx)))
		return rc;
	rc = km__store_exec(s, NULL, "DELETE FROM recovery_codes WHERE user_id = ?", "i", user_id);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = km__store_exec(s, NULL, "INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)", "it", user_id,
				  hashes[i]);
	return km__store_end(s, &tx, rc);
}

int km_accounts_recovery_use(km_store_t *s, int64_t user_id, const char *hash, int64_t now)
{
	if (!hex64(hash))
		return KM_ENOTFOUND;
	int n = 0;
	int rc = km__store_exec(s, &n,
			      "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL",
			      "iit", now, user_id, hash);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_recovery_left(km_store_t *s, int64_t user_id, long *left)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", "i",
			    user_id))
		return KM_ESTORE;
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : KM_ESTORE;
	if (rc == 0)
		*left = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

/* ---- sessions ---- */

static int stage_valid(const char *st)
{
	return st && (strcmp(st, "password") == 0 || strcmp(st, "enrol") == 0 || strcmp(st, "full") == 0);
}

/* Copies at most len-1 bytes of in, cut at a character boundary; anything
 * that is not clean UTF-8 text becomes '?'. */
static void cut_text(const char *in, char *out, size_t len)
{
	size_t n = in ? strnlen(in, len - 1) : 0;
	if (n == len - 1 && in[n] != 0)
		while (n > 0 && ((unsigned char)in[n] & 0xc0) == 0x80)
			n--;
	memcpy(out, in ? in : "", n);
	out[n] = 0;
	if (!km__acc_clean_text(out, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
				out[i] = '?';
}

int km_accounts_session_new(km_store_t *s, int64_t user_id, const char *stage, int64_t now, int64_t expires_at,
			    const char *client_ip, const char *user_agent, char token[KM_TOKEN_LEN],
			    int64_t *id_out)
{
	if (!stage_valid(stage))
		return KM_EINVAL;
	char hash[65], ip[sizeof ((km_session_t *)0)->client_ip], ua[sizeof ((km_session_t *)0)->user_agent];
	cut_text(client_ip, ip, sizeof ip);
	cut_text(user_agent, ua, sizeof ua);
	int rc = new_token(token, hash);
	if (rc)
		return rc;
	rc = km__store_exec(s, NULL,
			  "INSERT INTO sessions (id_hash, user_id, stage, created_at, last_seen, expires_at, client_ip, "
			  "user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			  "titiiitt", hash, user_id, stage, now, now, expires_at, ip, ua);
	if (rc) {
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
		return rc;
	}
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(s->db);
	return 0;
}

#define SESSION_COLS "rowid, user_id, stage, created_at, last_seen, expires_at, client_ip, user_agent"

static int session_row(sqlite3_stmt *st, km_session_t *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->user_id = sqlite3_column_int64(st, 1);
	o->created_at = sqlite3_column_int64(st, 3);
	o->last_seen = sqlite3_column_int64(st, 4);
	o->expires_at = sqlite3_column_int64(st, 5);
	if (km__acc_col_text(st, 2, o->stage, sizeof o->stage) ||
	    km__acc_col_text(st, 6, o->client_ip, sizeof o->client_ip) ||
	    km__acc_col_text(st, 7, o->user_agent, sizeof o->user_agent))
		return KM_ESTORE;
	return 0;
}

static int session_row_any(sqlite3_stmt *st, void *e)
{
	return session_row(st, e);
}

int km_accounts_session_get(km_store_t *s, const char *token, km_session_t *out)
{
	char hash[65];
	if (km__acc_token_hash(token, hash))
		return KM_ENOTFOUND;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " SESSION_COLS " FROM sessions WHERE id_hash = ?", "t", hash))
		return KM_ESTORE;
	int step = sqlite3_step(st);
	int rc = step == SQLITE_ROW ? session_row(st, out) : step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km_accounts_session_touch(km_store_t *s, int64_t id, int64_t now)
{
	int n = 0;
	int rc = km__store_exec(s, &n, "UPDATE sessions SET last_seen = ? WHERE rowid = ?", "ii", now, id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_session_promote(km_store_t *s, int64_t id, const char *stage, char token[KM_TOKEN_LEN])
{
	if (!stage_valid(stage))
		return KM_EINVAL;
	char hash[65];
	int rc = new_token(token, hash), n = 0;
	if (rc)
		return rc;
	rc = km__store_exec(s, &n, "UPDATE sessions SET id_hash = ?, stage = ? WHERE rowid = ?", "tti", hash, stage, id);
	if (rc == 0 && n == 0)
		rc = KM_ENOTFOUND;
	if (rc)
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
	return rc;
}

int km_accounts_session_end(km_store_t *s, int64_t id)
{
	int n = 0;
	int rc = km__store_exec(s, &n, "DELETE FROM sessions WHERE rowid = ?", "i", id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_session_end_own(km_store_t *s, int64_t user_id, int64_t id)
{
	int n = 0;
	int rc = km__store_exec(s, &n, "DELETE FROM sessions WHERE rowid = ? AND user_id = ?", "ii", id, user_id);
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}

int km_accounts_session_end_all(km_store_t *s, int64_t user_id, int64_t except_id)
{
	return km__acc_sessions_end(s, user_id, except_id);
}

int km_accounts_session_list(km_store_t *s, int64_t user_id, km_session_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			    "SELECT " SESSION_COLS " FROM sessions WHERE user_id = ? ORDER BY created_at DESC, rowid DESC",
			    "i", user_id))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_session_t), session_row_any, (void **)out, n);
}
