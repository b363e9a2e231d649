/*
 * Reads a PNG file into tightly packed RGBA8888 with libpng's simplified API (libpng >= 1.6).
 * Shared by the LiveProof C example and the C tests. SPDX-License-Identifier: Apache-2.0
 */
#ifndef LIVEPROOF_EXAMPLES_PNG_RGBA_H
#define LIVEPROOF_EXAMPLES_PNG_RGBA_H

#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An RGBA8888 image: `width * height * 4` bytes, row stride `width * 4`. */
typedef struct png_rgba {
    uint8_t *data;
    uint32_t width;
    uint32_t height;
} png_rgba;

/* Decodes `path` into `*out` (free with png_rgba_free). Returns 0 on success; on failure
 * prints libpng's message to stderr, returns -1 and leaves `*out` untouched. */
static int png_rgba_load(const char *path, png_rgba *out) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        fprintf(stderr, "%s: %s\n", path, image.message);
        return -1;
    }
    image.format = PNG_FORMAT_RGBA;
    size_t size = PNG_IMAGE_SIZE(image);
    uint8_t *data = malloc(size);
    if (data == NULL) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", path, size);
        png_image_free(&image);
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, data, 0, NULL)) {
        fprintf(stderr, "%s: %s\n", path, image.message);
        free(data);
        png_image_free(&image);
        return -1;
    }
    out->data = data;
    out->width = image.width;
    out->height = image.height;
    return 0;
}

static void png_rgba_free(png_rgba *img) {
    free(img->data);
    img->data = NULL;
}

/* The image as an lp_frame (one RGBA8888 plane, upright, not mirrored) taken at
 * `timestamp_ns`; the frame borrows `img->data`. Needs liveproof.h included first. */
static inline lp_frame png_rgba_frame(const png_rgba *img, uint64_t timestamp_ns) {
    lp_frame f;
    memset(&f, 0, sizeof f);
    f.planes[0].data = img->data;
    f.planes[0].len = (size_t)img->width * img->height * 4;
    f.planes[0].row_stride = (size_t)img->width * 4;
    f.format = LP_PIXEL_FORMAT_RGBA8888;
    f.width = img->width;
    f.height = img->height;
    f.timestamp_ns = timestamp_ns;
    return f;
}

#endif /* LIVEPROOF_EXAMPLES_PNG_RGBA_H */
