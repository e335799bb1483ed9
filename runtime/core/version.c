#include "ocirun.h"

int32_t ocirun_core_version(void)
{
    return OCIRUN_CORE_VERSION;
}
