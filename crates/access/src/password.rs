//! The password policy: what a new password must be ([`check_new_password`]).
//!
//! Length is what makes a password strong, so there are no composition rules
//! (no "one digit, one symbol"): a password needs [`MIN_PASSWORD_CHARS`]
//! characters, must not contain its user's name, and must not be one that
//! guessers try first: a built-in list of common passwords, anything made
//! only of common words, digits and symbols (`Password2024!`,
//! `adminadmin123`), or a few characters repeated (`abababababab`). The list
//! is small on purpose; it catches what guessers try first, and the login
//! limits slow everything else.

use crate::users::UsersError;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most bytes a password may have; longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Fewest different characters a password may have.
const MIN_DISTINCT_CHARS: usize = 5;

/// Whole passwords that are common and long enough to pass the length rule
/// (compared without regard to case).
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789abc",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "qazwsxedcrfv",
    "p@ssw0rd1234",
    "p@$$w0rd1234",
    "passw0rd1234",
    "p@ssword1234",
    "correcthorsebatterystaple",
    "correct horse battery staple",
    "trustno1trustno1",
    "q1w2e3r4t5y6",
    "a1b2c3d4e5f6",
    "zaq12wsxcde3",
    "!qaz@wsx#edc",
];

/// Words that, alone or strung together with digits and symbols, make a
/// common password.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passwort",
    "passwd",
    "pass",
    "qwerty",
    "qwertz",
    "azerty",
    "qwertyuiop",
    "asdf",
    "asdfgh",
    "asdfghjkl",
    "zxcv",
    "zxcvbn",
    "zxcvbnm",
    "qazwsx",
    "qazwsxedc",
    "abc",
    "abcd",
    "abcdef",
    "abcdefgh",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "root",
    "user",
    "login",
    "secret",
    "changeme",
    "change",
    "default",
    "master",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "soccer",
    "iloveyou",
    "love",
    "sunshine",
    "princess",
    "shadow",
    "superman",
    "batman",
    "starwars",
    "pokemon",
    "trustno",
    "test",
    "testing",
    "guest",
    "hello",
    "summer",
    "winter",
    "spring",
    "autumn",
    "january",
    "december",
    "computer",
    "internet",
    "freedom",
    "whatever",
    "nothing",
    "access",
    "security",
    "service",
    "system",
    "server",
    "camera",
    "cameras",
    "video",
    "tandem",
    "onvif",
    "milestone",
    "xprotect",
    "ptz",
    "preset",
    "presets",
    "operator",
    "supervisor",
    "manager",
    "company",
    "office",
];

/// Checks only the length: at least [`MIN_PASSWORD_CHARS`] characters and
/// at most [`MAX_PASSWORD_BYTES`] bytes. What the first administrator's
/// password, given in the environment at the first start, must meet.
pub fn check_password_length(password: &str) -> Result<(), UsersError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UsersError::InvalidInput(format!(
            "the password is too short; use at least {MIN_PASSWORD_CHARS} characters \
             (a few unrelated words make a strong one)"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UsersError::InvalidInput(format!(
            "the password is too long; use at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a new password of user `user`: the length
/// ([`check_password_length`]), not the user's name nor containing it (nor
/// the part of an e-mail address before `@`), not common. The error says
/// which rule and what to do.
pub fn check_new_password(password: &str, user: &str) -> Result<(), UsersError> {
    check_password_length(password)?;
    let lower = password.to_lowercase();
    let name = user.to_lowercase();
    let local = name.split('@').next().unwrap_or_default();
    // Very short names would refuse half the dictionary; equality still counts.
    let contains = |part: &str| part.chars().count() >= 3 && lower.contains(part);
    if lower == name || contains(&name) || contains(local) {
        return Err(UsersError::InvalidInput(
            "the password contains the user name; choose one that does not".into(),
        ));
    }
    if is_common(&lower) {
        return Err(UsersError::InvalidInput(
            "the password is too common (a well-known password, or only common words, digits \
             and symbols); choose a less guessable one, such as a few unrelated words"
                .into(),
        ));
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Err(UsersError::InvalidInput(format!(
            "the password repeats too few characters; use at least {MIN_DISTINCT_CHARS} \
             different ones"
        )));
    }
    Ok(())
}

/// True for a password (lower case) on the list, or whose letters are only
/// common words one after another (digits and symbols around them do not help).
fn is_common(lower: &str) -> bool {
    if COMMON_PASSWORDS.contains(&lower) {
        return true;
    }
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    letters.is_empty() || only_common_words(&letters)
}

/// True when `letters` is one or more of [`COMMON_WORDS`] strung together.
fn only_common_words(letters: &str) -> bool {
    // ends[i]: letters[..i] is a string of common words (byte offsets).
    let mut ends = vec![false; letters.len() + 1];
    ends[0] = true;
    for start in 0..letters.len() {
        if !ends[start] || !letters.is_char_boundary(start) {
            continue;
        }
        for word in COMMON_WORDS {
            if letters[start..].starts_with(word) {
                ends[start + word.len()] = true;
            }
        }
    }
    ends[letters.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(password: &str, user: &str) -> String {
        match check_new_password(password, user) {
            Err(UsersError::InvalidInput(message)) => message,
            other => panic!("{password:?} for {user:?}: {other:?}"),
        }
    }

    #[test]
    fn a_password_needs_12_characters_and_at_most_1024_bytes() {
        assert!(check_new_password("tulip kettle 9", "olga").is_ok());
        assert!(
            check_new_password("éèêëāăąćĉċčď", "olga").is_ok(),
            "characters, not bytes"
        );
        assert!(refused("short pass", "olga").contains("at least 12"));
        assert!(refused(&"xyzzy-plugh ".repeat(100), "olga").contains("at most 1024"));
    }

    #[test]
    fn a_password_must_not_be_or_contain_the_user_name() {
        for (password, user) in [
            ("margaret-2024", "margaret"),
            ("MargaretLovesTea", "margaret"),
            ("bigOLGA-harbour", "olga"),
            ("jane.doe-lantern-7", "jane.doe@example.com"),
        ] {
            assert!(
                refused(password, user).contains("user name"),
                "{password} for {user}"
            );
        }
        assert!(
            check_new_password("jo-walks-the-harbour", "jo").is_ok(),
            "2-letter names"
        );
    }

    #[test]
    fn common_passwords_and_common_words_with_digits_are_refused() {
        for password in [
            "Password2024!",
            "password1234",
            "123456789012",
            "1qaz2wsx3edc",
            "P@ssw0rd1234",
            "adminadmin123",
            "Qwerty123456!",
            "iloveyou2024",
            "tandem-admin-2024",
            "Summer2024!!",
            "!!!!????####",
        ] {
            assert!(
                refused(password, "olga").contains("too common"),
                "{password}"
            );
        }
    }

    #[test]
    fn a_few_characters_repeated_are_refused() {
        assert!(refused("xyxyxyxyxyxy", "olga").contains("different"));
        assert!(refused("kkkkkkkkkkkkkkkkk", "olga").contains("different"));
    }

    #[test]
    fn ordinary_passphrases_pass() {
        for ok in [
            "correct horse battery",
            "tulip-kettle-harbour",
            "Sieben Zwerge am Meer",
            "my cat eats 3 socks",
        ] {
            assert!(check_new_password(ok, "olga").is_ok(), "{ok}");
        }
    }
}
