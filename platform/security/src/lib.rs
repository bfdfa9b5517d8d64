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
//! * A verified token comes back with its expiry, so a caller may remember
//!   it (`keel:domains/user-lifecycle` does) rather than ask again.

use exports::keel::platform::credentials;
use exports::keel::platform::security_context::{
    self, Authenticated, Error, Permission, Principal, Role, SessionToken,
};
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
    async fn authenticate(bearer_token: String) -> Result<Authenticated, Error> {
        match auth::verify_token(bearer_token).await {
            Ok(identity) => Ok(Authenticated {
                principal: Principal {
                    user_id: identity.subject,
                    email: identity.email,
                    session_id: identity.token_id,
                },
                expires_at: identity.expires_at.saturating_mul(1000),
            }),
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

    #[test]
    fn password_policy() {
        assert!(check_policy("1234567").is_err());
        assert!(check_policy("12345678").is_ok());
        assert!(check_policy("éééééééé").is_ok());
        assert!(check_policy(&"x".repeat(1024)).is_ok());
        assert!(check_policy(&"x".repeat(1025)).is_err());
    }
}
