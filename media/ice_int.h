/* ice_int.h — internals shared by media/ice.c (the endpoint over libnice)
 * and media/ice_direct.c (the direct path once ICE is done). Not a public
 * header. Threads: as media/ice.h (one GMainContext's thread). */
#ifndef KM_ICE_INT_H
#define KM_ICE_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <agent.h>

#include "media/ice.h"

#define KM_ICE_COMPONENT 1
#define KM_ICE_CHECKS_KEPT 4 /* our consent checks awaiting an answer, at most */

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} km_ice_addr_t;

struct km_ice {
	NiceAgent *agent;
	GMainContext *ctx;
	guint stream;
	km_ice_config_t cb; /* callbacks and ud; addresses are not kept */
	km_ice_state_t state;
	int in_cb;  /* depth of calls into the caller's callbacks */
	int doomed; /* km_ice_free was called from inside a callback */
	bool controlling;
	char ufrag[KM_ICE_CRED_MAX];
	char pwd[KM_ICE_CRED_MAX];
	char rufrag[KM_ICE_CRED_MAX]; /* the peer's, "" until set */
	char rpwd[KM_ICE_CRED_MAX];
	uint64_t tie; /* ICE tie-breaker of our own consent checks */
	/* The selected pair as km_ice_send uses it: libnice's socket (a
	 * reference, so that the GSocket outlives our use of its descriptor)
	 * and the remote address. sel_fd -1: none, send through libnice. */
	GSocket *sel_sock;
	int sel_fd;
	km_ice_addr_t peer;
	socklen_t peer_len;
	uint32_t sel_priority; /* the local candidate's, for PRIORITY */

	/* The direct path (media/ice_direct.c): non-NULL while kamer reads
	 * the selected socket itself. */
	struct km_ice_direct *direct;
	km_ice_stats_t stats;
};

/* After a callback into the caller: releases ice when it was freed
 * inside (on the next loop iteration). Pair with ice->in_cb++. */
void km__ice_leave_cb(km_ice_t *ice);

/* Sets the state and reports it through on_state (once per change). */
void km__ice_report(km_ice_t *ice, km_ice_state_t s);

/* libnice's receiving of the component: to ice->ctx with its callback
 * (on = true), or parked on a context nobody runs (on = false). */
void km__ice_nice_receives(km_ice_t *ice, bool on);

/* Takes over the selected socket when ICE is READY on a plain UDP pair
 * with the peer's credentials known; does nothing otherwise or when on. */
void km__ice_direct_enter(km_ice_t *ice);

/* Gives the socket back to libnice (unless ice is being freed). */
void km__ice_direct_leave(km_ice_t *ice);

#endif
