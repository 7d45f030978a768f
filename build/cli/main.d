build/cli/main.o: cli/main.c
