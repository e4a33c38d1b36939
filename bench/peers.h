/* Peer decoders for bench_decoders, each in its own file (jansson's and json-c's headers
 * cannot share one translation unit). Each parses (and re-serialises) every NDJSON line of
 * p[0..len) once; *records counts the lines, *check sums the output lengths. */
#ifndef DL_BENCH_PEERS_H
#define DL_BENCH_PEERS_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success, -1 if a line was rejected. */
int peer_jansson(const uint8_t *p, size_t len, uint64_t *records, uint64_t *check);
int peer_jsonc(const uint8_t *p, size_t len, uint64_t *records, uint64_t *check);

#endif
