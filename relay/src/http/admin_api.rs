//! The admin API (`/api/v1/admin/...`): accounts, teams, sites and relay-wide settings. JSON only; every route needs a session
//! (401 `not_authenticated`), and all but `GET /api/v1/admin/me` need an admin (403 `forbidden`).
//! State-changing requests pass the same CSRF checks as the rest of the dashboard's API: JSON
//! content type and a same-origin `Origin` (see `http::auth`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use shared::{AdvisorId, ErrorCode, SiteTexts};

use crate::admin::{self, AdminError};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{require_same_origin, SignedIn};
use crate::origin::PublicUrl;
use crate::state::AppState;
use crate::settings::{self, BusinessHours, PutError, RoutingSettings, SecuritySettings, Setting};
use crate::store::{Account, AccountChanges, Role, Site, SiteSettings, StoreError, Team, TeamId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/me", get(me))
        .route("/api/v1/admin/advisors", get(list_advisors).post(create_advisor))
        .route("/api/v1/admin/advisors/{id}", patch(update_advisor))
        .route("/api/v1/admin/advisors/{id}/deactivate", post(deactivate))
        .route("/api/v1/admin/advisors/{id}/reactivate", post(reactivate))
        .route("/api/v1/admin/advisors/{id}/reset-password", post(reset_password))
        .route("/api/v1/admin/advisors/{id}/reset-two-factor", post(reset_two_factor))
        .route("/api/v1/admin/teams", get(list_teams).post(create_team))
        .route("/api/v1/admin/teams/{id}", patch(update_team).delete(delete_team))
        .route("/api/v1/admin/teams/{id}/members", put(set_members))
        .route("/api/v1/admin/sites", get(list_sites).post(create_site))
        .route("/api/v1/admin/sites/{key}", patch(update_site))
        .route("/api/v1/admin/sites/{key}/identity-secret", post(rotate_identity_secret))
        .route("/api/v1/admin/settings/routing", get(get_setting::<RoutingSettings>).put(put_setting::<RoutingSettings>))
        .route("/api/v1/admin/settings/business-hours", get(get_setting::<BusinessHours>).put(put_setting::<BusinessHours>))
        .route("/api/v1/admin/settings/security", get(get_setting::<SecuritySettings>).put(put_setting::<SecuritySettings>))
        .route_layer(middleware::from_fn(csrf))
}

/// CSRF for every state-changing admin request: same origin, and a JSON content type (which a
/// cross-site form can't send), even for a request without a body.
pub(crate) async fn csrf(Extension(PublicUrl(public_url)): Extension<PublicUrl>, request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Err(e) = require_same_origin(request.headers(), public_url.as_ref()) {
            return e.into_response();
        }
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "state-changing requests must have Content-Type: application/json",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Extractor: the signed-in account, which must be an active admin.
pub struct SignedInAdmin(pub Account);

impl FromRequestParts<AppState> for SignedInAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(advisor) = SignedIn::from_request_parts(parts, state).await?;
        let account = state.store.account(advisor.id).await?.ok_or_else(ApiError::not_authenticated)?;
        if account.role != Role::Admin {
            return Err(ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "Only admins can manage accounts and teams."));
        }
        Ok(SignedInAdmin(account))
    }
}

#[derive(Serialize)]
struct AccountView {
    id: i64,
    name: String,
    email: String,
    role: Role,
    active: bool,
    teams: Vec<TeamId>,
    capacity: u32,
    two_factor: bool,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.info.id.0,
            name: a.info.name,
            email: a.info.email,
            role: a.role,
            active: a.active,
            teams: a.teams,
            capacity: a.capacity,
            two_factor: a.two_factor,
        }
    }
}

#[derive(Serialize)]
struct TeamView {
    id: TeamId,
    name: String,
    members: Vec<i64>,
    first_response_target_ms: Option<i64>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        TeamView {
            id: t.id,
            name: t.name,
            members: t.members.into_iter().map(|a| a.0).collect(),
            first_response_target_ms: t.first_response_target_ms,
        }
    }
}

fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(message) => ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message),
        AdminError::Duplicate(what) => {
            ApiError::new(StatusCode::CONFLICT, ErrorCode::BadRequest, format!("this {what} is already taken"))
        }
        AdminError::Store(e) => store_error(e),
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::LastAdmin => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::BadRequest,
            "This is the last active admin: make another advisor an admin first.",
        ),
        StoreError::Duplicate(what) => {
            ApiError::new(StatusCode::CONFLICT, ErrorCode::BadRequest, format!("this {what} is already taken"))
        }
        e => e.into(),
    }
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(t)| t).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e.body_text()))
}

fn id(path: Result<Path<i64>, PathRejection>) -> ApiResult<i64> {
    path.map(|Path(id)| id).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found."))
}

/// The signed-in account with its role (any advisor may ask: the dashboard uses it to show admin pages).
async fn me(State(state): State<AppState>, SignedIn(advisor): SignedIn) -> ApiResult<Json<AccountView>> {
    let account = state.store.account(advisor.id).await?.ok_or_else(ApiError::not_authenticated)?;
    Ok(Json(account.into()))
}

async fn list_advisors(State(state): State<AppState>, _: SignedInAdmin) -> ApiResult<Json<Vec<AccountView>>> {
    Ok(Json(state.store.list_accounts().await?.into_iter().map(AccountView::from).collect()))
}

#[derive(Deserialize)]
struct NewAdvisor {
    email: String,
    name: String,
    #[serde(default = "default_role")]
    role: Role,
    /// Without one, a password is generated and answered once.
    password: Option<String>,
}

fn default_role() -> Role {
    Role::Advisor
}

#[derive(Serialize)]
struct CreatedAdvisor {
    advisor: AccountView,
    /// The generated one-time password, only when none was given: it is not stored in clear and
    /// can't be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

async fn create_advisor(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    new: Result<Json<NewAdvisor>, JsonRejection>,
) -> ApiResult<Response> {
    let new = body(new)?;
    // Hashing takes its turn like a login's (see `passwords`).
    let _turn = match state.passwords.turn().await {
        Ok(turn) => turn,
        Err(busy) => return Ok(busy.into_response()),
    };
    let (password, generated) = match new.password {
        Some(p) => (p, None),
        None => {
            let p = admin::generate_password();
            (p.clone(), Some(p))
        }
    };
    let account = admin::create_account(&*state.store, &new.email, &new.name, &password, new.role).await.map_err(admin_error)?;
    tracing::info!(admin = admin.info.id.0, advisor = account.info.id.0, role = account.role.as_str(), "advisor created");
    Ok((StatusCode::CREATED, Json(CreatedAdvisor { advisor: account.into(), password: generated })).into_response())
}

async fn deactivate(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<AccountView>> {
    let advisor = AdvisorId(id(path)?);
    if advisor == admin.info.id {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "You can't deactivate your own account."));
    }
    let account = state.store.set_advisor_active(advisor, false).await.map_err(store_error)?;
    // Open dashboards close now, not at their next request.
    let sockets = state.hub.end_advisor(advisor);
    // Their conversations go back to the queue at once.
    crate::routing::changed(&state);
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, sockets, "advisor deactivated; sessions ended");
    Ok(Json(account.into()))
}

async fn reactivate(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<AccountView>> {
    let advisor = AdvisorId(id(path)?);
    let account = state.store.set_advisor_active(advisor, true).await.map_err(store_error)?;
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, "advisor reactivated");
    Ok(Json(account.into()))
}

async fn reset_password(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Response> {
    let advisor = AdvisorId(id(path)?);
    let _turn = match state.passwords.turn().await {
        Ok(turn) => turn,
        Err(busy) => return Ok(busy.into_response()),
    };
    let password = admin::reset_password(&*state.store, advisor).await.map_err(admin_error)?;
    let sockets = state.hub.end_advisor(advisor);
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, sockets, "password reset; sessions ended");
    Ok(Json(serde_json::json!({ "password": password })).into_response())
}

/// For an advisor who lost their authenticator: two-factor off (they set it up again, at their next
/// login if it is required), and their sessions end.
async fn reset_two_factor(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<AccountView>> {
    let advisor = AdvisorId(id(path)?);
    state.store.disable_totp(advisor).await?;
    let account = state.store.account(advisor).await?.ok_or(StoreError::NotFound)?;
    state.store.end_sessions(advisor).await?;
    let sockets = state.hub.end_advisor(advisor);
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, sockets, "two-factor reset; sessions ended");
    Ok(Json(AccountView::from(Account { two_factor: false, ..account })))
}

async fn list_teams(State(state): State<AppState>, _: SignedInAdmin) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(state.store.list_teams().await?.into_iter().map(TeamView::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTeam {
    name: String,
    #[serde(default)]
    first_response_target_ms: Option<i64>,
}

async fn create_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    req: Result<Json<NewTeam>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    let name = admin::check_team_name(&req.name).map_err(admin_error)?;
    let target = check_target(req.first_response_target_ms)?;
    let mut team = state.store.create_team(name, crate::now_ms()).await.map_err(store_error)?;
    if target.is_some() {
        team = state.store.set_team_target(team.id, target).await.map_err(store_error)?;
    }
    Ok((StatusCode::CREATED, Json(TeamView::from(team))).into_response())
}

/// A PATCH field that can be left out (unchanged), `null` (cleared) or set.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    first_response_target_ms: Option<Option<i64>>,
}

/// A first-response target: at least a second, at most a week.
fn check_target(ms: Option<i64>) -> ApiResult<Option<i64>> {
    match ms {
        Some(ms) if !(1000..=7 * 24 * 3600 * 1000).contains(&ms) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "first-response target must be between 1 second and 7 days (in ms), or null for none",
        )),
        ms => Ok(ms),
    }
}

async fn update_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<TeamPatch>, JsonRejection>,
) -> ApiResult<Json<TeamView>> {
    let team = TeamId(id(path)?);
    let req = body(req)?;
    let name = req.name.as_deref().map(admin::check_team_name).transpose().map_err(admin_error)?;
    let target = req.first_response_target_ms.map(check_target).transpose()?;
    let mut view = None;
    if let Some(name) = name {
        view = Some(state.store.rename_team(team, name).await.map_err(store_error)?);
    }
    if let Some(target) = target {
        view = Some(state.store.set_team_target(team, target).await.map_err(store_error)?);
        crate::routing::changed(&state);
    }
    let view = match view {
        Some(v) => v,
        None => state.store.list_teams().await?.into_iter().find(|t| t.id == team).ok_or(StoreError::NotFound)?,
    };
    Ok(Json(view.into()))
}

async fn delete_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<StatusCode> {
    let team = TeamId(id(path)?);
    state.store.delete_team(team).await?;
    // Its sites and conversations now belong to no team: everyone may see them.
    state.hub.forget_team(team.0);
    crate::access::refresh_online(&state).await;
    crate::routing::changed(&state);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Members {
    advisors: Vec<i64>,
}

async fn set_members(
    State(state): State<AppState>,
    _: SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<Members>, JsonRejection>,
) -> ApiResult<Json<TeamView>> {
    let team = TeamId(id(path)?);
    let members: Vec<AdvisorId> = body(req)?.advisors.into_iter().map(AdvisorId).collect();
    let team = state.store.set_team_members(team, &members).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such team, or no such advisor."),
        e => store_error(e),
    })?;
    // Open dashboards of those who left the team drop its conversations now.
    crate::access::refresh_online(&state).await;
    crate::routing::changed(&state);
    Ok(Json(team.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvisorPatch {
    name: Option<String>,
    role: Option<Role>,
    capacity: Option<u32>,
}

/// The most conversations one advisor can be given at once.
const MAX_CAPACITY: u32 = 100;

async fn update_advisor(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<AdvisorPatch>, JsonRejection>,
) -> ApiResult<Json<AccountView>> {
    let advisor = AdvisorId(id(path)?);
    let req = body(req)?;
    let name = match req.name.as_deref().map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 100 => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "advisor name must be 1-100 characters"));
        }
        n => n.map(str::to_owned),
    };
    if req.capacity.is_some_and(|c| c > MAX_CAPACITY) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("capacity must be between 0 and {MAX_CAPACITY} conversations"),
        ));
    }
    let changes = AccountChanges { name, role: req.role, capacity: req.capacity };
    let account = state.store.update_account(advisor, &changes).await.map_err(store_error)?;
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, role = ?req.role, capacity = ?req.capacity, "advisor updated");
    if changes.role.is_some() {
        // A demoted admin's open dashboards drop what only admins see.
        crate::access::refresh(&state, advisor).await;
    }
    if changes.role.is_some() || changes.capacity.is_some() {
        crate::routing::changed(&state);
    }
    Ok(Json(account.into()))
}

#[derive(Serialize)]
struct SiteView {
    key: String,
    name: String,
    greeting: String,
    color: String,
    reply_time: String,
    allowed_origins: Vec<String>,
    team_id: Option<TeamId>,
    position: String,
    launcher: String,
    avatar: String,
    /// Shown to admins only (this API): what the site's server signs user ids with.
    identity_secret: Option<String>,
    require_identity: bool,
    translations: Vec<SiteTexts>,
}

impl From<Site> for SiteView {
    fn from(s: Site) -> Self {
        SiteView {
            key: s.key,
            name: s.name,
            greeting: s.greeting,
            color: s.color,
            reply_time: s.reply_time,
            allowed_origins: s.allowed_origins,
            team_id: s.team_id,
            position: s.position,
            launcher: s.launcher,
            avatar: s.avatar,
            identity_secret: s.identity_secret,
            require_identity: s.require_identity,
            translations: s.translations,
        }
    }
}

async fn list_sites(State(state): State<AppState>, _: SignedInAdmin) -> ApiResult<Json<Vec<SiteView>>> {
    Ok(Json(state.store.list_sites().await?.into_iter().map(SiteView::from).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSite {
    /// Generated when absent.
    key: Option<String>,
    name: String,
    #[serde(default)]
    greeting: String,
    #[serde(default = "default_color")]
    color: String,
    #[serde(default)]
    reply_time: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    team_id: Option<TeamId>,
}

fn default_color() -> String {
    "#4f46e5".into()
}

fn site_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Store(StoreError::NotFound) => {
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "No such team for this site.")
        }
        e => admin_error(e),
    }
}

const MAX_GREETING_CHARS: usize = 500;

fn check_texts(name: &str, greeting: &str) -> ApiResult<()> {
    if name.chars().count() > 100 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "site name must be at most 100 characters"));
    }
    if greeting.chars().count() > MAX_GREETING_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("greeting must be at most {MAX_GREETING_CHARS} characters"),
        ));
    }
    Ok(())
}

async fn create_site(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    req: Result<Json<NewSite>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    check_texts(&req.name, &req.greeting)?;
    let key = req.key.unwrap_or_else(|| format!("site-{}", crate::secret::new_token()[..12].to_lowercase().replace(['-', '_'], "x")));
    let settings = SiteSettings {
        key,
        name: req.name.trim().to_owned(),
        greeting: req.greeting,
        color: req.color,
        reply_time: req.reply_time,
        allowed_origins: req.allowed_origins,
        team_id: req.team_id,
    };
    let settings = admin::check_site(settings).map_err(admin_error)?;
    let site = state.store.create_site(&settings, crate::now_ms()).await.map_err(|e| site_error(e.into()))?;
    tracing::info!(admin = admin.info.id.0, site = %site.key, "site created");
    if site.team_id.is_some() {
        crate::routing::changed(&state);
    }
    Ok((StatusCode::CREATED, Json(SiteView::from(site))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    name: Option<String>,
    greeting: Option<String>,
    color: Option<String>,
    reply_time: Option<String>,
    allowed_origins: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    team_id: Option<Option<TeamId>>,
    position: Option<String>,
    launcher: Option<String>,
    avatar: Option<String>,
    require_identity: Option<bool>,
    translations: Option<Vec<SiteTexts>>,
}

fn bad(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
}

/// The launcher's corner and icon, and the avatar URL, as an admin may set them.
fn check_appearance(position: &str, launcher: &str, avatar: &str) -> ApiResult<()> {
    if !matches!(position, "right" | "left") {
        return Err(bad("position must be \"right\" or \"left\""));
    }
    if !matches!(launcher, "chat" | "help" | "message") {
        return Err(bad("launcher must be \"chat\", \"help\" or \"message\""));
    }
    let host = avatar.strip_prefix("https://").unwrap_or("");
    if !avatar.is_empty()
        && (host.is_empty() || host.starts_with('/') || avatar.len() > 2048 || avatar.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\')))
    {
        return Err(bad("avatar must be an https:// URL of an image (or empty)"));
    }
    Ok(())
}

/// The languages a site's texts may be written in: the widget's.
const TRANSLATION_LANGS: [&str; 2] = ["en", "fr"];
const MAX_REPLY_TIME_CHARS: usize = 100;

/// The texts in other languages as an admin may set them: one per language the widget speaks,
/// trimmed, and the ones left empty dropped.
fn check_translations(translations: Vec<SiteTexts>) -> ApiResult<Vec<SiteTexts>> {
    let mut kept: Vec<SiteTexts> = Vec::new();
    for t in translations {
        let lang = t.lang.trim().to_ascii_lowercase();
        if !TRANSLATION_LANGS.contains(&lang.as_str()) {
            return Err(bad(&format!("translations: {:?} is not a language the widget speaks (en, fr)", t.lang)));
        }
        if kept.iter().any(|k| k.lang == lang) {
            return Err(bad(&format!("translations: {lang} is given twice")));
        }
        let (greeting, reply_time) = (t.greeting.trim().to_owned(), t.reply_time.trim().to_owned());
        if greeting.chars().count() > MAX_GREETING_CHARS {
            return Err(bad(&format!("translations: the {lang} greeting must be at most {MAX_GREETING_CHARS} characters")));
        }
        if reply_time.chars().count() > MAX_REPLY_TIME_CHARS {
            return Err(bad(&format!("translations: the {lang} reply time must be at most {MAX_REPLY_TIME_CHARS} characters")));
        }
        if !greeting.is_empty() || !reply_time.is_empty() {
            kept.push(SiteTexts { lang, greeting, reply_time });
        }
    }
    Ok(kept)
}

async fn update_site(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    Path(key): Path<String>,
    req: Result<Json<SitePatch>, JsonRejection>,
) -> ApiResult<Json<SiteView>> {
    let req = body(req)?;
    let site = state
        .store
        .site_by_key(&key)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No site with this key."))?;
    let team_changed = req.team_id.is_some_and(|t| t != site.team_id);
    let settings = SiteSettings {
        key: site.key,
        name: req.name.map(|n| n.trim().to_owned()).unwrap_or(site.name),
        greeting: req.greeting.unwrap_or(site.greeting),
        color: req.color.unwrap_or(site.color),
        reply_time: req.reply_time.unwrap_or(site.reply_time),
        allowed_origins: req.allowed_origins.unwrap_or(site.allowed_origins),
        team_id: req.team_id.unwrap_or(site.team_id),
    };
    check_texts(&settings.name, &settings.greeting)?;
    let position = req.position.unwrap_or(site.position);
    let launcher = req.launcher.unwrap_or(site.launcher);
    let avatar = req.avatar.map(|a| a.trim().to_owned()).unwrap_or(site.avatar);
    check_appearance(&position, &launcher, &avatar)?;
    let translations = match req.translations {
        Some(t) => check_translations(t)?,
        None => site.translations,
    };
    let require = req.require_identity.unwrap_or(site.require_identity);
    if require && site.identity_secret.is_none() {
        return Err(bad("generate an identity secret first (POST …/identity-secret), then require verified identities"));
    }
    let settings = admin::check_site(settings).map_err(admin_error)?;
    state.store.set_site_appearance(site.id, &position, &launcher, &avatar, &translations).await?;
    state.store.set_site_identity(site.id, site.identity_secret.as_deref(), require).await?;
    let site = state.store.update_site(&settings).await.map_err(|e| site_error(e.into()))?;
    tracing::info!(admin = admin.info.id.0, site = %site.key, "site updated");
    if team_changed {
        crate::routing::changed(&state);
    }
    Ok(Json(site.into()))
}

/// A new identity secret for the site (the old one stops verifying at once), shown in the answer.
async fn rotate_identity_secret(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    Path(key): Path<String>,
) -> ApiResult<Json<SiteView>> {
    let site = state
        .store
        .site_by_key(&key)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No site with this key."))?;
    let secret = crate::identity::new_secret();
    state.store.set_site_identity(site.id, Some(&secret), site.require_identity).await?;
    tracing::info!(admin = admin.info.id.0, site = %site.key, "identity secret rotated");
    let site = state.store.site_by_key(&key).await?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No site with this key."))?;
    Ok(Json(site.into()))
}

async fn get_setting<S: Setting + Serialize + Send>(State(state): State<AppState>, _: SignedInAdmin) -> ApiResult<Json<S>> {
    Ok(Json(settings::get::<S>(&*state.store).await?))
}

async fn put_setting<S: Setting + Serialize + Send + Sync + 'static>(
    State(state): State<AppState>,
    SignedInAdmin(admin): SignedInAdmin,
    req: Result<Json<S>, JsonRejection>,
) -> ApiResult<Json<S>> {
    let value = body(req)?;
    settings::put(&*state.store, &value).await.map_err(|e| match e {
        PutError::Invalid(e) => ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e.to_string()),
        PutError::Store(e) => e.into(),
    })?;
    tracing::info!(admin = admin.info.id.0, setting = S::KEY, "setting changed");
    if S::KEY == RoutingSettings::KEY {
        crate::routing::changed(&state);
    }
    Ok(Json(value))
}
