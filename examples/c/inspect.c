/*
 * LiveProof C example: load the engine, read PNG files with libpng, print each face (box,
 * score, landmarks, head pose, quality) and the capture hints.
 *
 *   inspect [--models DIR] [--ort LIBRARY] [--json] IMAGE.png...
 *
 * DIR defaults to $LIVEPROOF_MODELS_DIR and LIBRARY to $ORT_DYLIB_PATH (`eval "$(cargo xtask
 * env)"` sets both). --json also prints the analysis as JSON. Exit status 0 when every image
 * was analysed, 1 otherwise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveproof.h"
#include "png_rgba.h"

/* Prints the last error of this thread after a failed call. */
static void print_error(const char *what, lp_result r) {
    char message[1024];
    size_t n = 0;
    if (lp_last_error_message(message, sizeof message, &n) != LP_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "%s failed: %s (%u): %s%s\n", what, lp_result_name(r), (unsigned)r, message,
            n >= sizeof message ? " [truncated]" : "");
}

/* Hint names from a bitmask, lowest bit (most important) first. */
static void print_hint_mask(uint32_t mask) {
    int first = 1;
    for (uint32_t h = 0; h < LP_HINT_COUNT; h++) {
        if (mask & (1u << h)) {
            printf("%s%s", first ? "" : ", ", lp_hint_name(h));
            first = 0;
        }
    }
    if (first) {
        printf("none");
    }
}

static int inspect(const lp_engine *engine, const char *path, int json) {
    png_rgba img;
    if (png_rgba_load(path, &img) != 0) {
        return -1;
    }
    lp_frame frame = png_rgba_frame(&img, 0);

    lp_analysis *analysis = NULL;
    lp_result r = lp_engine_analyze_frame(engine, &frame, &analysis);
    png_rgba_free(&img);
    if (r != LP_OK) {
        print_error(path, r);
        return -1;
    }

    lp_analysis_info info;
    lp_analysis_get_info(analysis, &info);
    printf("%s (%ux%u): %u face(s), %u detected, %.1f ms\n", path, info.width, info.height,
           info.face_count, info.faces_detected, info.total_ms);
    float xyz[3 * LP_LANDMARK_COUNT];
    for (size_t i = 0; i < info.face_count; i++) {
        lp_face face;
        if (lp_analysis_face(analysis, i, &face) != LP_OK) {
            continue;
        }
        size_t n = 0;
        lp_analysis_landmarks(analysis, i, xyz, sizeof xyz / sizeof xyz[0], &n);
        printf("  face %zu: box [%.1f, %.1f, %.1f, %.1f] score %.2f, %zu landmarks "
               "(presence %.2f, nose tip %.1f, %.1f)\n",
               i, face.bbox[0], face.bbox[1], face.bbox[2], face.bbox[3], face.score, n / 3,
               face.presence, n >= 6 ? xyz[3] : 0.0f, n >= 6 ? xyz[4] : 0.0f);
        if (face.has_pose) {
            printf("    pose: yaw %+.1f°, pitch %+.1f°, roll %+.1f°\n", face.yaw_deg,
                   face.pitch_deg, face.roll_deg);
        }
        printf("    quality: %s; hints: ", face.quality_passed ? "passed" : "not passed");
        print_hint_mask(face.hints);
        printf("\n");
    }
    lp_hint hints[LP_HINT_COUNT];
    size_t n_hints = 0;
    lp_analysis_hints(analysis, hints, LP_HINT_COUNT, &n_hints);
    printf("  hints:");
    for (size_t i = 0; i < n_hints; i++) {
        printf("%s %s", i ? "," : "", lp_hint_name(hints[i]));
    }
    printf("%s\n", n_hints ? "" : " none (good frame)");

    if (json) {
        size_t size = 0;
        lp_analysis_json_size(analysis, &size);
        char *text = malloc(size);
        size_t written = 0;
        if (text != NULL && lp_analysis_json(analysis, text, size, &written) == LP_OK) {
            printf("%s\n", text);
        }
        free(text);
    }
    lp_analysis_free(analysis);
    return 0;
}

int main(int argc, char **argv) {
    const char *models = getenv("LIVEPROOF_MODELS_DIR");
    const char *ort = NULL; /* NULL: the library reads $ORT_DYLIB_PATH */
    int json = 0;
    int first_image = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) {
            models = argv[++i];
        } else if (strcmp(argv[i], "--ort") == 0 && i + 1 < argc) {
            ort = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            first_image = i;
            break;
        }
    }
    if (first_image >= argc || models == NULL) {
        fprintf(stderr,
                "usage: %s [--models DIR] [--ort LIBRARY] [--json] IMAGE.png...\n"
                "DIR defaults to $LIVEPROOF_MODELS_DIR, LIBRARY to $ORT_DYLIB_PATH.\n",
                argv[0]);
        return 2;
    }
    if (strcmp(lp_version(), LIVEPROOF_VERSION) != 0) {
        fprintf(stderr, "warning: header %s, library %s\n", LIVEPROOF_VERSION, lp_version());
    }
    printf("LiveProof %s\n", lp_version());

    lp_engine_config config;
    lp_engine_config_init(sizeof config, &config);
    config.models_dir = models;
    config.ort_library_path = ort;
    lp_engine *engine = NULL;
    lp_result r = lp_engine_new(&config, &engine);
    if (r != LP_OK) {
        print_error("lp_engine_new", r);
        return 1;
    }
    int failed = 0;
    for (int i = first_image; i < argc; i++) {
        failed |= inspect(engine, argv[i], json) != 0;
    }
    lp_engine_free(engine);
    return failed ? 1 : 0;
}
