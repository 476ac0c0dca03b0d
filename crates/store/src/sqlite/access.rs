//! Access control: camera groups, roles, users, API tokens and console
//! sessions: [`AccessStore`] on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::CameraId;

use super::audit_log::append_audit_tx;
use super::{SqliteStore, fmt_utc, parse_utc, require_camera};
use crate::access::{
    AccessStore, AccessTx, RoleRecord, RoleRow, SESSION_ID_CHARS, SessionRecord, TokenId,
    TokenRecord, TokenRow, UserRecord, UserRow, changed_one, check_role, users_with_roles,
};
use crate::error::{Context, StoreError};
use crate::record::NewAudit;

fn require_user(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .prepare_cached("select 1 from user where name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .optional()
        .context("looking up a user")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("user {name:?}"))),
    }
}

fn require_role(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .prepare_cached("select 1 from role where name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .optional()
        .context("looking up a role")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("role {name:?}"))),
    }
}

impl RoleRow {
    /// Reads a `role` row as SQLite returns it.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RoleRow {
            name: r.get(0)?,
            ptz_priority: r.get(1)?,
            grants: r.get(2)?,
        })
    }
}

const USER_COLUMNS: &str = "name, password_hash, disabled, created_utc";

impl UserRow {
    /// Reads a `user` row as SQLite returns it.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            name: r.get(0)?,
            password_hash: r.get(1)?,
            disabled: r.get(2)?,
            created_utc: r.get(3)?,
        })
    }
}

/// The user's role names, sorted.
fn user_roles(conn: &Connection, name: &str) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached("select role_name from user_role where user_name = ?1 order by role_name")
        .and_then(|mut s| s.query_map([name], |r| r.get(0))?.collect())
        .context("reading a user's roles")
}

const TOKEN_COLUMNS: &str =
    "id, user_name, token_hash, label, created_utc, revoked_utc, last_used_utc";

impl TokenRow {
    /// Reads a `api_token` row as SQLite returns it.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenRow {
            id: r.get(0)?,
            user: r.get(1)?,
            token_hash: r.get(2)?,
            label: r.get(3)?,
            created_utc: r.get(4)?,
            revoked_utc: r.get(5)?,
            last_used_utc: r.get(6)?,
        })
    }
}

/// The name of another role that differs from `name` only in ASCII case, if any.
fn role_named_alike(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "select name from role where name = ?1 collate nocase and name != ?1 limit 1",
    )
    .and_then(|mut s| s.query_row([name], |r| r.get(0)))
    .optional()
    .context("looking for a role of the same name")
}

fn upsert_role_in(conn: &Connection, role: &RoleRecord) -> Result<(), StoreError> {
    check_role(role)?;
    if let Some(other) = role_named_alike(conn, &role.name)? {
        return Err(StoreError::Conflict(format!(
            "role {:?} would be taken for role {other:?}: role names differ in more than \
             upper and lower case; edit {other:?} or pick another name",
            role.name
        )));
    }
    conn.prepare_cached(
        "insert into role (name, ptz_priority, grants) values (?1, ?2, ?3) \
         on conflict (name) do update set \
           ptz_priority = excluded.ptz_priority, grants = excluded.grants",
    )
    .and_then(|mut s| {
        s.execute(params![
            role.name,
            role.ptz_priority,
            role.grants.to_string()
        ])
    })
    .context("saving a role")?;
    Ok(())
}

fn roles_in(conn: &Connection) -> Result<Vec<RoleRecord>, StoreError> {
    let rows: Vec<RoleRow> = conn
        .prepare_cached("select name, ptz_priority, grants from role order by name")
        .and_then(|mut s| s.query_map([], RoleRow::read)?.collect())
        .context("reading roles")?;
    rows.into_iter().map(RoleRow::into_record).collect()
}

fn delete_role_in(conn: &Connection, name: &str) -> Result<(), StoreError> {
    // `user_role` rows go with it (on delete cascade).
    let changed = conn
        .prepare_cached("delete from role where name = ?1")
        .and_then(|mut s| s.execute([name]))
        .context("deleting a role")?;
    changed_one(changed as u64, || format!("role {name:?}"))
}

fn user_in(conn: &Connection, name: &str) -> Result<Option<UserRecord>, StoreError> {
    // The exact name first; else one that differs only in case.
    let row = conn
        .prepare_cached(&format!(
            "select {USER_COLUMNS} from user where name = ?1 collate nocase \
                 order by name = ?1 desc, name limit 1"
        ))
        .and_then(|mut s| s.query_row([name], UserRow::read))
        .optional()
        .context("reading a user")?;
    match row {
        Some(row) => {
            let roles = user_roles(conn, &row.name)?;
            Ok(Some(row.into_record(roles)?))
        }
        None => Ok(None),
    }
}

fn users_in(conn: &Connection) -> Result<Vec<UserRecord>, StoreError> {
    let rows: Vec<UserRow> = conn
        .prepare_cached(&format!("select {USER_COLUMNS} from user order by name"))
        .and_then(|mut s| s.query_map([], UserRow::read)?.collect())
        .context("reading users")?;
    let pairs: Vec<(String, String)> = conn
        .prepare_cached("select user_name, role_name from user_role order by role_name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .context("reading users' roles")?;
    users_with_roles(rows, pairs)
}

fn set_user_roles_in(conn: &Connection, name: &str, roles: &[String]) -> Result<(), StoreError> {
    require_user(conn, name)?;
    for role in roles {
        require_role(conn, role)?;
    }
    conn.prepare_cached("delete from user_role where user_name = ?1")
        .and_then(|mut s| s.execute([name]))
        .context("replacing a user's roles")?;
    let mut insert = conn
        .prepare_cached("insert or ignore into user_role (user_name, role_name) values (?1, ?2)")
        .context("saving a user's roles")?;
    for role in roles {
        insert
            .execute([name, role])
            .context("saving a user's roles")?;
    }
    Ok(())
}

fn set_user_password_in(
    conn: &Connection,
    name: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    if password_hash.is_empty() {
        return Err(StoreError::Invalid("the password hash is empty".into()));
    }
    let changed = conn
        .prepare_cached("update user set password_hash = ?2 where name = ?1")
        .and_then(|mut s| s.execute([name, password_hash]))
        .context("changing a password")?;
    changed_one(changed as u64, || format!("user {name:?}"))
}

fn set_user_disabled_in(conn: &Connection, name: &str, disabled: bool) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached("update user set disabled = ?2 where name = ?1")
        .and_then(|mut s| s.execute(params![name, disabled]))
        .context("disabling or enabling a user")?;
    changed_one(changed as u64, || format!("user {name:?}"))
}

fn delete_user_in(conn: &Connection, name: &str) -> Result<(), StoreError> {
    // Roles, tokens and sessions go with it (on delete cascade).
    let changed = conn
        .prepare_cached("delete from user where name = ?1")
        .and_then(|mut s| s.execute([name]))
        .context("deleting a user")?;
    changed_one(changed as u64, || format!("user {name:?}"))
}

fn end_sessions_in(
    conn: &Connection,
    user: &str,
    only: Option<&str>,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "delete from session where user_name = ?1 \
               and (?2 is null or substr(id_hash, 1, ?4) = ?2) \
               and (?3 is null or id_hash != ?3)",
        )
        .and_then(|mut s| s.execute(params![user, only, keep, SESSION_ID_CHARS as i64]))
        .context("ending sessions")?;
    Ok(n as u64)
}

/// [`AccessTx`] over an open write transaction.
struct AccessChange<'c> {
    conn: &'c Connection,
    now: DateTime<Utc>,
}

impl AccessTx for AccessChange<'_> {
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        user_in(self.conn, name)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        users_in(self.conn)
    }

    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        roles_in(self.conn)
    }

    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError> {
        upsert_role_in(self.conn, role)
    }

    fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        delete_role_in(self.conn, name)
    }

    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError> {
        set_user_roles_in(self.conn, name, roles)
    }

    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        set_user_password_in(self.conn, name, password_hash)
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        set_user_disabled_in(self.conn, name, disabled)
    }

    fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        delete_user_in(self.conn, name)
    }

    fn end_sessions(
        &self,
        user: &str,
        only: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        end_sessions_in(self.conn, user, only, keep)
    }

    fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        append_audit_tx(self.conn, self.now, entry).map(|_| ())
    }
}

impl AccessStore for SqliteStore {
    fn change_access(
        &self,
        what: &str,
        change: &mut (dyn FnMut(&dyn AccessTx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        self.write(what, |tx, now| change(&AccessChange { conn: tx, now }))
    }

    fn set_camera_groups(&self, camera: &CameraId, groups: &[String]) -> Result<(), StoreError> {
        self.write("saving a camera's groups", |tx, _| {
            require_camera(tx, camera)?;
            tx.prepare_cached("delete from camera_group where camera_id = ?1")
                .and_then(|mut s| s.execute([camera.as_str()]))
                .context("replacing a camera's groups")?;
            let mut insert = tx
                .prepare_cached(
                    "insert or ignore into camera_group (camera_id, group_name) values (?1, ?2)",
                )
                .context("saving a camera's groups")?;
            for group in groups {
                insert
                    .execute(params![camera.as_str(), group])
                    .context("saving a camera's groups")?;
            }
            Ok(())
        })
    }

    fn camera_groups(&self, camera: &CameraId) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "select group_name from camera_group where camera_id = ?1 order by group_name",
        )
        .and_then(|mut s| s.query_map([camera.as_str()], |r| r.get(0))?.collect())
        .context("reading a camera's groups")
    }

    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError> {
        check_role(role)?;
        self.write("saving a role", |tx, _| upsert_role_in(tx, role))
    }

    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        roles_in(&self.conn())
    }

    fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        self.write("deleting a role", |tx, _| delete_role_in(tx, name))
    }

    fn create_user(&self, name: &str, password_hash: &str) -> Result<UserRecord, StoreError> {
        if name.is_empty() || password_hash.is_empty() {
            return Err(StoreError::Invalid(
                "a user needs a name and a password hash".into(),
            ));
        }
        self.write("creating a user", |tx, now| {
            let taken: Option<String> = tx
                .prepare_cached("select name from user where name = ?1 collate nocase limit 1")
                .and_then(|mut s| s.query_row([name], |r| r.get(0)))
                .optional()
                .context("looking up a user")?;
            match taken {
                Some(other) if other == name => {
                    return Err(StoreError::Conflict(format!(
                        "user {name:?} already exists"
                    )));
                }
                Some(other) => {
                    return Err(StoreError::Conflict(format!(
                        "user {name:?} would be taken for user {other:?}: user names differ \
                         in more than upper and lower case; pick another name"
                    )));
                }
                None => {}
            }
            tx.prepare_cached(
                "insert into user (name, password_hash, disabled, created_utc) \
                 values (?1, ?2, 0, ?3)",
            )
            .and_then(|mut s| s.execute(params![name, password_hash, fmt_utc(now)]))
            .context("creating a user")?;
            Ok(UserRecord {
                name: name.to_string(),
                password_hash: password_hash.to_string(),
                disabled: false,
                roles: Vec::new(),
                created_utc: now,
            })
        })
    }

    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        user_in(&self.conn(), name)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        users_in(&self.conn())
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .prepare_cached("select count(*) from user")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .context("counting users")?;
        Ok(n.max(0) as u64)
    }

    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError> {
        self.write("saving a user's roles", |tx, _| {
            set_user_roles_in(tx, name, roles)
        })
    }

    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        if password_hash.is_empty() {
            return Err(StoreError::Invalid("the password hash is empty".into()));
        }
        self.write("changing a password", |tx, _| {
            set_user_password_in(tx, name, password_hash)
        })
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        self.write("disabling or enabling a user", |tx, _| {
            set_user_disabled_in(tx, name, disabled)
        })
    }

    fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        self.write("deleting a user", |tx, _| delete_user_in(tx, name))
    }

    fn create_token(
        &self,
        user: &str,
        token_hash: &str,
        label: &str,
    ) -> Result<TokenRecord, StoreError> {
        if token_hash.is_empty() {
            return Err(StoreError::Invalid("the token hash is empty".into()));
        }
        self.write("issuing an API token", |tx, now| {
            require_user(tx, user)?;
            tx.prepare_cached(
                "insert into api_token (user_name, token_hash, label, created_utc) \
                 values (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![user, token_hash, label, fmt_utc(now)]))
            .context("issuing an API token")?;
            Ok(TokenRecord {
                id: TokenId(tx.last_insert_rowid()),
                user: user.to_string(),
                token_hash: token_hash.to_string(),
                label: label.to_string(),
                created_utc: now,
                revoked_utc: None,
                last_used_utc: None,
            })
        })
    }

    fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(&format!(
            "select {TOKEN_COLUMNS} from api_token \
                 where token_hash = ?1 and revoked_utc is null"
        ))
        .and_then(|mut s| s.query_row([token_hash], TokenRow::read))
        .optional()
        .context("looking up an API token")?
        .map(TokenRow::into_record)
        .transpose()
    }

    fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("recording an API token's use", |tx, _| {
            let changed = tx
                .prepare_cached("update api_token set last_used_utc = ?2 where id = ?1")
                .and_then(|mut s| s.execute(params![id.0, fmt_utc(now)]))
                .context("recording an API token's use")?;
            changed_one(changed as u64, || format!("API token {id}"))
        })
    }

    fn revoke_token(&self, id: TokenId) -> Result<(), StoreError> {
        self.write("revoking an API token", |tx, now| {
            let changed = tx
                .prepare_cached(
                    "update api_token set revoked_utc = coalesce(revoked_utc, ?2) where id = ?1",
                )
                .and_then(|mut s| s.execute(params![id.0, fmt_utc(now)]))
                .context("revoking an API token")?;
            changed_one(changed as u64, || format!("API token {id}"))
        })
    }

    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let sql = format!("select {TOKEN_COLUMNS} from api_token");
        let rows: Vec<TokenRow> = match user {
            Some(user) => conn
                .prepare_cached(&format!("{sql} where user_name = ?1 order by id"))
                .and_then(|mut s| s.query_map([user], TokenRow::read)?.collect()),
            None => conn
                .prepare_cached(&format!("{sql} order by id"))
                .and_then(|mut s| s.query_map([], TokenRow::read)?.collect()),
        }
        .context("reading API tokens")?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    fn create_session(
        &self,
        id_hash: &str,
        user: &str,
        expires_utc: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if id_hash.is_empty() {
            return Err(StoreError::Invalid("the session id hash is empty".into()));
        }
        self.write("starting a session", |tx, now| {
            require_user(tx, user)?;
            tx.prepare_cached(
                "insert into session (id_hash, user_name, created_utc, expires_utc) \
                 values (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![id_hash, user, fmt_utc(now), fmt_utc(expires_utc)]))
            .context("starting a session")?;
            Ok(())
        })
    }

    fn session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        // Text comparison is time comparison: `_utc` texts have a fixed width.
        conn.prepare_cached("select user_name from session where id_hash = ?1 and expires_utc > ?2")
            .and_then(|mut s| s.query_row([id_hash, &fmt_utc(now)], |r| r.get(0)))
            .optional()
            .context("looking up a session")
    }

    fn session_expires(&self, id_hash: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let text: Option<String> = conn
            .prepare_cached("select expires_utc from session where id_hash = ?1")
            .and_then(|mut s| s.query_row([id_hash], |r| r.get(0)))
            .optional()
            .context("looking up a session's expiry")?;
        text.map(|t| parse_utc(&t, "session.expires_utc"))
            .transpose()
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.write("ending a session", |tx, _| {
            tx.prepare_cached("delete from session where id_hash = ?1")
                .and_then(|mut s| s.execute([id_hash]))
                .context("ending a session")?;
            Ok(())
        })
    }

    fn sessions(&self, user: &str, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<(String, String, String, String)> = conn
            .prepare_cached(
                "select substr(id_hash, 1, ?3), user_name, created_utc, expires_utc \
                 from session where user_name = ?1 and expires_utc > ?2 \
                 order by created_utc, id_hash",
            )
            .and_then(|mut s| {
                s.query_map(params![user, fmt_utc(now), SESSION_ID_CHARS as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect()
            })
            .context("reading a user's sessions")?;
        rows.into_iter()
            .map(|(id, user, created, expires)| {
                Ok(SessionRecord {
                    id,
                    user,
                    created_utc: parse_utc(&created, "session.created_utc")?,
                    expires_utc: parse_utc(&expires, "session.expires_utc")?,
                })
            })
            .collect()
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write("purging expired sessions", |tx, _| {
            let n = tx
                .prepare_cached("delete from session where expires_utc <= ?1")
                .and_then(|mut s| s.execute([fmt_utc(now)]))
                .context("purging expired sessions")?;
            Ok(n as u64)
        })
    }
}
