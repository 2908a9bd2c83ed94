#ifndef PLAYCLOCK_CAGENTSPAWN_H
#define PLAYCLOCK_CAGENTSPAWN_H

#include <spawn.h>

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not
/// expose (it needs _GNU_SOURCE): the child closes every descriptor from `from` up before exec,
/// so programs the agent starts inherit none of its sockets (broker, X server) or files.
int playclock_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
