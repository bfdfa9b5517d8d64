//! `keel:repositories/users`: stored user accounts over `keel:infrastructure/sql`.
//!
//! Emails are stored lower-cased and are unique; a user's `created_by` is
//! their own id (accounts are self-registered). A verified address has a
//! row in `user_email_verifications`; tickets (single-use secrets sent by
//! mail) are stored by digest only and deleted when used; sessions live in
//! `user_sessions` until they end or expire, and a user's expired sessions
//! are pruned whenever they start a new one.

mod schema;

use exports::keel::repositories::users::{Error, Guest, NewUser, TicketPurpose, User};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/user-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

/// Every user column, `v.verified_at` telling whether the address is verified.
const SELECT_USER: &str = "SELECT u.id, u.email, u.display_name, u.password_hash, u.created_at, u.updated_at, \
     v.verified_at FROM users u LEFT JOIN user_email_verifications v ON v.user_id = u.id";

/// The most ids one `get-many` statement binds (every dialect allows at
/// least 999 parameters).
const IDS_PER_STATEMENT: usize = 500;

struct UserRepository;

impl Guest for UserRepository {
    async fn create(user: NewUser) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        let email = user.email.trim().to_lowercase();
        if email.is_empty() || user.display_name.is_empty() || user.password_hash.is_empty() {
            return Err(Error::InvalidInput("email, display name and password hash are required".into()));
        }
        let id = ids::new_id(ids::USER).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        Autocommit
            .exec(
                "INSERT INTO users (id, email, display_name, password_hash, created_at, updated_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?1)",
                vec![
                    id.as_str().into(),
                    email.as_str().into(),
                    user.display_name.as_str().into(),
                    user.password_hash.as_str().into(),
                    now.into(),
                ],
            )
            .await
            .map_err(|err| match err {
                sql::Error::Conflict(_) => Error::Conflict(format!("a user with email {email} already exists")),
                other => other.into(),
            })?;
        Ok(User {
            id,
            email,
            display_name: user.display_name,
            password_hash: user.password_hash,
            email_verified: false,
            created_at: now,
            updated_at: now,
        })
    }

    async fn get(id: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        find_one(&format!("{SELECT_USER} WHERE u.id = ?1"), id).await?.ok_or(Error::NotFound)
    }

    async fn get_many(ids: Vec<String>) -> Result<Vec<User>, Error> {
        schema::MIGRATOR.ensure().await?;
        let mut users = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let statement = format!("{SELECT_USER} WHERE u.id IN ({})", placeholders.join(", "));
            let rows = Autocommit.fetch(&statement, chunk.iter().map(|id| id.as_str().into()).collect()).await?;
            users.extend(rows.decode(decode)?);
        }
        Ok(users)
    }

    async fn find_by_email(email: String) -> Result<Option<User>, Error> {
        schema::MIGRATOR.ensure().await?;
        find_one(&format!("{SELECT_USER} WHERE u.email = ?1"), email.trim().to_lowercase()).await
    }

    async fn update_display_name(id: String, display_name: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        if display_name.is_empty() {
            return Err(Error::InvalidInput("display name is required".into()));
        }
        // No check of the rows changed: MySQL counts a row set to the same
        // values as unchanged; `get` answers `not-found` for an unknown id.
        Autocommit
            .exec(
                "UPDATE users SET display_name = ?2, updated_at = ?3 WHERE id = ?1",
                vec![id.as_str().into(), display_name.into(), clock::now_ms().into()],
            )
            .await?;
        Self::get(id).await
    }

    async fn mark_email_verified(id: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        let user = Self::get(id.clone()).await?;
        if user.email_verified {
            return Ok(user);
        }
        let inserted = Autocommit
            .exec(
                "INSERT INTO user_email_verifications (user_id, verified_at) VALUES (?1, ?2)",
                vec![id.as_str().into(), clock::now_ms().into()],
            )
            .await;
        match inserted {
            // A conflict: verified concurrently, with the same outcome.
            Ok(_) | Err(sql::Error::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        Ok(User { email_verified: true, ..user })
    }

    async fn set_password(id: String, password_hash: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        if password_hash.is_empty() {
            return Err(Error::InvalidInput("password hash is required".into()));
        }
        let tx = sql::begin().await?;
        let updated = tx
            .exec(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                vec![id.as_str().into(), password_hash.into(), clock::now_ms().into()],
            )
            .await?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        tx.exec("DELETE FROM user_sessions WHERE user_id = ?1", vec![id.as_str().into()]).await?;
        tx.exec(
            "DELETE FROM user_tickets WHERE user_id = ?1 AND purpose = ?2",
            vec![id.as_str().into(), purpose_name(TicketPurpose::ResetPassword).into()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_ticket(
        user_id: String,
        purpose: TicketPurpose,
        digest: String,
        expires_at: i64,
    ) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        if digest.is_empty() {
            return Err(Error::InvalidInput("ticket digest is required".into()));
        }
        let tx = sql::begin().await?;
        tx.exec(
            "DELETE FROM user_tickets WHERE user_id = ?1 AND purpose = ?2",
            vec![user_id.as_str().into(), purpose_name(purpose).into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO user_tickets (digest, user_id, purpose, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            vec![
                digest.into(),
                user_id.into(),
                purpose_name(purpose).into(),
                clock::now_ms().into(),
                expires_at.into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_ticket(purpose: TicketPurpose, digest: String) -> Result<String, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                "SELECT user_id FROM user_tickets WHERE digest = ?1 AND purpose = ?2 AND expires_at > ?3",
                vec![digest.as_str().into(), purpose_name(purpose).into(), clock::now_ms().into()],
            )
            .await?;
        let user_id = rows.first().map(|row| row.text("user_id")).transpose()?.ok_or(Error::NotFound)?;
        // Single use: of two concurrent redemptions only one deletes the row.
        let deleted = Autocommit.exec("DELETE FROM user_tickets WHERE digest = ?1", vec![digest.into()]).await?;
        if deleted.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Ok(user_id)
    }

    async fn create_session(id: String, user_id: String, expires_at: i64) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let now = clock::now_ms();
        let tx = sql::begin().await?;
        tx.exec(
            "DELETE FROM user_sessions WHERE user_id = ?1 AND expires_at <= ?2",
            vec![user_id.as_str().into(), now.into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO user_sessions (id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            vec![id.into(), user_id.into(), now.into(), expires_at.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_user(session_id: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!(
                    "{SELECT_USER} JOIN user_sessions s ON s.user_id = u.id WHERE s.id = ?1 AND s.expires_at > ?2"
                ),
                vec![session_id.into(), clock::now_ms().into()],
            )
            .await?;
        Ok(rows.first().map(decode).transpose()?.ok_or(Error::NotFound)?)
    }

    async fn end_session(session_id: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        Autocommit.exec("DELETE FROM user_sessions WHERE id = ?1", vec![session_id.into()]).await?;
        Ok(())
    }
}

fn purpose_name(purpose: TicketPurpose) -> &'static str {
    match purpose {
        TicketPurpose::VerifyEmail => "verify-email",
        TicketPurpose::ResetPassword => "reset-password",
    }
}

async fn find_one(statement: &str, key: String) -> Result<Option<User>, Error> {
    let rows = Autocommit.fetch(statement, vec![key.into()]).await?;
    Ok(rows.first().map(decode).transpose()?)
}

fn decode(row: RowRef<'_>) -> Result<User, sql::Error> {
    Ok(User {
        id: row.text("id")?,
        email: row.text("email")?,
        display_name: row.text("display_name")?,
        password_hash: row.text("password_hash")?,
        email_verified: !row.is_null("verified_at")?,
        created_at: row.integer("created_at")?,
        updated_at: row.integer("updated_at")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(UserRepository);
