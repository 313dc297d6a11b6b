/* media_int.h — the media part of the consult protocol (media_ws.c), as the
 * rest of signaling/ uses it. Signaling thread only. */
#ifndef KM_MEDIA_INT_H
#define KM_MEDIA_INT_H

#include "signaling/server_int.h"

#include <jansson.h>

#define KM_ICE_MAX_ADDRS_SIG 8 /* = KM_ICE_MAX_ADDRS of media/ice.h */

/* Handles a media.* message (returns 0, or -1 to close), or -2 if t is not one. */
int km__media_handle(km_server_t *srv, struct lws *wsi, km_ws_conn_t *c, const char *t, json_t *msg);
/* c leaves the media of its consult (left, refused, re-consent, closed). */
void km__media_leave(km_server_t *srv, km_ws_conn_t *c);
/* Delivers the SFU's pending events to their connections. */
void km__media_events(km_server_t *srv);
/* Starts the SFU from the configuration (srv->sfu). */
int km__media_start(km_server_t *srv, char *err, size_t errlen);

#endif
