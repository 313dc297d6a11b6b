/* mailer.h — sends invitation emails over SMTP on a thread of its own, so
 * that a slow or unreachable mail server never blocks the signaling loop.
 * The signaling thread submits jobs; the mailer thread sends them (with
 * rooms/mail.h's retries) and queues results; wake() (called on the mailer
 * thread) lets the signaling loop know to collect them with km_mailer_poll.
 * A bounded queue: submit refuses when 256 jobs wait. */
#ifndef KM_MAILER_H
#define KM_MAILER_H

#include "rooms/mail.h"

#include <stddef.h>
#include <stdint.h>

typedef struct km_mailer km_mailer_t;

typedef struct km_mailer_result {
	int64_t invitation_id;
	int rc;              /* 0 sent, else a KM_E code */
	char error[160];     /* the reason for the clinician's view ("" if sent) */
} km_mailer_result_t;

/* cfg is copied (strings too). wake(ud) runs on the mailer thread after each
 * result. Returns new or NULL. */
km_mailer_t *km_mailer_new(const km_smtp_config_t *cfg, void (*wake)(void *), void *ud);
/* Stops the thread after the job in progress; unsent jobs are dropped. */
void km_mailer_free(km_mailer_t *m);

/* Queues one message; msg (len bytes) is copied and wiped after sending.
 * Returns 0 or KM_EBUSY (queue full) / KM_ENOMEM. */
int km_mailer_submit(km_mailer_t *m, int64_t invitation_id, const char *from, const char *to, const char *msg,
		     size_t len);
/* Copies up to max finished results into out; returns how many. */
size_t km_mailer_poll(km_mailer_t *m, km_mailer_result_t *out, size_t max);

#endif
