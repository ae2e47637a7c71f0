//! The admin API (`/api/v1/admin/...`): accounts and teams. JSON only; every route needs a session
//! (401 `not_authenticated`), and all but `GET /api/v1/admin/me` need an admin (403 `forbidden`).
//! State-changing requests pass the same CSRF checks as the rest of the dashboard's API: JSON
//! content type and a same-origin `Origin` (see `http::auth`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shared::{AdvisorId, ErrorCode};

use crate::admin::{self, AdminError};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{require_same_origin, SignedIn};
use crate::state::AppState;
use crate::store::{Account, Role, StoreError, Team, TeamId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/me", get(me))
        .route("/api/v1/admin/advisors", get(list_advisors).post(create_advisor))
        .route("/api/v1/admin/advisors/{id}/deactivate", post(deactivate))
        .route("/api/v1/admin/advisors/{id}/reactivate", post(reactivate))
        .route("/api/v1/admin/advisors/{id}/reset-password", post(reset_password))
        .route("/api/v1/admin/teams", get(list_teams).post(create_team))
        .route("/api/v1/admin/teams/{id}", axum::routing::patch(rename_team).delete(delete_team))
        .route("/api/v1/admin/teams/{id}/members", put(set_members))
        .route_layer(middleware::from_fn(csrf))
}

/// CSRF for every state-changing admin request: same origin, and a JSON content type (which a
/// cross-site form can't send), even for a request without a body.
pub(crate) async fn csrf(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Err(e) = require_same_origin(request.headers()) {
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
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView { id: a.info.id.0, name: a.info.name, email: a.info.email, role: a.role, active: a.active, teams: a.teams }
    }
}

#[derive(Serialize)]
struct TeamView {
    id: TeamId,
    name: String,
    members: Vec<i64>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        TeamView { id: t.id, name: t.name, members: t.members.into_iter().map(|a| a.0).collect() }
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
) -> ApiResult<Json<serde_json::Value>> {
    let advisor = AdvisorId(id(path)?);
    let password = admin::reset_password(&*state.store, advisor).await.map_err(admin_error)?;
    let sockets = state.hub.end_advisor(advisor);
    tracing::info!(admin = admin.info.id.0, advisor = advisor.0, sockets, "password reset; sessions ended");
    Ok(Json(serde_json::json!({ "password": password })))
}

async fn list_teams(State(state): State<AppState>, _: SignedInAdmin) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(state.store.list_teams().await?.into_iter().map(TeamView::from).collect()))
}

#[derive(Deserialize)]
struct TeamName {
    name: String,
}

async fn create_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    req: Result<Json<TeamName>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(req)?;
    let name = admin::check_team_name(&req.name).map_err(admin_error)?;
    let team = state.store.create_team(name, crate::now_ms()).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(TeamView::from(team))).into_response())
}

async fn rename_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
    req: Result<Json<TeamName>, JsonRejection>,
) -> ApiResult<Json<TeamView>> {
    let team = TeamId(id(path)?);
    let req = body(req)?;
    let name = admin::check_team_name(&req.name).map_err(admin_error)?;
    Ok(Json(state.store.rename_team(team, name).await.map_err(store_error)?.into()))
}

async fn delete_team(
    State(state): State<AppState>,
    _: SignedInAdmin,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<StatusCode> {
    state.store.delete_team(TeamId(id(path)?)).await?;
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
    Ok(Json(team.into()))
}
