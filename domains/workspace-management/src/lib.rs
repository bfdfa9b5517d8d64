//! `keel:domains/workspace-management`: workspaces, members, roles and
//! invitations.
//!
//! * Callers who are not members of a workspace get `not-found` (never
//!   `forbidden`), so workspace ids do not leak; members whose role lacks a
//!   permission get `forbidden`. What each role may do is
//!   `keel:platform/security-context`'s table; this domain only asks it.
//! * People join by invitation only: an owner or admin invites an email
//!   address with a role; the holder of an account with that address,
//!   verified, accepts or declines. Inviting answers the same whether or
//!   not the address has an account. Invitations last [`INVITATION_TTL_MS`]
//!   and can be revoked.
//! * Managing owners (inviting, promoting, demoting or removing one) needs
//!   `workspace-manage-owners`; the repository refuses any change that
//!   would leave a workspace without an owner.
//! * The invitation mail is best-effort: the invitation is committed first,
//!   and a mail provider that fails, or takes longer than [`MAIL_WAIT`], is
//!   logged without failing or holding up the request.

use exports::keel::domains::workspace_management::{
    AuditPage, Error, Feature, Guest, Invitation, Member, Role, Verification, Workspace,
};
use keel::platform::{audit, feature_flags, notifications};
use keel::platform::security_context::{self, Permission};
use keel::repositories::{users, workspaces};
use keel_guest::{clock, validate};
use std::time::Duration;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/workspace-management-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The longest a request waits for its notification mail.
const MAIL_WAIT: Duration = Duration::from_secs(3);
/// How long an invitation can be accepted.
const INVITATION_TTL_MS: i64 = 7 * 24 * 3_600_000;

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

    async fn change_role(actor_id: String, workspace_id: String, user_id: String, role: Role) -> Result<Member, Error> {
        let actor = authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
        let target = target_member(&workspace_id, &user_id).await?;
        if target.role == workspaces::Role::Owner || role == Role::Owner {
            require(actor.role, Permission::WorkspaceManageOwners, "only owners may make or change owners")?;
        }
        let changed = workspaces::set_member_role(workspace_id, user_id.clone(), to_repository(role))
            .await
            .map_err(workspace_error)?;
        let user = users::get(user_id).await.map_err(user_error)?;
        Ok(member(changed, user))
    }

    async fn remove_member(actor_id: String, workspace_id: String, user_id: String) -> Result<(), Error> {
        if user_id == actor_id {
            // Leaving: any member may, unless they are the last owner.
            authorize(&actor_id, &workspace_id, Permission::WorkspaceRead).await?;
        } else {
            let actor = authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
            if target_member(&workspace_id, &user_id).await?.role == workspaces::Role::Owner {
                require(actor.role, Permission::WorkspaceManageOwners, "only owners may remove owners")?;
            }
        }
        workspaces::remove_member(workspace_id, user_id, actor_id).await.map_err(workspace_error)
    }

    async fn invite(actor_id: String, workspace_id: String, email: String, role: Role) -> Result<Invitation, Error> {
        let actor = authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
        if role == Role::Owner {
            require(actor.role, Permission::WorkspaceManageOwners, "only owners may invite owners")?;
        }
        let email = validate::email(&email).map_err(|err| Error::InvalidInput(err.0))?;
        // Members are visible to the inviter already; nothing else about the
        // address's account is revealed.
        if let Some(user) = users::find_by_email(email.clone()).await.map_err(user_error)? {
            match workspaces::get_for_member(workspace_id.clone(), user.id).await {
                Ok(_) => {
                    return Err(Error::Conflict("this address belongs to a member already".into()));
                }
                Err(workspaces::Error::NotFound) => {}
                Err(err) => return Err(workspace_error(err)),
            }
        }
        let expires_at = clock::now_ms() + INVITATION_TTL_MS;
        let created =
            workspaces::create_invitation(workspace_id, email, to_repository(role), actor_id.clone(), expires_at)
                .await
                .map_err(workspace_error)?;
        notify_invited(&actor_id, &created).await;
        Ok(invitation(created))
    }

    async fn list_invitations(actor_id: String, workspace_id: String) -> Result<Vec<Invitation>, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
        let found = workspaces::list_invitations(workspace_id).await.map_err(workspace_error)?;
        Ok(found.into_iter().map(invitation).collect())
    }

    async fn revoke_invitation(actor_id: String, workspace_id: String, invitation_id: String) -> Result<(), Error> {
        let actor = authorize(&actor_id, &workspace_id, Permission::WorkspaceManageMembers).await?;
        let found = workspaces::get_invitation(invitation_id.clone()).await.map_err(invitation_error)?;
        if found.workspace_id != workspace_id {
            return Err(Error::NotFound("invitation not found".into()));
        }
        if found.role == workspaces::Role::Owner {
            require(actor.role, Permission::WorkspaceManageOwners, "only owners may revoke an owner's invitation")?;
        }
        workspaces::close_invitation(workspace_id, invitation_id, workspaces::Closing::Revoked)
            .await
            .map_err(invitation_error)
    }

    async fn my_invitations(actor_id: String) -> Result<Vec<Invitation>, Error> {
        let user = verified_user(&actor_id).await?;
        let found = workspaces::invitations_for_email(user.email).await.map_err(workspace_error)?;
        Ok(found.into_iter().map(invitation).collect())
    }

    async fn accept_invitation(actor_id: String, invitation_id: String) -> Result<Member, Error> {
        let user = verified_user(&actor_id).await?;
        invitation_for(&user, &invitation_id).await?;
        let membership =
            workspaces::accept_invitation(invitation_id, user.id.clone()).await.map_err(invitation_error)?;
        Ok(member(membership, user))
    }

    async fn decline_invitation(actor_id: String, invitation_id: String) -> Result<(), Error> {
        let user = verified_user(&actor_id).await?;
        let found = invitation_for(&user, &invitation_id).await?;
        workspaces::close_invitation(found.workspace_id, invitation_id, workspaces::Closing::Declined)
            .await
            .map_err(invitation_error)
    }

    async fn audit_trail(
        actor_id: String,
        workspace_id: String,
        limit: Option<u32>,
        before: Option<u64>,
    ) -> Result<AuditPage, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceAuditRead).await?;
        let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        audit::list_entries(workspace_id, limit, before).await.map_err(audit_error)
    }

    async fn verify_audit_trail(actor_id: String, workspace_id: String) -> Result<Verification, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceAuditRead).await?;
        audit::verify(workspace_id).await.map_err(audit_error)
    }

    async fn list_features(actor_id: String, workspace_id: String) -> Result<Vec<Feature>, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceRead).await?;
        let subject = feature_flags::Subject { workspace_id, user_id: Some(actor_id) };
        feature_flags::evaluate_all(subject).await.map_err(feature_error)
    }

    async fn set_feature(
        actor_id: String,
        workspace_id: String,
        flag: String,
        user_id: Option<String>,
        variant: Option<String>,
    ) -> Result<Feature, Error> {
        authorize(&actor_id, &workspace_id, Permission::WorkspaceConfigure).await?;
        if let Some(user_id) = &user_id {
            target_member(&workspace_id, user_id).await?;
        }
        let subject = feature_flags::Subject { workspace_id, user_id };
        feature_flags::set_override(flag, subject, variant).await.map_err(feature_error)
    }
}

/// The caller's view of the workspace, if they are a member whose role
/// grants `permission`.
async fn authorize(
    actor_id: &str,
    workspace_id: &str,
    permission: Permission,
) -> Result<workspaces::WorkspaceWithRole, Error> {
    let found =
        workspaces::get_for_member(workspace_id.to_owned(), actor_id.to_owned()).await.map_err(workspace_error)?;
    if security_context::allows(to_platform(found.role), permission) {
        Ok(found)
    } else {
        Err(Error::Forbidden("your role in this workspace does not allow this".into()))
    }
}

fn feature_error(err: feature_flags::Error) -> Error {
    match err {
        feature_flags::Error::UnknownFlag(message) => Error::NotFound(message),
        feature_flags::Error::InvalidInput(message) => Error::InvalidInput(message),
        feature_flags::Error::Unavailable(message) => Error::Unavailable(message),
        feature_flags::Error::Misconfigured(message) => Error::Internal(message),
    }
}

/// `forbidden` with `message` unless `role` grants `permission`.
fn require(role: workspaces::Role, permission: Permission, message: &str) -> Result<(), Error> {
    if security_context::allows(to_platform(role), permission) { Ok(()) } else { Err(Error::Forbidden(message.into())) }
}

/// The membership of `user_id` in the workspace.
async fn target_member(workspace_id: &str, user_id: &str) -> Result<workspaces::WorkspaceWithRole, Error> {
    workspaces::get_for_member(workspace_id.to_owned(), user_id.to_owned()).await.map_err(|err| match err {
        workspaces::Error::NotFound => Error::NotFound("member not found".into()),
        other => workspace_error(other),
    })
}

/// The caller's account, if its address is verified: only a proven address
/// may see or answer the invitations sent to it.
async fn verified_user(actor_id: &str) -> Result<users::User, Error> {
    let user = users::get(actor_id.to_owned()).await.map_err(user_error)?;
    if !user.email_verified {
        return Err(Error::Forbidden(
            "verify your email address first (POST /v1/me/verification sends a new link)".into(),
        ));
    }
    Ok(user)
}

/// The pending invitation `invitation_id` if it was sent to `user`'s
/// address; anyone else's is `not-found`.
async fn invitation_for(user: &users::User, invitation_id: &str) -> Result<workspaces::Invitation, Error> {
    let found = workspaces::get_invitation(invitation_id.to_owned()).await.map_err(invitation_error)?;
    if found.email != user.email {
        return Err(Error::NotFound("invitation not found".into()));
    }
    Ok(found)
}

/// Mail the invitation. Failures are logged, not returned: the invitation
/// stands whether or not the mail went out.
async fn notify_invited(actor_id: &str, created: &workspaces::Invitation) {
    let invited_by = match users::get(actor_id.to_owned()).await {
        Ok(actor) => actor.display_name,
        Err(err) => {
            return eprintln!("workspace-management: invitation mail {} not sent: {:?}", created.id, user_error(err));
        }
    };
    let event = notifications::Invited {
        workspace_id: created.workspace_id.clone(),
        workspace_name: created.workspace_name.clone(),
        invitation_id: created.id.clone(),
        recipient_email: created.email.clone(),
        invited_by,
        role: match created.role {
            workspaces::Role::Owner => notifications::Role::Owner,
            workspaces::Role::Admin => notifications::Role::Admin,
            workspaces::Role::Member => notifications::Role::Member,
        },
        expires_at: created.expires_at,
    };
    match keel_guest::time::within(MAIL_WAIT, notifications::notify_invited(event)).await {
        Some(Ok(_)) => {}
        Some(Err(err)) => eprintln!("workspace-management: invitation mail {} not sent: {err:?}", created.id),
        None => eprintln!("workspace-management: invitation mail {} abandoned after {MAIL_WAIT:?}", created.id),
    }
}

fn invitation(found: workspaces::Invitation) -> Invitation {
    Invitation {
        id: found.id,
        workspace_id: found.workspace_id,
        workspace_name: found.workspace_name,
        email: found.email,
        role: from_repository(found.role),
        invited_by: found.invited_by,
        created_at: found.created_at,
        expires_at: found.expires_at,
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
        workspace_id: membership.workspace_id,
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

fn audit_error(err: audit::Error) -> Error {
    match err {
        audit::Error::InvalidInput(message) => Error::InvalidInput(message),
        audit::Error::Unavailable(message) => Error::Unavailable(message),
        audit::Error::Internal(message) => Error::Internal(message),
    }
}

fn invitation_error(err: workspaces::Error) -> Error {
    keel_guest::repository_error!(err, workspaces => Error, "invitation not found")
}

fn user_error(err: users::Error) -> Error {
    keel_guest::repository_error!(err, users => Error, "user not found")
}

export!(WorkspaceManagement);
