/*
 * The C tests' harness, shared by test_errors.c and test_session.c: cases, EXPECT, and
 * EXPECT_ERROR (an exact lp_result code and words the thread's last error message must
 * contain). Each program prints `c tests: N passed, M failed` at the end.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef LIVEPROOF_EXAMPLES_C_TEST_H
#define LIVEPROOF_EXAMPLES_C_TEST_H

#include <stdio.h>
#include <string.h>

#include "liveproof.h"

static int g_passed, g_failed;
static int g_case_failed;

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            printf("    line %d: expected %s\n", __LINE__, #cond);                     \
            g_case_failed = 1;                                                         \
        }                                                                              \
    } while (0)

static void last_error(char *buf, size_t len) {
    size_t n = 0;
    if (lp_last_error_message(buf, len, &n) != LP_OK) {
        snprintf(buf, len, "<lp_last_error_message failed>");
    }
}

/* Checks a result code and that the thread's last message contains each of `words`. */
static void expect_error(int line, lp_result got, lp_result want, const char *const *words) {
    char msg[2048];
    last_error(msg, sizeof msg);
    if (got != want) {
        printf("    line %d: got %s (%u), expected %s (%u): %s\n", line, lp_result_name(got),
               (unsigned)got, lp_result_name(want), (unsigned)want, msg);
        g_case_failed = 1;
        return;
    }
    for (; words && *words; words++) {
        if (strstr(msg, *words) == NULL) {
            printf("    line %d: message lacks \"%s\": %s\n", line, *words, msg);
            g_case_failed = 1;
        }
    }
    printf("    %s: %s\n", lp_result_name(got), msg);
}
#define EXPECT_ERROR(got, want, ...)                                                   \
    do {                                                                               \
        const char *const words_[] = {__VA_ARGS__, NULL};                              \
        expect_error(__LINE__, (got), (want), words_);                                 \
    } while (0)

static void run(const char *name, void (*f)(void)) {
    g_case_failed = 0;
    printf("case %s\n", name);
    fflush(stdout);
    f();
    if (g_case_failed) {
        g_failed++;
        printf("FAIL %s\n", name);
    } else {
        g_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

#endif /* LIVEPROOF_EXAMPLES_C_TEST_H */
