/* consults_part.c — participants in the store (rooms/consults.h): the
 * atomic redemption of a link, the browser cookie that brings a participant
 * back, state steps (consent, name, waiting, admitted, refused, left) with
 * their call-log rows, display names and the consent record. Storage only:
 * the WSS protocol decides when to call what.
 *
 * Threading: as the store (one thread per km_store_t); concurrent
 * redemptions from several stores on one database serialise on the write
 * lock (BEGIN IMMEDIATE). */
#include "core/err.h"
#include "rooms/consults.h"
#include "rooms/consults_int.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_COLS                                                                                      \
	"p.id, p.consult_id, p.invitation_id, p.pseudonym, p.kind, p.state, p.display_name, p.other_device, " \
	"p.consent_version, p.created_at"

static int part_row(sqlite3_stmt *st, km_participant_t *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->consult_id = sqlite3_column_int64(st, 1);
	o->invitation_id = sqlite3_column_int64(st, 2);
	o->other_device = sqlite3_column_int(st, 7);
	o->consent_version = sqlite3_column_int64(st, 8);
	o->created_at = sqlite3_column_int64(st, 9);
	if (km__cons_col_text(st, 3, o->pseudonym, sizeof o->pseudonym) ||
	    km__cons_col_text(st, 4, o->kind, sizeof o->kind) || km__cons_col_text(st, 5, o->state, sizeof o->state) ||
	    km__cons_col_text(st, 6, o->display_name, sizeof o->display_name))
		return KM_ESTORE;
	return 0;
}

static int part_row_any(sqlite3_stmt *st, void *e)
{
	return part_row(st, e);
}

/* Steps a prepared participant query expected to give one row. */
static int part_one(sqlite3_stmt *st, km_participant_t *out)
{
	int step = sqlite3_step(st);
	int rc = step == SQLITE_ROW ? part_row(st, out) : step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

static int new_pseudonym(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return KM_ECRYPTO;
	for (size_t i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[16] = 0;
	return 0;
}

/* The invitation a token hash opens now, if any. */
typedef struct redeem_ctx {
	int64_t invitation_id, consult_id, org_id, redeemed_at;
	char kind[12];
} redeem_ctx_t;

static int redeem_find(km_store_t *s, const char *hash, int64_t now, redeem_ctx_t *c)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT i.id, i.consult_id, c.org_id, i.redeemed_at, i.kind "
			     "FROM invitations i JOIN consults c ON c.id = i.consult_id "
			     "WHERE i.token_hash = ? AND i.revoked = 0 AND c.ended_at = 0 AND c.expires_at > ?",
			     "ti", hash, now))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		c->invitation_id = sqlite3_column_int64(st, 0);
		c->consult_id = sqlite3_column_int64(st, 1);
		c->org_id = sqlite3_column_int64(st, 2);
		c->redeemed_at = sqlite3_column_int64(st, 3);
		rc = km__cons_col_text(st, 4, c->kind, sizeof c->kind);
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Inside the transaction: the participant row (a fresh pseudonym, retried
 * on the unlikely collision) and its "joined" call-log row. */
static int redeem_insert(km_store_t *s, const redeem_ctx_t *c, int64_t now, const char *cookie_hash,
			 km_participant_t *p)
{
	memset(p, 0, sizeof *p);
	p->consult_id = c->consult_id;
	p->invitation_id = c->invitation_id;
	p->other_device = c->redeemed_at != 0;
	p->created_at = now;
	snprintf(p->kind, sizeof p->kind, "%s", c->kind);
	snprintf(p->state, sizeof p->state, "%s", strcmp(c->kind, "patient") == 0 ? "consent" : "name");
	int rc = KM_EEXIST;
	for (int tries = 0; rc == KM_EEXIST && tries < 4; tries++) {
		if ((rc = new_pseudonym(p->pseudonym)))
			return rc;
		rc = km__store_exec(s, NULL,
				   "INSERT INTO participants (consult_id, invitation_id, pseudonym, kind, state, "
				   "other_device, cookie_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				   "iitttiti", p->consult_id, p->invitation_id, p->pseudonym, p->kind, p->state,
				   (int64_t)p->other_device, cookie_hash, now);
	}
	if (rc)
		return rc;
	p->id = sqlite3_last_insert_rowid(s->db);
	return km__cons_log(s, c->org_id, c->consult_id, now, "joined", p->kind, p->pseudonym);
}

int km_consults_redeem(km_store_t *s, const char *token, int64_t now, km_participant_t *out,
		       char cookie[KM_TOKEN_LEN])
{
	char hash[65], cookie_hash[65];
	if (km__cons_token_hash(token, hash))
		return KM_ENOTFOUND;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	redeem_ctx_t c;
	km_participant_t p;
	memset(&c, 0, sizeof c);
	if ((rc = redeem_find(s, hash, now, &c)))
		goto out;
	if (c.redeemed_at == 0 &&
	    (rc = km__store_exec(s, NULL, "UPDATE invitations SET redeemed_at = ? WHERE id = ?", "ii",
				now > 0 ? now : 1, c.invitation_id)))
		goto out;
	if ((rc = km__cons_new_token(cookie, cookie_hash)))
		goto out;
	rc = redeem_insert(s, &c, now, cookie_hash, &p);
out:
	rc = km__store_end(s, &tx, rc);
	if (rc) {
		OPENSSL_cleanse(cookie, KM_TOKEN_LEN);
		return rc;
	}
	*out = p;
	return 0;
}

int km_consults_participant_by_cookie(km_store_t *s, const char *cookie, int64_t now, km_participant_t *out)
{
	char hash[65];
	if (km__cons_token_hash(cookie, hash))
		return KM_ENOTFOUND;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT " PART_COLS " FROM participants p JOIN consults c ON c.id = p.consult_id "
			     "JOIN invitations i ON i.id = p.invitation_id "
			     "WHERE p.cookie_hash = ? AND c.ended_at = 0 AND c.expires_at > ? AND i.revoked = 0",
			     "ti", hash, now))
		return KM_ESTORE;
	return part_one(st, out);
}

int km_consults_participant_get(km_store_t *s, int64_t id, km_participant_t *out)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " PART_COLS " FROM participants p WHERE p.id = ?", "i", id))
		return KM_ESTORE;
	return part_one(st, out);
}

int km_consults_participants(km_store_t *s, int64_t consult_id, km_participant_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT " PART_COLS " FROM participants p WHERE p.consult_id = ? ORDER BY p.id",
			     "i", consult_id))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_participant_t), part_row_any, (void **)out, n);
}

/* What a write to a participant needs to know, read inside its transaction. */
typedef struct part_ctx {
	int64_t consult_id, invitation_id, org_id, ended_at;
	char kind[12], pseudonym[17], state[12];
} part_ctx_t;

static int part_ctx(km_store_t *s, int64_t id, part_ctx_t *c)
{
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT p.consult_id, p.invitation_id, c.org_id, c.ended_at, p.kind, p.pseudonym, p.state "
			     "FROM participants p JOIN consults c ON c.id = p.consult_id WHERE p.id = ?",
			     "i", id))
		return KM_ESTORE;
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		c->consult_id = sqlite3_column_int64(st, 0);
		c->invitation_id = sqlite3_column_int64(st, 1);
		c->org_id = sqlite3_column_int64(st, 2);
		c->ended_at = sqlite3_column_int64(st, 3);
		if (km__cons_col_text(st, 4, c->kind, sizeof c->kind) ||
		    km__cons_col_text(st, 5, c->pseudonym, sizeof c->pseudonym) ||
		    km__cons_col_text(st, 6, c->state, sizeof c->state))
			rc = KM_ESTORE;
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

int km_consults_participant_step(km_store_t *s, int64_t id, const char *from, const char *to, int64_t now)
{
	if (!km__cons_state_valid(from) || !km__cons_state_valid(to) || strcmp(from, to) == 0)
		return KM_EINVAL;
	if (strcmp(from, "refused") == 0)
		return KM_EPERM; /* a refusal is final */
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), n = 0;
	if (rc)
		return rc;
	part_ctx_t c;
	if ((rc = part_ctx(s, id, &c)))
		goto out;
	/* After the end only leaving is still recorded. */
	if (c.ended_at && strcmp(to, "left") != 0) {
		rc = KM_EPERM;
		goto out;
	}
	rc = km__store_exec(s, &n, "UPDATE participants SET state = ? WHERE id = ? AND state = ?", "tit", to, id, from);
	if (rc == 0 && n == 0)
		rc = KM_EPERM;
	/* Refused at the door: the link stops working, as after a refused
	 * consent (the clinician may send a new one). */
	if (rc == 0 && strcmp(to, "refused") == 0)
		rc = km__store_exec(s, NULL, "UPDATE invitations SET token_hash = NULL WHERE id = ?", "i",
				   c.invitation_id);
	if (rc == 0)
		rc = km__cons_log(s, c.org_id, c.consult_id, now, to, c.kind, c.pseudonym);
out:
	return km__store_end(s, &tx, rc);
}

int km_consults_set_display_name(km_store_t *s, int64_t id, const char *name)
{
	size_t len = name ? strnlen(name, KM_DISPLAY_NAME_MAX + 1) : 0;
	if (len < 1 || len > KM_DISPLAY_NAME_MAX || !km__cons_clean_text(name, len, 0) ||
	    strspn(name, " ") == len)
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	part_ctx_t c;
	if ((rc = part_ctx(s, id, &c)) == 0 &&
	    (c.ended_at || strcmp(c.state, "refused") == 0 || strcmp(c.state, "left") == 0))
		rc = KM_EPERM;
	if (rc == 0)
		rc = km__store_exec(s, NULL, "UPDATE participants SET display_name = ? WHERE id = ?", "ti", name, id);
	return km__store_end(s, &tx, rc);
}

/* Inside a transaction: 0 if version is the built-in text (0) or one the
 * org stored, else KM_EINVAL. */
static int consent_version_known(km_store_t *s, int64_t org_id, int64_t version)
{
	if (version == 0)
		return 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT version FROM consent_texts WHERE org_id = ? AND version = ?", "ii",
			     org_id, version))
		return KM_ESTORE;
	int64_t v;
	int rc = km__cons_int(st, &v);
	return rc == KM_ENOTFOUND ? KM_EINVAL : rc;
}

int km_consults_consent_record(km_store_t *s, int64_t participant_id, int given, int64_t version, int64_t now)
{
	if ((given != 0 && given != 1) || version < 0)
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	part_ctx_t c;
	if ((rc = part_ctx(s, participant_id, &c)))
		goto out;
	if (c.ended_at || strcmp(c.state, "refused") == 0 || strcmp(c.state, "left") == 0) {
		rc = KM_EPERM;
		goto out;
	}
	if ((rc = consent_version_known(s, c.org_id, version)))
		goto out;
	rc = km__store_exec(s, NULL,
			   "INSERT INTO consents (pseudonym, consult_id, org_id, given, version, ts) "
			   "VALUES (?, ?, ?, ?, ?, ?)",
			   "tiiiii", c.pseudonym, c.consult_id, c.org_id, (int64_t)given, version, now);
	if (rc == 0 && given)
		rc = km__store_exec(s, NULL, "UPDATE participants SET consent_version = ? WHERE id = ?", "ii", version,
				   participant_id);
	/* A refusal ends this invitee's access: the link stops working too
	 * (the clinician may send a new one). */
	if (rc == 0 && !given)
		rc = km__store_exec(s, NULL, "UPDATE participants SET state = 'refused' WHERE id = ?", "i",
				   participant_id);
	if (rc == 0 && !given)
		rc = km__store_exec(s, NULL, "UPDATE invitations SET token_hash = NULL WHERE id = ?", "i",
				   c.invitation_id);
	if (rc == 0)
		rc = km__cons_log(s, c.org_id, c.consult_id, now, given ? "consent_given" : "consent_refused", c.kind,
				  c.pseudonym);
out:
	return km__store_end(s, &tx, rc);
}
