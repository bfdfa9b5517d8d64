//! The team-collaboration HTTP API.
//!
//! This component only routes ([`router`]), parses and shows JSON
//! ([`views`]), authenticates bearer tokens and maps domain errors to HTTP;
//! all rules live in the `keel:domains/*` components it imports. Errors are
//! always `{"error":{"code":…,"message":…}}` (see [`ApiError`]). The API
//! is described by `openapi.yaml` (served as JSON at `/v1/openapi.json`), which
//! the product suites hold every response to.

mod files;
mod limits;
mod live;
mod router;
mod trail;
mod views;

use keel::domains::{
    document_management, messaging, notification_orchestration, real_time_messaging, user_lifecycle, workspace_management,
};
use keel::platform::observability;
use keel_guest::http::{self as respond, Response};
use router::{Endpoint, Routed};
use trail::Trail;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::LocalBoxStream;
use serde::de::DeserializeOwned;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, HeaderName, HeaderValue, IntoResponse, Request, StatusCode};
use spin_sdk::wasip3::http::types as wasi_http;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The API's OpenAPI 3.1 description (`openapi.yaml`, as JSON: see `build.rs`).
const OPENAPI: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

spin_sdk::wit_bindgen::generate!({
    path: [
        "../../wit/infrastructure",
        "../../wit/repositories",
        "../../wit/platform",
        "../../wit/domains",
        "../../wit/triggers",
        "../../wit/products",
    ],
    world: "keel:products/team-collab",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The cron trigger's entry point: one pass of the event dispatcher.
struct Scheduled;

impl exports::keel::triggers::inbound_cron::Guest for Scheduled {
    async fn handle_cron_event(
        _metadata: exports::keel::triggers::inbound_cron::CronMetadata,
    ) -> Result<(), exports::keel::triggers::inbound_cron::Error> {
        use exports::keel::triggers::inbound_cron::Error;
        notification_orchestration::dispatch().await.map(|_| ()).map_err(|err| Error::Other(format!("{err:?}")))
    }
}

export!(Scheduled);


/// A response body: a JSON document, a stream (a file from [`files`]), or
/// live events, which [`Reply`] hands to [`live`]'s writer.
pub enum Body {
    Full(FullBody<Bytes>),
    Stream(LocalBoxStream<'static, Bytes>),
    Live(live::Stream),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full).poll_frame(cx),
            Body::Stream(chunks) => chunks.poll_next_unpin(cx).map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c)))),
            // Written by `live`, never through spin-sdk (see `Reply`).
            Body::Live(_) => Poll::Ready(None),
        }
    }
}

/// What `handle` answers. spin-sdk writes a body from the request's own
/// task; a live stream's body is handed to [`live`], which writes all the
/// instance's streams from one task.
struct Reply(spin_sdk::http::Response<Body>);

impl IntoResponse for Reply {
    fn into_response(self) -> Result<wasi_http::Response, wasi_http::ErrorCode> {
        let (parts, body) = self.0.into_parts();
        match body {
            Body::Live(stream) => live::respond(parts.status, parts.headers, stream),
            body => spin_sdk::http::Response::from_parts(parts, body).into_response(),
        }
    }
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> Reply {
    let request_id = trail::request_id(request.headers());
    let client = limits::client_address(request.headers());
    let mut trail = Trail::default();
    let mut span = None;
    let mut response = match serve(request, &client, &mut trail, &mut span).await {
        Ok(response) => response,
        Err(err) => err.into_response().map(Body::Full),
    };
    if let Some(span) = span {
        let status = response.status();
        span.set_attribute("http.response.status_code", status.as_str());
        span.end(status.is_server_error().then(|| status.to_string()).as_deref());
    }
    trail.record(response.status(), &request_id, &client).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Reply(response)
}

/// A failed request: HTTP status, error code, message and extra headers.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), headers: Vec::new() }
    }

    fn invalid_input(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    fn into_response(self) -> Response {
        let mut response = respond::error(self.status, self.code, &self.message);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(HeaderName::from_static("retry-after"), HeaderValue::from_static("1"));
        }
        response
    }
}

/// Serve `request`; `span` receives the span of the endpoint's work.
async fn serve(
    request: Request,
    client: &str,
    trail: &mut Trail,
    span: &mut Option<observability::Span>,
) -> Result<spin_sdk::http::Response<Body>, ApiError> {
    let (endpoint, params) = match router::route(request.method(), request.uri().path()) {
        Routed::Found(endpoint, params) => (endpoint, params),
        Routed::MethodNotAllowed(allow) => {
            return Err(ApiError {
                headers: vec![("allow", allow)],
                ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
            });
        }
        Routed::NotFound => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route"));
        }
    };
    trail.endpoint = Some(endpoint);
    let attribute = |key: &str, value: String| observability::Attribute { key: key.to_owned(), value };
    *span = Some(observability::Span::new(
        &format!("team-collab {} {}", request.method(), router::pattern(endpoint)),
        &[attribute("keel.endpoint", format!("{endpoint:?}"))],
    ));
    let in_workspace = request.uri().path().starts_with("/v1/workspaces/");
    let token = if endpoint.requires_auth() || endpoint == Endpoint::Dispatch {
        bearer_token(&request)?
    } else {
        String::new()
    };
    let actor =
        if endpoint.requires_auth() { user_lifecycle::authenticate(token.clone()).await?.id } else { String::new() };
    trail.actor = Some(actor.clone());
    if in_workspace {
        // Recorded in this chain only if the caller may see the workspace
        // (the trail skips a 404).
        trail.workspace = params.first().cloned();
    }
    let query = request.uri().query().map(str::to_owned);
    let last_event_id = request.headers().get("last-event-id").and_then(|id| id.to_str().ok()).map(str::to_owned);
    // An upload's body is the file: it streams to the domain, unread here.
    if matches!(endpoint, Endpoint::UploadFile | Endpoint::UploadVersion) {
        if let Err(refusal) = limits::check(endpoint, client, &[], &actor).await {
            trail.recorded = refusal.recorded;
            return Err(refusal.error);
        }
        return files::upload(actor, endpoint, &params, query.as_deref(), request).await;
    }
    let headers = request.headers().clone();
    let body = read_body(request).await?;
    trail.target = trail::target(endpoint, &params, &body);
    if let Err(refusal) = limits::check(endpoint, client, &body, &actor).await {
        trail.recorded = refusal.recorded;
        return Err(refusal.error);
    }
    let param = |index: usize| params.get(index).cloned().unwrap_or_default();

    Ok(match endpoint {
        Endpoint::Healthz => respond::json(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
        Endpoint::OpenApi => respond::json_document(OPENAPI),
        Endpoint::Signup => {
            let input: views::Signup = parse(&body)?;
            let session = user_lifecycle::signup(input.email, input.password, input.display_name).await?;
            trail.actor = Some(session.user.id.clone());
            respond::json(StatusCode::CREATED, &views::Session::from(session))
        }
        Endpoint::Login => {
            let input: views::Login = parse(&body)?;
            let session = user_lifecycle::login(input.email, input.password).await?;
            trail.actor = Some(session.user.id.clone());
            respond::json(StatusCode::OK, &views::Session::from(session))
        }
        Endpoint::Logout => {
            user_lifecycle::logout(token).await?;
            respond::no_content()
        }
        Endpoint::VerifyEmail => {
            let input: views::LinkToken = parse(&body)?;
            let user = user_lifecycle::verify_email(input.token).await?;
            trail.actor = Some(user.id.clone());
            respond::json(StatusCode::OK, &serde_json::json!({ "user": views::User::from(user) }))
        }
        Endpoint::RequestPasswordReset => {
            let input: views::RequestPasswordReset = parse(&body)?;
            user_lifecycle::request_password_reset(input.email).await?;
            respond::json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "status": "if the address has an account, a reset link is on its way" }),
            )
        }
        Endpoint::ResetPassword => {
            let input: views::ResetPassword = parse(&body)?;
            user_lifecycle::reset_password(input.token, input.password).await?;
            respond::no_content()
        }
        Endpoint::ResendVerification => {
            user_lifecycle::resend_verification(actor).await?;
            respond::json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "status": "a new verification link is on its way" }),
            )
        }
        Endpoint::ChangePassword => {
            let input: views::ChangePassword = parse(&body)?;
            let session = user_lifecycle::change_password(actor, input.current_password, input.new_password).await?;
            respond::json(StatusCode::OK, &views::Session::from(session))
        }
        Endpoint::GetMe => respond::json(StatusCode::OK, &views::User::from(user_lifecycle::get_profile(actor).await?)),
        Endpoint::UpdateMe => {
            let input: views::UpdateMe = parse(&body)?;
            respond::json(
                StatusCode::OK,
                &views::User::from(user_lifecycle::update_profile(actor, input.display_name).await?),
            )
        }
        Endpoint::CreateWorkspace => {
            let input: views::CreateWorkspace = parse(&body)?;
            let created = workspace_management::create_workspace(actor, input.name).await?;
            trail.workspace = Some(created.id.clone());
            respond::json(StatusCode::CREATED, &views::Workspace::from(created))
        }
        Endpoint::ListWorkspaces => {
            let found = workspace_management::list_workspaces(actor).await?;
            respond::json(
                StatusCode::OK,
                &serde_json::json!({ "workspaces": found.into_iter().map(views::Workspace::from).collect::<Vec<_>>() }),
            )
        }
        Endpoint::GetWorkspace => respond::json(
            StatusCode::OK,
            &views::Workspace::from(workspace_management::get_workspace(actor, param(0)).await?),
        ),
        Endpoint::ListMembers => {
            let found = workspace_management::list_members(actor, param(0)).await?;
            respond::json(
                StatusCode::OK,
                &serde_json::json!({ "members": found.into_iter().map(views::Member::from).collect::<Vec<_>>() }),
            )
        }
        Endpoint::ChangeRole => {
            let input: views::ChangeRole = parse(&body)?;
            let member = workspace_management::change_role(actor, param(0), param(1), role(&input.role)?).await?;
            respond::json(StatusCode::OK, &views::Member::from(member))
        }
        Endpoint::RemoveMember => {
            workspace_management::remove_member(actor, param(0), param(1)).await?;
            respond::no_content()
        }
        Endpoint::Invite => {
            let input: views::Invite = parse(&body)?;
            let invitation = workspace_management::invite(actor, param(0), input.email, role(&input.role)?).await?;
            respond::json(StatusCode::CREATED, &views::Invitation::from(invitation))
        }
        Endpoint::ListInvitations => invitations(workspace_management::list_invitations(actor, param(0)).await?),
        Endpoint::RevokeInvitation => {
            workspace_management::revoke_invitation(actor, param(0), param(1)).await?;
            respond::no_content()
        }
        Endpoint::MyInvitations => invitations(workspace_management::my_invitations(actor).await?),
        Endpoint::AcceptInvitation => {
            let member = workspace_management::accept_invitation(actor, param(0)).await?;
            trail.workspace = Some(member.workspace_id.clone());
            respond::json(StatusCode::OK, &views::Member::from(member))
        }
        Endpoint::DeclineInvitation => {
            workspace_management::decline_invitation(actor, param(0)).await?;
            respond::no_content()
        }
        Endpoint::AuditTrail => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = match router::query_param(query.as_deref(), "before") {
                None => None,
                Some(raw) => Some(raw.parse::<u64>().map_err(|_| ApiError::invalid_input("before must be a sequence number"))?),
            };
            let page = workspace_management::audit_trail(actor, param(0), limit, before).await?;
            respond::json(StatusCode::OK, &views::AuditPage::from(page))
        }
        Endpoint::VerifyAuditTrail => {
            let verification = workspace_management::verify_audit_trail(actor, param(0)).await?;
            respond::json(StatusCode::OK, &views::AuditVerification::from(verification))
        }
        Endpoint::ListFeatures => {
            let found = workspace_management::list_features(actor, param(0)).await?;
            let shown: Vec<_> = found.into_iter().map(views::Feature::from).collect();
            respond::json(StatusCode::OK, &serde_json::json!({ "features": shown }))
        }
        Endpoint::SetFeature | Endpoint::SetMemberFeature => {
            let input: views::SetFeature = parse(&body)?;
            let member = params.get(2).cloned();
            let set = workspace_management::set_feature(actor, param(0), param(1), member, Some(input.variant)).await?;
            respond::json(StatusCode::OK, &views::Feature::from(set))
        }
        Endpoint::ClearFeature | Endpoint::ClearMemberFeature => {
            let member = params.get(2).cloned();
            let cleared = workspace_management::set_feature(actor, param(0), param(1), member, None).await?;
            respond::json(StatusCode::OK, &views::Feature::from(cleared))
        }
        Endpoint::CreateChannel => {
            let input: views::CreateChannel = parse(&body)?;
            respond::json(
                StatusCode::CREATED,
                &views::Channel::from(messaging::create_channel(actor, param(0), input.name).await?),
            )
        }
        Endpoint::ListChannels => {
            let found = messaging::list_channels(actor, param(0)).await?;
            respond::json(
                StatusCode::OK,
                &serde_json::json!({ "channels": found.into_iter().map(views::Channel::from).collect::<Vec<_>>() }),
            )
        }
        Endpoint::PostMessage | Endpoint::PostReply => {
            let input: views::PostMessage = parse(&body)?;
            let parent = (endpoint == Endpoint::PostReply).then(|| param(2));
            let posted = messaging::post_message(actor, param(0), param(1), input.text, parent, input.attachments).await?;
            respond::json(StatusCode::CREATED, &views::Message::from(posted))
        }
        Endpoint::ListMessages | Endpoint::ListReplies => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = router::query_param(query.as_deref(), "before");
            let page = if endpoint == Endpoint::ListReplies {
                messaging::list_replies(actor, param(0), param(1), param(2), limit, before).await?
            } else {
                messaging::list_messages(actor, param(0), param(1), limit, before).await?
            };
            respond::json(StatusCode::OK, &views::MessagePage::from(page))
        }
        Endpoint::ListMentions => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = router::query_param(query.as_deref(), "before");
            let page = messaging::list_mentions(actor, param(0), limit, before).await?;
            respond::json(StatusCode::OK, &views::MessagePage::from(page))
        }
        Endpoint::GetMessage => respond::json(
            StatusCode::OK,
            &views::Message::from(messaging::get_message(actor, param(0), param(1), param(2)).await?),
        ),
        Endpoint::EditMessage => {
            let input: views::EditMessage = parse(&body)?;
            let edited = messaging::edit_message(actor, param(0), param(1), param(2), input.text).await?;
            respond::json(StatusCode::OK, &views::Message::from(edited))
        }
        Endpoint::DeleteMessage => {
            messaging::delete_message(actor, param(0), param(1), param(2)).await?;
            respond::no_content()
        }
        Endpoint::AddReaction => respond::json(
            StatusCode::OK,
            &views::Message::from(messaging::add_reaction(actor, param(0), param(1), param(2), param(3)).await?),
        ),
        Endpoint::RemoveReaction => respond::json(
            StatusCode::OK,
            &views::Message::from(messaging::remove_reaction(actor, param(0), param(1), param(2), param(3)).await?),
        ),
        Endpoint::ListFiles => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = router::query_param(query.as_deref(), "before");
            let page = document_management::list_channel_documents(actor, param(0), param(1), limit, before).await?;
            respond::json(StatusCode::OK, &views::DocumentPage::from(page))
        }
        Endpoint::GetFile => respond::json(
            StatusCode::OK,
            &views::Document::from(document_management::get_document(actor, param(0), param(1)).await?),
        ),
        Endpoint::DeleteFile => {
            document_management::delete_document(actor, param(0), param(1)).await?;
            respond::no_content()
        }
        Endpoint::ListVersions => {
            let found = document_management::list_versions(actor, param(0), param(1)).await?;
            let shown: Vec<_> = found.into_iter().map(views::Version::from).collect();
            respond::json(StatusCode::OK, &serde_json::json!({ "versions": shown }))
        }
        Endpoint::DownloadFile => return files::download(actor, &params, query.as_deref(), &headers).await,
        Endpoint::UploadFile | Endpoint::UploadVersion => unreachable!("uploads stream their body, above"),
        Endpoint::ListWebhooks => {
            let found = notification_orchestration::list_webhooks(actor, param(0)).await?;
            let shown: Vec<_> = found.into_iter().map(views::Webhook::from).collect();
            respond::json(StatusCode::OK, &serde_json::json!({ "webhooks": shown }))
        }
        Endpoint::CreateWebhook => {
            let input: views::CreateWebhook = parse(&body)?;
            let created = notification_orchestration::register_webhook(actor, param(0), input.url, input.events).await?;
            respond::json(StatusCode::CREATED, &views::RegisteredWebhook::from(created))
        }
        Endpoint::GetWebhook => respond::json(
            StatusCode::OK,
            &views::Webhook::from(notification_orchestration::get_webhook(actor, param(0), param(1)).await?),
        ),
        Endpoint::DeleteWebhook => {
            notification_orchestration::delete_webhook(actor, param(0), param(1)).await?;
            respond::no_content()
        }
        Endpoint::ListDeliveries => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = router::query_param(query.as_deref(), "before");
            let status = match router::query_param(query.as_deref(), "status") {
                None => None,
                Some(name) => Some(views::parse_delivery_status(&name).ok_or_else(|| {
                    ApiError::invalid_input("status must be one of pending, delivered, dead")
                })?),
            };
            let page =
                notification_orchestration::list_deliveries(actor, param(0), param(1), status, limit, before).await?;
            respond::json(StatusCode::OK, &views::DeliveryPage::from(page))
        }
        Endpoint::ReplayDelivery => {
            let replayed = notification_orchestration::replay_delivery(actor, param(0), param(1), param(2)).await?;
            respond::json(StatusCode::ACCEPTED, &views::Delivery::from(replayed))
        }
        Endpoint::ListNotifications => {
            let limit = page_limit(router::query_param(query.as_deref(), "limit"))?;
            let before = router::query_param(query.as_deref(), "before");
            let unread_only = match router::query_param(query.as_deref(), "unread").as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(ApiError::invalid_input("unread must be true or false")),
            };
            let page = notification_orchestration::list_notifications(actor, unread_only, limit, before).await?;
            respond::json(StatusCode::OK, &views::NotificationPage::from(page))
        }
        Endpoint::MarkNotificationRead => {
            let read = notification_orchestration::mark_notification_read(actor, param(0)).await?;
            respond::json(StatusCode::OK, &views::Notification::from(read))
        }
        Endpoint::MarkAllNotificationsRead => {
            let marked = notification_orchestration::mark_all_notifications_read(actor).await?;
            respond::json(StatusCode::OK, &serde_json::json!({ "marked": marked }))
        }
        Endpoint::GetNotificationPreferences => respond::json(
            StatusCode::OK,
            &views::NotificationPreferences::from(notification_orchestration::get_preferences(actor).await?),
        ),
        Endpoint::UpdateNotificationPreferences => {
            let input: views::UpdateNotificationPreferences = parse(&body)?;
            let settings = input.settings();
            let quiet_hours = match input.quiet_hours {
                Some(given) => given.map(views::QuietHours::parse).transpose()?,
                // Not given: they stay as they are.
                None => notification_orchestration::get_preferences(actor.clone()).await?.quiet_hours,
            };
            let updated = notification_orchestration::set_preferences(actor, settings, quiet_hours).await?;
            respond::json(StatusCode::OK, &views::NotificationPreferences::from(updated))
        }
        Endpoint::ListNotificationTemplates => {
            let found = notification_orchestration::list_templates(actor, param(0)).await?;
            let shown: Vec<_> = found.into_iter().map(views::NotificationTemplate::from).collect();
            respond::json(StatusCode::OK, &serde_json::json!({ "templates": shown }))
        }
        Endpoint::SetNotificationTemplate => {
            let name = views::parse_template_name(&param(1))?;
            let input: views::SetNotificationTemplate = parse(&body)?;
            let set = notification_orchestration::set_template(actor, param(0), name, input.subject, input.text, input.html)
                .await?;
            respond::json(StatusCode::OK, &views::NotificationTemplate::from(set))
        }
        Endpoint::ResetNotificationTemplate => {
            let name = views::parse_template_name(&param(1))?;
            let reset = notification_orchestration::reset_template(actor, param(0), name).await?;
            respond::json(StatusCode::OK, &views::NotificationTemplate::from(reset))
        }
        Endpoint::Dispatch => {
            notification_orchestration::check_dispatch_token(token).await?;
            let report = notification_orchestration::dispatch().await?;
            respond::json(StatusCode::OK, &views::DispatchReport::from(report))
        }
        Endpoint::WorkspaceEvents | Endpoint::ChannelEvents => {
            return live::open(actor, param(0), params.get(1).cloned(), last_event_id).await;
        }
    }
    .map(Body::Full))
}

/// Largest JSON request body, in bytes (files go through [`files`]).
const MAX_JSON_BODY: usize = 1 << 20;

/// The request's body, up to [`MAX_JSON_BODY`] (413 beyond).
async fn read_body(request: Request) -> Result<Vec<u8>, ApiError> {
    let mut frames = request.into_body().stream();
    let mut body = Vec::new();
    while let Some(frame) = frames.next().await {
        let data = frame
            .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("cannot read body: {err:?}")))?;
        if body.len() + data.len() > MAX_JSON_BODY {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a JSON body may hold at most {MAX_JSON_BODY} bytes"),
            ));
        }
        body.extend_from_slice(&data);
    }
    Ok(body)
}

/// The request's bearer token.
fn bearer_token(request: &Request) -> Result<String, ApiError> {
    request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a bearer token is required"))
}

/// A role named in a request body.
fn role(name: &str) -> Result<workspace_management::Role, ApiError> {
    views::parse_role(name).ok_or_else(|| ApiError::invalid_input("role must be one of owner, admin, member"))
}

fn invitations(found: Vec<workspace_management::Invitation>) -> Response {
    let shown: Vec<_> = found.into_iter().map(views::Invitation::from).collect();
    respond::json(StatusCode::OK, &serde_json::json!({ "invitations": shown }))
}

/// Parse a JSON body: bad syntax is `invalid_json`, a wrong shape `invalid_input`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::invalid_input(err.to_string()),
        _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("malformed JSON: {err}")),
    })
}

/// The `limit` query parameter as a number; the domains own its bounds
/// and default (`keel_guest::validate::page_size`).
fn page_limit(raw: Option<String>) -> Result<Option<u32>, ApiError> {
    raw.map(|raw| raw.parse::<u32>().map_err(|_| ApiError::invalid_input("limit must be a number")))
        .transpose()
}

impl From<user_lifecycle::Error> for ApiError {
    fn from(err: user_lifecycle::Error) -> Self {
        match err {
            user_lifecycle::Error::InvalidInput(message) => ApiError::invalid_input(message),
            user_lifecycle::Error::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            user_lifecycle::Error::Unauthorized(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            user_lifecycle::Error::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "user not found"),
            user_lifecycle::Error::Unavailable(message) => unavailable(message),
            user_lifecycle::Error::Internal(message) => internal(message),
        }
    }
}

/// The error variants the workspace and messaging domains share.
macro_rules! domain_error {
    ($($domain:ident),*) => {$(
        impl From<$domain::Error> for ApiError {
            fn from(err: $domain::Error) -> Self {
                match err {
                    $domain::Error::InvalidInput(message) => ApiError::invalid_input(message),
                    $domain::Error::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
                    $domain::Error::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
                    $domain::Error::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
                    $domain::Error::Unavailable(message) => unavailable(message),
                    $domain::Error::Internal(message) => internal(message),
                }
            }
        }
    )*};
}

domain_error!(workspace_management, messaging, real_time_messaging, notification_orchestration);

impl From<document_management::Error> for ApiError {
    fn from(err: document_management::Error) -> Self {
        use document_management::Error;
        match err {
            Error::InvalidInput(message) => ApiError::invalid_input(message),
            Error::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            Error::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            Error::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            Error::TooLarge(message) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            Error::UnsupportedType(message) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
            }
            Error::Unavailable(message) => unavailable(message),
            Error::Internal(message) => internal(message),
        }
    }
}

/// A backend failure: the detail (driver or provider text) goes to the
/// component's log (stderr, which Spin and Keel keep per component), never
/// to the client, and carries `Retry-After`.
fn unavailable(detail: String) -> ApiError {
    eprintln!("team-collab: backend unavailable: {detail}");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the service is temporarily unavailable; try again shortly",
    )
}

/// A failure a retry will not fix (a rejected statement, malformed stored
/// data): 500 with a generic message; the detail goes to the log only.
fn internal(detail: String) -> ApiError {
    eprintln!("team-collab: internal error: {detail}");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_are_parsed_here_and_bounded_by_the_domains() {
        assert_eq!(page_limit(None).ok(), Some(None));
        assert_eq!(page_limit(Some("201".into())).ok(), Some(Some(201)));
        for bad in ["-1", "ten", ""] {
            assert_eq!(page_limit(Some(bad.into())).map_err(|err| err.code).err(), Some("invalid_input"), "{bad}");
        }
    }

    #[test]
    fn backend_detail_never_reaches_the_client() {
        let err = unavailable(
            "database error: Server(ServerError { code: 1045, message: \"Access denied for user 'root'\" })".into(),
        );
        assert_eq!((err.status, err.code), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        assert!(!err.message.contains("Access denied") && !err.message.contains("root"), "{}", err.message);
    }

    #[test]
    fn internal_errors_are_500_without_detail() {
        let err = ApiError::from(messaging::Error::Internal("invalid query: no such column: secret_col".into()));
        assert_eq!((err.status, err.code), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
        assert!(!err.message.contains("secret_col"), "{}", err.message);
        let err = ApiError::from(messaging::Error::Unavailable("connection refused".into()));
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn json_errors_are_classified() {
        let bad_syntax = parse::<views::Login>(b"{not json").err().map(|err| err.code);
        let missing_field = parse::<views::Login>(br#"{"email":"a@b.co"}"#).err().map(|err| err.code);
        let empty = parse::<views::Login>(b"").err().map(|err| err.code);
        assert_eq!(bad_syntax, Some("invalid_json"));
        assert_eq!(missing_field, Some("invalid_input"));
        assert_eq!(empty, Some("invalid_json"));
    }
}
