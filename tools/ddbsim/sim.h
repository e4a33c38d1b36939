/* ddbsim: a DynamoDB capacity simulator (internal declarations shared by its .c files).
 *
 * One thread, one epoll loop. server.c speaks HTTP/1.1 and injects faults, api.c
 * implements the DynamoDB JSON operations, table.c holds tables, their items and their
 * capacity buckets, attrs.c validates AttributeValues and computes item sizes and
 * canonical keys, side.c serves the /_sim/ endpoints. The model is documented in
 * docs/capacity-simulator.md. */
#ifndef DDBSIM_SIM_H
#define DDBSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "item/item.h"

#define SIM_MAX_BODY ((size_t)16 << 20)     /* DynamoDB's 16 MB request limit */
#define SIM_MAX_ITEM ((size_t)409600)       /* 400 KB */
#define SIM_MAX_BATCH 25
#define SIM_HASH_KEY_MAX 2048
#define SIM_RANGE_KEY_MAX 1024
#define SIM_MAX_DEPTH 32                    /* nesting levels of L/M DynamoDB accepts */
#define SIM_SCAN_PAGE_BYTES ((size_t)1 << 20) /* Scan stops after 1 MB of items, like DynamoDB */

/* ---- configuration (main.c) ---- */

enum sim_op {
    OP_BATCH_WRITE_ITEM,
    OP_PUT_ITEM,
    OP_GET_ITEM,
    OP_DELETE_ITEM,
    OP_SCAN,
    OP_CREATE_TABLE,
    OP_DESCRIBE_TABLE,
    OP_UPDATE_TABLE,
    OP_DELETE_TABLE,
    OP_LIST_TABLES,
    OP_COUNT,
    OP_UNKNOWN = -1,
};

struct sim_config {
    char host[64];
    int port;
    double wcu;              /* --wcu: WriteCapacityUnits of --table tables */
    double rcu;              /* --rcu */
    bool on_demand;          /* --on-demand: --table tables are PAY_PER_REQUEST */
    double burst_seconds;    /* --burst-seconds (300) */
    double initial_burst;    /* --initial-burst seconds of WCU in the bucket at creation; <0: = burst */
    int partitions;          /* --partitions (0: auto) */
    double partition_wcu;    /* --partition-wcu (1000) */
    double ondemand_initial; /* --ondemand-initial (4000): a new on-demand table's instant limit */
    double ondemand_max;     /* --ondemand-max (40000): table quota unless OnDemandThroughput says less */
    double fail_rate, reset_rate, stall_rate;
    bool reset_after_apply;
    double latency_ms, latency_jitter_ms;
    uint32_t fault_ops;      /* bit (1 << op) set: faults and latency apply to that operation */
    uint64_t seed;
    double max_lifetime;     /* seconds; 0 = none */
    int series_seconds;      /* length of the per-second series in /_sim/stats */
    int max_connections;
    bool history;            /* keep the bytes of every overwritten version for /_sim/writes */
    int verbose;
};

extern struct sim_config g_cfg;

/* ---- clocks and randomness (main.c) ---- */
double sim_now(void);        /* monotonic seconds */
double sim_wall(void);       /* epoch seconds */
uint64_t sim_rand(void);     /* xorshift64*, seeded by --seed */
double sim_rand01(void);     /* uniform [0, 1) */
void sim_request_id(char out[53]);

/* ---- attribute values (attrs.c) ---- */

/* How a validation failure is reported to the client. */
enum sim_fail_kind { FAIL_NONE = 0, FAIL_VALIDATION, FAIL_SERIALIZATION };

struct sim_fail {
    enum sim_fail_kind kind;
    char msg[512];
};

void sim_fail_set(struct sim_fail *f, enum sim_fail_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Validate one item (an object of AttributeValues) the way DynamoDB does and compute its
 * size in bytes (DynamoDB's rules). false with *f filled on an invalid value. */
bool sim_item_size(const struct dl_json *item, size_t *size, struct dl_arena *a, struct sim_fail *f);

struct sim_key_attr {
    char *name;
    size_t len;
    char type; /* 'S', 'N', 'B' */
};

struct sim_table;

/* Where the key checks come from: messages differ between operations. */
enum sim_key_ctx {
    KEYCTX_ITEM_PUT,   /* PutItem's Item: "Missing the key pk in the item" */
    KEYCTX_ITEM_BATCH, /* BatchWriteItem's PutRequest.Item: "does not match the schema" */
    KEYCTX_KEY,        /* a Key map (GetItem, DeleteItem, DeleteRequest, ExclusiveStartKey) */
};

/* Check the key attributes of an item or key map against the table's schema and append the
 * canonical key bytes to key (type, length, value per attribute; N canonicalised, B decoded).
 * *pk_len is set to the length of the partition key's part. For KEYCTX_KEY the map must
 * hold exactly the key attributes. Also appends the key as DynamoDB JSON to key_json when
 * it is not NULL. false with *f filled when invalid. */
bool sim_item_key(const struct sim_table *t, const struct dl_json *obj, enum sim_key_ctx ctx,
                  const uint8_t *wire, size_t wire_len, struct dl_buf *key, size_t *pk_len,
                  struct dl_buf *key_json, struct sim_fail *f);

/* End offset (exclusive) of the already validated JSON value starting at p[start]. */
size_t sim_json_end(const uint8_t *p, size_t len, size_t start);

uint64_t sim_hash(const uint8_t *p, size_t n);

/* ---- capacity (table.c) ---- */

struct sim_bucket {
    double tokens;
    double rate; /* per second */
    double cap;
    double last; /* sim_now() of the last refill */
};

/* ---- tables and items (table.c) ---- */

struct sim_version { /* an earlier write of a key, kept for /_sim/writes */
    uint64_t seq;
    char op;         /* 'P' put, 'D' delete */
    uint32_t len;
    uint8_t *raw;    /* the item as received (NULL for a delete) */
    struct sim_version *next;
};

struct sim_entry {
    uint64_t hash;
    uint8_t *raw;          /* current item bytes exactly as received; NULL when deleted */
    uint32_t raw_len;
    uint32_t size;         /* DynamoDB size of the current item */
    uint32_t writes;       /* puts + deletes applied to this key */
    uint32_t order;        /* index in the table's insertion order */
    uint64_t last_seq;
    char last_op;
    bool live;
    struct sim_version *hist, *hist_tail; /* earlier writes, oldest first */
    uint32_t key_len, key_json_len;
    uint8_t data[];        /* key bytes, then the key as DynamoDB JSON */
};

static inline const uint8_t *sim_entry_key(const struct sim_entry *e) { return e->data; }
static inline const uint8_t *sim_entry_key_json(const struct sim_entry *e) { return e->data + e->key_len; }

struct sim_slot {
    uint64_t hash;
    struct sim_entry *e; /* NULL: empty */
};

struct sim_table {
    char *name;
    size_t name_len;
    int nkeys;
    struct sim_key_attr key[2];
    struct dl_key_schema ks; /* the same key, for src/item's size and key code */
    bool on_demand;
    double rcu, wcu;
    double od_max_write, od_max_read; /* OnDemandThroughput; <= 0: not set */
    double created;                   /* epoch seconds */
    uint64_t id;

    struct sim_bucket bucket;
    int nparts;
    struct sim_bucket *parts;
    /* on-demand: the limit is 2 x the highest per-second consumption seen so far */
    double od_peak;
    int64_t od_sec;
    double od_sec_used;

    /* item store: open addressing over entries, plus insertion order for Scan. A slot holds
     * its entry's hash so a probe reads the entry only on a likely match (one cache miss per
     * lookup instead of one per occupied slot passed). */
    struct sim_slot *slots;
    size_t nslots, nused;
    struct sim_entry **order;
    size_t norder, order_alloc;
    uint64_t item_count, size_bytes;

    /* counters since the last reset-stats */
    uint64_t st_items_written, st_items_deleted, st_unprocessed, st_throttled_requests;
    double st_wcu;
};

struct sim_table *sim_table_find(const uint8_t *name, size_t len);
/* Create a table (name copied). NULL if one exists (or on OOM). */
struct sim_table *sim_table_new(const uint8_t *name, size_t len, int nkeys,
                                const struct sim_key_attr *keys, bool on_demand, double rcu,
                                double wcu, double od_max_read, double od_max_write);
void sim_table_delete(struct sim_table *t);
/* (Re)configure capacity: buckets, partitions, on-demand state. keep_tokens keeps the
 * current fill (UpdateTable) instead of the initial burst. */
void sim_table_configure(struct sim_table *t, bool keep_tokens);
size_t sim_table_count(void);
struct sim_table *sim_table_at(size_t i); /* sorted by name */

/* The store and capacity functions take the key's hash h = sim_hash(key, key_len) and the
 * partition key's pk_hash = sim_hash(key, pk_len), computed once per request. */
struct sim_entry *sim_store_find(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h);
/* Start loading what a write will touch: its store slot and its partition's bucket.
 * BatchWriteItem calls it for all its requests before applying them, so their cache misses
 * overlap. */
void sim_store_prefetch(const struct sim_table *t, uint64_t h, uint64_t pk_hash);
/* Apply a put (raw != NULL) or a delete (raw == NULL). Copies the bytes. */
bool sim_store_write(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h,
                     const uint8_t *key_json, size_t key_json_len, const uint8_t *raw,
                     size_t raw_len, size_t size);

/* Capacity: cost of the write of a new item of `size` over the item currently stored
 * (DynamoDB charges the larger of the two; a delete costs the deleted item, 1 if none). */
double sim_write_cost(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h,
                      size_t new_size, bool is_delete);
/* Try to take `cost` units for a write to the partition key hashed pk_hash: SIM_TAKEN (consumed), or why
 * not: SIM_THROTTLE_TABLE (the table's bucket) or SIM_THROTTLE_PARTITION (the key's). */
enum { SIM_TAKEN = 0, SIM_THROTTLE_TABLE, SIM_THROTTLE_PARTITION };
int sim_capacity_take(struct sim_table *t, uint64_t pk_hash, double cost, double now);
/* The table's current instant write limit (WCU or on-demand 2 x peak, capped). */
double sim_table_limit(const struct sim_table *t, double now);

/* ---- statistics (side.c) ---- */

struct sim_stats {
    uint64_t requests, batch_requests, items_written, items_deleted, unprocessed_items;
    uint64_t throttled_requests, throttled_items, validation_errors, other_errors;
    uint64_t fault_500, fault_503, fault_reset, fault_stall;
    uint64_t by_op[OP_COUNT];
    double wcu_consumed;
    double since;
};
extern struct sim_stats g_stats;
extern uint64_t g_conn_open, g_conn_accepted; /* server.c */
extern uint64_t g_write_seq;

void sim_stats_init(void);
void sim_stats_reset(void);
/* Record consumption into the per-second series. */
void sim_series_add(double now, double wcu, uint64_t items, uint64_t throttled_items);

/* A side endpoint: method, path (without query), query string. Fills status, body and
 * content type. false if the path is not a side endpoint. */
bool sim_side_handle(const char *method, const char *path, size_t path_len, const char *query,
                     size_t query_len, int *status, struct dl_buf *body, const char **ctype);

/* ---- operations (api.c) ---- */

enum sim_op sim_op_parse(const char *target, size_t len);
const char *sim_op_name(enum sim_op op);
/* Run one operation on its JSON body; fills the response body and returns the HTTP status. */
int sim_api_handle(enum sim_op op, const uint8_t *body, size_t len, struct dl_buf *out);
/* Error bodies in DynamoDB's shape. */
void sim_error_body(struct dl_buf *out, const char *type, const char *msg);

/* ---- JSON helpers (api.c) ---- */
void sim_json_double(struct dl_buf *b, double v);

#endif
