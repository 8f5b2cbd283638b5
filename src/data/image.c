/* PNG (libpng) and JPEG (libjpeg) decoding to 8-bit RGB. */
#include "data/data_internal.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

static fk_status grow(uint8_t **buf, size_t *size, size_t need)
{
    if (*size >= need)
        return FK_OK;
    uint8_t *p = realloc(*buf, need);
    if (!p)
        return fk_error(FK_ERR_NOMEM, "out of host memory decoding an image (%zu bytes)", need);
    *buf = p;
    *size = need;
    return FK_OK;
}

/* A header's size over the limit: refused before any allocation for it. */
static fk_status too_large(const char *path, const char *kind, unsigned w, unsigned h)
{
    return fk_error(FK_ERR_FORMAT, "%s: %s image of %ux%u pixels is over the limit of %llu "
                    "pixels (8192x8192); corrupt, or to be resized first", path, kind, w, h,
                    (unsigned long long)FK_IMAGE_MAX_PIXELS);
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    int truncated;
};

static void jerr_exit(j_common_ptr ci)
{
    longjmp(((struct jerr *)ci->err)->jump, 1);
}

static void jerr_emit(j_common_ptr ci, int level)
{
    struct jerr *e = (struct jerr *)ci->err;
    if (level < 0 && ci->err->msg_code == JWRN_JPEG_EOF)
        e->truncated = 1;
}

static fk_status decode_jpeg(const char *path, FILE *f, uint8_t **buf, size_t *size,
                             int *h, int *w)
{
    struct jpeg_decompress_struct ci;
    struct jerr e;
    memset(&e, 0, sizeof e);
    ci.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    e.mgr.emit_message = jerr_emit;
    /* volatile: read after longjmp */
    fk_status volatile s = FK_OK;
    if (setjmp(e.jump)) {
        char msg[JMSG_LENGTH_MAX];
        e.mgr.format_message((j_common_ptr)&ci, msg);
        jpeg_destroy_decompress(&ci);
        return fk_error(FK_ERR_FORMAT, "%s: unreadable JPEG image: %s", path, msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    if ((uint64_t)ci.image_width * ci.image_height > FK_IMAGE_MAX_PIXELS) {
        s = too_large(path, "JPEG", ci.image_width, ci.image_height);
        jpeg_destroy_decompress(&ci);
        return s;
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    int W = (int)ci.output_width, H = (int)ci.output_height;
    if (ci.output_components != 3 || W <= 0 || H <= 0) {
        jpeg_destroy_decompress(&ci);
        return fk_error(FK_ERR_FORMAT, "%s: unsupported JPEG (%d components)", path,
                        ci.output_components);
    }
    s = grow(buf, size, (size_t)W * (size_t)H * 3);
    if (s != FK_OK) {
        jpeg_destroy_decompress(&ci);
        return s;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = *buf + (size_t)ci.output_scanline * (size_t)W * 3;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    if (e.truncated)
        return fk_error(FK_ERR_FORMAT, "%s: unreadable JPEG image: truncated (premature "
                        "end of data)", path);
    *h = H;
    *w = W;
    return s;
}

static fk_status decode_png(const char *path, uint8_t **buf, size_t *size, int *h, int *w)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        fk_status s = fk_error(FK_ERR_FORMAT, "%s: unreadable PNG image: %s", path,
                               im.message);
        png_image_free(&im);
        return s;
    }
    if ((uint64_t)im.width * im.height > FK_IMAGE_MAX_PIXELS) {
        png_image_free(&im);
        return too_large(path, "PNG", im.width, im.height);
    }
    im.format = PNG_FORMAT_RGB;
    size_t need = PNG_IMAGE_SIZE(im);
    fk_status s = grow(buf, size, need);
    if (s != FK_OK) {
        png_image_free(&im);
        return s;
    }
    if (!png_image_finish_read(&im, NULL, *buf, 0, NULL)) {
        s = fk_error(FK_ERR_FORMAT, "%s: unreadable PNG image: %s", path, im.message);
        png_image_free(&im);
        return s;
    }
    *h = (int)im.height;
    *w = (int)im.width;
    return FK_OK;
}

fk_status fk_image_decode_rgb(const char *path, uint8_t **buf, size_t *size, int *h, int *w)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fk_error(FK_ERR_IO, "%s: cannot open image: %s", path, strerror(errno));
    uint8_t sig[8];
    size_t n = fread(sig, 1, sizeof sig, f);
    fk_status s;
    if (n == 8 && !png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return decode_png(path, buf, size, h, w);
    }
    if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rewind(f);
        s = decode_jpeg(path, f, buf, size, h, w);
        fclose(f);
        return s;
    }
    fclose(f);
    return fk_error(FK_ERR_FORMAT, "%s: unreadable image: neither PNG nor JPEG%s", path,
                    n == 0 ? " (empty file)" : "");
}
