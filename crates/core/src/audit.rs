//! The audited actions, in one typed list: every entry of the audit log names
//! one of these, so a reader (or a test) can enumerate what tandem audits, and
//! nothing writes an action the list does not know.

use std::fmt;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditAction {
    /// A preset added by an operator.
    PresetAdd,
    /// An add undone because every site refused it.
    PresetAddReverted,
    /// A preset renamed, renumbered or re-aimed.
    PresetUpdate,
    /// A preset deleted.
    PresetDelete,
    /// A site's presets taken as canonical by a scan.
    PresetImport,
    /// A preset recalled (live).
    PresetRecall,
    /// One change of an operator-chosen repair.
    MismatchRepair,
    /// A scan's result for one camera.
    Scan,
    /// A successful login.
    Login,
    /// A login with a wrong name or password.
    LoginFailed,
    /// A login refused by the attempt limit.
    LoginRefused,
    /// A logout.
    Logout,
    /// An API token issued.
    TokenCreate,
    /// An API token revoked.
    TokenRevoke,
    /// A user created.
    UserCreate,
    /// A user deleted.
    UserDelete,
    /// A user's roles replaced.
    UserRoles,
    /// A role created or changed.
    RolePut,
    /// A role deleted.
    RoleDelete,
    /// A user changed their own password.
    UserPassword,
    /// An administrator set a user's password.
    UserPasswordReset,
    /// A user disabled: they cannot log in, their sessions ended, their tokens stop working.
    UserDisable,
    /// A user enabled again.
    UserEnable,
    /// A user's console sessions ended by themselves or an administrator.
    SessionEnd,
    /// A user's failed-login counts cleared by an administrator.
    UserUnlock,
    /// Live control moved to another site (failover, automatic failback).
    SiteSwitch,
    /// Live control returned to the primary by an administrator.
    SiteFailback,
    /// A simulated site taken down or brought up (`tandem demo` only).
    DemoOutage,
    /// A user took manual control of a camera (first command, or a takeover
    /// from a lower priority or a lapsed hold: `before` names whom it was
    /// taken from). Renewals are not audited.
    ControlTake,
    /// A user released their manual control or reservation of a camera.
    ControlRelease,
    /// An administrator reserved a camera for preset work.
    ControlReserve,
    /// Requests refused for lack of rights (403), one entry per user, route
    /// and minute with how many there were.
    AccessDenied,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 32] = [
        AuditAction::PresetAdd,
        AuditAction::PresetAddReverted,
        AuditAction::PresetUpdate,
        AuditAction::PresetDelete,
        AuditAction::PresetImport,
        AuditAction::PresetRecall,
        AuditAction::MismatchRepair,
        AuditAction::Scan,
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::LoginRefused,
        AuditAction::Logout,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::UserCreate,
        AuditAction::UserDelete,
        AuditAction::UserRoles,
        AuditAction::RolePut,
        AuditAction::RoleDelete,
        AuditAction::UserPassword,
        AuditAction::UserPasswordReset,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::SessionEnd,
        AuditAction::UserUnlock,
        AuditAction::SiteSwitch,
        AuditAction::SiteFailback,
        AuditAction::DemoOutage,
        AuditAction::ControlTake,
        AuditAction::ControlRelease,
        AuditAction::ControlReserve,
        AuditAction::AccessDenied,
    ];

    /// The administrative actions: what changes who may do what, or where
    /// live control goes. Each leaves exactly one entry.
    pub const ADMIN: [AuditAction; 14] = [
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::UserCreate,
        AuditAction::UserDelete,
        AuditAction::UserRoles,
        AuditAction::RolePut,
        AuditAction::RoleDelete,
        AuditAction::UserPassword,
        AuditAction::UserPasswordReset,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::SessionEnd,
        AuditAction::UserUnlock,
        AuditAction::SiteFailback,
    ];

    /// The spelling in the audit log (`preset.add`); filters match on its prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::PresetAdd => "preset.add",
            AuditAction::PresetAddReverted => "preset.add.reverted",
            AuditAction::PresetUpdate => "preset.update",
            AuditAction::PresetDelete => "preset.delete",
            AuditAction::PresetImport => "preset.import",
            AuditAction::PresetRecall => "preset.recall",
            AuditAction::MismatchRepair => "mismatch.repair",
            AuditAction::Scan => "scan",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::LoginRefused => "login.refused",
            AuditAction::Logout => "logout",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserDelete => "user.delete",
            AuditAction::UserRoles => "user.roles",
            AuditAction::RolePut => "role.put",
            AuditAction::RoleDelete => "role.delete",
            AuditAction::UserPassword => "user.password",
            AuditAction::UserPasswordReset => "user.password.reset",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::SessionEnd => "session.end",
            AuditAction::UserUnlock => "user.unlock",
            AuditAction::SiteSwitch => "site.switch",
            AuditAction::SiteFailback => "site.failback",
            AuditAction::DemoOutage => "demo.outage",
            AuditAction::ControlTake => "control.take",
            AuditAction::ControlRelease => "control.release",
            AuditAction::ControlReserve => "control.reserve",
            AuditAction::AccessDenied => "access.denied",
        }
    }

    /// The action spelled `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_is_distinct_and_reads_back() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert!(seen.insert(action.as_str()), "{action:?} spelled twice");
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert!(
            AuditAction::ADMIN
                .iter()
                .all(|a| AuditAction::ALL.contains(a))
        );
    }
}
