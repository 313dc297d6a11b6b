/* consults_log.c — the records around a consult in the store
 * (rooms/consults.h): versioned consent texts (with kamer's built-in
 * default), sealed chat rows (which live only as long as the room), and
 * the call log with its retention purge. Storage only: chat is sealed and
 * opened by the caller; the purge's audit row is written by the caller.
 *
 * Threading: as the store (one thread per km_store_t). */
#include "core/err.h"
#include "rooms/consults.h"
#include "rooms/consults_int.h"

#include <stdlib.h>
#include <string.h>

#define CONSENT_TEXT_MAX 20000 /* bytes of one language's text */
#define CALLLOG_PAGE_MAX 1000

/* kamer's built-in consent text (version 0), used until an org stores its own. */
static const char default_nl[] =
	"Dit consult is een videogesprek via kamer.\n"
	"Er wordt niets opgenomen: geen beeld en geen geluid.\n"
	"Chatberichten worden verwijderd zodra het consult is afgelopen.\n"
	"U kunt op elk moment stoppen door het venster te sluiten.\n"
	"Gaat u akkoord met een videogesprek op deze manier?";
static const char default_en[] =
	"This consult is a video call through kamer.\n"
	"Nothing is recorded: no video and no sound.\n"
	"Chat messages are deleted as soon as the consult has ended.\n"
	"You can stop at any time by closing the window.\n"
	"Do you agree to a video call in this way?";

/* ---- consent texts ---- */

static int dup_texts(const char *nl, const char *en, char **text_nl, char **text_en)
{
	*text_nl = strdup(nl);
	*text_en = strdup(en);
	if (*text_nl && *text_en)
		return 0;
	free(*text_nl);
	free(*text_en);
	*text_nl = *text_en = NULL;
	return KM_ENOMEM;
}

/* Reads one (version, text_nl, text_en) row of a prepared query. */
static int consent_row(sqlite3_stmt *st, int64_t *version, char **text_nl, char **text_en)
{
	int step = sqlite3_step(st), rc;
	if (step == SQLITE_ROW) {
		const char *nl = (const char *)sqlite3_column_text(st, 1);
		const char *en = (const char *)sqlite3_column_text(st, 2);
		*version = sqlite3_column_int64(st, 0);
		rc = dup_texts(nl ? nl : "", en ? en : "", text_nl, text_en);
	} else {
		rc = step == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
	}
	sqlite3_finalize(st);
	return rc;
}

int km_consults_consent_current(km_store_t *s, int64_t org_id, int64_t *version, char **text_nl, char **text_en)
{
	*text_nl = *text_en = NULL;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT version, text_nl, text_en FROM consent_texts WHERE org_id = ? "
			     "ORDER BY version DESC LIMIT 1",
			     "i", org_id))
		return KM_ESTORE;
	int rc = consent_row(st, version, text_nl, text_en);
	if (rc != KM_ENOTFOUND)
		return rc;
	*version = 0;
	return dup_texts(default_nl, default_en, text_nl, text_en);
}

int km_consults_consent_get(km_store_t *s, int64_t org_id, int64_t version, char **text_nl, char **text_en)
{
	*text_nl = *text_en = NULL;
	if (version == 0)
		return dup_texts(default_nl, default_en, text_nl, text_en);
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT version, text_nl, text_en FROM consent_texts WHERE org_id = ? AND version = ?", "ii",
			     org_id, version))
		return KM_ESTORE;
	int64_t v;
	return consent_row(st, &v, text_nl, text_en);
}

static int consent_text_valid(const char *t)
{
	size_t len = t ? strnlen(t, CONSENT_TEXT_MAX + 1) : 0;
	return len > 0 && len <= CONSENT_TEXT_MAX && km__cons_clean_text(t, len, 1);
}

int km_consults_consent_put(km_store_t *s, int64_t org_id, const char *text_nl, const char *text_en, int64_t now,
			    int64_t *version)
{
	if (!consent_text_valid(text_nl) || !consent_text_valid(text_en))
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx);
	if (rc)
		return rc;
	sqlite3_stmt *st;
	int64_t v = 0;
	if ((rc = km__store_prepare(s, &st, "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_texts WHERE org_id = ?",
				   "i", org_id)) == 0 &&
	    (rc = km__cons_int(st, &v)) == KM_ENOTFOUND)
		rc = KM_ESTORE;
	if (rc == 0)
		rc = km__store_exec(s, NULL,
				   "INSERT INTO consent_texts (org_id, version, text_nl, text_en, created_at) "
				   "VALUES (?, ?, ?, ?, ?)",
				   "iitti", org_id, v, text_nl, text_en, now);
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && version)
		*version = v;
	return rc;
}

/* ---- chat ---- */

int km_consults_chat_add(km_store_t *s, int64_t consult_id, const char *sender, const uint8_t *sealed, size_t len,
			 int64_t now, int64_t *id_out)
{
	size_t slen = sender ? strnlen(sender, sizeof ((km_chat_row_t *)0)->sender) : 0;
	if (slen < 1 || slen >= sizeof ((km_chat_row_t *)0)->sender || !km__cons_clean_text(sender, slen, 0) ||
	    !sealed || len == 0 || len > sizeof ((km_chat_row_t *)0)->sealed)
		return KM_EINVAL;
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), n = 0;
	if (rc)
		return rc;
	/* Only into an open room: after the end nothing of the chat may appear. */
	rc = km__store_exec(s, &n,
			   "INSERT INTO chat (consult_id, sender, ts, sealed) "
			   "SELECT id, ?, ?, ? FROM consults WHERE id = ? AND ended_at = 0",
			   "tibi", sender, now, sealed, len, consult_id);
	int64_t id = sqlite3_last_insert_rowid(s->db);
	if (rc == 0 && n == 0) {
		km_consult_t c;
		rc = km_consults_get(s, consult_id, &c);
		if (rc == 0)
			rc = KM_EPERM;
	}
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && id_out)
		*id_out = id;
	return rc;
}

static int chat_row(sqlite3_stmt *st, km_chat_row_t *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->ts = sqlite3_column_int64(st, 2);
	const void *b = sqlite3_column_blob(st, 3);
	size_t n = b ? (size_t)sqlite3_column_bytes(st, 3) : 0;
	if (n > sizeof o->sealed)
		return KM_ESTORE;
	if (n)
		memcpy(o->sealed, b, n);
	o->sealed_len = n;
	return km__cons_col_text(st, 1, o->sender, sizeof o->sender);
}

static int chat_row_any(sqlite3_stmt *st, void *e)
{
	return chat_row(st, e);
}

int km_consults_chat_list(km_store_t *s, int64_t consult_id, km_chat_row_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st, "SELECT id, sender, ts, sealed FROM chat WHERE consult_id = ? ORDER BY id", "i",
			     consult_id))
		return KM_ESTORE;
	return km__store_collect(st, sizeof(km_chat_row_t), chat_row_any, (void **)out, n);
}

/* ---- call log ---- */

int km_consults_calllog(km_store_t *s, int64_t org_id, int64_t after_id, int limit, km_calllog_row_t **out,
			size_t *n)
{
	*out = NULL;
	*n = 0;
	if (limit < 1)
		return KM_EINVAL;
	if (limit > CALLLOG_PAGE_MAX)
		limit = CALLLOG_PAGE_MAX;
	km_calllog_row_t *list = calloc((size_t)limit, sizeof *list);
	if (!list)
		return KM_ENOMEM;
	sqlite3_stmt *st;
	if (km__store_prepare(s, &st,
			     "SELECT id, consult_id, ts, event, role, pseudonym FROM calllog "
			     "WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
			     "iii", org_id, after_id, (int64_t)limit)) {
		free(list);
		return KM_ESTORE;
	}
	size_t cnt = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW && cnt < (size_t)limit) {
		km_calllog_row_t *r = &list[cnt];
		r->id = sqlite3_column_int64(st, 0);
		r->consult_id = sqlite3_column_int64(st, 1);
		r->ts = sqlite3_column_int64(st, 2);
		if ((rc = km__cons_col_text(st, 3, r->event, sizeof r->event)) ||
		    (rc = km__cons_col_text(st, 4, r->role, sizeof r->role)) ||
		    (rc = km__cons_col_text(st, 5, r->pseudonym, sizeof r->pseudonym)))
			break;
		cnt++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = KM_ESTORE;
	sqlite3_finalize(st);
	if (rc) {
		free(list);
		return rc;
	}
	*out = list;
	*n = cnt;
	return 0;
}

int km_consults_calllog_purge(km_store_t *s, int64_t org_id, int64_t before, int64_t *removed)
{
	km__store_tx_t tx;
	int rc = km__store_begin(s, &tx), a = 0, b = 0;
	if (rc)
		return rc;
	rc = km__store_exec(s, &a, "DELETE FROM calllog WHERE org_id = ? AND ts < ?", "ii", org_id, before);
	/* The consent record goes with the call log (same retention). */
	if (rc == 0)
		rc = km__store_exec(s, &b, "DELETE FROM consents WHERE org_id = ? AND ts < ?", "ii", org_id, before);
	rc = km__store_end(s, &tx, rc);
	if (rc == 0 && removed)
		*removed = (int64_t)a + b;
	return rc;
}
