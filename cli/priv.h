/* priv.h — least privilege for `kamer serve`. Started as root, kamer looks
 * up its service user (config key `user`, flag --user), prepares the data
 * folder as that user (effective ids only), goes back to root for what needs
 * it (the listening socket, root-only certificate and password files), then
 * drops to the user for good: setgroups([]), setgid, setuid, verified by
 * checking that setuid(0) fails. Not started as root: every call is a no-op.
 * Not thread-safe: call from the main thread (the final drop reaches every
 * thread through glibc's set*id broadcast). */
#ifndef KM_CLI_PRIV_H
#define KM_CLI_PRIV_H

#include <stddef.h>
#include <sys/types.h>

typedef struct km_cli_priv {
	int active;      /* 1: started as root, ids below are the target */
	uid_t uid;
	gid_t gid;
	char user[64];
	char group[64];
} km_cli_priv_t;

/* Fills p. Not root: p->active = 0, returns 0. Root: looks up user and
 * returns 0, KM_ENOTFOUND (no such user: err says how to create it) or
 * KM_EPERM (the user is root or in group root). */
int km_cli_priv_plan(km_cli_priv_t *p, const char *user, char *err, size_t errlen);

/* Root only: the data folder, when it exists, must belong to the user.
 * Returns 0 or KM_EPERM with the folder and the chown command in err. */
int km_cli_priv_check_dir(const km_cli_priv_t *p, const char *dir, char *err, size_t errlen);

/* Switches the effective ids to the user (supplementary groups cleared), so
 * that what kamer creates in the data folder belongs to it; _leave switches
 * back to root. Return 0 or KM_EIO with the reason in err. */
int km_cli_priv_enter(const km_cli_priv_t *p, char *err, size_t errlen);
int km_cli_priv_leave(const km_cli_priv_t *p, char *err, size_t errlen);

/* Drops to the user for good and checks it: real, effective and saved ids
 * are the user's, no supplementary groups, and setuid(0), seteuid(0) and
 * setgid(0) fail. Returns 0 or KM_EPERM (the caller must not go on). */
int km_cli_priv_drop(const km_cli_priv_t *p, char *err, size_t errlen);

/* Writes into buf the advice for a data folder the user cannot use:
 * "chown -R USER:GROUP DIR && chmod 700 DIR" (or "install -d ..." when DIR
 * does not exist); "" when not active. */
void km_cli_priv_hint(const km_cli_priv_t *p, const char *dir, char *buf, size_t len);

#endif
