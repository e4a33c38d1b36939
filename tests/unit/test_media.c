/* Tests for the media side-load. Matching, keys, URIs and the attached lists run anywhere (dry
 * run, and the S3 answers parsed offline); uploads run against s3rver at
 * DDBLOAD_TEST_S3_ENDPOINT, and the test exits 77 (skipped) when that variable is not set. */
#include "media/media.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/json.h"
#include "s3/s3.h"
#include "test.h"

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                               */

struct logbuf {
    struct dl_buf text; /* every line, '\n'-separated, "<level> <msg>" */
    int lines[2];
};

#define LOGBUF { { NULL, 0, 0, (size_t)1 << 20 }, { 0, 0 } }

static void log_cb(void *ctx, int level, const char *msg)
{
    struct logbuf *l = ctx;
    dl_buf_printf(&l->text, "%d %s\n", level, msg);
    l->lines[level ? 1 : 0]++;
}

static bool logged(const struct logbuf *l, const char *needle)
{
    return l->text.data && strstr((const char *)l->text.data, needle) != NULL;
}

static const struct dl_media_rule rules[] = {
    { "Poster_Images", "Image_url" },
    { "Movie_Videos", "Video_url" },
};

static struct dl_media_opts opts_for(const char *dest, struct logbuf *lb)
{
    struct dl_media_opts o = { 0 };
    o.dest = dest;
    o.match_attr = "Name";
    o.rules = rules;
    o.nrules = 2;
    o.log = log_cb;
    o.log_ctx = lb;
    return o;
}

/* An item from DynamoDB JSON text. */
static void item_of(struct dl_item *it, const char *ddb_json, const struct dl_key_schema *ks)
{
    struct dl_arena *a = dl_arena_new(0, 0);
    struct dl_json *doc = NULL;
    struct dl_pos_err why;
    dl_item_reset(it);
    CHECK_INT(dl_json_parse_doc(a, (const uint8_t *)ddb_json, strlen(ddb_json), &doc, &why), DL_OK);
    if (doc)
        CHECK_INT(dl_item_from_ddb_json(it, doc, ks, &why), DL_OK);
    dl_arena_destroy(a);
}

static void add_ok(struct dl_media *m, const char *entry, const void *p, size_t n)
{
    char err[512];
    int rule = dl_media_rule_for(m, entry, "Top/");
    CHECK(rule >= 0);
    enum dl_err e = dl_media_add(m, "s3://src/movies.zip", rule, entry, dl_cursor_of(p, n), err,
                                 sizeof err);
    CHECK_INT(e, DL_OK);
    if (e)
        fprintf(stderr, "  add %s: %s\n", entry, err);
}

/* note(item), for every item, as the first pass over a zip's records does */
static void note(struct dl_media *m, const char *ddb_json)
{
    struct dl_item it;
    dl_item_init(&it);
    item_of(&it, ddb_json, &(struct dl_key_schema){ 0 });
    CHECK_INT(dl_media_note(m, &it), DL_OK);
    dl_item_free(&it);
}

/* attach(item) and compare the wire */
static void attach_is(struct dl_media *m, const char *in, const char *want)
{
    struct dl_item it;
    struct dl_pos_err why;
    dl_item_init(&it);
    item_of(&it, in, &(struct dl_key_schema){ 0 });
    CHECK_INT(dl_media_attach(m, &it, &(struct dl_key_schema){ 0 }, &why), DL_OK);
    CHECK_MEM_STR(it.wire.data, it.wire.len, want);
    dl_item_free(&it);
}

/* ------------------------------------------------------------------------------------ */
/* offline                                                                               */

static void test_options(void)
{
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest/media", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    dl_media_destroy(m);

    const char *bad_dest[] = { "dest/media", "s3://", "s3:///x", "", "http://dest/x" };
    for (size_t i = 0; i < sizeof bad_dest / sizeof bad_dest[0]; i++) {
        o = opts_for(bad_dest[i], &lb);
        o.dry_run = true;
        m = (struct dl_media *)1;
        CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_ERR_INVALID);
        CHECK(m == NULL);
        CHECK(strstr(err, "--media-bucket") != NULL);
    }
    o = opts_for("s3://dest", &lb);
    o.dry_run = true;
    o.match_attr = "";
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "--media-match") != NULL);

    struct dl_media_rule bad[][2] = {
        { { "Poster_Images", "Image_url" }, { "Poster_Images", "Other" } }, /* folder twice */
        { { "Poster_Images", "Image_url" }, { "Movie_Videos", "Image_url" } }, /* attr twice */
        { { "a/b", "Image_url" }, { "Movie_Videos", "Video_url" } },
        { { "..", "Image_url" }, { "Movie_Videos", "Video_url" } },
        { { "Poster_Images", "" }, { "Movie_Videos", "Video_url" } },
        { { "Poster_Images", "Name" }, { "Movie_Videos", "Video_url" } }, /* the match attr */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = opts_for("s3://dest", &lb);
        o.dry_run = true;
        o.rules = bad[i];
        CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_ERR_INVALID);
        CHECK(strncmp(err, "--media '", 9) == 0);
    }
    o = opts_for("s3://dest", &lb);
    o.dry_run = true;
    o.part_size = (size_t)4 << 20; /* under S3's 5 MiB minimum */
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_ERR_INVALID);
    o.dry_run = false; /* uploads need cfg and net */
    o.part_size = 0;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_ERR_INVALID);
    dl_buf_free(&lb.text);
}

static void test_rule_for(void)
{
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    CHECK_INT(dl_media_rule_for(m, "Poster_Images/x.jpg", ""), 0);
    CHECK_INT(dl_media_rule_for(m, "Movie_Videos/x.mp4", NULL), 1);
    CHECK_INT(dl_media_rule_for(m, "Top/Poster_Images/x.jpg", "Top/"), 0);
    CHECK_INT(dl_media_rule_for(m, "Top/Poster_Images/x.jpg", ""), -1);
    CHECK_INT(dl_media_rule_for(m, "Poster_Images/", ""), -1);          /* a directory */
    CHECK_INT(dl_media_rule_for(m, "Poster_Images/sub/", ""), -1);
    CHECK_INT(dl_media_rule_for(m, "Poster_Images/sub/x.jpg", ""), 0);  /* kept out of decoding */
    CHECK_INT(dl_media_rule_for(m, "Poster_ImagesX/x.jpg", ""), -1);
    CHECK_INT(dl_media_rule_for(m, "poster_images/x.jpg", ""), -1);     /* case matters */
    CHECK_INT(dl_media_rule_for(m, "movies.csv", ""), -1);
    CHECK_INT(dl_media_rule_for(m, "", ""), -1);
    /* a zip holding only Poster_Images/ has it as its single top folder */
    CHECK_INT(dl_media_rule_for(m, "Poster_Images/x.jpg", "Poster_Images/"), 0);
    dl_media_destroy(m);
    dl_buf_free(&lb.text);
}

static void test_matching(void)
{
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest/media/", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);

    /* first pass: the names ("Spider-Man" before "Spider-Man 2", as a catalog lists them) */
    const char *items[] = {
        "{\"Name\":{\"S\":\"Spider-Man\"}}",
        "{\"Name\":{\"S\":\"Spider-Man 2\"},\"Year\":{\"N\":\"2004\"}}",
        "{\"Name\":{\"S\":\"The Amazing Spider-Man 2\"}}",
        "{\"Name\":{\"S\":\"Am\xc3\xa9lie\"}}",
        "{\"Name\":{\"S\":\"Crouching  Tiger   Hidden Dragon\"}}",
        "{\"Name\":{\"N\":\"1984\"}}",
        "{\"Name\":{\"S\":\"Up\"}}",
        "{\"Title\":{\"S\":\"No name\"}}",
        "{\"Name\":{\"BOOL\":true}}",
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        note(m, items[i]);

    /* files, in no particular order */
    const char *files[] = {
        "Poster_Images/Spider-Man_2_alt.jpg",
        "Poster_Images/The_Amazing_Spider-Man_2_alt.png",
        "Poster_Images/Spider-Man_alt.jpg",
        "Movie_Videos/Spider-Man_2_trailer.mp4",
        "Poster_Images/The_Amazing_Spider-Man_2.jpg",
        "Poster_Images/Spider-Man_2.jpg",
        "Poster_Images/Spider-Man.jpg",
        "Poster_Images/Am\xc3\xa9lie.jpg",
        "Poster_Images/Crouching__Tiger___Hidden_Dragon.jpg",
        "Poster_Images/Crouching_Tiger_Hidden_Dragon.jpg", /* spaces are not squeezed */
        "Poster_Images/1984_poster.jpg",
        "Poster_Images/Upside.jpg",        /* "Up" + "side": not a '_' */
        "Poster_Images/spider-man.jpg",    /* case matters */
        "Poster_Images/Nobody.jpg",
        "Poster_Images/sub/Spider-Man.jpg", /* not directly in the folder */
        "Poster_Images/.DS_Store",          /* ignored */
        "Poster_Images/Spider-Man.jpg",     /* the same entry twice: the first is kept */
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        add_ok(m, files[i], "x", 1);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_OK);

    const char *p = "s3://dest/media/";
    char want[2048];
    attach_is(m, items[0],
              "{\"Name\":{\"S\":\"Spider-Man\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/Spider-Man/Poster_Images/Spider-Man.jpg\"},"
              "{\"S\":\"s3://dest/media/Spider-Man/Poster_Images/Spider-Man_alt.jpg\"}]}}");
    snprintf(want, sizeof want,
             "{\"Name\":{\"S\":\"Spider-Man 2\"},\"Year\":{\"N\":\"2004\"},\"Image_url\":{\"L\":["
             "{\"S\":\"%sSpider-Man_2/Poster_Images/Spider-Man_2.jpg\"},"
             "{\"S\":\"%sSpider-Man_2/Poster_Images/Spider-Man_2_alt.jpg\"}]},"
             "\"Video_url\":{\"L\":[{\"S\":\"%sSpider-Man_2/Movie_Videos/Spider-Man_2_trailer.mp4\"}]}}",
             p, p, p);
    attach_is(m, items[1], want);
    attach_is(m, items[2],
              "{\"Name\":{\"S\":\"The Amazing Spider-Man 2\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/The_Amazing_Spider-Man_2/Poster_Images/The_Amazing_Spider-Man_2.jpg\"},"
              "{\"S\":\"s3://dest/media/The_Amazing_Spider-Man_2/Poster_Images/The_Amazing_Spider-Man_2_alt.png\"}]}}");
    attach_is(m, items[3],
              "{\"Name\":{\"S\":\"Am\xc3\xa9lie\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/Am\xc3\xa9lie/Poster_Images/Am\xc3\xa9lie.jpg\"}]}}");
    attach_is(m, items[4],
              "{\"Name\":{\"S\":\"Crouching  Tiger   Hidden Dragon\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/Crouching__Tiger___Hidden_Dragon/Poster_Images/"
              "Crouching__Tiger___Hidden_Dragon.jpg\"}]}}");
    attach_is(m, items[5],
              "{\"Name\":{\"N\":\"1984\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/1984/Poster_Images/1984_poster.jpg\"}]}}");
    /* no media: left as they are */
    attach_is(m, items[6], items[6]);
    attach_is(m, items[7], items[7]);
    attach_is(m, items[8], items[8]);
    /* a name seen only in the second pass gets nothing (its files were not uploaded) */
    attach_is(m, "{\"Name\":{\"S\":\"Nobody\"}}", "{\"Name\":{\"S\":\"Nobody\"}}");
    /* an attribute of the record with the same name is replaced by the list */
    attach_is(m, "{\"Image_url\":{\"S\":\"http://old/x.jpg\"},\"Name\":{\"N\":\"1984\"}}",
              "{\"Name\":{\"N\":\"1984\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/media/1984/Poster_Images/1984_poster.jpg\"}]}}");
    /* a delete carries no attributes */
    struct dl_item del;
    struct dl_pos_err why;
    dl_item_init(&del);
    item_of(&del, items[0], &(struct dl_key_schema){ 0 });
    del.del = true;
    CHECK_INT(dl_media_attach(m, &del, &(struct dl_key_schema){ 0 }, &why), DL_OK);
    CHECK_MEM_STR(del.wire.data, del.wire.len, items[0]);
    CHECK(del.del);
    dl_item_free(&del);

    struct dl_media_stats st;
    dl_media_stats_get(m, &st);
    CHECK_INT(st.files, 16); /* .DS_Store is not counted */
    CHECK_INT(st.unmatched_files, 5);
    CHECK_INT(st.items_with_media, 7);
    CHECK_INT(st.items_without_media, 4);
    CHECK_INT(st.uploaded, 0); /* dry run */

    dl_media_end_zip(m);
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Poster_Images/Nobody.jpg matches no item's Name: not uploaded"));
    CHECK(logged(&lb, "Poster_Images/Crouching_Tiger_Hidden_Dragon.jpg matches no item"));
    CHECK(logged(&lb, "Poster_Images/Upside.jpg matches no item"));
    CHECK(logged(&lb, "Poster_Images/spider-man.jpg matches no item"));
    CHECK(logged(&lb, "Poster_Images/sub/Spider-Man.jpg is in a subfolder of Poster_Images/"));
    CHECK(logged(&lb, "Poster_Images/Spider-Man.jpg appears twice in the zip"));
    CHECK(!logged(&lb, "DS_Store"));
    CHECK(logged(&lb, "0 s3://src/movies.zip: item with Name 'Up' has no media file"));
    CHECK(logged(&lb, "0 s3://src/movies.zip: item {\"Title\":{\"S\":\"No name\"}} has no Name attribute (S or N): no media"));
    CHECK(logged(&lb, "0 s3://src/movies.zip: media: 16 files: 0 uploaded (0 bytes), 0 already there, 0 failed, 5 matched no item; 7 items with media, 4 without"));
    if (test_failures)
        fprintf(stderr, "%s", lb.text.data ? (const char *)lb.text.data : "");

    /* the next zip starts afresh: the names and files of the last one are forgotten */
    add_ok(m, "Poster_Images/Zed.jpg", "x", 1);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_OK);
    attach_is(m, items[0], items[0]);
    dl_media_end_zip(m);
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Poster_Images/Zed.jpg matches no item's Name: not uploaded"));
    dl_media_destroy(m);
    dl_buf_free(&lb.text);
}

/* Without a first pass over the names, the files wait and go out as their items are attached:
 * exact when a longer name comes first, and a file that a shorter name took before goes to the
 * longer one too, with a warning. */
static void test_matching_deferred(void)
{
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest/m", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    const char *files[] = { "Poster_Images/Spider-Man_2_alt.jpg", "Poster_Images/Spider-Man.jpg",
                            "Poster_Images/Spider-Man_2.jpg", "Movie_Videos/Spider-Man_2_t.mp4",
                            "Poster_Images/Spider-Man_alt.jpg", "Poster_Images/Nobody.jpg",
                            "Poster_Images/Spider-Man.jpg" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        add_ok(m, files[i], "x", 1);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_OK);
    attach_is(m, "{\"Name\":{\"S\":\"Spider-Man 2\"}}",
              "{\"Name\":{\"S\":\"Spider-Man 2\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/m/Spider-Man_2/Poster_Images/Spider-Man_2.jpg\"},"
              "{\"S\":\"s3://dest/m/Spider-Man_2/Poster_Images/Spider-Man_2_alt.jpg\"}]},"
              "\"Video_url\":{\"L\":[{\"S\":\"s3://dest/m/Spider-Man_2/Movie_Videos/Spider-Man_2_t.mp4\"}]}}");
    const char *sm = "{\"Name\":{\"S\":\"Spider-Man\"},\"Image_url\":{\"L\":["
                     "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man.jpg\"},"
                     "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man_alt.jpg\"}]}}";
    attach_is(m, "{\"Name\":{\"S\":\"Spider-Man\"}}", sm);
    attach_is(m, "{\"Name\":{\"S\":\"Spider-Man\"}}", sm); /* the same name again */
    attach_is(m, "{\"Name\":{\"S\":\"Up\"}}", "{\"Name\":{\"S\":\"Up\"}}");
    dl_media_end_zip(m);
    struct dl_media_stats st;
    dl_media_stats_get(m, &st);
    CHECK_INT(st.files, 7);
    CHECK_INT(st.unmatched_files, 1);
    CHECK_INT(st.items_with_media, 3);
    CHECK_INT(st.items_without_media, 1);
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Poster_Images/Nobody.jpg matches no item's Name: not uploaded"));
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Poster_Images/Spider-Man.jpg appears twice in the zip"));
    CHECK(!logged(&lb, "goes to the items"));

    /* the shorter name first, as a catalog sorted by name has it */
    dl_buf_reset(&lb.text);
    for (size_t i = 0; i < 5; i++)
        add_ok(m, files[i], "x", 1);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_OK);
    attach_is(m, "{\"Name\":{\"S\":\"Spider-Man\"}}",
              "{\"Name\":{\"S\":\"Spider-Man\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man.jpg\"},"
              "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man_2.jpg\"},"
              "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man_2_alt.jpg\"},"
              "{\"S\":\"s3://dest/m/Spider-Man/Poster_Images/Spider-Man_alt.jpg\"}]},"
              "\"Video_url\":{\"L\":[{\"S\":\"s3://dest/m/Spider-Man/Movie_Videos/Spider-Man_2_t.mp4\"}]}}");
    attach_is(m, "{\"Name\":{\"S\":\"Spider-Man 2\"}}",
              "{\"Name\":{\"S\":\"Spider-Man 2\"},\"Image_url\":{\"L\":["
              "{\"S\":\"s3://dest/m/Spider-Man_2/Poster_Images/Spider-Man_2.jpg\"},"
              "{\"S\":\"s3://dest/m/Spider-Man_2/Poster_Images/Spider-Man_2_alt.jpg\"}]},"
              "\"Video_url\":{\"L\":[{\"S\":\"s3://dest/m/Spider-Man_2/Movie_Videos/Spider-Man_2_t.mp4\"}]}}");
    dl_media_end_zip(m);
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Poster_Images/Spider-Man_2_alt.jpg goes to the items with Name 'Spider-Man' and 'Spider-Man_2'"));
    if (test_failures)
        fprintf(stderr, "%s", lb.text.data ? (const char *)lb.text.data : "");
    dl_media_destroy(m);
    dl_buf_free(&lb.text);
}

static void test_keys_and_uris(void)
{
    struct { const char *dest, *uri; } cases[] = {
        { "s3://dest", "s3://dest/A_B/Poster_Images/A_B_1.jpg" },
        { "s3://dest/", "s3://dest/A_B/Poster_Images/A_B_1.jpg" },
        { "s3://dest/p/q", "s3://dest/p/q/A_B/Poster_Images/A_B_1.jpg" },
        { "s3://dest/p/q//", "s3://dest/p/q/A_B/Poster_Images/A_B_1.jpg" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct logbuf lb = LOGBUF;
        struct dl_media *m = NULL;
        char err[300], want[300];
        struct dl_media_opts o = opts_for(cases[i].dest, &lb);
        o.dry_run = true;
        CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
        note(m, "{\"Name\":{\"S\":\"A B\"}}");
        add_ok(m, "Top/Poster_Images/A_B_1.jpg", "x", 1);
        dl_media_wait(m, err, sizeof err);
        snprintf(want, sizeof want, "{\"Name\":{\"S\":\"A B\"},\"Image_url\":{\"L\":[{\"S\":\"%s\"}]}}",
                 cases[i].uri);
        attach_is(m, "{\"Name\":{\"S\":\"A B\"}}", want);
        dl_media_end_zip(m);
        dl_media_destroy(m);
        dl_buf_free(&lb.text);
    }

    /* names that cannot be part of a key */
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    note(m, "{\"Name\":{\"S\":\"x\"}}");
    const char *bad[] = { "Poster_Images/../x.jpg", "/Poster_Images/x.jpg", "Poster_Images/./x.jpg",
                          "Poster_Images/x\n.jpg", "Poster_Images/x\xff.jpg" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK_INT(dl_media_add(m, "z.zip", 0, bad[i], dl_cursor_str("x"), err, sizeof err),
                  DL_ERR_INVALID);
        CHECK(strncmp(err, "z.zip: media file ", 18) == 0);
    }
    /* a key over S3's 1024 bytes */
    char longname[1100];
    memset(longname, 'x', sizeof longname);
    memcpy(longname, "Poster_Images/x_", 16);
    strcpy(longname + 1090, ".jpg");
    char lerr[2000];
    CHECK_INT(dl_media_add(m, "z.zip", 0, longname, dl_cursor_str("x"), lerr, sizeof lerr),
              DL_ERR_INVALID);
    CHECK(strstr(lerr, "its destination key would be 1096 bytes, over S3's 1024") != NULL);
    dl_media_end_zip(m);
    dl_media_destroy(m);
    dl_buf_free(&lb.text);
}

static void test_key_schema(void)
{
    /* the match attribute is the table's key: the rebuilt item keeps its key */
    struct logbuf lb = LOGBUF;
    struct dl_media *m = NULL;
    char err[300];
    struct dl_media_opts o = opts_for("s3://dest", &lb);
    o.dry_run = true;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    struct dl_key_schema ks = { 1, { { "Name", 4, 'S' } } };
    struct dl_item it;
    struct dl_pos_err why;
    dl_item_init(&it);
    item_of(&it, "{\"Name\":{\"S\":\"K\"}}", &ks);
    CHECK_INT(dl_media_note(m, &it), DL_OK);
    add_ok(m, "Movie_Videos/K.mp4", "x", 1);
    dl_media_wait(m, err, sizeof err);
    size_t before = it.size;
    CHECK_INT(dl_media_attach(m, &it, &ks, &why), DL_OK);
    CHECK_MEM_STR(it.key_wire.data, it.key_wire.len, "{\"Name\":{\"S\":\"K\"}}");
    CHECK(it.size > before);
    dl_item_free(&it);
    dl_media_end_zip(m);
    dl_media_destroy(m);
    dl_buf_free(&lb.text);
}

static struct dl_http_req *answer(const char *method, long status, const char *body, const char *etag)
{
    struct dl_http_req *r = dl_http_req_new();
    r->method = method;
    r->status = status;
    r->attempts = 1;
    if (body)
        dl_buf_append_str(&r->resp, body);
    snprintf(r->etag, sizeof r->etag, "%s", etag ? etag : "");
    return r;
}

static void test_s3_answers(void)
{
    char msg[512], id[128], etag[128];
    struct dl_http_req *r = answer("POST", 200,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"x\">"
        "<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE.&amp;-_~</UploadId>"
        "</InitiateMultipartUploadResult>", NULL);
    CHECK_INT(dl_s3_mpu_create_parse(r, "b", "k", id, sizeof id, msg, sizeof msg), DL_OK);
    CHECK_STR(id, "VXBsb2FkIElE.&-_~");
    CHECK_INT(dl_s3_mpu_create_parse(r, "b", "k", id, 8, msg, sizeof msg), DL_ERR_TOO_LARGE);
    dl_http_req_destroy(r);
    r = answer("POST", 200, "<InitiateMultipartUploadResult/>", NULL);
    CHECK_INT(dl_s3_mpu_create_parse(r, "b", "k", id, sizeof id, msg, sizeof msg), DL_ERR_PARSE);
    CHECK(strstr(msg, "no UploadId") != NULL);
    dl_http_req_destroy(r);

    /* CompleteMultipartUpload: a result, or an error inside a 200 (after keep-alive spaces) */
    r = answer("POST", 200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
               "<Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
               "</CompleteMultipartUploadResult>", NULL);
    CHECK(!dl_s3_upload_retryable(r, NULL));
    CHECK_INT(dl_s3_mpu_complete_parse(r, "b", "k", etag, msg, sizeof msg), DL_OK);
    CHECK_STR(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
    dl_http_req_destroy(r);
    r = answer("POST", 200, "   \n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
               "InternalError</Code><Message>We encountered an internal error. Please try "
               "again.</Message><RequestId>656c76696e67</RequestId></Error>", NULL);
    CHECK(dl_s3_upload_retryable(r, NULL));
    CHECK_INT(dl_s3_mpu_complete_parse(r, "b", "k", etag, msg, sizeof msg), DL_ERR_AWS);
    CHECK_STR(msg, "s3://b/k: InternalError: We encountered an internal error. Please try again. "
                   "(HTTP 200 with an error document, request id 656c76696e67)");
    dl_http_req_destroy(r);
    r = answer("POST", 200, "<Error><Code>InvalidPart</Code><Message>One or more of the "
               "specified parts could not be found.</Message></Error>", NULL);
    CHECK(!dl_s3_upload_retryable(r, NULL)); /* not transient */
    CHECK_INT(dl_s3_mpu_complete_parse(r, "b", "k", NULL, msg, sizeof msg), DL_ERR_AWS);
    CHECK(strstr(msg, "InvalidPart") != NULL);
    dl_http_req_destroy(r);

    /* retries: 5xx, a 400 RequestTimeout, not other 4xx */
    r = answer("PUT", 503, "<Error><Code>SlowDown</Code></Error>", NULL);
    CHECK(dl_s3_upload_retryable(r, NULL));
    dl_http_req_destroy(r);
    r = answer("PUT", 400, "<Error><Code>RequestTimeout</Code><Message>Your socket connection "
               "to the server was not read from or written to within the timeout period."
               "</Message></Error>", NULL);
    CHECK(dl_s3_upload_retryable(r, NULL));
    dl_http_req_destroy(r);
    r = answer("PUT", 400, "<Error><Code>BadDigest</Code></Error>", NULL);
    CHECK(!dl_s3_upload_retryable(r, NULL));
    dl_http_req_destroy(r);
    r = answer("PUT", 200, "", "\"abc\"");
    CHECK(!dl_s3_upload_retryable(r, NULL));
    CHECK_INT(dl_s3_mpu_part_parse(r, "b", "k", etag, msg, sizeof msg), DL_OK);
    CHECK_STR(etag, "\"abc\"");
    dl_http_req_destroy(r);
    r = answer("PUT", 200, "", NULL);
    CHECK_INT(dl_s3_mpu_part_parse(r, "b", "k", etag, msg, sizeof msg), DL_ERR_PARSE);
    dl_http_req_destroy(r);

    /* abort: gone already is fine; s3rver's MethodNotAllowed is not */
    r = answer("DELETE", 404, "<Error><Code>NoSuchUpload</Code><Message>The specified upload "
               "does not exist.</Message></Error>", NULL);
    CHECK_INT(dl_s3_mpu_abort_parse(r, "b", "k", msg, sizeof msg), DL_OK);
    CHECK_STR(msg, "");
    dl_http_req_destroy(r);
    r = answer("DELETE", 405, "<Error><Code>MethodNotAllowed</Code><Message>The specified "
               "method is not allowed against this resource.</Message></Error>", NULL);
    CHECK_INT(dl_s3_mpu_abort_parse(r, "b", "k", msg, sizeof msg), DL_ERR_AWS);
    dl_http_req_destroy(r);
    r = answer("DELETE", 204, NULL, NULL);
    CHECK_INT(dl_s3_mpu_abort_parse(r, "b", "k", msg, sizeof msg), DL_OK);
    dl_http_req_destroy(r);

    /* HEAD: 404 is "absent", 403 an error */
    struct dl_s3_head h;
    r = answer("HEAD", 404, NULL, NULL);
    CHECK_INT(dl_s3_head_parse(r, "b", "k", &h, msg, sizeof msg), DL_OK);
    CHECK(!h.exists);
    dl_http_req_destroy(r);
    r = answer("HEAD", 200, NULL, "\"e\"");
    CHECK_INT(dl_s3_head_parse(r, "b", "k", &h, msg, sizeof msg), DL_OK);
    CHECK(h.exists);
    CHECK_STR(h.etag, "\"e\"");
    dl_http_req_destroy(r);
    r = answer("HEAD", 403, NULL, NULL);
    CHECK_INT(dl_s3_head_parse(r, "b", "k", &h, msg, sizeof msg), DL_ERR_HTTP);
    dl_http_req_destroy(r);

    /* the part list goes out as XML, the upload id encoded in the query */
    struct dl_aws_config cfg = { .access_key_id = "A", .secret_access_key = "S",
                                 .region = "us-east-1", .endpoint_s3 = "http://h:1",
                                 .s3_path_style = true };
    struct dl_s3_part parts[2] = { { 1, "\"a\"" }, { 2, "\"b\"" } };
    r = dl_http_req_new();
    CHECK_INT(dl_s3_mpu_complete_prepare(r, &cfg, "b", dl_cursor_str("d/k 1.mp4"), "id+/=", parts, 2),
              DL_OK);
    CHECK_STR((const char *)r->url.data, "http://h:1/b/d/k%201.mp4?uploadId=id%2B%2F%3D");
    CHECK_STR(r->method, "POST");
    CHECK_MEM_STR(r->body.data, r->body.len,
                  "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part>"
                  "<Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag></Part>"
                  "</CompleteMultipartUpload>");
    dl_http_req_destroy(r);
    r = dl_http_req_new();
    CHECK_INT(dl_s3_mpu_part_prepare(r, &cfg, "b", dl_cursor_str("k"), "id", 7, dl_cursor_str("xyz")),
              DL_OK);
    CHECK_STR((const char *)r->url.data, "http://h:1/b/k?partNumber=7&uploadId=id");
    CHECK_STR(r->method, "PUT");
    CHECK_INT(dl_s3_mpu_part_prepare(r, &cfg, "b", dl_cursor_str("k"), "id", 10001,
                                     dl_cursor_str("x")), DL_ERR_INVALID);
    CHECK_INT(dl_s3_add_meta(r, "ddbload-sha256", "abc"), DL_OK);
    CHECK_STR(r->headers[r->nheaders - 1], "x-amz-meta-ddbload-sha256: abc");
    CHECK_INT(dl_s3_add_meta(r, "Bad_Name", "abc"), DL_ERR_INVALID);
    CHECK_INT(dl_s3_add_meta(r, "ok", "caf\xc3\xa9"), DL_ERR_INVALID);
    dl_http_req_destroy(r);
    r = dl_http_req_new();
    CHECK_INT(dl_s3_mpu_create_prepare(r, &cfg, "b", dl_cursor_str("k"), NULL), DL_OK);
    CHECK_STR((const char *)r->url.data, "http://h:1/b/k?uploads");
    CHECK_STR(r->headers[0], "Content-Type: application/octet-stream");
    dl_http_req_destroy(r);
}

/* ------------------------------------------------------------------------------------ */
/* a scripted S3 on loopback, for what s3rver cannot be made to do                       */

enum scenario { SC_RETRY, SC_PART_FAILS, SC_ABORT_REFUSED };

struct fake {
    int fd;
    int port;
    pthread_t th;
    pthread_mutex_t mu;
    enum scenario sc;
    int part1, part3, complete;
    char log[64][200]; /* "<method> <path> -> <status>", in the order answered */
    int nlog;
};

static void fake_log(struct fake *f, const char *method, const char *path, int status)
{
    pthread_mutex_lock(&f->mu);
    if (f->nlog < 64)
        snprintf(f->log[f->nlog++], sizeof f->log[0], "%s %s -> %d", method, path, status);
    pthread_mutex_unlock(&f->mu);
}

/* The answer to one request: status, ETag ("" none), body. */
static int fake_answer(struct fake *f, const char *method, const char *path, char *etag,
                       const char **body)
{
    const char *q = strchr(path, '?');
    int part = 0;
    const char *pn = q ? strstr(q, "partNumber=") : NULL;
    if (pn)
        part = atoi(pn + 11);
    *body = "";
    etag[0] = 0;
    pthread_mutex_lock(&f->mu);
    int status = 200;
    if (strcmp(method, "HEAD") == 0) {
        status = 404;
    } else if (strcmp(method, "POST") == 0 && q && strcmp(q, "?uploads") == 0) {
        *body = "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
                "</InitiateMultipartUploadResult>";
    } else if (strcmp(method, "PUT") == 0 && part) {
        if (f->sc == SC_RETRY && part == 1 && f->part1++ == 0) {
            status = 503;
            *body = "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>";
        } else if (f->sc == SC_RETRY && part == 3 && f->part3++ == 0) {
            status = 400;
            *body = "<Error><Code>RequestTimeout</Code><Message>Your socket connection to the "
                    "server was not read from or written to within the timeout period.</Message>"
                    "</Error>";
        } else if (f->sc != SC_RETRY && part == 2) {
            status = 400;
            *body = "<Error><Code>InvalidArgument</Code><Message>Part refused.</Message></Error>";
        } else {
            snprintf(etag, 32, "\"p%d\"", part);
        }
    } else if (strcmp(method, "POST") == 0) {
        if (f->sc == SC_RETRY && f->complete++ == 0)
            *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n   <Error><Code>InternalError"
                    "</Code><Message>We encountered an internal error.</Message></Error>";
        else
            *body = "<CompleteMultipartUploadResult><ETag>\"c-3\"</ETag>"
                    "</CompleteMultipartUploadResult>";
    } else if (strcmp(method, "DELETE") == 0) {
        status = f->sc == SC_ABORT_REFUSED ? 405 : 204;
        if (status == 405)
            *body = "<Error><Code>MethodNotAllowed</Code><Message>The specified method is not "
                    "allowed against this resource.</Message></Error>";
    }
    pthread_mutex_unlock(&f->mu);
    return status;
}

static void *fake_conn(void *arg)
{
    struct fake *f = ((void **)arg)[0];
    int c = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == cap)
                goto out;
            ssize_t n = recv(c, buf + len, cap - len, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t hlen = (size_t)(end - buf) + 4;
        char method[16] = "", path[160] = "";
        sscanf(buf, "%15s %159s", method, path);
        size_t clen = 0;
        for (char *h = buf; h < end; h = strstr(h, "\r\n") + 2)
            if (strncasecmp(h, "Content-Length:", 15) == 0)
                clen = (size_t)strtoull(h + 15, NULL, 10);
        size_t have = len - hlen; /* body bytes already read */
        size_t skip = clen < have ? clen : have;
        memmove(buf, buf + hlen + skip, len - hlen - skip);
        len -= hlen + skip;
        for (size_t left = clen - skip; left;) {
            char sink[65536];
            ssize_t n = recv(c, sink, left < sizeof sink ? left : sizeof sink, 0);
            if (n <= 0)
                goto out;
            left -= (size_t)n;
        }
        /* when part 2 fails, it fails first: parts 1 and 3 are still out, and the abort must
         * wait for them */
        if (f->sc != SC_RETRY && strcmp(method, "PUT") == 0 && strstr(path, "partNumber=") &&
            !strstr(path, "partNumber=2&"))
            usleep(100 * 1000);
        char etag[32];
        const char *body;
        int status = fake_answer(f, method, path, etag, &body);
        char head[512];
        int hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s%s\r\n",
                          status, strcmp(method, "HEAD") == 0 ? (size_t)0 : strlen(body),
                          etag[0] ? "ETag: " : "", etag, etag[0] ? "\r\n" : "");
        fake_log(f, method, path, status);
        if (send(c, head, (size_t)hn, MSG_NOSIGNAL) < 0 ||
            (strcmp(method, "HEAD") != 0 && send(c, body, strlen(body), MSG_NOSIGNAL) < 0))
            goto out;
    }
out:
    free(buf);
    close(c);
    return NULL;
}

static void *fake_accept(void *arg)
{
    struct fake *f = arg;
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* closed by fake_stop */
        void **a = malloc(2 * sizeof *a);
        a[0] = f;
        a[1] = (void *)(intptr_t)c;
        pthread_t t;
        pthread_create(&t, NULL, fake_conn, a);
        pthread_detach(t);
    }
}

static void fake_start(struct fake *f, enum scenario sc)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->sc = sc;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    CHECK_INT(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_INT(listen(f->fd, 64), 0);
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, fake_accept, f);
}

static void fake_stop(struct fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->th, NULL);
    pthread_mutex_destroy(&f->mu);
}

static int fake_count(struct fake *f, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < f->nlog; i++)
        n += strncmp(f->log[i], prefix, strlen(prefix)) == 0;
    return n;
}

static enum dl_err fake_upload(enum scenario sc, struct fake *f, struct logbuf *lb, char *err,
                               size_t errlen)
{
    fake_start(f, sc);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", f->port);
    struct dl_aws_config c = { .access_key_id = "A", .secret_access_key = "S",
                               .region = "us-east-1", .endpoint_s3 = endpoint,
                               .s3_path_style = true };
    struct dl_net_opts no;
    dl_net_opts_default(&no);
    no.backoff_base_ms = 1;
    struct dl_net *n = dl_net_new(&no);
    struct dl_media_opts o = opts_for("s3://b/p", lb);
    o.cfg = &c;
    o.net = n;
    o.part_size = (size_t)5 << 20;
    struct dl_media *m = NULL;
    CHECK_INT(dl_media_new(&o, &m, err, errlen), DL_OK);
    struct dl_buf big;
    dl_buf_init(&big, 0);
    dl_buf_reserve(&big, (size_t)12 << 20);
    for (size_t i = 0; i < ((size_t)12 << 20); i++)
        dl_buf_append_byte(&big, (uint8_t)i);
    note(m, "{\"Name\":{\"S\":\"V\"}}");
    add_ok(m, "Movie_Videos/V.mp4", big.data, big.len);
    enum dl_err e = dl_media_wait(m, err, errlen);
    dl_media_end_zip(m);
    dl_media_destroy(m);
    dl_net_destroy(n); /* closes the connections: the fake's threads end */
    fake_stop(f);
    dl_buf_free(&big);
    return e;
}

static void test_multipart_faults(void)
{
    struct fake f;
    struct logbuf lb = LOGBUF;
    char err[1000];

    /* a part that gets 503 and one that gets a 400 RequestTimeout are sent again; a
     * CompleteMultipartUpload whose 200 holds an InternalError is sent again */
    CHECK_INT(fake_upload(SC_RETRY, &f, &lb, err, sizeof err), DL_OK);
    CHECK_INT(fake_count(&f, "PUT /b/p/V/Movie_Videos/V.mp4?partNumber=1&uploadId=U1 -> 503"), 1);
    CHECK_INT(fake_count(&f, "PUT /b/p/V/Movie_Videos/V.mp4?partNumber=3&uploadId=U1 -> 400"), 1);
    CHECK_INT(fake_count(&f, "PUT /b/p/V/Movie_Videos/V.mp4?partNumber="), 5);
    CHECK_INT(fake_count(&f, "POST /b/p/V/Movie_Videos/V.mp4?uploadId=U1 -> 200"), 2);
    CHECK_INT(fake_count(&f, "DELETE"), 0);
    CHECK_INT(f.nlog, 1 + 1 + 5 + 2);

    /* a part refused for good: no Complete; the upload is aborted once every part is back */
    CHECK_INT(fake_upload(SC_PART_FAILS, &f, &lb, err, sizeof err), DL_ERR_AWS);
    CHECK(strstr(err, "part 2 of 3: s3://b/p/V/Movie_Videos/V.mp4: InvalidArgument: Part refused.")
          != NULL);
    CHECK_INT(fake_count(&f, "PUT"), 3);
    CHECK(f.nlog >= 3 && strstr(f.log[2], "partNumber=2&uploadId=U1 -> 400")); /* failed first */
    CHECK_INT(fake_count(&f, "POST /b/p/V/Movie_Videos/V.mp4?uploadId"), 0);
    CHECK_INT(fake_count(&f, "DELETE /b/p/V/Movie_Videos/V.mp4?uploadId=U1 -> 204"), 1);
    CHECK(f.nlog > 0 && strncmp(f.log[f.nlog - 1], "DELETE", 6) == 0);

    /* an abort that is refused (s3rver has no AbortMultipartUpload) is said so */
    CHECK_INT(fake_upload(SC_ABORT_REFUSED, &f, &lb, err, sizeof err), DL_ERR_AWS);
    CHECK(strstr(err, "; the multipart upload U1 was not aborted") != NULL);
    CHECK(strstr(err, "MethodNotAllowed") != NULL);
    if (test_failures) {
        fprintf(stderr, "  %s\n", err);
        for (int i = 0; i < f.nlog; i++)
            fprintf(stderr, "  %s\n", f.log[i]);
    }
    dl_buf_free(&lb.text);
}

/* ------------------------------------------------------------------------------------ */
/* against s3rver                                                                        */

static struct dl_aws_config cfg;
static struct dl_net *net;
static char bucket[80];
static bool noted; /* names noted before the files (else the deferred mode) */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static void fill(struct dl_buf *b, size_t n, unsigned seed)
{
    dl_buf_reset(b);
    dl_buf_reserve(b, n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        dl_buf_append_byte(b, (uint8_t)x);
    }
}

static struct dl_media *live_media(struct logbuf *lb, size_t part_size, int max_parallel)
{
    char dest[160], err[300];
    snprintf(dest, sizeof dest, "s3://%s/media", bucket);
    struct dl_media_opts o = opts_for(dest, lb);
    o.cfg = &cfg;
    o.net = net;
    o.part_size = part_size;
    o.max_parallel = max_parallel;
    struct dl_media *m = NULL;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    return m;
}

static void check_object(const char *key, const struct dl_buf *want)
{
    struct dl_buf got;
    char msg[512];
    dl_buf_init(&got, (size_t)64 << 20);
    CHECK_INT(dl_s3_get_sync(net, &cfg, bucket, dl_cursor_str(key), &got, NULL, msg, sizeof msg),
              DL_OK);
    CHECK(got.len == want->len && memcmp(got.data, want->data, want->len) == 0);
    if (got.len != want->len)
        fprintf(stderr, "  %s: %zu bytes, want %zu (%s)\n", key, got.len, want->len, msg);
    dl_buf_free(&got);
}

/* last_modified of every object under media/, "key=time;" concatenated */
static void listing(struct dl_buf *out)
{
    struct dl_s3_objects l = { 0 };
    char msg[512];
    dl_buf_reset(out);
    CHECK_INT(dl_s3_list_all(net, &cfg, bucket, "media/", 0, 0, &l, msg, sizeof msg), DL_OK);
    for (size_t i = 0; i < l.count; i++)
        dl_buf_printf(out, "%s=%s %s;", l.items[i].key, l.items[i].last_modified, l.items[i].etag);
    dl_s3_objects_free(&l);
}

/* One zip's worth: names, files, wait, attach, end. Returns wait's result. */
static enum dl_err load_zip(struct dl_media *m, struct dl_buf *small, struct dl_buf *alt,
                            struct dl_buf *big, char *attached, size_t alen)
{
    char err[600];
    if (noted) {
        note(m, "{\"Name\":{\"S\":\"Small Film\"}}");
        note(m, "{\"Name\":{\"S\":\"Big Film\"}}");
        note(m, "{\"Name\":{\"S\":\"No Media\"}}");
    }
    add_ok(m, "Poster_Images/Small_Film.jpg", small->data, small->len);
    add_ok(m, "Poster_Images/Small_Film_alt.png", alt->data, alt->len);
    add_ok(m, "Movie_Videos/Big_Film.mp4", big->data, big->len);
    add_ok(m, "Movie_Videos/Unknown.mp4", alt->data, alt->len);
    enum dl_err e = dl_media_wait(m, err, sizeof err);
    if (e)
        fprintf(stderr, "  wait: %s\n", err);
    const char *items[] = { "{\"Name\":{\"S\":\"Small Film\"}}", "{\"Name\":{\"S\":\"Big Film\"}}",
                            "{\"Name\":{\"S\":\"No Media\"}}" };
    size_t off = 0;
    for (size_t i = 0; i < 3; i++) {
        struct dl_item it;
        struct dl_pos_err why;
        dl_item_init(&it);
        item_of(&it, items[i], &(struct dl_key_schema){ 0 });
        CHECK_INT(dl_media_attach(m, &it, &(struct dl_key_schema){ 0 }, &why), DL_OK);
        off += (size_t)snprintf(attached + off, alen - off, "%.*s\n", (int)it.wire.len,
                                (const char *)it.wire.data);
        dl_item_free(&it);
    }
    dl_media_end_zip(m);
    return e;
}

static void test_uploads(void)
{
    char msg[512];
    CHECK_INT(dl_s3_create_bucket(net, &cfg, bucket, msg, sizeof msg), DL_OK);
    struct dl_buf small, alt, big, before, after;
    dl_buf_init(&small, 0);
    dl_buf_init(&alt, 0);
    dl_buf_init(&big, 0);
    dl_buf_init(&before, 0);
    dl_buf_init(&after, 0);
    fill(&small, 70 * 1024, 1);
    fill(&alt, 3 * 1024 * 1024 + 17, 2); /* over the in-memory limit: waits in a temp file */
    fill(&big, 12 * 1024 * 1024 + 5, 3); /* 5 + 5 + 2 MiB parts */

    struct logbuf lb = LOGBUF;
    struct dl_media *m = live_media(&lb, (size_t)5 << 20, 4);
    char attached[4096];
    CHECK_INT(load_zip(m, &small, &alt, &big, attached, sizeof attached), DL_OK);
    struct dl_media_stats st;
    dl_media_stats_get(m, &st);
    CHECK_INT(st.files, 4);
    CHECK_INT(st.uploaded, 3);
    CHECK_INT(st.already_present, 0);
    CHECK_INT(st.failed, 0);
    CHECK_INT(st.unmatched_files, 1);
    CHECK_INT(st.upload_bytes, small.len + alt.len + big.len);
    CHECK_INT(st.items_with_media, 2);
    CHECK_INT(st.items_without_media, 1);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"Name\":{\"S\":\"Small Film\"},\"Image_url\":{\"L\":["
             "{\"S\":\"s3://%s/media/Small_Film/Poster_Images/Small_Film.jpg\"},"
             "{\"S\":\"s3://%s/media/Small_Film/Poster_Images/Small_Film_alt.png\"}]}}\n"
             "{\"Name\":{\"S\":\"Big Film\"},\"Video_url\":{\"L\":["
             "{\"S\":\"s3://%s/media/Big_Film/Movie_Videos/Big_Film.mp4\"}]}}\n"
             "{\"Name\":{\"S\":\"No Media\"}}\n", bucket, bucket, bucket);
    CHECK_STR(attached, want);
    check_object("media/Small_Film/Poster_Images/Small_Film.jpg", &small);
    check_object("media/Small_Film/Poster_Images/Small_Film_alt.png", &alt);
    check_object("media/Big_Film/Movie_Videos/Big_Film.mp4", &big);
    struct dl_s3_head h;
    CHECK_INT(dl_s3_head_sync(net, &cfg, bucket, dl_cursor_str("media/Unknown/Movie_Videos/Unknown.mp4"),
                              &h, msg, sizeof msg), DL_OK);
    CHECK(!h.exists);
    CHECK(logged(&lb, "media file Movie_Videos/Unknown.mp4 matches no item's Name: not uploaded"));
    CHECK(logged(&lb, "item with Name 'No Media' has no media file"));
    listing(&before);
    CHECK(strstr((const char *)before.data, "Big_Film.mp4=") != NULL);
    dl_media_destroy(m);

    /* a rerun uploads nothing: same ETags, same LastModified */
    sleep(1);
    dl_buf_reset(&lb.text);
    m = live_media(&lb, (size_t)5 << 20, 4);
    char again[4096];
    CHECK_INT(load_zip(m, &small, &alt, &big, again, sizeof again), DL_OK);
    CHECK_STR(again, want);
    dl_media_stats_get(m, &st);
    CHECK_INT(st.uploaded, 0);
    CHECK_INT(st.already_present, 3);
    CHECK_INT(st.upload_bytes, 0);
    listing(&after);
    CHECK_STR((const char *)after.data, (const char *)before.data);
    CHECK(logged(&lb, "Poster_Images/Small_Film.jpg is already at s3://"));
    dl_media_destroy(m);

    /* a changed file is uploaded again; a different part size gives another multipart ETag on
     * S3 (s3rver's stays the MD5 of the bytes, so there it counts as present) */
    small.data[100] ^= 1;
    m = live_media(&lb, (size_t)6 << 20, 2);
    CHECK_INT(load_zip(m, &small, &alt, &big, again, sizeof again), DL_OK);
    dl_media_stats_get(m, &st);
    CHECK_INT(st.uploaded + st.already_present, 3);
    CHECK(st.uploaded >= 1);
    check_object("media/Small_Film/Poster_Images/Small_Film.jpg", &small);
    dl_media_destroy(m);

    /* on the wire, a 12 MiB file with 5 MiB parts is HEAD, CreateMultipartUpload, three
     * UploadParts and CompleteMultipartUpload; a rerun is one HEAD */
    for (int round = 0; round < 2; round++) {
        struct dl_net_stats n0, n1;
        m = live_media(&lb, (size_t)5 << 20, 8);
        dl_net_stats_get(net, &n0);
        if (noted)
            note(m, "{\"Name\":{\"S\":\"Parts\"}}");
        add_ok(m, "Movie_Videos/Parts.mov", big.data, big.len);
        CHECK_INT(dl_media_wait(m, msg, sizeof msg), DL_OK);
        if (!noted) {
            char want_parts[300];
            snprintf(want_parts, sizeof want_parts, "{\"Name\":{\"S\":\"Parts\"},\"Video_url\":{\"L\":["
                     "{\"S\":\"s3://%s/media/Parts/Movie_Videos/Parts.mov\"}]}}", bucket);
            attach_is(m, "{\"Name\":{\"S\":\"Parts\"}}", want_parts);
        }
        dl_net_stats_get(net, &n1);
        CHECK_INT(n1.requests - n0.requests, round == 0 ? 6 : 1);
        CHECK_INT(n1.bytes_out - n0.bytes_out >= (round == 0 ? big.len : 0), 1);
        dl_media_end_zip(m);
        dl_media_destroy(m);
    }
    check_object("media/Parts/Movie_Videos/Parts.mov", &big);

    /* many files, few slots: all of them land */
    m = live_media(&lb, 0, 2);
    if (noted)
        note(m, "{\"Name\":{\"S\":\"Many\"}}");
    for (int i = 0; i < 40; i++) {
        char entry[64];
        snprintf(entry, sizeof entry, "Poster_Images/Many_%02d.jpg", i);
        fill(&alt, 1000 + (size_t)i, 100 + (unsigned)i);
        add_ok(m, entry, alt.data, alt.len);
    }
    CHECK_INT(dl_media_wait(m, msg, sizeof msg), DL_OK);
    if (!noted) {
        struct dl_item it;
        struct dl_pos_err why;
        dl_item_init(&it);
        item_of(&it, "{\"Name\":{\"S\":\"Many\"}}", &(struct dl_key_schema){ 0 });
        CHECK_INT(dl_media_attach(m, &it, &(struct dl_key_schema){ 0 }, &why), DL_OK);
        CHECK(strstr((const char *)it.wire.data, "Many_39.jpg\"}]}}") != NULL);
        dl_item_free(&it);
    }
    dl_media_stats_get(m, &st);
    CHECK_INT(st.uploaded, 40);
    dl_media_end_zip(m);
    fill(&alt, 1000 + 39, 100 + 39);
    check_object("media/Many/Poster_Images/Many_39.jpg", &alt);
    dl_media_destroy(m);
    fill(&alt, 3 * 1024 * 1024 + 17, 2);

    dl_buf_free(&small);
    dl_buf_free(&alt);
    dl_buf_free(&big);
    dl_buf_free(&before);
    dl_buf_free(&after);
    dl_buf_free(&lb.text);
}

static void test_upload_failures(void)
{
    /* a bucket that does not exist: every upload fails, wait says which, attach leaves them out */
    struct logbuf lb = LOGBUF;
    char dest[160], err[600];
    snprintf(dest, sizeof dest, "s3://%s-missing/media", bucket);
    struct dl_media_opts o = opts_for(dest, &lb);
    o.cfg = &cfg;
    o.net = net;
    o.part_size = (size_t)5 << 20;
    struct dl_media *m = NULL;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    struct dl_buf big;
    dl_buf_init(&big, 0);
    fill(&big, 11 * 1024 * 1024, 9);
    note(m, "{\"Name\":{\"S\":\"F\"}}");
    add_ok(m, "Poster_Images/F.jpg", "abc", 3);
    add_ok(m, "Movie_Videos/F.mp4", big.data, big.len);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_ERR_NOT_FOUND);
    CHECK(strstr(err, "s3://src/movies.zip: media file ") != NULL);
    CHECK(strstr(err, "NoSuchBucket") != NULL);
    fprintf(stderr, "  %s\n", err);
    attach_is(m, "{\"Name\":{\"S\":\"F\"}}", "{\"Name\":{\"S\":\"F\"}}");
    CHECK(logged(&lb, "1 s3://src/movies.zip: media file Movie_Videos/F.mp4 could not be uploaded"));
    struct dl_media_stats st;
    dl_media_stats_get(m, &st);
    CHECK_INT(st.failed, 2);
    CHECK_INT(st.uploaded, 0);
    dl_media_end_zip(m);
    CHECK(logged(&lb, "item with Name 'F' has media files, but none could be uploaded"));
    dl_media_destroy(m);

    /* nothing listening: transport errors after the network layer's retries */
    struct dl_aws_config down = cfg;
    down.endpoint_s3 = "http://127.0.0.1:1";
    struct dl_net_opts no;
    dl_net_opts_default(&no);
    no.max_attempts = 2;
    no.backoff_base_ms = 1;
    struct dl_net *n2 = dl_net_new(&no);
    o = opts_for("s3://b/p", &lb);
    o.cfg = &down;
    o.net = n2;
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    note(m, "{\"Name\":{\"S\":\"F\"}}");
    add_ok(m, "Poster_Images/F.jpg", "abc", 3);
    CHECK_INT(dl_media_wait(m, err, sizeof err), DL_ERR_NET);
    CHECK(strstr(err, "cannot connect") != NULL);
    dl_media_end_zip(m);
    /* destroyed with the network layer still up, then the other way round */
    dl_media_destroy(m);
    CHECK_INT(dl_media_new(&o, &m, err, sizeof err), DL_OK);
    note(m, "{\"Name\":{\"S\":\"F\"}}");
    add_ok(m, "Poster_Images/F.jpg", "abc", 3);
    dl_net_destroy(n2);
    CHECK_INT(dl_media_wait(m, err, sizeof err) != DL_OK, 1);
    dl_media_destroy(m);
    dl_buf_free(&big);
    dl_buf_free(&lb.text);
}

int main(void)
{
    TEST_RUN(test_options);
    TEST_RUN(test_rule_for);
    TEST_RUN(test_matching);
    TEST_RUN(test_matching_deferred);
    TEST_RUN(test_keys_and_uris);
    TEST_RUN(test_key_schema);
    TEST_RUN(test_s3_answers);
    TEST_RUN(test_multipart_faults);

    const char *endpoint = getenv("DDBLOAD_TEST_S3_ENDPOINT");
    if (!endpoint || !*endpoint) {
        test_summary();
        printf("SKIP: DDBLOAD_TEST_S3_ENDPOINT not set\n");
        return 77;
    }
    cfg.access_key_id = (char *)env_or("AWS_ACCESS_KEY_ID", "S3RVER");
    cfg.secret_access_key = (char *)env_or("AWS_SECRET_ACCESS_KEY", "S3RVER");
    cfg.region = (char *)env_or("AWS_REGION", "us-east-1");
    cfg.endpoint_s3 = (char *)endpoint;
    cfg.s3_path_style = true;
    snprintf(bucket, sizeof bucket, "ddbload-mediatest-%ld-%ld", (long)getpid(), (long)time(NULL));
    struct dl_net_opts o;
    dl_net_opts_default(&o);
    o.max_transfers = 16;
    net = dl_net_new(&o);
    CHECK(net != NULL);
    if (!net)
        return test_summary();
    for (int mode = 0; mode < 2; mode++) {
        noted = mode == 0;
        snprintf(bucket, sizeof bucket, "ddbload-mediatest-%ld-%ld-%s", (long)getpid(),
                 (long)time(NULL), noted ? "n" : "d");
        fprintf(stderr, "  names %s\n", noted ? "noted first" : "not noted (deferred uploads)");
        TEST_RUN(test_uploads);
    }
    noted = true;
    TEST_RUN(test_upload_failures);
    dl_net_destroy(net);
    return test_summary();
}
