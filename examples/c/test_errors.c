/*
 * LiveProof C tests: every documented lp_result code provoked through the C ABI, the error
 * message text, "nothing is written on failure", and a real image analysed end to end
 * (still, rotated buffer, tracking, two threads on one engine). Run under valgrind by
 * `cargo xtask test`.
 *
 * Needs LIVEPROOF_MODELS_DIR, ORT_DYLIB_PATH and LIVEPROOF_FIXTURES_DIR (`eval "$(cargo xtask
 * env)"`). Prints one line per case and ends with `c tests: N passed, M failed`; exits 1 if
 * any case failed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test.h"
#include "liveproof.h"
#include "png_rgba.h"

static const char *g_models, *g_ort, *g_fixtures;
static png_rgba g_astronaut;
static lp_engine *g_engine;

/* The astronaut's face as `liveproof inspect` reports it (the same library: the figures
 * agree to float rounding; 2 px allows for a future detector tweak without hiding a
 * coordinate-convention slip, which moves the box by tens of pixels). */
static const float ASTRONAUT_BOX[4] = {178.0f, 83.0f, 273.0f, 178.0f};
static const float BOX_TOLERANCE_PX = 2.0f;

static lp_engine_config config_with(const char *models, const char *ort) {
    lp_engine_config c;
    lp_engine_config_init(sizeof c, &c);
    c.models_dir = models;
    c.ort_library_path = ort;
    return c;
}


static lp_analysis *const SENTINEL_ANALYSIS = (lp_analysis *)(uintptr_t)0x5EED;
static lp_engine *const SENTINEL_ENGINE = (lp_engine *)(uintptr_t)0x5EED;

/* ---- version and names ---------------------------------------------------------------- */

static void case_version(void) {
    EXPECT(strcmp(lp_version(), LIVEPROOF_VERSION) == 0);
    char numbers[64];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", LIVEPROOF_VERSION_MAJOR,
             LIVEPROOF_VERSION_MINOR, LIVEPROOF_VERSION_PATCH);
    EXPECT(strcmp(numbers, LIVEPROOF_VERSION) == 0);
    printf("    header %s, library %s\n", LIVEPROOF_VERSION, lp_version());
}

static void case_result_names(void) {
    EXPECT(LP_OK == 0 && LP_NULL_ARGUMENT == 1 && LP_INVALID_ARGUMENT == 2);
    EXPECT(LP_BUFFER_TOO_SMALL == 3 && LP_INDEX_OUT_OF_RANGE == 4);
    EXPECT(LP_RUNTIME_UNAVAILABLE == 100 && LP_MODEL_MISSING == 101);
    EXPECT(LP_MODEL_INTEGRITY == 102 && LP_MODEL_INVALID == 103);
    EXPECT(LP_PROCESSING == 200 && LP_PANIC == 900);
    EXPECT(LP_MODEL_OUTPUT == 201 && LP_INTERNAL == 901);
    EXPECT(strcmp(lp_result_name(LP_MODEL_OUTPUT), "LP_MODEL_OUTPUT") == 0);
    EXPECT(strcmp(lp_result_name(LP_INTERNAL), "LP_INTERNAL") == 0);
    EXPECT(strcmp(lp_result_name(LP_MODEL_MISSING), "LP_MODEL_MISSING") == 0);
    EXPECT(strcmp(lp_result_name(LP_PANIC), "LP_PANIC") == 0);
    EXPECT(strcmp(lp_result_name(12345), "LP_UNKNOWN_RESULT") == 0);
    EXPECT(strcmp(lp_hint_name(LP_HINT_TOO_DARK), "TOO_DARK") == 0);
    EXPECT(strcmp(lp_hint_name(99), "UNKNOWN") == 0);
    EXPECT(lp_log_init(6) == LP_INVALID_ARGUMENT);
}

/* ---- engine set-up errors ------------------------------------------------------------- */

static void case_config_null(void) {
    EXPECT_ERROR(lp_engine_config_init(sizeof(lp_engine_config), NULL), LP_NULL_ARGUMENT,
                 "out_config");
    /* A struct size the library does not know (an older or newer header): nothing written. */
    lp_engine_config probe;
    memset(&probe, 0x5A, sizeof probe);
    EXPECT_ERROR(lp_engine_config_init(sizeof probe - 4, &probe), LP_INVALID_ARGUMENT,
                 "struct_size is", "lp_engine_config_init");
    EXPECT(probe.struct_size != sizeof probe && probe.detector == 0x5A5A5A5Au);
    lp_engine *e = SENTINEL_ENGINE;
    EXPECT_ERROR(lp_engine_new(NULL, &e), LP_NULL_ARGUMENT, "`config`", "lp_engine_new");
    EXPECT(e == SENTINEL_ENGINE);
    lp_engine_config c = config_with(g_models, g_ort);
    EXPECT_ERROR(lp_engine_new(&c, NULL), LP_NULL_ARGUMENT, "`out_engine`");
    c.models_dir = NULL;
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_NULL_ARGUMENT, "config->models_dir");
    EXPECT(e == SENTINEL_ENGINE);
}

static void case_config_invalid(void) {
    lp_engine *e = SENTINEL_ENGINE;
    lp_engine_config c = config_with(g_models, g_ort);
    c.struct_size = 8;
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_INVALID_ARGUMENT, "struct_size is 8",
                 "lp_engine_config_init");
    c = config_with(g_models, g_ort);
    c.detector = 42;
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_INVALID_ARGUMENT, "detector 42");
    c = config_with(g_models, g_ort);
    c.min_presence = 2.0f;
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_INVALID_ARGUMENT, "min_presence", "got 2");
    c = config_with(g_models, g_ort);
    c.max_faces = 0;
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_INVALID_ARGUMENT, "max_faces");
    EXPECT(e == SENTINEL_ENGINE);
}

static void case_missing_runtime(void) {
    lp_engine *e = SENTINEL_ENGINE;
    lp_engine_config c = config_with(g_models, "/nonexistent/libonnxruntime.so.1.31.1");
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_RUNTIME_UNAVAILABLE,
                 "/nonexistent/libonnxruntime.so.1.31.1", "not found");
    EXPECT(e == SENTINEL_ENGINE);
}

static void case_runtime_not_a_library(void) {
    char png[4096];
    snprintf(png, sizeof png, "%s/astronaut.png", g_fixtures);
    lp_engine *e = SENTINEL_ENGINE;
    lp_engine_config c = config_with(g_models, png);
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_RUNTIME_UNAVAILABLE, "astronaut.png",
                 "could not be loaded");
    EXPECT(e == SENTINEL_ENGINE);
}

static void case_missing_models(void) {
    lp_engine *e = SENTINEL_ENGINE;
    lp_engine_config c = config_with("/nonexistent/liveproof-models", g_ort);
    EXPECT_ERROR(lp_engine_new(&c, &e), LP_MODEL_MISSING,
                 "/nonexistent/liveproof-models/face_detection_front_128x128.onnx",
                 "models_dir");
    EXPECT(e == SENTINEL_ENGINE);
}

static void case_engine_loads(void) {
    lp_engine_config c = config_with(g_models, g_ort);
    lp_result r = lp_engine_new(&c, &g_engine);
    EXPECT_ERROR(r, LP_OK, "");
    EXPECT(g_engine != NULL);
    /* A successful call clears the message. */
    char msg[16] = "x";
    size_t n = 99;
    EXPECT(lp_last_error_message(msg, sizeof msg, &n) == LP_OK);
    EXPECT(n == 0 && msg[0] == '\0');
}

/* ---- frame errors ---------------------------------------------------------------------- */

static void expect_frame_error(int line, lp_frame f, lp_result want, const char *const *words) {
    lp_analysis *a = SENTINEL_ANALYSIS;
    expect_error(line, lp_engine_analyze_frame(g_engine, &f, &a), want, words);
    if (a != SENTINEL_ANALYSIS) {
        printf("    line %d: the output was written on failure\n", line);
        g_case_failed = 1;
    }
}
#define EXPECT_FRAME_ERROR(frame, want, ...)                                           \
    do {                                                                               \
        const char *const words_[] = {__VA_ARGS__, NULL};                              \
        expect_frame_error(__LINE__, (frame), (want), words_);                         \
    } while (0)

static void case_null_handles(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    lp_analysis *a = SENTINEL_ANALYSIS;
    EXPECT_ERROR(lp_engine_analyze_frame(NULL, &f, &a), LP_NULL_ARGUMENT, "`engine`",
                 "lp_engine_analyze_frame");
    EXPECT_ERROR(lp_engine_analyze_frame(g_engine, NULL, &a), LP_NULL_ARGUMENT, "`frame`");
    EXPECT_ERROR(lp_engine_analyze_frame(g_engine, &f, NULL), LP_NULL_ARGUMENT,
                 "`out_analysis`");
    EXPECT(a == SENTINEL_ANALYSIS);
    EXPECT_ERROR(lp_tracker_process(NULL, &f, &a), LP_NULL_ARGUMENT, "`tracker`");
    EXPECT_ERROR(lp_tracker_new(NULL, NULL), LP_NULL_ARGUMENT, "`engine`");
    EXPECT_ERROR(lp_tracker_reset(NULL), LP_NULL_ARGUMENT, "`tracker`");
    size_t n = 7;
    EXPECT_ERROR(lp_analysis_face_count(NULL, &n), LP_NULL_ARGUMENT, "`analysis`");
    EXPECT(n == 7);
    EXPECT(a == SENTINEL_ANALYSIS);
    /* Freeing NULL is a no-op. */
    lp_engine_free(NULL);
    lp_tracker_free(NULL);
    lp_analysis_free(NULL);
}

static void case_zero_width(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.width = 0;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "0×512", "zero side");
}

static void case_stride_smaller_than_row(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.planes[0].row_stride = 100;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "stride 100 < width 512 × 4 bytes");
}

static void case_buffer_too_short(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.planes[0].len = 1000;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "has 1000 bytes", "at least 1048576");
}

static void case_unknown_format(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.format = 42;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "format 42", "lp_pixel_format");
    lp_frame zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    EXPECT_FRAME_ERROR(zeroed, LP_INVALID_ARGUMENT, "format 0");
}

static void case_null_plane(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.planes[0].data = NULL;
    EXPECT_FRAME_ERROR(f, LP_NULL_ARGUMENT, "frame->planes[0].data");
    /* NV21 needs plane 1 (interleaved chroma). */
    f = png_rgba_frame(&g_astronaut, 0);
    f.format = LP_PIXEL_FORMAT_NV21;
    f.planes[0].row_stride = 512;
    EXPECT_FRAME_ERROR(f, LP_NULL_ARGUMENT, "frame->planes[1].data");
    /* Odd sides do not fit 4:2:0 chroma. */
    uint8_t y[9 * 8], vu[10 * 4];
    memset(y, 16, sizeof y);
    memset(vu, 128, sizeof vu);
    f.planes[0] = (lp_plane){y, sizeof y, 9};
    f.planes[1] = (lp_plane){vu, sizeof vu, 10};
    f.width = 9;
    f.height = 8;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "9×8", "odd side");
}

static void case_rotation_and_mirroring_values(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.rotation_degrees = 45;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "rotation 45");
    f = png_rgba_frame(&g_astronaut, 0);
    f.mirrored = 2;
    EXPECT_FRAME_ERROR(f, LP_INVALID_ARGUMENT, "mirrored is 2");
}

static void case_error_message_buffer(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.planes[0].row_stride = 100;
    lp_analysis *a = NULL;
    EXPECT(lp_engine_analyze_frame(g_engine, &f, &a) == LP_INVALID_ARGUMENT);
    char full[1024];
    size_t full_n = 0;
    EXPECT(lp_last_error_message(full, sizeof full, &full_n) == LP_OK);
    EXPECT(full_n == strlen(full) && full_n > 20);
    EXPECT(strncmp(full, "invalid argument: ", 18) == 0);
    /* Length query. */
    size_t n = 0;
    EXPECT(lp_last_error_message(NULL, 0, &n) == LP_OK && n == full_n);
    /* Truncation: len - 1 bytes and a NUL; *out_n is still the full length. */
    char small[9];
    memset(small, 'Z', sizeof small);
    EXPECT(lp_last_error_message(small, 8, &n) == LP_OK && n == full_n);
    EXPECT(strlen(small) == 7 && strncmp(small, full, 7) == 0 && small[8] == 'Z');
    /* NULL arguments: nothing written, the message kept. */
    memset(small, 'Z', sizeof small);
    EXPECT(lp_last_error_message(small, sizeof small, NULL) == LP_NULL_ARGUMENT);
    EXPECT(small[0] == 'Z');
    n = 5;
    EXPECT(lp_last_error_message(NULL, 4, &n) == LP_NULL_ARGUMENT && n == 5);
    char again[1024];
    last_error(again, sizeof again);
    EXPECT(strcmp(again, full) == 0);
    printf("    full message (%zu bytes): %s\n", full_n, full);
}

/* ---- a real image ---------------------------------------------------------------------- */

static int box_near(const float *box, const float *want, float tol) {
    for (int i = 0; i < 4; i++) {
        if (fabsf(box[i] - want[i]) > tol) {
            return 0;
        }
    }
    return 1;
}

static void case_astronaut_still(void) {
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    f.timestamp_ns = 1000;
    lp_analysis *a = NULL;
    EXPECT_ERROR(lp_engine_analyze_frame(g_engine, &f, &a), LP_OK, "");
    if (a == NULL) {
        return;
    }
    lp_analysis_info info;
    EXPECT(lp_analysis_get_info(a, &info) == LP_OK);
    EXPECT(info.width == 512 && info.height == 512 && info.timestamp_ns == 1000);
    EXPECT(info.face_count == 1 && info.faces_detected == 1 && info.detector_ran);
    size_t count = 0;
    EXPECT(lp_analysis_face_count(a, &count) == LP_OK && count == 1);

    lp_face face;
    memset(&face, 0, sizeof face);
    EXPECT(lp_analysis_face(a, 0, &face) == LP_OK);
    printf("    box [%.2f, %.2f, %.2f, %.2f] score %.3f presence %.3f yaw %+.1f pitch %+.1f "
           "roll %+.1f hints 0x%x\n",
           face.bbox[0], face.bbox[1], face.bbox[2], face.bbox[3], face.score, face.presence,
           face.yaw_deg, face.pitch_deg, face.roll_deg, face.hints);
    EXPECT(box_near(face.bbox, ASTRONAUT_BOX, BOX_TOLERANCE_PX));
    EXPECT(face.score > 0.5f && face.score <= 1.0f);
    EXPECT(face.presence > 0.9f && face.presence <= 1.0f);
    EXPECT(face.keypoint_count == 6 && face.landmark_count == LP_LANDMARK_COUNT);
    /* The eyes lie inside the box, the subject's right eye (keypoint 0) on the image left. */
    EXPECT(face.keypoints[0][0] < face.keypoints[1][0]);
    for (int k = 0; k < 2; k++) {
        EXPECT(face.keypoints[k][0] > face.bbox[0] && face.keypoints[k][0] < face.bbox[2]);
        EXPECT(face.keypoints[k][1] > face.bbox[1] && face.keypoints[k][1] < face.bbox[3]);
    }
    /* The CLI measures yaw +0.1°, pitch -6.6°, roll +3.0° on this image. */
    EXPECT(face.has_pose && fabsf(face.yaw_deg) < 10 && fabsf(face.pitch_deg) < 15 &&
           fabsf(face.roll_deg) < 10);
    uint32_t want_hints = (1u << LP_HINT_MOVE_CLOSER) | (1u << LP_HINT_CENTER_FACE);
    EXPECT(face.hints == want_hints && info.hints == want_hints && !face.quality_passed);

    /* Landmarks: all 468, finite, inside the image and around the box. */
    static float xyz[3 * LP_LANDMARK_COUNT + 3];
    for (size_t i = 0; i < sizeof xyz / sizeof xyz[0]; i++) {
        xyz[i] = -12345.0f;
    }
    size_t n = 77;
    EXPECT_ERROR(lp_analysis_landmarks(a, 0, xyz, 3 * LP_LANDMARK_COUNT - 1, &n),
                 LP_BUFFER_TOO_SMALL, "length 1403", "at least 1404");
    EXPECT(n == 77 && xyz[0] == -12345.0f);
    EXPECT_ERROR(lp_analysis_landmarks(a, 1, xyz, 3 * LP_LANDMARK_COUNT, &n),
                 LP_INDEX_OUT_OF_RANGE, "face index 1", "face count 1");
    EXPECT(lp_analysis_landmarks(a, 0, xyz, sizeof xyz / sizeof xyz[0], &n) == LP_OK);
    EXPECT(n == 3 * LP_LANDMARK_COUNT && xyz[n] == -12345.0f);
    int inside = 1;
    float w = face.bbox[2] - face.bbox[0];
    for (size_t i = 0; i < LP_LANDMARK_COUNT; i++) {
        float x = xyz[3 * i], y = xyz[3 * i + 1], z = xyz[3 * i + 2];
        inside &= isfinite(x) && isfinite(y) && isfinite(z);
        inside &= x > face.bbox[0] - 0.5f * w && x < face.bbox[2] + 0.5f * w;
        inside &= y > face.bbox[1] - 0.5f * w && y < face.bbox[3] + 0.5f * w;
    }
    EXPECT(inside);
    /* Nose tip (landmark 1) between the eyes horizontally. */
    EXPECT(xyz[3] > face.keypoints[0][0] && xyz[3] < face.keypoints[1][0]);

    /* Field by field: padding bytes of an output struct are unspecified, as in C. */
    lp_face before = face;
    EXPECT_ERROR(lp_analysis_face(a, 1, &face), LP_INDEX_OUT_OF_RANGE, "face index 1");
    EXPECT(memcmp(before.bbox, face.bbox, sizeof face.bbox) == 0 &&
           memcmp(before.keypoints, face.keypoints, sizeof face.keypoints) == 0 &&
           before.score == face.score && before.hints == face.hints &&
           before.yaw_deg == face.yaw_deg && before.landmark_count == face.landmark_count);

    /* Frame hints in priority order. */
    lp_hint hints[LP_HINT_COUNT];
    size_t nh = 0;
    EXPECT_ERROR(lp_analysis_hints(a, hints, 1, &nh), LP_BUFFER_TOO_SMALL, "at least 2");
    EXPECT(lp_analysis_hints(a, hints, LP_HINT_COUNT, &nh) == LP_OK);
    EXPECT(nh == 2 && hints[0] == LP_HINT_MOVE_CLOSER && hints[1] == LP_HINT_CENTER_FACE);

    /* JSON: the size includes the NUL; one byte less writes nothing. */
    size_t size = 0;
    EXPECT(lp_analysis_json_size(a, &size) == LP_OK && size > 1000);
    char *json = malloc(size);
    memset(json, 'Z', size);
    size_t jn = 3;
    EXPECT_ERROR(lp_analysis_json(a, json, size - 1, &jn), LP_BUFFER_TOO_SMALL, "buffer");
    EXPECT(jn == 3 && json[0] == 'Z');
    EXPECT(lp_analysis_json(a, json, size, &jn) == LP_OK);
    EXPECT(jn == size - 1 && strlen(json) == jn);
    EXPECT(json[0] == '{' && json[jn - 1] == '}');
    EXPECT(strstr(json, "\"landmarks\":[[") != NULL);
    EXPECT(strstr(json, "\"hints\":[\"MOVE_CLOSER\",\"CENTER_FACE\"]") != NULL);
    printf("    json %zu bytes: %.80s...\n", jn, json);
    free(json);
    lp_analysis_free(a);
}

/* The upright image given as a buffer turned 90° counter-clockwise, with rotation 90:
 * the engine sees the same upright pixels, so the figures must be identical. */
static void case_rotated_buffer(void) {
    const png_rgba *u = &g_astronaut;
    uint32_t bw = u->height, bh = u->width;
    uint8_t *b = malloc((size_t)bw * bh * 4);
    for (uint32_t by = 0; by < bh; by++) {
        for (uint32_t bx = 0; bx < bw; bx++) {
            /* B(bx, by) = U(w - 1 - by, bx): rotating B clockwise gives U. */
            uint32_t x = u->width - 1 - by, y = bx;
            memcpy(b + ((size_t)by * bw + bx) * 4, u->data + ((size_t)y * u->width + x) * 4, 4);
        }
    }
    lp_frame f = png_rgba_frame(u, 0);
    f.planes[0].data = b;
    f.planes[0].row_stride = (size_t)bw * 4;
    f.width = bw;
    f.height = bh;
    f.rotation_degrees = 90;
    lp_analysis *a = NULL;
    EXPECT_ERROR(lp_engine_analyze_frame(g_engine, &f, &a), LP_OK, "");
    free(b);
    if (a == NULL) {
        return;
    }
    lp_face face;
    EXPECT(lp_analysis_face(a, 0, &face) == LP_OK);
    printf("    box [%.2f, %.2f, %.2f, %.2f]\n", face.bbox[0], face.bbox[1], face.bbox[2],
           face.bbox[3]);
    EXPECT(box_near(face.bbox, ASTRONAUT_BOX, BOX_TOLERANCE_PX));
    lp_analysis_free(a);
}

/* The bounding box of a face's landmarks: the box tracking reports. */
static void landmark_extent(const lp_analysis *a, float out[4]) {
    static float xyz[3 * LP_LANDMARK_COUNT];
    size_t n = 0;
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    if (lp_analysis_landmarks(a, 0, xyz, 3 * LP_LANDMARK_COUNT, &n) != LP_OK) {
        return;
    }
    for (size_t i = 0; i < n; i += 3) {
        out[0] = fminf(out[0], xyz[i]);
        out[1] = fminf(out[1], xyz[i + 1]);
        out[2] = fmaxf(out[2], xyz[i]);
        out[3] = fmaxf(out[3], xyz[i + 1]);
    }
}

static void case_tracking(void) {
    lp_tracker *t = NULL;
    EXPECT(lp_tracker_new(g_engine, &t) == LP_OK && t != NULL);
    if (t == NULL) {
        return;
    }
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    float extent0[4] = {0};
    for (int i = 0; i < 3; i++) {
        f.timestamp_ns = (uint64_t)i * 33333333u;
        lp_analysis *a = NULL;
        EXPECT(lp_tracker_process(t, &f, &a) == LP_OK);
        if (a == NULL) {
            continue;
        }
        lp_analysis_info info;
        lp_face face;
        EXPECT(lp_analysis_get_info(a, &info) == LP_OK && info.face_count == 1);
        EXPECT(lp_analysis_face(a, 0, &face) == LP_OK);
        printf("    frame %d: detector %s, box [%.1f, %.1f, %.1f, %.1f], presence %.3f\n", i,
               info.detector_ran ? "ran" : "skipped", face.bbox[0], face.bbox[1],
               face.bbox[2], face.bbox[3], face.presence);
        /* Frame 0 detects (the detector's box); later frames follow the landmarks, and
         * their box is the landmark extent. On a still picture it stays within 4 px (4% of
         * the face) of frame 0's landmark extent: FaceMesh moves slightly with its crop. */
        EXPECT(info.detector_ran == (i == 0));
        if (i == 0) {
            EXPECT(box_near(face.bbox, ASTRONAUT_BOX, BOX_TOLERANCE_PX));
            landmark_extent(a, extent0);
            printf("    frame 0 landmark extent [%.1f, %.1f, %.1f, %.1f]\n", extent0[0],
                   extent0[1], extent0[2], extent0[3]);
        } else {
            EXPECT(box_near(face.bbox, extent0, 4.0f));
        }
        lp_analysis_free(a);
    }
    EXPECT(lp_tracker_reset(t) == LP_OK);
    lp_tracker_free(t);
}

/* Frame notes: a repeated timestamp skips stability, one going backwards restarts the track;
 * each is reported on that frame (lp_analysis_notes), neither fails it. */
static void case_frame_notes(void) {
    lp_tracker *t = NULL;
    EXPECT(lp_tracker_new(g_engine, &t) == LP_OK && t != NULL);
    if (t == NULL) {
        return;
    }
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    /* Timestamps (ms) and the note each frame must carry (-1: none). */
    const uint64_t ts_ms[4] = {100, 133, 133, 50};
    const int want[4] = {-1, -1, LP_FRAME_NOTE_REPEATED_TIMESTAMP,
                         LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS};
    for (int i = 0; i < 4; i++) {
        f.timestamp_ns = ts_ms[i] * 1000000u;
        lp_analysis *a = NULL;
        EXPECT(lp_tracker_process(t, &f, &a) == LP_OK);
        if (a == NULL) {
            continue;
        }
        lp_frame_note notes[LP_FRAME_NOTE_COUNT];
        size_t n = 99;
        EXPECT(lp_analysis_notes(a, notes, LP_FRAME_NOTE_COUNT, &n) == LP_OK);
        printf("    frame %d (t = %llu ms): %zu note(s)%s%s\n", i, (unsigned long long)ts_ms[i], n,
               n > 0 ? ", " : "", n > 0 ? lp_frame_note_name(notes[0]) : "");
        if (want[i] < 0) {
            EXPECT(n == 0);
        } else {
            EXPECT(n == 1 && notes[0] == (lp_frame_note)want[i]);
        }
        lp_analysis_free(a);
    }
    EXPECT(strcmp(lp_frame_note_name(LP_FRAME_NOTE_REPEATED_TIMESTAMP), "repeated_timestamp") ==
           0);
    EXPECT(strcmp(lp_frame_note_name(LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS),
                  "clock_went_backwards") == 0);
    EXPECT(strcmp(lp_frame_note_name(99), "unknown") == 0);
    /* Too small an array: LP_BUFFER_TOO_SMALL, nothing written. */
    f.timestamp_ns = 10 * 1000000u;
    lp_analysis *a = NULL;
    EXPECT(lp_tracker_process(t, &f, &a) == LP_OK);
    if (a != NULL) {
        size_t n = 99;
        EXPECT_ERROR(lp_analysis_notes(a, NULL, 0, &n), LP_BUFFER_TOO_SMALL,
                     "expected at least 1");
        EXPECT(n == 99);
        lp_analysis_free(a);
    }
    lp_tracker_free(t);
}

typedef struct {
    lp_face face;
    lp_result result;
    int bad_call;
    char message[256];
} thread_out;

static void *analyse_in_thread(void *arg) {
    thread_out *out = arg;
    lp_frame f = png_rgba_frame(&g_astronaut, 0);
    if (out->bad_call) {
        /* A failure on this thread must not show in the other thread's message. */
        lp_frame bad = f;
        bad.planes[0].row_stride = 100;
        lp_analysis *unused = NULL;
        lp_engine_analyze_frame(g_engine, &bad, &unused);
        last_error(out->message, sizeof out->message);
    }
    lp_analysis *a = NULL;
    out->result = lp_engine_analyze_frame(g_engine, &f, &a);
    if (a != NULL) {
        lp_analysis_face(a, 0, &out->face);
        lp_analysis_free(a);
    }
    return NULL;
}

static void case_two_threads_share_the_engine(void) {
    /* This thread's message, to check the threads do not touch it. */
    lp_frame bad = png_rgba_frame(&g_astronaut, 0);
    bad.format = 77;
    lp_analysis *unused = NULL;
    EXPECT(lp_engine_analyze_frame(g_engine, &bad, &unused) == LP_INVALID_ARGUMENT);

    pthread_t th[2];
    thread_out out[2];
    memset(out, 0, sizeof out);
    out[1].bad_call = 1;
    for (int i = 0; i < 2; i++) {
        EXPECT(pthread_create(&th[i], NULL, analyse_in_thread, &out[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        EXPECT(out[i].result == LP_OK);
        EXPECT(box_near(out[i].face.bbox, ASTRONAUT_BOX, BOX_TOLERANCE_PX));
    }
    EXPECT(memcmp(out[0].face.bbox, out[1].face.bbox, sizeof out[0].face.bbox) == 0);
    EXPECT(strstr(out[1].message, "stride 100") != NULL);
    char mine[256];
    last_error(mine, sizeof mine);
    EXPECT(strstr(mine, "format 77") != NULL);
    printf("    thread 1 message: %s\n    main thread message: %s\n", out[1].message, mine);
}

static void case_missing_runtime_after_load(void) {
    /* ONNX Runtime is loaded by now; a missing requested file is still reported. */
    case_missing_runtime();
}

int main(void) {
    g_models = getenv("LIVEPROOF_MODELS_DIR");
    g_ort = getenv("ORT_DYLIB_PATH");
    g_fixtures = getenv("LIVEPROOF_FIXTURES_DIR");
    if (g_models == NULL || g_ort == NULL || g_fixtures == NULL) {
        fprintf(stderr, "set LIVEPROOF_MODELS_DIR, ORT_DYLIB_PATH and LIVEPROOF_FIXTURES_DIR "
                        "(eval \"$(cargo xtask env)\")\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/astronaut.png", g_fixtures);
    if (png_rgba_load(path, &g_astronaut) != 0) {
        return 2;
    }

    run("version", case_version);
    run("result and hint names", case_result_names);
    /* Before any engine exists, so ONNX Runtime is not loaded yet. */
    run("missing ONNX Runtime library", case_missing_runtime);
    run("ONNX Runtime path is not a library", case_runtime_not_a_library);
    run("NULL config and outputs", case_config_null);
    run("invalid config values", case_config_invalid);
    run("missing model directory", case_missing_models);
    run("engine loads", case_engine_loads);
    if (g_engine != NULL) {
        run("missing ONNX Runtime library after a load", case_missing_runtime_after_load);
        run("NULL engine, frame, tracker, outputs", case_null_handles);
        run("zero width", case_zero_width);
        run("stride smaller than a row", case_stride_smaller_than_row);
        run("buffer too short", case_buffer_too_short);
        run("unknown format", case_unknown_format);
        run("NULL plane data and odd 4:2:0 size", case_null_plane);
        run("bad rotation and mirrored values", case_rotation_and_mirroring_values);
        run("error message buffer", case_error_message_buffer);
        run("astronaut still image", case_astronaut_still);
        run("rotated buffer", case_rotated_buffer);
        run("tracking", case_tracking);
        run("frame notes", case_frame_notes);
        run("two threads share the engine", case_two_threads_share_the_engine);
    } else {
        g_failed++;
        printf("FAIL the remaining cases need an engine\n");
    }
    lp_engine_free(g_engine);
    png_rgba_free(&g_astronaut);
    printf("c tests: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
