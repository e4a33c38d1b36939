/* DynamoDB JSON-protocol client pieces: request preparation, error decoding, DescribeTable. */
#ifndef DL_PUMP_DDB_H
#define DL_PUMP_DDB_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/config.h"
#include "item/item.h"
#include "net/net.h"

/* Set up r as a signed POST of operation op ("BatchWriteItem", ...) to cfg's DynamoDB
 * endpoint. The caller fills r->body with the JSON request. */
enum dl_err dl_ddb_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg, const char *op);

/* Decode a DynamoDB error response: type without its namespace ("ValidationException") and
 * message. Returns false when the body is not a DynamoDB error document. */
bool dl_ddb_error(const struct dl_http_req *r, char *type, size_t typelen, char *msg, size_t msglen);

/* True for the error types DynamoDB uses for capacity: retry them, never dead-letter at once. */
bool dl_ddb_is_throttle(const char *type);

struct dl_table_info {
    struct dl_key_schema ks;  /* names owned by this struct */
    bool on_demand;
    uint64_t wcu;             /* provisioned write capacity (0 for on-demand) */
    uint64_t max_wru;         /* on-demand OnDemandThroughput.MaxWriteRequestUnits, 0 if unset */
    uint64_t item_count;
    char status[32];
};

/* DescribeTable (synchronous). Errors come with a message a user can act on: the table is
 * missing (DL_ERR_NOT_FOUND), the endpoint cannot be reached (DL_ERR_NET), the credentials are
 * refused (DL_ERR_CREDENTIALS), ... */
enum dl_err dl_ddb_describe_table(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                                  struct dl_table_info *out, char *err, size_t errlen);
void dl_table_info_free(struct dl_table_info *t);

/* CreateTable: on-demand (PAY_PER_REQUEST) with the given key schema. Does not wait for ACTIVE.
 * A table that already exists is DL_ERR_AWS with DynamoDB's ResourceInUseException message. */
enum dl_err dl_ddb_create_table(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                                const struct dl_key_schema *ks, char *err, size_t errlen);

/* Turn a failed DynamoDB call into one message and error code (shared by all synchronous
 * calls). what names the call for the message, e.g. "DescribeTable on table 'Orders'". */
enum dl_err dl_ddb_explain(const struct dl_http_req *r, const struct dl_aws_config *cfg, const char *what,
                           char *err, size_t errlen);

/* The largest non-negative integer (plain digits, below 10^19, as N or S) held in attribute attr
 * of table, found with a parallel Scan of `segments` segments (1..64) that projects only attr.
 * Values that are not such integers are counted, not used. Synchronous; threads of its own. */
struct dl_scan_max {
    bool found;             /* some item holds an integer in attr */
    uint64_t max;
    uint64_t items;         /* items scanned */
    uint64_t not_integer;   /* items whose attr is not a usable integer */
    uint64_t pages;
};
enum dl_err dl_ddb_scan_max(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                            const char *attr, int segments, struct dl_scan_max *out, char *err, size_t errlen);

#endif
