build/nn/err.o: nn/err.c nn/err.h
nn/err.h:
