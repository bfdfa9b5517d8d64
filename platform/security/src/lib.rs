//! `keel:platform/security-context` and `keel:platform/credentials` over
//! `keel:infrastructure/auth`.
//!
//! * Sessions are access tokens issued by the auth provider, valid for the
//!   Spin variable `token_ttl_seconds` (default 86400).
//! * Sessions carry their server-side session id as the token's `jti`.
//! * Roles are granted permissions by one table, [`GRANTS`]: owners may do
//!   everything; admins everything but managing owners and configuring the
//!   workspace's features (they read the audit trail); members may read
//!   workspaces, create and read channels, and post, read and react to
//!   messages; owners and admins may also delete anyone's message.
//! * Password policy: at least 8 characters and at most 1024 bytes.
//! * A token the provider verified is remembered by the instance until it
//!   expires ([`VERIFIED`], at most [`MAX_VERIFIED`] tokens): a signature
//!   and its claims do not change, so the same bearer token is not
//!   re-verified on every request. Whether its session still exists is not
//!   remembered: that is the caller's check (`keel:domains/user-lifecycle`
//!   reads it on every request, so a logout is seen at once everywhere).

use exports::keel::platform::credentials;
use exports::keel::platform::security_context::{self, Error, Permission, Principal, Role, SessionToken};
use keel::infrastructure::auth;
use keel::platform::configuration;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/security",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const TTL_VARIABLE: &str = "token_ttl_seconds";
const DEFAULT_TTL_SECONDS: u32 = 86_400;
/// A session lasts from a minute to a year.
const TTL_BOUNDS: configuration::Bounds = configuration::Bounds { min: 60, max: 366 * 86_400 };
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

struct Security;

impl security_context::Guest for Security {
    async fn authenticate(bearer_token: String) -> Result<Principal, Error> {
        let now = keel_guest::clock::now_secs();
        if let Some(principal) = verified(&bearer_token, now) {
            return Ok(principal);
        }
        match auth::verify_token(bearer_token.clone()).await {
            Ok(identity) => {
                let principal =
                    Principal { user_id: identity.subject, email: identity.email, session_id: identity.token_id };
                remember(bearer_token, principal.clone(), identity.expires_at, now);
                Ok(principal)
            }
            Err(auth::Error::InvalidToken(message) | auth::Error::InvalidInput(message)) => {
                Err(Error::Unauthenticated(message))
            }
            Err(auth::Error::Unsupported(message) | auth::Error::Unavailable(message)) => {
                Err(Error::Unavailable(message))
            }
        }
    }

    async fn issue_session(principal: Principal) -> Result<SessionToken, Error> {
        let ttl = session_ttl().await?;
        let expires_at = keel_guest::clock::now_ms() + i64::from(ttl) * 1000;
        let token =
            auth::issue_token(principal.user_id, principal.email, principal.session_id, ttl).await.map_err(|err| {
                match err {
                    auth::Error::InvalidToken(message) | auth::Error::InvalidInput(message) => {
                        Error::Unauthenticated(message)
                    }
                    auth::Error::Unsupported(message) | auth::Error::Unavailable(message) => {
                        Error::Unavailable(message)
                    }
                }
            })?;
        Ok(SessionToken { token, expires_at })
    }

    fn allows(role: Role, permission: Permission) -> bool {
        allows(role, permission)
    }
}

impl credentials::Guest for Security {
    fn hash_password(password: String) -> Result<String, credentials::Error> {
        check_policy(&password).map_err(credentials::Error::WeakPassword)?;
        auth::hash_password(&password).map_err(|err| match err {
            auth::Error::InvalidInput(message) => credentials::Error::WeakPassword(message),
            auth::Error::InvalidToken(message)
            | auth::Error::Unsupported(message)
            | auth::Error::Unavailable(message) => credentials::Error::Unavailable(message),
        })
    }

    fn verify_password(password: String, password_hash: String) -> bool {
        auth::verify_password(&password, &password_hash).unwrap_or(false)
    }
}

/// The most verified tokens an instance remembers.
const MAX_VERIFIED: usize = 256;

thread_local! {
    /// Tokens the provider verified, with their principal and expiry
    /// (seconds since the Unix epoch).
    static VERIFIED: std::cell::RefCell<std::collections::HashMap<String, (Principal, i64)>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The principal of `token` if it was verified and has not expired at `now`.
fn verified(token: &str, now: i64) -> Option<Principal> {
    VERIFIED.with_borrow(|tokens| tokens.get(token).filter(|(_, expires_at)| now < *expires_at).map(|(p, _)| p.clone()))
}

/// Remember a verified token until `expires_at`; when [`MAX_VERIFIED`] are
/// held, the expired ones go, or all of them if none has expired.
fn remember(token: String, principal: Principal, expires_at: i64, now: i64) {
    VERIFIED.with_borrow_mut(|tokens| {
        if tokens.len() >= MAX_VERIFIED {
            tokens.retain(|_, (_, expires)| now < *expires);
            if tokens.len() >= MAX_VERIFIED {
                tokens.clear();
            }
        }
        tokens.insert(token, (principal, expires_at));
    });
}

/// Every permission each role grants: the one place roles are defined.
const GRANTS: &[(Role, &[Permission])] = &[
    (
        Role::Owner,
        &[
            Permission::WorkspaceRead,
            Permission::WorkspaceManageMembers,
            Permission::WorkspaceManageOwners,
            Permission::WorkspaceAuditRead,
            Permission::WorkspaceConfigure,
            Permission::ChannelCreate,
            Permission::ChannelRead,
            Permission::MessagePost,
            Permission::MessageRead,
            Permission::MessageReact,
            Permission::MessageModerate,
        ],
    ),
    (
        Role::Admin,
        &[
            Permission::WorkspaceRead,
            Permission::WorkspaceManageMembers,
            Permission::WorkspaceAuditRead,
            Permission::ChannelCreate,
            Permission::ChannelRead,
            Permission::MessagePost,
            Permission::MessageRead,
            Permission::MessageReact,
            Permission::MessageModerate,
        ],
    ),
    (
        Role::Member,
        &[
            Permission::WorkspaceRead,
            Permission::ChannelCreate,
            Permission::ChannelRead,
            Permission::MessagePost,
            Permission::MessageRead,
            Permission::MessageReact,
        ],
    ),
];

/// Role-based access control: whether [`GRANTS`] gives `role` `permission`.
fn allows(role: Role, permission: Permission) -> bool {
    GRANTS.iter().any(|(granted, permissions)| *granted == role && permissions.contains(&permission))
}

/// The password policy; the error says why a password is refused.
fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(format!("password must be at least {MIN_PASSWORD_CHARS} characters"))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(format!("password must be at most {MAX_PASSWORD_BYTES} bytes"))
    } else {
        Ok(())
    }
}

async fn session_ttl() -> Result<u32, Error> {
    match configuration::number(TTL_VARIABLE.to_owned(), TTL_BOUNDS).await {
        Ok(ttl) => Ok(ttl.map_or(DEFAULT_TTL_SECONDS, |ttl| ttl as u32)),
        Err(configuration::Error::Invalid(message)) => Err(Error::Misconfigured(message)),
        Err(configuration::Error::Unavailable(message)) => Err(Error::Unavailable(message)),
    }
}

export!(Security);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_permission_matrix() {
        use Permission::*;
        let all = [
            WorkspaceRead,
            WorkspaceManageMembers,
            WorkspaceManageOwners,
            WorkspaceAuditRead,
            ChannelCreate,
            ChannelRead,
            MessagePost,
            MessageRead,
            MessageReact,
            MessageModerate,
        ];
        for permission in all {
            assert!(allows(Role::Owner, permission), "owner {permission:?}");
            assert_eq!(allows(Role::Admin, permission), permission != WorkspaceManageOwners, "admin {permission:?}");
            assert_eq!(
                allows(Role::Member, permission),
                !matches!(
                    permission,
                    WorkspaceManageMembers | WorkspaceManageOwners | WorkspaceAuditRead | MessageModerate
                ),
                "member {permission:?}"
            );
        }
    }

    fn principal(user_id: &str) -> Principal {
        Principal { user_id: user_id.into(), email: None, session_id: Some(format!("ses_{user_id}")) }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        remember("token-a".into(), principal("usr_a"), 1_000, 500);
        assert_eq!(verified("token-a", 999).map(|p| p.user_id).as_deref(), Some("usr_a"));
        assert!(verified("token-a", 1_000).is_none(), "expired at its expiry");
        assert!(verified("token-b", 500).is_none(), "never verified");
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        for n in 0..MAX_VERIFIED {
            remember(format!("old-{n}"), principal("usr_old"), 100, 50);
        }
        // Full, nothing expired at 60: all go, the new one stays.
        remember("new".into(), principal("usr_new"), 1_000, 60);
        assert_eq!(VERIFIED.with_borrow(|tokens| tokens.len()), 1);
        for n in 0..MAX_VERIFIED - 1 {
            remember(format!("more-{n}"), principal("usr_more"), 2_000, 60);
        }
        // Full again at 1 500: the expired one goes, the live ones stay.
        remember("last".into(), principal("usr_last"), 2_000, 1_500);
        assert!(verified("new", 1_500).is_none());
        assert!(verified("more-0", 1_500).is_some());
        assert!(verified("last", 1_500).is_some());
    }

    #[test]
    fn password_policy() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy("éééééééé").is_ok());
        assert!(check_policy(&"x".repeat(1024)).is_ok());
        assert!(check_policy(&"x".repeat(1025)).is_err());
    }
}
