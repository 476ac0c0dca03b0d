-- tandem store, schema version 3: leases, so that several processes sharing
-- one store (CLI runs, `tandem serve`, later several instances) never do the
-- same exclusive work at once.
--
-- Applied by src/schema.rs to a version-2 file, inside one transaction that
-- also sets `PRAGMA user_version = 3`; frozen once released.

-- A lease: one owner may hold a name until it releases it or until the lease
-- expires (an owner that died leaves a lease that ends by itself). Owners
-- renew their leases while they work. Names in use:
--   `camera:<id>`         whoever moves the physical camera for preset work
--                         (from the move until the preset is stored);
--   `drain:<id>:<site>`   whoever applies the camera's pending operations on
--                         that site (one drainer per queue).
create table lease (
  -- What is held, as above.
  name text primary key,

  -- Who holds it: a process's owner id (`pid <n> <random>`), unique per
  -- process lifetime, so a restarted process never inherits a dead one's lease.
  owner text not null,

  -- When the lease ends unless renewed (fixed-width UTC, as every `_utc` column).
  expires_utc text not null,

  -- When the current owner took it (for `tandem` to show who holds what).
  acquired_utc text not null
) strict;
