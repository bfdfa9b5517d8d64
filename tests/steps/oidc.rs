//! The OIDC conformance steps and the local issuer they run against.
//!
//! [`LocalIssuer`] is an in-process OpenID Connect issuer on `127.0.0.1:0`:
//! like a real provider, it serves its discovery document only at its own
//! issuer URL plus `/.well-known/openid-configuration`, naming that issuer
//! (or, when a scenario says so, another one), and its JWKS at `/keys`,
//! counting JWKS fetches. It signs tokens with one RS256 and one ES256 key
//! (from `keel-oidc`'s `signer`) and can publish a rotated key or go down.
//! The issuer, audience and e-mail claim the tokens carry are the ones the
//! implementation under test was configured with (its `*_issuer`,
//! `*_audience` and `*_email_claim` variables).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use cucumber::{given, then, when};
use keel_oidc::Algorithm;
use keel_oidc::jws::encode_part;
use keel_oidc::signer::{self, SigningKey};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::KeelWorld;
use super::http::field;

/// Placeholder for the local issuer's base URL in implementation variables.
pub const ISSUER: &str = "{issuer}";

const SUBJECT: &str = "user-1";
const EMAIL: &str = "ada@example.com";
const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// What the implementation under test expects of tokens.
#[derive(Debug, Clone, Default)]
struct Settings {
    issuer: String,
    audience: String,
    email_claim: String,
}

#[derive(Debug)]
struct State {
    base: String,
    published: Mutex<Vec<SigningKey>>,
    jwks_fetches: AtomicUsize,
    down: AtomicBool,
    /// The issuer URL the implementation was configured with.
    issuer: Mutex<String>,
    /// An issuer the discovery document names instead of its own.
    misnamed_issuer: Mutex<Option<String>>,
}

/// An in-process OIDC issuer for one scenario.
#[derive(Debug)]
pub struct LocalIssuer {
    pub base: String,
    state: Arc<State>,
    settings: Settings,
    /// The `exp` of the last valid token handed to the probe.
    expected_exp: i64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LocalIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The two keys every issuer starts with (generating RSA keys is slow, so
/// they are made once per run).
fn initial_keys() -> Vec<SigningKey> {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        vec![
            SigningKey::generate(Algorithm::Rs256, "rsa-1").expect("RSA test key"),
            SigningKey::generate(Algorithm::Es256, "ec-1").expect("EC test key"),
        ]
    })
    .clone()
}

impl LocalIssuer {
    async fn start() -> LocalIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the local issuer");
        let base = format!("http://{}", listener.local_addr().expect("issuer address"));
        let state = Arc::new(State {
            base: base.clone(),
            published: Mutex::new(initial_keys()),
            jwks_fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            issuer: Mutex::new(String::new()),
            misnamed_issuer: Mutex::new(None),
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, served.clone()));
            }
        });
        LocalIssuer { base, state, settings: Settings::default(), expected_exp: 0, server }
    }

    /// Take the token settings from the implementation's rendered variables.
    fn configure(&mut self, variables: &[(String, String)]) {
        let setting = |suffix: &str| variables.iter().find(|(name, _)| name.ends_with(suffix)).map(|(_, v)| v.clone());
        self.settings = Settings {
            issuer: setting("_issuer").expect("an `*_issuer` variable"),
            audience: setting("_audience").expect("an `*_audience` variable"),
            email_claim: setting("_email_claim").unwrap_or_else(|| "email".into()),
        };
        *self.state.issuer.lock().unwrap() = self.settings.issuer.clone();
    }

    fn key(&self, algorithm: Algorithm) -> SigningKey {
        let published = self.state.published.lock().unwrap();
        published.iter().find(|key| key.algorithm() == algorithm).cloned().expect("a published key")
    }

    /// Claims of a valid token, valid for ten minutes from now.
    fn claims(&self) -> Value {
        let now = now_secs();
        let mut claims = json!({
            "iss": self.settings.issuer, "aud": self.settings.audience, "sub": SUBJECT,
            "iat": now, "exp": now + 600,
        });
        claims[&self.settings.email_claim] = json!(EMAIL);
        claims
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Answer one HTTP/1.1 request (GET only), then close the connection.
async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = respond(&state, &path);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn respond(state: &State, path: &str) -> (&'static str, String) {
    if state.down.load(Ordering::SeqCst) {
        return ("503 Service Unavailable", json!({ "error": "down" }).to_string());
    }
    if path == "/keys" {
        state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
        let keys: Vec<Value> = state.published.lock().unwrap().iter().map(SigningKey::jwk).collect();
        return ("200 OK", json!({ "keys": keys }).to_string());
    }
    let issuer = state.issuer.lock().unwrap().clone();
    let discovery_path = issuer.strip_prefix(&state.base).map(|path| format!("{}{DISCOVERY_SUFFIX}", path.trim_end_matches('/')));
    if discovery_path.as_deref() == Some(path) {
        let issuer = state.misnamed_issuer.lock().unwrap().clone().unwrap_or(issuer);
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/keys", state.base),
            "authorization_endpoint": format!("{}/authorize", state.base),
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        });
        return ("200 OK", discovery.to_string());
    }
    ("404 Not Found", json!({ "error": "not found" }).to_string())
}

/// Start a local issuer when `variables` refer to it, fill in its URL and
/// take the token settings from them.
pub async fn with_local_issuer(world: &mut KeelWorld, variables: Vec<(String, String)>) -> Vec<(String, String)> {
    if !variables.iter().any(|(_, value)| value.contains(ISSUER)) {
        return variables;
    }
    let mut issuer = LocalIssuer::start().await;
    let variables: Vec<(String, String)> =
        variables.into_iter().map(|(name, value)| (name, value.replace(ISSUER, &issuer.base))).collect();
    issuer.configure(&variables);
    world.issuer = Some(issuer);
    variables
}

fn issuer(world: &mut KeelWorld) -> &mut LocalIssuer {
    world.issuer.as_mut().expect("a local issuer (is this an OIDC implementation?)")
}

async fn verify(world: &mut KeelWorld, token: String) {
    let body = json!({ "token": token }).to_string();
    world.send(None, "POST", "/verify", Some(body)).await;
}

fn algorithm(name: &str) -> Algorithm {
    Algorithm::from_name(name).unwrap_or_else(|| panic!("unknown algorithm `{name}`"))
}

#[when(expr = "the auth probe verifies a valid {word} token")]
async fn verify_valid(world: &mut KeelWorld, alg: String) {
    let issuer = issuer(world);
    let claims = issuer.claims();
    issuer.expected_exp = claims["exp"].as_i64().unwrap_or_default();
    let token = issuer.key(algorithm(&alg)).sign(&claims);
    verify(world, token).await;
}

#[when(expr = "the auth probe verifies an {word} token that is {string}")]
async fn verify_defective(world: &mut KeelWorld, alg: String, defect: String) {
    let issuer = issuer(world);
    let key = issuer.key(algorithm(&alg));
    let mut claims = issuer.claims();
    let now = now_secs();
    let token = match defect.as_str() {
        "expired" => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
            key.sign(&claims)
        }
        "not yet valid" => {
            claims["nbf"] = json!(now + 3600);
            key.sign(&claims)
        }
        "for another audience" => {
            claims["aud"] = json!("api://someone-else");
            key.sign(&claims)
        }
        "from another issuer" => {
            claims["iss"] = json!("https://issuer.example.com/");
            key.sign(&claims)
        }
        "tampered with" => {
            let token = key.sign(&claims);
            claims["sub"] = json!("admin");
            let parts: Vec<&str> = token.split('.').collect();
            format!("{}.{}.{}", parts[0], encode_part(claims.to_string().as_bytes()), parts[2])
        }
        "signed with an unknown key" => {
            SigningKey::generate(key.algorithm(), "unpublished").expect("test key").sign(&claims)
        }
        "unsigned" => signer::unsigned(key.kid(), &claims),
        "signed with HS256" => {
            let header = json!({ "alg": "HS256", "kid": key.kid(), "typ": "JWT" });
            format!(
                "{}.{}.{}",
                encode_part(header.to_string().as_bytes()),
                encode_part(claims.to_string().as_bytes()),
                encode_part(b"hmac-with-the-public-key")
            )
        }
        other => panic!("unknown token defect `{other}`"),
    };
    verify(world, token).await;
}

#[given(expr = "the issuer publishes a new {word} key")]
fn publish_new_key(world: &mut KeelWorld, alg: String) {
    let key = SigningKey::generate(algorithm(&alg), format!("rotated-{alg}")).expect("test key");
    // The rotated key comes first, so `key()` signs with it from now on.
    issuer(world).state.published.lock().unwrap().insert(0, key);
}

#[given("the issuer's discovery document names another issuer")]
fn discovery_names_another_issuer(world: &mut KeelWorld) {
    let issuer = issuer(world);
    let other = format!("{}/another-tenant", issuer.base);
    *issuer.state.misnamed_issuer.lock().unwrap() = Some(other);
}

#[given("the issuer is down")]
fn issuer_down(world: &mut KeelWorld) {
    issuer(world).state.down.store(true, Ordering::SeqCst);
}

#[then("the probe returns the token's identity")]
fn identity_returned(world: &mut KeelWorld) {
    let expected_exp = issuer(world).expected_exp;
    let reply = world.reply.as_ref().expect("a response");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(field(&reply.body, "subject"), Some(&json!(SUBJECT)), "{}", reply.body);
    assert_eq!(field(&reply.body, "email"), Some(&json!(EMAIL)), "{}", reply.body);
    assert_eq!(field(&reply.body, "expires_at"), Some(&json!(expected_exp)), "{}", reply.body);
}

#[then(regex = r"^the issuer has served its keys (\d+) times?$")]
fn jwks_fetches(world: &mut KeelWorld, count: usize) {
    assert_eq!(issuer(world).state.jwks_fetches.load(Ordering::SeqCst), count);
}
