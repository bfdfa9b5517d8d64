//! `keel:infrastructure/auth` for local accounts.
//!
//! Passwords are hashed with argon2id ([`password`]); access tokens are HS256
//! JWTs ([`token`]) with claims `sub`, `email`, `iat`, `exp`, `jti` (when given) and
//! `iss = "keel-auth-local"`, signed with the Spin variable `token_secret`
//! (at least 32 bytes).

mod password;
mod token;

use exports::keel::infrastructure::auth::{Error, Guest, Identity};
use password::PasswordError;

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/auth-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

const SECRET_VARIABLE: &str = "token_secret";
const MIN_SECRET_LEN: usize = 32;

struct AuthLocal;

impl Guest for AuthLocal {
    fn hash_password(password: String) -> Result<String, Error> {
        if password.is_empty() {
            return Err(Error::InvalidInput("password must not be empty".into()));
        }
        password::hash(&password).map_err(password_error)
    }

    fn verify_password(password: String, password_hash: String) -> Result<bool, Error> {
        password::verify(&password, &password_hash).map_err(password_error)
    }

    async fn issue_token(
        subject: String,
        email: Option<String>,
        token_id: Option<String>,
        ttl_seconds: u32,
    ) -> Result<String, Error> {
        if subject.is_empty() {
            return Err(Error::InvalidInput("subject must not be empty".into()));
        }
        if ttl_seconds == 0 {
            return Err(Error::InvalidInput("ttl-seconds must be at least 1".into()));
        }
        let key = signing_key().await?;
        let now = keel_guest::clock::now_secs();
        let claims = token::Claims {
            sub: subject,
            email,
            iat: now,
            exp: now + i64::from(ttl_seconds),
            iss: token::ISSUER.into(),
            nbf: None,
            jti: token_id,
        };
        Ok(token::sign(&claims, &key))
    }

    async fn verify_token(token: String) -> Result<Identity, Error> {
        let key = signing_key().await?;
        let claims = token::verify(&token, &key, keel_guest::clock::now_secs())
            .map_err(|err| Error::InvalidToken(err.to_string()))?;
        Ok(Identity { subject: claims.sub, email: claims.email, expires_at: claims.exp, token_id: claims.jti })
    }
}

thread_local! {
    /// The key, read once per instance: Spin variables do not change while
    /// an app runs, and every authenticated request needs it.
    static SIGNING_KEY: std::cell::RefCell<Option<std::rc::Rc<[u8]>>> = const { std::cell::RefCell::new(None) };
}

/// The HMAC key from the `token_secret` variable.
async fn signing_key() -> Result<std::rc::Rc<[u8]>, Error> {
    if let Some(key) = SIGNING_KEY.with_borrow(Clone::clone) {
        return Ok(key);
    }
    let key = read_signing_key().await?;
    SIGNING_KEY.set(Some(key.clone()));
    Ok(key)
}

async fn read_signing_key() -> Result<std::rc::Rc<[u8]>, Error> {
    let secret = spin_sdk::variables::get(SECRET_VARIABLE)
        .await
        .map_err(|err| Error::Unavailable(format!("cannot read variable `{SECRET_VARIABLE}`: {err}")))?;
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::Unavailable(format!(
            "variable `{SECRET_VARIABLE}` must be at least {MIN_SECRET_LEN} bytes long"
        )));
    }
    Ok(secret.into_bytes().into())
}

fn password_error(err: PasswordError) -> Error {
    match err {
        PasswordError::MalformedHash(message) => Error::InvalidInput(format!("malformed password hash: {message}")),
        PasswordError::Failed(message) => Error::Unavailable(format!("password hashing failed: {message}")),
    }
}

export!(AuthLocal);
