/* SIGINT/SIGTERM: the first asks the run to finish its step and save; a
 * second one ends the process at once (checkpoints are written atomically,
 * so the last complete one stays). */
#include "train/stage.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (stop_signal) {
        static const char msg[] = "\nfigkd-cl: second signal: stopping now\n";
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
            /* nothing more can be done in a handler */
        }
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
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

int fk_train_stop_signal(void)
{
    return (int)stop_signal;
}
