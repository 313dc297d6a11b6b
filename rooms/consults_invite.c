/* consults_invite.c — invitations of a consult in the store
 * (rooms/consults.h): reading them, a new token for one (re-send), revoking
 * one, and recording the outcome of sending its email. Redemption of a
 * link is in consults_part.c. Storage only: the email itself is made and
 * sent elsewhere.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/consults.h"
#include "rooms/consults_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INVITATION_COLS "id, consult_id, kind, email, revoked, redeemed_at, sent_at, send_error"

static int invitation_row(sqlite3_stmt *st, km_invitation_t *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->consult_id = sqlite3_column_int64(st, 1);
	o->revoked = sqlite3_column_int(st, 4);
	o->redeemed_at = sqlite3_column_int64(st, 5);
	o->sent_at = sqlite3_column_int64(st, 6);
	if (km__cons_col_text(st, 2, o->kind, sizeof o->kind) || km__cons_col_text(st, 3, o->email, sizeof o->email) ||
	    km__cons_col_text(st, 7, o->send_error, sizeof o->send_error))
		return KM_ESTORE;
	return 0;
}

static int invitation_row_any(sqlite3_stmt *st, void *e)
{
	return invitation_row(st, e);
}

int km_consults_invitations(km_store_t *s, int64_t consult_id, km_invitation_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " INVITATION_COLS " FROM invitations WHERE consult_id = ? ORDER BY id", "i",
			     consult_id))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_invitation_t), invitation_row_any, (void **)out, n);
}

int km_consults_invitation_get(km_store_t *s, int64_t id, km_invitation_t *out)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " INVITATION_COLS " FROM invitations WHERE id = ?", "i", id))
		return KM_ESTORE;
	int step = sqlite3_step(st);
	int rc = step == SQLITE_ROW ? invitation_row(st, out) : step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

/* Inside a transaction: the invitation's consult, its org and whether the
 * invitation is usable (not revoked, consult not ended). */
static int invitation_ctx(km_store_t *s, int64_t id, int64_t *consult_id, int64_t *org_id, int *usable)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT i.consult_id, c.org_id, i.revoked = 0 AND c.ended_at = 0 "
			     "FROM invitations i JOIN consults c ON c.id = i.consult_id WHERE i.id = ?",
			     "i", id))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		*consult_id = sqlite3_column_int64(st, 0);
		*org_id = sqlite3_column_int64(st, 1);
		*usable = sqlite3_column_int(st, 2);
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

int km_consults_invitation_renew(km_store_t *s, int64_t id, char token[KM_TOKEN_LEN])
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), usable = 0;
	if (rc)
		return rc;
	int64_t consult_id = 0, org_id = 0;
	char hash[65];
	rc = invitation_ctx(s, id, &consult_id, &org_id, &usable);
	if (rc == 0 && !usable)
		rc = KM_EPERM;
	if (rc == 0)
		rc = km__cons_new_token(token, hash);
	/* A new link is to be sent: the old send result no longer applies. */
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "UPDATE invitations SET token_hash = ?, redeemed_at = 0, sent_at = 0, send_error = '' "
				   "WHERE id = ?",
				   "ti", hash, id);
	rc = km__store_end(s, &tx, rc);
	if (rc)
		OPENSSL_cleanse(token, KM_TOKEN_LEN);
	return rc;
}

int km_consults_invitation_revoke(km_store_t *s, int64_t id)
{
	return km_consults_invitation_revoke_at(s, id, (int64_t)time(NULL));
}

int km_consults_invitation_revoke_at(km_store_t *s, int64_t id, int64_t now)
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), usable = 0;
	if (rc)
		return rc;
	int64_t consult_id = 0, org_id = 0;
	rc = invitation_ctx(s, id, &consult_id, &org_id, &usable);
	if (rc == 0)
		rc = km__store_exec(s, NULL, "UPDATE invitations SET revoked = 1, token_hash = NULL WHERE id = ?", "i", id);
	/* Whoever came in with this link is out, and cannot come back by cookie. */
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "INSERT INTO calllog (org_id, consult_id, ts, event, role, pseudonym) "
				   "SELECT ?, consult_id, ?, 'left', kind, pseudonym "
				   "FROM participants WHERE invitation_id = ? AND state NOT IN ('refused', 'left') "
				   "ORDER BY id",
				   "iii", org_id, now, id);
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "UPDATE participants SET cookie_hash = NULL, "
				   "state = CASE WHEN state = 'refused' THEN state ELSE 'left' END "
				   "WHERE invitation_id = ?",
				   "i", id);
	return km__store_end(s, &tx, rc);
}

int km_consults_invitation_sent(km_store_t *s, int64_t id, int64_t now, const char *error_or_null)
{
	char msg[sizeof ((km_invitation_t *)0)->send_error];
	int n = 0, rc;
	if (error_or_null) {
		/* Cut at a character boundary; anything unclean becomes '?'. */
		size_t len = strnlen(error_or_null, sizeof msg - 1);
		while (len > 0 && len < strlen(error_or_null) && ((unsigned char)error_or_null[len] & 0xc0) == 0x80)
			len--;
		memcpy(msg, error_or_null, len);
		msg[len] = 0;
		if (!km__cons_clean_text(msg, len, 0))
			for (size_t i = 0; i < len; i++)
				if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
					msg[i] = '?';
		if (len == 0)
			snprintf(msg, sizeof msg, "sending failed");
		rc = km__store_exec(s, &n, "UPDATE invitations SET send_error = ? WHERE id = ?", "ti", msg, id);
	} else {
		rc = km__store_exec(s, &n, "UPDATE invitations SET sent_at = ?, send_error = '' WHERE id = ?", "ii", now,
				   id);
	}
	return rc ? rc : n ? 0 : KM_ENOTFOUND;
}
