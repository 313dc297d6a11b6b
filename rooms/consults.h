/* consults.h — the consult domain in the store: one-time rooms, their
 * invitations (emailed links), participants (who redeemed a link, in which
 * browser), consent texts and records, chat (sealed), and the call log.
 * Storage only: the WSS protocol (signaling/) decides when to call what; the
 * live state of connections is not here.
 *
 * Personal data and its end: invitee email addresses, display names, chat
 * and the room key live only while the consult is open; km_consults_end
 * deletes them (and every token and cookie hash) in one transaction. The call
 * log keeps role, a pseudonymous participant id and times only.
 *
 * Returns 0 or negative KM_E* codes as rooms/accounts.h. Times are UTC
 * seconds passed in. Tokens are 256-bit base64url (43 chars), returned once,
 * stored as SHA-256. Threading: as the store. */
#ifndef KM_CONSULTS_H
#define KM_CONSULTS_H

#include "rooms/accounts.h"
#include "rooms/store.h"

#include <stddef.h>
#include <stdint.h>

#define KM_CONSULT_MAX_INVITEES 8
#define KM_CONSULT_LABEL_MAX 80
#define KM_DISPLAY_NAME_MAX 64
#define KM_CHAT_MAX 2000 /* bytes of one chat message */

typedef struct km_consult {
	int64_t id, org_id, clinician_id;
	char label[KM_CONSULT_LABEL_MAX + 1]; /* shown to the clinician only */
	int64_t starts_at, expires_at, created_at, ended_at; /* ended_at 0: open */
} km_consult_t;

typedef struct km_invitation {
	int64_t id, consult_id;
	char kind[12];        /* "patient" | "colleague" */
	char email[256];      /* "" once the consult ended */
	int revoked;
	int64_t redeemed_at;  /* 0: link not used yet */
	int64_t sent_at;      /* 0: not sent (yet) */
	char send_error[128]; /* last sending error, "" if none */
} km_invitation_t;

typedef struct km_participant {
	int64_t id, consult_id, invitation_id;
	char pseudonym[17];   /* 16 hex chars, random: the call log's id */
	char kind[12];        /* "patient" | "colleague" */
	char state[12];       /* "consent", "name", "waiting", "admitted", "refused", "left" */
	char display_name[KM_DISPLAY_NAME_MAX + 1];
	int other_device;     /* redeemed the link a second time, from another browser */
	int64_t consent_version; /* 0: none given */
	int64_t created_at;
} km_participant_t;

/* Creates a consult with its invitees (1..KM_CONSULT_MAX_INVITEES; kinds
 * "patient"/"colleague"; emails validated with km_accounts_email_valid), a
 * fresh room key (32 random bytes) sealed by the caller-supplied sealer:
 * room_key_sealed/len are stored as given. tokens[i] receives invitee i's
 * token. Refuses (KM_EINVAL, nothing written) expires_at <= now, expires_at
 * > now + max_hours*3600, starts_at > expires_at, a label over the limit or
 * with control characters. */
int km_consults_create(km_store_t *s, int64_t org_id, int64_t clinician_id, const char *label,
		       int64_t starts_at, int64_t expires_at, int64_t now, long max_hours,
		       const char *const *emails, const char *const *kinds, size_t n,
		       const uint8_t *room_key_sealed, size_t sealed_len, int64_t *id_out,
		       int64_t *invitation_ids, char tokens[][KM_TOKEN_LEN]);
int km_consults_get(km_store_t *s, int64_t id, km_consult_t *out);
/* The sealed room key (KM_ENOTFOUND once ended). */
int km_consults_room_key(km_store_t *s, int64_t id, uint8_t *out, size_t cap, size_t *len);
/* Open consults of a clinician (ended ones too if include_ended), newest
 * first; *out new (caller frees). */
int km_consults_list(km_store_t *s, int64_t clinician_id, int include_ended, km_consult_t **out, size_t *n);
/* Open consults of an org: for the admin's "active now" (counts only). */
int km_consults_count_open(km_store_t *s, int64_t org_id, int64_t now, long *count);
/* The admin's "active consults now": per open consult only its times, its
 * clinician and head counts — no label, no invitee, no name. */
typedef struct km_consult_active {
	int64_t starts_at;  /* as scheduled */
	int64_t started_at; /* first admission; 0: no one let in yet */
	char clinician[256]; /* the clinician's account email */
	int in_call, waiting;
} km_consult_active_t;
#define KM_CONSULT_ACTIVE_MAX 500
/* Open consults of an org, earliest start first, at most
 * KM_CONSULT_ACTIVE_MAX; *out new (caller frees). */
int km_consults_active(km_store_t *s, int64_t org_id, int64_t now, km_consult_active_t **out, size_t *n);
/* Ends a consult: ended_at = now; deletes invitee emails, token hashes,
 * participant cookies and display names, chat rows and the room key; adds a
 * call-log "ended" row. Idempotent (KM_ENOTFOUND if no such consult). */
int km_consults_end(km_store_t *s, int64_t id, int64_t now);
/* Ids of open consults with expires_at <= now (for the expiry timer). */
int km_consults_expired(km_store_t *s, int64_t now, int64_t **ids, size_t *n);

/* Invitations of a consult, in creation order; *out new. */
int km_consults_invitations(km_store_t *s, int64_t consult_id, km_invitation_t **out, size_t *n);
int km_consults_invitation_get(km_store_t *s, int64_t id, km_invitation_t *out);
/* A new token for an invitation (the old one stops working at once; a
 * redeemed link becomes redeemable again); KM_EPERM if revoked or ended. */
int km_consults_invitation_renew(km_store_t *s, int64_t id, char token[KM_TOKEN_LEN]);
/* Revokes: the token stops working; its participants are set "left" (a
 * call-log "left" row each) and their cookies stop working. Idempotent.
 * km_consults_invitation_revoke uses the wall clock for the call-log rows;
 * _revoke_at takes the time like every other function here. */
int km_consults_invitation_revoke(km_store_t *s, int64_t id);
int km_consults_invitation_revoke_at(km_store_t *s, int64_t id, int64_t now);
int km_consults_invitation_sent(km_store_t *s, int64_t id, int64_t now, const char *error_or_null);

/* Redeems a link atomically (one transaction): finds the invitation by the
 * token's hash; KM_ENOTFOUND if unknown, revoked, or its consult ended or
 * expired (all alike, never saying which). Each redemption makes a new
 * participant: a patient starts in state "consent", a colleague in "name".
 * The first redemption of a token has other_device 0; any later one (the
 * same link opened in another browser, without that browser's cookie) has
 * other_device 1, so that the clinician is told and decides. Returns the
 * participant and a new cookie token (browser-bound; stored as SHA-256).
 * 100 parallel first redemptions of one token give exactly one participant
 * with other_device 0. */
int km_consults_redeem(km_store_t *s, const char *token, int64_t now, km_participant_t *out,
		       char cookie[KM_TOKEN_LEN]);
/* Finds a participant by its cookie token (KM_ENOTFOUND if unknown, or the
 * consult ended/expired). */
int km_consults_participant_by_cookie(km_store_t *s, const char *cookie, int64_t now, km_participant_t *out);
int km_consults_participant_get(km_store_t *s, int64_t id, km_participant_t *out);
/* Participants of a consult (all states), in creation order; *out new. */
int km_consults_participants(km_store_t *s, int64_t consult_id, km_participant_t **out, size_t *n);
/* Moves a participant from one state to another atomically: KM_EPERM if it
 * is not in `from` (so out-of-order steps change nothing). Writes the
 * call-log row for the new state. */
int km_consults_participant_step(km_store_t *s, int64_t id, const char *from, const char *to, int64_t now);
int km_consults_set_display_name(km_store_t *s, int64_t id, const char *name);

/* Consent texts of an org, versioned. km_consults_consent_current gives the
 * newest stored text, or kamer's built-in default (version 0) when the org
 * stored none; *text_nl and *text_en are new (caller frees). _put stores a
 * new version (1, 2, ...); old versions stay for the record. */
int km_consults_consent_current(km_store_t *s, int64_t org_id, int64_t *version, char **text_nl, char **text_en);
int km_consults_consent_put(km_store_t *s, int64_t org_id, const char *text_nl, const char *text_en, int64_t now,
			    int64_t *version);
/* One stored version of an org's consent text (0: the built-in default),
 * for the record; KM_ENOTFOUND if there is no such version. *text_nl and
 * *text_en are new (caller frees). */
int km_consults_consent_get(km_store_t *s, int64_t org_id, int64_t version, char **text_nl, char **text_en);
/* Records consent given (1) or refused (0) with the text version; a refusal
 * also sets the participant "refused". Call-log row written. */
int km_consults_consent_record(km_store_t *s, int64_t participant_id, int given, int64_t version, int64_t now);

/* Consent again when someone new is admitted (org policy
 * reconsent_on_join): marks every admitted patient of the consult except
 * `except` as owing a new consent; asks whether one does; and clears it
 * (after km_consults_consent_record of a given consent). */
int km_consults_reconsent_mark(km_store_t *s, int64_t consult_id, int64_t except, long *marked);
int km_consults_reconsent_pending(km_store_t *s, int64_t participant_id, int *pending);
int km_consults_reconsent_clear(km_store_t *s, int64_t participant_id);

/* Chat: stores one sealed message (the caller seals it with the room key);
 * lists a consult's messages in order (*out new; each row's sealed bytes
 * copied). */
typedef struct km_chat_row {
	int64_t id, ts;
	char sender[40];   /* "p:<pseudonym>" or "u:<user id>" */
	uint8_t sealed[KM_CHAT_MAX + 64];
	size_t sealed_len;
} km_chat_row_t;
int km_consults_chat_add(km_store_t *s, int64_t consult_id, const char *sender, const uint8_t *sealed, size_t len,
			 int64_t now, int64_t *id_out);
int km_consults_chat_list(km_store_t *s, int64_t consult_id, km_chat_row_t **out, size_t *n);

/* Call log: rows of an org (after_id paging, at most limit), as JSON-ready
 * fields; and the purge of rows older than `before`. */
typedef struct km_calllog_row {
	int64_t id, consult_id, ts;
	char event[24], role[12], pseudonym[17];
} km_calllog_row_t;
int km_consults_calllog(km_store_t *s, int64_t org_id, int64_t after_id, int limit, km_calllog_row_t **out,
			size_t *n);
/* The purge also deletes the org's consent records older than `before`
 * (they share the call log's retention); *removed counts both. */
int km_consults_calllog_purge(km_store_t *s, int64_t org_id, int64_t before, int64_t *removed);

#endif
