/* Command-line parsing shared by the commands: a CONFIG argument, repeated
 * --set section.key=value, and options from a small table. Numbers are
 * checked whole: "--steps 2x" is an error naming --steps and "2x". */
#ifndef FIGKD_CLI_ARGS_H
#define FIGKD_CLI_ARGS_H

#include "figkd/config.h"

#include <stdbool.h>

typedef enum { ARG_TEXT, ARG_COUNT, ARG_FLAG } arg_kind;

typedef struct arg_opt {
    const char *name;   /* "--steps" */
    arg_kind kind;
    void *dst;          /* const char **, long * (a count >= 1) or bool * */
} arg_opt;

typedef struct cli_args {
    const char *cmd;     /* "bench", for messages */
    const char *usage;   /* the line after "usage: figkd-cl " */
    const char *config;
    const char **sets;
    int nsets;
} cli_args;

/* Parse argv[first..argc). Returns -1 to go on, else the exit status:
 * 0 after --help, 2 for a bad command line (the error and the usage
 * printed). extra_sets: room kept in sets for the caller's own. */
int cli_parse(cli_args *a, int argc, char **argv, int first, const arg_opt *opts, int n_opts, int extra_sets);
/* Load a.config with its --set overrides (and frees them); 0 or 1. */
int cli_load_config(cli_args *a, fk_config *cfg);
void cli_usage(const cli_args *a, FILE *f);

#endif
