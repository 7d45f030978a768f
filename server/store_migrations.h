/*
 * store_migrations: the schema migrations compiled into the binary (generated from
 * migrations/NNNN_name.sql and migrations/pg/NNNN_name.sql by scripts/embed-migrations.sh), in
 * ascending version order. Read-only data; safe from any thread.
 */
#ifndef NEUROND_SERVER_STORE_MIGRATIONS_H
#define NEUROND_SERVER_STORE_MIGRATIONS_H

struct store_migration {
    int version;      /* NNNN of the file name */
    const char *name; /* file name without .sql */
    const char *sql;  /* the whole file */
};

/* Every migration the binary knows, version ascending (SQLite: migrations/). */
extern const struct store_migration store_migrations[];
/* Their count. */
extern const int store_n_migrations;

/* The same migrations in PostgreSQL's dialect (migrations/pg/), numbered alike. */
extern const struct store_migration store_pg_migrations[];
extern const int store_pg_n_migrations;

#endif
