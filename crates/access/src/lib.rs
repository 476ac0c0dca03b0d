//! tandem's access control: who may do what, and every administrative change
//! audited. Apart from preset sync (the engine), so that the engine knows only
//! the [`tandem_core::access::Principal`] a request comes with.
//!
//! - [`users`]: [`Users`], the service over the store: argon2id passwords,
//!   API tokens and console sessions stored as hashes, the principals they
//!   stand for (cached while the store is unchanged), the first administrator.
//! - [`admin`]: the administrative actions (users, roles, passwords, disabled
//!   users, sessions, tokens) as methods that check the caller's rights and
//!   write their audit entry, so the server and the CLI cannot skip either;
//!   and the invariant that an administrator always remains.
//! - [`login`]: logging in and changing one's own password under the
//!   attempt limits, in two steps ([`LoginAttempt`]) so that the expensive
//!   one can be bounded; refused logins audited in aggregate.
//! - [`limiter`]: [`LoginLimiter`], attempts per (address, user), per
//!   address and per user, counted before the password is hashed.
//! - [`password`]: the password policy.
//!
//! Hashing a password costs tens of milliseconds of CPU and about 19 MiB on
//! purpose: async callers run the methods that hash on a blocking thread
//! (`spawn_blocking`), and the server bounds how many run at once.

pub mod admin;
pub mod limiter;
pub mod login;
pub mod password;
pub mod users;

pub use limiter::{LoginLimiter, LoginPolicy, LoginRefused};
pub use login::{LoginAttempt, LoginError};
pub use users::{AuthError, Users, UsersError, local_operator};
