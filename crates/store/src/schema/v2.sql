-- tandem store, schema version 2: camera groups, roles, users, API tokens
-- and console sessions.
--
-- Applied by src/schema.rs to a version-1 file, inside one transaction that
-- also sets `PRAGMA user_version = 2`; frozen once released, like v1.sql,
-- whose conventions (`_utc` text, JSON text) hold here too.
--
-- The store never sees a password or a token secret: it keeps the hashes the
-- engine gives it (argon2 PHC strings for passwords, SHA-256 for tokens and
-- session ids), so a copy of this file does not let anyone log in.

-- Which camera groups each camera belongs to. Roles grant permissions on all
-- cameras or on a group; a camera may be in any number of groups.
create table camera_group (
  -- The camera.
  camera_id text not null references camera (id) on delete cascade,

  -- The group's name as roles' grants spell it (`Scope::Group`): 1 to 64
  -- characters, compared exactly (case matters).
  group_name text not null,

  primary key (camera_id, group_name)
) strict;

-- A role: a named set of permission grants with a PTZ priority.
create table role (
  -- The role's name: ASCII letters, digits, '.', '_', '-' (checked by
  -- `tandem_core::access::Role` before it gets here).
  name text primary key,

  -- PTZ priority, 1 to 32000; higher takes PTZ control from lower, as in
  -- XProtect.
  ptz_priority integer not null check (ptz_priority between 1 and 32000),

  -- The grants as a JSON array of `tandem_core::access::Grant`, e.g.
  -- [{"permission": "ptz.control", "scope": "all_cameras"},
  --  {"permission": "preset.recall", "scope": {"group": "lobby"}}].
  -- The engine owns the shape; the store only checks that it is an array.
  grants text not null check (json_valid(grants) and json_type(grants) = 'array')
) strict;

-- A user who logs in with a name and a password. (`user` is reserved in
-- PostgreSQL; a port there quotes it.)
create table user (
  -- The user's name, as typed at login and recorded in the audit log;
  -- compared exactly (case matters).
  name text primary key,

  -- The password's argon2id hash as a PHC string ("$argon2id$v=19$m=...,t=...,
  -- p=...$salt$hash"), which carries its own salt and parameters.
  password_hash text not null,

  -- 1 when the user may not log in nor use their tokens or sessions; 0 otherwise.
  disabled integer not null check (disabled in (0, 1)),

  -- When the user was created (RFC 3339 UTC).
  created_utc text not null
) strict;

-- The roles each user holds; a user's permissions are the union of theirs.
create table user_role (
  -- The user; their rows go with them.
  user_name text not null references user (name) on delete cascade,

  -- The role; deleting a role takes it away from every user holding it.
  role_name text not null references role (name) on delete cascade,

  primary key (user_name, role_name)
) strict;

-- "Which users hold this role" (role deletion, the console's role page).
create index user_role_by_role on user_role (role_name);

-- API tokens for scripts: a bearer secret shown once when issued, stored
-- only as its hash.
create table api_token (
  -- The token's id, shown in listings and used to revoke it; AUTOINCREMENT so
  -- that a revoked id is never given to a new token.
  id integer primary key autoincrement,

  -- The user the token acts as; their tokens go with them.
  user_name text not null references user (name) on delete cascade,

  -- Lower-case hex SHA-256 of the whole secret ("tdm_..."); the secret itself
  -- is never stored. A fast hash suffices: the secret has 256 random bits.
  token_hash text not null unique,

  -- What the token is for, as its creator described it ("nightly export").
  label text not null,

  -- When it was issued (RFC 3339 UTC).
  created_utc text not null,

  -- When it was revoked (RFC 3339 UTC); NULL while it is valid. Revoked rows
  -- stay so that listings show what existed.
  revoked_utc text,

  -- When it last authenticated a request (RFC 3339 UTC), updated at most
  -- about once a minute; NULL if never used.
  last_used_utc text
) strict;

create index api_token_by_user on api_token (user_name, id);

-- Console login sessions (the session cookie).
create table session (
  -- Lower-case hex SHA-256 of the cookie's secret; the secret itself is
  -- never stored.
  id_hash text primary key,

  -- The logged-in user; their sessions end with them.
  user_name text not null references user (name) on delete cascade,

  -- When the session started (RFC 3339 UTC).
  created_utc text not null,

  -- When it stops being accepted (RFC 3339 UTC); expired rows are purged.
  expires_utc text not null
) strict;

create index session_by_expiry on session (expires_utc);
