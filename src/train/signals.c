/* SIGINT/SIGTERM: the first asks the run to finish its step and save. A
 * second one ends the process at once, except while a checkpoint is being
 * written: then the run stops right after that write completes. The same
 * signal twice within half a second is one request (timeout(1) signals its
 * command and the command's process group). Checkpoints are written
 * atomically, so the last complete one always stays. */
#include "train/stage.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal, saving, hurried;
static struct timespec first_at;

static void say(const char *msg, size_t n)
{
    if (write(STDERR_FILENO, msg, n) < 0) {
        /* nothing more can be done in a handler */
    }
}

static void on_signal(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!stop_signal) {
        first_at = now;
        stop_signal = sig;
        return;
    }
    double dt = (double)(now.tv_sec - first_at.tv_sec) + 1e-9 * (double)(now.tv_nsec - first_at.tv_nsec);
    if (sig == stop_signal && dt < 0.5)
        return;
    if (saving) {
        static const char msg[] = "\nfigkd-cl: second signal: stopping when this checkpoint is written\n";
        say(msg, sizeof msg - 1);
        hurried = 1;
        return;
    }
    static const char msg[] = "\nfigkd-cl: second signal: stopping now\n";
    say(msg, sizeof msg - 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

void fk_train_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the loader threads' reads must not fail with EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void fk_train_saving(bool on)
{
    saving = on;
    if (!on && hurried) {
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
    }
}

int fk_train_stop_signal(void)
{
    return (int)stop_signal;
}

void fk_train_adopt_stop(int sig)
{
    if (!stop_signal && sig)
        stop_signal = sig;
}
