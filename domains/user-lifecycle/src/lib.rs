//! `keel:domains/user-lifecycle`: sign-up, login and profiles of local accounts.
//!
//! Login answers the same `unauthorized` for an unknown email and a wrong
//! password, and spends one password hash in both cases (a verification for
//! a known email, hashing a throw-away password for an unknown one: the same
//! Argon2 work with the provider's current parameters) so response times do
//! not reveal which emails exist.

use exports::keel::domains::user_lifecycle::{Error, Guest, Session, UserProfile};
use keel::platform::{credentials, security_context};
use keel::repositories::users::{self, NewUser, User};
use keel_guest::validate;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/user-lifecycle-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const BAD_CREDENTIALS: &str = "invalid email or password";

/// Hashed for an unknown email; long enough for the password policy.
const THROW_AWAY_PASSWORD: &str = "keel-throw-away-password-for-timing";

struct UserLifecycle;

impl Guest for UserLifecycle {
    async fn signup(email: String, password: String, display_name: String) -> Result<Session, Error> {
        let email = validate::email(&email).map_err(invalid)?;
        let display_name = validate::display_name(&display_name).map_err(invalid)?;
        let password_hash = credentials::hash_password(&password).map_err(|err| match err {
            credentials::Error::WeakPassword(message) => Error::InvalidInput(message),
            credentials::Error::Unavailable(message) => Error::Unavailable(message),
        })?;
        let user = users::create(NewUser { email, display_name, password_hash }).await.map_err(repository_error)?;
        session_for(user).await
    }

    async fn login(email: String, password: String) -> Result<Session, Error> {
        let user = match validate::email(&email) {
            Ok(email) => users::find_by_email(email).await.map_err(repository_error)?,
            Err(_) => None,
        };
        match user {
            Some(user) if credentials::verify_password(&password, &user.password_hash) => session_for(user).await,
            Some(_) => Err(Error::Unauthorized(BAD_CREDENTIALS.into())),
            None => {
                // One Argon2 run, as a verification costs; the result is unused.
                let _ = credentials::hash_password(THROW_AWAY_PASSWORD);
                Err(Error::Unauthorized(BAD_CREDENTIALS.into()))
            }
        }
    }

    async fn authenticate(bearer_token: String) -> Result<UserProfile, Error> {
        let principal = security_context::authenticate(bearer_token).await.map_err(security_error)?;
        match users::get(principal.user_id).await {
            Ok(user) => Ok(profile(user)),
            Err(users::Error::NotFound) => Err(Error::Unauthorized("the token's user no longer exists".into())),
            Err(err) => Err(repository_error(err)),
        }
    }

    async fn get_profile(user_id: String) -> Result<UserProfile, Error> {
        users::get(user_id).await.map(profile).map_err(repository_error)
    }

    async fn update_profile(user_id: String, display_name: String) -> Result<UserProfile, Error> {
        let display_name = validate::display_name(&display_name).map_err(invalid)?;
        users::update_display_name(user_id, display_name).await.map(profile).map_err(repository_error)
    }
}

async fn session_for(user: User) -> Result<Session, Error> {
    let principal = security_context::Principal { user_id: user.id.clone(), email: Some(user.email.clone()) };
    let token = security_context::issue_session(principal).await.map_err(security_error)?;
    Ok(Session { user: profile(user), token })
}

fn profile(user: User) -> UserProfile {
    UserProfile { id: user.id, email: user.email, display_name: user.display_name, created_at: user.created_at }
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
    }
}

export!(UserLifecycle);
