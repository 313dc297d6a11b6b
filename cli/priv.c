/* priv.c — least privilege for `kamer serve` (see priv.h): the service user
 * looked up while root, the data folder prepared under its effective ids, and
 * the final, verified drop once the listening socket is open. Main thread
 * only. */
#include "cli/priv.h"

#include "core/err.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_root(void)
{
	return getuid() == 0 || geteuid() == 0;
}

int km_cli_priv_plan(km_cli_priv_t *p, const char *user, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	if (!is_root())
		return 0;
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwnam_r(user, &pw, buf, sizeof buf, &res);
	if (!res)
		return km_errf(KM_ENOTFOUND, err, errlen,
			       "started as root, kamer serve runs as user \"%s\", which %s%s.\n"
			       "kamer refuses to keep running as root. Create the user:\n"
			       "  useradd --system --home-dir /var/lib/kamer --shell /usr/sbin/nologin %s\n"
			       "or name another one with --user NAME (config key user)",
			       user, e ? "cannot be looked up: " : "does not exist", e ? strerror(e) : "", user);
	if (pw.pw_uid == 0 || pw.pw_gid == 0)
		return km_errf(KM_EPERM, err, errlen,
			       "user \"%s\" has uid %u and gid %u; kamer refuses to run as root or in group root: "
			       "name an unprivileged user with --user NAME (config key user)",
			       user, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
	p->active = 1;
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	snprintf(p->user, sizeof p->user, "%s", user);
	struct group gr, *gres = NULL;
	if (getgrgid_r(pw.pw_gid, &gr, buf, sizeof buf, &gres) == 0 && gres)
		snprintf(p->group, sizeof p->group, "%s", gr.gr_name);
	else
		snprintf(p->group, sizeof p->group, "%u", (unsigned)pw.pw_gid);
	return 0;
}

void km_cli_priv_hint(const km_cli_priv_t *p, const char *dir, char *buf, size_t len)
{
	if (!p->active) {
		snprintf(buf, len, "%s", "");
		return;
	}
	struct stat st;
	if (stat(dir, &st) != 0)
		snprintf(buf, len, "the data folder must exist and belong to user %s: run\n"
			 "  install -d -m 0700 -o %s -g %s %s",
			 p->user, p->user, p->group, dir);
	else
		snprintf(buf, len, "the data folder and everything in it must belong to user %s: run\n"
			 "  chown -R %s:%s %s && chmod 700 %s",
			 p->user, p->user, p->group, dir, dir);
}

int km_cli_priv_check_dir(const km_cli_priv_t *p, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (!p->active || stat(dir, &st) != 0)
		return 0; /* missing: made later as the user, or a clear error then */
	if (st.st_uid == p->uid)
		return 0;
	char owner[64], hint[1024];
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(owner, sizeof owner, "%s", pw.pw_name);
	else
		snprintf(owner, sizeof owner, "uid %u", (unsigned)st.st_uid);
	km_cli_priv_hint(p, dir, hint, sizeof hint);
	return km_errf(KM_EPERM, err, errlen, "data folder %s belongs to %s, not to %s; %s", dir, owner, p->user,
		       hint);
}

int km_cli_priv_enter(const km_cli_priv_t *p, char *err, size_t errlen)
{
	if (!p->active)
		return 0;
	if (setgroups(0, NULL) != 0 || setegid(p->gid) != 0 || seteuid(p->uid) != 0)
		return km_errf(KM_EIO, err, errlen, "cannot switch to user %s: %s", p->user, strerror(errno));
	return 0;
}

int km_cli_priv_leave(const km_cli_priv_t *p, char *err, size_t errlen)
{
	if (!p->active)
		return 0;
	if (seteuid(0) != 0 || setegid(0) != 0)
		return km_errf(KM_EIO, err, errlen, "cannot switch back from user %s: %s", p->user, strerror(errno));
	return 0;
}

/* 1 when every id of the process is the target's and no way back is left. */
static int dropped(const km_cli_priv_t *p)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return 0;
	if (ru != p->uid || eu != p->uid || su != p->uid || rg != p->gid || eg != p->gid || sg != p->gid)
		return 0;
	if (getgroups(0, NULL) != 0)
		return 0;
	/* Each of these must fail now; if one succeeds we are root again. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 0;
	return 1;
}

int km_cli_priv_drop(const km_cli_priv_t *p, char *err, size_t errlen)
{
	if (!p->active)
		return 0;
	/* Groups first, then the group id, then the user id: after setuid
	 * nothing else can be changed. */
	if (setgroups(0, NULL) != 0)
		return km_errf(KM_EPERM, err, errlen, "setgroups([]) failed: %s", strerror(errno));
	if (setgid(p->gid) != 0)
		return km_errf(KM_EPERM, err, errlen, "setgid(%u) failed: %s", (unsigned)p->gid, strerror(errno));
	if (setuid(p->uid) != 0)
		return km_errf(KM_EPERM, err, errlen, "setuid(%u) failed: %s", (unsigned)p->uid, strerror(errno));
	if (!dropped(p))
		return km_errf(KM_EPERM, err, errlen, "the switch to user %s did not hold (root could be regained)",
			       p->user);
	return 0;
}
