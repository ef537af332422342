/*
 * st_arena: a region allocator for objects that live exactly as long as
 * one piece of work (a response being built, a request being answered).
 * Blocks come zeroed from chunks the arena owns; one st_arena_free
 * releases them all. Not thread-safe: one owner at a time.
 *
 *   st_arena_t a = ST_ARENA_INIT;        an empty arena
 *   st_arena_alloc(&a, size)             zeroed block, NULL on out of memory
 *   st_arena_strdup(&a, s)               copy of s (NULL: ""); "" on out of memory
 *   ST_ARENA_NEW(&a, type, init)         a block of type set to init, or NULL
 *   st_arena_free(&a)                    free every block, empty again
 */
#ifndef ST_ARENA_H
#define ST_ARENA_H

#include <stddef.h>

typedef struct st_arena_chunk st_arena_chunk_t;

typedef struct st_arena {
    st_arena_chunk_t *head; /* newest chunk first */
} st_arena_t;

#define ST_ARENA_INIT                                                                                        \
    {                                                                                                        \
        NULL                                                                                                 \
    }

/* A zeroed block of size bytes (at least 1), aligned for any type. */
void *st_arena_alloc(st_arena_t *a, size_t size);
/* A copy of the size bytes at src, or NULL. */
void *st_arena_copy(st_arena_t *a, const void *src, size_t size);
/* A copy of s; NULL gives "". Out of memory gives "" (static). */
char *st_arena_strdup(st_arena_t *a, const char *s);
/* Free every block; the arena is empty and usable again. */
void st_arena_free(st_arena_t *a);

/* A new object of type initialised from init (a braced initialiser such
 * as a protobuf-c *__INIT macro), or NULL. */
#define ST_ARENA_NEW(a, type, init) ((type *)st_arena_copy((a), &(type)init, sizeof(type)))

#endif
