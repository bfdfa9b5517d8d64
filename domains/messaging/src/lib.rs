//! `keel:domains/messaging`: channels and messages.
//!
//! Every call checks the caller's membership first: non-members get
//! `not-found` (no existence leak), members whose role lacks the permission
//! get `forbidden`. A channel must belong to the workspace named in the call.

use exports::keel::domains::messaging::{Channel, Error, Guest, Message, MessagePage};
use keel::platform::security_context::{self, Permission};
use keel::repositories::{channels, messages, workspaces};
use keel_guest::validate;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/messaging-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

struct Messaging;

impl Guest for Messaging {
    async fn create_channel(actor_id: String, workspace_id: String, name: String) -> Result<Channel, Error> {
        authorize(&actor_id, &workspace_id, Permission::ChannelCreate).await?;
        let name = validate::channel_name(&name).map_err(|err| Error::InvalidInput(err.0))?;
        channels::create(workspace_id, name, actor_id).await.map(channel).map_err(channel_error)
    }

    async fn list_channels(actor_id: String, workspace_id: String) -> Result<Vec<Channel>, Error> {
        authorize(&actor_id, &workspace_id, Permission::ChannelRead).await?;
        let found = channels::list(workspace_id).await.map_err(channel_error)?;
        Ok(found.into_iter().map(channel).collect())
    }

    async fn post_message(actor_id: String, workspace_id: String, channel_id: String, text: String) -> Result<Message, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessagePost).await?;
        let text = validate::message_text(&text).map_err(|err| Error::InvalidInput(err.0))?;
        channels::get(workspace_id.clone(), channel_id.clone()).await.map_err(channel_error)?;
        messages::post(workspace_id, channel_id, actor_id, text).await.map(message).map_err(message_error)
    }

    async fn list_messages(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        channels::get(workspace_id.clone(), channel_id.clone()).await.map_err(channel_error)?;
        let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        let page = messages::list(workspace_id, channel_id, limit, before).await.map_err(message_error)?;
        Ok(MessagePage { messages: page.messages.into_iter().map(message).collect(), next_cursor: page.next_cursor })
    }
}

/// Succeeds if the caller is a member whose role grants `permission`.
async fn authorize(actor_id: &str, workspace_id: &str, permission: Permission) -> Result<(), Error> {
    let found = workspaces::get_for_member(workspace_id.to_owned(), actor_id.to_owned())
        .await
        .map_err(|err| keel_guest::repository_error!(err, workspaces => Error, "workspace not found"))?;
    let role = match found.role {
        workspaces::Role::Owner => security_context::Role::Owner,
        workspaces::Role::Admin => security_context::Role::Admin,
        workspaces::Role::Member => security_context::Role::Member,
    };
    if security_context::allows(role, permission) {
        Ok(())
    } else {
        Err(Error::Forbidden("your role in this workspace does not allow this".into()))
    }
}

fn channel(found: channels::Channel) -> Channel {
    Channel {
        id: found.id,
        workspace_id: found.workspace_id,
        name: found.name,
        created_at: found.created_at,
        created_by: found.created_by,
    }
}

fn message(found: messages::Message) -> Message {
    Message {
        id: found.id,
        channel_id: found.channel_id,
        author_id: found.author_id,
        text: found.text,
        created_at: found.created_at,
    }
}

fn channel_error(err: channels::Error) -> Error {
    keel_guest::repository_error!(err, channels => Error, "channel not found")
}

fn message_error(err: messages::Error) -> Error {
    keel_guest::repository_error!(err, messages => Error, "message not found")
}

export!(Messaging);
