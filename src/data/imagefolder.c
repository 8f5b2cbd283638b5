/* ImageFolder trees: root/{train,test}/<class>/<image>, as torchvision's
 * ImageFolder: classes = sorted folder names, files sorted by name. Images
 * are decoded in the loader threads. */
#include "data/data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static fk_status strlist_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        long cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return fk_error(FK_ERR_NOMEM, "out of host memory listing a folder");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    if (!l->v[l->n])
        return fk_error(FK_ERR_NOMEM, "out of host memory listing a folder");
    l->n++;
    return FK_OK;
}

static void strlist_free(strlist *l)
{
    for (long i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* torchvision's IMG_EXTENSIONS that we can decode. */
static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg");
}

fk_status fk_list_dir(const char *dir, int dirs, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return fk_error(FK_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    char path[FK_DATA_PATH_MAX * 2];
    fk_status s = FK_OK;
    while (s == FK_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (dirs ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) && is_image_name(e->d_name)))
            s = strlist_push(out, e->d_name);
    }
    closedir(d);
    if (s == FK_OK && out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return s;
}

/* The class folders of the other split, when it exists, must be the same
 * names in the same order: a label is a folder's position, so a renamed,
 * missing or extra folder would silently score against the wrong class. */
static fk_status check_other_split(const char *root, int train, const char *split,
                                   const strlist *classes)
{
    const char *name = train ? "train" : "test", *other_name = train ? "test" : "train";
    char other[FK_DATA_PATH_MAX + 16];
    snprintf(other, sizeof other, "%s/%s", root, other_name);
    struct stat st;
    if (stat(other, &st) != 0 || !S_ISDIR(st.st_mode))
        return FK_OK; /* reported when that split is opened */
    strlist oc = {0};
    fk_status s = fk_list_dir(other, 1, &oc);
    if (s != FK_OK)
        return s;
    long n = classes->n < oc.n ? classes->n : oc.n;
    long k = 0;
    while (k < n && strcmp(classes->v[k], oc.v[k]) == 0)
        k++;
    if (k < n)
        s = fk_error(FK_ERR_FORMAT, "imagefolder: the class folders of %s and %s differ: "
                     "class %ld is '%s' in %s but '%s' in %s; both splits need the same "
                     "class folder names", split, other, k, classes->v[k], name, oc.v[k],
                     other_name);
    else if (classes->n != oc.n)
        s = fk_error(FK_ERR_FORMAT, "imagefolder: the class folders of %s and %s differ: "
                     "%s has %ld class folders, %s has %ld; '%s' is only in %s", split, other,
                     name, classes->n, other_name, oc.n,
                     classes->n > oc.n ? classes->v[k] : oc.v[k],
                     classes->n > oc.n ? name : other_name);
    strlist_free(&oc);
    return s;
}

fk_status fk_read_imagefolder(const fk_data_config *c, int train, fk_dataset *ds)
{
    char split[FK_DATA_PATH_MAX + 16];
    snprintf(split, sizeof split, "%s/%s", c->root, train ? "train" : "test");
    strlist classes = {0}, files = {0}, paths = {0};
    int32_t *labels = NULL;
    struct stat st;
    if (stat(split, &st) != 0 || !S_ISDIR(st.st_mode))
        return fk_error(FK_ERR_IO,
            "imagefolder: %s: no such folder. Expected [data] root = %s to hold "
            "train/<class>/<image> and test/<class>/<image> (PNG or JPEG), as torchvision "
            "ImageFolder reads (the official layouts of CUB-200-2011, Stanford Dogs, "
            "MIT Indoor-67 and Stanford 40 Actions are read without train/ and test/: "
            "docs/data.md)", split, c->root);
    fk_status s = fk_list_dir(split, 1, &classes);
    if (s != FK_OK)
        goto fail;
    if (classes.n == 0) {
        s = fk_error(FK_ERR_FORMAT, "imagefolder: %s has no class folders", split);
        goto fail;
    }
    s = check_other_split(c->root, train, split, &classes);
    if (s != FK_OK)
        goto fail;
    long cap = 0;
    for (long k = 0; k < classes.n; k++) {
        char dir[FK_DATA_PATH_MAX * 2];
        snprintf(dir, sizeof dir, "%s/%s", split, classes.v[k]);
        s = fk_list_dir(dir, 0, &files);
        if (s != FK_OK)
            goto fail;
        if (files.n == 0) {
            s = fk_error(FK_ERR_FORMAT, "imagefolder: %s has no .png/.jpg/.jpeg images", dir);
            goto fail;
        }
        if (paths.n + files.n > cap) {
            cap = (paths.n + files.n) * 2;
            int32_t *nl = realloc(labels, (size_t)cap * sizeof *nl);
            if (!nl) {
                s = fk_error(FK_ERR_NOMEM, "out of host memory listing %s", dir);
                goto fail;
            }
            labels = nl;
        }
        for (long i = 0; i < files.n && s == FK_OK; i++) {
            char p[FK_DATA_PATH_MAX * 3];
            snprintf(p, sizeof p, "%s/%s", dir, files.v[i]);
            labels[paths.n] = (int32_t)k;
            s = strlist_push(&paths, p);
        }
        strlist_free(&files);
        if (s != FK_OK)
            goto fail;
    }
    ds->classes = (int)classes.n;
    ds->class_names = classes.v;
    ds->channels = 3;
    ds->h = ds->w = 0;
    ds->n = paths.n;
    ds->paths = paths.v;
    ds->labels = labels;
    return FK_OK;
fail:
    strlist_free(&classes);
    strlist_free(&files);
    strlist_free(&paths);
    free(labels);
    return s;
}
