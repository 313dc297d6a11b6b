/* main.c — placeholder until the subcommands land. */
#include <stdio.h>
int main(void) { puts("kamer"); return 0; }
