//! `keel:domains/user-lifecycle`: accounts, sessions and proof of address.
//!
//! * Login answers the same `unauthorized` for an unknown email and a wrong
//!   password, and spends one password hash in both cases (a verification
//!   for a known email, hashing a throw-away password for an unknown one:
//!   the same Argon2 work with the provider's current parameters) so
//!   response times do not reveal which emails exist.
//! * Sessions are server-side: a token carries its session id, and a token
//!   whose session ended (logout, password change or reset) is refused even
//!   though its signature and expiry are still good.
//! * Links sent by mail carry a random secret; only its digest is stored,
//!   it works once, and a new link replaces the old one. A verification
//!   link lasts [`VERIFY_EMAIL_TTL_MS`], a reset link [`RESET_PASSWORD_TTL_MS`].
//!   Mail is best-effort and bounded by [`MAIL_WAIT`]: a provider that fails
//!   or stalls is logged and the request still succeeds.
//! * A verified token is remembered until it expires ([`verified`]); its
//!   session is still read on every request.

mod verified;

use exports::keel::domains::user_lifecycle::{Error, Guest, Session, UserProfile};
use keel::platform::{credentials, notifications, security_context};
use keel::repositories::users::{self, NewUser, TicketPurpose, User};
use keel_guest::{clock, ids, validate};
use std::time::Duration;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/user-lifecycle-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const BAD_CREDENTIALS: &str = "invalid email or password";
const BAD_LINK: &str = "this link is invalid, already used or expired";

/// Hashed for an unknown email; long enough for the password policy.
const THROW_AWAY_PASSWORD: &str = "keel-throw-away-password-for-timing";

/// How long a verification link works.
const VERIFY_EMAIL_TTL_MS: i64 = 48 * 3_600_000;
/// How long a password-reset link works.
const RESET_PASSWORD_TTL_MS: i64 = 3_600_000;
/// The longest a request waits for its mail.
const MAIL_WAIT: Duration = Duration::from_secs(3);

struct UserLifecycle;

impl Guest for UserLifecycle {
    async fn signup(email: String, password: String, display_name: String) -> Result<Session, Error> {
        let email = validate::email(&email).map_err(invalid)?;
        let display_name = validate::display_name(&display_name).map_err(invalid)?;
        let password_hash = hash_password(&password)?;
        let user = users::create(NewUser { email, display_name, password_hash }).await.map_err(repository_error)?;
        // The session first: a sign-up that fails mails no link.
        let session = start_session(user.clone()).await?;
        send_link(&user, TicketPurpose::VerifyEmail).await;
        Ok(session)
    }

    async fn login(email: String, password: String) -> Result<Session, Error> {
        let user = match validate::email(&email) {
            Ok(email) => users::find_by_email(email).await.map_err(repository_error)?,
            Err(_) => None,
        };
        match user {
            Some(user) if credentials::verify_password(&password, &user.password_hash) => start_session(user).await,
            Some(_) => Err(Error::Unauthorized(BAD_CREDENTIALS.into())),
            None => {
                // One Argon2 run, as a verification costs; the result is unused.
                let _ = credentials::hash_password(THROW_AWAY_PASSWORD);
                Err(Error::Unauthorized(BAD_CREDENTIALS.into()))
            }
        }
    }

    async fn authenticate(bearer_token: String) -> Result<UserProfile, Error> {
        let (session_id, user_id) = verify(bearer_token).await?;
        match users::session_user(session_id).await {
            Ok(user) if user.id == user_id => Ok(profile(user)),
            Ok(_) | Err(users::Error::NotFound) => {
                Err(Error::Unauthorized("the session has ended; sign in again".into()))
            }
            Err(err) => Err(repository_error(err)),
        }
    }

    async fn logout(bearer_token: String) -> Result<(), Error> {
        let (session_id, _) = verify(bearer_token).await?;
        users::end_session(session_id).await.map_err(repository_error)
    }

    async fn verify_email(secret: String) -> Result<UserProfile, Error> {
        let user_id = redeem(TicketPurpose::VerifyEmail, &secret).await?;
        users::mark_email_verified(user_id).await.map(profile).map_err(repository_error)
    }

    async fn resend_verification(user_id: String) -> Result<(), Error> {
        let user = users::get(user_id).await.map_err(repository_error)?;
        if user.email_verified {
            return Err(Error::Conflict("your email address is already verified".into()));
        }
        send_link(&user, TicketPurpose::VerifyEmail).await;
        Ok(())
    }

    async fn request_password_reset(email: String) -> Result<(), Error> {
        let Ok(email) = validate::email(&email) else {
            return Ok(());
        };
        if let Some(user) = users::find_by_email(email).await.map_err(repository_error)? {
            send_link(&user, TicketPurpose::ResetPassword).await;
        }
        Ok(())
    }

    async fn reset_password(secret: String, new_password: String) -> Result<(), Error> {
        // The policy first, so a weak password does not use up the link.
        let password_hash = hash_password(&new_password)?;
        let user_id = redeem(TicketPurpose::ResetPassword, &secret).await?;
        users::set_password(user_id.clone(), password_hash).await.map_err(repository_error)?;
        // The link reached the address: that proves it is theirs.
        users::mark_email_verified(user_id).await.map_err(repository_error)?;
        Ok(())
    }

    async fn change_password(
        user_id: String,
        current_password: String,
        new_password: String,
    ) -> Result<Session, Error> {
        let user = users::get(user_id).await.map_err(repository_error)?;
        if !credentials::verify_password(&current_password, &user.password_hash) {
            return Err(Error::Unauthorized("the current password is wrong".into()));
        }
        let password_hash = hash_password(&new_password)?;
        users::set_password(user.id.clone(), password_hash).await.map_err(repository_error)?;
        start_session(user).await
    }

    async fn get_profile(user_id: String) -> Result<UserProfile, Error> {
        users::get(user_id).await.map(profile).map_err(repository_error)
    }

    async fn update_profile(user_id: String, display_name: String) -> Result<UserProfile, Error> {
        let display_name = validate::display_name(&display_name).map_err(invalid)?;
        users::update_display_name(user_id, display_name).await.map(profile).map_err(repository_error)
    }
}

/// The session id and user id of a valid token; tokens without a session
/// id (issued before sessions existed) are refused.
async fn verify(bearer_token: String) -> Result<(String, String), Error> {
    let now = clock::now_ms();
    if let Some(claims) = verified::recall(&bearer_token, now) {
        return Ok((claims.session_id, claims.user_id));
    }
    let authenticated = security_context::authenticate(bearer_token.clone()).await.map_err(security_error)?;
    let principal = authenticated.principal;
    let session_id =
        principal.session_id.ok_or_else(|| Error::Unauthorized("the session has ended; sign in again".into()))?;
    let claims = verified::Claims { session_id, user_id: principal.user_id };
    verified::remember(bearer_token, claims.clone(), authenticated.expires_at, now);
    Ok((claims.session_id, claims.user_id))
}

/// Record a new session of `user` and issue its token.
async fn start_session(user: User) -> Result<Session, Error> {
    let session_id = ids::new_id(ids::SESSION).map_err(|err| Error::Unavailable(err.to_string()))?;
    let principal = security_context::Principal {
        user_id: user.id.clone(),
        email: Some(user.email.clone()),
        session_id: Some(session_id.clone()),
    };
    let issued = security_context::issue_session(principal).await.map_err(security_error)?;
    users::create_session(session_id, user.id.clone(), issued.expires_at).await.map_err(repository_error)?;
    Ok(Session { user: profile(user), token: issued.token })
}

fn hash_password(password: &str) -> Result<String, Error> {
    credentials::hash_password(password).map_err(|err| match err {
        credentials::Error::WeakPassword(message) => Error::InvalidInput(message),
        credentials::Error::Unavailable(message) => Error::Unavailable(message),
    })
}

/// The user a link's secret was issued to; the link is used up.
async fn redeem(purpose: TicketPurpose, secret: &str) -> Result<String, Error> {
    match users::redeem_ticket(purpose, ids::digest(secret.trim())).await {
        Ok(user_id) => Ok(user_id),
        Err(users::Error::NotFound) => Err(Error::InvalidInput(BAD_LINK.into())),
        Err(err) => Err(repository_error(err)),
    }
}

/// Save a fresh ticket for `purpose` and mail its link to `user`. Failures
/// are logged, not returned: the caller's request stands either way, and
/// the user can ask for another link.
async fn send_link(user: &User, purpose: TicketPurpose) {
    let (ttl, what) = match purpose {
        TicketPurpose::VerifyEmail => (VERIFY_EMAIL_TTL_MS, "verification"),
        TicketPurpose::ResetPassword => (RESET_PASSWORD_TTL_MS, "password-reset"),
    };
    let secret = match ids::new_secret(match purpose {
        TicketPurpose::VerifyEmail => "vfy",
        TicketPurpose::ResetPassword => "rst",
    }) {
        Ok(secret) => secret,
        Err(err) => {
            return eprintln!("user-lifecycle: {what} mail for {} not sent: {err}", user.id);
        }
    };
    let expires_at = clock::now_ms() + ttl;
    if let Err(err) = users::save_ticket(user.id.clone(), purpose, ids::digest(&secret), expires_at).await {
        return eprintln!("user-lifecycle: {what} mail for {} not sent: {:?}", user.id, repository_error(err));
    }
    let link = notifications::AccountLink {
        recipient_email: user.email.clone(),
        recipient_name: user.display_name.clone(),
        secret,
        expires_at,
    };
    let sent = match purpose {
        TicketPurpose::VerifyEmail => {
            keel_guest::time::within(MAIL_WAIT, notifications::notify_verify_email(link)).await
        }
        TicketPurpose::ResetPassword => {
            keel_guest::time::within(MAIL_WAIT, notifications::notify_password_reset(link)).await
        }
    };
    match sent {
        Some(Ok(_)) => {}
        Some(Err(err)) => eprintln!("user-lifecycle: {what} mail for {} not sent: {err:?}", user.id),
        None => eprintln!("user-lifecycle: {what} mail for {} abandoned after {MAIL_WAIT:?}", user.id),
    }
}

fn profile(user: User) -> UserProfile {
    UserProfile {
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        email_verified: user.email_verified,
        created_at: user.created_at,
    }
}

fn invalid(err: validate::Invalid) -> Error {
    Error::InvalidInput(err.0)
}

fn repository_error(err: users::Error) -> Error {
    match err {
        users::Error::NotFound => Error::NotFound,
        users::Error::Conflict(message) => Error::Conflict(message),
        users::Error::InvalidInput(message) => Error::InvalidInput(message),
        users::Error::Unavailable(message) => Error::Unavailable(message),
        users::Error::Internal(message) => Error::Internal(message),
    }
}

fn security_error(err: security_context::Error) -> Error {
    match err {
        security_context::Error::Unauthenticated(message) | security_context::Error::Forbidden(message) => {
            Error::Unauthorized(message)
        }
        security_context::Error::Unavailable(message) => Error::Unavailable(message),
        security_context::Error::Misconfigured(message) => Error::Internal(message),
    }
}

export!(UserLifecycle);
