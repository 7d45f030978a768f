build/nn/buf.o: nn/buf.c nn/buf.h nn/err.h nn/alloc.h
nn/buf.h:
nn/err.h:
nn/alloc.h:
