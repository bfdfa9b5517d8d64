//! `keel:repositories/users`: stored user accounts over `keel:infrastructure/sql`.
//!
//! Emails are stored lower-cased and are unique; a user's `created_by` is
//! their own id (accounts are self-registered).

mod schema;

use exports::keel::repositories::users::{Error, Guest, NewUser, User};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/user-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const COLUMNS: &str = "id, email, display_name, password_hash, created_at, updated_at";

struct UserRepository;

impl Guest for UserRepository {
    async fn create(user: NewUser) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        let email = user.email.trim().to_lowercase();
        if email.is_empty() || user.display_name.trim().is_empty() || user.password_hash.is_empty() {
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
            created_at: now,
            updated_at: now,
        })
    }

    async fn get(id: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        find_one(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"), id).await?.ok_or(Error::NotFound)
    }

    async fn find_by_email(email: String) -> Result<Option<User>, Error> {
        schema::MIGRATOR.ensure().await?;
        find_one(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"), email.trim().to_lowercase()).await
    }

    async fn update_display_name(id: String, display_name: String) -> Result<User, Error> {
        schema::MIGRATOR.ensure().await?;
        if display_name.trim().is_empty() {
            return Err(Error::InvalidInput("display name is required".into()));
        }
        let updated = Autocommit
            .exec(
                "UPDATE users SET display_name = ?2, updated_at = ?3 WHERE id = ?1",
                vec![id.as_str().into(), display_name.into(), clock::now_ms().into()],
            )
            .await?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Self::get(id).await
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
        created_at: row.integer("created_at")?,
        updated_at: row.integer("updated_at")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(UserRepository);
