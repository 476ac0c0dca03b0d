//! Access control: camera groups, roles, users, API tokens and console
//! sessions: [`AccessStore`] on PostgreSQL.
//!
//! As on SQLite, names are compared without regard to case where the SQLite
//! store says `collate nocase` (here `lower(a) = lower(b)`), and text is
//! sorted byte by byte (`collate "C"`, SQLite's default), whatever the
//! database's own collation.

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use postgres::{GenericClient, Transaction};
use tandem_core::CameraId;

use super::audit_log::append_audit_tx;
use super::{PgStore, fmt_utc, get, parse_utc, require_camera};
use crate::access::{
    AccessStore, AccessTx, RoleRecord, RoleRow, SESSION_ID_CHARS, SessionRecord, TokenId,
    TokenRecord, TokenRow, UserRecord, UserRow, changed_one, check_role, users_with_roles,
};
use crate::error::{Context, StoreError};
use crate::record::NewAudit;

fn require_user(client: &mut impl GenericClient, name: &str) -> Result<(), StoreError> {
    match client
        .query_opt("select 1 from \"user\" where name = $1", &[&name])
        .context("looking up a user")?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("user {name:?}"))),
    }
}

fn require_role(client: &mut impl GenericClient, name: &str) -> Result<(), StoreError> {
    match client
        .query_opt("select 1 from role where name = $1", &[&name])
        .context("looking up a role")?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("role {name:?}"))),
    }
}

/// A `role` row as PostgreSQL returns it (`name, ptz_priority, grants`).
fn read_role(r: &postgres::Row) -> Result<RoleRow, StoreError> {
    Ok(RoleRow {
        name: get(r, 0, "reading a role")?,
        ptz_priority: get(r, 1, "reading a role")?,
        grants: get(r, 2, "reading a role")?,
    })
}

const USER_COLUMNS: &str = "name, password_hash, disabled, created_utc";

/// A `user` row as PostgreSQL returns it ([`USER_COLUMNS`]).
fn read_user(r: &postgres::Row) -> Result<UserRow, StoreError> {
    let disabled: i64 = get(r, 2, "reading a user")?;
    Ok(UserRow {
        name: get(r, 0, "reading a user")?,
        password_hash: get(r, 1, "reading a user")?,
        disabled: disabled != 0,
        created_utc: get(r, 3, "reading a user")?,
    })
}

/// The user's role names, sorted.
fn user_roles(client: &mut impl GenericClient, name: &str) -> Result<Vec<String>, StoreError> {
    client
        .query(
            "select role_name from user_role where user_name = $1 order by role_name collate \"C\"",
            &[&name],
        )
        .context("reading a user's roles")?
        .iter()
        .map(|r| get(r, 0, "reading a user's roles"))
        .collect()
}

const TOKEN_COLUMNS: &str =
    "id, user_name, token_hash, label, created_utc, revoked_utc, last_used_utc";

/// An `api_token` row as PostgreSQL returns it ([`TOKEN_COLUMNS`]).
fn read_token(r: &postgres::Row) -> Result<TokenRow, StoreError> {
    const WHAT: &str = "reading an API token";
    Ok(TokenRow {
        id: get(r, 0, WHAT)?,
        user: get(r, 1, WHAT)?,
        token_hash: get(r, 2, WHAT)?,
        label: get(r, 3, WHAT)?,
        created_utc: get(r, 4, WHAT)?,
        revoked_utc: get(r, 5, WHAT)?,
        last_used_utc: get(r, 6, WHAT)?,
    })
}

/// The name of another role that differs from `name` only in case, if any.
fn role_named_alike(
    client: &mut impl GenericClient,
    name: &str,
) -> Result<Option<String>, StoreError> {
    client
        .query_opt(
            "select name from role where lower(name) = lower($1) and name != $1 limit 1",
            &[&name],
        )
        .context("looking for a role of the same name")?
        .map(|r| get(&r, 0, "looking for a role of the same name"))
        .transpose()
}

fn upsert_role_in(client: &mut impl GenericClient, role: &RoleRecord) -> Result<(), StoreError> {
    check_role(role)?;
    if let Some(other) = role_named_alike(client, &role.name)? {
        return Err(StoreError::Conflict(format!(
            "role {:?} would be taken for role {other:?}: role names differ in more than \
             upper and lower case; edit {other:?} or pick another name",
            role.name
        )));
    }
    client
        .execute(
            "insert into role (name, ptz_priority, grants) values ($1, $2, $3) \
             on conflict (name) do update set \
               ptz_priority = excluded.ptz_priority, grants = excluded.grants",
            &[
                &role.name,
                &i64::from(role.ptz_priority),
                &role.grants.to_string(),
            ],
        )
        .context("saving a role")?;
    Ok(())
}

fn roles_in(client: &mut impl GenericClient) -> Result<Vec<RoleRecord>, StoreError> {
    client
        .query(
            "select name, ptz_priority, grants from role order by name collate \"C\"",
            &[],
        )
        .context("reading roles")?
        .iter()
        .map(|r| read_role(r)?.into_record())
        .collect()
}

fn delete_role_in(client: &mut impl GenericClient, name: &str) -> Result<(), StoreError> {
    // `user_role` rows go with it (on delete cascade).
    let changed = client
        .execute("delete from role where name = $1", &[&name])
        .context("deleting a role")?;
    changed_one(changed, || format!("role {name:?}"))
}

fn user_in(client: &mut impl GenericClient, name: &str) -> Result<Option<UserRecord>, StoreError> {
    // The exact name first; else one that differs only in case.
    let row = client
        .query_opt(
            format!(
                "select {USER_COLUMNS} from \"user\" where lower(name) = lower($1) \
                 order by name = $1 desc, name collate \"C\" limit 1"
            )
            .as_str(),
            &[&name],
        )
        .context("reading a user")?;
    match row {
        Some(r) => {
            let row = read_user(&r)?;
            let roles = user_roles(client, &row.name)?;
            Ok(Some(row.into_record(roles)?))
        }
        None => Ok(None),
    }
}

fn users_in(client: &mut impl GenericClient) -> Result<Vec<UserRecord>, StoreError> {
    let rows: Vec<UserRow> = client
        .query(
            format!("select {USER_COLUMNS} from \"user\" order by name collate \"C\"").as_str(),
            &[],
        )
        .context("reading users")?
        .iter()
        .map(read_user)
        .collect::<Result<_, _>>()?;
    let pairs: Vec<(String, String)> = client
        .query(
            "select user_name, role_name from user_role order by role_name collate \"C\"",
            &[],
        )
        .context("reading users' roles")?
        .iter()
        .map(|r| {
            Ok((
                get(r, 0, "reading users' roles")?,
                get(r, 1, "reading users' roles")?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    users_with_roles(rows, pairs)
}

fn set_user_roles_in(
    client: &mut impl GenericClient,
    name: &str,
    roles: &[String],
) -> Result<(), StoreError> {
    require_user(client, name)?;
    for role in roles {
        require_role(client, role)?;
    }
    client
        .execute("delete from user_role where user_name = $1", &[&name])
        .context("replacing a user's roles")?;
    let insert = client
        .prepare(
            "insert into user_role (user_name, role_name) values ($1, $2) \
             on conflict do nothing",
        )
        .context("saving a user's roles")?;
    for role in roles {
        client
            .execute(&insert, &[&name, role])
            .context("saving a user's roles")?;
    }
    Ok(())
}

fn set_user_password_in(
    client: &mut impl GenericClient,
    name: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    if password_hash.is_empty() {
        return Err(StoreError::Invalid("the password hash is empty".into()));
    }
    let changed = client
        .execute(
            "update \"user\" set password_hash = $2 where name = $1",
            &[&name, &password_hash],
        )
        .context("changing a password")?;
    changed_one(changed, || format!("user {name:?}"))
}

fn set_user_disabled_in(
    client: &mut impl GenericClient,
    name: &str,
    disabled: bool,
) -> Result<(), StoreError> {
    let changed = client
        .execute(
            "update \"user\" set disabled = $2 where name = $1",
            &[&name, &i64::from(disabled)],
        )
        .context("disabling or enabling a user")?;
    changed_one(changed, || format!("user {name:?}"))
}

fn delete_user_in(client: &mut impl GenericClient, name: &str) -> Result<(), StoreError> {
    // Roles, tokens and sessions go with it (on delete cascade).
    let changed = client
        .execute("delete from \"user\" where name = $1", &[&name])
        .context("deleting a user")?;
    changed_one(changed, || format!("user {name:?}"))
}

fn end_sessions_in(
    client: &mut impl GenericClient,
    user: &str,
    only: Option<&str>,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    client
        .execute(
            "delete from session where user_name = $1 \
               and ($2::text is null or substr(id_hash, 1, $4::bigint::integer) = $2) \
               and ($3::text is null or id_hash != $3)",
            &[&user, &only, &keep, &(SESSION_ID_CHARS as i64)],
        )
        .context("ending sessions")
}

/// [`AccessTx`] over an open write transaction. The trait's methods take
/// `&self` and the client's take `&mut`: each method borrows the
/// transaction for the length of its own statements only, and none calls
/// back into the caller, so the borrows never overlap.
struct AccessChange<'a, 't> {
    tx: RefCell<&'a mut Transaction<'t>>,
    now: DateTime<Utc>,
}

impl AccessTx for AccessChange<'_, '_> {
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        user_in(&mut **self.tx.borrow_mut(), name)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        users_in(&mut **self.tx.borrow_mut())
    }

    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        roles_in(&mut **self.tx.borrow_mut())
    }

    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError> {
        upsert_role_in(&mut **self.tx.borrow_mut(), role)
    }

    fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        delete_role_in(&mut **self.tx.borrow_mut(), name)
    }

    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError> {
        set_user_roles_in(&mut **self.tx.borrow_mut(), name, roles)
    }

    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        set_user_password_in(&mut **self.tx.borrow_mut(), name, password_hash)
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        set_user_disabled_in(&mut **self.tx.borrow_mut(), name, disabled)
    }

    fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        delete_user_in(&mut **self.tx.borrow_mut(), name)
    }

    fn end_sessions(
        &self,
        user: &str,
        only: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        end_sessions_in(&mut **self.tx.borrow_mut(), user, only, keep)
    }

    fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        append_audit_tx(&mut self.tx.borrow_mut(), self.now, entry).map(|_| ())
    }
}

impl AccessStore for PgStore {
    fn change_access(
        &self,
        what: &str,
        change: &mut (dyn FnMut(&dyn AccessTx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        // The transaction runs on one of the store's threads, and may run
        // twice (see `PgStore::write`): the mutex lends `change` there.
        // A panic in `change` ends the call, so a poisoned lock is never
        // used again; take it anyway rather than panic a second time.
        let change = Mutex::new(change);
        self.write(what, |tx, now| {
            let mut change = change.lock().unwrap_or_else(PoisonError::into_inner);
            (*change)(&AccessChange {
                tx: RefCell::new(tx),
                now,
            })
        })
    }

    fn set_camera_groups(&self, camera: &CameraId, groups: &[String]) -> Result<(), StoreError> {
        self.write("saving a camera's groups", |tx, _| {
            require_camera(tx, camera)?;
            tx.execute(
                "delete from camera_group where camera_id = $1",
                &[&camera.as_str()],
            )
            .context("replacing a camera's groups")?;
            let insert = tx
                .prepare(
                    "insert into camera_group (camera_id, group_name) values ($1, $2) \
                     on conflict do nothing",
                )
                .context("saving a camera's groups")?;
            for group in groups {
                tx.execute(&insert, &[&camera.as_str(), group])
                    .context("saving a camera's groups")?;
            }
            Ok(())
        })
    }

    fn camera_groups(&self, camera: &CameraId) -> Result<Vec<String>, StoreError> {
        self.read("reading a camera's groups", |client| {
            client
                .query(
                    "select group_name from camera_group where camera_id = $1 \
                       order by group_name collate \"C\"",
                    &[&camera.as_str()],
                )
                .context("reading a camera's groups")?
                .iter()
                .map(|r| get(r, 0, "reading a camera's groups"))
                .collect()
        })
    }

    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError> {
        check_role(role)?;
        self.write("saving a role", |tx, _| upsert_role_in(tx, role))
    }

    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        self.read("reading roles", roles_in)
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
                .query_opt(
                    "select name from \"user\" where lower(name) = lower($1) limit 1",
                    &[&name],
                )
                .context("looking up a user")?
                .map(|r| get(&r, 0, "looking up a user"))
                .transpose()?;
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
            tx.execute(
                "insert into \"user\" (name, password_hash, disabled, created_utc) \
                   values ($1, $2, 0, $3)",
                &[&name, &password_hash, &fmt_utc(now)],
            )
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
        self.read("reading a user", |client| user_in(client, name))
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read("reading users", users_in)
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        self.read("counting users", |client| {
            let r = client
                .query_one("select count(*) from \"user\"", &[])
                .context("counting users")?;
            let n: i64 = get(&r, 0, "counting users")?;
            Ok(n.max(0) as u64)
        })
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
            let r = tx
                .query_one(
                    "insert into api_token (user_name, token_hash, label, created_utc) \
                     values ($1, $2, $3, $4) returning id",
                    &[&user, &token_hash, &label, &fmt_utc(now)],
                )
                .context("issuing an API token")?;
            Ok(TokenRecord {
                id: TokenId(get(&r, 0, "issuing an API token")?),
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
        self.read("looking up an API token", |client| {
            client
                .query_opt(
                    format!(
                        "select {TOKEN_COLUMNS} from api_token \
                         where token_hash = $1 and revoked_utc is null"
                    )
                    .as_str(),
                    &[&token_hash],
                )
                .context("looking up an API token")?
                .map(|r| read_token(&r)?.into_record())
                .transpose()
        })
    }

    fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("recording an API token's use", |tx, _| {
            let changed = tx
                .execute(
                    "update api_token set last_used_utc = $2 where id = $1",
                    &[&id.0, &fmt_utc(now)],
                )
                .context("recording an API token's use")?;
            changed_one(changed, || format!("API token {id}"))
        })
    }

    fn revoke_token(&self, id: TokenId) -> Result<(), StoreError> {
        self.write("revoking an API token", |tx, now| {
            let changed = tx
                .execute(
                    "update api_token set revoked_utc = coalesce(revoked_utc, $2) where id = $1",
                    &[&id.0, &fmt_utc(now)],
                )
                .context("revoking an API token")?;
            changed_one(changed, || format!("API token {id}"))
        })
    }

    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!("select {TOKEN_COLUMNS} from api_token");
        self.read("reading API tokens", |client| {
            let rows = match user {
                Some(user) => client.query(
                    format!("{sql} where user_name = $1 order by id").as_str(),
                    &[&user],
                ),
                None => client.query(format!("{sql} order by id").as_str(), &[]),
            }
            .context("reading API tokens")?;
            rows.iter().map(|r| read_token(r)?.into_record()).collect()
        })
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
            tx.execute(
                "insert into session (id_hash, user_name, created_utc, expires_utc) \
                 values ($1, $2, $3, $4)",
                &[&id_hash, &user, &fmt_utc(now), &fmt_utc(expires_utc)],
            )
            .context("starting a session")?;
            Ok(())
        })
    }

    fn session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        self.read("looking up a session", |client| {
            // Text comparison is time comparison: `_utc` texts have a fixed width.
            client
                .query_opt(
                    "select user_name from session where id_hash = $1 and expires_utc > $2",
                    &[&id_hash, &fmt_utc(now)],
                )
                .context("looking up a session")?
                .map(|r| get(&r, 0, "looking up a session"))
                .transpose()
        })
    }

    fn session_expires(&self, id_hash: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read("looking up a session's expiry", |client| {
            let text: Option<String> = client
                .query_opt(
                    "select expires_utc from session where id_hash = $1",
                    &[&id_hash],
                )
                .context("looking up a session's expiry")?
                .map(|r| get(&r, 0, "looking up a session's expiry"))
                .transpose()?;
            text.map(|t| parse_utc(&t, "session.expires_utc"))
                .transpose()
        })
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.write("ending a session", |tx, _| {
            tx.execute("delete from session where id_hash = $1", &[&id_hash])
                .context("ending a session")?;
            Ok(())
        })
    }

    fn sessions(&self, user: &str, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        self.read("reading a user's sessions", |client| {
            const WHAT: &str = "reading a user's sessions";
            client
                .query(
                    "select substr(id_hash, 1, $3::bigint::integer), user_name, created_utc, \
                       expires_utc from session where user_name = $1 and expires_utc > $2 \
                       order by created_utc collate \"C\", id_hash collate \"C\"",
                    &[&user, &fmt_utc(now), &(SESSION_ID_CHARS as i64)],
                )
                .context(WHAT)?
                .iter()
                .map(|r| {
                    let created: String = get(r, 2, WHAT)?;
                    let expires: String = get(r, 3, WHAT)?;
                    Ok(SessionRecord {
                        id: get(r, 0, WHAT)?,
                        user: get(r, 1, WHAT)?,
                        created_utc: parse_utc(&created, "session.created_utc")?,
                        expires_utc: parse_utc(&expires, "session.expires_utc")?,
                    })
                })
                .collect()
        })
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write("purging expired sessions", |tx, _| {
            tx.execute(
                "delete from session where expires_utc <= $1",
                &[&fmt_utc(now)],
            )
            .context("purging expired sessions")
        })
    }
}
