/* [data] keys: defaults, validation of one key, per-dataset defaults. */
#include "figkd/data.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const dataset_names[] = {
    "cifar100", "cifar10", "tinyimagenet", "imagefolder", "fashion-mnist", "mnist",
};
#define N_DATASETS (int)(sizeof dataset_names / sizeof dataset_names[0])

static const char *const valid_keys =
    "dataset, root, augment, shuffle, subset, test_subset, input_size, resize, workers, "
    "channels, cache, mean, std";

const char *fk_dataset_name(fk_dataset_kind k)
{
    if ((int)k >= 0 && (int)k < N_DATASETS)
        return dataset_names[k];
    return "?";
}

void fk_data_config_default(fk_data_config *c)
{
    memset(c, 0, sizeof *c);
    c->dataset = FK_DATASET_CIFAR100;
    c->augment = FK_AUGMENT_STANDARD;
    c->shuffle = 1;
    c->cache = 1;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
        !strcasecmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
        !strcasecmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static fk_status parse_int_key(const char *key, const char *value, long lo, long hi,
                               const char *what, int *out)
{
    long v;
    if (fk_parse_long(value, &v) || v < lo || v > hi)
        return fk_error(FK_ERR_ARG, "[data] %s = '%s': expected %s", key, value, what);
    *out = (int)v;
    return FK_OK;
}

/* "a, b, c" or "a": 1 or 3 numbers in range. */
static fk_status parse_list(const char *key, const char *value, int positive,
                            float *out, int *n_out)
{
    char buf[256];
    if (strlen(value) >= sizeof buf)
        return fk_error(FK_ERR_ARG, "[data] %s: value too long", key);
    strcpy(buf, value);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        double d;
        if (n == 3 || fk_parse_double(tok, &d) || (positive && !(d > 0.0)) ||
            !(d > -1e6 && d < 1e6))
            goto bad;
        out[n++] = (float)d;
    }
    if (n != 1 && n != 3)
        goto bad;
    *n_out = n;
    return FK_OK;
bad:
    return fk_error(FK_ERR_ARG,
                    "[data] %s = '%s': expected 1 or 3 comma-separated numbers%s "
                    "(one per channel, in 0..1 pixel units)",
                    key, value, positive ? " > 0" : "");
}

fk_status fk_data_config_set(fk_data_config *c, const char *key, const char *value)
{
    if (!strcmp(key, "dataset")) {
        for (int i = 0; i < N_DATASETS; i++)
            if (!strcmp(value, dataset_names[i])) {
                c->dataset = (fk_dataset_kind)i;
                return FK_OK;
            }
        return fk_error(FK_ERR_ARG,
                        "[data] dataset = '%s': expected one of cifar100, cifar10, "
                        "tinyimagenet, imagefolder, fashion-mnist, mnist", value);
    }
    if (!strcmp(key, "root")) {
        if (!*value || strlen(value) >= FK_DATA_PATH_MAX)
            return fk_error(FK_ERR_ARG, "[data] root = '%s': expected a folder path "
                            "(1 to %d characters)", value, FK_DATA_PATH_MAX - 1);
        strcpy(c->root, value);
        return FK_OK;
    }
    if (!strcmp(key, "augment")) {
        if (!strcmp(value, "standard"))
            c->augment = FK_AUGMENT_STANDARD;
        else if (!strcmp(value, "none"))
            c->augment = FK_AUGMENT_NONE;
        else
            return fk_error(FK_ERR_ARG, "[data] augment = '%s': expected standard or none",
                            value);
        return FK_OK;
    }
    if (!strcmp(key, "shuffle") || !strcmp(key, "cache")) {
        int b;
        if (parse_bool(value, &b))
            return fk_error(FK_ERR_ARG, "[data] %s = '%s': expected true or false", key,
                            value);
        if (key[0] == 's')
            c->shuffle = b;
        else
            c->cache = b;
        return FK_OK;
    }
    if (!strcmp(key, "subset") || !strcmp(key, "test_subset")) {
        long v;
        if (fk_parse_long(value, &v) || v < 0)
            return fk_error(FK_ERR_ARG, "[data] %s = '%s': expected a count of "
                            "%s images >= 0 (0 = all)", key, value, key[0] == 's' ? "training" : "test");
        if (key[0] == 's')
            c->subset = v;
        else
            c->test_subset = v;
        return FK_OK;
    }
    if (!strcmp(key, "input_size"))
        return parse_int_key(key, value, 8, 4096, "an image side from 8 to 4096",
                             &c->input_size);
    if (!strcmp(key, "resize"))
        return parse_int_key(key, value, 0, 8192, "a side from 8 to 8192 (0 = auto)",
                             &c->resize);
    if (!strcmp(key, "workers"))
        return parse_int_key(key, value, 0, 256, "a thread count from 1 to 256 (0 = auto)",
                             &c->workers);
    if (!strcmp(key, "channels")) {
        if (strcmp(value, "1") && strcmp(value, "3"))
            return fk_error(FK_ERR_ARG, "[data] channels = '%s': expected 1 or 3", value);
        c->channels = value[0] - '0';
        return FK_OK;
    }
    if (!strcmp(key, "mean"))
        return parse_list(key, value, 0, c->mean, &c->n_mean);
    if (!strcmp(key, "std"))
        return parse_list(key, value, 1, c->std, &c->n_std);
    return fk_error(FK_ERR_ARG, "[data] unknown key '%s'; valid keys: %s", key, valid_keys);
}

fk_status fk_data_config_finish(fk_data_config *c)
{
    static const struct {
        const char *root;
        int size;
        float mean[3], std[3];
        int n;
    } def[] = {
        [FK_DATASET_CIFAR100] = {"data/cifar-100-binary", 32, {0.5071f, 0.4867f, 0.4408f},
                                 {0.2675f, 0.2565f, 0.2761f}, 3},
        [FK_DATASET_CIFAR10] = {"data/cifar-10-batches-bin", 32, {0.4914f, 0.4822f, 0.4465f},
                                {0.2470f, 0.2435f, 0.2616f}, 3},
        [FK_DATASET_TINYIMAGENET] = {"data/tiny-imagenet-200", 64, {0.485f, 0.456f, 0.406f},
                                     {0.229f, 0.224f, 0.225f}, 3},
        [FK_DATASET_IMAGEFOLDER] = {"", 224, {0.485f, 0.456f, 0.406f},
                                    {0.229f, 0.224f, 0.225f}, 3},
        [FK_DATASET_FASHION_MNIST] = {"/usr/share/datasets/fashion-mnist", 28, {0.2860f, 0, 0},
                                      {0.3530f, 0, 0}, 1},
        [FK_DATASET_MNIST] = {"data/mnist", 28, {0.1307f, 0, 0}, {0.3081f, 0, 0}, 1},
    };
    int k = (int)c->dataset;
    if (k < 0 || k >= N_DATASETS)
        return fk_error(FK_ERR_ARG, "[data] dataset: invalid value %d", k);
    if (!c->root[0]) {
        if (!def[k].root[0])
            return fk_error(FK_ERR_ARG, "[data] root: required for dataset = imagefolder "
                            "(a folder holding train/<class>/<image> and test/<class>/<image>)");
        strcpy(c->root, def[k].root);
    }
    if (!c->input_size)
        c->input_size = def[k].size;
    if (!c->n_mean) {
        memcpy(c->mean, def[k].mean, sizeof c->mean);
        c->n_mean = def[k].n;
    }
    if (!c->n_std) {
        memcpy(c->std, def[k].std, sizeof c->std);
        c->n_std = def[k].n;
    }
    if (!c->resize)
        c->resize = (c->input_size * 8 + 3) / 7; /* 224 -> 256, 64 -> 73, 32 -> 37 */
    if (c->resize < c->input_size)
        return fk_error(FK_ERR_ARG, "[data] resize = %d: must be >= input_size = %d",
                        c->resize, c->input_size);
    if (!c->workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = n < 1 ? 1 : n > 4 ? 4 : (int)n;
    }
    return FK_OK;
}
