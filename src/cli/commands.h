/* One entry point per figkd-cl command; argv[1] is the command's name. */
#ifndef FIGKD_CLI_COMMANDS_H
#define FIGKD_CLI_COMMANDS_H

int fk_cmd_devices(int argc, char **argv);
/* figkd-cl data: argv[0] is the config (the command name is not passed). */
int fk_cmd_data(int argc, char **argv);

int fk_cmd_train(int argc, char **argv);
int fk_cmd_eval(int argc, char **argv);
int fk_cmd_bench(int argc, char **argv);
int fk_cmd_tune(int argc, char **argv);
int fk_cmd_predict(int argc, char **argv);
int fk_cmd_analyze(int argc, char **argv);
int fk_cmd_models(int argc, char **argv);
int fk_cmd_info(int argc, char **argv);

#endif
