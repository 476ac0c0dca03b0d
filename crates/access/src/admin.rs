//! The administrative actions: each checks the caller's rights, applies the
//! change, and writes exactly one audit entry ([`AuditAction`]), whether it is
//! asked through the API or another adapter.
//!
//! **Invariant (an administrator remains):** at least one enabled user holds
//! a role granting the admin permission on all cameras, and no administrator
//! takes that away from themselves. Every change that could break it (a
//! user's roles, a role's grants, deleting a role or a user, disabling a
//! user) runs in one store transaction ([`tandem_store::AccessStore::change_access`])
//! that checks, after applying the change and before committing it, that the
//! caller is still an administrator and that one remains: two concurrent
//! demotions, in one process or two, cannot both pass.

use serde_json::{Value, json};
use tandem_core::AuditAction;
use tandem_core::access::{Permission, Principal, Role, Scope, fold_name};
use tandem_store::{
    AccessTx, NewAudit, RoleRecord, SessionRecord, StoreError, TokenId, TokenRecord, UserRecord,
};

use crate::password::check_new_password;
use crate::users::{ADMIN_ROLE, Users, UsersError, role_from_record, role_record, sha256_hex};

/// True when the role grants the admin permission on all cameras.
pub fn grants_admin(role: &Role) -> bool {
    role.grants()
        .iter()
        .any(|g| g.permission == Permission::Admin && matches!(g.scope, Scope::AllCameras))
}

/// True when `user` is enabled and one of their roles (among `roles`, as
/// stored) grants the admin permission on all cameras.
fn is_admin(user: &UserRecord, roles: &[RoleRecord]) -> bool {
    !user.disabled
        && roles
            .iter()
            .filter(|r| user.roles.contains(&r.name))
            .filter_map(|r| role_from_record(r).ok())
            .any(|r| grants_admin(&r))
}

/// The refusal of a change that would take away the caller's own rights.
fn self_demotion() -> UsersError {
    UsersError::Conflict(
        "you cannot take away your own administrator rights (through your roles, a role you \
         hold, or by disabling or deleting yourself); another administrator can"
            .into(),
    )
}

/// The refusal of a change that would leave nobody to administer tandem.
fn last_administrator() -> UsersError {
    UsersError::Conflict(
        "this would leave no enabled user with the admin permission on all cameras, and \
         nobody could administer tandem; make another user an administrator first"
            .into(),
    )
}

impl Users {
    /// Appends an administrative audit entry.
    pub(crate) fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        after: Value,
    ) -> Result<(), UsersError> {
        self.store().append_audit(&entry(actor, action, after))?;
        Ok(())
    }

    /// Refuses unless `who` holds the admin permission on all cameras.
    fn require_admin(&self, who: &Principal) -> Result<(), UsersError> {
        if who.allows(Permission::Admin, &[]) {
            return Ok(());
        }
        Err(UsersError::Forbidden(format!(
            "{} may not administer tandem: it needs the admin permission on all cameras",
            who.user
        )))
    }

    /// Refuses unless `who` is an administrator or `user` is themselves.
    fn require_self_or_admin(&self, who: &Principal, user: &str) -> Result<(), UsersError> {
        if fold_name(&who.user) == fold_name(user) {
            return Ok(());
        }
        self.require_admin(who).map_err(|_| {
            UsersError::Forbidden(
                "only administrators may see or end other users' sessions and tokens".into(),
            )
        })
    }

    /// The stored user `name` is (compared without regard to case).
    fn existing_user(&self, name: &str) -> Result<UserRecord, UsersError> {
        self.store()
            .user(name)?
            .ok_or_else(|| UsersError::NotFound(format!("no user {name:?}")))
    }

    /// Runs `change` in one store transaction with the checks every
    /// administrative change shares (see the module's invariant) and appends
    /// its audit entry, `action` with what `change` returns, in the same
    /// transaction. `who` must be an administrator; when `who` is a stored
    /// user, as stored now, not only as their principal says.
    fn guarded(
        &self,
        who: &Principal,
        what: &str,
        action: AuditAction,
        mut change: impl FnMut(&dyn AccessTx) -> Result<Value, UsersError> + Send,
    ) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let mut refusal: Option<UsersError> = None;
        let result = self.store().change_access(what, &mut |tx| {
            // Refusals other than the store's are kept here and the
            // transaction rolled back with a placeholder.
            let mut refuse = |e: UsersError| match e {
                UsersError::Store(e) => e,
                other => {
                    refusal = Some(other);
                    StoreError::Conflict("refused".into())
                }
            };
            // Exactly the caller's name: a local operator (`cli:...`) is no stored user.
            let caller = tx.user(&who.user)?.filter(|u| u.name == who.user);
            if let Some(caller) = &caller
                && !is_admin(caller, &tx.roles()?)
            {
                return Err(refuse(UsersError::Forbidden(format!(
                    "{} is no longer an administrator",
                    who.user
                ))));
            }
            let after = change(tx).map_err(&mut refuse)?;
            let (users, roles) = (tx.users()?, tx.roles()?);
            if caller.is_some()
                && !users
                    .iter()
                    .any(|u| u.name == who.user && is_admin(u, &roles))
            {
                return Err(refuse(self_demotion()));
            }
            if !users.iter().any(|u| is_admin(u, &roles)) {
                return Err(refuse(last_administrator()));
            }
            tx.append_audit(&entry(&who.user, action, after))
        });
        match (result, refusal) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(refusal)) => Err(refusal),
            (Err(e), None) => Err(e.into()),
        }
    }

    /// Issues an API token acting as `who`; returns its secret (shown once) and record.
    pub fn create_token(
        &self,
        who: &Principal,
        label: &str,
    ) -> Result<(String, TokenRecord), UsersError> {
        let (secret, record) = self.issue_token(&who.user, label)?;
        self.audit(
            &who.user,
            AuditAction::TokenCreate,
            json!({ "id": record.id.0, "label": record.label }),
        )?;
        Ok((secret, record))
    }

    /// `who`'s tokens; every user's for administrators.
    pub fn tokens_of(&self, who: &Principal) -> Result<Vec<TokenRecord>, UsersError> {
        let admin = who.allows(Permission::Admin, &[]);
        Ok(self
            .store()
            .tokens(if admin { None } else { Some(&who.user) })?)
    }

    /// The tokens of user `name`, revoked ones included: `who`'s own, or any
    /// user's for administrators.
    pub fn tokens_of_user(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Vec<TokenRecord>, UsersError> {
        self.require_self_or_admin(who, name)?;
        let user = self.existing_user(name)?;
        Ok(self.store().tokens(Some(&user.name))?)
    }

    /// Revokes token `id`: `who`'s own, or any for administrators.
    pub fn revoke(&self, who: &Principal, id: i64) -> Result<(), UsersError> {
        if !self.tokens_of(who)?.iter().any(|t| t.id.0 == id) {
            return Err(UsersError::NotFound(format!("no token {id} of yours")));
        }
        self.store().revoke_token(TokenId(id))?;
        self.audit(&who.user, AuditAction::TokenRevoke, json!({ "id": id }))
    }

    /// Every user (administrators).
    pub fn list_users(&self, who: &Principal) -> Result<Vec<UserRecord>, UsersError> {
        self.require_admin(who)?;
        Ok(self.store().users()?)
    }

    /// The stored names of `roles`, each matched without regard to case;
    /// [`UsersError::UnknownRole`] for one that does not exist.
    fn existing_roles(&self, roles: &[String]) -> Result<Vec<String>, UsersError> {
        let known = self.store().roles()?;
        roles
            .iter()
            .map(|wanted| {
                known
                    .iter()
                    .find(|k| k.name == *wanted)
                    .or_else(|| {
                        known
                            .iter()
                            .find(|k| fold_name(&k.name) == fold_name(wanted))
                    })
                    .map(|k| k.name.clone())
                    .ok_or_else(|| UsersError::UnknownRole(wanted.clone()))
            })
            .collect()
    }

    /// Creates a user with `roles` (administrators); the password must meet
    /// the policy. Hashes: call it on a blocking thread.
    pub fn add_user(
        &self,
        who: &Principal,
        name: &str,
        password: &str,
        roles: &[String],
    ) -> Result<UserRecord, UsersError> {
        self.require_admin(who)?;
        if let Some(existing) = self.store().user(name)? {
            return Err(UsersError::Conflict(if existing.name == name {
                format!("user {name:?} exists")
            } else {
                format!(
                    "user {name:?} would be taken for user {:?}: user names differ in more \
                     than upper and lower case; pick another name",
                    existing.name
                )
            }));
        }
        let roles = self.existing_roles(roles)?;
        let created = self.create_user(name, password, &roles)?;
        self.audit(
            &who.user,
            AuditAction::UserCreate,
            json!({ "name": created.name, "roles": created.roles }),
        )?;
        Ok(created)
    }

    /// Deletes a user, with their tokens and sessions (administrators; not
    /// themselves, nor the last administrator).
    pub fn remove_user(&self, who: &Principal, name: &str) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let user = self.existing_user(name)?;
        if user.name == who.user {
            return Err(UsersError::Conflict(
                "you cannot delete yourself; another administrator can".into(),
            ));
        }
        self.guarded(who, "deleting a user", AuditAction::UserDelete, |tx| {
            tx.delete_user(&user.name)?;
            Ok(json!({ "name": user.name }))
        })
    }

    /// Replaces a user's roles (administrators). Refused when it would take
    /// the caller's own admin permission away, or leave no administrator.
    pub fn set_roles(
        &self,
        who: &Principal,
        name: &str,
        roles: &[String],
    ) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let user = self.existing_user(name)?;
        let roles = self.existing_roles(roles)?;
        self.guarded(who, "saving a user's roles", AuditAction::UserRoles, |tx| {
            tx.set_user_roles(&user.name, &roles)?;
            Ok(json!({ "user": user.name, "roles": roles }))
        })
    }

    /// Disables (`true`) or enables a user (administrators). A disabled user
    /// cannot log in; their sessions end in the same transaction, and their
    /// API tokens are refused while they stay disabled. Refused for the
    /// caller themselves and for the last administrator.
    pub fn set_disabled(
        &self,
        who: &Principal,
        name: &str,
        disabled: bool,
    ) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let user = self.existing_user(name)?;
        let (action, what) = if disabled {
            (AuditAction::UserDisable, "disabling a user")
        } else {
            (AuditAction::UserEnable, "enabling a user")
        };
        self.guarded(who, what, action, |tx| {
            tx.set_user_disabled(&user.name, disabled)?;
            let ended = if disabled {
                tx.end_sessions(&user.name, None, None)?
            } else {
                0
            };
            Ok(json!({ "user": user.name, "sessions_ended": ended }))
        })
    }

    /// Sets another user's password (administrators), which must meet the
    /// policy; ends all their sessions and clears their failed-login counts.
    /// Their API tokens stay. Your own password is changed with
    /// [`Users::change_password`], which asks for the current one. Hashes:
    /// call it on a blocking thread.
    pub fn reset_password(
        &self,
        who: &Principal,
        name: &str,
        password: &str,
    ) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let user = self.existing_user(name)?;
        if user.name == who.user {
            return Err(UsersError::Conflict(
                "change your own password with your current one (PUT /api/v1/me/password, \
                 tandem users passwd)"
                    .into(),
            ));
        }
        check_new_password(password, &user.name)?;
        let hash = Self::hash_password(password)?;
        self.guarded(
            who,
            "setting a password",
            AuditAction::UserPasswordReset,
            |tx| {
                tx.set_user_password(&user.name, &hash)?;
                let ended = tx.end_sessions(&user.name, None, None)?;
                Ok(json!({ "user": user.name, "sessions_ended": ended }))
            },
        )?;
        self.lock_limiter().unlock(&fold_name(&user.name));
        Ok(())
    }

    /// Forgets a user's failed logins (administrators): every address may
    /// try again at once. Addresses keep their own counts.
    pub fn unlock(&self, who: &Principal, name: &str) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let user = self.existing_user(name)?;
        let cleared = self.lock_limiter().unlock(&fold_name(&user.name));
        self.audit(
            &who.user,
            AuditAction::UserUnlock,
            json!({ "user": user.name, "cleared": cleared }),
        )
    }

    /// The console sessions of user `name` that have not expired: `who`'s
    /// own, or any user's for administrators.
    pub fn sessions_of(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<Vec<SessionRecord>, UsersError> {
        self.require_self_or_admin(who, name)?;
        let user = self.existing_user(name)?;
        Ok(self.store().sessions(&user.name, self.utc())?)
    }

    /// Ends the console sessions of user `name` (`who`'s own, or any user's
    /// for administrators): the one with id `only`, or all; never `keep`
    /// (the secret of the caller's own session, to stay logged in). Returns
    /// how many ended; [`UsersError::NotFound`] when `only` names none.
    pub fn end_sessions(
        &self,
        who: &Principal,
        name: &str,
        only: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64, UsersError> {
        self.require_self_or_admin(who, name)?;
        let user = self.existing_user(name)?;
        let keep = keep.map(sha256_hex);
        let mut ended = 0;
        let result = self.store().change_access("ending sessions", &mut |tx| {
            ended = tx.end_sessions(&user.name, only, keep.as_deref())?;
            if ended == 0 && only.is_some() {
                // Nothing to audit: rolled back (it changed nothing anyway).
                return Err(StoreError::NotFound(String::new()));
            }
            tx.append_audit(&entry(
                &who.user,
                AuditAction::SessionEnd,
                json!({ "user": user.name, "id": only, "sessions_ended": ended }),
            ))
        });
        match result {
            Ok(()) => Ok(ended),
            Err(StoreError::NotFound(_)) => Err(UsersError::NotFound(format!(
                "no session {} of {}; list them with GET /api/v1/users/{}/sessions",
                only.unwrap_or_default(),
                user.name,
                user.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every role that parses (administrators).
    pub fn list_roles(&self, who: &Principal) -> Result<Vec<Role>, UsersError> {
        self.require_admin(who)?;
        Ok(self
            .store()
            .roles()?
            .iter()
            .filter_map(|r| role_from_record(r).ok())
            .collect())
    }

    /// Creates or replaces a role (administrators); the `admin` role keeps the
    /// admin permission on all cameras, and a change that would leave the
    /// caller or everyone without it is refused. `summary` is what the audit
    /// entry records.
    pub fn put_role(&self, who: &Principal, role: &Role, summary: Value) -> Result<(), UsersError> {
        self.require_admin(who)?;
        // Like deleting it: without it nobody could manage users and roles again.
        if role.name() == ADMIN_ROLE && !grants_admin(role) {
            return Err(UsersError::Conflict(
                "the admin role keeps the admin permission on all cameras".into(),
            ));
        }
        let record = role_record(role);
        self.guarded(who, "saving a role", AuditAction::RolePut, |tx| {
            tx.upsert_role(&record)?;
            Ok(summary.clone())
        })
    }

    /// Deletes a role (administrators; not `admin`); its users lose it, and
    /// the audit entry names them. Refused when the caller or everyone would
    /// lose the admin permission with it.
    pub fn remove_role(&self, who: &Principal, name: &str) -> Result<(), UsersError> {
        self.require_admin(who)?;
        let known = self.store().roles()?;
        let Some(role) = known
            .iter()
            .find(|r| r.name == name)
            .or_else(|| known.iter().find(|r| fold_name(&r.name) == fold_name(name)))
        else {
            return Err(UsersError::NotFound(format!("no role {name:?}")));
        };
        if role.name == ADMIN_ROLE {
            return Err(UsersError::Conflict(
                "the admin role cannot be deleted".into(),
            ));
        }
        self.guarded(who, "deleting a role", AuditAction::RoleDelete, |tx| {
            let holders: Vec<String> = tx
                .users()?
                .into_iter()
                .filter(|u| u.roles.contains(&role.name))
                .map(|u| u.name)
                .collect();
            tx.delete_role(&role.name)?;
            Ok(json!({ "name": role.name, "users": holders }))
        })
    }
}

/// An audit entry of an access action (no camera, no "before").
pub(crate) fn entry(actor: &str, action: AuditAction, after: Value) -> NewAudit {
    NewAudit {
        actor: actor.into(),
        action: action.as_str().into(),
        camera: None,
        before: None,
        after: Some(after),
    }
}
