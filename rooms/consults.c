/* consults.c — consults in the store (rooms/consults.h): creation with the
 * invitations and their tokens, reads, the end of a consult (which wipes
 * every piece of personal data and secret the room held) and the expiry
 * query. Invitations, participants, consent, chat and the call log live in
 * the other consults_*.c files. Storage only: no audit rows, no email.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/consults.h"
#include "rooms/consults_int.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define HARD_MAX_HOURS 24
#define ROOM_KEY_SEALED_MAX 256

static int kind_valid(const char *k)
{
	return k && (strcmp(k, "patient") == 0 || strcmp(k, "colleague") == 0);
}

/* Everything km_consults_create refuses before touching the store. */
static int create_args_valid(const char *label, int64_t starts_at, int64_t expires_at, int64_t now,
			     long max_hours, const char *const *emails, const char *const *kinds, size_t n,
			     const uint8_t *sealed, size_t sealed_len)
{
	if (max_hours < 1)
		return 0;
	if (max_hours > HARD_MAX_HOURS)
		max_hours = HARD_MAX_HOURS;
	if (expires_at <= now || expires_at > now + (int64_t)max_hours * 3600 || starts_at > expires_at)
		return 0;
	size_t llen = label ? strnlen(label, KM_CONSULT_LABEL_MAX + 1) : 0;
	if (llen > KM_CONSULT_LABEL_MAX || !km__cons_clean_text(label ? label : "", llen, 0))
		return 0;
	if (n < 1 || n > KM_CONSULT_MAX_INVITEES || !emails || !kinds)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!km_accounts_email_valid(emails[i]) || !kind_valid(kinds[i]))
			return 0;
	return sealed && sealed_len > 0 && sealed_len <= ROOM_KEY_SEALED_MAX;
}

/* Inside the transaction: the clinician must be a user of org_id. */
static int clinician_in_org(km_store_t *s, int64_t org_id, int64_t clinician_id)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT org_id FROM users WHERE id = ?", "i", clinician_id))
		return KM_ESTORE;
	int64_t org = 0;
	int rc = km__cons_int(st, &org);
	return rc ? rc : org == org_id ? 0 : KM_ENOTFOUND;
}

int km_consults_create(km_store_t *s, int64_t org_id, int64_t clinician_id, const char *label,
		       int64_t starts_at, int64_t expires_at, int64_t now, long max_hours,
		       const char *const *emails, const char *const *kinds, size_t n,
		       const uint8_t *room_key_sealed, size_t sealed_len, int64_t *id_out,
		       int64_t *invitation_ids, char tokens[][KM_TOKEN_LEN])
{
	if (!tokens || !create_args_valid(label, starts_at, expires_at, now, max_hours, emails, kinds, n,
					  room_key_sealed, sealed_len))
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	size_t made = 0;
	int64_t id = 0;
	if ((rc = clinician_in_org(s, org_id, clinician_id)))
		goto out;
	rc = km__store_exec(s, NULL,
			   "INSERT INTO consults (org_id, clinician_id, label, starts_at, expires_at, created_at, room_key) "
			   "VALUES (?, ?, ?, ?, ?, ?, ?)",
			   "iitiiib", org_id, clinician_id, label ? label : "", starts_at, expires_at, now,
			   room_key_sealed, sealed_len);
	if (rc)
		goto out;
	id = sqlite3_last_insert_rowid(s->db);
	for (; made < n; made++) {
		char hash[65];
		if ((rc = km__cons_new_token(tokens[made], hash)))
			goto out;
		rc = km__store_exec(s, NULL,
				   "INSERT INTO invitations (consult_id, kind, email, token_hash, created_at) "
				   "VALUES (?, ?, ?, ?, ?)",
				   "ittti", id, kinds[made], emails[made], hash, now);
		if (rc) {
			made++; /* this token is wiped below too */
			goto out;
		}
		if (invitation_ids)
			invitation_ids[made] = sqlite3_last_insert_rowid(s->db);
	}
	rc = km__cons_log(s, org_id, id, now, "created", "clinician", "");
out:
	rc = km__store_end(s, &tx, rc);
	if (rc) {
		for (size_t i = 0; i < made && i < n; i++)
			OPENSSL_cleanse(tokens[i], KM_TOKEN_LEN);
		return rc;
	}
	if (id_out)
		*id_out = id;
	return 0;
}

#define CONSULT_COLS "id, org_id, clinician_id, label, starts_at, expires_at, created_at, ended_at"

static int consult_row(sqlite3_stmt *st, km_consult_t *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->org_id = sqlite3_column_int64(st, 1);
	o->clinician_id = sqlite3_column_int64(st, 2);
	o->starts_at = sqlite3_column_int64(st, 4);
	o->expires_at = sqlite3_column_int64(st, 5);
	o->created_at = sqlite3_column_int64(st, 6);
	o->ended_at = sqlite3_column_int64(st, 7);
	return km__cons_col_text(st, 3, o->label, sizeof o->label);
}

static int consult_row_any(sqlite3_stmt *st, void *e)
{
	return consult_row(st, e);
}

int km_consults_get(km_store_t *s, int64_t id, km_consult_t *out)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " CONSULT_COLS " FROM consults WHERE id = ?", "i", id))
		return KM_ESTORE;
	int step = sqlite3_step(st);
	int rc = step == SQLITE_ROW ? consult_row(st, out) : step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

int km_consults_room_key(km_store_t *s, int64_t id, uint8_t *out, size_t cap, size_t *len)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT room_key FROM consults WHERE id = ? AND ended_at = 0 AND room_key IS NOT NULL", "i",
			     id))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		size_t n = b ? (size_t)sqlite3_column_bytes(st, 0) : 0;
		if (n > cap || !out)
			rc = KM_ETOOBIG;
		else if (n)
			memcpy(out, b, n);
		if (rc == 0 && len)
			*len = n;
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

int km_consults_list(km_store_t *s, int64_t clinician_id, int include_ended, km_consult_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT " CONSULT_COLS " FROM consults WHERE clinician_id = ? AND (? OR ended_at = 0) "
			     "ORDER BY created_at DESC, id DESC",
			     "ii", clinician_id, (int64_t)(include_ended != 0)))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_consult_t), consult_row_any, (void **)out, n);
}

int km_consults_count_open(km_store_t *s, int64_t org_id, int64_t now, long *count)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT count(*) FROM consults WHERE org_id = ? AND ended_at = 0 AND expires_at > ?",
			     "ii", org_id, now))
		return KM_ESTORE;
	int64_t c = 0;
	int rc = km__cons_int(st, &c);
	if (rc == 0)
		*count = (long)c;
	return rc == KM_ENOTFOUND ? KM_ESTORE : rc;
}

static int active_row(sqlite3_stmt *st, void *e)
{
	km_consult_active_t *a = e;
	a->starts_at = sqlite3_column_int64(st, 0);
	a->started_at = sqlite3_column_int64(st, 1);
	const unsigned char *email = sqlite3_column_text(st, 2);
	snprintf(a->clinician, sizeof a->clinician, "%s", email ? (const char *)email : "");
	a->in_call = sqlite3_column_int(st, 3);
	a->waiting = sqlite3_column_int(st, 4);
	return 0;
}

int km_consults_active(km_store_t *s, int64_t org_id, int64_t now, km_consult_active_t **out, size_t *n)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT c.starts_at, "
			     "COALESCE((SELECT min(l.ts) FROM calllog l WHERE l.org_id = c.org_id "
			     "AND l.consult_id = c.id AND l.event = 'admitted'), 0), u.email, "
			     "(SELECT count(*) FROM participants p WHERE p.consult_id = c.id AND p.state = 'admitted'), "
			     "(SELECT count(*) FROM participants p WHERE p.consult_id = c.id AND p.state = 'waiting') "
			     "FROM consults c JOIN users u ON u.id = c.clinician_id "
			     "WHERE c.org_id = ? AND c.ended_at = 0 AND c.expires_at > ? "
			     "ORDER BY c.starts_at, c.id LIMIT ?",
			     "iii", org_id, now, (int64_t)KM_CONSULT_ACTIVE_MAX))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_consult_active_t), active_row, (void **)out, n);
}

/* Inside the transaction: everyone still in the room leaves, each with a
 * call-log row. */
static int end_participants(km_store_t *s, int64_t org_id, int64_t id, int64_t now)
{
	int rc = km__store_exec(s, NULL,
			       "INSERT INTO calllog (org_id, consult_id, ts, event, role, pseudonym) "
			       "SELECT ?, consult_id, ?, 'left', kind, pseudonym FROM participants "
			       "WHERE consult_id = ? AND state NOT IN ('refused', 'left') ORDER BY id",
			       "iii", org_id, now, id);
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "UPDATE participants SET state = 'left' "
				   "WHERE consult_id = ? AND state NOT IN ('refused', 'left')",
				   "i", id);
	return rc;
}

int km_consults_end(km_store_t *s, int64_t id, int64_t now)
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	int64_t org_id = 0, ended_at = 0;
	if ((rc = km__store_prepare(s, &st, "SELECT org_id, ended_at FROM consults WHERE id = ?", "i", id)))
		goto out;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		org_id = sqlite3_column_int64(st, 0);
		ended_at = sqlite3_column_int64(st, 1);
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	if (rc || ended_at)
		goto out; /* already ended: nothing left to wipe (idempotent) */
	if (now <= 0)
		now = 1; /* ended_at 0 means open */
	if ((rc = end_participants(s, org_id, id, now)))
		goto out;
	rc = km__store_exec(s, NULL, "UPDATE consults SET ended_at = ?, room_key = NULL WHERE id = ?", "ii", now, id);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "UPDATE invitations SET email = NULL, token_hash = NULL WHERE consult_id = ?",
				   "i", id);
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "UPDATE participants SET cookie_hash = NULL, display_name = NULL WHERE consult_id = ?",
				   "i", id);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "DELETE FROM chat WHERE consult_id = ?", "i", id);
	if (rc == 0)
		rc = km__cons_log(s, org_id, id, now, "ended", "consult", "");
out:
	return km__store_end(s, &tx, rc);
}

int km_consults_expired(km_store_t *s, int64_t now, int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT id FROM consults WHERE ended_at = 0 AND expires_at <= ? ORDER BY id", "i",
			     now))
		return KM_ESTORE;
	int64_t *list = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *nl = realloc(list, ncap * sizeof *nl);
			if (!nl) {
				rc = KM_ENOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		list[cnt++] = sqlite3_column_int64(st, 0);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = KM_ESTORE;
	sqlite3_finalize(st);
	if (rc) {
		free(list);
		return rc;
	}
	*ids = list;
	*n = cnt;
	return 0;
}
