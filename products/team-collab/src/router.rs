//! The route table: path patterns, their methods and endpoints.
//!
//! A pattern segment `{}` captures one non-empty path segment. A path that
//! matches a pattern but not its method is `405` with the allowed methods.

use spin_sdk::http::Method;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    OpenApi,
    Signup,
    Login,
    Logout,
    VerifyEmail,
    RequestPasswordReset,
    ResetPassword,
    GetMe,
    UpdateMe,
    ResendVerification,
    ChangePassword,
    CreateWorkspace,
    ListWorkspaces,
    GetWorkspace,
    ListMembers,
    ChangeRole,
    RemoveMember,
    Invite,
    ListInvitations,
    RevokeInvitation,
    MyInvitations,
    AcceptInvitation,
    DeclineInvitation,
    AuditTrail,
    VerifyAuditTrail,
    ListFeatures,
    SetFeature,
    ClearFeature,
    SetMemberFeature,
    ClearMemberFeature,
    CreateChannel,
    ListChannels,
    PostMessage,
    ListMessages,
    GetMessage,
    EditMessage,
    DeleteMessage,
    PostReply,
    ListReplies,
    AddReaction,
    RemoveReaction,
    ListMentions,
    /// Upload a file into a channel (the body is the file).
    UploadFile,
    ListFiles,
    GetFile,
    DeleteFile,
    /// A file's bytes (ranges, conditional requests).
    DownloadFile,
    /// Upload the next version of a file.
    UploadVersion,
    ListVersions,
    /// Server-Sent Events of a whole workspace.
    WorkspaceEvents,
    /// Server-Sent Events of one channel (and the workspace-wide ones).
    ChannelEvents,
    ListWebhooks,
    CreateWebhook,
    GetWebhook,
    DeleteWebhook,
    /// A webhook's deliveries (`?status=dead`: its dead letters).
    ListDeliveries,
    ReplayDelivery,
    /// The caller's inbox.
    ListNotifications,
    MarkNotificationRead,
    MarkAllNotificationsRead,
    /// What reaches the caller, by kind and channel, and quiet hours.
    GetNotificationPreferences,
    UpdateNotificationPreferences,
    /// A workspace's mail templates (its own wording or the app's).
    ListNotificationTemplates,
    SetNotificationTemplate,
    ResetNotificationTemplate,
    /// One dispatcher pass, for a scheduler outside the app (its own
    /// secret, not a user's token).
    Dispatch,
}

impl Endpoint {
    /// Whether the endpoint needs a bearer token.
    pub fn requires_auth(self) -> bool {
        !matches!(
            self,
            Endpoint::Healthz
                | Endpoint::OpenApi
                | Endpoint::Signup
                | Endpoint::Login
                | Endpoint::VerifyEmail
                | Endpoint::RequestPasswordReset
                | Endpoint::ResetPassword
                | Endpoint::Dispatch
        )
    }
}

struct Route {
    pattern: &'static str,
    methods: &'static [(Method, Endpoint)],
}

const ROUTES: &[Route] = &[
    Route { pattern: "/healthz", methods: &[(Method::GET, Endpoint::Healthz)] },
    Route { pattern: "/openapi.json", methods: &[(Method::GET, Endpoint::OpenApi)] },
    Route { pattern: "/v1/openapi.json", methods: &[(Method::GET, Endpoint::OpenApi)] },
    Route { pattern: "/internal/dispatch", methods: &[(Method::POST, Endpoint::Dispatch)] },
    Route { pattern: "/v1/auth/signup", methods: &[(Method::POST, Endpoint::Signup)] },
    Route { pattern: "/v1/auth/login", methods: &[(Method::POST, Endpoint::Login)] },
    Route { pattern: "/v1/auth/logout", methods: &[(Method::POST, Endpoint::Logout)] },
    Route { pattern: "/v1/auth/verify-email", methods: &[(Method::POST, Endpoint::VerifyEmail)] },
    Route { pattern: "/v1/auth/password-reset", methods: &[(Method::POST, Endpoint::RequestPasswordReset)] },
    Route { pattern: "/v1/auth/password-reset/confirm", methods: &[(Method::POST, Endpoint::ResetPassword)] },
    Route { pattern: "/v1/me", methods: &[(Method::GET, Endpoint::GetMe), (Method::PATCH, Endpoint::UpdateMe)] },
    Route { pattern: "/v1/me/verification", methods: &[(Method::POST, Endpoint::ResendVerification)] },
    Route { pattern: "/v1/me/password", methods: &[(Method::PUT, Endpoint::ChangePassword)] },
    Route { pattern: "/v1/me/notifications", methods: &[(Method::GET, Endpoint::ListNotifications)] },
    Route { pattern: "/v1/me/notifications/read", methods: &[(Method::POST, Endpoint::MarkAllNotificationsRead)] },
    Route { pattern: "/v1/me/notifications/{}/read", methods: &[(Method::POST, Endpoint::MarkNotificationRead)] },
    Route {
        pattern: "/v1/me/notification-preferences",
        methods: &[
            (Method::GET, Endpoint::GetNotificationPreferences),
            (Method::PATCH, Endpoint::UpdateNotificationPreferences),
        ],
    },
    Route { pattern: "/v1/invitations", methods: &[(Method::GET, Endpoint::MyInvitations)] },
    Route { pattern: "/v1/invitations/{}/accept", methods: &[(Method::POST, Endpoint::AcceptInvitation)] },
    Route { pattern: "/v1/invitations/{}/decline", methods: &[(Method::POST, Endpoint::DeclineInvitation)] },
    Route {
        pattern: "/v1/workspaces",
        methods: &[(Method::GET, Endpoint::ListWorkspaces), (Method::POST, Endpoint::CreateWorkspace)],
    },
    Route { pattern: "/v1/workspaces/{}", methods: &[(Method::GET, Endpoint::GetWorkspace)] },
    Route { pattern: "/v1/workspaces/{}/members", methods: &[(Method::GET, Endpoint::ListMembers)] },
    Route {
        pattern: "/v1/workspaces/{}/members/{}",
        methods: &[(Method::PATCH, Endpoint::ChangeRole), (Method::DELETE, Endpoint::RemoveMember)],
    },
    Route {
        pattern: "/v1/workspaces/{}/invitations",
        methods: &[(Method::GET, Endpoint::ListInvitations), (Method::POST, Endpoint::Invite)],
    },
    Route { pattern: "/v1/workspaces/{}/invitations/{}", methods: &[(Method::DELETE, Endpoint::RevokeInvitation)] },
    Route { pattern: "/v1/workspaces/{}/audit", methods: &[(Method::GET, Endpoint::AuditTrail)] },
    Route { pattern: "/v1/workspaces/{}/audit/verify", methods: &[(Method::GET, Endpoint::VerifyAuditTrail)] },
    Route { pattern: "/v1/workspaces/{}/mentions", methods: &[(Method::GET, Endpoint::ListMentions)] },
    Route { pattern: "/v1/workspaces/{}/events", methods: &[(Method::GET, Endpoint::WorkspaceEvents)] },
    Route { pattern: "/v1/workspaces/{}/features", methods: &[(Method::GET, Endpoint::ListFeatures)] },
    Route {
        pattern: "/v1/workspaces/{}/webhooks",
        methods: &[(Method::GET, Endpoint::ListWebhooks), (Method::POST, Endpoint::CreateWebhook)],
    },
    Route {
        pattern: "/v1/workspaces/{}/webhooks/{}",
        methods: &[(Method::GET, Endpoint::GetWebhook), (Method::DELETE, Endpoint::DeleteWebhook)],
    },
    Route { pattern: "/v1/workspaces/{}/webhooks/{}/deliveries", methods: &[(Method::GET, Endpoint::ListDeliveries)] },
    Route {
        pattern: "/v1/workspaces/{}/webhooks/{}/deliveries/{}/replay",
        methods: &[(Method::POST, Endpoint::ReplayDelivery)],
    },
    Route {
        pattern: "/v1/workspaces/{}/notification-templates",
        methods: &[(Method::GET, Endpoint::ListNotificationTemplates)],
    },
    Route {
        pattern: "/v1/workspaces/{}/notification-templates/{}",
        methods: &[(Method::PUT, Endpoint::SetNotificationTemplate), (Method::DELETE, Endpoint::ResetNotificationTemplate)],
    },
    Route {
        pattern: "/v1/workspaces/{}/features/{}",
        methods: &[(Method::PUT, Endpoint::SetFeature), (Method::DELETE, Endpoint::ClearFeature)],
    },
    Route {
        pattern: "/v1/workspaces/{}/features/{}/members/{}",
        methods: &[(Method::PUT, Endpoint::SetMemberFeature), (Method::DELETE, Endpoint::ClearMemberFeature)],
    },
    Route {
        pattern: "/v1/workspaces/{}/channels",
        methods: &[(Method::GET, Endpoint::ListChannels), (Method::POST, Endpoint::CreateChannel)],
    },
    Route { pattern: "/v1/workspaces/{}/channels/{}/events", methods: &[(Method::GET, Endpoint::ChannelEvents)] },
    Route {
        pattern: "/v1/workspaces/{}/channels/{}/files",
        methods: &[(Method::GET, Endpoint::ListFiles), (Method::POST, Endpoint::UploadFile)],
    },
    Route {
        pattern: "/v1/workspaces/{}/files/{}",
        methods: &[(Method::GET, Endpoint::GetFile), (Method::DELETE, Endpoint::DeleteFile)],
    },
    Route { pattern: "/v1/workspaces/{}/files/{}/content", methods: &[(Method::GET, Endpoint::DownloadFile)] },
    Route {
        pattern: "/v1/workspaces/{}/files/{}/versions",
        methods: &[(Method::GET, Endpoint::ListVersions), (Method::POST, Endpoint::UploadVersion)],
    },
    Route {
        pattern: "/v1/workspaces/{}/channels/{}/messages",
        methods: &[(Method::GET, Endpoint::ListMessages), (Method::POST, Endpoint::PostMessage)],
    },
    Route {
        pattern: "/v1/workspaces/{}/channels/{}/messages/{}",
        methods: &[
            (Method::GET, Endpoint::GetMessage),
            (Method::PATCH, Endpoint::EditMessage),
            (Method::DELETE, Endpoint::DeleteMessage),
        ],
    },
    Route {
        pattern: "/v1/workspaces/{}/channels/{}/messages/{}/replies",
        methods: &[(Method::GET, Endpoint::ListReplies), (Method::POST, Endpoint::PostReply)],
    },
    Route {
        pattern: "/v1/workspaces/{}/channels/{}/messages/{}/reactions/{}",
        methods: &[(Method::PUT, Endpoint::AddReaction), (Method::DELETE, Endpoint::RemoveReaction)],
    },
];

/// The outcome of routing a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// The endpoint and the captured path segments, in order.
    Found(Endpoint, Vec<String>),
    /// The path exists; the value is for the `Allow` header.
    MethodNotAllowed(String),
    NotFound,
}

/// Route `method` and `path` (without the query string).
pub fn route(method: &Method, path: &str) -> Routed {
    for route in ROUTES {
        let Some(params) = capture(route.pattern, path) else {
            continue;
        };
        return match route.methods.iter().find(|(allowed, _)| allowed == method) {
            Some((_, endpoint)) => Routed::Found(*endpoint, params),
            None => Routed::MethodNotAllowed(
                route.methods.iter().map(|(allowed, _)| allowed.as_str()).collect::<Vec<_>>().join(", "),
            ),
        };
    }
    Routed::NotFound
}

/// The route template `endpoint` is served at (`/v1/workspaces/{}/…`).
pub fn pattern(endpoint: Endpoint) -> &'static str {
    ROUTES
        .iter()
        .find(|route| route.methods.iter().any(|(_, served)| *served == endpoint))
        .map_or("", |route| route.pattern)
}

fn capture(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    let mut params = Vec::new();
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some("{}"), Some(segment)) if !segment.is_empty() => params.push(percent_decode(segment, false)),
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return None,
        }
    }
}

/// The decoded value of query parameter `name`, if present.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key, true) == name).then(|| percent_decode(value, true))
    })
}

/// Decode `%XX` escapes, and `+` as a space where `plus_is_space` (in a
/// query, not in a path); malformed escapes stay as written.
fn percent_decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match raw.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                Some(byte) => {
                    decoded.push(byte);
                    i += 3;
                    continue;
                }
                None => decoded.push(b'%'),
            },
            b'+' if plus_is_space => decoded.push(b' '),
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_static_and_parameterised_paths() {
        assert_eq!(route(&Method::GET, "/healthz"), Routed::Found(Endpoint::Healthz, vec![]));
        assert_eq!(route(&Method::PATCH, "/v1/me"), Routed::Found(Endpoint::UpdateMe, vec![]));
        assert_eq!(
            route(&Method::POST, "/v1/workspaces/wsp_1/channels/chn_2/messages"),
            Routed::Found(Endpoint::PostMessage, vec!["wsp_1".into(), "chn_2".into()])
        );
        assert_eq!(
            route(&Method::GET, "/v1/workspaces/wsp_1"),
            Routed::Found(Endpoint::GetWorkspace, vec!["wsp_1".into()])
        );
    }

    /// The published contract (`openapi.yaml`) lists exactly the routes
    /// and methods served here.
    #[test]
    fn the_openapi_document_lists_every_route_and_no_other() {
        let document: serde_json::Value = serde_json::from_str(crate::OPENAPI).expect("the served contract is JSON");
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, methods) in document["paths"].as_object().expect("paths") {
            let pattern: Vec<&str> =
                path.split('/').map(|segment| if segment.starts_with('{') { "{}" } else { segment }).collect();
            for method in methods.as_object().expect("methods").keys() {
                documented.push((method.to_uppercase(), pattern.join("/")));
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .flat_map(|route| route.methods.iter().map(|(method, _)| (method.to_string(), route.pattern.to_owned())))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(
            route(&Method::PUT, "/v1/workspaces/w/channels/c/messages/msg_1/reactions/%F0%9F%91%8D"),
            Routed::Found(Endpoint::AddReaction, vec!["w".into(), "c".into(), "msg_1".into(), "👍".into()])
        );
        assert_eq!(
            route(&Method::DELETE, "/v1/workspaces/w/channels/c/messages/msg_1/reactions/:+1:"),
            Routed::Found(Endpoint::RemoveReaction, vec!["w".into(), "c".into(), "msg_1".into(), ":+1:".into()])
        );
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        assert_eq!(route(&Method::DELETE, "/v1/workspaces"), Routed::MethodNotAllowed("GET, POST".into()));
        assert_eq!(route(&Method::GET, "/v1/auth/login"), Routed::MethodNotAllowed("POST".into()));
        assert_eq!(route(&Method::POST, "/v1/workspaces/wsp_1/members"), Routed::MethodNotAllowed("GET".into()));
        assert_eq!(
            route(&Method::GET, "/v1/workspaces/wsp_1/members/usr_2"),
            Routed::MethodNotAllowed("PATCH, DELETE".into())
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/", "/v1", "/v1/workspaces/", "/v1/workspaces//members", "/v1/me/extra", "/healthz/"] {
            assert_eq!(route(&Method::GET, path), Routed::NotFound, "{path}");
        }
    }

    #[test]
    fn only_public_endpoints_skip_auth() {
        assert!(!Endpoint::Signup.requires_auth());
        assert!(!Endpoint::Healthz.requires_auth());
        assert!(!Endpoint::VerifyEmail.requires_auth());
        assert!(!Endpoint::ResetPassword.requires_auth());
        assert!(Endpoint::Logout.requires_auth());
        assert!(Endpoint::AcceptInvitation.requires_auth());
        assert!(Endpoint::GetMe.requires_auth());
        assert!(Endpoint::ListMessages.requires_auth());
    }

    #[test]
    fn reads_query_parameters() {
        let query = Some("limit=20&before=00000000000000ff&note=a%20b+c");
        assert_eq!(query_param(query, "limit").as_deref(), Some("20"));
        assert_eq!(query_param(query, "before").as_deref(), Some("00000000000000ff"));
        assert_eq!(query_param(query, "note").as_deref(), Some("a b c"));
        assert_eq!(query_param(query, "missing"), None);
        assert_eq!(query_param(None, "limit"), None);
        assert_eq!(query_param(Some("x=%zz"), "x").as_deref(), Some("%zz"));
    }
}
