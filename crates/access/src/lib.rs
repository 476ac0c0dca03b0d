//! tandem's access control: who may do what, and every administrative change
//! audited. Apart from preset sync (the engine), so that the engine knows only
//! the [`tandem_core::access::Principal`] a request comes with.
//!
//! - [`users`]: [`Users`], the service over the store: argon2id passwords,
//!   API tokens and console sessions stored as hashes, the principals they
//!   stand for (cached while the store is unchanged), the first administrator.
//! - [`admin`]: the administrative actions (users, roles, tokens, login,
//!   logout) as methods that check the caller's rights and write their audit
//!   entry, so the server and the CLI cannot skip either.
//! - [`limiter`]: [`LoginLimiter`], failed logins per user and per address.
//!
//! Hashing a password costs tens of milliseconds of CPU on purpose: async
//! callers run the methods that hash on a blocking thread (`spawn_blocking`).

pub mod admin;
pub mod limiter;
pub mod users;

pub use admin::LoginError;
pub use limiter::{LoginLimiter, LoginRefused};
pub use users::{AuthError, Users, UsersError, local_operator};
