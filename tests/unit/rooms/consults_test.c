/* consults_test.c — the consult store (rooms/consults.h) in a real SQLite
 * database in a temporary folder: creation limits, atomic redemption (also
 * from 8 threads with their own stores), participant steps, consent, chat,
 * the end of a consult and what it wipes, re-send and revoke, expiry, the
 * call log and consent text versions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "rooms/accounts.h"
#include "rooms/consults.h"
#include "rooms/store.h"
#include "rooms/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000
#define HOUR 3600

static const uint8_t sealed_key[60] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

typedef struct {
	char dir[256], db[300];
	km_store_t *s;
	int64_t org, org2, doc, doc2;
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	char err[256], tok[KM_TOKEN_LEN];
	snprintf(f->dir, sizeof f->dir, "/tmp/kamer-consults-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/kamer.db", f->dir);
	if (km_store_open(f->db, &f->s, err, sizeof err) != 0)
		return -1;
	if (km_accounts_org_create(f->s, "Huisartsen Noord", T0, &f->org) ||
	    km_accounts_org_create(f->s, "Kliniek Zuid", T0, &f->org2) ||
	    km_accounts_user_add(f->s, f->org, "dokter@example.org", "clinician", T0, &f->doc, tok) ||
	    km_accounts_user_add(f->s, f->org2, "arts@example.org", "clinician", T0, &f->doc2, tok))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_t *f = *state;
	char cmd[400];
	km_store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static long count_rows(fx_t *f, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->s->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A consult of f->doc from T0 for 2 h with n invitees (patient first, then
 * colleagues); returns its id, tokens and invitation ids. */
static int64_t make_consult(fx_t *f, size_t n, char tokens[][KM_TOKEN_LEN], int64_t *inv)
{
	const char *emails[] = { "pat@example.org", "col@example.org", "c3@example.org", "c4@example.org" };
	const char *kinds[] = { "patient", "colleague", "colleague", "colleague" };
	int64_t id = 0;
	assert_true(n <= 4);
	assert_int_equal(km_consults_create(f->s, f->org, f->doc, "spreekuur 14:00", T0, T0 + 2 * HOUR, T0, 24, emails,
					    kinds, n, sealed_key, sizeof sealed_key, &id, inv, tokens),
			 0);
	return id;
}

static void test_create_limits(void **state)
{
	fx_t *f = *state;
	const char *emails[9] = { "a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org",
				  "f@example.org", "g@example.org", "h@example.org", "i@example.org" };
	const char *kinds[9] = { "patient", "colleague", "colleague", "colleague", "colleague",
				 "colleague", "colleague", "colleague", "colleague" };
	const char *bad_email[] = { "not-an-email" };
	const char *bad_kind[] = { "doctor" };
	char tok[9][KM_TOKEN_LEN];
	int64_t id = 0, inv[9];
	const uint8_t *k = sealed_key;
	size_t kl = sizeof sealed_key;
#define CREATE(label, st, ex, maxh, em, ki, n) \
	km_consults_create(f->s, f->org, f->doc, label, st, ex, T0, maxh, em, ki, n, k, kl, &id, inv, tok)
	/* Expiry: past 24 h, past the org maximum, in the past or now, before the start. */
	assert_int_equal(CREATE("", T0, T0 + 24 * HOUR + 1, 24, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + 24 * HOUR + 1, 48, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + 4 * HOUR + 1, 4, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0 - HOUR, T0 - 1, 24, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0, 24, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0 + 3 * HOUR, T0 + 2 * HOUR, 24, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + HOUR, 0, emails, kinds, 1), KM_EINVAL);
	/* Invitees: 0 or 9, a bad email, a bad kind. */
	assert_int_equal(CREATE("", T0, T0 + HOUR, 24, emails, kinds, 0), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + HOUR, 24, emails, kinds, 9), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + HOUR, 24, bad_email, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("", T0, T0 + HOUR, 24, emails, bad_kind, 1), KM_EINVAL);
	/* Label: too long, control characters. */
	char longlabel[KM_CONSULT_LABEL_MAX + 2];
	memset(longlabel, 'x', sizeof longlabel - 1);
	longlabel[sizeof longlabel - 1] = 0;
	assert_int_equal(CREATE(longlabel, T0, T0 + HOUR, 24, emails, kinds, 1), KM_EINVAL);
	assert_int_equal(CREATE("a\nb", T0, T0 + HOUR, 24, emails, kinds, 1), KM_EINVAL);
	/* No room key; a clinician of another org. */
	assert_int_equal(km_consults_create(f->s, f->org, f->doc, "", T0, T0 + HOUR, T0, 24, emails, kinds, 1, NULL, 0,
					    &id, inv, tok),
			 KM_EINVAL);
	assert_int_equal(km_consults_create(f->s, f->org, f->doc2, "", T0, T0 + HOUR, T0, 24, emails, kinds, 1, k, kl,
					    &id, inv, tok),
			 KM_ENOTFOUND);
	/* Nothing was written by any refusal. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consults"), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM invitations"), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog"), 0);

	/* The limits themselves are allowed: 24 h, 8 invitees, an 80-byte label. */
	longlabel[KM_CONSULT_LABEL_MAX] = 0;
	assert_int_equal(CREATE(longlabel, T0, T0 + 24 * HOUR, 48, emails, kinds, 8), 0);
	assert_int_equal(CREATE(NULL, T0 + HOUR, T0 + 4 * HOUR, 4, emails, kinds, 1), 0);
#undef CREATE
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consults"), 2);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM invitations"), 9);
}

static void test_create_and_read(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN];
	int64_t inv[2];
	int64_t id = make_consult(f, 2, tok, inv);
	assert_int_equal(strlen(tok[0]), 43);
	assert_string_not_equal(tok[0], tok[1]);
	/* Only the hash is stored. */
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM invitations WHERE token_hash = '%s'", tok[0]);
	assert_int_equal(count_rows(f, sql), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM invitations WHERE length(token_hash) = 64"), 2);

	km_consult_t c;
	assert_int_equal(km_consults_get(f->s, id, &c), 0);
	assert_int_equal(c.org_id, f->org);
	assert_int_equal(c.clinician_id, f->doc);
	assert_string_equal(c.label, "spreekuur 14:00");
	assert_int_equal(c.expires_at, T0 + 2 * HOUR);
	assert_int_equal(c.ended_at, 0);
	assert_int_equal(km_consults_get(f->s, id + 100, &c), KM_ENOTFOUND);

	uint8_t key[128];
	size_t kl = 0;
	assert_int_equal(km_consults_room_key(f->s, id, key, sizeof key, &kl), 0);
	assert_int_equal(kl, sizeof sealed_key);
	assert_memory_equal(key, sealed_key, kl);
	assert_int_equal(km_consults_room_key(f->s, id, key, 10, &kl), KM_ETOOBIG);

	km_invitation_t *iv;
	size_t n;
	assert_int_equal(km_consults_invitations(f->s, id, &iv, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(iv[0].id, inv[0]);
	assert_string_equal(iv[0].kind, "patient");
	assert_string_equal(iv[0].email, "pat@example.org");
	assert_string_equal(iv[1].kind, "colleague");
	assert_int_equal(iv[1].redeemed_at, 0);
	assert_int_equal(iv[1].sent_at, 0);
	free(iv);

	/* Sending outcome. */
	km_invitation_t one;
	assert_int_equal(km_consults_invitation_sent(f->s, inv[0], T0 + 5, "smtp: 554 \x01refused"), 0);
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &one), 0);
	assert_int_equal(one.sent_at, 0);
	assert_string_equal(one.send_error, "smtp: 554 ?refused");
	assert_int_equal(km_consults_invitation_sent(f->s, inv[0], T0 + 9, NULL), 0);
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &one), 0);
	assert_int_equal(one.sent_at, T0 + 9);
	assert_string_equal(one.send_error, "");
	assert_int_equal(km_consults_invitation_sent(f->s, 9999, T0, NULL), KM_ENOTFOUND);

	/* List: newest first; ended ones only on request. */
	int64_t id2 = make_consult(f, 1, tok, inv);
	km_consult_t *list;
	assert_int_equal(km_consults_list(f->s, f->doc, 0, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, id2);
	free(list);
	assert_int_equal(km_consults_end(f->s, id, T0 + 60), 0);
	assert_int_equal(km_consults_list(f->s, f->doc, 0, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, id2);
	free(list);
	assert_int_equal(km_consults_list(f->s, f->doc, 1, &list, &n), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(km_consults_list(f->s, f->doc2, 1, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
}

static void test_redeem(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN], cookie[KM_TOKEN_LEN], cookie2[KM_TOKEN_LEN];
	int64_t inv[2];
	int64_t id = make_consult(f, 2, tok, inv);
	km_participant_t p, q, r;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 10, &p, cookie), 0);
	assert_int_equal(p.consult_id, id);
	assert_int_equal(p.invitation_id, inv[0]);
	assert_string_equal(p.kind, "patient");
	assert_string_equal(p.state, "consent");
	assert_int_equal(p.other_device, 0);
	assert_int_equal(strlen(p.pseudonym), 16);
	assert_int_equal(strspn(p.pseudonym, "0123456789abcdef"), 16);
	assert_int_equal(strlen(cookie), 43);
	/* The same link again (another browser): flagged. */
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 20, &q, cookie2), 0);
	assert_int_equal(q.other_device, 1);
	assert_string_not_equal(q.pseudonym, p.pseudonym);
	assert_string_not_equal(cookie, cookie2);
	km_invitation_t iv;
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &iv), 0);
	assert_int_equal(iv.redeemed_at, T0 + 10);
	/* A colleague starts with the name step. */
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 30, &r, cookie2), 0);
	assert_string_equal(r.kind, "colleague");
	assert_string_equal(r.state, "name");
	assert_int_equal(r.other_device, 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE event = 'joined'"), 3);

	/* Unknown tokens, and garbage, are alike. */
	char unknown[KM_TOKEN_LEN];
	memcpy(unknown, tok[0], sizeof unknown);
	unknown[0] = unknown[0] == 'A' ? 'B' : 'A';
	assert_int_equal(km_consults_redeem(f->s, unknown, T0, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_redeem(f->s, "", T0, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_redeem(f->s, NULL, T0, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_redeem(f->s, "short'; DROP TABLE consults; --", T0, &p, cookie), KM_ENOTFOUND);
	/* Expired (at expires_at exactly), then revoked, then ended. */
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 2 * HOUR, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_invitation_revoke_at(f->s, inv[1], T0 + 40), 0);
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 50, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_end(f->s, id, T0 + 60), 0);
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 70, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM participants"), 3);
}

/* ---- 8 threads, 8 stores, one token ---- */

typedef struct {
	const char *db, *token;
	pthread_barrier_t *go;
	int rc, other_device;
} racer_t;

static void *racer(void *arg)
{
	racer_t *r = arg;
	km_store_t *s = NULL;
	char err[256], cookie[KM_TOKEN_LEN];
	km_participant_t p;
	int open_rc = km_store_open(r->db, &s, err, sizeof err);
	pthread_barrier_wait(r->go);
	if (open_rc) {
		r->rc = open_rc;
		return NULL;
	}
	r->rc = km_consults_redeem(s, r->token, T0 + 5, &p, cookie);
	r->other_device = r->rc == 0 ? p.other_device : -1;
	km_store_close(s);
	return NULL;
}

static void test_redeem_concurrent(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN];
	int64_t inv[1];
	int64_t id = make_consult(f, 1, tok, inv);
	enum { N = 8 };
	pthread_t th[N];
	racer_t r[N];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N);
	for (int i = 0; i < N; i++) {
		r[i] = (racer_t){ .db = f->db, .token = tok[0], .go = &go, .rc = -100 };
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r[i]), 0);
	}
	int firsts = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].rc, 0);
		firsts += r[i].other_device == 0;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(firsts, 1);
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM participants WHERE consult_id = %lld AND other_device = 0",
		 (long long)id);
	assert_int_equal(count_rows(f, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM participants WHERE consult_id = %lld", (long long)id);
	assert_int_equal(count_rows(f, sql), N);
}

static void test_steps(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN], cookie[KM_TOKEN_LEN];
	int64_t inv[2];
	make_consult(f, 2, tok, inv);
	km_participant_t p, q;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 1, &p, cookie), 0);
	/* Out of order: nothing changes. */
	assert_int_equal(km_consults_participant_step(f->s, p.id, "waiting", "admitted", T0 + 2), KM_EPERM);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "name", "waiting", T0 + 2), KM_EPERM);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "consent", "bogus", T0 + 2), KM_EINVAL);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "consent", "consent", T0 + 2), KM_EINVAL);
	assert_int_equal(km_consults_participant_step(f->s, p.id + 99, "consent", "name", T0 + 2), KM_ENOTFOUND);
	assert_int_equal(km_consults_participant_get(f->s, p.id, &q), 0);
	assert_string_equal(q.state, "consent");
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE event NOT IN ('created', 'joined')"), 0);
	/* In order. */
	assert_int_equal(km_consults_participant_step(f->s, p.id, "consent", "name", T0 + 3), 0);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, "Jan de Vries"), 0);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, ""), KM_EINVAL);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, "tab\there"), KM_EINVAL);
	char longname[KM_DISPLAY_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	assert_int_equal(km_consults_set_display_name(f->s, p.id, longname), KM_EINVAL);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "name", "waiting", T0 + 4), 0);
	/* A second admit of the same person, racing: only one wins. */
	assert_int_equal(km_consults_participant_step(f->s, p.id, "waiting", "admitted", T0 + 5), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "waiting", "admitted", T0 + 5), KM_EPERM);
	assert_int_equal(km_consults_participant_get(f->s, p.id, &q), 0);
	assert_string_equal(q.state, "admitted");
	assert_string_equal(q.display_name, "Jan de Vries");
	km_consult_active_t *act;
	size_t na;
	assert_int_equal(km_consults_active(f->s, f->org, T0 + 5, &act, &na), 0);
	assert_int_equal(na, 1);
	assert_int_equal(act[0].in_call, 1);
	assert_int_equal(act[0].waiting, 0);
	assert_int_equal(act[0].started_at, T0 + 5);
	free(act);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "admitted", "left", T0 + 6), 0);

	km_calllog_row_t *rows;
	size_t n;
	assert_int_equal(km_consults_calllog(f->s, f->org, 0, 100, &rows, &n), 0);
	const char *want[] = { "created", "joined", "name", "waiting", "admitted", "left" };
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(rows[i].event, want[i]);
		if (i > 0) {
			assert_string_equal(rows[i].role, "patient");
			assert_string_equal(rows[i].pseudonym, p.pseudonym);
		}
	}
	assert_int_equal(rows[4].ts, T0 + 5);
	free(rows);

	/* Refused by the clinician: final. */
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 7, &p, cookie), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "name", "waiting", T0 + 8), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "waiting", "refused", T0 + 9), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "refused", "admitted", T0 + 9), KM_EPERM);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, "Someone"), KM_EPERM);
	/* ... and the link stops working; a re-sent one works again. */
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 10, &p, cookie), KM_ENOTFOUND);
	assert_int_equal(km_consults_invitation_renew(f->s, inv[1], tok[1]), 0);
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 11, &p, cookie), 0);
}

static void test_consent(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN], cookie[KM_TOKEN_LEN], cookie2[KM_TOKEN_LEN];
	int64_t inv[1];
	int64_t id = make_consult(f, 1, tok, inv);
	km_participant_t p, q;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 1, &p, cookie), 0);
	/* Version 3 was never stored; given must be 0 or 1. */
	assert_int_equal(km_consults_consent_record(f->s, p.id, 1, 3, T0 + 2), KM_EINVAL);
	assert_int_equal(km_consults_consent_record(f->s, p.id, 2, 0, T0 + 2), KM_EINVAL);
	assert_int_equal(km_consults_consent_record(f->s, p.id + 50, 1, 0, T0 + 2), KM_ENOTFOUND);
	int64_t v;
	assert_int_equal(km_consults_consent_put(f->s, f->org, "Tekst", "Text", T0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(km_consults_consent_record(f->s, p.id, 1, 1, T0 + 3), 0);
	assert_int_equal(km_consults_participant_get(f->s, p.id, &q), 0);
	assert_int_equal(q.consent_version, 1);
	assert_string_equal(q.state, "consent"); /* the caller steps on */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consents WHERE given = 1 AND version = 1"), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE event = 'consent_given' AND role = 'patient'"),
			 1);

	/* The same link in another browser, refusing: refused, link dead. */
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 4, &q, cookie2), 0);
	assert_int_equal(km_consults_consent_record(f->s, q.id, 0, 1, T0 + 5), 0);
	assert_int_equal(km_consults_participant_get(f->s, q.id, &q), 0);
	assert_string_equal(q.state, "refused");
	assert_int_equal(q.consent_version, 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consents WHERE given = 0"), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE event = 'consent_refused'"), 1);
	assert_int_equal(km_consults_consent_record(f->s, q.id, 1, 1, T0 + 6), KM_EPERM);
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 7, &q, cookie2), KM_ENOTFOUND);
	/* The record survives the end of the consult. */
	assert_int_equal(km_consults_end(f->s, id, T0 + 8), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consents"), 2);
	assert_int_equal(km_consults_consent_record(f->s, p.id, 1, 1, T0 + 9), KM_EPERM);
}

static void test_cookie(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN], cookie[KM_TOKEN_LEN], cookie2[KM_TOKEN_LEN];
	int64_t inv[2];
	int64_t id = make_consult(f, 2, tok, inv);
	km_participant_t p, q;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 1, &p, cookie), 0);
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 1, &q, cookie2), 0);
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie, T0 + 2, &q), 0);
	assert_int_equal(q.id, p.id);
	assert_string_equal(q.pseudonym, p.pseudonym);
	/* The token is not a cookie, nor the reverse. */
	assert_int_equal(km_consults_participant_by_cookie(f->s, tok[0], T0 + 2, &q), KM_ENOTFOUND);
	assert_int_equal(km_consults_participant_by_cookie(f->s, "x", T0 + 2, &q), KM_ENOTFOUND);
	assert_int_equal(km_consults_participant_by_cookie(f->s, NULL, T0 + 2, &q), KM_ENOTFOUND);
	/* Expired. */
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie, T0 + 2 * HOUR, &q), KM_ENOTFOUND);
	/* Revoked invitation: its cookie stops working; the other stays. */
	assert_int_equal(km_consults_invitation_revoke_at(f->s, inv[1], T0 + 3), 0);
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie2, T0 + 4, &q), KM_ENOTFOUND);
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie, T0 + 4, &q), 0);
	/* Ended. */
	assert_int_equal(km_consults_end(f->s, id, T0 + 5), 0);
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie, T0 + 6, &q), KM_ENOTFOUND);
}

static void test_chat(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN];
	int64_t inv[1], m1, m2;
	int64_t id = make_consult(f, 1, tok, inv);
	uint8_t big[KM_CHAT_MAX + 65];
	memset(big, 0xab, sizeof big);
	assert_int_equal(km_consults_chat_add(f->s, id, "u:1", (const uint8_t *)"sealed-1", 8, T0 + 1, &m1), 0);
	assert_int_equal(km_consults_chat_add(f->s, id, "p:0123456789abcdef", big, KM_CHAT_MAX + 64, T0 + 2, &m2), 0);
	assert_true(m2 > m1);
	assert_int_equal(km_consults_chat_add(f->s, id, "u:1", big, sizeof big, T0, NULL), KM_EINVAL);
	assert_int_equal(km_consults_chat_add(f->s, id, "u:1", big, 0, T0, NULL), KM_EINVAL);
	assert_int_equal(km_consults_chat_add(f->s, id, "", big, 4, T0, NULL), KM_EINVAL);
	assert_int_equal(km_consults_chat_add(f->s, id + 7, "u:1", big, 4, T0, NULL), KM_ENOTFOUND);

	km_chat_row_t *rows;
	size_t n;
	assert_int_equal(km_consults_chat_list(f->s, id, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, m1);
	assert_string_equal(rows[0].sender, "u:1");
	assert_int_equal(rows[0].sealed_len, 8);
	assert_memory_equal(rows[0].sealed, "sealed-1", 8);
	assert_int_equal(rows[1].ts, T0 + 2);
	assert_int_equal(rows[1].sealed_len, KM_CHAT_MAX + 64);
	assert_memory_equal(rows[1].sealed, big, KM_CHAT_MAX + 64);
	free(rows);

	assert_int_equal(km_consults_end(f->s, id, T0 + 3), 0);
	assert_int_equal(km_consults_chat_add(f->s, id, "u:1", big, 4, T0 + 4, NULL), KM_EPERM);
	assert_int_equal(km_consults_chat_list(f->s, id, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
}

static void test_end_wipes(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN], c1[KM_TOKEN_LEN], c2[KM_TOKEN_LEN];
	int64_t inv[2];
	int64_t id = make_consult(f, 2, tok, inv);
	int64_t other = make_consult(f, 1, tok + 1, inv + 1); /* must stay untouched */
	km_participant_t p, q;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 1, &p, c1), 0);
	assert_int_equal(km_consults_consent_record(f->s, p.id, 1, 0, T0 + 2), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "consent", "name", T0 + 2), 0);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, "Jan"), 0);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "name", "waiting", T0 + 3), 0);
	assert_int_equal(km_consults_chat_add(f->s, id, "u:1", (const uint8_t *)"xx", 2, T0 + 4, NULL), 0);
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 1, &q, c2), 0);
	assert_int_equal(km_consults_set_display_name(f->s, q.id, "Other room"), 0);
	assert_int_equal(km_consults_chat_add(f->s, other, "u:1", (const uint8_t *)"yy", 2, T0 + 4, NULL), 0);
	long log_before = count_rows(f, "SELECT count(*) FROM calllog");

	assert_int_equal(km_consults_end(f->s, id, T0 + 100), 0);
	char sql[300];
#define COUNT_IN(fmt) (snprintf(sql, sizeof sql, fmt, (long long)id), count_rows(f, sql))
	assert_int_equal(COUNT_IN("SELECT count(*) FROM invitations WHERE consult_id = %lld AND email IS NOT NULL"), 0);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM invitations WHERE consult_id = %lld AND token_hash IS NOT NULL"),
			 0);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM participants WHERE consult_id = %lld AND cookie_hash IS NOT NULL"),
			 0);
	assert_int_equal(
		COUNT_IN("SELECT count(*) FROM participants WHERE consult_id = %lld AND display_name IS NOT NULL"), 0);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM chat WHERE consult_id = %lld"), 0);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM consults WHERE id = %lld AND room_key IS NOT NULL"), 0);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM consults WHERE id = %lld AND ended_at = 100 + 1700000000"), 1);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM participants WHERE consult_id = %lld AND state != 'left'"), 0);
	/* The record stays: consent, the call log with "left" and "ended". */
	assert_int_equal(COUNT_IN("SELECT count(*) FROM consents WHERE consult_id = %lld"), 1);
	assert_int_equal(COUNT_IN("SELECT count(*) FROM calllog WHERE consult_id = %lld AND event = 'ended'"), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog"), log_before + 2);
	/* The other consult is untouched. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM chat"), 1);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM invitations WHERE email IS NOT NULL"), 1);
	assert_int_equal(km_consults_participant_get(f->s, q.id, &q), 0);
	assert_string_equal(q.display_name, "Other room");
	assert_int_equal(km_consults_participant_by_cookie(f->s, c2, T0 + 101, &q), 0);

	uint8_t key[128];
	size_t kl;
	assert_int_equal(km_consults_room_key(f->s, id, key, sizeof key, &kl), KM_ENOTFOUND);
	km_invitation_t iv;
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &iv), 0);
	assert_string_equal(iv.email, "");
	/* Idempotent; unknown; nothing works afterwards. */
	assert_int_equal(km_consults_end(f->s, id, T0 + 200), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog"), log_before + 2);
	km_consult_t c;
	assert_int_equal(km_consults_get(f->s, id, &c), 0);
	assert_int_equal(c.ended_at, T0 + 100);
	assert_int_equal(km_consults_end(f->s, id + 50, T0), KM_ENOTFOUND);
	assert_int_equal(km_consults_set_display_name(f->s, p.id, "Jan"), KM_EPERM);
	assert_int_equal(km_consults_participant_step(f->s, p.id, "left", "admitted", T0 + 201), KM_EPERM);
	char t2[KM_TOKEN_LEN];
	assert_int_equal(km_consults_invitation_renew(f->s, inv[0], t2), KM_EPERM);
#undef COUNT_IN
}

static void test_renew_revoke(void **state)
{
	fx_t *f = *state;
	char tok[2][KM_TOKEN_LEN], fresh[KM_TOKEN_LEN], cookie[KM_TOKEN_LEN], c2[KM_TOKEN_LEN];
	int64_t inv[2];
	make_consult(f, 2, tok, inv);
	km_participant_t p, q;
	km_invitation_t iv;
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 1, &p, cookie), 0);
	assert_int_equal(km_consults_invitation_sent(f->s, inv[0], T0 + 1, NULL), 0);
	assert_int_equal(km_consults_invitation_renew(f->s, inv[0], fresh), 0);
	assert_string_not_equal(fresh, tok[0]);
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &iv), 0);
	assert_int_equal(iv.redeemed_at, 0);
	assert_int_equal(iv.sent_at, 0);
	/* The old token stops at once; the new one is a first redemption. */
	assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 2, &q, c2), KM_ENOTFOUND);
	assert_int_equal(km_consults_redeem(f->s, fresh, T0 + 2, &q, c2), 0);
	assert_int_equal(q.other_device, 0);
	/* Earlier participants keep their cookie. */
	assert_int_equal(km_consults_participant_by_cookie(f->s, cookie, T0 + 3, &q), 0);
	assert_int_equal(km_consults_invitation_renew(f->s, 9999, fresh), KM_ENOTFOUND);

	/* Revoke: token dead, participants left (with log rows), no renew. */
	assert_int_equal(km_consults_participant_step(f->s, p.id, "consent", "name", T0 + 4), 0);
	assert_int_equal(km_consults_invitation_revoke_at(f->s, inv[0], T0 + 5), 0);
	assert_int_equal(km_consults_redeem(f->s, fresh, T0 + 6, &q, c2), KM_ENOTFOUND);
	assert_int_equal(km_consults_participant_get(f->s, p.id, &q), 0);
	assert_string_equal(q.state, "left");
	assert_int_equal(count_rows(f, "SELECT count(*) FROM participants WHERE state != 'left'"), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE event = 'left' AND ts = 1700000005"), 2);
	assert_int_equal(km_consults_invitation_get(f->s, inv[0], &iv), 0);
	assert_int_equal(iv.revoked, 1);
	assert_int_equal(km_consults_invitation_renew(f->s, inv[0], fresh), KM_EPERM);
	assert_int_equal(km_consults_invitation_revoke(f->s, inv[0]), 0); /* idempotent */
	assert_int_equal(km_consults_invitation_revoke(f->s, 9999), KM_ENOTFOUND);
	/* The other invitation still works. */
	assert_int_equal(km_consults_redeem(f->s, tok[1], T0 + 7, &q, c2), 0);
}

static void test_expiry(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN];
	int64_t inv[1], *ids;
	size_t n;
	long open = -1;
	int64_t a = make_consult(f, 1, tok, inv); /* expires T0 + 2 h */
	const char *em[] = { "p@example.org" }, *ki[] = { "patient" };
	int64_t b = 0;
	assert_int_equal(km_consults_create(f->s, f->org, f->doc, "", T0, T0 + 10 * HOUR, T0, 24, em, ki, 1, sealed_key,
					    sizeof sealed_key, &b, inv, tok),
			 0);
	assert_int_equal(km_consults_expired(f->s, T0 + HOUR, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	assert_int_equal(km_consults_count_open(f->s, f->org, T0 + HOUR, &open), 0);
	assert_int_equal(open, 2);
	assert_int_equal(km_consults_expired(f->s, T0 + 2 * HOUR, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], a);
	free(ids);
	assert_int_equal(km_consults_count_open(f->s, f->org, T0 + 2 * HOUR, &open), 0);
	assert_int_equal(open, 1);
	assert_int_equal(km_consults_count_open(f->s, f->org2, T0, &open), 0);
	assert_int_equal(open, 0);
	/* "Active now": times, clinician and head counts of the open one. */
	km_consult_active_t *act;
	assert_int_equal(km_consults_active(f->s, f->org, T0 + 2 * HOUR, &act, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(act[0].starts_at, T0);
	assert_int_equal(act[0].started_at, 0);
	assert_int_equal(act[0].in_call, 0);
	assert_int_equal(act[0].waiting, 0);
	assert_true(strchr(act[0].clinician, '@') != NULL);
	free(act);
	assert_int_equal(km_consults_active(f->s, f->org2, T0, &act, &n), 0);
	assert_int_equal(n, 0);
	free(act);
	/* Once ended it is no longer listed. */
	assert_int_equal(km_consults_end(f->s, a, T0 + 2 * HOUR), 0);
	assert_int_equal(km_consults_expired(f->s, T0 + 11 * HOUR, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], b);
	free(ids);
}

static void test_calllog(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN], cookie[KM_TOKEN_LEN];
	int64_t inv[1];
	km_participant_t p;
	/* org: 1 created + 5 joined (+ 1 consent each, later) */
	make_consult(f, 1, tok, inv);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(km_consults_redeem(f->s, tok[0], T0 + 10 * (i + 1), &p, cookie), 0);
		assert_int_equal(km_consults_consent_record(f->s, p.id, 1, 0, T0 + 10 * (i + 1) + 1), 0);
	}
	/* org2 has its own log. */
	const char *em[] = { "x@example.org" }, *ki[] = { "colleague" };
	int64_t c2;
	assert_int_equal(km_consults_create(f->s, f->org2, f->doc2, "", T0, T0 + HOUR, T0, 24, em, ki, 1, sealed_key,
					    sizeof sealed_key, &c2, inv, tok),
			 0);

	km_calllog_row_t *rows;
	size_t n, total = 0;
	int64_t after = 0;
	for (int page = 0; page < 10; page++) {
		assert_int_equal(km_consults_calllog(f->s, f->org, after, 4, &rows, &n), 0);
		for (size_t i = 0; i < n; i++) {
			assert_true(rows[i].id > after);
			after = rows[i].id;
			assert_int_not_equal(rows[i].consult_id, c2);
		}
		total += n;
		free(rows);
		if (n < 4)
			break;
	}
	assert_int_equal(total, 11);
	assert_int_equal(km_consults_calllog(f->s, f->org, 0, 0, &rows, &n), KM_EINVAL);
	assert_int_equal(km_consults_calllog(f->s, f->org2, 0, 100, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].event, "created");
	free(rows);

	/* Purge before T0 + 31: log rows created (T0), joined T0+10/20/30 and
	 * consent_given T0+11/21; consent records T0+11/21. */
	int64_t removed = -1;
	assert_int_equal(km_consults_calllog_purge(f->s, f->org, T0 + 31, &removed), 0);
	assert_int_equal(removed, 6 + 2);
	assert_int_equal(km_consults_calllog(f->s, f->org, 0, 100, &rows, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_true(rows[i].ts >= T0 + 31);
	free(rows);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM consents"), 3);
	/* The other org is untouched; purging again removes nothing. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM calllog WHERE org_id != (SELECT min(id) FROM orgs)"), 1);
	assert_int_equal(km_consults_calllog_purge(f->s, f->org, T0 + 31, &removed), 0);
	assert_int_equal(removed, 0);
}

static void test_consent_texts(void **state)
{
	fx_t *f = *state;
	int64_t v = -1;
	char *nl, *en;
	assert_int_equal(km_consults_consent_current(f->s, f->org, &v, &nl, &en), 0);
	assert_int_equal(v, 0);
	assert_non_null(strstr(nl, "kamer"));
	assert_non_null(strstr(nl, "niets opgenomen"));
	assert_non_null(strstr(en, "Nothing is recorded"));
	assert_non_null(strstr(en, "deleted"));
	assert_non_null(strstr(en, "stop at any time"));
	free(nl);
	free(en);

	assert_int_equal(km_consults_consent_put(f->s, f->org, "Versie een\n\nTweede alinea.", "Version one", T0, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(km_consults_consent_put(f->s, f->org, "Versie twee", "Version two", T0 + 1, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(km_consults_consent_put(f->s, f->org, "", "x", T0, &v), KM_EINVAL);
	assert_int_equal(km_consults_consent_put(f->s, f->org, "x", "bad\x01", T0, &v), KM_EINVAL);
	assert_int_equal(km_consults_consent_put(f->s, 9999, "x", "y", T0, &v), KM_ENOTFOUND);
	assert_int_equal(km_consults_consent_current(f->s, f->org, &v, &nl, &en), 0);
	assert_int_equal(v, 2);
	assert_string_equal(nl, "Versie twee");
	assert_string_equal(en, "Version two");
	free(nl);
	free(en);
	/* Old versions stay for the record. */
	assert_int_equal(km_consults_consent_get(f->s, f->org, 1, &nl, &en), 0);
	assert_string_equal(nl, "Versie een\n\nTweede alinea.");
	free(nl);
	free(en);
	assert_int_equal(km_consults_consent_get(f->s, f->org, 0, &nl, &en), 0);
	assert_non_null(strstr(nl, "kamer"));
	free(nl);
	free(en);
	assert_int_equal(km_consults_consent_get(f->s, f->org, 3, &nl, &en), KM_ENOTFOUND);
	/* Versions are per org. */
	assert_int_equal(km_consults_consent_current(f->s, f->org2, &v, &nl, &en), 0);
	assert_int_equal(v, 0);
	free(nl);
	free(en);
	assert_int_equal(km_consults_consent_put(f->s, f->org2, "Z", "Z", T0, &v), 0);
	assert_int_equal(v, 1);
}

/* A caller's transaction (accounts tx) holds a consult write: a rollback
 * undoes it. */
static void test_nested_tx(void **state)
{
	fx_t *f = *state;
	char tok[1][KM_TOKEN_LEN];
	int64_t inv[1];
	int64_t id = make_consult(f, 1, tok, inv);
	assert_int_equal(km_accounts_tx_begin(f->s), 0);
	assert_int_equal(km_consults_end(f->s, id, T0 + 5), 0);
	assert_int_equal(km_accounts_tx_end(f->s, KM_EPERM), KM_EPERM);
	km_consult_t c;
	assert_int_equal(km_consults_get(f->s, id, &c), 0);
	assert_int_equal(c.ended_at, 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM invitations WHERE email IS NOT NULL"), 1);
	assert_int_equal(km_accounts_tx_begin(f->s), 0);
	assert_int_equal(km_consults_end(f->s, id, T0 + 5), 0);
	assert_int_equal(km_accounts_tx_end(f->s, 0), 0);
	assert_int_equal(km_consults_get(f->s, id, &c), 0);
	assert_int_equal(c.ended_at, T0 + 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redeem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redeem_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_wipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renew_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calllog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_tx, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
