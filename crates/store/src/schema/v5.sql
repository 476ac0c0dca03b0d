-- tandem store, schema version 5: what a binding's discovery found (where the
-- device's services are, which media profile carries PTZ), so that every
-- process, the CLI's above all, starts from what another one found instead of
-- asking each device again (`GetServices`, `GetProfiles`); and the two tables
-- a scan reads for every camera stored in the order it reads them.
--
-- Applied by src/schema.rs to a version-4 file, inside one transaction that
-- also sets `PRAGMA user_version = 5`; frozen once released.

-- The device's service addresses as the engine spells them (a JSON object of
-- `media`, `media2` and `ptz` URLs, each possibly null); null until found.
-- Forgotten (set back to null) when an address stops answering.
alter table binding_state add column service_addresses text;

-- The media profile token tandem uses on this binding when the configuration
-- names none: the device's first profile with PTZ. Null until found;
-- forgotten when the device says the profile is gone.
alter table binding_state add column profile_token text;

-- `preset` and `site_token` are rebuilt WITHOUT ROWID, their columns and
-- checks unchanged from version 1: every read finds
-- their rows by the primary key (a camera's presets, a site's tokens, in
-- number order), and a table stored in that order reads each row in one
-- b-tree walk instead of an index walk and a look-up per row. A scan reads
-- both for every camera. Nothing references either table; rows are kept.

create table preset_v5 (
  -- The camera this preset belongs to.
  camera_id text not null references camera (id),

  -- The preset number that keyboards and joysticks recall, 1 to 9999.
  number integer not null check (number between 1 and 9999),

  -- The preset's name: 1 to 64 characters, no control characters (checked
  -- by `PresetName` before it gets here).
  name text not null,

  -- Pan in ONVIF's generic space, [-1, 1]; NULL when the position was never
  -- known (taken over from a device that does not report it).
  pan real check (pan between -1 and 1),

  -- Tilt in ONVIF's generic space, [-1, 1]; NULL exactly when pan is NULL.
  tilt real check (tilt between -1 and 1),

  -- Zoom in ONVIF's generic space, [0, 1]; NULL exactly when pan is NULL.
  zoom real check (zoom between 0 and 1),

  -- 1 when only roles allowed to manage locked presets may change or delete
  -- it; 0 otherwise.
  locked integer not null check (locked in (0, 1)),

  -- 1 for the camera's default (home) preset; at most one per camera (see
  -- the index below); 0 otherwise.
  is_default integer not null check (is_default in (0, 1)),

  primary key (camera_id, number),

  -- The position is known on all three axes or on none.
  check ((pan is null) = (tilt is null) and (pan is null) = (zoom is null))
) strict, without rowid;

insert into preset_v5 (camera_id, number, name, pan, tilt, zoom, locked, is_default)
  select camera_id, number, name, pan, tilt, zoom, locked, is_default from preset;

drop table preset;

alter table preset_v5 rename to preset;

-- At most one default preset per camera (as in version 1).
create unique index preset_one_default on preset (camera_id) where is_default = 1;

create table site_token_v5 (
  -- The camera.
  camera_id text not null references camera (id),

  -- The site, by its configured id (`SiteId`).
  site_id text not null,

  -- The preset number this token stands for, 1 to 9999.
  number integer not null check (number between 1 and 9999),

  -- The site's token, verbatim as the site reported it.
  token text not null,

  primary key (camera_id, site_id, number),

  -- One token denotes one number on a site.
  unique (camera_id, site_id, token)
) strict, without rowid;

insert into site_token_v5 (camera_id, site_id, number, token)
  select camera_id, site_id, number, token from site_token;

drop table site_token;

alter table site_token_v5 rename to site_token;
