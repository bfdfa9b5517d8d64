//! A workspace's mail templates: its own wording, kept in the template
//! repository, or the app's (`keel:platform/notifications` owns the
//! template language, the defaults and the checks).

use crate::exports::keel::domains::notification_orchestration::{Error, NotificationTemplate, TemplateName};
use crate::keel::platform::notifications;
use crate::keel::repositories::templates;

const NAMES: [TemplateName; 3] = [TemplateName::Mention, TemplateName::Reply, TemplateName::Digest];

fn name(name: TemplateName) -> &'static str {
    match name {
        TemplateName::Mention => "mention",
        TemplateName::Reply => "reply",
        TemplateName::Digest => "digest",
    }
}

fn platform(name: TemplateName) -> notifications::TemplateName {
    match name {
        TemplateName::Mention => notifications::TemplateName::Mention,
        TemplateName::Reply => notifications::TemplateName::Reply,
        TemplateName::Digest => notifications::TemplateName::Digest,
    }
}

/// The wording the workspace chose, as the platform takes it (a stored
/// name this build does not know is left out).
pub async fn chosen(
    workspace_id: String,
) -> Result<Vec<(notifications::TemplateName, notifications::Template)>, Error> {
    let stored = templates::list(workspace_id).await.map_err(error)?;
    Ok(stored
        .into_iter()
        .filter_map(|template| {
            let known = NAMES.into_iter().find(|known| name(*known) == template.name)?;
            let wording =
                notifications::Template { subject: template.subject, text: template.text, html: template.html };
            Some((platform(known), wording))
        })
        .collect())
}

/// Every template of the workspace, its own or the app's.
pub async fn list(workspace_id: String) -> Result<Vec<NotificationTemplate>, Error> {
    let chosen = templates::list(workspace_id).await.map_err(error)?;
    Ok(NAMES
        .into_iter()
        .map(|known| match chosen.iter().find(|template| template.name == name(known)) {
            Some(own) => custom(known, own.clone()),
            None => default(known),
        })
        .collect())
}

/// Store the workspace's wording of `known`, once it passes every check.
pub async fn set(
    actor_id: String,
    workspace_id: String,
    known: TemplateName,
    template: notifications::Template,
) -> Result<NotificationTemplate, Error> {
    let problems = notifications::check_template(platform(known), &template);
    if !problems.is_empty() {
        return Err(Error::InvalidInput(problems.join("; ")));
    }
    let stored = templates::put(templates::NewTemplate {
        workspace_id,
        name: name(known).to_owned(),
        subject: template.subject,
        text: template.text,
        html: template.html,
        updated_by: actor_id,
    })
    .await
    .map_err(error)?;
    Ok(custom(known, stored))
}

/// Back to the app's wording of `known`.
pub async fn reset(workspace_id: String, known: TemplateName) -> Result<NotificationTemplate, Error> {
    match templates::delete(workspace_id, name(known).to_owned()).await {
        Ok(()) | Err(templates::Error::NotFound) => Ok(default(known)),
        Err(err) => Err(error(err)),
    }
}

fn custom(known: TemplateName, stored: templates::Template) -> NotificationTemplate {
    NotificationTemplate {
        name: known,
        subject: stored.subject,
        text: stored.text,
        html: stored.html,
        variables: notifications::template_variables(platform(known)),
        custom: true,
        updated_by: Some(stored.updated_by),
        updated_at: Some(stored.updated_at),
    }
}

fn default(known: TemplateName) -> NotificationTemplate {
    let template = notifications::default_template(platform(known));
    NotificationTemplate {
        name: known,
        subject: template.subject,
        text: template.text,
        html: template.html,
        variables: notifications::template_variables(platform(known)),
        custom: false,
        updated_by: None,
        updated_at: None,
    }
}

fn error(err: templates::Error) -> Error {
    keel_guest::repository_error!(err, templates => Error, "template not found")
}
