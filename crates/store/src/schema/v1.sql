-- tandem store, schema version 1.
--
-- Applied by src/schema.rs inside one transaction that also sets
-- `PRAGMA user_version = 1`. Once released, this file is frozen: a later
-- change is a new file (v2.sql) holding only the upgrade statements.
--
-- Conventions:
-- * Columns ending in `_utc` hold RFC 3339 timestamps in UTC with exactly six
--   fractional digits and a `Z` suffix ("2025-01-31T08:15:00.000000Z"). The
--   fixed width makes text order equal time order, so SQL compares them as
--   text (`next_attempt_utc <= ?`).
-- * Columns holding JSON are TEXT written by serde_json; a row whose JSON does
--   not parse is reported as corrupt, never skipped.
-- * Ids of cameras and sites are the ids tandem's configuration gives them.
--   Sites have no table: they live in the configuration only.

-- A PTZ camera known to tandem.
create table camera (
  -- The camera's id in tandem's configuration (`CameraId`).
  id text primary key,

  -- The human-readable name shown in the console and the CLI.
  name text not null,

  -- Largest per-axis position difference still counted as "the same place"
  -- when comparing the sites' presets, in ONVIF generic units (pan and tilt
  -- span [-1, 1], zoom [0, 1]). Default in tandem is 0.001.
  tolerance real not null check (tolerance >= 0)
) strict;

-- The canonical presets: what both sites should hold for each camera.
-- Written only inside a journaled operation (see `operation`).
create table preset (
  -- The camera this preset belongs to.
  camera_id text not null references camera (id),

  -- The preset number that keyboards and joysticks recall, 1 to 9999.
  number integer not null check (number between 1 and 9999),

  -- The preset's name: 1 to 64 characters, no control characters (checked
  -- by `PresetName` before it gets here). Names may repeat within a camera.
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
) strict;

-- At most one default preset per camera. The store clears the previous
-- default when a write sets a new one; this index is the last guard.
create unique index preset_one_default on preset (camera_id) where is_default = 1;

-- A site's own identifier (ONVIF PresetToken) for each preset number, kept
-- for sites whose tokens are opaque (GUIDs). Numeric-token sites need no
-- rows: their token is the number.
create table site_token (
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
) strict;

-- What tandem learned about how a site names one camera's presets.
create table binding_state (
  -- The camera.
  camera_id text not null references camera (id),

  -- The site, by its configured id.
  site_id text not null,

  -- 'numeric' when the site's tokens are the preset numbers ("1", "2"...),
  -- 'opaque' when tandem must keep the number-to-token map in `site_token`.
  token_style text not null check (token_style in ('numeric', 'opaque')),

  primary key (camera_id, site_id)
) strict;

-- The journal: one row per preset change a user (or a repair, or an import)
-- asked for. Inserted, with its `operation_site` rows, its canonical preset
-- write and its audit entry, in one transaction committed before anything is
-- sent to a site; that commit is the acknowledgement.
create table operation (
  -- Increasing id; AUTOINCREMENT so an id is never reused, even after rows
  -- are pruned, because API clients poll operations by id.
  id integer primary key autoincrement,

  -- The camera the operation changes.
  camera_id text not null references camera (id),

  -- The engine's action (add, update, delete, repair...) as JSON. The store
  -- does not interpret it; the engine owns its shape.
  action text not null check (json_valid(action)),

  -- Who asked: 'operator' (a user's request), 'repair' (an operator-chosen
  -- mismatch repair) or 'import' (presets taken over from a site).
  origin text not null check (origin in ('operator', 'repair', 'import')),

  -- The user name (or "system") that asked for it.
  actor text not null,

  -- When it was journaled (RFC 3339 UTC, see conventions).
  created_utc text not null
) strict;

create index operation_camera on operation (camera_id, id);

-- The progress of one operation on one site.
create table operation_site (
  -- The operation.
  operation_id integer not null references operation (id),

  -- The site, by its configured id.
  site_id text not null,

  -- The site's place in the operation's site list, from 0: the configured
  -- priority order (primary first), kept so reads return the sites in it.
  ordinal integer not null check (ordinal >= 0),

  -- 'pending' (still to apply; retried with backoff and after a restart),
  -- 'applied' (the site holds the change, verified by reading back) or
  -- 'failed' (the site refused it permanently; `error` says why).
  state text not null check (state in ('pending', 'applied', 'failed')),

  -- How many times tandem tried to apply it on this site (0 when journaled).
  attempts integer not null check (attempts >= 0),

  -- The last failure in the site's own words (a SOAP fault's reason, a
  -- transport error); NULL when there was none or once applied.
  error text,

  -- When a pending row is due for its next attempt (RFC 3339 UTC); never
  -- NULL while pending, NULL or informative otherwise.
  next_attempt_utc text,

  -- When this row last changed (RFC 3339 UTC).
  updated_utc text not null,

  primary key (operation_id, site_id),

  check (state <> 'pending' or next_attempt_utc is not null)
) strict;

-- The retry loop and replay read pending rows only; they are few.
create index operation_site_pending on operation_site (site_id, next_attempt_utc)
  where state = 'pending';

-- Open mismatches between the sites' presets, as the last scan of each
-- camera found them.
create table mismatch (
  -- The camera.
  camera_id text not null references camera (id),

  -- The mismatch's stable identity across scans (`Mismatch::key()`: kind and
  -- both sides' tokens).
  key text not null,

  -- The kind, as `MismatchKind::as_str()` spells it ('only_on_primary',
  -- 'only_on_secondary', 'name_differs', 'number_differs',
  -- 'position_differs'); repeated from `detail` so SQL can filter on it.
  kind text not null,

  -- The whole `Mismatch` (kind, both sides' presets, position_unknown) as JSON,
  -- as the latest scan reported it.
  detail text not null check (json_valid(detail)),

  -- When a scan first found it (RFC 3339 UTC); kept while it stays open.
  first_seen_utc text not null,

  -- When a scan last found it (RFC 3339 UTC).
  last_seen_utc text not null,

  primary key (camera_id, key)
) strict;

-- The audit log: append-only and hash-chained (see src/audit.rs for the exact
-- encoding). Each row's `hash` covers its contents and the previous row's
-- hash, so an edit or a deletion in the middle breaks the chain. The
-- triggers below refuse UPDATE and DELETE; the chain still detects changes
-- made by someone who drops them, except the removal of the newest entries
-- (see `verify_audit`).
create table audit (
  -- Position in the chain: 1, 2, 3... without gaps. Assigned by the store as
  -- the previous row's seq + 1, in the same transaction as the insert.
  seq integer primary key check (seq >= 1),

  -- When the entry was written (RFC 3339 UTC); hashed as stored.
  at_utc text not null,

  -- The user name (or "system") that acted.
  actor text not null,

  -- What was done, e.g. "preset.add", "mismatch.repair", "control.take".
  action text not null,

  -- The camera concerned, if any. Not a foreign key: the audit log must
  -- outlive any camera it mentions.
  camera_id text,

  -- The state before the action as JSON, if any; hashed as stored.
  before text check (before is null or json_valid(before)),

  -- The state after the action as JSON, if any; hashed as stored.
  after text check (after is null or json_valid(after)),

  -- The previous row's `hash`; 64 zeros for seq 1.
  prev_hash text not null,

  -- Lower-case hex SHA-256 of this row's canonical encoding (src/audit.rs).
  hash text not null
) strict;

create trigger audit_no_update before update on audit
begin
  select raise(abort, 'audit is append-only: entries cannot be changed');
end;

create trigger audit_no_delete before delete on audit
begin
  select raise(abort, 'audit is append-only: entries cannot be deleted');
end;
