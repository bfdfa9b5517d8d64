//! The audit trail of requests: which endpoints are recorded, under which
//! action and scope, and the request id every response carries.
//!
//! One entry per audited request, after it has been answered (the entry
//! names its outcome): `success` for 2xx, `refused` for 401, 403, 409 and
//! 429, `failed` for 5xx; other answers (bad input, not found) are not
//! recorded, and neither are repeated or shed refusals of a rate limit
//! (`limits`). Workspace actions go to the workspace's chain, and only when
//! the workspace is known to the caller (a 404 never writes into another
//! tenant's chain); account actions go to the `accounts` chain. A failed
//! write to the trail is logged and does not change the answer.

use crate::keel::platform::audit;
use crate::router::Endpoint;
use spin_sdk::http::{HeaderMap, StatusCode};

/// The chain of account events.
const ACCOUNTS: &str = "accounts";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Account,
    Workspace,
}

/// Every audited endpoint: its action and the chain it is recorded in.
const AUDITED: &[(Endpoint, &str, Scope)] = &[
    (Endpoint::Signup, "account.signup", Scope::Account),
    (Endpoint::Login, "account.login", Scope::Account),
    (Endpoint::Logout, "account.logout", Scope::Account),
    (Endpoint::VerifyEmail, "account.verify-email", Scope::Account),
    (Endpoint::ResendVerification, "account.verification-resend", Scope::Account),
    (Endpoint::RequestPasswordReset, "account.password-reset-request", Scope::Account),
    (Endpoint::ResetPassword, "account.password-reset", Scope::Account),
    (Endpoint::ChangePassword, "account.password-change", Scope::Account),
    (Endpoint::DeclineInvitation, "invitation.decline", Scope::Account),
    (Endpoint::CreateWorkspace, "workspace.create", Scope::Workspace),
    (Endpoint::Invite, "member.invite", Scope::Workspace),
    (Endpoint::RevokeInvitation, "member.invitation-revoke", Scope::Workspace),
    (Endpoint::AcceptInvitation, "member.join", Scope::Workspace),
    (Endpoint::ChangeRole, "member.role-change", Scope::Workspace),
    (Endpoint::RemoveMember, "member.remove", Scope::Workspace),
    (Endpoint::SetFeature, "feature.override", Scope::Workspace),
    (Endpoint::SetMemberFeature, "feature.override", Scope::Workspace),
    (Endpoint::ClearFeature, "feature.override-remove", Scope::Workspace),
    (Endpoint::ClearMemberFeature, "feature.override-remove", Scope::Workspace),
    (Endpoint::CreateChannel, "channel.create", Scope::Workspace),
    (Endpoint::EditMessage, "message.edit", Scope::Workspace),
    (Endpoint::DeleteMessage, "message.delete", Scope::Workspace),
    (Endpoint::UploadFile, "file.upload", Scope::Workspace),
    (Endpoint::UploadVersion, "file.version-upload", Scope::Workspace),
    (Endpoint::DeleteFile, "file.delete", Scope::Workspace),
    (Endpoint::CreateWebhook, "webhook.create", Scope::Workspace),
    (Endpoint::DeleteWebhook, "webhook.delete", Scope::Workspace),
    (Endpoint::ReplayDelivery, "webhook.replay", Scope::Workspace),
    (Endpoint::SetNotificationTemplate, "template.update", Scope::Workspace),
    (Endpoint::ResetNotificationTemplate, "template.reset", Scope::Workspace),
];

/// What a request did, filled in as it is served.
#[derive(Debug)]
pub struct Trail {
    pub endpoint: Option<Endpoint>,
    /// Whether the request is recorded at all: a repeated or shed refusal
    /// of a rate limit is not (`limits`).
    pub recorded: bool,
    /// The caller, or the account a sign-up, login or link was for.
    pub actor: Option<String>,
    /// The workspace acted on, once it is known to exist for the caller.
    pub workspace: Option<String>,
    pub target: Option<String>,
}

impl Default for Trail {
    fn default() -> Self {
        Trail { endpoint: None, recorded: true, actor: None, workspace: None, target: None }
    }
}

impl Trail {
    /// Record the request under its action, if it is audited.
    pub async fn record(self, status: StatusCode, request_id: &str, client: &str) {
        let Some(endpoint) = self.endpoint.filter(|_| self.recorded) else { return };
        let Some((_, action, scope)) = AUDITED.iter().find(|(audited, ..)| *audited == endpoint) else { return };
        let Some(outcome) = outcome(status) else { return };
        let scope = match (scope, self.workspace) {
            (Scope::Workspace, Some(workspace)) => workspace,
            (Scope::Workspace, None) if status != StatusCode::NOT_FOUND => ACCOUNTS.to_owned(),
            (Scope::Workspace, None) => return,
            (Scope::Account, _) => ACCOUNTS.to_owned(),
        };
        let action = if endpoint == Endpoint::RemoveMember && self.target.is_some() && self.target == self.actor {
            "member.leave"
        } else {
            action
        };
        let event = audit::Event {
            scope,
            actor: self.actor.filter(|actor| !actor.is_empty()),
            action: action.to_owned(),
            target: self.target,
            outcome,
            request_id: Some(request_id.to_owned()),
            client_address: Some(client.to_owned()),
        };
        if let Err(err) = audit::append(event).await {
            eprintln!("team-collab: audit entry {action} of request {request_id} not recorded: {err:?}");
        }
    }
}

fn outcome(status: StatusCode) -> Option<audit::Outcome> {
    match status.as_u16() {
        200..=299 => Some(audit::Outcome::Success),
        401 | 403 | 409 | 429 => Some(audit::Outcome::Refused),
        500..=599 => Some(audit::Outcome::Failed),
        _ => None,
    }
}

/// What `endpoint` acts on, from its path parameters and JSON body.
pub fn target(endpoint: Endpoint, params: &[String], body: &[u8]) -> Option<String> {
    let field = |name: &str| {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(value.get(name)?.as_str()?.trim().to_owned())
    };
    match endpoint {
        Endpoint::Signup | Endpoint::Login | Endpoint::RequestPasswordReset | Endpoint::Invite => {
            field("email").map(|email| email.to_lowercase())
        }
        Endpoint::ChangeRole => Some(format!("{} as {}", params.get(1)?, field("role")?)),
        Endpoint::RemoveMember | Endpoint::RevokeInvitation => params.get(1).cloned(),
        Endpoint::AcceptInvitation | Endpoint::DeclineInvitation => params.first().cloned(),
        Endpoint::CreateChannel => field("name"),
        Endpoint::EditMessage | Endpoint::DeleteMessage => params.get(2).cloned(),
        Endpoint::DeleteFile | Endpoint::DeleteWebhook => params.get(1).cloned(),
        Endpoint::CreateWebhook => field("url"),
        Endpoint::ReplayDelivery => params.get(2).cloned(),
        Endpoint::SetFeature => Some(format!("{}={}", params.get(1)?, field("variant")?)),
        Endpoint::SetMemberFeature => Some(format!("{}={} for {}", params.get(1)?, field("variant")?, params.get(2)?)),
        Endpoint::ClearFeature => params.get(1).cloned(),
        Endpoint::ClearMemberFeature => Some(format!("{} for {}", params.get(1)?, params.get(2)?)),
        _ => None,
    }
}

/// The request id: the client's `x-request-id` when it is a sane token
/// (1–128 of `A-Za-z0-9._:-`), otherwise a new `req_…`.
pub fn request_id(headers: &HeaderMap) -> String {
    let given = headers.get("x-request-id").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let sane = (1..=128).contains(&given.len())
        && given.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if sane { given.to_owned() } else { keel_guest::ids::new_id("req").unwrap_or_else(|_| "req_unknown".to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::http::HeaderValue;

    #[test]
    fn outcomes_by_status() {
        assert_eq!(outcome(StatusCode::CREATED), Some(audit::Outcome::Success));
        for refused in [401, 403, 409, 429] {
            assert_eq!(outcome(StatusCode::from_u16(refused).unwrap()), Some(audit::Outcome::Refused), "{refused}");
        }
        assert_eq!(outcome(StatusCode::SERVICE_UNAVAILABLE), Some(audit::Outcome::Failed));
        assert_eq!(outcome(StatusCode::BAD_REQUEST), None);
        assert_eq!(outcome(StatusCode::NOT_FOUND), None);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        let mut headers = HeaderMap::new();
        assert!(request_id(&headers).starts_with("req_"));
        headers.insert("x-request-id", HeaderValue::from_static("abc-123.x:y_z"));
        assert_eq!(request_id(&headers), "abc-123.x:y_z");
        headers.insert("x-request-id", HeaderValue::from_static("has space"));
        assert!(request_id(&headers).starts_with("req_"));
        let long = "a".repeat(129);
        headers.insert("x-request-id", HeaderValue::from_str(&long).unwrap());
        assert!(request_id(&headers).starts_with("req_"));
    }

    #[test]
    fn targets_come_from_the_path_and_body() {
        let params = vec!["wsp_1".to_owned(), "usr_2".to_owned()];
        assert_eq!(
            target(Endpoint::Login, &[], br#"{"email":" Bob@Example.com"}"#).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(target(Endpoint::ChangeRole, &params, br#"{"role":"admin"}"#).as_deref(), Some("usr_2 as admin"));
        assert_eq!(target(Endpoint::RemoveMember, &params, b"").as_deref(), Some("usr_2"));
        assert_eq!(target(Endpoint::GetMe, &params, b""), None);
    }
}
