-- Version 8: manual control of cameras kept in the store, so that several
-- `tandem serve` instances agree on who steers which camera.

create table camera_control (
  -- The camera steered.
  camera_id text primary key,
  -- The user who steers it.
  holder text not null,
  -- Their PTZ priority on it (a reservation is 65535).
  priority integer not null check (priority between 0 and 65535),
  -- 1: reserved by an admin for preset work, exclusive until released.
  reserved integer not null check (reserved in (0, 1)),
  -- When the hold lapses without commands (the store's clock); null for a reservation.
  until_utc text
) strict;
