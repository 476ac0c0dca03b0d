//! `tandem users ...`: what an administrator does with users: list, add,
//! delete, set roles, set a password, disable and enable, unlock, list and
//! end sessions; and `passwd`, a user's change of their own password.
//!
//! Locally (no `--server`), a command acts on the store as the OS user with
//! every right (`tandem_access::local_operator`): how an administrator who
//! lost their password gets back in (`tandem users reset admin`). The rules
//! hold all the same: the password policy, and an administrator remains.
//! Passwords are read from standard input, never from arguments (which
//! other users of the machine can see); on a terminal without echo.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use reqwest::Method;
use tandem_access::Users;
use tandem_api::access::{
    DisabledDto, NewUserDto, PasswordChangeDto, PasswordDto, SessionDto, SessionsEndedDto, UserDto,
    UserRolesDto,
};

use super::client::{self, Api};
use super::context::{self, ConfigArg};
use crate::{UsageError, table};

/// `tandem users ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the users, their roles and whether they are disabled.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Add a user; the password is read from standard input.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
        /// A role to give (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Delete a user with their tokens and sessions.
    Delete {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
    },
    /// Replace a user's roles.
    Roles {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
        /// A role to give (repeat for several; none takes every role away).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Change your own password (with --server): the current one, then the
    /// new one, are read from standard input. Ends your other sessions.
    Passwd {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Set another user's password, read from standard input; ends their sessions.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
    },
    /// Disable a user: no login; their sessions end and their tokens stop working.
    Disable {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
    },
    /// Clear a user's failed logins in the running service (with --server).
    Unlock {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
    },
    /// List a user's console sessions, or end them.
    Sessions {
        #[command(flatten)]
        config: ConfigArg,
        /// The user name.
        name: String,
        /// End the session with this id.
        #[arg(long, conflicts_with = "end_all")]
        end: Option<String>,
        /// End all of them.
        #[arg(long)]
        end_all: bool,
    },
}

impl Command {
    fn config(&self) -> &ConfigArg {
        match self {
            Command::List { config }
            | Command::Add { config, .. }
            | Command::Delete { config, .. }
            | Command::Roles { config, .. }
            | Command::Passwd { config }
            | Command::Reset { config, .. }
            | Command::Disable { config, .. }
            | Command::Enable { config, .. }
            | Command::Unlock { config, .. }
            | Command::Sessions { config, .. } => config,
        }
    }
}

/// Runs a users command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match client::from(command.config())? {
        Some(api) => remote(&api, command).await,
        None => local(command),
    }
}

/// Through the API of a running service.
async fn remote(api: &Api, command: Command) -> anyhow::Result<ExitCode> {
    let user_path = |name: &str, rest: &str| format!("/api/v1/users/{}{rest}", path_segment(name));
    match command {
        Command::List { .. } => {
            let users: Vec<UserDto> = api.call(api.request(Method::GET, "/api/v1/users")).await?;
            print_users(&users);
        }
        Command::Add { name, roles, .. } => {
            let password = new_password()?;
            let body = NewUserDto {
                name,
                password,
                roles,
            };
            let created: UserDto = api
                .call(api.request(Method::POST, "/api/v1/users").json(&body))
                .await?;
            println!("created user {}", created.name);
        }
        Command::Delete { name, .. } => {
            api.call_empty(api.request(Method::DELETE, &user_path(&name, "")))
                .await?;
            println!("deleted user {name}");
        }
        Command::Roles { name, roles, .. } => {
            let body = UserRolesDto { roles };
            api.call_empty(
                api.request(Method::PUT, &user_path(&name, "/roles"))
                    .json(&body),
            )
            .await?;
            println!("roles of {name} replaced");
        }
        Command::Passwd { .. } => {
            let current_password = read_secret("Current password")?;
            let new_password = new_password()?;
            let body = PasswordChangeDto {
                current_password,
                new_password,
            };
            let ended: SessionsEndedDto = api
                .call(api.request(Method::PUT, "/api/v1/me/password").json(&body))
                .await?;
            println!(
                "password changed; {} other session(s) ended",
                ended.sessions_ended
            );
        }
        Command::Reset { name, .. } => {
            let body = PasswordDto {
                password: new_password()?,
            };
            api.call_empty(
                api.request(Method::PUT, &user_path(&name, "/password"))
                    .json(&body),
            )
            .await?;
            println!("password of {name} set; their sessions ended");
        }
        Command::Disable { ref name, .. } | Command::Enable { ref name, .. } => {
            let disabled = matches!(command, Command::Disable { .. });
            let body = DisabledDto { disabled };
            api.call_empty(
                api.request(Method::PUT, &user_path(name, "/disabled"))
                    .json(&body),
            )
            .await?;
            println!("{name} {}", if disabled { "disabled" } else { "enabled" });
        }
        Command::Unlock { name, .. } => {
            api.call_empty(api.request(Method::POST, &user_path(&name, "/unlock")))
                .await?;
            println!("failed logins of {name} cleared");
        }
        Command::Sessions {
            name, end, end_all, ..
        } => {
            let path = match &end {
                Some(id) => user_path(&name, &format!("/sessions/{}", path_segment(id))),
                None => user_path(&name, "/sessions"),
            };
            if end.is_some() || end_all {
                let ended: SessionsEndedDto = api.call(api.request(Method::DELETE, &path)).await?;
                println!("{} session(s) ended", ended.sessions_ended);
            } else {
                let sessions: Vec<SessionDto> = api.call(api.request(Method::GET, &path)).await?;
                print_sessions(
                    sessions
                        .iter()
                        .map(|s| (s.id.as_str(), s.created_utc.clone(), s.expires_utc.clone())),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// On the store, as the local operator.
fn local(command: Command) -> anyhow::Result<ExitCode> {
    let ctx = context::open(command.config())?;
    let users = Users::new(Arc::clone(&ctx.store));
    let me = &ctx.operator;
    match command {
        Command::List { .. } => {
            let list: Vec<UserDto> = users
                .list_users(me)?
                .into_iter()
                .map(|u| UserDto {
                    name: u.name,
                    roles: u.roles,
                    disabled: u.disabled,
                })
                .collect();
            print_users(&list);
        }
        Command::Add { name, roles, .. } => {
            let password = new_password()?;
            let created = users.add_user(me, &name, &password, &roles)?;
            println!("created user {}", created.name);
        }
        Command::Delete { name, .. } => {
            users.remove_user(me, &name)?;
            println!("deleted user {name}");
        }
        Command::Roles { name, roles, .. } => {
            users.set_roles(me, &name, &roles)?;
            println!("roles of {name} replaced");
        }
        Command::Passwd { .. } => {
            return Err(UsageError(
                "a local command acts as the operating-system user, who has no tandem \
                 password: change yours with --server (and your API token), or set any \
                 user's with `tandem users reset NAME`"
                    .into(),
            )
            .into());
        }
        Command::Reset { name, .. } => {
            users.reset_password(me, &name, &new_password()?)?;
            println!("password of {name} set; their sessions ended");
        }
        Command::Disable { name, .. } => {
            users.set_disabled(me, &name, true)?;
            println!("{name} disabled");
        }
        Command::Enable { name, .. } => {
            users.set_disabled(me, &name, false)?;
            println!("{name} enabled");
        }
        Command::Unlock { .. } => {
            return Err(UsageError(
                "failed logins are counted in the running service's memory: unlock with \
                 --server (or restart the service, which forgets them)"
                    .into(),
            )
            .into());
        }
        Command::Sessions {
            name, end, end_all, ..
        } => {
            if end.is_some() || end_all {
                let ended = users.end_sessions(me, &name, end.as_deref(), None)?;
                println!("{ended} session(s) ended");
            } else {
                let sessions = users.sessions_of(me, &name)?;
                print_sessions(sessions.iter().map(|s| {
                    (
                        s.id.as_str(),
                        s.created_utc.to_rfc3339(),
                        s.expires_utc.to_rfc3339(),
                    )
                }));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_users(users: &[UserDto]) {
    println!(
        "{}  {}  roles",
        table::cell("user", 32),
        table::cell("state", 8)
    );
    for u in users {
        let state = if u.disabled { "disabled" } else { "enabled" };
        println!(
            "{}  {}  {}",
            table::cell(&u.name, 32),
            table::cell(state, 8),
            u.roles.join(", ")
        );
    }
}

fn print_sessions<'a>(sessions: impl Iterator<Item = (&'a str, String, String)>) {
    println!(
        "{}  {}  expires",
        table::cell("id", 16),
        table::cell("started", 32)
    );
    for (id, created, expires) in sessions {
        println!(
            "{}  {}  {expires}",
            table::cell(id, 16),
            table::cell(&created, 32)
        );
    }
}

/// A user name or id as one URL path segment: anything but ASCII letters,
/// digits, `_`, `-` and `@` percent-encoded (dots too, so that `..` cannot
/// climb the path), which the service decodes.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A new password from standard input; asked twice on a terminal.
fn new_password() -> anyhow::Result<String> {
    let password = read_secret("New password")?;
    if std::io::stdin().is_terminal() && read_secret("Again")? != password {
        return Err(UsageError("the two passwords differ; nothing changed".into()).into());
    }
    Ok(password)
}

/// One line of standard input, without its line ending; on a terminal, after
/// `prompt` on standard error and without echo.
fn read_secret(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}: ");
    }
    let echo = tty.then(EchoOff::new).flatten();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    drop(echo);
    if tty {
        eprintln!();
    }
    read?;
    let secret = line.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        return Err(UsageError(format!(
            "{prompt}: nothing on standard input (give the password as one line)"
        ))
        .into());
    }
    Ok(secret)
}

/// The terminal's echo turned off until dropped.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0, and the
        // result is checked before it is used.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(EchoOff(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same descriptor.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(
            path_segment("jane.doe@example.com"),
            "jane%2Edoe@example%2Ecom"
        );
        assert_eq!(path_segment("../admin"), "%2E%2E%2Fadmin");
        assert_eq!(path_segment("a b?c"), "a%20b%3Fc");
    }

    #[test]
    fn the_json_shapes_the_commands_send_are_the_apis() {
        let body = serde_json::to_value(DisabledDto { disabled: true }).expect("json");
        assert_eq!(body, serde_json::json!({ "disabled": true }));
    }
}
