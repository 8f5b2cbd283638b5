/* dataset = imagefolder: root/{train,test}/<class>/<image> (imagefolder.c),
 * or, without those folders, the official layout of a fine-grained data set
 * as downloaded and extracted, detected by its files:
 *   CUB-200-2011       images.txt, image_class_labels.txt, train_test_split.txt,
 *                      classes.txt (names, optional), images/
 *   Stanford Dogs      train_list.mat, test_list.mat (in lists/ or root; MATLAB
 *                      v5: file_list, labels) or train_list.txt, test_list.txt
 *                      ("<breed folder>/<file> [label]"), Images/
 *   MIT Indoor-67      TrainImages.txt, TestImages.txt ("<category>/<file>"), Images/
 *   Stanford 40        ImageSplits/<action>_train.txt, <action>_test.txt, JPEGImages/
 * Both split lists are read on every open, so the class set and indices are
 * the same for train and test; every listed image must exist. */
#include "data/layouts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

/* One split as listed: image paths relative to the image folder, 0-based
 * labels (-1: by the folder, the first path component), where each came from. */
typedef struct entries {
    char **rel;
    int32_t *label;
    long *line;              /* line of the list (entry number for a .mat) */
    int *src;                /* list file: index into the layout's srcs */
    long n, cap;
} entries;

typedef struct layout {
    const fk_data_config *c;
    const char *name;        /* fk_dataset.layout */
    char img_dir[FK_DATA_PATH_MAX + 32];
    char **srcs;             /* list files named in messages */
    int n_srcs;
    entries split[2];        /* [0] test, [1] train */
    char **names;            /* class names given by the layout, or NULL */
    int n_names;
} layout;

static fk_status oom(void) { return fk_error(FK_ERR_NOMEM, "out of host memory listing images"); }

static fk_status add(entries *e, const char *rel, int32_t label, int src, long line)
{
    if (e->n == e->cap) {
        long nc = e->cap ? e->cap * 2 : 256;
        char **r = realloc(e->rel, (size_t)nc * sizeof *r);
        if (r)
            e->rel = r;
        int32_t *l = realloc(e->label, (size_t)nc * sizeof *l);
        if (l)
            e->label = l;
        long *ln = realloc(e->line, (size_t)nc * sizeof *ln);
        if (ln)
            e->line = ln;
        int *s = realloc(e->src, (size_t)nc * sizeof *s);
        if (s)
            e->src = s;
        if (!r || !l || !ln || !s)
            return oom();
        e->cap = nc;
    }
    if (!(e->rel[e->n] = strdup(rel)))
        return oom();
    e->label[e->n] = label;
    e->line[e->n] = line;
    e->src[e->n] = src;
    e->n++;
    return FK_OK;
}

static void entries_free(entries *e)
{
    for (long i = 0; i < e->n; i++)
        free(e->rel[i]);
    free(e->rel);
    free(e->label);
    free(e->line);
    free(e->src);
    memset(e, 0, sizeof *e);
}

static void free_names(char **v, long n)
{
    if (v)
        for (long i = 0; i < n; i++)
            free(v[i]);
    free(v);
}

/* Keep path for messages; its index, or -1 out of memory. */
static int add_src(layout *L, const char *path)
{
    char **v = realloc(L->srcs, (size_t)(L->n_srcs + 1) * sizeof *v);
    if (!v)
        return -1;
    L->srcs = v;
    if (!(v[L->n_srcs] = strdup(path)))
        return -1;
    return L->n_srcs++;
}

static int exists(const char *root, const char *name, int dir)
{
    char p[FK_DATA_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", root, name);
    struct stat st;
    return stat(p, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

/* ---- text lists ---- */

typedef struct text {
    FILE *f;
    const char *path;
    long ln;
    char buf[FK_DATA_PATH_MAX];
} text;

static fk_status text_open(text *t, const char *path)
{
    t->path = path;
    t->ln = 0;
    t->f = fopen(path, "r");
    if (!t->f)
        return fk_error(FK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return FK_OK;
}

/* Next non-empty line, split at blanks into up to max fields (max = 1: the
 * whole line less its surrounding blanks, so names may hold spaces); *nf = 0
 * at the end. */
static fk_status text_next(text *t, char **field, int max, int *nf)
{
    *nf = 0;
    while (fgets(t->buf, sizeof t->buf, t->f)) {
        t->ln++;
        if (!strchr(t->buf, '\n') && !feof(t->f))
            return fk_error(FK_ERR_FORMAT, "%s:%ld: line longer than %zu characters", t->path,
                            t->ln, sizeof t->buf - 2);
        if (max == 1) {
            char *b = t->buf + strspn(t->buf, " \t\r\n"), *e = b + strlen(b);
            while (e > b && strchr(" \t\r\n", e[-1]))
                *--e = '\0';
            if (*b) {
                field[(*nf)++] = b;
                return FK_OK;
            }
            continue;
        }
        char *save = NULL, *tok = strtok_r(t->buf, " \t\r\n", &save);
        while (tok && *nf < max) {
            field[(*nf)++] = tok;
            tok = strtok_r(NULL, " \t\r\n", &save);
        }
        if (tok)
            return fk_error(FK_ERR_FORMAT, "%s:%ld: more than %d fields", t->path, t->ln, max);
        if (*nf)
            return FK_OK;
    }
    if (ferror(t->f))
        return fk_error(FK_ERR_IO, "%s: read error", t->path);
    return FK_OK;
}

static long field_num(const text *t, const char *s, long lo, long hi, const char *what,
                      fk_status *st)
{
    long v;
    if (fk_parse_long(s, &v) != 0 || v < lo || v > hi) {
        *st = fk_error(FK_ERR_FORMAT, "%s:%ld: %s '%s': expected a whole number in %ld..%ld",
                       t->path, t->ln, what, s, lo, hi);
        return -1;
    }
    return v;
}

/* ---- CUB-200-2011 ---- */

/* "<id> <value>" lines with ids 1..n, each once, all present -> v[id - 1]. */
static fk_status read_id_values(const char *path, long n, long lo, long hi, const char *what,
                                long *v)
{
    text t;
    fk_status s = text_open(&t, path);
    if (s != FK_OK)
        return s;
    for (long i = 0; i < n; i++)
        v[i] = LONG_MIN;
    char *f[2];
    int nf;
    while ((s = text_next(&t, f, 2, &nf)) == FK_OK && nf) {
        if (nf != 2) {
            s = fk_error(FK_ERR_FORMAT, "%s:%ld: expected '<image id> <%s>'", path, t.ln, what);
            break;
        }
        long id = field_num(&t, f[0], 1, n, "image id", &s);
        long x = id > 0 ? field_num(&t, f[1], lo, hi, what, &s) : -1;
        if (s != FK_OK)
            break;
        if (v[id - 1] != LONG_MIN) {
            s = fk_error(FK_ERR_FORMAT, "%s:%ld: image id %ld given twice", path, t.ln, id);
            break;
        }
        v[id - 1] = x;
    }
    fclose(t.f);
    for (long i = 0; s == FK_OK && i < n; i++)
        if (v[i] == LONG_MIN)
            s = fk_error(FK_ERR_FORMAT, "%s: image id %ld of images.txt is missing", path, i + 1);
    return s;
}

static fk_status read_cub(layout *L)
{
    const char *root = L->c->root;
    snprintf(L->img_dir, sizeof L->img_dir, "%s/images", root);
    char images[FK_DATA_PATH_MAX + 64], labels[FK_DATA_PATH_MAX + 64];
    char split[FK_DATA_PATH_MAX + 64], cls[FK_DATA_PATH_MAX + 64];
    snprintf(images, sizeof images, "%s/images.txt", root);
    snprintf(labels, sizeof labels, "%s/image_class_labels.txt", root);
    snprintf(split, sizeof split, "%s/train_test_split.txt", root);
    snprintf(cls, sizeof cls, "%s/classes.txt", root);
    int src = add_src(L, images);
    if (src < 0)
        return oom();
    entries all = {0};
    long *lab = NULL, *tr = NULL, k_max = 1L << 20;
    text t;
    char *f[2];
    int nf;
    fk_status s = FK_OK;
    /* classes.txt (optional): "<class id> <name>", ids 1..K in order */
    if (exists(root, "classes.txt", 0)) {
        if ((s = text_open(&t, cls)) != FK_OK)
            return s;
        while ((s = text_next(&t, f, 2, &nf)) == FK_OK && nf) {
            long id = nf == 2 ? field_num(&t, f[0], L->n_names + 1, L->n_names + 1,
                                          "class id", &s) : -1;
            if (s == FK_OK && nf != 2)
                s = fk_error(FK_ERR_FORMAT, "%s:%ld: expected '<class id> <name>'", cls, t.ln);
            if (s != FK_OK)
                break;
            char **nv = realloc(L->names, (size_t)id * sizeof *nv);
            if (!nv || !(nv[id - 1] = strdup(f[1]))) {
                if (nv)
                    L->names = nv;
                s = oom();
                break;
            }
            L->names = nv;
            L->n_names = (int)id;
        }
        fclose(t.f);
        if (s != FK_OK)
            return s;
        k_max = L->n_names;
    }
    /* images.txt: "<id> <class folder>/<file>", ids 1, 2, 3, ... */
    if ((s = text_open(&t, images)) != FK_OK)
        return s;
    while ((s = text_next(&t, f, 2, &nf)) == FK_OK && nf) {
        if (nf != 2) {
            s = fk_error(FK_ERR_FORMAT, "%s:%ld: expected '<image id> <path>'", images, t.ln);
            break;
        }
        field_num(&t, f[0], all.n + 1, all.n + 1, "image id (they run 1, 2, 3, ...)", &s);
        if (s == FK_OK)
            s = add(&all, f[1], -1, src, t.ln);
        if (s != FK_OK)
            break;
    }
    fclose(t.f);
    if (s == FK_OK && all.n == 0)
        s = fk_error(FK_ERR_FORMAT, "%s: no images listed", images);
    if (s == FK_OK && (!(lab = fk_malloc((size_t)all.n * sizeof *lab)) ||
                       !(tr = fk_malloc((size_t)all.n * sizeof *tr))))
        s = FK_ERR_NOMEM;
    if (s == FK_OK)
        s = read_id_values(labels, all.n, 1, k_max, "class id", lab);
    if (s == FK_OK)
        s = read_id_values(split, all.n, 0, 1, "is_training_image", tr);
    for (long i = 0; s == FK_OK && i < all.n; i++)
        s = add(&L->split[tr[i]], all.rel[i], (int32_t)(lab[i] - 1), src, all.line[i]);
    free(lab);
    free(tr);
    entries_free(&all);
    return s;
}

/* ---- Stanford Dogs ---- */

static fk_status read_dogs_list(layout *L, int train)
{
    const char *root = L->c->root, *base = train ? "train_list" : "test_list";
    char path[FK_DATA_PATH_MAX + 64];
    int src;
    entries *e = &L->split[train];
    const char *dirs[2] = {"lists/", ""};
    for (int d = 0; d < 2; d++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s.mat", dirs[d], base);
        if (exists(root, name, 0)) {
            snprintf(path, sizeof path, "%s/%s", root, name);
            if ((src = add_src(L, path)) < 0)
                return oom();
            fk_mat_var files, labels;
            fk_status s = fk_mat_read(path, "file_list", &files);
            if (s != FK_OK)
                return s;
            if (!files.strings) {
                fk_mat_var_free(&files);
                return fk_error(FK_ERR_FORMAT, "%s: file_list is not a cell array of names", path);
            }
            s = fk_mat_read(path, "labels", &labels);
            if (s == FK_OK && (!labels.values || labels.n != files.n))
                s = fk_error(FK_ERR_FORMAT, "%s: labels is not a numeric array of %ld labels, one "
                             "per file_list entry", path, files.n);
            for (long i = 0; s == FK_OK && i < files.n; i++) {
                double y = labels.values[i];
                if (!(y >= 1 && y <= 100000) || y != (double)(long)y)
                    s = fk_error(FK_ERR_FORMAT, "%s: labels(%ld) = %g: expected a class number "
                                 "1, 2, ...", path, i + 1, y);
                else
                    s = add(e, files.strings[i], (int32_t)y - 1, src, i + 1);
            }
            fk_mat_var_free(&files);
            fk_mat_var_free(&labels);
            return s;
        }
        snprintf(name, sizeof name, "%s%s.txt", dirs[d], base);
        if (exists(root, name, 0)) {
            snprintf(path, sizeof path, "%s/%s", root, name);
            if ((src = add_src(L, path)) < 0)
                return oom();
            text t;
            fk_status s = text_open(&t, path);
            char *f[2];
            int nf;
            while (s == FK_OK && (s = text_next(&t, f, 2, &nf)) == FK_OK && nf) {
                long y = nf == 2 ? field_num(&t, f[1], 1, 100000, "label", &s) : 0;
                if (s == FK_OK)
                    s = add(e, f[0], (int32_t)y - 1, src, t.ln);
            }
            if (t.f)
                fclose(t.f);
            return s;
        }
    }
    return fk_error(FK_ERR_IO, "imagefolder: Stanford Dogs layout in %s: no %s.mat (or %s.txt) "
                    "in lists/ or in root; extract lists.tar from "
                    "http://vision.stanford.edu/aditya86/ImageNetDogs/ there", root, base, base);
}

static fk_status read_dogs(layout *L)
{
    snprintf(L->img_dir, sizeof L->img_dir, "%s/%s", L->c->root,
             exists(L->c->root, "Images", 1) ? "Images" : "images");
    fk_status s = read_dogs_list(L, 1);
    return s == FK_OK ? read_dogs_list(L, 0) : s;
}

/* ---- MIT Indoor-67 ---- */

static fk_status read_mit67(layout *L)
{
    snprintf(L->img_dir, sizeof L->img_dir, "%s/Images", L->c->root);
    for (int train = 0; train < 2; train++) {
        char path[FK_DATA_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", L->c->root,
                 train ? "TrainImages.txt" : "TestImages.txt");
        int src = add_src(L, path);
        if (src < 0)
            return oom();
        text t;
        fk_status s = text_open(&t, path);
        char *f[1];
        int nf;
        while (s == FK_OK && (s = text_next(&t, f, 1, &nf)) == FK_OK && nf)
            s = add(&L->split[train], f[0], -1, src, t.ln);
        if (t.f)
            fclose(t.f);
        if (s != FK_OK)
            return s;
    }
    return FK_OK;
}

/* ---- Stanford 40 Actions ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static fk_status read_stanford40(layout *L)
{
    const char *root = L->c->root;
    snprintf(L->img_dir, sizeof L->img_dir, "%s/JPEGImages", root);
    char dir[FK_DATA_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/ImageSplits", root);
    /* classes: the <action> of each <action>_train.txt, sorted */
    DIR *d = opendir(dir);
    if (!d)
        return fk_error(FK_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *de;
    fk_status s = FK_OK;
    const char *suffix = "_train.txt";
    size_t sl = strlen(suffix);
    while (s == FK_OK && (de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (k <= sl || strcmp(de->d_name + k - sl, suffix))
            continue;
        char **nv = realloc(L->names, (size_t)(L->n_names + 1) * sizeof *nv);
        if (!nv || !(nv[L->n_names] = strndup(de->d_name, k - sl))) {
            if (nv)
                L->names = nv;
            s = oom();
            break;
        }
        L->names = nv;
        L->n_names++;
    }
    closedir(d);
    if (s != FK_OK)
        return s;
    if (L->n_names == 0)
        return fk_error(FK_ERR_FORMAT, "imagefolder: %s has no <action>_train.txt lists "
                        "(Stanford 40 Actions layout)", dir);
    qsort(L->names, (size_t)L->n_names, sizeof *L->names, cmp_str);
    for (int train = 0; train < 2 && s == FK_OK; train++)
        for (int k = 0; k < L->n_names && s == FK_OK; k++) {
            char path[FK_DATA_PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s_%s.txt", dir, L->names[k],
                     train ? "train" : "test");
            int src = add_src(L, path);
            if (src < 0)
                return oom();
            text t;
            s = text_open(&t, path);
            char *f[1];
            int nf;
            while (s == FK_OK && (s = text_next(&t, f, 1, &nf)) == FK_OK && nf)
                s = add(&L->split[train], f[0], k, src, t.ln);
            if (t.f)
                fclose(t.f);
        }
    return s;
}

/* ---- common: classes, checks, the data set ---- */

static int find_name(char **v, int n, const char *s)
{
    char **hit = n ? bsearch(&s, v, (size_t)n, sizeof *v, cmp_str) : NULL;
    return hit ? (int)(hit - v) : -1;
}

/* Length of the first path component of rel (0: none). */
static size_t folder_len(const char *rel)
{
    const char *slash = strchr(rel, '/');
    return slash ? (size_t)(slash - rel) : 0;
}

/* Entries without labels: classes = sorted first path components of both splits. */
static fk_status classes_by_folder(layout *L)
{
    for (int sp = 0; sp < 2; sp++)
        for (long i = 0; i < L->split[sp].n; i++) {
            const entries *e = &L->split[sp];
            size_t k = folder_len(e->rel[i]);
            if (!k)
                return fk_error(FK_ERR_FORMAT, "%s:%ld: '%s' is not <class folder>/<file>",
                                L->srcs[e->src[i]], e->line[i], e->rel[i]);
            char *name = strndup(e->rel[i], k);
            if (!name)
                return oom();
            if (find_name(L->names, L->n_names, name) >= 0) {
                free(name);
                continue;
            }
            char **nv = realloc(L->names, (size_t)(L->n_names + 1) * sizeof *nv);
            if (!nv) {
                free(name);
                return oom();
            }
            L->names = nv;
            /* insert sorted */
            int at = L->n_names;
            while (at > 0 && strcmp(L->names[at - 1], name) > 0) {
                L->names[at] = L->names[at - 1];
                at--;
            }
            L->names[at] = name;
            L->n_names++;
        }
    for (int sp = 0; sp < 2; sp++)
        for (long i = 0; i < L->split[sp].n; i++) {
            char name[FK_DATA_PATH_MAX];
            snprintf(name, sizeof name, "%.*s", (int)folder_len(L->split[sp].rel[i]),
                     L->split[sp].rel[i]);
            L->split[sp].label[i] = find_name(L->names, L->n_names, name);
        }
    return FK_OK;
}

/* Entries with labels: classes = the largest label; names from the layout,
 * else from the folder of each class's first image (one folder per class). */
static fk_status classes_by_label(layout *L)
{
    int k_max = 0;
    for (int sp = 0; sp < 2; sp++)
        for (long i = 0; i < L->split[sp].n; i++)
            if (L->split[sp].label[i] + 1 > k_max)
                k_max = L->split[sp].label[i] + 1;
    if (L->names) {
        for (int sp = 0; sp < 2; sp++)
            for (long i = 0; i < L->split[sp].n; i++)
                if (L->split[sp].label[i] < 0)
                    return fk_error(FK_ERR_FORMAT, "%s:%ld: no label",
                                    L->srcs[L->split[sp].src[i]], L->split[sp].line[i]);
        if (k_max > L->n_names)
            return fk_error(FK_ERR_FORMAT, "%s: label %d beyond the %d classes named",
                            L->srcs[0], k_max, L->n_names);
        return FK_OK;
    }
    L->names = fk_calloc((size_t)k_max, sizeof *L->names);
    if (!L->names)
        return FK_ERR_NOMEM;
    L->n_names = k_max;
    for (int sp = 1; sp >= 0; sp--)
        for (long i = 0; i < L->split[sp].n; i++) {
            const entries *e = &L->split[sp];
            int y = e->label[i];
            size_t k = folder_len(e->rel[i]);
            if (y < 0)
                return fk_error(FK_ERR_FORMAT, "%s:%ld: '%s' has no label while other lines "
                                "have one", L->srcs[e->src[i]], e->line[i], e->rel[i]);
            if (!L->names[y]) {
                if (!(L->names[y] = strndup(e->rel[i], k)))
                    return oom();
            } else if (strlen(L->names[y]) != k || strncmp(L->names[y], e->rel[i], k)) {
                return fk_error(FK_ERR_FORMAT, "%s:%ld: '%s' has label %d, whose images are "
                                "in '%s/' elsewhere; one folder per class expected",
                                L->srcs[e->src[i]], e->line[i], e->rel[i], y + 1, L->names[y]);
            }
        }
    for (int y = 0; y < k_max; y++)
        if (!L->names[y] && !(L->names[y] = strdup("")))
            return oom();
    return FK_OK;
}

static void layout_free(layout *L)
{
    entries_free(&L->split[0]);
    entries_free(&L->split[1]);
    free_names(L->names, L->n_names);
    free_names(L->srcs, L->n_srcs);
}

static fk_status no_layout(const fk_data_config *c)
{
    return fk_error(FK_ERR_IO,
        "imagefolder: [data] root = %s holds neither train/<class>/<image> and "
        "test/<class>/<image> (PNG or JPEG, as torchvision ImageFolder reads) nor one of the "
        "official layouts read as downloaded: CUB-200-2011 (images.txt, "
        "image_class_labels.txt, train_test_split.txt, images/), Stanford Dogs "
        "(lists/train_list.mat, test_list.mat, Images/), MIT Indoor-67 (TrainImages.txt, "
        "TestImages.txt, Images/), Stanford 40 Actions (ImageSplits/, JPEGImages/); set root "
        "to the folder holding them (docs/data.md)", c->root);
}

fk_status fk_read_image_layout(const fk_data_config *c, int train, fk_dataset *ds)
{
    const char *r = c->root;
    if (exists(r, "train", 1) || exists(r, "test", 1)) {
        ds->layout = "ImageFolder (train/<class>/<image>, test/<class>/<image>)";
        return fk_read_imagefolder(c, train, ds);
    }
    layout L = {.c = c};
    fk_status s;
    int by_folder = 0;
    if (exists(r, "images.txt", 0) && exists(r, "train_test_split.txt", 0)) {
        L.name = "CUB-200-2011 (images.txt, image_class_labels.txt, train_test_split.txt, images/)";
        s = read_cub(&L);
    } else if (exists(r, "lists/train_list.mat", 0) || exists(r, "train_list.mat", 0) ||
               exists(r, "lists/train_list.txt", 0) || exists(r, "train_list.txt", 0)) {
        L.name = "Stanford Dogs (train_list, test_list in lists/ or root; Images/)";
        s = read_dogs(&L);
    } else if (exists(r, "TrainImages.txt", 0)) {
        L.name = "MIT Indoor-67 (TrainImages.txt, TestImages.txt, Images/)";
        s = read_mit67(&L);
        by_folder = 1;
    } else if (exists(r, "ImageSplits", 1)) {
        L.name = "Stanford 40 Actions (ImageSplits/<action>_{train,test}.txt, JPEGImages/)";
        s = read_stanford40(&L);
    } else {
        return no_layout(c);
    }
    /* Dogs' text lists may come without labels: classes by folder then */
    for (long i = 0; s == FK_OK && !by_folder && i < L.split[1].n; i++)
        by_folder = L.split[1].label[i] < 0;
    if (s == FK_OK)
        s = by_folder ? classes_by_folder(&L) : classes_by_label(&L);
    entries *e = &L.split[train];
    if (s == FK_OK && e->n == 0)
        s = fk_error(FK_ERR_FORMAT, "imagefolder: %s: no %s images listed", L.name,
                     train ? "training" : "test");
    for (long i = 0; s == FK_OK && i < e->n; i++) {
        if (e->label[i] < 0)
            s = fk_error(FK_ERR_FORMAT, "%s:%ld: '%s' has no label while other lines have one",
                         L.srcs[e->src[i]], e->line[i], e->rel[i]);
        else if (strstr(e->rel[i], "..") || e->rel[i][0] == '/')
            s = fk_error(FK_ERR_FORMAT, "%s:%ld: '%s' is not a path inside %s",
                         L.srcs[e->src[i]], e->line[i], e->rel[i], L.img_dir);
        else if (!exists(L.img_dir, e->rel[i], 0))
            s = fk_error(FK_ERR_IO, "%s:%ld: %s/%s: no such image file (the image folder "
                         "of the %s layout)", L.srcs[e->src[i]], e->line[i], L.img_dir,
                         e->rel[i], L.name);
    }
    if (s == FK_OK) {
        ds->paths = fk_calloc((size_t)e->n, sizeof *ds->paths);
        if (!ds->paths)
            s = FK_ERR_NOMEM;
    }
    for (long i = 0; s == FK_OK && i < e->n; i++) {
        size_t k = strlen(L.img_dir) + strlen(e->rel[i]) + 2;
        if (!(ds->paths[i] = malloc(k)))
            s = oom();
        else
            snprintf(ds->paths[i], k, "%s/%s", L.img_dir, e->rel[i]);
        ds->n = i + 1; /* so that fk_dataset_free frees what was made */
    }
    if (s == FK_OK) {
        ds->layout = L.name;
        ds->classes = L.n_names;
        ds->class_names = L.names;
        L.names = NULL;
        ds->channels = 3;
        ds->h = ds->w = 0;
        ds->labels = e->label;
        e->label = NULL;
    }
    layout_free(&L);
    return s;
}
