/* Media side-load: files in a zip's media folders (e.g. Poster_Images/, Movie_Videos/) are
 * uploaded to a destination bucket, and each item whose match attribute names them gets a list
 * of their s3:// URIs. The rules are in docs/media.md.
 *
 * A file belongs to the item whose match attribute (say Name = "The Amazing Spider-Man 2")
 * becomes, with every space replaced by '_', the file's stem ("The_Amazing_Spider-Man_2.jpg") or
 * the start of it followed by '_' ("The_Amazing_Spider-Man_2_alt.png"). It is uploaded to
 * "<prefix>/<match with _>/<folder>/<file name>" (multipart above 8 MB, parts concurrent,
 * retried), and the item's attribute for that folder is an L of S URIs sorted by file name.
 * When several names fit a file ("Spider-Man" and "Spider-Man 2" for "Spider-Man_2_alt.jpg"),
 * the longest one takes it. An object already at the destination with the content this upload
 * would give it (its ETag: the MD5 of the bytes, or of the part MD5s for a multipart upload
 * with the same part size) is not uploaded again. Uploads carry the SHA-256 of the file in
 * x-amz-meta-ddbload-sha256.
 *
 * Use, per zip: dl_media_add for every media entry, then dl_media_wait, then dl_media_attach
 * for each item of the zip, then dl_media_end_zip, which reports what matched nothing. The
 * destination key of a file depends on the item that takes it, so when it starts depends on
 * what is known when the files come:
 * - names noted first (dl_media_note for every item of the zip, a first pass over its records):
 *   uploads start in dl_media_add, in parallel; dl_media_wait waits for them all (an upload
 *   that failed is an error for the files' items); the longest-name rule is exact.
 * - no names noted (deferred): dl_media_add keeps the files (in one spill per zip);
 *   dl_media_attach uploads the files of its item and returns once they are at the
 *   destination (parallel within the item, one item after another). A name is only known once
 *   its item is attached: a file a shorter name took earlier in the zip also goes to a longer
 *   one attached later (with a warning). Upload failures are reported at dl_media_end_zip
 *   (and counted in the stats), not by dl_media_wait.
 * In both, attach leaves out files that failed. Not thread-safe: one decoding thread calls it;
 * the network thread runs the uploads. Destroy the media handle before the network layer. */
#ifndef DL_MEDIA_MEDIA_H
#define DL_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "item/item.h"
#include "net/net.h"

struct dl_media_rule {
    const char *folder;          /* "Poster_Images": a folder at the zip's root (or in its single
                                    top folder) */
    const char *attr;            /* "Image_url": the item attribute that lists its files */
};

struct dl_media_opts {
    const char *dest;            /* "s3://bucket/prefix" (prefix may be empty) */
    const char *match_attr;      /* "Name" */
    const struct dl_media_rule *rules;
    size_t nrules;
    const struct dl_aws_config *cfg; /* borrowed; must outlive the media handle */
    struct dl_net *net;              /* borrowed */
    size_t part_size;            /* multipart part size and threshold; 0 = 8 MiB */
    int max_parallel;            /* uploads/parts in flight; 0 = 8 */
    bool dry_run;                /* match and attach URIs, upload nothing (cfg, net unused) */
    /* Called for each report line (unmatched file, item without media, skipped upload); may be
     * NULL. level 0 info, 1 warning. */
    void (*log)(void *ctx, int level, const char *msg);
    void *log_ctx;
};

struct dl_media_stats {
    uint64_t files;              /* media files seen in zips */
    uint64_t uploaded;           /* uploaded this run */
    uint64_t already_present;    /* found at the destination with the same content: not uploaded */
    uint64_t upload_bytes;
    uint64_t failed;             /* uploads that failed after retries */
    uint64_t unmatched_files;    /* files no item claimed */
    uint64_t items_with_media;
    uint64_t items_without_media;
};

struct dl_media;

/* Validate opts (bad s3:// URL, empty match attribute, folder/attr empty or repeated) and set up.
 * DL_ERR_INVALID with a message naming the option; DL_ERR_NOMEM. */
enum dl_err dl_media_new(const struct dl_media_opts *opts, struct dl_media **out, char *err,
                         size_t errlen);
void dl_media_destroy(struct dl_media *m);

/* Optional first pass: make one item's match value known for the current zip, before its
 * files are added (a zip starts with its first note or add after the previous
 * dl_media_end_zip). Items without an S/N match attribute are ignored. DL_ERR_TOO_LARGE past
 * 256 MiB of names in one zip; DL_ERR_NOMEM. */
enum dl_err dl_media_note(struct dl_media *m, const struct dl_item *it);

/* The rule index for a zip entry name ("Poster_Images/x.jpg" or "Top/Poster_Images/x.jpg" when
 * every entry lives under Top/), or -1 when the entry is not a media file. Directories are not
 * media files. top: the zip's single top folder with its '/' ("Top/"), or "" / NULL. */
int dl_media_rule_for(const struct dl_media *m, const char *entry, const char *top);

/* One media file of the current zip. With names noted: its upload to the key of the noted item
 * it matches starts now (a file no noted item matches is not uploaded; dl_media_end_zip reports
 * it), and the call blocks while 4 * max_parallel files wait to be uploaded. Without: the file
 * is kept for dl_media_attach. bytes are borrowed for the call only (the module copies or
 * spills what it needs). zip names the zip in messages.
 * DL_ERR_INVALID for a file name that cannot be part of a key (absolute, '..', control bytes,
 * not UTF-8, key over 1024 bytes); DL_ERR_IO when the copy cannot be spilled to a temporary
 * file; DL_ERR_NOMEM. Upload errors surface in dl_media_wait. */
enum dl_err dl_media_add(struct dl_media *m, const char *zip, int rule, const char *entry,
                         struct dl_cursor bytes, char *err, size_t errlen);

/* Wait for every upload started since the last dl_media_end_zip. Returns DL_OK when all are at
 * the destination, else the first error with a message (the files that failed are listed through
 * log); attach still works and leaves out the files that failed. Deferred mode: nothing has
 * started; DL_ERR_IO if the kept files cannot be read back. */
enum dl_err dl_media_wait(struct dl_media *m, char *err, size_t errlen);

/* Add the media attributes to one item of the current zip (rebuilt under ks with every check;
 * deferred mode: after uploading its files). A delete (it->del) is left alone.
 * Items whose match attribute is missing or not S/N, or that no file matches, are counted as
 * items without media and left unchanged. DL_ERR_INVALID/DL_ERR_TOO_LARGE (with why) when the
 * item with its lists would break DynamoDB's rules; DL_ERR_NOMEM. */
enum dl_err dl_media_attach(struct dl_media *m, struct dl_item *it, const struct dl_key_schema *ks,
                            struct dl_pos_err *why);

/* The current zip is finished: log its files no item matched; forget its files. */
void dl_media_end_zip(struct dl_media *m);

void dl_media_stats_get(const struct dl_media *m, struct dl_media_stats *out);

#endif
