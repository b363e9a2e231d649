/*
 * LiveProof C tests of the session API: tokens, signers, sessions, outcomes and versioned
 * structs through the C ABI. Every new function gets its bad input (NULL handles and
 * outputs, bad sizes and values) with the exact code and message words, and "nothing
 * written on failure" is checked with sentinels; the session's states (pushed after finish,
 * finished twice, cancelled then finished, a failing signer callback then a succeeding
 * re-finish) run on real frames. Run under valgrind and under ASan/UBSan by
 * `cargo xtask test`.
 *
 *   test_session CAPTURE_DIR TOKEN SERVER_KEY.pub.pem DEVICE_KEY.pem
 *
 * CAPTURE_DIR holds frame_0000.png, frame_0001.png, ... (a liveproof-synth capture made for
 * the token's seed); the token was issued with the server key; DEVICE_KEY is a PKCS#8 P-256
 * key (`liveproof keygen`). Needs LIVEPROOF_MODELS_DIR and ORT_DYLIB_PATH. Prints one line
 * per case and ends with `c tests: N passed, M failed`; exits 1 if any case failed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_test.h"
#include "liveproof.h"
#include "png_rgba.h"

/* Frames each session test pushes: enough to be mid-capture, few enough for valgrind. */
#define FRAMES 4

static const char *g_models;
static char *g_token_bytes, *g_server_pem, *g_device_pem;
static size_t g_token_len;
static png_rgba g_frames[FRAMES];
static lp_engine *g_engine;
static lp_token *g_token;
static lp_signer *g_signer;
static EVP_PKEY *g_key;

static lp_token *const SENTINEL_TOKEN = (lp_token *)(uintptr_t)0x5EED;
static lp_signer *const SENTINEL_SIGNER = (lp_signer *)(uintptr_t)0x5EED;
static lp_session *const SENTINEL_SESSION = (lp_session *)(uintptr_t)0x5EED;
static lp_outcome *const SENTINEL_OUTCOME = (lp_outcome *)(uintptr_t)0x5EED;

static char *read_file(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *data = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    data[size] = '\0';
    if (out_len != NULL) {
        *out_len = (size_t)size;
    }
    return data;
}


static lp_feedback new_feedback(void) {
    lp_feedback fb;
    memset(&fb, 0, sizeof fb);
    fb.struct_size = sizeof fb;
    return fb;
}

/* Pushes the test frames 33 ms apart; returns how many succeeded. */
static int push_frames(lp_session *s, lp_feedback *fb) {
    int ok = 0;
    for (int i = 0; i < FRAMES; i++) {
        lp_frame f = png_rgba_frame(&g_frames[i], 1000000000ull + (uint64_t)i * 33333333ull);
        ok += lp_session_push_frame(s, &f, fb) == LP_OK;
    }
    return ok;
}

/* ---- a callback signer over OpenSSL, with switches for the failure cases ------------- */

typedef struct {
    EVP_PKEY *key;
    int32_t fail_with;   /* non-zero: return it instead of signing */
    int corrupt;         /* 1: return 64 raw bytes that are not a signature of the message */
    int wrong_format;    /* 1: declare format 9 */
    int calls, frees;
} signer_state;

static int32_t test_sign(void *user_data, const uint8_t *message, size_t message_len,
                         uint8_t *out_sig, size_t sig_capacity, size_t *out_sig_len,
                         uint32_t *out_format) {
    signer_state *st = user_data;
    st->calls++;
    if (st->fail_with != 0) {
        return st->fail_with;
    }
    if (sig_capacity != LP_SIGNATURE_MAX_SIZE) {
        return 77;
    }
    if (st->corrupt) {
        memset(out_sig, 0x11, 64);
        *out_sig_len = 64;
        *out_format = LP_SIGNATURE_RAW;
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = sig_capacity;
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, st->key) == 1 &&
             EVP_DigestSign(ctx, out_sig, &n, message, message_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return -1;
    }
    *out_sig_len = n;
    *out_format = st->wrong_format ? 9u : (uint32_t)LP_SIGNATURE_DER;
    return 0;
}

static void test_free(void *user_data) { ((signer_state *)user_data)->frees++; }

static int device_public_key(uint8_t pub[LP_PUBLIC_KEY_SIZE]) {
    size_t n = 0;
    return EVP_PKEY_get_octet_string_param(g_key, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                           LP_PUBLIC_KEY_SIZE, &n) == 1 &&
           n == LP_PUBLIC_KEY_SIZE;
}

/* ---- names ----------------------------------------------------------------------------- */

static void case_names(void) {
    EXPECT(LP_SESSION_STATE == 5 && LP_TOKEN_REJECTED == 104 && LP_SIGNER_FAILED == 202);
    EXPECT(strcmp(lp_result_name(LP_SESSION_STATE), "LP_SESSION_STATE") == 0);
    EXPECT(strcmp(lp_result_name(LP_TOKEN_REJECTED), "LP_TOKEN_REJECTED") == 0);
    EXPECT(strcmp(lp_result_name(LP_SIGNER_FAILED), "LP_SIGNER_FAILED") == 0);
    EXPECT(strcmp(lp_band_name(LP_BAND_PASS), "pass") == 0);
    EXPECT(strcmp(lp_band_name(LP_BAND_RETRY), "retry") == 0);
    EXPECT(strcmp(lp_band_name(LP_BAND_FAIL), "fail") == 0);
    EXPECT(strcmp(lp_band_name(0), "unknown") == 0);
    EXPECT(strcmp(lp_phase_name(LP_PHASE_POSITIONING), "positioning") == 0);
    EXPECT(strcmp(lp_phase_name(LP_PHASE_DONE), "done") == 0);
    EXPECT(strcmp(lp_phase_name(4), "unknown") == 0);
    EXPECT(strcmp(lp_prompt_name(LP_PROMPT_NONE), "none") == 0);
    EXPECT(strcmp(lp_prompt_name(LP_PROMPT_TURN_LEFT), "turn_left") == 0);
    EXPECT(strcmp(lp_prompt_name(LP_PROMPT_SMILE), "smile") == 0);
    EXPECT(strcmp(lp_prompt_name(7), "unknown") == 0);
    EXPECT(strcmp(lp_reason_name(LP_REASON_PASSIVE_SCORE_HIGH), "passive_score_high") == 0);
    EXPECT(strcmp(lp_reason_name(LP_REASON_INJECTION_DETECTED), "injection_detected") == 0);
    EXPECT(strcmp(lp_reason_name(LP_REASON_CLIENT_DECISION_MISMATCH),
                  "client_decision_mismatch") == 0);
    EXPECT(LP_REASON_CLIENT_DECISION_MISMATCH == 21 && LP_REASON_COUNT == 21);
    EXPECT(strcmp(lp_reason_name(0), "unknown") == 0 && strcmp(lp_reason_name(22), "unknown") == 0);
    EXPECT(strcmp(lp_flow_name(LP_FLOW_ACCOUNT_OPENING), "account_opening") == 0);
    EXPECT(strcmp(lp_tier_name(LP_TIER_HIGH), "high") == 0);
    EXPECT(strcmp(lp_flow_name(0), "unknown") == 0 && strcmp(lp_tier_name(4), "unknown") == 0);
    /* Every reason value 1..=LP_REASON_COUNT has a name. */
    for (uint32_t r = 1; r <= LP_REASON_COUNT; r++) {
        EXPECT(strcmp(lp_reason_name(r), "unknown") != 0);
    }
}

static void case_default_policy(void) {
    size_t size = 0, n = 0;
    EXPECT_ERROR(lp_policy_default_json_size(NULL), LP_NULL_ARGUMENT, "`out_size`");
    EXPECT(lp_policy_default_json_size(&size) == LP_OK && size > 100);
    char *json = malloc(size);
    memset(json, 'Z', size);
    EXPECT_ERROR(lp_policy_default_json(json, size - 1, &n), LP_BUFFER_TOO_SMALL,
                 "expected at least");
    EXPECT(json[0] == 'Z' && n == 0);
    EXPECT(lp_policy_default_json(json, size, &n) == LP_OK && n == size - 1 && json[0] == '{');
    EXPECT(strstr(json, "\"schema_version\"") != NULL);
    free(json);
}

/* ---- versioned structs ----------------------------------------------------------------- */

/* A version-1 lp_engine_config (48 bytes, before `preload_session`) in a 49-byte block: the
 * library writes exactly 48 bytes (the guard byte survives) and reads no more (under ASan or
 * valgrind, a read of `preload_session` at offset 48..52 would be reported). The engine it
 * makes is the one the later cases use. */
static void case_older_engine_config(void) {
    EXPECT(LP_ENGINE_CONFIG_SIZE_V2 == sizeof(lp_engine_config));
    EXPECT(LP_ENGINE_CONFIG_SIZE_V1 < LP_ENGINE_CONFIG_SIZE_V2);
    uint8_t *block = malloc(LP_ENGINE_CONFIG_SIZE_V1 + 1);
    memset(block, 0xA5, LP_ENGINE_CONFIG_SIZE_V1 + 1);
    lp_engine_config *v1 = (lp_engine_config *)block;
    EXPECT_ERROR(lp_engine_config_init(LP_ENGINE_CONFIG_SIZE_V1, v1), LP_OK, "");
    EXPECT(v1->struct_size == LP_ENGINE_CONFIG_SIZE_V1 && v1->max_faces == 4);
    EXPECT(block[LP_ENGINE_CONFIG_SIZE_V1] == 0xA5);
    v1->models_dir = g_models;
    EXPECT_ERROR(lp_engine_new(v1, &g_engine), LP_OK, "");
    EXPECT(g_engine != NULL && block[LP_ENGINE_CONFIG_SIZE_V1] == 0xA5);
    /* A size between the versions is refused before anything is read past it. */
    v1->struct_size = LP_ENGINE_CONFIG_SIZE_V1 - 8;
    lp_engine *e = NULL;
    EXPECT_ERROR(lp_engine_new(v1, &e), LP_INVALID_ARGUMENT, "struct_size is 40",
                 "expected one of 48, 56");
    EXPECT(e == NULL);
    free(block);
}

static void case_session_config(void) {
    lp_session_config c;
    memset(&c, 0x5A, sizeof c);
    EXPECT_ERROR(lp_session_config_init(sizeof c + 8, &c), LP_INVALID_ARGUMENT,
                 "lp_session_config struct_size is", "expected one of 40, 72");
    EXPECT(c.off_path == 0x5A);
    EXPECT_ERROR(lp_session_config_init(sizeof c, NULL), LP_NULL_ARGUMENT, "`out_config`");
    EXPECT(LP_SESSION_CONFIG_SIZE_V2 == sizeof c);
    EXPECT(lp_session_config_init(sizeof c, &c) == LP_OK);
    EXPECT(c.struct_size == sizeof c && c.off_path == 1 && c.live_capture == 1);
    EXPECT(c.capture_device == NULL && c.target_oval[2] > 0 && c.target_oval[3] > 0);
    EXPECT(c.template_json == NULL && c.camera_name == NULL && c.declared_width == 0 &&
           c.declared_fps == 0.0f && c.declared_format == 0);
    lp_session *s = SENTINEL_SESSION;
    lp_session_config bad = c;
    bad.off_path = 2;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "config->off_path is 2");
    bad = c;
    bad.target_oval[0] = NAN;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "target_oval", "not finite");
    bad = c;
    bad.template_json = "{\"format\": 1}";
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "config->template_json is not a LiveProof face template");
    bad = c;
    bad.declared_fps = -30.0f;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "config->declared_fps is -30");
    bad = c;
    bad.declared_format = 99;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "config->declared_format", "frame format 99");
    /* A version-1 struct (the first 40 bytes) is still accepted: its later fields are never
     * read, so garbage after it changes nothing. */
    bad = c;
    bad.struct_size = LP_SESSION_CONFIG_SIZE_V1;
    bad.template_json = "not json";
    bad.declared_format = 99;
    lp_session *v1 = NULL;
    EXPECT(lp_session_new(g_engine, g_token, g_signer, &bad, &v1) == LP_OK && v1 != NULL);
    lp_session_free(v1);
    bad = c;
    bad.struct_size = 16;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, &bad, &s), LP_INVALID_ARGUMENT,
                 "struct_size is 16");
    EXPECT(s == SENTINEL_SESSION);
}

/* ---- tokens ------------------------------------------------------------------------------ */

static void case_token_bad_input(void) {
    const uint8_t *bytes = (const uint8_t *)g_token_bytes;
    const char *keys[1] = {g_server_pem};
    lp_token *t = SENTINEL_TOKEN;
    EXPECT_ERROR(lp_token_verify(NULL, 10, keys, 1, NULL, &t), LP_NULL_ARGUMENT, "`token`",
                 "lp_token_verify");
    EXPECT_ERROR(lp_token_verify(bytes, 0, keys, 1, NULL, &t), LP_INVALID_ARGUMENT,
                 "token_len is 0");
    EXPECT_ERROR(lp_token_verify(bytes, g_token_len, NULL, 1, NULL, &t), LP_NULL_ARGUMENT,
                 "`server_keys_pem`");
    EXPECT_ERROR(lp_token_verify(bytes, g_token_len, keys, 0, NULL, &t), LP_INVALID_ARGUMENT,
                 "no server public key is pinned");
    const char *null_key[1] = {NULL};
    EXPECT_ERROR(lp_token_verify(bytes, g_token_len, null_key, 1, NULL, &t), LP_NULL_ARGUMENT,
                 "`server_keys_pem[0]`");
    const char *not_pem[2] = {g_server_pem, "-----BEGIN PUBLIC KEY-----\nAAAA\n"};
    EXPECT_ERROR(lp_token_verify(bytes, g_token_len, not_pem, 2, NULL, &t),
                 LP_INVALID_ARGUMENT, "server key 1 is not a P-256 SPKI PEM");
    EXPECT_ERROR(lp_token_verify(bytes, g_token_len, keys, 1, NULL, NULL), LP_NULL_ARGUMENT,
                 "`out_token`");
    EXPECT(t == SENTINEL_TOKEN);
}

static void case_token_rejected(void) {
    const char *keys[1] = {g_server_pem};
    lp_token *t = SENTINEL_TOKEN;
    /* One byte of the signature flipped. */
    uint8_t *tampered = malloc(g_token_len);
    memcpy(tampered, g_token_bytes, g_token_len);
    tampered[g_token_len - 5] ^= 0x01;
    EXPECT_ERROR(lp_token_verify(tampered, g_token_len, keys, 1, NULL, &t), LP_TOKEN_REJECTED,
                 "token rejected", "signature does not verify");
    /* A payload byte flipped: the signature no longer covers it. */
    memcpy(tampered, g_token_bytes, g_token_len);
    tampered[g_token_len / 2] ^= 0x01;
    lp_result r = lp_token_verify(tampered, g_token_len, keys, 1, NULL, &t);
    EXPECT_ERROR(r, LP_TOKEN_REJECTED, "token rejected");
    /* Truncated. */
    EXPECT_ERROR(lp_token_verify(tampered, 10, keys, 1, NULL, &t), LP_TOKEN_REJECTED,
                 "token rejected", "malformed");
    free(tampered);
    /* Another server's key (this device's public key stands in for one). */
    char other_pem[512];
    BIO *bio = BIO_new(BIO_s_mem());
    EXPECT(bio != NULL && PEM_write_bio_PUBKEY(bio, g_key) == 1);
    int len = BIO_read(bio, other_pem, sizeof other_pem - 1);
    other_pem[len > 0 ? len : 0] = '\0';
    BIO_free(bio);
    const char *wrong[1] = {other_pem};
    EXPECT_ERROR(lp_token_verify((const uint8_t *)g_token_bytes, g_token_len, wrong, 1, NULL, &t),
                 LP_TOKEN_REJECTED, "unknown key id");
    EXPECT(t == SENTINEL_TOKEN);
    /* With the right key among others, it passes. */
    const char *both[2] = {other_pem, g_server_pem};
    lp_token *ok = NULL;
    EXPECT_ERROR(lp_token_verify((const uint8_t *)g_token_bytes, g_token_len, both, 2, NULL, &ok),
                 LP_OK, "");
    lp_token_free(ok);
}

static void case_token_accessors(void) {
    char id[LP_SESSION_ID_SIZE];
    size_t n = 99;
    memset(id, 'Z', sizeof id);
    EXPECT_ERROR(lp_token_session_id(NULL, id, sizeof id, &n), LP_NULL_ARGUMENT, "`token`");
    EXPECT_ERROR(lp_token_session_id(g_token, id, LP_SESSION_ID_SIZE - 1, &n),
                 LP_BUFFER_TOO_SMALL, "length 32", "at least 33");
    EXPECT(id[0] == 'Z' && n == 99);
    EXPECT(lp_token_session_id(g_token, id, sizeof id, &n) == LP_OK && n == 32 &&
           strlen(id) == 32);
    uint64_t exp = 0;
    EXPECT_ERROR(lp_token_expires_at(g_token, NULL), LP_NULL_ARGUMENT, "`out_unix_s`");
    EXPECT(lp_token_expires_at(g_token, &exp) == LP_OK && exp > (uint64_t)time(NULL));
    lp_flow flow = 0;
    lp_tier tier = 0;
    EXPECT_ERROR(lp_token_flow_tier(g_token, &flow, NULL), LP_NULL_ARGUMENT, "`out_tier`");
    EXPECT(flow == 0);
    EXPECT(lp_token_flow_tier(g_token, &flow, &tier) == LP_OK);
    EXPECT(flow == LP_FLOW_ACCOUNT_OPENING && tier == LP_TIER_MEDIUM);
    size_t size = 0;
    EXPECT(lp_token_policy_json_size(g_token, &size) == LP_OK && size > 100);
    char *json = malloc(size);
    json[0] = 'Z';
    EXPECT_ERROR(lp_token_policy_json(g_token, json, size - 1, &n), LP_BUFFER_TOO_SMALL,
                 "expected at least");
    EXPECT(json[0] == 'Z');
    EXPECT(lp_token_policy_json(g_token, json, size, &n) == LP_OK && n == size - 1);
    EXPECT(json[0] == '{' && strstr(json, "\"bands\"") != NULL);
    printf("    session %s expires at %llu, %s/%s, policy %zu bytes\n", id,
           (unsigned long long)exp, lp_flow_name(flow), lp_tier_name(tier), n);
    free(json);
    lp_token_free(NULL);
}

/* ---- signers ----------------------------------------------------------------------------- */

static void case_signer_bad_input(void) {
    lp_signer *s = SENTINEL_SIGNER;
    signer_state st = {0};
    st.key = g_key;
    uint8_t pub[LP_PUBLIC_KEY_SIZE];
    EXPECT(device_public_key(pub));
    EXPECT_ERROR(lp_signer_new_software(NULL, &s), LP_NULL_ARGUMENT, "`pkcs8_pem`");
    EXPECT_ERROR(lp_signer_new_software("not a key", &s), LP_INVALID_ARGUMENT,
                 "not a PKCS#8 P-256 private key");
    EXPECT_ERROR(lp_signer_new_software(g_device_pem, NULL), LP_NULL_ARGUMENT, "`out_signer`");
    EXPECT_ERROR(lp_signer_new_callback(NULL, 65, test_sign, &st, test_free, &s),
                 LP_NULL_ARGUMENT, "`public_key`");
    EXPECT_ERROR(lp_signer_new_callback(pub, 65, NULL, &st, test_free, &s), LP_NULL_ARGUMENT,
                 "`sign`");
    EXPECT_ERROR(lp_signer_new_callback(pub, 64, test_sign, &st, test_free, &s),
                 LP_INVALID_ARGUMENT, "public_key_len is 64", "expected 65");
    uint8_t off_curve[LP_PUBLIC_KEY_SIZE] = {0x04};
    EXPECT_ERROR(lp_signer_new_callback(off_curve, 65, test_sign, &st, test_free, &s),
                 LP_INVALID_ARGUMENT, "not a P-256 public key");
    EXPECT_ERROR(lp_signer_new_callback(pub, 65, test_sign, &st, test_free, NULL),
                 LP_NULL_ARGUMENT, "`out_signer`");
    EXPECT(s == SENTINEL_SIGNER);
    /* On failure the library keeps nothing: user_data is never freed by it. */
    EXPECT(st.frees == 0 && st.calls == 0);

    /* The public key comes back as given; a short buffer writes nothing. */
    lp_signer *cb = NULL;
    EXPECT(lp_signer_new_callback(pub, 65, test_sign, &st, test_free, &cb) == LP_OK);
    uint8_t got[LP_PUBLIC_KEY_SIZE + 1];
    memset(got, 0xEE, sizeof got);
    size_t n = 5;
    EXPECT_ERROR(lp_signer_public_key(cb, got, 64, &n), LP_BUFFER_TOO_SMALL, "length 64",
                 "at least 65");
    EXPECT(got[0] == 0xEE && n == 5);
    EXPECT_ERROR(lp_signer_public_key(NULL, got, sizeof got, &n), LP_NULL_ARGUMENT, "`signer`");
    EXPECT(lp_signer_public_key(cb, got, sizeof got, &n) == LP_OK && n == 65);
    EXPECT(memcmp(got, pub, 65) == 0 && got[65] == 0xEE);
    /* The software signer of the same key has the same public key. */
    uint8_t soft[LP_PUBLIC_KEY_SIZE];
    EXPECT(lp_signer_public_key(g_signer, soft, sizeof soft, &n) == LP_OK);
    EXPECT(memcmp(soft, pub, 65) == 0);
    lp_signer_free(cb);
    EXPECT(st.frees == 1 && st.calls == 0);
    lp_signer_free(NULL);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void case_session_new_bad_input(void) {
    lp_session *s = SENTINEL_SESSION;
    EXPECT_ERROR(lp_session_new(NULL, g_token, g_signer, NULL, &s), LP_NULL_ARGUMENT,
                 "`engine`", "lp_session_new");
    EXPECT_ERROR(lp_session_new(g_engine, NULL, g_signer, NULL, &s), LP_NULL_ARGUMENT,
                 "`token`");
    EXPECT_ERROR(lp_session_new(g_engine, g_token, NULL, NULL, &s), LP_NULL_ARGUMENT,
                 "`signer`");
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, NULL, NULL), LP_NULL_ARGUMENT,
                 "`out_session`");
    uint8_t seed[LP_SEED_SIZE] = {1, 2, 3};
    EXPECT_ERROR(lp_session_new_local(g_engine, NULL, 32, LP_FLOW_LOGIN, LP_TIER_LOW, NULL, NULL,
                                      &s),
                 LP_NULL_ARGUMENT, "`seed`");
    EXPECT_ERROR(lp_session_new_local(g_engine, seed, 31, LP_FLOW_LOGIN, LP_TIER_LOW, NULL, NULL,
                                      &s),
                 LP_INVALID_ARGUMENT, "seed_len is 31", "expected 32");
    EXPECT_ERROR(lp_session_new_local(g_engine, seed, 32, 0, LP_TIER_LOW, NULL, NULL, &s),
                 LP_INVALID_ARGUMENT, "flow 0 is not an lp_flow");
    EXPECT_ERROR(lp_session_new_local(g_engine, seed, 32, LP_FLOW_LOGIN, 9, NULL, NULL, &s),
                 LP_INVALID_ARGUMENT, "tier 9 is not an lp_tier");
    EXPECT_ERROR(lp_session_new_local(g_engine, seed, 32, LP_FLOW_LOGIN, LP_TIER_LOW, "{\"x\":1}",
                                      NULL, &s),
                 LP_INVALID_ARGUMENT, "policy_json");
    EXPECT(s == SENTINEL_SESSION);
}

static void case_push_frame_bad_input(void) {
    lp_session *s = NULL;
    EXPECT_ERROR(lp_session_new(g_engine, g_token, g_signer, NULL, &s), LP_OK, "");
    if (s == NULL) {
        return;
    }
    lp_feedback fb = new_feedback();
    lp_frame f = png_rgba_frame(&g_frames[0], 1000000000ull);
    EXPECT_ERROR(lp_session_push_frame(NULL, &f, &fb), LP_NULL_ARGUMENT, "`session`");
    EXPECT_ERROR(lp_session_push_frame(s, NULL, &fb), LP_NULL_ARGUMENT, "`frame`");
    EXPECT_ERROR(lp_session_push_frame(s, &f, NULL), LP_NULL_ARGUMENT, "`out_feedback`");
    /* Zero size and a stride shorter than a row: the feedback is not written. */
    fb.progress = -1.0f;
    lp_frame zero = f;
    zero.width = 0;
    EXPECT_ERROR(lp_session_push_frame(s, &zero, &fb), LP_INVALID_ARGUMENT, "zero side");
    lp_frame stride = f;
    stride.planes[0].row_stride = 100;
    EXPECT_ERROR(lp_session_push_frame(s, &stride, &fb), LP_INVALID_ARGUMENT,
                 "stride 100 < width 480 × 4 bytes");
    lp_frame no_data = f;
    no_data.planes[0].data = NULL;
    EXPECT_ERROR(lp_session_push_frame(s, &no_data, &fb), LP_NULL_ARGUMENT,
                 "frame->planes[0].data");
    /* An unknown feedback size: refused before the frame is used. */
    lp_feedback odd = new_feedback();
    odd.struct_size = 12;
    EXPECT_ERROR(lp_session_push_frame(s, &f, &odd), LP_INVALID_ARGUMENT,
                 "lp_feedback struct_size is 12", "expected one of 72");
    EXPECT(fb.progress == -1.0f && odd.struct_size == 12 && odd.progress == 0.0f);
    /* The session is still open: the next good frame is taken, and exactly struct_size bytes
     * of the feedback are written (the guard after it survives). */
    struct {
        lp_feedback fb;
        uint8_t guard[16];
    } padded;
    memset(&padded, 0xC3, sizeof padded);
    padded.fb.struct_size = sizeof padded.fb;
    EXPECT_ERROR(lp_session_push_frame(s, &f, &padded.fb), LP_OK, "");
    EXPECT(padded.fb.struct_size == sizeof padded.fb && padded.guard[0] == 0xC3 &&
           padded.guard[15] == 0xC3);
    EXPECT(padded.fb.phase <= LP_PHASE_DONE && padded.fb.prompt <= LP_PROMPT_SMILE);
    EXPECT(padded.fb.progress >= 0.0f && padded.fb.progress <= 1.0f);
    EXPECT(padded.fb.has_face_box && padded.fb.face_box[0] < padded.fb.face_box[2]);
    EXPECT(padded.fb.step_count >= 1 && padded.fb.step_index <= padded.fb.step_count);
    EXPECT(padded.fb.target_oval[2] > 0.0f);
    printf("    feedback: phase %s prompt %s step %u/%u progress %.2f box [%.2f %.2f %.2f %.2f]\n",
           lp_phase_name(padded.fb.phase), lp_prompt_name(padded.fb.prompt),
           padded.fb.step_index, padded.fb.step_count, padded.fb.progress,
           padded.fb.face_box[0], padded.fb.face_box[1], padded.fb.face_box[2],
           padded.fb.face_box[3]);
    lp_session_free(s);
    lp_session_free(NULL);
}

/* Finish decides and signs; after it, every call is LP_SESSION_STATE. */
static void case_finish_then_misuse(void) {
    lp_session *s = NULL;
    EXPECT(lp_session_new(g_engine, g_token, g_signer, NULL, &s) == LP_OK && s != NULL);
    if (s == NULL) {
        return;
    }
    lp_feedback fb = new_feedback();
    EXPECT(push_frames(s, &fb) == FRAMES);
    lp_outcome *o = SENTINEL_OUTCOME;
    EXPECT_ERROR(lp_session_finish(NULL, &o), LP_NULL_ARGUMENT, "`session`");
    EXPECT_ERROR(lp_session_finish(s, NULL), LP_NULL_ARGUMENT, "`out_outcome`");
    EXPECT(o == SENTINEL_OUTCOME);
    EXPECT_ERROR(lp_session_finish(s, &o), LP_OK, "");
    if (o == SENTINEL_OUTCOME) {
        lp_session_free(s);
        return;
    }
    /* A few frames are not a capture: retry, signed all the same. */
    lp_band band = 0;
    bool cancelled = true;
    EXPECT(lp_outcome_band(o, &band) == LP_OK && band == LP_BAND_RETRY);
    EXPECT(lp_outcome_cancelled(o, &cancelled) == LP_OK && !cancelled);
    lp_frame f = png_rgba_frame(&g_frames[0], 5000000000ull);
    fb.progress = -1.0f;
    EXPECT_ERROR(lp_session_push_frame(s, &f, &fb), LP_SESSION_STATE, "push_frame",
                 "already finished");
    EXPECT(fb.progress == -1.0f);
    lp_outcome *again = SENTINEL_OUTCOME;
    EXPECT_ERROR(lp_session_finish(s, &again), LP_SESSION_STATE, "finish", "already finished");
    EXPECT_ERROR(lp_session_cancel(s, &again), LP_SESSION_STATE, "cancel", "already finished");
    EXPECT(again == SENTINEL_OUTCOME);

    /* Outcome accessors: bad input writes nothing. */
    EXPECT_ERROR(lp_outcome_band(NULL, &band), LP_NULL_ARGUMENT, "`outcome`");
    EXPECT_ERROR(lp_outcome_band(o, NULL), LP_NULL_ARGUMENT, "`out_band`");
    bool has = true;
    double fused = 7.0;
    EXPECT_ERROR(lp_outcome_fused(o, &has, NULL), LP_NULL_ARGUMENT, "`out_fused`");
    EXPECT(has && fused == 7.0);
    EXPECT(lp_outcome_fused(o, &has, &fused) == LP_OK && (has ? isfinite(fused) : isnan(fused)));
    lp_reason reasons[LP_REASON_COUNT];
    size_t n = 99;
    EXPECT(lp_outcome_reasons(o, reasons, LP_REASON_COUNT, &n) == LP_OK && n == 1);
    EXPECT(reasons[0] == LP_REASON_QUALITY_POOR_RETRY);
    size_t count = n;
    n = 99;
    EXPECT_ERROR(lp_outcome_reasons(o, NULL, 0, &n), LP_BUFFER_TOO_SMALL, "expected at least");
    EXPECT(n == 99);
    EXPECT_ERROR(lp_outcome_reasons(o, NULL, 3, &n), LP_NULL_ARGUMENT, "`reasons`");
    char id[LP_SESSION_ID_SIZE], token_id[LP_SESSION_ID_SIZE];
    EXPECT(lp_outcome_session_id(o, id, sizeof id, &n) == LP_OK && n == 32);
    EXPECT(lp_token_session_id(g_token, token_id, sizeof token_id, &n) == LP_OK);
    EXPECT(strcmp(id, token_id) == 0);
    size_t json_size = 0;
    EXPECT(lp_outcome_json_size(o, &json_size) == LP_OK && json_size > 100);
    char *json = malloc(json_size);
    EXPECT(lp_outcome_json(o, json, json_size, &n) == LP_OK && n == json_size - 1);
    EXPECT(strstr(json, "\"band\":\"retry\"") != NULL);
    free(json);

    /* The signed bytes: the size query, then a buffer one byte short writes nothing. */
    size_t signed_size = 0;
    EXPECT(lp_outcome_signed_size(o, &signed_size) == LP_OK && signed_size > 100);
    uint8_t *buf = malloc(signed_size + 1);
    memset(buf, 0x77, signed_size + 1);
    n = 1234;
    EXPECT_ERROR(lp_outcome_signed(o, buf, signed_size - 1, &n), LP_BUFFER_TOO_SMALL,
                 "lp_outcome_signed", "expected at least");
    EXPECT(n == 1234 && buf[0] == 0x77);
    EXPECT_ERROR(lp_outcome_signed(o, NULL, signed_size, &n), LP_NULL_ARGUMENT, "`buf`");
    EXPECT(lp_outcome_signed(o, buf, signed_size + 1, &n) == LP_OK && n == signed_size);
    /* COSE_Sign1: CBOR tag 18 (0xD2) then a 4-element array (0x84). */
    EXPECT(buf[0] == 0xD2 && buf[1] == 0x84 && buf[signed_size] == 0x77);
    printf("    %s with %zu reason(s), first %s; signed %zu bytes\n", lp_band_name(band), count,
           lp_reason_name(reasons[0]), signed_size);
    free(buf);
    lp_outcome_free(o);
    lp_outcome_free(NULL);
    lp_session_free(s);
}

static void case_cancel_then_finish(void) {
    lp_session *s = NULL;
    EXPECT(lp_session_new(g_engine, g_token, g_signer, NULL, &s) == LP_OK && s != NULL);
    if (s == NULL) {
        return;
    }
    lp_feedback fb = new_feedback();
    EXPECT(push_frames(s, &fb) == FRAMES);
    lp_outcome *o = NULL;
    EXPECT_ERROR(lp_session_cancel(s, &o), LP_OK, "");
    lp_outcome *again = SENTINEL_OUTCOME;
    EXPECT_ERROR(lp_session_finish(s, &again), LP_SESSION_STATE, "already finished");
    EXPECT(again == SENTINEL_OUTCOME);
    if (o != NULL) {
        lp_band band = 0;
        bool cancelled = false;
        lp_reason reasons[LP_REASON_COUNT];
        size_t n = 0, signed_size = 0;
        EXPECT(lp_outcome_band(o, &band) == LP_OK && band == LP_BAND_RETRY);
        EXPECT(lp_outcome_cancelled(o, &cancelled) == LP_OK && cancelled);
        /* Quality is judged before the challenge: four frames are below the policy's
         * minimum of usable frames, so the reason is quality, not capture_incomplete (which
         * a cancel gives once the quality suffices). */
        EXPECT(lp_outcome_reasons(o, reasons, LP_REASON_COUNT, &n) == LP_OK);
        EXPECT(n == 1 && reasons[0] == LP_REASON_QUALITY_POOR_RETRY);
        EXPECT(lp_outcome_signed_size(o, &signed_size) == LP_OK && signed_size > 100);
        printf("    cancelled: %s, %zu reason(s), signed %zu bytes\n", lp_band_name(band), n,
               signed_size);
    }
    lp_outcome_free(o);
    lp_session_free(s);
}

/* A failing callback keeps the decision: finish again signs it. */
static void case_failing_signer_then_refinish(void) {
    signer_state st = {0};
    st.key = g_key;
    uint8_t pub[LP_PUBLIC_KEY_SIZE];
    EXPECT(device_public_key(pub));
    lp_signer *cb = NULL;
    EXPECT(lp_signer_new_callback(pub, 65, test_sign, &st, test_free, &cb) == LP_OK);
    lp_session *s = NULL;
    EXPECT(lp_session_new(g_engine, g_token, cb, NULL, &s) == LP_OK && s != NULL);
    /* The session holds the signer: freeing the handle now does not free user_data. */
    lp_signer_free(cb);
    EXPECT(st.frees == 0);
    if (s == NULL) {
        return;
    }
    lp_feedback fb = new_feedback();
    EXPECT(push_frames(s, &fb) == FRAMES);
    lp_outcome *o = SENTINEL_OUTCOME;
    st.fail_with = -7;
    EXPECT_ERROR(lp_session_finish(s, &o), LP_SIGNER_FAILED, "signer failed",
                 "the signer callback returned -7");
    EXPECT(o == SENTINEL_OUTCOME && st.calls == 1);
    /* Decided, its signature owed: no more frames. */
    lp_frame f = png_rgba_frame(&g_frames[0], 9000000000ull);
    EXPECT_ERROR(lp_session_push_frame(s, &f, &fb), LP_SESSION_STATE,
                 "signature is owed");
    /* A signature that does not verify, and an unknown format, are signer failures too. */
    st.fail_with = 0;
    st.corrupt = 1;
    EXPECT_ERROR(lp_session_finish(s, &o), LP_SIGNER_FAILED, "does not verify");
    st.corrupt = 0;
    st.wrong_format = 1;
    EXPECT_ERROR(lp_session_finish(s, &o), LP_SIGNER_FAILED, "declared format 9");
    st.wrong_format = 0;
    EXPECT(o == SENTINEL_OUTCOME);
    /* The user confirms: the same decision is signed. */
    EXPECT_ERROR(lp_session_finish(s, &o), LP_OK, "");
    EXPECT(st.calls == 4);
    if (o != SENTINEL_OUTCOME) {
        size_t signed_size = 0;
        lp_band band = 0;
        EXPECT(lp_outcome_signed_size(o, &signed_size) == LP_OK && signed_size > 100);
        EXPECT(lp_outcome_band(o, &band) == LP_OK && band == LP_BAND_RETRY);
        printf("    re-finished after 3 signer failures: %s, signed %zu bytes\n",
               lp_band_name(band), signed_size);
        lp_outcome_free(o);
    }
    EXPECT_ERROR(lp_session_finish(s, &o), LP_SESSION_STATE, "already finished");
    lp_session_free(s);
    /* The last reference gone: user_data freed exactly once. */
    EXPECT(st.frees == 1);
}

/* A local session decides on the device and is never signed. */
static void case_local_session(void) {
    uint8_t seed[LP_SEED_SIZE];
    for (int i = 0; i < LP_SEED_SIZE; i++) {
        seed[i] = (uint8_t)(i * 7 + 1);
    }
    lp_session_config c;
    lp_session_config_init(sizeof c, &c);
    c.live_capture = 0;
    c.off_path = 0;
    c.capture_device = "test frames";
    lp_session *s = NULL;
    EXPECT_ERROR(lp_session_new_local(g_engine, seed, sizeof seed, LP_FLOW_LOGIN, LP_TIER_LOW,
                                      NULL, &c, &s),
                 LP_OK, "");
    if (s == NULL) {
        return;
    }
    lp_feedback fb = new_feedback();
    EXPECT(push_frames(s, &fb) == FRAMES);
    lp_outcome *o = NULL;
    EXPECT(lp_session_finish(s, &o) == LP_OK && o != NULL);
    if (o != NULL) {
        size_t signed_size = 99, n = 99;
        char id[LP_SESSION_ID_SIZE];
        EXPECT(lp_outcome_signed_size(o, &signed_size) == LP_OK && signed_size == 0);
        EXPECT(lp_outcome_signed(o, NULL, 0, &n) == LP_OK && n == 0);
        EXPECT(lp_outcome_session_id(o, id, sizeof id, &n) == LP_OK);
        /* The local session id is the seed's first 16 bytes in hex. */
        EXPECT(strncmp(id, "01080f161d242b32", 16) == 0);
        lp_outcome_free(o);
    }
    lp_session_free(s);
}

int main(int argc, char **argv) {
    g_models = getenv("LIVEPROOF_MODELS_DIR");
    if (argc != 5 || g_models == NULL || getenv("ORT_DYLIB_PATH") == NULL) {
        fprintf(stderr, "usage: %s CAPTURE_DIR TOKEN SERVER_KEY.pub.pem DEVICE_KEY.pem "
                        "(with LIVEPROOF_MODELS_DIR and ORT_DYLIB_PATH set)\n",
                argv[0]);
        return 2;
    }
    g_token_bytes = read_file(argv[2], &g_token_len);
    g_server_pem = read_file(argv[3], NULL);
    g_device_pem = read_file(argv[4], NULL);
    FILE *kf = fopen(argv[4], "r");
    g_key = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    if (kf != NULL) {
        fclose(kf);
    }
    int loaded = 0;
    for (int i = 0; i < FRAMES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/frame_%04d.png", argv[1], i);
        loaded += png_rgba_load(path, &g_frames[i]) == 0;
    }
    if (g_token_bytes == NULL || g_server_pem == NULL || g_device_pem == NULL || g_key == NULL ||
        loaded != FRAMES) {
        fprintf(stderr, "cannot read the inputs\n");
        return 2;
    }

    run("names of every new enum", case_names);
    run("default policy JSON", case_default_policy);
    run("older, shorter lp_engine_config (version 1) makes the engine", case_older_engine_config);
    const char *keys[1] = {g_server_pem};
    if (g_engine == NULL ||
        lp_token_verify((const uint8_t *)g_token_bytes, g_token_len, keys, 1, NULL, &g_token) !=
            LP_OK ||
        lp_signer_new_software(g_device_pem, &g_signer) != LP_OK) {
        char msg[1024];
        size_t n = 0;
        lp_last_error_message(msg, sizeof msg, &n);
        printf("FAIL set-up: %s\n", msg);
        g_failed++;
    } else {
        run("token: bad input", case_token_bad_input);
        run("token: tampered, truncated, wrong server key", case_token_rejected);
        run("token: accessors", case_token_accessors);
        run("signer: bad input and public key", case_signer_bad_input);
        run("session config: sizes and values", case_session_config);
        run("session: bad input to lp_session_new*", case_session_new_bad_input);
        run("session: bad frames and feedback sizes", case_push_frame_bad_input);
        run("session: finish, then push, finish and cancel again", case_finish_then_misuse);
        run("session: cancel then finish", case_cancel_then_finish);
        run("session: failing signer callback, then re-finish", case_failing_signer_then_refinish);
        run("session: local, never signed", case_local_session);
    }
    lp_signer_free(g_signer);
    lp_token_free(g_token);
    lp_engine_free(g_engine);
    for (int i = 0; i < FRAMES; i++) {
        png_rgba_free(&g_frames[i]);
    }
    EVP_PKEY_free(g_key);
    free(g_token_bytes);
    free(g_server_pem);
    free(g_device_pem);
    printf("c tests: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
