//! `keel:domains/messaging`: channels, messages, threads and reactions.
//!
//! Every call checks the caller's membership first: non-members get
//! `not-found` (no existence leak), members whose role lacks the permission
//! get `forbidden`. A channel must belong to the workspace named in the
//! call, and a message to the channel. Only its author edits a message;
//! its author or a member whose role may moderate deletes it.
//!
//! A `<@usr_…>` in a message's text mentions that user, and `@Display Name`
//! the member of that name (see [`name_mentions`]), if they are a
//! member (and not the author): the message is in their `list-mentions`
//! until it is edited to leave them out or deleted. Clients show mentions
//! by display name and send the id (as Slack's API does). Telling them
//! (inbox, mail) is `keel:domains/notification-orchestration`'s part: it
//! reads the mentions from the message's event.
//!
//! A message may carry up to [`MAX_ATTACHMENTS`] files shared in its
//! channel (`keel:repositories/documents`), kept with it as they were when
//! attached.
//!
//! Editing is behind the feature flag [`EDITING_FLAG`] when the product
//! declares one (`keel:platform/feature-flags`): a member whose variant is
//! `off` cannot edit. A product that declares no such flag keeps editing on.

use exports::keel::domains::messaging::{Attachment, Channel, Error, Guest, Message, MessagePage, Reaction};
use keel::platform::security_context::{self, Permission};
use keel::platform::feature_flags;
use keel::repositories::{channels, documents, messages, users, workspaces};
use keel_guest::validate;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/messaging-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The feature flag that turns message editing on and off.
const EDITING_FLAG: &str = "message_editing";
/// Files one message may carry.
const MAX_ATTACHMENTS: usize = 10;

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

    async fn post_message(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        text: String,
        parent_id: Option<String>,
        attachments: Vec<String>,
    ) -> Result<Message, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessagePost).await?;
        let text = validate::message_text(&text).map_err(|err| Error::InvalidInput(err.0))?;
        channels::get(workspace_id.clone(), channel_id.clone()).await.map_err(channel_error)?;
        let attached = attachments_of(&workspace_id, &channel_id, attachments).await?;
        let mentioned = mentioned_members(&workspace_id, &actor_id, &text).await?;
        let posted = messages::post(workspace_id, channel_id, actor_id, text, parent_id, mentioned, attached)
            .await
            .map_err(message_error)?;
        Ok(message(posted))
    }

    async fn list_messages(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        page(actor_id, workspace_id, channel_id, None, limit, before).await
    }

    async fn list_replies(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        page(actor_id, workspace_id, channel_id, Some(message_id), limit, before).await
    }

    async fn get_message(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
    ) -> Result<Message, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        messages::get(workspace_id, channel_id, message_id).await.map(message).map_err(message_error)
    }

    async fn edit_message(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
        text: String,
    ) -> Result<Message, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessagePost).await?;
        let text = validate::message_text(&text).map_err(|err| Error::InvalidInput(err.0))?;
        let found = live_message(&workspace_id, &channel_id, &message_id).await?;
        if found.author_id != actor_id {
            return Err(Error::Forbidden("only its author can edit a message".into()));
        }
        if !editing_enabled(&workspace_id, &actor_id).await? {
            return Err(Error::Forbidden("message editing is turned off in this workspace".into()));
        }
        let mentioned = mentioned_members(&workspace_id, &actor_id, &text).await?;
        let edited = messages::edit(workspace_id, channel_id, message_id, text, mentioned).await.map_err(message_error)?;
        Ok(message(edited))
    }

    async fn delete_message(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
    ) -> Result<(), Error> {
        let role = authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        let found = live_message(&workspace_id, &channel_id, &message_id).await?;
        if found.author_id != actor_id && !security_context::allows(role, Permission::MessageModerate) {
            return Err(Error::Forbidden("only its author or a workspace admin can delete a message".into()));
        }
        messages::delete(workspace_id, channel_id, message_id, actor_id).await.map_err(message_error)
    }

    async fn list_mentions(
        actor_id: String,
        workspace_id: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        messages::mentioning(workspace_id, actor_id, limit, before).await.map(message_page).map_err(message_error)
    }

    async fn add_reaction(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
        emoji: String,
    ) -> Result<Message, Error> {
        let emoji = reaction(&actor_id, &workspace_id, &emoji).await?;
        let reacted = messages::add_reaction(workspace_id, channel_id, message_id, actor_id.clone(), emoji)
            .await
            .map_err(message_error)?;
        Ok(message(reacted))
    }

    async fn remove_reaction(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        message_id: String,
        emoji: String,
    ) -> Result<Message, Error> {
        let emoji = reaction(&actor_id, &workspace_id, &emoji).await?;
        let reacted = messages::remove_reaction(workspace_id, channel_id, message_id, actor_id.clone(), emoji)
            .await
            .map_err(message_error)?;
        Ok(message(reacted))
    }
}

/// A page of the channel's messages, or of the replies to `thread`.
async fn page(
    actor_id: String,
    workspace_id: String,
    channel_id: String,
    thread: Option<String>,
    limit: Option<u32>,
    before: Option<String>,
) -> Result<MessagePage, Error> {
    authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
    let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
    let listed = messages::list(workspace_id.clone(), channel_id.clone(), thread, limit, before).await;
    // Channels are never deleted, so messages prove the channel exists; an
    // empty page or an error may be a channel that does not, which answers
    // first, as if it had been read before the page.
    if !listed.as_ref().is_ok_and(|page| !page.messages.is_empty()) {
        channels::get(workspace_id, channel_id).await.map_err(channel_error)?;
    }
    listed.map(message_page).map_err(message_error)
}

/// The most people one message may mention.
const MAX_MENTIONS: usize = 20;

/// The members `text` mentions, other than its author.
async fn mentioned_members(workspace_id: &str, author_id: &str, text: &str) -> Result<Vec<String>, Error> {
    let mut candidates: Vec<String> = keel_guest::mentions::ids(text).into_iter().map(str::to_owned).collect();
    // Mentions by name are read against the member list, which then also
    // answers which `<@usr_…>` are members.
    let roster = if name_signs(text).next().is_some() { Some(roster(workspace_id).await?) } else { None };
    if let Some(roster) = &roster {
        let people: Vec<(&str, &str)> = roster.iter().map(|user| (user.id.as_str(), user.display_name.as_str())).collect();
        for id in name_mentions(text, &people) {
            if !candidates.iter().any(|candidate| candidate == id) {
                candidates.push(id.to_owned());
            }
        }
    }
    if candidates.len() > MAX_MENTIONS {
        return Err(Error::InvalidInput(format!("a message may mention at most {MAX_MENTIONS} people")));
    }
    candidates.retain(|id| id != author_id);
    let Some(roster) = roster else {
        let mut members = Vec::with_capacity(candidates.len());
        for id in candidates {
            match workspaces::get_for_member(workspace_id.to_owned(), id.clone()).await {
                Ok(_) => members.push(id),
                Err(workspaces::Error::NotFound) => {}
                Err(err) => return Err(keel_guest::repository_error!(err, workspaces => Error, "workspace not found")),
            }
        }
        return Ok(members);
    };
    candidates.retain(|id| roster.iter().any(|user| &user.id == id));
    Ok(candidates)
}

/// Where `text` may mention someone by name: each `@` that does not follow
/// `<` (a `<@usr_…>`) or a letter or digit (`mail@bob` is an address).
fn name_signs(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices('@')
        .map(|(at, _)| at)
        .filter(|at| !text[..*at].chars().next_back().is_some_and(|c| c == '<' || c.is_alphanumeric()))
}

/// The workspace's members, as users.
async fn roster(workspace_id: &str) -> Result<Vec<users::User>, Error> {
    let memberships = workspaces::list_members(workspace_id.to_owned())
        .await
        .map_err(|err| keel_guest::repository_error!(err, workspaces => Error, "workspace not found"))?;
    let ids: Vec<String> = memberships.into_iter().map(|membership| membership.user_id).collect();
    users::get_many(ids).await.map_err(|err| keel_guest::repository_error!(err, users => Error, "user not found"))
}

/// How many `@`s of one message are read as mentions by name: the cost of
/// reading one is a comparison with every member's name.
const MAX_AT_SIGNS: usize = 64;

/// The ids of `people` (id, display name) that `text` mentions as
/// `@Display Name`: case-insensitively, the longest name that follows the
/// `@` winning, and only where the `@` does not follow a letter or digit
/// (`mail@bob` is an address) and the name ends at a character that cannot
/// continue one (`@Al` is not Alice). Distinct, in order of appearance; the
/// first [`MAX_AT_SIGNS`] `@`s are read.
fn name_mentions<'p>(text: &str, people: &[(&'p str, &'p str)]) -> Vec<&'p str> {
    let names: Vec<(&str, String, usize)> = people
        .iter()
        .filter(|(_, name)| !name.is_empty())
        .map(|(id, name)| (*id, name.to_lowercase(), name.chars().count()))
        .collect();
    let longest = names.iter().map(|(_, _, chars)| *chars).max().unwrap_or(0);
    let mut found: Vec<&str> = Vec::new();
    for at in name_signs(text).take(MAX_AT_SIGNS) {
        let after = &text[at + 1..];
        // Where each of the first `longest + 1` characters after the `@` starts.
        let starts: Vec<usize> = after.char_indices().map(|(i, _)| i).take(longest + 1).collect();
        let mut best: Option<(&str, usize)> = None;
        for (id, name, chars) in &names {
            if starts.len() < *chars {
                continue;
            }
            let end = starts.get(*chars).copied().unwrap_or(after.len());
            let bounded = after[end..].chars().next().is_none_or(|next| !next.is_alphanumeric() && next != '_');
            if bounded && after[..end].to_lowercase() == *name && best.is_none_or(|(_, most)| *chars > most) {
                best = Some((id, *chars));
            }
        }
        if let Some((id, _)) = best
            && !found.contains(&id)
        {
            found.push(id);
        }
    }
    found
}

/// `emoji` as a reaction, if the caller may react in the workspace.
async fn reaction(actor_id: &str, workspace_id: &str, emoji: &str) -> Result<String, Error> {
    authorize(actor_id, workspace_id, Permission::MessageReact).await?;
    validate::reaction(emoji).map_err(|err| Error::InvalidInput(err.0))
}

/// The message, unless it is not in the channel or was deleted.
async fn live_message(workspace_id: &str, channel_id: &str, message_id: &str) -> Result<messages::Message, Error> {
    let found = messages::get(workspace_id.to_owned(), channel_id.to_owned(), message_id.to_owned())
        .await
        .map_err(message_error)?;
    if found.deleted_at.is_some() {
        return Err(Error::NotFound("message not found".into()));
    }
    Ok(found)
}

/// Whether the editing flag lets `actor_id` edit in the workspace.
async fn editing_enabled(workspace_id: &str, actor_id: &str) -> Result<bool, Error> {
    let subject = feature_flags::Subject { workspace_id: workspace_id.to_owned(), user_id: Some(actor_id.to_owned()) };
    match feature_flags::evaluate(EDITING_FLAG.to_owned(), subject).await {
        Ok(evaluation) => Ok(evaluation.enabled),
        Err(feature_flags::Error::UnknownFlag(_)) => Ok(true),
        Err(feature_flags::Error::Unavailable(message)) => Err(Error::Unavailable(message)),
        Err(feature_flags::Error::InvalidInput(message) | feature_flags::Error::Misconfigured(message)) => {
            Err(Error::Internal(message))
        }
    }
}

/// The caller's role, if they are a member whose role grants `permission`.
async fn authorize(actor_id: &str, workspace_id: &str, permission: Permission) -> Result<security_context::Role, Error> {
    keel_guest::authorize_member!(workspaces, security_context => Error, actor_id, workspace_id, permission)
        .await
        .map(|(_, role)| role)
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

/// The files `ids` name, checked: at most [`MAX_ATTACHMENTS`], each once,
/// each shared in `channel_id` (a file of another channel or workspace, or
/// none, is refused the same way: nothing about it leaks).
async fn attachments_of(workspace_id: &str, channel_id: &str, ids: Vec<String>) -> Result<Vec<messages::Attachment>, Error> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(Error::InvalidInput(format!("a message carries at most {MAX_ATTACHMENTS} files")));
    }
    let mut attached: Vec<messages::Attachment> = Vec::with_capacity(ids.len());
    for id in ids {
        if attached.iter().any(|known| known.document_id == id) {
            return Err(Error::InvalidInput(format!("file {id} is attached twice")));
        }
        let not_shared = || Error::InvalidInput(format!("file {id} is not shared in this channel"));
        let file = match documents::get(workspace_id.to_owned(), id.clone()).await {
            Ok(file) if file.channel_id == channel_id => file,
            Ok(_) | Err(documents::Error::NotFound) => return Err(not_shared()),
            Err(err) => return Err(keel_guest::repository_error!(err, documents => Error, "file not found")),
        };
        attached.push(messages::Attachment {
            document_id: file.id,
            name: file.name,
            content_type: file.content_type,
            size: file.size,
        });
    }
    Ok(attached)
}

fn message(found: messages::Message) -> Message {
    Message {
        id: found.id,
        channel_id: found.channel_id,
        author_id: found.author_id,
        text: found.text,
        created_at: found.created_at,
        parent_id: found.parent_id,
        reply_count: found.reply_count,
        edited_at: found.edited_at,
        deleted_at: found.deleted_at,
        reactions: found
            .reactions
            .into_iter()
            .map(|reaction| Reaction { emoji: reaction.emoji, user_ids: reaction.user_ids })
            .collect(),
        attachments: found
            .attachments
            .into_iter()
            .map(|file| Attachment {
                file_id: file.document_id,
                name: file.name,
                content_type: file.content_type,
                size: file.size,
            })
            .collect(),
    }
}

fn message_page(page: messages::MessagePage) -> MessagePage {
    MessagePage { messages: page.messages.into_iter().map(message).collect(), next_cursor: page.next_cursor }
}

fn channel_error(err: channels::Error) -> Error {
    keel_guest::repository_error!(err, channels => Error, "channel not found")
}

fn message_error(err: messages::Error) -> Error {
    keel_guest::repository_error!(err, messages => Error, "message not found")
}

export!(Messaging);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_after_an_at_sign_are_mentions_the_longest_winning() {
        let people = [("usr_a", "Alice"), ("usr_as", "Alice Smith"), ("usr_b", "bob"), ("usr_e", "Émile")];
        assert_eq!(name_mentions("hi @alice smith and @Bob!", &people), ["usr_as", "usr_b"]);
        assert_eq!(name_mentions("@Alice, @alice and <@usr_b>", &people), ["usr_a"]);
        assert!(name_mentions("@Alicia @bobby @Al mail@bob", &people).is_empty());
        assert_eq!(name_mentions("@émile: ça va", &people), ["usr_e"]);
        assert!(name_signs("hey @bob").next().is_some() && name_signs("hey <@usr_b> mail@bob").next().is_none());
    }

    #[test]
    fn only_the_first_at_signs_are_read() {
        let mut text = "@ ".repeat(MAX_AT_SIGNS);
        text.push_str("@bob");
        assert!(name_mentions(&text, &[("usr_b", "bob")]).is_empty());
        assert_eq!(name_mentions(&text[2..], &[("usr_b", "bob")]), ["usr_b"]);
    }
}
