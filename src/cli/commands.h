/* One entry point per figkd-cl command; argv[1] is the command's name. */
#ifndef FIGKD_CLI_COMMANDS_H
#define FIGKD_CLI_COMMANDS_H

int fk_cmd_devices(int argc, char **argv);
int fk_cmd_models(int argc, char **argv);
int fk_cmd_info(int argc, char **argv);

#endif
