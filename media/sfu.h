/* sfu.h — kamer's selective forwarding unit, as the signaling thread sees
 * it. A *member* is one person's presence in one room's media (one WSS
 * connection); it may have a publish connection (the browser offers), a
 * subscribe connection (kamer offers the others' tracks, renegotiated as
 * they come and go) and an echo connection (the pre-call check: own media
 * back, 2 minutes at most).
 *
 * This file owns the signaling-side picture: which members publish which
 * tracks, what each subscriber was offered, SDP in and out (via
 * media/negotiate.h). The media itself runs on the workers (media/worker.h,
 * one per core): each room is pinned to one worker, whose GLib context runs
 * the room's ICE/DTLS/SRTP connections (media/conn.h) and the packet path
 * (sfu_room.c). The two sides talk only by messages: commands queued onto
 * the worker with km_worker_call, events back through the worker's queue,
 * whose wake function the caller supplies (lws_cancel_service).
 *
 * Isolation: a worker looks up forwarding targets only inside the room of
 * the packet's connection; media never crosses rooms.
 *
 * Threads: every function here is for the one owner thread (signaling),
 * except that the wake callback runs on worker threads. */
#ifndef KM_SFU_H
#define KM_SFU_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KM_SFU_PUB = 0, KM_SFU_SUB = 1, KM_SFU_ECHO = 2 } km_sfu_conn_kind_t;

typedef struct {
	const char *const *addresses; /* where media is gathered; borrowed during km_sfu_new */
	size_t n_addresses;
	uint16_t port_min, port_max;  /* UDP range, 0/0: any */
	unsigned workers;             /* 0: one per online CPU */
	unsigned max_bitrate_kbps;    /* REMB ceiling sent to publishers, e.g. 2500 */
	unsigned echo_seconds;        /* echo connection lifetime, e.g. 120 */
	unsigned echo_kbps;           /* echo REMB ceiling, e.g. 600 */
	void (*wake)(void *ud);       /* called on any thread when events wait */
	void *wake_ud;
} km_sfu_config_t;

typedef enum {
	KM_SFU_EV_OFFER = 1,  /* sdp: kamer's subscribe offer of `version` */
	KM_SFU_EV_CANDIDATE,  /* text: a local candidate line, "" = end */
	KM_SFU_EV_STATE,      /* state: "connected" (text: SRTP profile) | "failed" | "closed" (text: reason) */
} km_sfu_event_type_t;

typedef struct {
	int type;
	uint64_t member;
	km_sfu_conn_kind_t conn;
	uint64_t version;  /* OFFER */
	char *sdp;         /* OFFER: new, the receiver frees it with free() */
	const char *state; /* STATE: static text */
	char text[256];
} km_sfu_event_t;

typedef struct km_sfu km_sfu_t;

/* Starts the workers and makes the DTLS certificate. Returns 0, KM_EINVAL
 * (bad config) or KM_EIO/KM_ECRYPTO with a reason in err. */
int km_sfu_new(const km_sfu_config_t *cfg, km_sfu_t **out, char *err, size_t errlen);

/* Closes every connection, stops the workers, frees all. Accepts NULL. */
void km_sfu_free(km_sfu_t *sfu);

/* A publish (echo = 0) or echo (echo = 1) offer from member (non-zero id of
 * the caller's choosing) in room. Replaces an earlier connection of the same
 * kind. On success *answer is kamer's answer (new, caller frees with free()),
 * and subscribers of the room get new offers (events). Returns 0,
 * KM_EINVAL (the offer is unusable; the reason in err is fit for the
 * client) or KM_EBUSY (no capacity). */
int km_sfu_offer(km_sfu_t *sfu, uint64_t room, uint64_t member, int echo, const char *sdp, size_t len,
		 char **answer, char *err, size_t errlen);

/* The organisation's choice for a room's connections opened from now on:
 * allow_aes128 = 1 also accepts SRTP_AEAD_AES_128_GCM (AES-256-GCM is
 * always preferred); 0 (the default) accepts AES-256-GCM only. */
void km_sfu_room_policy(km_sfu_t *sfu, uint64_t room, int allow_aes128);

/* The member wants to receive the room: an OFFER event follows as soon as
 * any other member of the room publishes, and again on every change. */
int km_sfu_subscribe(km_sfu_t *sfu, uint64_t room, uint64_t member);

/* The member's answer to kamer's subscribe offer `version`. Returns 0,
 * KM_EINVAL (unusable; reason in err), or KM_EPERM for an answer to an
 * offer that is not the one outstanding. */
int km_sfu_answer(km_sfu_t *sfu, uint64_t member, uint64_t version, const char *sdp, size_t len, char *err,
		  size_t errlen);

/* A trickled remote candidate for one of the member's connections ("" =
 * end). Returns 0, KM_ETOOBIG or KM_ENOTFOUND (no such connection). */
int km_sfu_candidate(km_sfu_t *sfu, uint64_t member, km_sfu_conn_kind_t conn, const char *candidate);

/* Closes one connection of the member (the client closed it). */
void km_sfu_close(km_sfu_t *sfu, uint64_t member, km_sfu_conn_kind_t conn);

/* The member is gone (left, removed, disconnected): every connection of
 * it is torn down at once and the others renegotiate. */
void km_sfu_leave(km_sfu_t *sfu, uint64_t member);

/* The room ended: every member's connections are torn down. */
void km_sfu_close_room(km_sfu_t *sfu, uint64_t room);

/* Moves up to max pending events into out, oldest first; returns how many.
 * Drain until it returns fewer than max. Free each OFFER's sdp. */
size_t km_sfu_poll(km_sfu_t *sfu, km_sfu_event_t *out, size_t max);

/* Counters for logs and tests. */
typedef struct {
	uint64_t rooms, members, connections; /* live now, as the signaling side sees it */
	uint64_t worker_rooms, worker_connections; /* live now on the workers (freed = gone) */
	uint64_t events_lost;
} km_sfu_stats_t;
void km_sfu_stats(km_sfu_t *sfu, km_sfu_stats_t *out);

/* Static name of a connection kind ("pub", "sub", "echo"). */
const char *km_sfu_conn_name(km_sfu_conn_kind_t k);

#endif
