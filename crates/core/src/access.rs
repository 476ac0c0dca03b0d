//! Who may do what to which camera: [`Permission`]s granted by [`Role`]s on
//! all cameras or on camera groups, and the [`Principal`] (a user with their
//! roles) that the server asks before every action.
//!
//! The model follows XProtect's, which tandem's operators know:
//!
//! - A role holds [`Grant`]s: a permission on a [`Scope`] (every camera, or one
//!   named camera group). A camera belongs to any number of groups.
//! - [`Permission::Admin`] implies every other permission within its scope;
//!   on [`Scope::AllCameras`] it is the superuser. Actions that concern no
//!   camera (users, roles) are asked with an empty group list, which only
//!   [`Scope::AllCameras`] grants cover.
//! - A role carries a PTZ priority, 1 to 32000, higher wins. A user's priority
//!   on a camera is the highest among their roles that allow PTZ control there.
//! - Changing a locked preset needs [`Permission::PresetManageLocked`] on top
//!   of [`Permission::PresetManage`] (as XProtect nests "lock/unlock presets"
//!   under "manage presets"); see [`Action::required`].
//!
//! Everything here is pure: the store keeps roles and camera groups, the
//! engine turns them into a [`Principal`], and the server calls
//! [`Principal::may`].

use std::fmt;
use std::str::FromStr;

/// Lowest PTZ priority a role may have.
pub const MIN_PTZ_PRIORITY: u16 = 1;
/// Highest PTZ priority a role may have (XProtect's limit).
pub const MAX_PTZ_PRIORITY: u16 = 32_000;
/// Longest role, user or camera group name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A name or value that breaks an access-control rule; the message says which
/// rule and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The text is not one of [`Permission`]'s spellings.
    #[error(
        "unknown permission {0:?}; use one of ptz.control, preset.recall, preset.manage, \
         preset.manage_locked, mismatch.resolve, admin"
    )]
    UnknownPermission(String),
    /// A role, user or camera group name breaks its naming rule.
    #[error("{kind} name {name:?} is not valid: {rule}")]
    InvalidName {
        /// What was being named: "role", "user" or "camera group".
        kind: &'static str,
        /// The name as given.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A PTZ priority outside [`MIN_PTZ_PRIORITY`]..=[`MAX_PTZ_PRIORITY`].
    #[error("PTZ priority {0} is outside 1 to 32000")]
    PriorityOutOfRange(u32),
}

/// One right a role can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Manual PTZ moves: continuous, relative, absolute, stop, home.
    PtzControl,
    /// Recalling (going to) a preset.
    PresetRecall,
    /// Creating, changing and deleting presets that are not locked.
    PresetManage,
    /// Changing or deleting locked presets, and locking or unlocking them
    /// (together with [`Permission::PresetManage`]).
    PresetManageLocked,
    /// Choosing how a mismatch between the sites is repaired.
    MismatchResolve,
    /// Everything: users, roles, camera reservations, and every other permission.
    Admin,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 6] = [
        Permission::PtzControl,
        Permission::PresetRecall,
        Permission::PresetManage,
        Permission::PresetManageLocked,
        Permission::MismatchResolve,
        Permission::Admin,
    ];

    /// The spelling used in the API, the store and the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::PtzControl => "ptz.control",
            Permission::PresetRecall => "preset.recall",
            Permission::PresetManage => "preset.manage",
            Permission::PresetManageLocked => "preset.manage_locked",
            Permission::MismatchResolve => "mismatch.resolve",
            Permission::Admin => "admin",
        }
    }

    /// True when holding `self` gives `wanted`: the same permission, or admin.
    pub fn implies(self, wanted: Permission) -> bool {
        self == wanted || self == Permission::Admin
    }
}

impl FromStr for Permission {
    type Err = AccessError;

    fn from_str(text: &str) -> Result<Self, AccessError> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| AccessError::UnknownPermission(text.to_string()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a grant applies.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every camera, present and future, and actions that concern no camera.
    AllCameras,
    /// The cameras of one camera group, by its name.
    Group(String),
}

impl Scope {
    /// A group scope, with the group name checked ([`check_group_name`]).
    pub fn group(name: impl Into<String>) -> Result<Self, AccessError> {
        let name = name.into();
        check_group_name(&name)?;
        Ok(Scope::Group(name))
    }

    /// True when the scope covers a camera in `camera_groups`.
    pub fn covers(&self, camera_groups: &[String]) -> bool {
        match self {
            Scope::AllCameras => true,
            Scope::Group(name) => camera_groups.iter().any(|g| g == name),
        }
    }
}

/// One permission on one scope.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Grant {
    /// What it allows.
    pub permission: Permission,
    /// Where.
    pub scope: Scope,
}

impl Grant {
    /// A grant on every camera.
    pub fn everywhere(permission: Permission) -> Self {
        Grant {
            permission,
            scope: Scope::AllCameras,
        }
    }

    /// True when this grant gives `permission` on a camera in `camera_groups`.
    pub fn allows(&self, permission: Permission, camera_groups: &[String]) -> bool {
        self.permission.implies(permission) && self.scope.covers(camera_groups)
    }
}

/// A named set of grants with a PTZ priority. Built only through
/// [`Role::new`] (or deserialized through it), so its name, priority and
/// group names are valid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "UncheckedRole")]
pub struct Role {
    name: String,
    grants: Vec<Grant>,
    ptz_priority: u16,
}

/// A role as read from outside, before [`Role::new`] checks it.
#[derive(serde::Deserialize)]
struct UncheckedRole {
    name: String,
    grants: Vec<Grant>,
    ptz_priority: u16,
}

impl TryFrom<UncheckedRole> for Role {
    type Error = AccessError;

    fn try_from(r: UncheckedRole) -> Result<Self, AccessError> {
        Role::new(r.name, r.grants, r.ptz_priority)
    }
}

impl Role {
    /// Checks the name ([`check_role_name`]), the priority (1 to 32000) and
    /// every group name. A role without grants is allowed (it allows nothing).
    pub fn new(
        name: impl Into<String>,
        grants: Vec<Grant>,
        ptz_priority: u16,
    ) -> Result<Self, AccessError> {
        let name = name.into();
        check_role_name(&name)?;
        if !(MIN_PTZ_PRIORITY..=MAX_PTZ_PRIORITY).contains(&ptz_priority) {
            return Err(AccessError::PriorityOutOfRange(ptz_priority.into()));
        }
        for grant in &grants {
            if let Scope::Group(group) = &grant.scope {
                check_group_name(group)?;
            }
        }
        Ok(Role {
            name,
            grants,
            ptz_priority,
        })
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role's grants, as given.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The role's PTZ priority, 1 to 32000.
    pub fn ptz_priority(&self) -> u16 {
        self.ptz_priority
    }

    /// True when some grant gives `permission` on a camera in `camera_groups`.
    pub fn allows(&self, permission: Permission, camera_groups: &[String]) -> bool {
        self.grants
            .iter()
            .any(|g| g.allows(permission, camera_groups))
    }
}

/// Something a user asks to do to a camera, or to tandem itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// A manual move: continuous, relative, absolute, stop, home.
    MovePtz,
    /// Go to a preset.
    RecallPreset,
    /// Create a preset, or change or delete one that is not locked.
    EditPreset,
    /// Change or delete a locked preset, or lock or unlock one.
    EditLockedPreset,
    /// Repair a mismatch in a chosen direction.
    ResolveMismatch,
    /// Manage users and roles, reserve cameras, switch sites by hand.
    Administer,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 6] = [
        Action::MovePtz,
        Action::RecallPreset,
        Action::EditPreset,
        Action::EditLockedPreset,
        Action::ResolveMismatch,
        Action::Administer,
    ];

    /// The permissions the action needs, all of them.
    pub fn required(self) -> &'static [Permission] {
        match self {
            Action::MovePtz => &[Permission::PtzControl],
            Action::RecallPreset => &[Permission::PresetRecall],
            Action::EditPreset => &[Permission::PresetManage],
            Action::EditLockedPreset => &[Permission::PresetManage, Permission::PresetManageLocked],
            Action::ResolveMismatch => &[Permission::MismatchResolve],
            Action::Administer => &[Permission::Admin],
        }
    }
}

/// An authenticated user with their roles: what the server checks requests against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's name (what the audit log records).
    pub user: String,
    /// The user's roles.
    pub roles: Vec<Role>,
}

impl Principal {
    /// True when some role gives `permission` on a camera in `camera_groups`
    /// (pass `&[]` for actions that concern no camera: only grants on all
    /// cameras count then).
    pub fn allows(&self, permission: Permission, camera_groups: &[String]) -> bool {
        self.roles
            .iter()
            .any(|r| r.allows(permission, camera_groups))
    }

    /// True when the user holds every permission `action` needs on a camera
    /// in `camera_groups`. The permissions may come from different roles.
    pub fn may(&self, action: Action, camera_groups: &[String]) -> bool {
        action
            .required()
            .iter()
            .all(|p| self.allows(*p, camera_groups))
    }

    /// True when some role grants any permission on a camera in
    /// `camera_groups`: what it takes to see the camera at all (in lists,
    /// events, pictures, the journal and mismatches).
    pub fn may_see(&self, camera_groups: &[String]) -> bool {
        self.roles
            .iter()
            .flat_map(|r| r.grants())
            .any(|g| g.scope.covers(camera_groups))
    }

    /// True when some role grants any permission on every camera: what it
    /// takes to read figures that sum over all cameras (metrics).
    pub fn sees_all_cameras(&self) -> bool {
        self.roles
            .iter()
            .flat_map(|r| r.grants())
            .any(|g| g.scope == Scope::AllCameras)
    }

    /// True when some role grants anything at all: what it takes to see the
    /// sites' health and which one is active.
    pub fn has_any_grant(&self) -> bool {
        self.roles.iter().any(|r| !r.grants().is_empty())
    }

    /// The user's PTZ priority on a camera in `camera_groups`: the highest
    /// among the roles that allow PTZ control there; `None` when none does.
    pub fn ptz_priority(&self, camera_groups: &[String]) -> Option<u16> {
        self.roles
            .iter()
            .filter(|r| r.allows(Permission::PtzControl, camera_groups))
            .map(Role::ptz_priority)
            .max()
    }
}

/// Checks a role name: 1 to 64 characters, ASCII letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit (it appears in URLs).
pub fn check_role_name(name: &str) -> Result<(), AccessError> {
    let charset = "use only ASCII letters, digits, '.', '_' and '-'";
    check_identifier("role", name, charset, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    })
}

/// Checks a user name: as a role name ([`check_role_name`]), and `@` is
/// allowed too so that e-mail addresses can serve as names.
pub fn check_user_name(name: &str) -> Result<(), AccessError> {
    let charset = "use only ASCII letters, digits, '.', '_', '-' and '@'";
    check_identifier("user", name, charset, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
    })
}

/// The form two user names (or two role names) are compared in: they are
/// the same name when these are equal, so `ADMIN` cannot be created beside
/// `admin`, and logging in as `Admin` is logging in as `admin`. Names are
/// ASCII ([`check_user_name`], [`check_role_name`]), which Unicode NFKC
/// normalisation leaves as they are, so folding ASCII case is all it takes.
pub fn fold_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Checks a camera group name: 1 to 64 characters, no control characters
/// nor invisible or direction-changing ones ([`crate::text::is_invisible`]),
/// no leading or trailing white space. Spaces inside are allowed, as VMS
/// device groups ("Lobby North") use them.
pub fn check_group_name(name: &str) -> Result<(), AccessError> {
    let invalid = |rule| AccessError::InvalidName {
        kind: "camera group",
        name: name.to_string(),
        rule,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("it has more than 64 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("it contains a control character"));
    }
    if name.chars().any(crate::text::is_invisible) {
        return Err(invalid(
            "it contains an invisible or direction-changing character (zero-width, bidi override)",
        ));
    }
    if name.trim() != name {
        return Err(invalid("it starts or ends with white space"));
    }
    Ok(())
}

fn check_identifier(
    kind: &'static str,
    name: &str,
    charset: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), AccessError> {
    let invalid = |rule| AccessError::InvalidName {
        kind,
        name: name.to_string(),
        rule,
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid("it is empty"));
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("it has more than 64 characters"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(invalid("it must start with an ASCII letter or digit"));
    }
    if !name.chars().all(allowed) {
        return Err(invalid(charset));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn role(name: &str, grants: Vec<Grant>, priority: u16) -> Role {
        Role::new(name, grants, priority).expect("valid role")
    }

    fn user_with(roles: Vec<Role>) -> Principal {
        Principal {
            user: "alice".into(),
            roles,
        }
    }

    fn holding(permissions: &[Permission]) -> Principal {
        let grants = permissions.iter().map(|p| Grant::everywhere(*p)).collect();
        user_with(vec![role("r", grants, 100)])
    }

    fn lobby(permission: Permission) -> Grant {
        Grant {
            permission,
            scope: Scope::group("lobby").expect("valid group"),
        }
    }

    #[test]
    fn permissions_spell_as_the_api_does_and_parse_back() {
        let spelled: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            spelled,
            [
                "ptz.control",
                "preset.recall",
                "preset.manage",
                "preset.manage_locked",
                "mismatch.resolve",
                "admin"
            ]
        );
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
    }

    #[test]
    fn unknown_permissions_are_refused_with_the_valid_spellings() {
        for text in ["", "PTZ.CONTROL", "ptz", "admin ", "preset.manage-locked"] {
            let err = text.parse::<Permission>().expect_err(text);
            assert_eq!(err, AccessError::UnknownPermission(text.to_string()));
            assert!(err.to_string().contains("ptz.control"), "{err}");
        }
    }

    /// The role-permission matrix: a role holding exactly one permission
    /// (on all cameras) may do exactly that permission's actions.
    #[test]
    fn each_permission_allows_exactly_its_actions() {
        use Action::*;
        let expected: [(Permission, &[Action]); 6] = [
            (Permission::PtzControl, &[MovePtz]),
            (Permission::PresetRecall, &[RecallPreset]),
            (Permission::PresetManage, &[EditPreset]),
            // Alone it allows nothing: it refines preset.manage.
            (Permission::PresetManageLocked, &[]),
            (Permission::MismatchResolve, &[ResolveMismatch]),
            (Permission::Admin, &Action::ALL),
        ];
        for (permission, allowed) in expected {
            let user = holding(&[permission]);
            for action in Action::ALL {
                assert_eq!(
                    user.may(action, &groups(&["lobby"])),
                    allowed.contains(&action),
                    "{permission} -> {action:?}"
                );
            }
            for other in Permission::ALL {
                assert_eq!(
                    user.allows(other, &[]),
                    permission == other || permission == Permission::Admin,
                    "{permission} allows {other}?"
                );
            }
        }
    }

    #[test]
    fn locked_presets_need_manage_and_manage_locked_even_from_two_roles() {
        let both = holding(&[Permission::PresetManage, Permission::PresetManageLocked]);
        assert!(both.may(Action::EditLockedPreset, &[]));
        assert!(both.may(Action::EditPreset, &[]));
        assert!(!both.may(Action::MovePtz, &[]));

        let split = user_with(vec![
            role("m", vec![Grant::everywhere(Permission::PresetManage)], 1),
            role(
                "l",
                vec![Grant::everywhere(Permission::PresetManageLocked)],
                1,
            ),
        ]);
        assert!(split.may(Action::EditLockedPreset, &groups(&["any"])));

        // Both permissions must hold on the camera concerned.
        let partly = user_with(vec![role(
            "p",
            vec![
                Grant::everywhere(Permission::PresetManage),
                lobby(Permission::PresetManageLocked),
            ],
            1,
        )]);
        assert!(partly.may(Action::EditLockedPreset, &groups(&["lobby"])));
        assert!(!partly.may(Action::EditLockedPreset, &groups(&["garage"])));
        assert!(partly.may(Action::EditPreset, &groups(&["garage"])));
    }

    #[test]
    fn a_group_grant_covers_only_cameras_in_that_group() {
        let user = user_with(vec![role(
            "lobby-ops",
            vec![lobby(Permission::PtzControl)],
            10,
        )]);
        assert!(user.allows(Permission::PtzControl, &groups(&["lobby"])));
        assert!(user.allows(Permission::PtzControl, &groups(&["garage", "lobby"])));
        assert!(!user.allows(Permission::PtzControl, &groups(&["garage"])));
        assert!(
            !user.allows(Permission::PtzControl, &[]),
            "no group, no grant"
        );
        assert!(
            !user.allows(Permission::PtzControl, &groups(&["Lobby"])),
            "exact names"
        );
        assert!(!user.allows(Permission::PresetRecall, &groups(&["lobby"])));
    }

    #[test]
    fn grants_from_several_roles_add_up() {
        let user = user_with(vec![
            role("a", vec![lobby(Permission::PtzControl)], 10),
            role(
                "b",
                vec![Grant {
                    permission: Permission::PresetRecall,
                    scope: Scope::group("garage").expect("valid"),
                }],
                10,
            ),
        ]);
        let both = groups(&["lobby", "garage"]);
        assert!(user.may(Action::MovePtz, &both));
        assert!(user.may(Action::RecallPreset, &both));
        assert!(!user.may(Action::RecallPreset, &groups(&["lobby"])));
        assert!(!user.may(Action::MovePtz, &groups(&["garage"])));
    }

    #[test]
    fn admin_implies_everything_within_its_scope() {
        let root = holding(&[Permission::Admin]);
        for p in Permission::ALL {
            assert!(root.allows(p, &[]), "{p} without groups");
            assert!(root.allows(p, &groups(&["x"])), "{p} on a group");
        }
        let lobby_admin = user_with(vec![role("la", vec![lobby(Permission::Admin)], 10)]);
        assert!(lobby_admin.may(Action::EditLockedPreset, &groups(&["lobby"])));
        assert!(!lobby_admin.may(Action::MovePtz, &groups(&["garage"])));
        assert!(
            !lobby_admin.may(Action::Administer, &[]),
            "managing users concerns no camera: a group admin is no superuser"
        );
    }

    #[test]
    fn no_roles_or_empty_roles_allow_nothing() {
        for user in [user_with(vec![]), user_with(vec![role("empty", vec![], 1)])] {
            for p in Permission::ALL {
                assert!(!user.allows(p, &groups(&["lobby"])));
            }
            for a in Action::ALL {
                assert!(!user.may(a, &[]));
            }
            assert_eq!(user.ptz_priority(&groups(&["lobby"])), None);
        }
    }

    #[test]
    fn any_grant_on_a_camera_lets_its_user_see_it() {
        let nobody = user_with(vec![role("empty", vec![], 1)]);
        assert!(!nobody.may_see(&groups(&["lobby"])));
        assert!(!nobody.may_see(&[]));
        assert!(!nobody.has_any_grant());
        assert!(!nobody.sees_all_cameras());

        let lobby_only = user_with(vec![role(
            "l",
            vec![lobby(Permission::PresetManageLocked)],
            1,
        )]);
        assert!(lobby_only.may_see(&groups(&["lobby"])));
        assert!(!lobby_only.may_see(&groups(&["garage"])));
        assert!(!lobby_only.may_see(&[]), "a camera in no group");
        assert!(lobby_only.has_any_grant());
        assert!(!lobby_only.sees_all_cameras());

        let everywhere = holding(&[Permission::PresetRecall]);
        assert!(everywhere.may_see(&groups(&["garage"])));
        assert!(everywhere.may_see(&[]));
        assert!(everywhere.sees_all_cameras());
    }

    #[test]
    fn ptz_priority_is_the_highest_among_roles_allowing_control_there() {
        let user = user_with(vec![
            role(
                "viewer",
                vec![Grant::everywhere(Permission::PresetRecall)],
                30_000,
            ),
            role(
                "all",
                vec![Grant::everywhere(Permission::PtzControl)],
                1_000,
            ),
            role("lobby", vec![lobby(Permission::PtzControl)], 5_000),
            role(
                "garage-admin",
                vec![Grant {
                    permission: Permission::Admin,
                    scope: Scope::group("garage").expect("valid"),
                }],
                7_000,
            ),
        ]);
        assert_eq!(user.ptz_priority(&groups(&["lobby"])), Some(5_000));
        assert_eq!(user.ptz_priority(&groups(&["hall"])), Some(1_000));
        assert_eq!(user.ptz_priority(&[]), Some(1_000));
        assert_eq!(
            user.ptz_priority(&groups(&["garage", "lobby"])),
            Some(7_000),
            "admin implies PTZ control"
        );

        let recall_only = user_with(vec![role(
            "viewer",
            vec![Grant::everywhere(Permission::PresetRecall)],
            30_000,
        )]);
        assert_eq!(recall_only.ptz_priority(&[]), None);
    }

    #[test]
    fn role_priority_must_be_1_to_32000() {
        for ok in [1, 2, 31_999, 32_000] {
            assert!(Role::new("r", vec![], ok).is_ok(), "{ok}");
        }
        for bad in [0, 32_001, u16::MAX] {
            assert_eq!(
                Role::new("r", vec![], bad),
                Err(AccessError::PriorityOutOfRange(bad.into()))
            );
        }
    }

    #[test]
    fn role_names_are_url_safe_identifiers() {
        for ok in [
            "admin",
            "preset-manager",
            "Shift_2.night",
            "7",
            &"a".repeat(64),
        ] {
            assert!(check_role_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-lead",
            ".hidden",
            "with space",
            "slash/role",
            "é",
            "a@b",
            &"a".repeat(65),
        ] {
            let err = Role::new(bad, vec![], 1).expect_err(bad);
            assert!(
                matches!(&err, AccessError::InvalidName { kind: "role", name, .. } if name == bad),
                "{err:?}"
            );
        }
    }

    #[test]
    fn user_names_also_allow_at_signs() {
        for ok in ["admin", "jane.doe@example.com", "op-1"] {
            assert!(check_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "@jane", "jane doe", "jane\n", &"u".repeat(65)] {
            assert!(check_user_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_that_differ_only_in_case_fold_to_one() {
        assert_eq!(fold_name("ADMIN"), fold_name("admin"));
        assert_eq!(fold_name("Jane.Doe@Example.com"), "jane.doe@example.com");
        assert_ne!(fold_name("admin"), fold_name("admin2"));
        // Names that could look alike but are not ASCII are refused outright.
        for lookalike in ["аdmin", "ad\u{200B}min", "ａｄｍｉｎ", "admin\u{202E}"] {
            assert!(check_user_name(lookalike).is_err(), "{lookalike:?}");
            assert!(check_role_name(lookalike).is_err(), "{lookalike:?}");
        }
    }

    #[test]
    fn group_names_allow_inner_spaces_but_no_control_characters() {
        assert!(Scope::group("Lobby North").is_ok());
        assert!(Scope::group("Entrée").is_ok());
        for bad in [
            "",
            " lobby",
            "lobby ",
            "lob\tby",
            &"g".repeat(65),
            "lob\u{200B}by",
            "\u{202E}ybbol",
        ] {
            assert!(Scope::group(bad).is_err(), "{bad:?}");
        }
        let err = Role::new(
            "r",
            vec![Grant {
                permission: Permission::PtzControl,
                scope: Scope::Group(String::new()),
            }],
            1,
        )
        .expect_err("unchecked empty group");
        assert!(
            matches!(
                err,
                AccessError::InvalidName {
                    kind: "camera group",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn roles_expose_what_they_were_built_with() {
        let r = role("op", vec![Grant::everywhere(Permission::PtzControl)], 1_000);
        assert_eq!(r.name(), "op");
        assert_eq!(r.grants(), [Grant::everywhere(Permission::PtzControl)]);
        assert_eq!(r.ptz_priority(), 1_000);
    }
}
