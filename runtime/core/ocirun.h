/* The whole boundary between Python and the C core.
 *
 * The part between the CDEF markers is fed verbatim to cffi's cdef(): fixed
 * width types only, no macros, no includes.
 */
#ifndef OCIRUN_H
#define OCIRUN_H

#include <stdint.h>

/* CDEF-BEGIN */
/* Bumped whenever this header changes; runtime/core.py refuses a stale .so. */
static const int32_t OCIRUN_CORE_VERSION = 1;

int32_t ocirun_core_version(void);
/* CDEF-END */

#endif
