/* fs.c — private folders, atomic durable writes, whole-file reads. */
#include "core/fs.h"

#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int km_fs_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= len) ? KM_ETOOBIG : 0;
}

int km_fs_mkdirs(const char *path, mode_t mode, char *err, size_t errlen)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return km_errf(KM_EINVAL, err, errlen, "path empty or too long");
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return km_errf(KM_EIO, err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return km_errf(KM_EIO, err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	struct stat st;
	if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
		return km_errf(KM_EIO, err, errlen, "%s is not a folder", tmp);
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int km_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       char *err, size_t errlen)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return km_errf(KM_EINVAL, err, errlen, "path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return km_errf(KM_EIO, err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	(void)fchmod(fd, mode); /* umask may have narrowed or widened it */
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return km_errf(KM_EIO, err, errlen, "cannot write %s: %s", tmp, strerror(e));
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		int e = errno;
		unlink(tmp);
		return km_errf(KM_EIO, err, errlen, "cannot sync %s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return km_errf(KM_EIO, err, errlen, "cannot rename to %s: %s", path, strerror(e));
	}
	if (fsync_dir_of(path) != 0)
		return km_errf(KM_EIO, err, errlen, "cannot sync folder of %s: %s", path, strerror(errno));
	return 0;
}

int km_fs_read_all(const char *path, size_t max, char **out, size_t *outlen,
		   char *err, size_t errlen)
{
	*out = NULL;
	if (outlen)
		*outlen = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return km_errf(errno == ENOENT || errno == ENOTDIR ? KM_ENOTFOUND : KM_EIO, err, errlen,
			       "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return km_errf(KM_EIO, err, errlen, "%s is not a regular file", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return km_errf(KM_ETOOBIG, err, errlen, "%s is larger than %zu bytes", path, max);
	}
	size_t cap = (size_t)st.st_size;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return KM_ENOMEM;
	}
	size_t got = 0;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return km_errf(KM_EIO, err, errlen, "cannot read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	*out = buf;
	if (outlen)
		*outlen = got;
	return 0;
}

int km_fs_check_writable(const char *dir, char *err, size_t errlen)
{
	char probe[4096];
	if (snprintf(probe, sizeof probe, "%s/.write-test.%ld", dir, (long)getpid()) >= (int)sizeof probe)
		return km_errf(KM_EINVAL, err, errlen, "path too long");
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return km_errf(KM_EIO, err, errlen, "data folder %s is not writable: %s", dir, strerror(errno));
	close(fd);
	unlink(probe);
	return 0;
}
