//! `confab-relay demo`: the relay plus a demo shop on a second origin, a demo site and advisor, and
//! a sample conversation so the dashboard isn't empty on first look.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use shared::{Author, Channel, ClientMsgId};
use tokio::net::TcpListener;

use crate::admin::{self, AdminError};
use crate::channels::bridge::MetaConfig;
use crate::config::MetaArgs;
use crate::sandbox::{self, Sandbox, SandboxConfig};
use shared::TemplateInfo;
use crate::error::StartError;
use crate::store::{NewMessage, Role, SiteSettings};
use crate::{secret, AppState, Config};

pub const DEMO_SITE_KEY: &str = "demo";
pub const DEMO_EMAIL: &str = "demo@confab.test";
pub const DEMO_PASSWORD: &str = "confab-demo";
/// Where the demo keeps its data unless told otherwise: not the directory `serve` uses, so the
/// demo's admin (whose password is published) never joins a real relay's accounts by default.
pub const DEFAULT_DATA_DIR: &str = "./confab-demo-data";

fn http_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    format!("http://{host}:{}", addr.port())
}

/// Bind both ports, seed, print where everything is, and serve until `shutdown`.
pub async fn run(
    mut config: Config,
    listen: SocketAddr,
    demo_listen: SocketAddr,
    phone_listen: SocketAddr,
    site_dir: PathBuf,
    bot: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    if !site_dir.join("index.html").is_file() {
        return Err(StartError::Demo(format!(
            "no demo shop in {} (expected index.html there); run from the repository root or pass --demo-site-dir",
            site_dir.display()
        )));
    }
    // Before anything is bound or seeded: the demo's published admin password must never land in
    // a directory that serves real advisors.
    let store = config.open_store().await?;
    if let Err(e) = check_own_directory(&*store, &config.data_dir).await {
        store.close().await;
        return Err(e);
    }
    // The demo shop hosts confab-sw.js and asks for it (data-push): Web Push is on.
    config.notify.web_push = true;
    let relay_listener = bind(listen).await?;
    let demo_listener = bind(demo_listen).await?;
    let relay_url = http_url(relay_listener.local_addr().map_err(StartError::Listen)?);
    let demo_addr = demo_listener.local_addr().map_err(StartError::Listen)?;
    let demo_url = http_url(demo_addr);

    // WhatsApp and Messenger: a real app when one is configured, else the local stand-in and its
    // phone page.
    let stopping = tokio_util::sync::CancellationToken::new();
    let sandbox = match config.meta {
        Some(_) => None,
        None => {
            let phone_listener = bind(phone_listen).await?;
            let phone_addr = phone_listener.local_addr().map_err(StartError::Listen)?;
            let graph_url = http_url(phone_addr);
            // The stand-in speaks plain HTTP on this machine, and its media links point at itself:
            // let the outbound policy reach it (and only it, beyond public https).
            config.outbound.allow_http = true;
            config.outbound.allow_nets.extend(crate::outbound::OutboundConfig::local_stand_ins().allow_nets);
            if !phone_addr.ip().is_unspecified() {
                config.outbound.allow_nets.push(phone_addr.ip().into());
            }
            let sandbox_config = SandboxConfig {
                relay_webhook_url_whatsapp: format!("{relay_url}/webhooks/whatsapp"),
                relay_webhook_url_messenger: format!("{relay_url}/webhooks/messenger"),
                ..SandboxConfig::default()
            };
            config.meta = Some(sandbox_meta(&sandbox_config, &graph_url)?);
            let sandbox = sandbox::start(phone_listener, sandbox_config, stopping.clone()).await.map_err(StartError::Listen)?;
            Some(sandbox)
        }
    };

    let fresh = seed(&*store, demo_addr.port()).await.map_err(|e| StartError::Demo(e.to_string()))?;
    seed_bot(&*store, bot).await.map_err(|e| StartError::Demo(e.to_string()))?;
    let state = AppState::new(config, store);
    let stop_sandbox = stopping.clone();
    let relay_stopping = state.stopping.clone();
    tokio::spawn(async move {
        relay_stopping.cancelled().await;
        stop_sandbox.cancel();
    });

    let shop = Router::new().fallback(serve_shop_file).with_state(ShopState { dir: site_dir, relay_url: relay_url.clone() });
    let stopping = state.stopping.clone();
    let shop_stop = stopping.clone();
    tokio::spawn(async move {
        let _ = axum::serve(demo_listener, shop).with_graceful_shutdown(async move { shop_stop.cancelled().await }).await;
    });

    println!("relay listening on {relay_url}");
    println!("demo shop on {demo_url}");
    if let Some(sandbox) = &sandbox {
        println!("phone on {} (play a WhatsApp or Messenger customer)", sandbox.phone_url());
        if fresh {
            // First start: a WhatsApp and a Messenger customer write in, as real ones would.
            let sandbox = sandbox.clone();
            tokio::spawn(async move { seed_channels(&sandbox).await });
        }
    }
    println!("dashboard on {relay_url}/dashboard (login: {DEMO_EMAIL} / {DEMO_PASSWORD})");
    crate::serve(state, relay_listener, shutdown).await
}

/// The demo's directory is one it made itself: empty, or whose first account is the demo's (a
/// visitor to the demo may have added more there). A directory whose first account is someone
/// else's belongs to a real relay, and the demo's admin, whose password is in the README, would
/// be one more admin there: refused, with what to do instead.
async fn check_own_directory(store: &dyn crate::store::Store, dir: &Path) -> Result<(), StartError> {
    let accounts = store.list_accounts().await.map_err(|e| StartError::Demo(format!("reading the accounts in {}: {e}", dir.display())))?;
    let first = accounts.iter().min_by_key(|a| a.info.id.0);
    match first {
        Some(first) if !first.info.email.eq_ignore_ascii_case(DEMO_EMAIL) => Err(StartError::Demo(format!(
            "{} already holds the accounts of a real relay ({} advisor account(s)), and the demo would add an admin with a \
             published password to them; nothing was changed. Run the demo on a directory of its own: leave out --data-dir \
             (and CONFAB_DATA_DIR) to use {DEFAULT_DATA_DIR}, or pass a new directory",
            dir.display(),
            accounts.len()
        ))),
        _ => Ok(()),
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|e| {
        StartError::Listen(std::io::Error::new(
            e.kind(),
            format!("{addr}: {e}. Choose another address with --listen / --demo-listen"),
        ))
    })
}

/// The bridge's settings for the sandbox: its secret and tokens, links to its wa.me / m.me
/// stand-ins, and two demo templates.
fn sandbox_meta(sandbox: &SandboxConfig, graph_url: &str) -> Result<MetaConfig, StartError> {
    let link = |path: &str| {
        url::Url::parse(&format!("{graph_url}/{path}")).map_err(|e| StartError::Demo(format!("phone page URL: {e}")))
    };
    let args = MetaArgs {
        whatsapp_number: Some(sandbox.display_phone_number.clone()),
        wa_me_url: link("wa.me")?,
        m_me_url: link("m.me")?,
        ..sandbox.meta_args(graph_url, &secret::new_token(), DEMO_SITE_KEY)
    };
    let mut meta = MetaConfig::from_args(&args)?.ok_or_else(|| StartError::Demo("the sandbox bridge is off".into()))?;
    meta.templates = vec![
        TemplateInfo {
            name: "follow_up".into(),
            language: "en_US".into(),
            text: "Hi {{1}}, this is Northwind Outfitters following up on your question. Reply here to continue the conversation.".into(),
        },
        TemplateInfo {
            name: "order_update".into(),
            language: "en_US".into(),
            text: "Hi {{1}}, there is news about your order {{2}}. Reply to this message to hear more.".into(),
        },
    ];
    Ok(meta)
}

/// A WhatsApp and a Messenger customer write in through the sandbox (signed webhooks, like Meta's).
async fn seed_channels(sandbox: &Sandbox) {
    let whatsapp = sandbox
        .whatsapp_text("5511987654321", "Ana Souza", "Olá! Do you ship the Ridge tent to Brazil? And how long does it take?")
        .await;
    sandbox.set_messenger_name("7012345678905678", "Jules Martin");
    let messenger = sandbox
        .messenger_text("7012345678905678", "Hi, I ordered hiking boots last week (order NW-20417). Can I still change the size?", None)
        .await;
    for (channel, result) in [("WhatsApp", whatsapp.err()), ("Messenger", messenger.err())] {
        if let Some(e) = result {
            tracing::warn!(error = %e, "the demo's sample {channel} message did not reach the relay");
        }
    }
}

/// The demo site (allowed on the demo shop's origin), the demo advisor, and one sample thread.
/// True on the first start (the sample thread was created).
pub async fn seed(store: &dyn crate::store::Store, demo_port: u16) -> Result<bool, AdminError> {
    let site = SiteSettings {
        key: DEMO_SITE_KEY.into(),
        name: "Northwind Outfitters".into(),
        greeting: "Hi there! Questions about sizes, orders or returns? Write to us here — the thread stays open, so you can come back to it any time.".into(),
        color: "#0f766e".into(),
        reply_time: "usually replies within an hour".into(),
        allowed_origins: vec![format!("http://127.0.0.1:{demo_port}"), format!("http://localhost:{demo_port}")],
        team_id: None,
    };
    let (site, created) = admin::put_site(store, site).await?;
    if created {
        // French visitors read the shop's own words in French too.
        let french = shared::SiteTexts {
            lang: "fr".into(),
            greeting: "Bonjour ! Une question sur une taille, une commande ou un retour ? Écrivez-nous ici : la discussion reste ouverte, vous pouvez y revenir quand vous voulez.".into(),
            reply_time: "répond en général en moins d'une heure".into(),
        };
        store.set_site_appearance(site.id, &site.position, &site.launcher, &site.avatar, &[french]).await?;
    }
    let advisor = match admin::create_account(store, DEMO_EMAIL, "Alex from Northwind", DEMO_PASSWORD, Role::Admin).await {
        Ok(a) => Some(a.info),
        Err(AdminError::Duplicate(_)) => None,
        Err(e) => return Err(e),
    };
    if let (true, Some(advisor)) = (created, advisor) {
        let thread = store.create_visitor(site.id, &secret::token_hash(&secret::new_token()), crate::now_ms()).await?;
        let lines = [
            (Author::Visitor, "Hello! Does the Trailhead 40 backpack fit airline carry-on limits?"),
            (
                Author::Advisor { id: advisor.id, name: advisor.name.clone() },
                "Hi! Yes — it's 55 × 35 × 20 cm, within most airlines' carry-on limits. Anything else I can help with?",
            ),
        ];
        for (i, (author, text)) in lines.into_iter().enumerate() {
            let new = NewMessage {
                conversation: thread.conversation,
                id: ClientMsgId(format!("demo-seed-{i}")),
                author,
                channel: Channel::Web,
                text: text.into(),
                now: crate::now_ms(),
                delivered: false,
                platform: None,
                attachments: Vec::new(),
                note: false,
            };
            store.append_message(new).await?;
        }
        store.mark_read(thread.conversation, crate::store::Reader::Advisors, 2).await?;
        return Ok(true);
    }
    Ok(false)
}

/// The demo shop's bot: a few FAQ rules for an outdoor shop, in English and French keywords. Seeded
/// once (an admin's later edits are kept); `enabled` only decides how it starts.
pub async fn seed_bot(store: &dyn crate::store::Store, enabled: bool) -> Result<(), crate::store::StoreError> {
    let Some(site) = store.site_by_key(DEMO_SITE_KEY).await? else { return Ok(()) };
    if store.bot(site.id).await?.is_some() {
        return Ok(());
    }
    let config = demo_bot(enabled);
    store.put_bot(site.id, &serde_json::to_string(&config).expect("serializes"), crate::now_ms()).await
}

pub fn demo_bot(enabled: bool) -> crate::bot::BotConfig {
    use crate::bot::{BotConfig, Rule};
    let rule = |keywords: &[&str], answer: &str, replies: &[&str]| Rule {
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        answer: answer.into(),
        quick_replies: replies.iter().map(|r| r.to_string()).collect(),
    };
    BotConfig {
        enabled,
        greeting: "Hi! I'm the Northwind assistant. I can help with shipping, returns and sizes — or put you through to a person at any time.".into(),
        suggestions: vec!["Shipping times".into(), "Returns".into(), "Size guide".into()],
        rules: vec![
            rule(
                &["shipping", "delivery", "deliver", "ship", "livraison", "livrer", "expedition"],
                "We ship within 1 business day. Delivery takes 2–4 days in Europe and is free from €50.",
                &["Track my order", "Returns"],
            ),
            rule(
                &["track", "where is my order", "order status", "suivi", "colis"],
                "Your tracking link is in the shipping e-mail we sent you. No e-mail after 2 days? A person can look it up.",
                &[],
            ),
            rule(
                &["return", "refund", "exchange", "retour", "rembourse", "echange"],
                "Returns are free within 30 days: pack the item unused, print the label from your order page, and drop it at any post office. Refunds land within 5 days.",
                &["Shipping times"],
            ),
            rule(
                &["size", "sizes", "fit", "taille", "pointure"],
                "Each product page has a size guide under the size picker. Between two sizes? Take the larger one for layering.",
                &["Returns"],
            ),
            rule(
                &["opening hours", "hours", "horaires", "ouvert"],
                "Our team answers Monday to Friday, 9:00–17:00. The assistant is here any time.",
                &[],
            ),
        ],
        collect_contact: false,
        webhook: None,
    }
}

/// The strict Content-Security-Policy the demo shop is served under: what a site that embeds the
/// widget needs, and nothing more (README, "Content-Security-Policy"). The widget's part: the
/// relay's origin for the loader and the wasm glue (`script-src`, no inline script), the
/// stylesheet (`style-src`; `'unsafe-inline'` for the launcher's style the loader writes into its
/// shadow root, as other chat widgets need too), `'wasm-unsafe-eval'` to compile the WebAssembly,
/// and the relay for its WebSocket and API (`connect-src`, in `http` and `ws` form).
pub fn shop_csp(relay_url: &str) -> String {
    let ws = relay_url.replacen("http", "ws", 1);
    format!(
        "default-src 'self'; script-src 'self' {relay_url} 'wasm-unsafe-eval'; style-src 'self' {relay_url} 'unsafe-inline'; \
         connect-src 'self' {relay_url} {ws}; img-src 'self' {relay_url} data:; media-src 'self' {relay_url}; font-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

#[derive(Clone)]
struct ShopState {
    dir: PathBuf,
    relay_url: String,
}

async fn serve_shop_file(State(shop): State<ShopState>, uri: Uri) -> Response {
    let rel = uri.path().trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') { format!("{rel}index.html") } else { rel.to_owned() };
    let rel = Path::new(&rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let path = shop.dir.join(rel);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let content_type = match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        _ => "application/octet-stream",
    };
    if ext == "html" {
        let body = String::from_utf8_lossy(&bytes).replace("{{RELAY_URL}}", &shop.relay_url);
        let csp = shop_csp(&shop.relay_url);
        return ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], [(header::CONTENT_SECURITY_POLICY, csp)], body)
            .into_response();
    }
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
}
