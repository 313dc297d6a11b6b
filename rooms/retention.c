/* retention.c — the retention purge of every organisation (retention.h). */
#include "rooms/retention.h"

#include "core/err.h"
#include "core/log.h"
#include "rooms/accounts.h"
#include "rooms/consults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int purge_org(km_store_t *s, km_audit_t *a, const km_org_t *org, int64_t now, const char *actor,
		     km_retention_report_t *rep)
{
	km_policy_t p;
	int64_t removed = 0;
	int rc = km_accounts_policy_get(s, org->id, &p);
	if (rc)
		return rc;
	rc = km_audit_purge(a, org->id, (time_t)(now - p.audit_retention_days * 86400), &removed);
	if (rc)
		return rc;
	rep->audit_rows += removed;
	removed = 0;
	rc = km_consults_calllog_purge(s, org->id, now - p.calllog_retention_days * 86400, &removed);
	if (rc)
		return rc;
	rep->calllog_rows += removed;
	if (removed) {
		char detail[64], obj[32];
		snprintf(detail, sizeof detail, "rows=%lld days=%ld", (long long)removed, p.calllog_retention_days);
		snprintf(obj, sizeof obj, "%lld", (long long)org->id);
		km_audit_event_t ev = { .org_id = org->id, .action = "calllog.purge", .outcome = "success",
					.actor_type = strcmp(actor, "cli") == 0 ? "operator" : "system", .actor_id = actor,
					.actor_role = strcmp(actor, "cli") == 0 ? "operator" : "system",
					.object_type = "calllog", .object_id = obj, .detail = detail };
		rc = km_audit_append(a, &ev, NULL);
	}
	return rc;
}

int km_retention_run(km_store_t *s, km_audit_t *a, int64_t now, const char *actor, km_retention_report_t *rep)
{
	km_org_t *orgs = NULL;
	size_t n = 0;
	memset(rep, 0, sizeof *rep);
	int first = km_accounts_org_list(s, &orgs, &n);
	if (first)
		return first;
	for (size_t i = 0; i < n; i++) {
		int rc = purge_org(s, a, &orgs[i], now, actor, rep);
		if (rc) {
			km_error("retention", "purge_failed", "org=%lld err=%s", (long long)orgs[i].id, km_err_name(rc));
			if (!first)
				first = rc;
			continue;
		}
		rep->orgs++;
	}
	free(orgs);
	if (rep->audit_rows || rep->calllog_rows)
		km_info("retention", "purged", "audit_rows=%lld calllog_rows=%lld", (long long)rep->audit_rows,
			(long long)rep->calllog_rows);
	return first;
}
