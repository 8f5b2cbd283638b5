/* Command-line parsing shared by the commands. */
#include "cli/args.h"
#include "figkd/parallel.h"
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(const cli_args *a, FILE *f)
{
    fprintf(f, "usage: figkd-cl %s\n", a->usage);
}

static int bad(cli_args *a, const char *fmt, const char *x, const char *y)
{
    fprintf(stderr, "figkd-cl %s: ", a->cmd);
    fprintf(stderr, fmt, x, y);
    fprintf(stderr, "\n");
    cli_usage(a, stderr);
    free(a->sets);
    a->sets = NULL;
    return 2;
}

/* Whether v is one of the comma-separated choices. */
static bool one_of(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; c; c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL)
        if (!strncmp(c, v, n) && (c[n] == ',' || c[n] == '\0'))
            return true;
    return false;
}

/* An option of the table at argv[*i]; 1 when it was one, -1 on a bad value. */
static int take_opt(cli_args *a, int argc, char **argv, int *i, const arg_opt *o)
{
    if (strcmp(argv[*i], o->name))
        return 0;
    if (o->kind == ARG_FLAG) {
        *(bool *)o->dst = true;
        return 1;
    }
    if (*i + 1 >= argc)
        return bad(a, "%s needs a value%s", o->name, ""), -1;
    const char *v = argv[++*i];
    if (o->kind == ARG_TEXT && o->choices && !one_of(o->choices, v))
        return bad(a, "%s must be one of %s", o->name, o->choices), -1;
    if (o->kind == ARG_TEXT) {
        *(const char **)o->dst = v;
        return 1;
    }
    long n;
    if (fk_parse_long(v, &n) || n < 1)
        return bad(a, "%s needs a positive integer, got '%s'", o->name, v), -1;
    *(long *)o->dst = n;
    return 1;
}

static int parse(cli_args *a, int argc, char **argv)
{
    a->sets = calloc((size_t)argc + (size_t)a->n_more, sizeof *a->sets);
    a->nsets = 0;
    a->config = NULL;
    if (!a->sets)
        return 1;
    for (int i = 2; i < argc; i++) {
        int took = 0;
        for (int j = 0; j < a->n_opts && !took; j++)
            took = take_opt(a, argc, argv, &i, &a->opts[j]);
        if (took < 0)
            return 2;
        if (took)
            continue;
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            a->sets[a->nsets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6))
            a->sets[a->nsets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            cli_usage(a, stdout);
            free(a->sets);
            return 0;
        } else if (argv[i][0] != '-' && !a->config)
            a->config = argv[i];
        else
            return bad(a, "unknown option '%s'%s", argv[i], "");
    }
    if (!a->config)
        return bad(a, "no CONFIG given%s%s", "", "");
    for (int j = 0; j < a->n_opts; j++)
        if (a->opts[j].required && !*(const char **)a->opts[j].dst)
            return bad(a, "%s is required%s", a->opts[j].name, "");
    return -1;
}

int cli_start(cli_args *a, int argc, char **argv, fk_config *cfg)
{
    int rc = parse(a, argc, argv);
    if (rc >= 0)
        return rc;
    for (int i = 0; i < a->n_more; i++)
        a->sets[a->nsets++] = a->more_sets[i];
    fk_status st = a->data_only      ? fk_config_load_data(cfg, a->config, a->sets, a->nsets)
                   : a->weights_only ? fk_config_load_eval(cfg, a->config, a->sets, a->nsets)
                                     : fk_config_load(cfg, a->config, a->sets, a->nsets);
    free(a->sets);
    a->sets = NULL;
    if (st == FK_OK || (st == FK_ERR_ARG && a->keep_going && !(cfg->broken == FK_BROKEN_ALL)))
        return -1;
    return cli_errors(a, cfg->errors ? cfg->errors : 1);
}

int cli_start_synthetic(cli_args *a, int argc, char **argv, fk_config *cfg)
{
    int rc = cli_start(a, argc, argv, cfg);
    if (rc < 0 && cfg->errors) { /* synthetic input: the config is all there is to check */
        const int errors = cfg->errors;
        fk_config_free(cfg);
        return cli_errors(a, errors);
    }
    return rc;
}

int cli_errors(const cli_args *a, int errors)
{
    fprintf(stderr, "figkd-cl %s: %d error%s in %s\n", a->cmd, errors, errors == 1 ? "" : "s", a->config);
    return 1;
}

int cli_ranks(const char *cmd, int (*body)(int, char **), int argc, char **argv, bool root_only)
{
    fk_par par;
    if (fk_par_init(NULL, NULL, fk_env_mpi_launched(), &par) != FK_OK)
        return 1;
    int rc = 0;
    if (fk_par_root(&par) || !root_only) {
        /* output from rank 0; errors from any rank (stderr) */
        if (!fk_par_root(&par) && !freopen("/dev/null", "w", stdout))
            fprintf(stderr, "figkd-cl: rank %d: cannot silence stdout\n", par.rank);
        rc = body(argc, argv);
    }
    if (fk_par_many(&par) && (rc == 1 || rc == 2)) {
        fprintf(stderr, "figkd-cl %s: rank %d of %d failed: ending the job\n", cmd, par.rank, par.size);
        fk_par_abort(&par, rc);
    }
    fk_par_finalize(&par);
    return rc;
}
