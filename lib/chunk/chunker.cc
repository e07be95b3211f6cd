// chunk/chunker: header-only arithmetic; this unit keeps the module a target.
#include "chunk/chunker.h"
