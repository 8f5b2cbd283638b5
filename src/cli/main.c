/* figkd-cl: command-line entry point. */
#include "cli/commands.h"
#include "figkd/common.h"

#include <stdio.h>
#include <string.h>



static void usage(FILE *f)
{
    fprintf(f,
        "usage: figkd-cl <command> [options]\n"
        "\n"
        "commands:\n"
        "  devices            list OpenCL devices and mark the one FIGKD_DEVICE selects\n"
        "  data CONFIG [--grid out.png] [--batches N] [--set section.key=value]\n"
        "                     open the [data] splits, print sizes and loader img/s\n"
        "  train CONFIG [--set section.key=value ...] [--resume]\n"
        "                     train the teacher when its checkpoint is missing, then the student\n"
        "  eval CONFIG [--weights W] [--model M]\n"
        "                     top-1/top-5 on the test split\n"
        "  predict CONFIG --weights W --out logits.npy [--labels L.npy] [--features F.npy]\n"
        "          [--split test|train] [--model M]\n"
        "                     eval-mode logits (and labels, penultimate features) of a split as .npy\n"
        "  analyze CONFIG --weights W [--split test|train] [--teacher] [--json]\n"
        "                     top-1 of the logits' low- and high-frequency (Haar) parts, band energy\n"
        "  bench CONFIG [--steps N] [--batch B] [--classes C]\n"
        "                     timed training steps of the config's pair on synthetic input\n"
        "  tune CONFIG [--steps N] [--batch B] [--out FILE]\n"
        "                     time each conv shape's paths on this device, keep the fastest in\n"
        "                     the device's tune cache (train and bench read it; FIGKD_TUNE=0 ignores it)\n"
        "  models             list the model zoo (parameters at 100 classes)\n"
        "  info MODEL         layer table of a model [--classes N] [--input S] [--json]\n"
        "\n"
        "options:\n"
        "  -h, --help         this help\n"
        "  --version          print the version\n"
        "\n"
        "environment:\n"
        "  FIGKD_DEVICE=<platform>[:<device>]  index or name substring; 'gpu' or 'cpu'\n"
        "  FIGKD_TUNE=0|FILE  ignore the tune cache, or read FILE instead of\n"
        "                     $XDG_CACHE_HOME/figkd-cl/tune-DEVICE.ini (~/.cache without XDG_CACHE_HOME)\n");
}

int main(int argc, char **argv)
{
    /* progress and summaries reach a pipe or a log file line by line
     * (`tail -f` shows them as they come), not in 4 KiB blocks */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("figkd-cl %s\n", FK_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"devices", fk_cmd_devices},
        {"data", fk_cmd_data},
        {"train", fk_cmd_train},
        {"eval", fk_cmd_eval},
        {"bench", fk_cmd_bench},
        {"tune", fk_cmd_tune},
        {"predict", fk_cmd_predict},
        {"analyze", fk_cmd_analyze},
        {"models", fk_cmd_models},
        {"info", fk_cmd_info},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc, argv);
    fprintf(stderr, "figkd-cl: unknown command or option '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
