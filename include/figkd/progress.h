/* The training progress line: stage, epoch/step, the running mean of each
 * loss term, img/s and the whole run's ETA, in at most FK_PROGRESS_COLUMNS
 * columns whatever the numbers (src/train/progress.c). On a terminal it is
 * rewritten in place ("\r" + erase line) about twice a second; piped, it is
 * a plain line every log_every steps. */
#ifndef FIGKD_PROGRESS_H
#define FIGKD_PROGRESS_H

#include <stddef.h>

/* 79: an 80-column terminal never wraps (nor scrolls at the last column) */
#define FK_PROGRESS_COLUMNS 79
#define FK_PROGRESS_TERMS 4

typedef struct fk_progress {
    const char *label;                     /* "student" */
    long epoch, epochs, step, steps;       /* 1-based epoch; step within the epoch */
    int n_terms;
    const char *names[FK_PROGRESS_TERMS];  /* "loss", "ce", the method's term */
    double values[FK_PROGRESS_TERMS];      /* running means */
    double rate;                           /* images per second */
    double eta;                            /* seconds left in the whole run (< 0: unknown) */
} fk_progress;

/* The line, without "\r" or "\n", into buf (n >= FK_PROGRESS_COLUMNS + 1):
 * the first of a few layouts, from the most spelled-out to the tersest,
 * that fits; returns its length (<= FK_PROGRESS_COLUMNS). */
size_t fk_progress_format(const fk_progress *p, char *buf, size_t n);
/* A number in at most 6 characters (7 when negative): "2.345", "12.35",
 * "1234", "1e-05". */
void fk_progress_number(double v, char *buf, size_t n);
/* "45s", "5m03s", "10h05m", "123h" */
void fk_progress_eta(double seconds, char *buf, size_t n);

#endif
