/* consults_reconsent.c — patients who owe a new consent because someone new
 * was admitted (consults.h, org policy reconsent_on_join). */
#include "core/err.h"
#include "rooms/consults.h"
#include "rooms/store_int.h"

static int run(km_store_t *s, const char *sql, int64_t a, int64_t b, int nargs, long *changes)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, a);
	if (nargs > 1)
		sqlite3_bind_int64(st, 2, b);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (changes)
		*changes = sqlite3_changes(s->db);
	return rc == SQLITE_DONE ? 0 : KM_ESTORE;
}

int km_consults_reconsent_mark(km_store_t *s, int64_t consult_id, int64_t except, long *marked)
{
	return run(s,
		   "UPDATE participants SET reconsent_pending = 1 WHERE consult_id = ? AND id != ? "
		   "AND state = 'admitted' AND kind = 'patient'",
		   consult_id, except, 2, marked);
}

int km_consults_reconsent_clear(km_store_t *s, int64_t participant_id)
{
	return run(s, "UPDATE participants SET reconsent_pending = 0 WHERE id = ?", participant_id, 0, 1, NULL);
}

int km_consults_reconsent_pending(km_store_t *s, int64_t participant_id, int *pending)
{
	sqlite3_stmt *st;
	*pending = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT reconsent_pending FROM participants WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return KM_ESTORE;
	sqlite3_bind_int64(st, 1, participant_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*pending = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KM_ENOTFOUND : KM_ESTORE;
}
