-- tandem store, schema version 6: a picture of each preset where it points,
-- per site, taken when an operation stored the preset there (an ONVIF site's
-- camera is at the preset's position at that moment), shown beside the
-- preset and on each side of a mismatch.
--
-- Applied by src/schema.rs to a version-5 file, inside one transaction that
-- also sets `PRAGMA user_version = 6`; frozen once released.

create table preset_picture (
  -- The camera the picture is of.
  camera_id text not null references camera (id),
  -- The site whose camera took it.
  site_id text not null,
  -- The preset's number.
  number integer not null check (number between 1 and 9999),
  -- The JPEG as the camera gave it.
  jpeg blob not null,
  -- When it was taken (RFC 3339, UTC).
  taken_utc text not null,
  primary key (camera_id, site_id, number)
) without rowid;
