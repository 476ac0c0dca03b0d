//! The administrative actions: each checks the caller's rights, applies the
//! change, and writes exactly one audit entry ([`AuditAction`]), whether it is
//! asked through the API or another adapter. Login and logout are here too,
//! with the attempt limit.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_core::AuditAction;
use tandem_core::access::{Permission, Principal, Role, Scope};
use tandem_store::{NewAudit, TokenId, TokenRecord, UserRecord};

use crate::limiter::LoginRefused;
use crate::users::{ADMIN_ROLE, AuthError, Users, UsersError, role_from_record, role_record};

/// Why a login did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many failed attempts of this user or from this address.
    #[error(transparent)]
    Refused(#[from] LoginRefused),
    /// Unknown user, wrong password, or disabled user.
    #[error(transparent)]
    Auth(AuthError),
    /// The store or the hasher failed.
    #[error(transparent)]
    Users(#[from] UsersError),
}

/// True when the role grants the admin permission on all cameras.
pub fn grants_admin(role: &Role) -> bool {
    role.grants()
        .iter()
        .any(|g| g.permission == Permission::Admin && matches!(g.scope, Scope::AllCameras))
}

impl Users {
    /// Appends an administrative audit entry.
    fn audit(&self, actor: &str, action: AuditAction, after: Value) -> Result<(), UsersError> {
        self.store().append_audit(&NewAudit {
            actor: actor.into(),
            action: action.as_str().into(),
            camera: None,
            before: None,
            after: Some(after),
        })?;
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

    /// Checks `name`'s password and starts a console session valid for `ttl`;
    /// returns the principal and the session's secret. Attempts are limited per
    /// user and per `address`; every outcome is audited. Hashes: call it on a
    /// blocking thread.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
        ttl: Duration,
    ) -> Result<(Principal, String), LoginError> {
        let now = self.now();
        let detail = json!({ "address": address.to_string() });
        if let Err(refused) = self.limiter().check(name, address, now) {
            self.audit(name, AuditAction::LoginRefused, detail)?;
            return Err(refused.into());
        }
        let principal = match self.authenticate(name, password) {
            Ok(p) => p,
            Err(AuthError::Users(e)) => return Err(e.into()),
            Err(e) => {
                self.limiter().record_failure(name, address, now);
                self.audit(name, AuditAction::LoginFailed, detail)?;
                return Err(LoginError::Auth(e));
            }
        };
        self.limiter().record_success(name);
        let secret = self.start_session(&principal.user, ttl)?;
        self.audit(&principal.user, AuditAction::Login, detail)?;
        Ok((principal, secret))
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, crate::LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends `who`'s console session `secret` (when given) and audits the logout.
    pub fn logout(&self, who: &Principal, secret: Option<&str>) -> Result<(), UsersError> {
        if let Some(secret) = secret {
            self.end_session(secret)?;
        }
        self.audit(&who.user, AuditAction::Logout, Value::Null)
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

    /// Creates a user with `roles` (administrators). Hashes: call it on a blocking thread.
    pub fn add_user(
        &self,
        who: &Principal,
        name: &str,
        password: &str,
        roles: &[String],
    ) -> Result<UserRecord, UsersError> {
        self.require_admin(who)?;
        if self.store().user(name)?.is_some() {
            return Err(UsersError::Conflict(format!("user {name:?} exists")));
        }
        let created = self.create_user(name, password, roles)?;
        self.audit(
            &who.user,
            AuditAction::UserCreate,
            json!({ "name": created.name, "roles": created.roles }),
        )?;
        Ok(created)
    }

    /// Deletes a user (administrators; not themselves).
    pub fn remove_user(&self, who: &Principal, name: &str) -> Result<(), UsersError> {
        self.require_admin(who)?;
        if name == who.user {
            return Err(UsersError::Conflict("you cannot delete yourself".into()));
        }
        if self.store().user(name)?.is_none() {
            return Err(UsersError::NotFound(format!("no user {name:?}")));
        }
        self.store().delete_user(name)?;
        self.audit(&who.user, AuditAction::UserDelete, json!({ "name": name }))
    }

    /// Replaces a user's roles (administrators); an administrator cannot take
    /// their own admin permission away.
    pub fn set_roles(
        &self,
        who: &Principal,
        name: &str,
        roles: &[String],
    ) -> Result<(), UsersError> {
        self.require_admin(who)?;
        if self.store().user(name)?.is_none() {
            return Err(UsersError::NotFound(format!("no user {name:?}")));
        }
        let known = self.store().roles()?;
        if let Some(unknown) = roles.iter().find(|r| !known.iter().any(|k| k.name == **r)) {
            return Err(UsersError::UnknownRole(unknown.clone()));
        }
        // Like deleting yourself: another admin can do it.
        if name == who.user
            && !known
                .iter()
                .filter(|k| roles.contains(&k.name))
                .filter_map(|k| role_from_record(k).ok())
                .any(|r| grants_admin(&r))
        {
            return Err(UsersError::Conflict(
                "you cannot take away your own admin permission".into(),
            ));
        }
        self.store().set_user_roles(name, roles)?;
        self.audit(
            &who.user,
            AuditAction::UserRoles,
            json!({ "user": name, "roles": roles }),
        )
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
    /// admin permission on all cameras. `summary` is what the audit entry records.
    pub fn put_role(&self, who: &Principal, role: &Role, summary: Value) -> Result<(), UsersError> {
        self.require_admin(who)?;
        // Like deleting it: without it nobody could manage users and roles again.
        if role.name() == ADMIN_ROLE && !grants_admin(role) {
            return Err(UsersError::Conflict(
                "the admin role keeps the admin permission on all cameras".into(),
            ));
        }
        self.store().upsert_role(&role_record(role))?;
        self.audit(&who.user, AuditAction::RolePut, summary)
    }

    /// Deletes a role (administrators; not `admin`); its users lose it.
    pub fn remove_role(&self, who: &Principal, name: &str) -> Result<(), UsersError> {
        self.require_admin(who)?;
        if name == ADMIN_ROLE {
            return Err(UsersError::Conflict(
                "the admin role cannot be deleted".into(),
            ));
        }
        if !self.store().roles()?.iter().any(|r| r.name == name) {
            return Err(UsersError::NotFound(format!("no role {name:?}")));
        }
        self.store().delete_role(name)?;
        self.audit(&who.user, AuditAction::RoleDelete, json!({ "name": name }))
    }
}
