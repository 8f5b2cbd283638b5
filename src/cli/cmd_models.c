/* `figkd-cl models`: the zoo; `figkd-cl info MODEL`: a model's layer table.
 * Both are host-only (no device needed). */
#include "cli/commands.h"
#include "figkd/model.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int fk_cmd_models(int argc, char **argv)
{
    if (argc > 2) {
        bool help = !strcmp(argv[2], "-h") || !strcmp(argv[2], "--help");
        fprintf(help ? stdout : stderr, "usage: figkd-cl models\n\nThe model zoo: name, family, native input "
                "size, parameters at 100 classes, source.\n");
        return help && argc == 3 ? 0 : 2;
    }
    int count;
    const fk_model_entry *list = fk_model_registry(&count);
    printf("%-12s %-16s %6s %12s  %s\n", "model", "family", "input", "params@100", "source");
    for (int i = 0; i < count; i++) {
        fk_model *m;
        fk_model_opts o = {100, 0, 0};
        if (fk_model_build(list[i].name, &o, &m) != FK_OK)
            return 1;
        printf("%-12s %-16s %6d %12zu  %s\n", list[i].name, list[i].family, list[i].native_input,
               fk_model_param_count(m), list[i].source);
        fk_model_free(m);
    }
    return 0;
}

static size_t node_params(const fk_model *m, const fk_node *nd)
{
    size_t n = 0;
    for (int i = 0; i < nd->nparam; i++) {
        const fk_param *p = &m->graph.params.items[nd->param[i]];
        if (!p->is_buffer)
            n += p->count;
    }
    return n;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static int usage(void)
{
    fprintf(stderr, "usage: figkd-cl info MODEL [--classes N] [--input S] [--json]\n");
    return 2;
}

int fk_cmd_info(int argc, char **argv)
{
    const char *name = NULL;
    long classes = 100, input = 0;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: figkd-cl info MODEL [--classes N] [--input S] [--json]\n\nA model's layers, output "
                   "shapes, parameters and multiply-adds; --json adds its tensors (state_dict names, shapes).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if ((!strcmp(argv[i], "--classes") || !strcmp(argv[i], "--input")) && i + 1 < argc) {
            long *dst = !strcmp(argv[i], "--classes") ? &classes : &input;
            if (fk_parse_long(argv[i + 1], dst) != 0 || *dst <= 0 || *dst > 1000000) {
                fprintf(stderr, "figkd-cl info: %s: bad value '%s'\n", argv[i], argv[i + 1]);
                return 2;
            }
            i++;
        } else if (argv[i][0] == '-' || name)
            return usage();
        else
            name = argv[i];
    }
    if (!name)
        return usage();
    fk_model *m;
    fk_model_opts o = {(int)classes, (int)input, 0};
    if (fk_model_build(name, &o, &m) != FK_OK)
        return 1;
    const fk_graph *g = &m->graph;
    if (json) {
        printf("{\"model\": ");
        json_string(name);
        printf(", \"classes\": %d, \"input\": %d, \"params\": %zu, \"macs\": %.0f, \"layers\": [",
               m->opts.num_classes, m->opts.input_size, fk_model_param_count(m), fk_model_macs(m));
        for (int i = 0; i < g->count; i++) {
            const fk_node *nd = &g->nodes[i];
            printf("%s\n  {\"name\": ", i ? "," : "");
            json_string(nd->name);
            printf(", \"op\": \"%s\", \"shape\": [%d", nd->op->name, nd->c);
            if (nd->ndim == 4)
                printf(", %d, %d", nd->h, nd->w);
            printf("], \"params\": %zu, \"macs\": %.0f}", node_params(m, nd), nd->macs);
        }
        printf("],\n \"tensors\": [");
        for (int i = 0; i < g->params.count; i++) {
            const fk_param *p = &g->params.items[i];
            printf("%s\n  {\"name\": ", i ? "," : "");
            json_string(p->name);
            printf(", \"dtype\": \"%s\", \"shape\": [", p->is_int64 ? "I64" : "F32");
            for (int d = 0; d < p->ndim; d++)
                printf("%s%d", d ? ", " : "", p->shape[d]);
            printf("]}");
        }
        printf("]}\n");
    } else {
        printf("%s: %d classes, input %dx%d\n", name, m->opts.num_classes, m->opts.input_size,
               m->opts.input_size);
        printf("%-36s %-8s %-18s %10s %14s\n", "layer", "op", "output", "params", "MACs");
        for (int i = 0; i < g->count; i++) {
            const fk_node *nd = &g->nodes[i];
            char shape[48];
            if (nd->ndim == 4)
                snprintf(shape, sizeof shape, "%dx%dx%d", nd->c, nd->h, nd->w);
            else
                snprintf(shape, sizeof shape, "%d", nd->c);
            printf("%-36s %-8s %-18s %10zu %14.0f\n", nd->name, nd->op->name, shape, node_params(m, nd), nd->macs);
        }
        printf("total: %zu parameters, %.2fM multiply-adds (conv and linear) per image\n", fk_model_param_count(m),
               fk_model_macs(m) / 1e6);
    }
    fk_model_free(m);
    return 0;
}
