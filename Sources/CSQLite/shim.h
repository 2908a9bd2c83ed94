#ifndef PLAYCLOCK_CSQLITE_SHIM_H
#define PLAYCLOCK_CSQLITE_SHIM_H

#include <sqlite3.h>

#endif
