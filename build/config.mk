PKG_CFLAGS := -I/usr/include/x86_64-linux-gnu/openblas-pthread/ -I/usr/include/p11-kit-1 -I/usr/include/cjson 
PKG_LIBS := -L/usr/lib/x86_64-linux-gnu/openblas-pthread/ -lopenblas -lmicrohttpd -lcjson -lsqlite3 -lgnutls 
CMOCKA_LIBS := -lcmocka 
