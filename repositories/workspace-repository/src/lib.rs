//! `keel:repositories/workspaces`: workspaces (tenants) and their memberships
//! over `keel:infrastructure/sql`.
//!
//! Creating a workspace inserts it and its owner's membership in one
//! transaction. Every membership and invitation query is scoped by
//! `workspace_id` (an invitation is read without it only by its invitee's
//! address or id, for accepting). Changes that could leave a workspace
//! without an owner first lock the workspace row (an `UPDATE` of it), so
//! two owners demoting each other at once cannot both succeed.

mod schema;

use exports::keel::repositories::workspaces::{
    Closing, Error, Guest, Invitation, Membership, Role, Workspace, WorkspaceWithRole,
};
use keel_guest::outbox::{self, EventTransaction, Kind, NewEvent};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/workspace-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const WORKSPACE_WITH_ROLE: &str = "SELECT w.id, w.name, w.created_at, w.created_by, m.role \
     FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id";

const SELECT_INVITATION: &str = "SELECT i.id, i.workspace_id, w.name, i.email, i.role, i.invited_by, i.created_at, \
     i.expires_at FROM workspace_invitations i JOIN workspaces w ON w.id = i.workspace_id";

/// `open_key` of a pending invitation (a closed one holds its own id).
const OPEN: &str = "open";

struct WorkspaceRepository;

impl Guest for WorkspaceRepository {
    async fn create(name: String, owner_id: String) -> Result<Workspace, Error> {
        schema::MIGRATOR.ensure().await?;
        if name.is_empty() || owner_id.is_empty() {
            return Err(Error::InvalidInput("workspace name and owner are required".into()));
        }
        let id = ids::new_id(ids::WORKSPACE).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        let tx = sql::begin().await?;
        tx.exec(
            "INSERT INTO workspaces (id, name, created_at, updated_at, created_by) VALUES (?1, ?2, ?3, ?3, ?4)",
            vec![id.as_str().into(), name.as_str().into(), now.into(), owner_id.as_str().into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at, updated_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?2)",
            vec![id.as_str().into(), owner_id.as_str().into(), role_name(Role::Owner).into(), now.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(Workspace { id, name, created_at: now, created_by: owner_id })
    }

    async fn list_for_user(user_id: String) -> Result<Vec<WorkspaceWithRole>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("{WORKSPACE_WITH_ROLE} WHERE m.user_id = ?1 ORDER BY w.created_at, w.id"),
                vec![user_id.into()],
            )
            .await?;
        Ok(rows.decode(decode_workspace_with_role)?)
    }

    async fn get_for_member(workspace_id: String, user_id: String) -> Result<WorkspaceWithRole, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("{WORKSPACE_WITH_ROLE} WHERE m.workspace_id = ?1 AND m.user_id = ?2"),
                vec![workspace_id.into(), user_id.into()],
            )
            .await?;
        rows.first().map(decode_workspace_with_role).transpose()?.ok_or(Error::NotFound)
    }

    async fn list_members(workspace_id: String) -> Result<Vec<Membership>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                "SELECT workspace_id, user_id, role, created_at, created_by FROM workspace_members \
                 WHERE workspace_id = ?1 ORDER BY created_at, user_id",
                vec![workspace_id.into()],
            )
            .await?;
        Ok(rows.decode(decode_membership)?)
    }

    async fn set_member_role(workspace_id: String, user_id: String, role: Role) -> Result<Membership, Error> {
        schema::MIGRATOR.ensure().await?;
        let tx = lock_workspace(&workspace_id).await?;
        let current = membership(&tx, &workspace_id, &user_id).await?;
        if current.role == Role::Owner && role != Role::Owner {
            keep_an_owner(&tx, &workspace_id).await?;
        }
        let now = clock::now_ms();
        tx.exec(
            "UPDATE workspace_members SET role = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND user_id = ?2",
            vec![workspace_id.as_str().into(), user_id.as_str().into(), role_name(role).into(), now.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(Membership { role, ..current })
    }

    async fn remove_member(workspace_id: String, user_id: String, actor_id: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let tx = lock_workspace(&workspace_id).await?;
        if membership(&tx, &workspace_id, &user_id).await?.role == Role::Owner {
            keep_an_owner(&tx, &workspace_id).await?;
        }
        tx.exec(
            "DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2",
            vec![workspace_id.as_str().into(), user_id.as_str().into()],
        )
        .await?;
        let event = NewEvent {
            workspace_id: &workspace_id,
            channel_id: None,
            kind: Kind::MemberRemoved,
            subject_id: &user_id,
            actor_id: &actor_id,
        };
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_invitation(
        workspace_id: String,
        email: String,
        role: Role,
        invited_by: String,
        expires_at: i64,
    ) -> Result<Invitation, Error> {
        schema::MIGRATOR.ensure().await?;
        let email = email.trim().to_lowercase();
        if email.is_empty() || invited_by.is_empty() {
            return Err(Error::InvalidInput("email and inviting user are required".into()));
        }
        let id = ids::new_id(ids::INVITATION).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        let tx = sql::begin().await?;
        let found = tx.fetch("SELECT name FROM workspaces WHERE id = ?1", vec![workspace_id.as_str().into()]).await?;
        let workspace_name = found.first().map(|row| row.text("name")).transpose()?.ok_or(Error::NotFound)?;
        // An expired invitation no longer holds the address's open slot.
        tx.exec(
            "UPDATE workspace_invitations SET status = 'expired', closed_at = ?4, open_key = id \
             WHERE workspace_id = ?1 AND email = ?2 AND open_key = ?3 AND expires_at <= ?4",
            vec![workspace_id.as_str().into(), email.as_str().into(), OPEN.into(), now.into()],
        )
        .await?;
        tx.exec(
            "INSERT INTO workspace_invitations \
             (id, workspace_id, email, role, invited_by, created_at, expires_at, status, open_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)",
            vec![
                id.as_str().into(),
                workspace_id.as_str().into(),
                email.as_str().into(),
                role_name(role).into(),
                invited_by.as_str().into(),
                now.into(),
                expires_at.into(),
                OPEN.into(),
            ],
        )
        .await
        .map_err(|err| match err {
            sql::Error::Conflict(_) => Error::Conflict("an invitation to this address is already pending".into()),
            other => other.into(),
        })?;
        tx.commit().await?;
        Ok(Invitation { id, workspace_id, workspace_name, email, role, invited_by, created_at: now, expires_at })
    }

    async fn list_invitations(workspace_id: String) -> Result<Vec<Invitation>, Error> {
        schema::MIGRATOR.ensure().await?;
        pending_invitations("i.workspace_id", workspace_id).await
    }

    async fn invitations_for_email(email: String) -> Result<Vec<Invitation>, Error> {
        schema::MIGRATOR.ensure().await?;
        pending_invitations("i.email", email.trim().to_lowercase()).await
    }

    async fn get_invitation(invitation_id: String) -> Result<Invitation, Error> {
        schema::MIGRATOR.ensure().await?;
        pending_invitations("i.id", invitation_id).await?.pop().ok_or(Error::NotFound)
    }

    async fn accept_invitation(invitation_id: String, user_id: String) -> Result<Membership, Error> {
        schema::MIGRATOR.ensure().await?;
        let invitation = Self::get_invitation(invitation_id.clone()).await?;
        let now = clock::now_ms();
        let tx = outbox::begin().await?;
        let closed = tx
            .exec(
                "UPDATE workspace_invitations SET status = 'accepted', closed_at = ?3, open_key = id \
                 WHERE id = ?1 AND open_key = ?2 AND expires_at > ?3",
                vec![invitation_id.as_str().into(), OPEN.into(), now.into()],
            )
            .await?;
        if closed.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        tx.exec(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at, updated_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            vec![
                invitation.workspace_id.as_str().into(),
                user_id.as_str().into(),
                role_name(invitation.role).into(),
                now.into(),
                invitation.invited_by.as_str().into(),
            ],
        )
        .await
        .map_err(|err| match err {
            sql::Error::Conflict(_) => Error::Conflict("you are already a member of this workspace".into()),
            other => other.into(),
        })?;
        let event = NewEvent {
            workspace_id: &invitation.workspace_id,
            channel_id: None,
            kind: Kind::MemberJoined,
            subject_id: &user_id,
            actor_id: &user_id,
        };
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Membership {
            workspace_id: invitation.workspace_id,
            user_id,
            role: invitation.role,
            created_at: now,
            created_by: invitation.invited_by,
        })
    }

    async fn close_invitation(workspace_id: String, invitation_id: String, closing: Closing) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let status = match closing {
            Closing::Declined => "declined",
            Closing::Revoked => "revoked",
        };
        let closed = Autocommit
            .exec(
                "UPDATE workspace_invitations SET status = ?4, closed_at = ?5, open_key = id \
                 WHERE id = ?1 AND workspace_id = ?2 AND open_key = ?3 AND expires_at > ?5",
                vec![invitation_id.into(), workspace_id.into(), OPEN.into(), status.into(), clock::now_ms().into()],
            )
            .await?;
        if closed.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

/// Begin a transaction holding the workspace row's write lock (SQLite
/// takes the database's). The caller's membership read that follows
/// answers `not-found` for an unknown workspace: MySQL counts only rows an
/// `UPDATE` changed, so two updates in the same millisecond would make the
/// second look like a missing row.
async fn lock_workspace(workspace_id: &str) -> Result<EventTransaction, Error> {
    let tx = outbox::begin().await?;
    tx.exec("UPDATE workspaces SET updated_at = ?2 WHERE id = ?1", vec![workspace_id.into(), clock::now_ms().into()])
        .await?;
    Ok(tx)
}

/// The membership of `user_id`; `not-found` when they are not a member.
async fn membership(tx: &sql::Transaction, workspace_id: &str, user_id: &str) -> Result<Membership, Error> {
    let rows = tx
        .fetch(
            "SELECT workspace_id, user_id, role, created_at, created_by FROM workspace_members \
             WHERE workspace_id = ?1 AND user_id = ?2",
            vec![workspace_id.into(), user_id.into()],
        )
        .await?;
    rows.first().map(decode_membership).transpose()?.ok_or(Error::NotFound)
}

/// `conflict` unless the workspace has another owner besides the one about
/// to be demoted or removed.
async fn keep_an_owner(tx: &sql::Transaction, workspace_id: &str) -> Result<(), Error> {
    let owners = tx
        .fetch(
            "SELECT user_id FROM workspace_members WHERE workspace_id = ?1 AND role = ?2",
            vec![workspace_id.into(), role_name(Role::Owner).into()],
        )
        .await?;
    if owners.iter().count() < 2 {
        return Err(Error::Conflict("a workspace must keep at least one owner".into()));
    }
    Ok(())
}

/// Pending, unexpired invitations where `column` equals `value`, oldest first.
async fn pending_invitations(column: &str, value: String) -> Result<Vec<Invitation>, Error> {
    let rows = Autocommit
        .fetch(
            &format!("{SELECT_INVITATION} WHERE {column} = ?1 AND i.open_key = ?2 AND i.expires_at > ?3 ORDER BY i.created_at, i.id"),
            vec![value.into(), OPEN.into(), clock::now_ms().into()],
        )
        .await?;
    Ok(rows.decode(|row| {
        Ok(Invitation {
            id: row.text("id")?,
            workspace_id: row.text("workspace_id")?,
            workspace_name: row.text("name")?,
            email: row.text("email")?,
            role: parse_role(&row.text("role")?)?,
            invited_by: row.text("invited_by")?,
            created_at: row.integer("created_at")?,
            expires_at: row.integer("expires_at")?,
        })
    })?)
}

fn decode_membership(row: RowRef<'_>) -> Result<Membership, sql::Error> {
    Ok(Membership {
        workspace_id: row.text("workspace_id")?,
        user_id: row.text("user_id")?,
        role: parse_role(&row.text("role")?)?,
        created_at: row.integer("created_at")?,
        created_by: row.text("created_by")?,
    })
}

fn decode_workspace_with_role(row: RowRef<'_>) -> Result<WorkspaceWithRole, sql::Error> {
    Ok(WorkspaceWithRole {
        workspace: Workspace {
            id: row.text("id")?,
            name: row.text("name")?,
            created_at: row.integer("created_at")?,
            created_by: row.text("created_by")?,
        },
        role: parse_role(&row.text("role")?)?,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

fn parse_role(name: &str) -> Result<Role, sql::Error> {
    match name {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(sql::Error::Internal(format!("unknown role `{other}` in workspace_members"))),
    }
}

keel_guest::impl_from_sql_error!(Error);

export!(WorkspaceRepository);
