/* SOURCE arguments (s3://bucket/prefix, a local file, a local directory) and listing the
 * objects of a local source in the same order S3 lists keys (UTF-8 byte order), so that
 * "the later record wins" means the same thing for both. */
#ifndef DL_CORE_SOURCE_H
#define DL_CORE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum dl_source_kind {
    DL_SOURCE_S3 = 1,
    DL_SOURCE_FILE,
    DL_SOURCE_DIR,
};

struct dl_source {
    enum dl_source_kind kind;
    char *bucket; /* S3: the bucket; NULL otherwise */
    char *prefix; /* S3: the key prefix as written ("" = the whole bucket); NULL otherwise */
    char *path;   /* FILE, DIR: the path as given; NULL for S3 */
};

/* Classify a SOURCE argument. "s3://bucket/prefix" (scheme case ignored; "s3://bucket" and
 * "s3://bucket/" mean the whole bucket; the prefix is kept byte for byte, no URL decoding).
 * Anything else is a local path, checked with stat (symlinks followed): a regular file is
 * FILE, a directory is DIR. On success free *out with dl_source_free; on error *out is
 * empty. err (may be NULL) gets a message naming the argument.
 * Errors: DL_ERR_INVALID (empty argument, "s3://" without a bucket, bad bucket characters,
 * "s3:/x", a path that is neither a regular file nor a directory), DL_ERR_NOT_FOUND
 * ("no such file or directory: x"), DL_ERR_IO (stat failed otherwise), DL_ERR_NOMEM. */
enum dl_err dl_source_parse(const char *arg, struct dl_source *out, char *err, size_t errlen);
void dl_source_free(struct dl_source *s);

struct dl_source_entry {
    char *path;      /* the file to open: the given path joined with key ("dir/" + key) */
    const char *key; /* points into path: relative to the given directory, '/' separated;
                      * for a single-file source, its last path component */
    uint64_t size;
    int64_t mtime_sec; /* modification time, seconds since the epoch */
    int32_t mtime_nsec;
};

struct dl_source_list {
    struct dl_source_entry *items; /* sorted by key, byte order (strcmp) */
    size_t count;
};

/* List a local source. A regular file gives one entry. A directory gives every regular file
 * under it, recursively, skipping names that start with '.' (files and folders), symlinks to
 * directories, dangling symlinks and special files (fifos, sockets, devices); symlinks to
 * regular files are listed with their target's size and mtime. Entries that vanish while
 * listing are skipped. The given path itself may be hidden or a symlink.
 * On success free *out with dl_source_list_free; on error *out is empty.
 * Errors: DL_ERR_NOT_FOUND (path missing), DL_ERR_IO (a folder cannot be read: nothing is
 * skipped silently), DL_ERR_INVALID (path is neither a file nor a directory), DL_ERR_NOMEM. */
enum dl_err dl_source_list_local(const char *path, struct dl_source_list *out, char *err,
                                 size_t errlen);
void dl_source_list_free(struct dl_source_list *l);

#endif
