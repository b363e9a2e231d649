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

#endif /* LIVEPROOF_EXAMPLES_PNG_RGBA_H */
