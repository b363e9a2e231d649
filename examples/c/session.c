/*
 * LiveProof C example: one whole capture session, as a device app runs it.
 *
 *   session CAPTURE_DIR --token TOKEN --server-key SERVER.pub.pem
 *           (--device-key DEVICE.key | --callback-key DEVICE.key) --out RESULT.cose
 *
 * CAPTURE_DIR holds frame_NNNN.png and capture.json (per-frame `file` and `timestamp_ns`), as
 * liveproof-synth writes them; a camera app pushes its buffers instead. The token is checked
 * on the device against the pinned server key, every frame is pushed with its capture time,
 * the feedback is printed when the phase or prompt changes, and the signed result is written
 * for the server (`liveproof-verifier verify RESULT.cose ...`).
 *
 * --device-key signs with a software key (lp_signer_new_software). --callback-key signs
 * through lp_signer_new_callback with OpenSSL holding the key, the way a host wires its
 * hardware keystore: the callback hashes with SHA-256, signs ES256 and returns DER.
 *
 * Needs LIVEPROOF_MODELS_DIR and ORT_DYLIB_PATH (`eval "$(cargo xtask env)"`).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveproof.h"
#include "png_rgba.h"

/* Prints the failed call, its code and the thread's last error message. */
static int fail(const char *what, lp_result r) {
    char msg[1024];
    size_t n = 0;
    lp_last_error_message(msg, sizeof msg, &n);
    fprintf(stderr, "%s: %s: %s\n", what, lp_result_name(r), msg);
    return 1;
}

/* The whole file, NUL-terminated (free it); NULL on failure. */
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
        fprintf(stderr, "%s: read failed\n", path);
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

/* One frame of capture.json. */
typedef struct {
    char file[64];
    uint64_t timestamp_ns;
} frame_entry;

/* The frames of capture.json in order: each `"file"` followed by its `"timestamp_ns"` before
 * the next `"file"` (minimal parsing for this example's input; use a JSON library in an
 * app). Returns the count (0 on failure); free *out. */
static size_t read_capture(const char *dir, frame_entry **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/capture.json", dir);
    char *json = read_file(path, NULL);
    if (json == NULL) {
        return 0;
    }
    size_t n = 0, cap = 0;
    frame_entry *frames = NULL;
    for (char *p = strstr(json, "\"file\""); p != NULL;) {
        char *next = strstr(p + 1, "\"file\"");
        char *ts = strstr(p, "\"timestamp_ns\"");
        char *name = strchr(p + 6, '"');
        char *end = name ? strchr(name + 1, '"') : NULL;
        if (ts != NULL && (next == NULL || ts < next) && end != NULL &&
            (size_t)(end - name - 1) < sizeof frames->file) {
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                frame_entry *grown = realloc(frames, cap * sizeof *frames);
                if (grown == NULL) {
                    break;
                }
                frames = grown;
            }
            memcpy(frames[n].file, name + 1, (size_t)(end - name - 1));
            frames[n].file[end - name - 1] = '\0';
            frames[n].timestamp_ns = strtoull(strchr(ts + 14, ':') + 1, NULL, 10);
            n++;
        }
        p = next;
    }
    free(json);
    *out = frames;
    return n;
}

/* ---- the callback signer: OpenSSL holds the key, as a keystore would ------------------ */

static int32_t openssl_sign(void *user_data, const uint8_t *message, size_t message_len,
                            uint8_t *out_sig, size_t sig_capacity, size_t *out_sig_len,
                            uint32_t *out_format) {
    EVP_PKEY *key = user_data;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = sig_capacity;
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, out_sig, &n, message, message_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return -1;
    }
    *out_sig_len = n;
    *out_format = LP_SIGNATURE_DER;
    return 0;
}

static void openssl_free_key(void *user_data) { EVP_PKEY_free(user_data); }

static lp_result callback_signer(const char *pem_path, lp_signer **out) {
    FILE *f = fopen(pem_path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL) {
        fclose(f);
    }
    uint8_t pub[LP_PUBLIC_KEY_SIZE];
    size_t pub_len = 0;
    if (key == NULL || EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                       sizeof pub, &pub_len) != 1) {
        fprintf(stderr, "%s: not a P-256 private key OpenSSL can read\n", pem_path);
        EVP_PKEY_free(key);
        return LP_INVALID_ARGUMENT;
    }
    lp_result r = lp_signer_new_callback(pub, pub_len, openssl_sign, key, openssl_free_key, out);
    if (r != LP_OK) {
        EVP_PKEY_free(key); /* On failure the library keeps nothing. */
    }
    return r;
}

/* ---- the session ----------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *dir = NULL, *token_path = NULL, *server_key = NULL, *device_key = NULL,
               *callback_key = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--token") == 0          ? &token_path
                           : strcmp(argv[i], "--server-key") == 0   ? &server_key
                           : strcmp(argv[i], "--device-key") == 0   ? &device_key
                           : strcmp(argv[i], "--callback-key") == 0 ? &callback_key
                           : strcmp(argv[i], "--out") == 0          ? &out_path
                                                                    : NULL;
        if (opt != NULL && i + 1 < argc) {
            *opt = argv[++i];
        } else if (argv[i][0] != '-' && dir == NULL) {
            dir = argv[i];
        } else {
            dir = NULL;
            break;
        }
    }
    if (dir == NULL || token_path == NULL || server_key == NULL || out_path == NULL ||
        (device_key == NULL) == (callback_key == NULL)) {
        fprintf(stderr, "usage: %s CAPTURE_DIR --token FILE --server-key PEM "
                        "(--device-key PEM | --callback-key PEM) --out FILE\n",
                argv[0]);
        return 2;
    }
    const char *models = getenv("LIVEPROOF_MODELS_DIR");
    if (models == NULL) {
        fprintf(stderr, "set LIVEPROOF_MODELS_DIR and ORT_DYLIB_PATH\n");
        return 2;
    }

    int status = 1;
    lp_engine *engine = NULL;
    lp_token *token = NULL;
    lp_signer *signer = NULL;
    lp_session *session = NULL;
    lp_outcome *outcome = NULL;
    frame_entry *frames = NULL;
    uint8_t *signed_bytes = NULL;
    size_t token_len = 0;
    char *token_bytes = read_file(token_path, &token_len);
    char *server_pem = read_file(server_key, NULL);
    char *device_pem = device_key ? read_file(device_key, NULL) : NULL;
    size_t frame_count = read_capture(dir, &frames);
    if (token_bytes == NULL || server_pem == NULL || (device_key && device_pem == NULL) ||
        frame_count == 0) {
        fprintf(stderr, "cannot read the inputs (capture.json of %s: %zu frames)\n", dir,
                frame_count);
        goto done;
    }

    /* The token is checked on the device before any capture starts. */
    const char *pinned[1] = {server_pem};
    lp_result r = lp_token_verify((const uint8_t *)token_bytes, token_len, pinned, 1, NULL, &token);
    if (r != LP_OK) {
        status = fail("lp_token_verify", r);
        goto done;
    }
    char session_id[LP_SESSION_ID_SIZE];
    size_t n = 0;
    lp_flow flow;
    lp_tier tier;
    lp_token_session_id(token, session_id, sizeof session_id, &n);
    lp_token_flow_tier(token, &flow, &tier);
    printf("token: session %s, %s / %s\n", session_id, lp_flow_name(flow), lp_tier_name(tier));

    r = device_pem ? lp_signer_new_software(device_pem, &signer)
                   : callback_signer(callback_key, &signer);
    if (r != LP_OK) {
        status = fail("signer", r);
        goto done;
    }
    lp_engine_config config;
    lp_engine_config_init(sizeof config, &config);
    config.models_dir = models;
    config.preload_session = 1;
    if ((r = lp_engine_new(&config, &engine)) != LP_OK) {
        status = fail("lp_engine_new", r);
        goto done;
    }
    lp_session_config session_config;
    lp_session_config_init(sizeof session_config, &session_config);
    session_config.capture_device = "liveproof-synth capture (C example)";
    if ((r = lp_session_new(engine, token, signer, &session_config, &session)) != LP_OK) {
        status = fail("lp_session_new", r);
        goto done;
    }

    /* Push every frame with its capture time; one feedback struct serves every frame. */
    lp_feedback fb;
    memset(&fb, 0, sizeof fb);
    fb.struct_size = sizeof fb;
    lp_phase shown_phase = (lp_phase)-1;
    lp_prompt shown_prompt = (lp_prompt)-1;
    size_t pushed = 0;
    for (size_t i = 0; i < frame_count && fb.phase != LP_PHASE_DONE; i++) {
        char path[4096];
        png_rgba img;
        snprintf(path, sizeof path, "%s/%s", dir, frames[i].file);
        if (png_rgba_load(path, &img) != 0) {
            goto done;
        }
        lp_frame f = png_rgba_frame(&img, frames[i].timestamp_ns);
        r = lp_session_push_frame(session, &f, &fb);
        png_rgba_free(&img);
        if (r != LP_OK) {
            /* A bad frame leaves the session open; here every frame should be good. */
            status = fail("lp_session_push_frame", r);
            goto done;
        }
        pushed++;
        if (fb.phase != shown_phase || fb.prompt != shown_prompt) {
            printf("frame %3zu: phase %-11s prompt %-10s step %u/%u progress %3.0f%%%s%s\n", i,
                   lp_phase_name(fb.phase), lp_prompt_name(fb.prompt), fb.step_index,
                   fb.step_count, 100.0 * fb.progress, fb.hints ? " hint " : "",
                   fb.hints ? lp_hint_name((uint32_t)__builtin_ctz(fb.hints)) : "");
            shown_phase = fb.phase;
            shown_prompt = fb.prompt;
        }
    }

    /* Decide and sign. A signer failure keeps the decision: finish again to sign it. */
    r = lp_session_finish(session, &outcome);
    if (r == LP_SIGNER_FAILED) {
        fail("lp_session_finish (signing again)", r);
        r = lp_session_finish(session, &outcome);
    }
    if (r != LP_OK) {
        status = fail("lp_session_finish", r);
        goto done;
    }
    lp_band band;
    bool has_fused = false;
    double fused = 0;
    lp_reason reasons[LP_REASON_COUNT];
    size_t reason_count = 0;
    lp_outcome_band(outcome, &band);
    lp_outcome_fused(outcome, &has_fused, &fused);
    lp_outcome_reasons(outcome, reasons, LP_REASON_COUNT, &reason_count);
    printf("decision after %zu of %zu frames: %s", pushed, frame_count, lp_band_name(band));
    if (has_fused) {
        printf(" (fused %+.2f)", fused);
    }
    printf("; reasons:");
    for (size_t i = 0; i < reason_count; i++) {
        printf(" %s", lp_reason_name(reasons[i]));
    }
    printf("\n");

    /* The signed result goes to the server as it is. */
    size_t signed_len = 0;
    lp_outcome_signed_size(outcome, &signed_len);
    signed_bytes = malloc(signed_len);
    if (signed_bytes == NULL ||
        (r = lp_outcome_signed(outcome, signed_bytes, signed_len, &n)) != LP_OK) {
        status = signed_bytes ? fail("lp_outcome_signed", r) : 1;
        goto done;
    }
    FILE *out = fopen(out_path, "wb");
    if (out == NULL || fwrite(signed_bytes, 1, n, out) != n || fclose(out) != 0) {
        perror(out_path);
        goto done;
    }
    printf("signed result: %zu bytes to %s (%s signer)\n", n, out_path,
           device_pem ? "software" : "callback");
    status = 0;

done:
    lp_outcome_free(outcome);
    lp_session_free(session);
    lp_engine_free(engine);
    lp_signer_free(signer);
    lp_token_free(token);
    free(signed_bytes);
    free(frames);
    free(token_bytes);
    free(server_pem);
    free(device_pem);
    return status;
}
