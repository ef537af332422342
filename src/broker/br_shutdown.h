/*
 * br_shutdown: the controlled-shutdown client of a stopping broker (see
 * br_shutdown.c). Started once by the core on SIGTERM/SIGINT when
 * controlled.shutdown.enable holds; it ends by calling br_core_stop.
 * Core loop only.
 */
#ifndef BR_SHUTDOWN_H
#define BR_SHUTDOWN_H

typedef struct br_core br_core_t;

/* Begin: mark the registration, then ask the controller (core->cs). */
void br_shutdown_start(br_core_t *core);
/* Send the next attempt now, unless one is in flight or it is over (the
 * core calls it once the registration is written). */
void br_shutdown_attempt(br_core_t *core);
/* Close the socket, drop an attempt in flight, free core->cs. */
void br_shutdown_free(br_core_t *core);

#endif
