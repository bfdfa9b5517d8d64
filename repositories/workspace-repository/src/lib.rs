//! `keel:repositories/workspaces`: workspaces (tenants) and their memberships
//! over `keel:infrastructure/sql`.
//!
//! Creating a workspace inserts it and its owner's membership in one
//! transaction. Every membership query is scoped by `workspace_id`.

mod schema;

use exports::keel::repositories::workspaces::{Error, Guest, Membership, Role, Workspace, WorkspaceWithRole};
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

struct WorkspaceRepository;

impl Guest for WorkspaceRepository {
    async fn create(name: String, owner_id: String) -> Result<Workspace, Error> {
        schema::MIGRATOR.ensure().await?;
        if name.trim().is_empty() || owner_id.is_empty() {
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
            .fetch(&format!("{WORKSPACE_WITH_ROLE} WHERE m.user_id = ?1 ORDER BY w.created_at, w.id"), vec![
                user_id.into(),
            ])
            .await?;
        Ok(rows.decode(decode_workspace_with_role)?)
    }

    async fn get_for_member(workspace_id: String, user_id: String) -> Result<WorkspaceWithRole, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(&format!("{WORKSPACE_WITH_ROLE} WHERE m.workspace_id = ?1 AND m.user_id = ?2"), vec![
                workspace_id.into(),
                user_id.into(),
            ])
            .await?;
        rows.first().map(decode_workspace_with_role).transpose()?.ok_or(Error::NotFound)
    }

    async fn add_member(workspace_id: String, user_id: String, role: Role, added_by: String) -> Result<Membership, Error> {
        schema::MIGRATOR.ensure().await?;
        if user_id.is_empty() || added_by.is_empty() {
            return Err(Error::InvalidInput("user and adding user are required".into()));
        }
        let exists = Autocommit
            .fetch("SELECT id FROM workspaces WHERE id = ?1", vec![workspace_id.as_str().into()])
            .await?;
        if exists.first().is_none() {
            return Err(Error::NotFound);
        }
        let now = clock::now_ms();
        Autocommit
            .exec(
                "INSERT INTO workspace_members (workspace_id, user_id, role, created_at, updated_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                vec![
                    workspace_id.as_str().into(),
                    user_id.as_str().into(),
                    role_name(role).into(),
                    now.into(),
                    added_by.as_str().into(),
                ],
            )
            .await
            .map_err(|err| match err {
                sql::Error::Conflict(_) => Error::Conflict("the user is already a member of this workspace".into()),
                other => other.into(),
            })?;
        Ok(Membership { workspace_id, user_id, role, created_at: now, created_by: added_by })
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
        Ok(rows.decode(|row| {
            Ok(Membership {
                workspace_id: row.text("workspace_id")?,
                user_id: row.text("user_id")?,
                role: parse_role(&row.text("role")?)?,
                created_at: row.integer("created_at")?,
                created_by: row.text("created_by")?,
            })
        })?)
    }
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
