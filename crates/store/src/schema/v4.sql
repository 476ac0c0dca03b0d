-- tandem store, schema version 4: what tandem learned about how it reaches
-- each binding's device (the device's clock offset, the authentication that
-- worked), so that a process starts from what another one learned instead of
-- asking the device again.
--
-- Applied by src/schema.rs to a version-3 file, inside one transaction that
-- also sets `PRAGMA user_version = 4`; frozen once released.
--
-- `binding_state` is rebuilt (SQLite cannot drop a NOT NULL): a binding may
-- now be known by its clock before its token style, and the reverse. Its rows
-- are kept; nothing references the table.

create table binding_state_v4 (
  -- The camera.
  camera_id text not null references camera (id),

  -- The site, by its configured id.
  site_id text not null,

  -- 'numeric' when the site's tokens are the preset numbers ("1", "2"...),
  -- 'opaque' when tandem must keep the number-to-token map in `site_token`;
  -- null until tandem has read the site's presets.
  token_style text check (token_style in ('numeric', 'opaque')),

  -- The device's clock minus tandem's host clock, in milliseconds, as last
  -- measured (`GetSystemDateAndTime`): what WS-Security timestamps add. Null
  -- until measured. Measured again when the device refuses a timestamp, so a
  -- stale value costs one round trip, never a failure.
  clock_offset_ms integer,

  -- The authentication the device accepted on a call that needed one:
  -- 'ws-security' (UsernameToken), 'http-digest' (answering its challenge) or
  -- 'none' (no credentials configured, none asked). Null until a call
  -- succeeded; a Digest device is then sent no WS-Security token first.
  auth_mode text check (auth_mode in ('ws-security', 'http-digest', 'none')),

  primary key (camera_id, site_id)
) strict;

insert into binding_state_v4 (camera_id, site_id, token_style)
  select camera_id, site_id, token_style from binding_state;

drop table binding_state;

alter table binding_state_v4 rename to binding_state;
