/* Command-line parsing shared by the commands: a CONFIG argument, repeated
 * --set section.key=value, and options from a small table. Numbers are
 * checked whole: "--steps 2x" is an error naming --steps and "2x". */
#ifndef FIGKD_CLI_ARGS_H
#define FIGKD_CLI_ARGS_H

#include "figkd/config.h"

#include <stdbool.h>

typedef enum { ARG_TEXT, ARG_COUNT, ARG_FLAG } arg_kind;

typedef struct arg_opt {
    const char *name;    /* "--steps" */
    arg_kind kind;
    void *dst;           /* const char **, long * (a count >= 1) or bool * */
    bool required;       /* ARG_TEXT: must be given */
    const char *choices; /* ARG_TEXT: "test,train", NULL = any text */
} arg_opt;

typedef struct cli_args {
    const char *cmd;     /* "bench", for messages */
    const char *usage;   /* the line after "usage: figkd-cl " */
    const arg_opt *opts; /* the command's own options */
    int n_opts;
    const char *const *more_sets; /* applied after the command line's --set */
    int n_more;
    bool weights_only;   /* runs a checkpoint: fk_config_load_eval */
    bool data_only;      /* reads the data only: fk_config_load_data */
    bool keep_going;     /* a config with errors is handed on (cfg->errors) for the command's own checks */
    /* parsed */
    const char *config;
    const char **sets;
    int nsets;
} cli_args;

/* Parse argv[2..argc) and load the config with its --set overrides.
 * Returns -1 to go on (cfg loaded), else the exit status: 0 after --help,
 * 2 for a bad command line (the error and the usage printed), 1 for a
 * config that does not load. */
int cli_start(cli_args *a, int argc, char **argv, fk_config *cfg);
void cli_usage(const cli_args *a, FILE *f);
/* After errors found before work (each reported): "figkd-cl CMD: N errors
 * in CONFIG" on stderr; returns the exit status, 1. */
/* cli_start for a command that runs on synthetic input (bench, tune):
 * any config error ends it (the config is all there is to check). */
int cli_start_synthetic(cli_args *a, int argc, char **argv, fk_config *cfg);
int cli_errors(const cli_args *a, int errors);

/* Run a command (body, given argc and argv) as one rank of an MPI job when
 * a launcher started the process (docs/scaling.md): rank 0 alone prints to
 * stdout, and a rank that fails (exit 1 or 2) ends the whole job. With
 * root_only, rank 0 alone runs it and the other ranks return 0 at once.
 * Without a launcher: body(argc, argv). */
int cli_ranks(const char *cmd, int (*body)(int, char **), int argc, char **argv, bool root_only);

#endif
