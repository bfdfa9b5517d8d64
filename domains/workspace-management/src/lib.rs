//! `keel:domains/workspace-management`: workspaces, members and roles.
//!
//! Callers who are not members of a workspace get `not-found` (never
//! `forbidden`), so workspace ids do not leak; members whose role lacks a
//! permission get `forbidden`. Only owners and admins add members, and only
//! owners add owners.
//!
//! A new member is told by email through `keel:platform/notifications`.
//! The mail is best-effort: the membership is committed first, and a mail
//! provider that fails, or takes longer than [`MAIL_WAIT`], is logged
//! without failing or holding up the request.

use exports::keel::domains::workspace_management::{Error, Guest, Member, Role, Workspace};
use keel::platform::notifications;
use keel::platform::security_context::{self, Permission};
use keel::repositories::{users, workspaces};
use keel_guest::validate;
use std::pin::pin;
use std::time::Duration;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/workspace-management-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The longest an addition waits for its notification mail.
const MAIL_WAIT: Duration = Duration::from_secs(3);

struct WorkspaceManagement;

impl Guest for WorkspaceManagement {
    async fn create_workspace(actor_id: String, name: String) -> Result<Workspace, Error> {
        let name = validate::workspace_name(&name).map_err(|err| Error::InvalidInput(err.0))?;
        let created = workspaces::create(name, actor_id).await.map_err(workspace_error)?;
        Ok(Workspace { id: created.id, name: created.name, role: Role::Owner, created_at: created.created_at })
    }

    async fn list_workspaces(actor_id: String) -> Result<Vec<Workspace>, Error> {
        let found = workspaces::list_for_user(actor_id).await.map_err(workspace_error)?;
        Ok(found.into_iter().map(workspace).collect())
    }

    async fn get_workspace(actor_id: String, workspace_id: String) -> Result<Workspace, Error> {
        let found = authorize(&actor_id, &workspace_id, Permission::WorkspaceRead).await?;
        Ok(workspace(found))
    }

    async fn add_member(actor_id: String, workspace_id: String, email: String, role: Role) -> Result<Member, Error> {
        let actor = authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
        if role == Role::Owner && actor.role != workspaces::Role::Owner {
            return Err(Error::Forbidden("only owners may add owners".into()));
        }
        let email = validate::email(&email).map_err(|err| Error::InvalidInput(err.0))?;
        let user = users::find_by_email(email)
            .await
            .map_err(user_error)?
            .ok_or_else(|| Error::NotFound("no user is registered with this email".into()))?;
        let membership = workspaces::add_member(workspace_id, user.id.clone(), to_repository(role), actor_id.clone())
            .await
            .map_err(workspace_error)?;
        notify_member_added(&actor_id, &actor.workspace, &user, role).await;
        Ok(member(membership, user))
    }

    async fn list_members(actor_id: String, workspace_id: String) -> Result<Vec<Member>, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceRead).await?;
        let memberships = workspaces::list_members(workspace_id).await.map_err(workspace_error)?;
        let mut members = Vec::with_capacity(memberships.len());
        for membership in memberships {
            let user = users::get(membership.user_id.clone()).await.map_err(user_error)?;
            members.push(member(membership, user));
        }
        Ok(members)
    }
}

/// The caller's view of the workspace, if they are a member whose role
/// grants `permission`.
async fn authorize(
    actor_id: &str,
    workspace_id: &str,
    permission: Permission,
) -> Result<workspaces::WorkspaceWithRole, Error> {
    let found = workspaces::get_for_member(workspace_id.to_owned(), actor_id.to_owned()).await.map_err(workspace_error)?;
    if security_context::allows(to_platform(found.role), permission) {
        Ok(found)
    } else {
        Err(Error::Forbidden("your role in this workspace does not allow this".into()))
    }
}

/// Email the new member. Failures are logged, not returned: the membership
/// stands whether or not the mail went out.
async fn notify_member_added(actor_id: &str, workspace: &workspaces::Workspace, recipient: &users::User, role: Role) {
    let added_by = match users::get(actor_id.to_owned()).await {
        Ok(actor) => actor.display_name,
        Err(err) => {
            eprintln!("workspace-management: member-added mail for {} not sent: {:?}", recipient.id, user_error(err));
            return;
        }
    };
    let event = notifications::MemberAdded {
        workspace_id: workspace.id.clone(),
        workspace_name: workspace.name.clone(),
        recipient_email: recipient.email.clone(),
        recipient_name: recipient.display_name.clone(),
        added_by,
        role: match role {
            Role::Owner => notifications::Role::Owner,
            Role::Admin => notifications::Role::Admin,
            Role::Member => notifications::Role::Member,
        },
    };
    let send = pin!(notifications::notify_member_added(event));
    let give_up = pin!(spin_sdk::time::sleep(MAIL_WAIT));
    match futures::future::select(send, give_up).await {
        futures::future::Either::Left((Ok(_), _)) => {}
        futures::future::Either::Left((Err(err), _)) => {
            eprintln!("workspace-management: member-added mail for {} not sent: {err:?}", recipient.id);
        }
        futures::future::Either::Right(_) => {
            eprintln!("workspace-management: member-added mail for {} abandoned after {MAIL_WAIT:?}", recipient.id);
        }
    }
}

fn workspace(found: workspaces::WorkspaceWithRole) -> Workspace {
    Workspace {
        id: found.workspace.id,
        name: found.workspace.name,
        role: from_repository(found.role),
        created_at: found.workspace.created_at,
    }
}

fn member(membership: workspaces::Membership, user: users::User) -> Member {
    Member {
        user_id: membership.user_id,
        email: user.email,
        display_name: user.display_name,
        role: from_repository(membership.role),
        joined_at: membership.created_at,
    }
}

fn from_repository(role: workspaces::Role) -> Role {
    match role {
        workspaces::Role::Owner => Role::Owner,
        workspaces::Role::Admin => Role::Admin,
        workspaces::Role::Member => Role::Member,
    }
}

fn to_repository(role: Role) -> workspaces::Role {
    match role {
        Role::Owner => workspaces::Role::Owner,
        Role::Admin => workspaces::Role::Admin,
        Role::Member => workspaces::Role::Member,
    }
}

fn to_platform(role: workspaces::Role) -> security_context::Role {
    match role {
        workspaces::Role::Owner => security_context::Role::Owner,
        workspaces::Role::Admin => security_context::Role::Admin,
        workspaces::Role::Member => security_context::Role::Member,
    }
}

fn workspace_error(err: workspaces::Error) -> Error {
    keel_guest::repository_error!(err, workspaces => Error, "workspace not found")
}

fn user_error(err: users::Error) -> Error {
    keel_guest::repository_error!(err, users => Error, "user not found")
}

export!(WorkspaceManagement);
