/* session_int.h — the inside of a test peer session, shared by session.c
 * (loop, consult protocol, report) and session_media.c (the pub, sub and
 * echo connections). Not for other files. Threads: as session.h. */
#ifndef KM_PEER_SESSION_INT_H
#define KM_PEER_SESSION_INT_H

#include "media/dtls.h"
#include "tests/peer/pc.h"
#include "tests/peer/probe.h"
#include "tests/peer/session.h"
#include "tests/peer/wss.h"

enum { SLOT_PUB = 0, SLOT_SUB, SLOT_ECHO, SLOT_N };

typedef struct {
	const char *name; /* "pub", "sub", "echo" */
	bool wanted, started;
	km_peer_pc_t *pc;
	km_peer_probe_t *probe;
	char server_state[16], server_srtp[40], server_reason[160];
	long long version; /* sub: the last offer answered */
} km__slot_t;

typedef struct {
	const km_peer_session_config_t *cfg;
	GMainContext *ctx;
	km_dtls_cert_t *cert;
	km_peer_wss_t *wss;
	km__slot_t slots[SLOT_N];
	char state[24];
	json_t *errors, *streams;
	bool done, participant;
	int code;
	int64_t start_us, media_start_us, media_end_us, deadline_us;
	int64_t linger_until_us; /* end then with linger_code (probe runs) */
	int linger_code;
	long long admitted[64];
	size_t nadmitted;
	unsigned refs;
} km__session_t;

/* session.c */
void km__say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records an error (no personal data), prints it, ends the run with code
 * (the highest code given wins). */
void km__session_error(km__session_t *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void km__session_finish(km__session_t *s, int code);
/* Records an error without ending the run. */
void km__session_note(km__session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the run with code after a second, so that kamer's media.state
 * about the same event still makes it into the report. */
void km__session_linger(km__session_t *s, int code);
/* Sends msg (taken); ref (may be NULL) is added as "ref". */
void km__session_send(km__session_t *s, json_t *msg, const char *ref);

/* session_media.c */
void km__media_start(km__session_t *s, km__slot_t *slot);
void km__media_on_answer(km__session_t *s, json_t *msg);
void km__media_on_offer(km__session_t *s, json_t *msg);
void km__media_on_candidate(km__session_t *s, json_t *msg);
void km__media_on_state(km__session_t *s, json_t *msg);
/* True once everything asked for flows (the media clock starts). */
bool km__media_flowing(km__session_t *s);
/* At the end: adds an error for each connection that did not do its job. */
void km__media_evaluate(km__session_t *s);
void km__media_report(km__session_t *s, json_t *report);
/* Sends media.close and DTLS close_notify for every started connection. */
void km__media_close(km__session_t *s);
void km__media_free(km__session_t *s);

#endif
