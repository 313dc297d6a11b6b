/* consult_int.h — the consult protocol's helpers used by the server's
 * timers and the JSON API. Signaling thread only. */
#ifndef KM_CONSULT_INT_H
#define KM_CONSULT_INT_H

#include "rooms/consults.h"
#include "signaling/server_int.h"

#include <jansson.h>

/* Ends a consult and disconnects everyone in it (why: "expired", ...). */
void km__consult_end(km_server_t *srv, int64_t consult_id, const char *why);
/* Ends every consult whose expiry has passed. */
void km__consult_expire(km_server_t *srv);
/* Sends the live participant list to the clinician's connections. */
void km__consult_notify_staff(km_server_t *srv, int64_t consult_id);
json_t *km__consult_participants_json(km_server_t *srv, int64_t consult_id);
json_t *km__consult_chat_json(km_server_t *srv, const km_consult_t *k);

#endif
