/* fs.h — small file-system helpers: private folders, atomic durable writes,
 * whole-file reads. No global state; safe from any thread. */
#ifndef KM_FS_H
#define KM_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Creates path and its missing parents with mode (e.g. 0700). Existing
 * folders are left as they are. Returns 0 or KM_EIO with a reason in err. */
int km_fs_mkdirs(const char *path, mode_t mode, char *err, size_t errlen);

/* Writes data to path atomically and durably: a temporary file in the same
 * folder with the given mode, fsync, rename over path, fsync of the folder.
 * Either the old or the new content is there after a crash, never a mix. */
int km_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		       char *err, size_t errlen);

/* Reads a whole file (at most max bytes) into *out (returns new, caller
 * frees; NUL-terminated for convenience, *outlen excludes the NUL). */
int km_fs_read_all(const char *path, size_t max, char **out, size_t *outlen,
		   char *err, size_t errlen);

/* 0 when dir exists and this process can create files in it, else KM_EIO. */
int km_fs_check_writable(const char *dir, char *err, size_t errlen);

/* Joins a folder and a name into buf; returns KM_ETOOBIG if it does not fit. */
int km_fs_join(char *buf, size_t len, const char *dir, const char *name);

#endif
