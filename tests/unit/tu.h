/*
 * tu: the tiny harness shared by strata's CUnit test binaries. A binary
 * lists its suites in a CU_SuiteInfo array and calls tu_main(), which runs
 * them with CUnit's basic interface (printing CUnit's own summary) and
 * returns non-zero when any assertion failed. Helpers for temp dirs too.
 */
#ifndef TU_H
#define TU_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

/* Run the suites; exit status for main(). */
int tu_main(CU_SuiteInfo *suites);

/* mkdtemp under $TMPDIR (or /tmp) with the given prefix; returns a
 * malloc'd path. tu_rmrf removes a tree. */
char *tu_tmpdir(const char *prefix);
void tu_rmrf(const char *path);

#endif
