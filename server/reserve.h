/*
 * reserve: a file of preallocated blocks kept next to the database so that a full disk can
 * still be freed through the API. SQLite needs room in its WAL to delete anything; when a
 * delete meets a full disk, the handler releases the reserve and tries again, and makes the
 * reserve again once the disk has room (after a delete, at start-up). docs/decisions.md says
 * why a file and not a WAL size.
 * It is only a file: no state in memory, so any thread may call these at any time (an
 * unlink or a rename is atomic; two fills race harmlessly to the same file).
 */
#ifndef NEUROND_SERVER_RESERVE_H
#define NEUROND_SERVER_RESERVE_H

#include <stddef.h>

/* What the reserve holds: room for the WAL frames of a delete (a few pages per b-tree it
 * touches and one freelist page per ~1,000 freed pages) many times over. */
#define SRV_RESERVE_BYTES (1024 * 1024)

/**
 * Makes (or keeps) the reserve file "<db>.reserve" of SRV_RESERVE_BYTES allocated blocks.
 * Best effort: when the disk has no room for it, no partial file is left.
 * @param db [in] the database path.
 * @return 0 when the reserve is in place, -1 when it could not be made.
 */
int srv_reserve_fill(const char *db);

/**
 * Removes the reserve file of db, giving its blocks back to the file system.
 * @return 1 when there was a reserve to release, 0 when there was none.
 */
int srv_reserve_release(const char *db);

#endif
