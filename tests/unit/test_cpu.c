/* SIMD level selection (src/core/cpu.c): names, the choice without DDBLOAD_SIMD, what
 * DDBLOAD_SIMD=<each level> and an unknown value give (level and note), dl_cpu_force. The level
 * is chosen once per process, so each DDBLOAD_SIMD value is tried in a child process; the
 * parent itself never calls dl_cpu_level before the children have run. Expectations come from
 * dl_cpu_has, so the test passes on any CPU. */
#include "core/cpu.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* The spec: avx512 > avx2 > sse42 > scalar and neon > scalar; a level the CPU lacks falls
 * back to the best one below it. */
static enum dl_simd_level expect_for(enum dl_simd_level l)
{
    while (!dl_cpu_has(l))
        l = l == DL_SIMD_AVX512 ? DL_SIMD_AVX2 : l == DL_SIMD_AVX2 ? DL_SIMD_SSE42 : DL_SIMD_SCALAR;
    return l;
}

static enum dl_simd_level expect_best(void)
{
    if (dl_cpu_has(DL_SIMD_AVX512))
        return DL_SIMD_AVX512;
    if (dl_cpu_has(DL_SIMD_NEON))
        return DL_SIMD_NEON;
    return expect_for(DL_SIMD_AVX2);
}

/* In a child with DDBLOAD_SIMD=env (NULL: unset): the level it picks and its note ("" if none). */
static int child_level(const char *env, char *note, size_t cap)
{
    int fd[2];
    note[0] = 0;
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fd[0]);
        if (env)
            setenv("DDBLOAD_SIMD", env, 1);
        else
            unsetenv("DDBLOAD_SIMD");
        char out[256];
        const char *n = dl_cpu_level_note();
        int len = snprintf(out, sizeof out, "%d %s", (int)dl_cpu_level(), n ? n : "");
        _exit(write(fd[1], out, (size_t)len) == len ? 0 : 1);
    }
    close(fd[1]);
    char in[256];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof in - 1 && (r = read(fd[0], in + got, sizeof in - 1 - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    in[got] = 0;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    char *sp = strchr(in, ' ');
    if (!sp)
        return -1;
    snprintf(note, cap, "%s", sp + 1);
    return atoi(in);
}

static void test_names(void)
{
    static const char *const want[DL_SIMD_COUNT] = { "scalar", "sse42", "avx2", "neon", "avx512" };
    for (int l = 0; l < DL_SIMD_COUNT; l++)
        CHECK_STR(dl_simd_name((enum dl_simd_level)l), want[l]);
    CHECK_INT(DL_SIMD_AVX512, 4);
    CHECK_STR(dl_simd_name((enum dl_simd_level)DL_SIMD_COUNT), "unknown");
    CHECK(dl_cpu_has(DL_SIMD_SCALAR));
    CHECK(!dl_cpu_has((enum dl_simd_level)DL_SIMD_COUNT));
    CHECK(!dl_cpu_has((enum dl_simd_level)-1));
    /* x86-64 and aarch64 levels never come together */
    CHECK(!(dl_cpu_has(DL_SIMD_NEON) && (dl_cpu_has(DL_SIMD_SSE42) || dl_cpu_has(DL_SIMD_AVX512))));
    /* AVX-512 implies the levels below it */
    if (dl_cpu_has(DL_SIMD_AVX512))
        CHECK(dl_cpu_has(DL_SIMD_AVX2) && dl_cpu_has(DL_SIMD_SSE42));
}

static void test_env(void)
{
    char note[256], want[256];
    CHECK_INT(child_level(NULL, note, sizeof note), expect_best());
    CHECK_STR(note, "");
    CHECK_INT(child_level("", note, sizeof note), expect_best());
    CHECK_STR(note, "");
    for (int l = 0; l < DL_SIMD_COUNT; l++) {
        const char *name = dl_simd_name((enum dl_simd_level)l);
        enum dl_simd_level e = expect_for((enum dl_simd_level)l);
        CHECK_INT(child_level(name, note, sizeof note), e);
        if (e == (enum dl_simd_level)l)
            want[0] = 0;
        else
            snprintf(want, sizeof want, "DDBLOAD_SIMD=%s is not supported by this CPU; using %s", name,
                     dl_simd_name(e));
        CHECK_STR(note, want);
    }
    CHECK_INT(child_level("avx-512", note, sizeof note), expect_best());
    snprintf(want, sizeof want, "DDBLOAD_SIMD=avx-512 is unknown (scalar, sse42, avx2, avx512, neon); using %s",
             dl_simd_name(expect_best()));
    CHECK_STR(note, want);
}

static void test_force(void)
{
    enum dl_simd_level start = dl_cpu_level();
    CHECK(dl_cpu_has(start));
    for (int l = 0; l < DL_SIMD_COUNT; l++) {
        enum dl_simd_level was = dl_cpu_level();
        int r = dl_cpu_force((enum dl_simd_level)l);
        if (dl_cpu_has((enum dl_simd_level)l)) {
            CHECK_INT(r, was);
            CHECK_INT(dl_cpu_level(), l);
        } else {
            CHECK_INT(r, -1);
            CHECK_INT(dl_cpu_level(), was);
        }
    }
    dl_cpu_force(start);
}

int main(void)
{
    fprintf(stderr, "levels:");
    for (int l = 0; l < DL_SIMD_COUNT; l++)
        if (dl_cpu_has((enum dl_simd_level)l))
            fprintf(stderr, " %s", dl_simd_name((enum dl_simd_level)l));
    fprintf(stderr, "\n");
    TEST_RUN(test_names);
    TEST_RUN(test_env); /* before anything in this process calls dl_cpu_level */
    TEST_RUN(test_force);
    return test_summary();
}
