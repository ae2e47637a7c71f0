//! Configuration: flags and environment variables (clap), with defaults that need nothing.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::StartError;
use crate::store::SqliteStore;
use crate::SharedStore;

#[derive(Debug, Parser)]
#[command(name = "confab-relay", version, about = "Confab relay: web chat, WhatsApp and Messenger in one inbox")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay (the default).
    Serve(ServeArgs),
    /// Run the relay with a demo site, a demo advisor and the demo shop on a second port.
    Demo(DemoArgs),
    /// Manage advisor accounts.
    #[command(subcommand)]
    Advisor(AdvisorCommand),
    /// Manage sites (where the widget may be embedded).
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CONFAB_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data: DataArgs,
    /// The relay's public URL (e.g. https://chat.example.com). When it is https, cookies get `Secure`.
    #[arg(long, env = "CONFAB_PUBLIC_URL", global = true)]
    pub public_url: Option<url::Url>,
    #[command(flatten)]
    pub meta: MetaArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub login: LoginArgs,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
    #[command(flatten)]
    pub outbound: OutboundArgs,
}

/// Behind a reverse proxy: whose forwarding headers to believe (see `http::client_ip`).
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// The address or CIDR network of a reverse proxy in front of the relay (repeat, or separate
    /// with commas). Only from these peers are `X-Forwarded-For` / `Forwarded` believed for the
    /// client's IP, and `X-Forwarded-Proto: https` for `Secure` cookies. Without it, the TCP peer
    /// is the client and those headers are ignored.
    #[arg(long = "trusted-proxy", env = "CONFAB_TRUSTED_PROXY", value_name = "CIDR", value_delimiter = ',',
          value_parser = crate::http::client_ip::parse_network, global = true)]
    pub trusted_proxy: Vec<ipnet::IpNet>,
}

/// Login rate limits (see `http::login_limit`). Failures count per client IP (an IPv6 /64) and
/// e-mail, per client IP, and per account, in fixed windows.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Failed logins allowed per client IP and e-mail in one window.
    #[arg(long, env = "CONFAB_LOGIN_FAILURES_PER_IP_EMAIL", default_value_t = 5, global = true)]
    pub login_failures_per_ip_email: u32,
    /// Failed logins allowed per client IP, any e-mail, in one window.
    #[arg(long, env = "CONFAB_LOGIN_FAILURES_PER_IP", default_value_t = 50, global = true)]
    pub login_failures_per_ip: u32,
    /// Failed logins allowed per account from all client IPs in one window (a client the account
    /// logged in from during the last 30 days is not held to it).
    #[arg(long, env = "CONFAB_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 20, global = true)]
    pub login_failures_per_account: u32,
    /// The window, in seconds: past a limit, logins wait until the window that its first failure
    /// opened ends.
    #[arg(long, env = "CONFAB_LOGIN_WINDOW_SECS", default_value_t = 900, global = true)]
    pub login_window_secs: u64,
    /// Password hashes (argon2id, ~19 MiB each) run at once; more wait up to 3 s, then get 429.
    /// Default: one per core, at least 2.
    #[arg(long, env = "CONFAB_PASSWORD_HASHES_AT_ONCE", global = true)]
    pub password_hashes_at_once: Option<usize>,
}

impl LoginArgs {
    pub fn config(&self) -> Result<LoginConfig, StartError> {
        let limits = crate::http::login_limit::LoginLimits {
            per_client_email: self.login_failures_per_ip_email,
            per_client: self.login_failures_per_ip,
            per_account: self.login_failures_per_account,
            window: std::time::Duration::from_secs(self.login_window_secs),
        };
        if [limits.per_client_email, limits.per_client, limits.per_account].contains(&0) || limits.window.is_zero() {
            return Err(StartError::Config("login limits and --login-window-secs must be at least 1".into()));
        }
        if self.password_hashes_at_once == Some(0) {
            return Err(StartError::Config("--password-hashes-at-once must be at least 1".into()));
        }
        let hashes_at_once = self.password_hashes_at_once.unwrap_or_else(crate::passwords::PasswordHashing::default_at_once);
        Ok(LoginConfig { limits, hashes_at_once })
    }
}

/// Login limits and password hashing, as the relay runs them.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub limits: crate::http::login_limit::LoginLimits,
    pub hashes_at_once: usize,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            limits: Default::default(),
            hashes_at_once: crate::passwords::PasswordHashing::default_at_once(),
        }
    }
}

/// The policy for every URL a visitor, admin or platform hands the relay (Web Push endpoints, the
/// bot webhook, media links): https only, no private or local addresses, no redirects.
#[derive(Debug, Clone, Args)]
pub struct OutboundArgs {
    /// Also fetch plain http:// URLs. For tests and the demo, whose stand-ins speak plain HTTP;
    /// never in production.
    #[arg(long, env = "CONFAB_OUTBOUND_ALLOW_HTTP", global = true)]
    pub outbound_allow_http: bool,
    /// A network outbound requests may reach although it is private or local, e.g. 127.0.0.0/8
    /// for stand-ins on this machine, or 10.1.2.0/24 for a bot on the company network (repeat,
    /// or separate with commas). Off by default.
    #[arg(long, env = "CONFAB_OUTBOUND_ALLOW_NET", value_delimiter = ',', value_parser = crate::outbound::parse_net, global = true)]
    pub outbound_allow_net: Vec<ipnet::IpNet>,
    /// Outbound requests under way at once (pushes, webhook calls, media downloads); more wait.
    #[arg(long, env = "CONFAB_OUTBOUND_MAX_REQUESTS", default_value_t = crate::outbound::DEFAULT_MAX_REQUESTS as u32,
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub outbound_max_requests: u32,
}

impl OutboundArgs {
    pub fn config(&self) -> crate::outbound::OutboundConfig {
        crate::outbound::OutboundConfig {
            allow_http: self.outbound_allow_http,
            allow_nets: self.outbound_allow_net.clone(),
            max_requests: self.outbound_max_requests as usize,
        }
    }
}

/// E-mailing visitors who left when an advisor replies (docs/NOTIFY.md).
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// The SMTP server: `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host` (TLS). Without it, no e-mail is sent.
    #[arg(long, env = "CONFAB_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// The sender of notification e-mails, e.g. "Shop support <support@shop.example>".
    #[arg(long, env = "CONFAB_MAIL_FROM", default_value = "Confab <confab@localhost>", global = true)]
    pub mail_from: String,
    /// Milliseconds between an advisor's first reply to a visitor who left and the e-mail: replies
    /// in that window go out together in one e-mail.
    #[arg(long, env = "CONFAB_NOTIFY_BATCH_MS", default_value_t = 120_000, global = true)]
    pub notify_batch_ms: u64,
    /// Offer Web Push: the widget's "Notify me in this browser" (the site hosts the service worker,
    /// demo-site/confab-sw.js). The relay makes its VAPID key pair once and keeps it.
    #[arg(long, env = "CONFAB_WEB_PUSH", global = true)]
    pub web_push: bool,
    /// VAPID contact for push services (`mailto:…` or `https://…`); default: mailto: the sender.
    #[arg(long, env = "CONFAB_VAPID_SUBJECT", global = true)]
    pub vapid_subject: Option<String>,
    /// Notification e-mails one address gets in 24 hours at most (any site, any visitor): anyone
    /// can type anyone's address into a widget.
    #[arg(long, env = "CONFAB_MAILS_PER_ADDRESS", default_value_t = crate::notify::DEFAULT_MAILS_PER_ADDRESS, global = true)]
    pub mails_per_address: u32,
    /// Notification e-mails one site sends in 24 hours at most.
    #[arg(long, env = "CONFAB_MAILS_PER_SITE", default_value_t = crate::notify::DEFAULT_MAILS_PER_SITE, global = true)]
    pub mails_per_site: u32,
}

impl NotifyArgs {
    pub fn config(&self) -> Result<crate::notify::NotifyConfig, StartError> {
        if let Some(url) = &self.smtp_url {
            crate::notify::mail::SmtpMailer::new(url, &self.mail_from).map_err(StartError::Config)?;
        }
        let sender = self.mail_from.rsplit_once('<').map_or(self.mail_from.as_str(), |(_, a)| a.trim_end_matches('>')).trim();
        Ok(crate::notify::NotifyConfig {
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            batch: std::time::Duration::from_millis(self.notify_batch_ms),
            web_push: self.web_push,
            vapid_subject: self.vapid_subject.clone().unwrap_or_else(|| format!("mailto:{sender}")),
            max_mails_per_address: self.mails_per_address,
            max_mails_per_site: self.mails_per_site,
        })
    }
}

/// WhatsApp Cloud API and Messenger Platform. The bridge is on when the app secret and the verify
/// token are set; webhooks arrive at `/webhooks/whatsapp` and `/webhooks/messenger`.
#[derive(Debug, Clone, Args)]
pub struct MetaArgs {
    /// The Meta app's secret (App Dashboard → Settings → Basic): webhook signatures are checked with it.
    #[arg(long, env = "CONFAB_META_APP_SECRET", hide_env_values = true, global = true)]
    pub meta_app_secret: Option<String>,
    /// The verify token typed into the App Dashboard's webhook settings.
    #[arg(long, env = "CONFAB_META_VERIFY_TOKEN", hide_env_values = true, global = true)]
    pub meta_verify_token: Option<String>,
    /// Graph API base URL (a local stand-in in tests and the demo).
    #[arg(long, env = "CONFAB_GRAPH_BASE_URL", default_value = "https://graph.facebook.com", global = true)]
    pub graph_base_url: String,
    #[arg(long, env = "CONFAB_GRAPH_API_VERSION", default_value = "v23.0", global = true)]
    pub graph_api_version: String,
    /// The WhatsApp business phone number's id, and the access token that sends from it.
    #[arg(long, env = "CONFAB_WHATSAPP_PHONE_NUMBER_ID", global = true)]
    pub whatsapp_phone_number_id: Option<String>,
    #[arg(long, env = "CONFAB_WHATSAPP_TOKEN", hide_env_values = true, global = true)]
    pub whatsapp_token: Option<String>,
    /// The Facebook Page's id, and its Page access token.
    #[arg(long, env = "CONFAB_MESSENGER_PAGE_ID", global = true)]
    pub messenger_page_id: Option<String>,
    #[arg(long, env = "CONFAB_MESSENGER_TOKEN", hide_env_values = true, global = true)]
    pub messenger_token: Option<String>,
    /// The site whose inbox new WhatsApp and Messenger customers join (default: the oldest site).
    #[arg(long, env = "CONFAB_CHANNELS_SITE", global = true)]
    pub channels_site: Option<String>,
    /// The WhatsApp business number as customers dial it (e.g. +1 555 010 0200): the widget's
    /// "Continue on WhatsApp" link opens a chat with it. Without it, no WhatsApp link is offered.
    #[arg(long, env = "CONFAB_WHATSAPP_NUMBER", global = true)]
    pub whatsapp_number: Option<String>,
    /// A JSON file listing the approved WhatsApp templates advisors may send outside the 24-hour
    /// window: `[{"name": "follow_up", "language": "en_US", "text": "Hi {{1}}, …"}]`, as approved
    /// in WhatsApp Manager (the text is what advisors see and what the thread shows).
    #[arg(long, env = "CONFAB_WHATSAPP_TEMPLATES", global = true)]
    pub whatsapp_templates: Option<PathBuf>,
    /// Where "Continue on WhatsApp" links point (a local stand-in in the demo).
    #[arg(long, env = "CONFAB_WA_ME_URL", default_value = "https://wa.me", global = true)]
    pub wa_me_url: url::Url,
    /// Where "Continue on Messenger" links point.
    #[arg(long, env = "CONFAB_M_ME_URL", default_value = "https://m.me", global = true)]
    pub m_me_url: url::Url,
}

impl Default for MetaArgs {
    fn default() -> Self {
        MetaArgs {
            meta_app_secret: None,
            meta_verify_token: None,
            graph_base_url: "https://graph.facebook.com".into(),
            graph_api_version: "v23.0".into(),
            whatsapp_phone_number_id: None,
            whatsapp_token: None,
            messenger_page_id: None,
            messenger_token: None,
            channels_site: None,
            whatsapp_number: None,
            whatsapp_templates: None,
            wa_me_url: url::Url::parse("https://wa.me").expect("valid"),
            m_me_url: url::Url::parse("https://m.me").expect("valid"),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Where the relay keeps its data (the SQLite database, and attachment files under
    /// `attachments/`) [default: ./confab-data; for `demo`: ./confab-demo-data]
    // No clap default: `demo` has its own, and must know whether a directory was chosen.
    #[arg(long, env = "CONFAB_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// Where `serve` and the admin commands keep their data unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "./confab-data";

impl DataArgs {
    /// The chosen directory, else `default`.
    pub fn dir_or(&self, default: &str) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(default))
    }
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of the demo shop (a different origin from the relay, as on a real site).
    #[arg(long, env = "CONFAB_DEMO_LISTEN", default_value = "127.0.0.1:8081")]
    pub demo_listen: SocketAddr,
    /// The demo shop's pages.
    #[arg(long, env = "CONFAB_DEMO_SITE_DIR", default_value = "demo-site")]
    pub demo_site_dir: PathBuf,
    /// Address of the phone page and the local stand-in for Meta's Graph API (used unless a real
    /// WhatsApp/Messenger app is configured with --meta-app-secret).
    #[arg(long, env = "CONFAB_DEMO_PHONE_LISTEN", default_value = "127.0.0.1:8082")]
    pub phone_listen: SocketAddr,
    /// Whether the demo site's bot (seeded with a few FAQ rules on the first start) answers new
    /// conversations first; `--demo-bot false` seeds it switched off (Settings → Bot turns it on).
    #[arg(long, env = "CONFAB_DEMO_BOT", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_bot: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdvisorCommand {
    /// Create an advisor account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password (at least 8 characters). Prefer CONFAB_PASSWORD, which stays out of shell
        /// history; without either, it is asked for on the terminal.
        #[arg(long, env = "CONFAB_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// `admin` (also manages accounts and teams) or `advisor`. The very first account is
        /// always an admin.
        #[arg(long, value_parser = ["admin", "advisor"], default_value = "advisor")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create a site, or update it if the key exists.
    Create {
        /// Public key used in the script tag's data-site.
        #[arg(long)]
        key: String,
        /// Company name shown in the widget.
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the widget, e.g. https://shop.example (repeat for more).
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        #[arg(long, default_value = "Hi! Ask us anything — we'll answer right here.")]
        greeting: String,
        #[arg(long, default_value = "#4f46e5")]
        color: String,
        /// The usual reply time in words, shown to visitors when no advisor is online.
        #[arg(long, default_value = "usually replies within a few hours")]
        reply_time: String,
    },
}

/// What a running relay needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub public_url: Option<url::Url>,
    /// The WhatsApp/Messenger bridge, when configured.
    pub meta: Option<crate::channels::bridge::MetaConfig>,
    /// E-mail notifications to visitors who left.
    pub notify: crate::notify::NotifyConfig,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Login limits and password hashing.
    pub login: LoginConfig,
    /// Limits on what anonymous visitors may do (see `limits`).
    pub limits: crate::limits::LimitArgs,
    /// What outbound requests to visitor-, admin- and platform-supplied URLs may reach.
    pub outbound: crate::outbound::OutboundConfig,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            public_url: None,
            meta: None,
            notify: Default::default(),
            trusted_proxies: Default::default(),
            login: Default::default(),
            limits: Default::default(),
            outbound: Default::default(),
        }
    }

    pub fn from_args(args: &ServeArgs) -> Result<Self, StartError> {
        Ok(Config {
            data_dir: args.data.dir_or(DEFAULT_DATA_DIR),
            public_url: args.public_url.clone(),
            meta: crate::channels::bridge::MetaConfig::from_args(&args.meta)?,
            notify: args.notify.config()?,
            trusted_proxies: crate::http::client_ip::TrustedProxies::new(args.proxy.trusted_proxy.clone()),
            login: args.login.config()?,
            limits: args.limits.clone(),
            outbound: args.outbound.config(),
        })
    }

    /// Cookies get `Secure` when the relay is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// Create the data directory if needed, check it is writable, open the database and migrate it.
    pub async fn open_store(&self) -> Result<SharedStore, StartError> {
        let dir = &self.data_dir;
        // Readable by the relay's user only: it holds every conversation, and the keys.
        crate::owner_only::create_dir(dir).map_err(|source| StartError::DataDir { path: dir.clone(), source })?;
        let probe = dir.join(".confab-write-test");
        std::fs::write(&probe, b"ok").map_err(|source| StartError::DataDir { path: dir.clone(), source })?;
        let _ = std::fs::remove_file(&probe);
        let path = dir.join("confab.sqlite3");
        let store = SqliteStore::open(&path)
            .await
            .map_err(|source| StartError::Database { path: path.clone(), source })?;
        Ok(std::sync::Arc::new(store))
    }
}
