build/nn/alloc.o: nn/alloc.c nn/alloc.h
nn/alloc.h:
