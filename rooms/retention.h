/* retention.h — deletes what an organisation's policy says may go: audit
 * rows older than audit_retention_days (the purge recorded in the chain) and
 * call-log and consent rows older than calllog_retention_days (the purge
 * audited with the number of rows). Used by `kamer serve` (at start and
 * daily) and by `kamer admin purge`. Threading: as the store. */
#ifndef KM_RETENTION_H
#define KM_RETENTION_H

#include "rooms/audit.h"
#include "rooms/store.h"

#include <stdint.h>

typedef struct km_retention_report {
	int64_t orgs, audit_rows, calllog_rows;
} km_retention_report_t;

/* Applies every organisation's retention at time now. actor names who runs
 * it in the audit rows ("system" for the timer, "cli" for the operator).
 * Returns 0 or the first error (the other organisations are still done). */
int km_retention_run(km_store_t *s, km_audit_t *a, int64_t now, const char *actor, km_retention_report_t *rep);

#endif
