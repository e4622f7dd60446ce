//! `/api/v4/teams…`: creating and reading teams, reading and adding members.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::super::core::events;
use super::super::core::shared::Shared;
use super::super::core::team_joins::{group_denied, normalize_domains};
use super::super::error::{ApiResult, AppError};
use super::super::model::{null_as_default, Team, TeamMember};
use super::request::{parse_body, path_id, path_name, Caller, Paging};
use super::users::{created, resolve_user_id};
use crate::ids::now_ms;

pub(crate) fn missing_team() -> AppError {
    AppError::new(
        404,
        "app.team.get.find.app_error",
        "Unable to find the existing team.",
    )
}

/// What the caller may see of a team (`Sanitize` for those without `manage_team`).
fn visible(caller: &Caller, team: &Team) -> Team {
    if caller.is_admin() {
        team.clone()
    } else {
        team.sanitized()
    }
}

/// `GET /teams`: every team for admins; the open teams for others.
pub(crate) async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> ApiResult<Json<Vec<Team>>> {
    let mut teams: Vec<Team> = state
        .db()
        .teams
        .values()
        .filter(|t| t.delete_at == 0 && (caller.is_admin() || t.allow_open_invite))
        .map(|t| visible(&caller, t))
        .collect();
    teams.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(Json(paging.apply(teams)?))
}

fn check_view(state: &Shared, caller: &Caller, team: &Team) -> ApiResult<()> {
    let db = state.db();
    if db.can_view_team(&caller.user, &team.id) || (team.allow_open_invite && team.team_type == "O")
    {
        Ok(())
    } else {
        Err(caller.denied("view_team"))
    }
}

/// `GET /teams/{team_id}`.
pub(crate) async fn get_one(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
) -> ApiResult<Json<Team>> {
    path_id("team_id", &team_id)?;
    let team = state
        .db()
        .teams
        .get(&team_id)
        .cloned()
        .ok_or_else(missing_team)?;
    check_view(&state, &caller, &team)?;
    Ok(Json(visible(&caller, &team)))
}

/// `GET /teams/name/{name}`.
pub(crate) async fn by_name(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Team>> {
    path_name(&name, false)?;
    let team = state.db().team_by_name(&name).cloned().ok_or_else(|| {
        AppError::new(
            404,
            "app.team.get_by_name.missing.app_error",
            "Unable to find the existing team.",
        )
    })?;
    check_view(&state, &caller, &team)?;
    Ok(Json(visible(&caller, &team)))
}

/// `GET /users/{user_id}/teams`: the user's teams (the user itself or an admin).
pub(crate) async fn of_user(
    State(state): State<Shared>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Vec<Team>>> {
    let user_id = resolve_user_id(&caller, &user_id)?;
    if user_id != caller.user.id {
        caller.require_admin("manage_system")?;
    }
    let db = state.db();
    let mut teams: Vec<Team> = db
        .teams
        .values()
        .filter(|t| t.delete_at == 0 && db.is_team_member(&t.id, &user_id))
        .map(|t| visible(&caller, t))
        .collect();
    teams.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(Json(teams))
}

#[derive(Deserialize)]
pub(crate) struct MembersQuery {
    #[serde(default)]
    exclude_deleted_users: Option<String>,
}

/// `GET /teams/{team_id}/members` (`exclude_deleted_users=true`: not the memberships of
/// deactivated accounts).
pub(crate) async fn members(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
    Query(paging): Query<Paging>,
    Query(options): Query<MembersQuery>,
) -> ApiResult<Json<Vec<TeamMember>>> {
    let exclude_deleted = options.exclude_deleted_users.as_deref() == Some("true");
    path_id("team_id", &team_id)?;
    let db = state.db();
    if !db.can_view_team(&caller.user, &team_id) {
        return Err(caller.denied("view_team"));
    }
    let list: Vec<TeamMember> = db
        .team_members
        .values()
        .filter(|m| m.team_id == team_id && m.delete_at == 0)
        .filter(|m| !exclude_deleted || db.user(&m.user_id).is_some_and(|u| u.delete_at == 0))
        .cloned()
        .collect();
    Ok(Json(paging.apply(list)?))
}

#[derive(Deserialize)]
pub(crate) struct AddMemberBody {
    #[serde(default, deserialize_with = "null_as_default")]
    team_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    user_id: String,
}

/// `POST /teams/{team_id}/members` `{team_id, user_id}`: 201 with the member.
pub(crate) async fn add_member(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    path_id("team_id", &team_id)?;
    let body: AddMemberBody = parse_body(&body, "team_member")?;
    if body.team_id != team_id {
        return Err(AppError::invalid_param("team_id"));
    }
    if !crate::ids::is_valid_id(&body.user_id) {
        return Err(AppError::invalid_param("user_id"));
    }
    let member = {
        let mut db = state.db();
        let team = db.teams.get(&team_id).cloned().ok_or_else(missing_team)?;
        let joining_open_team =
            body.user_id == caller.user.id && team.allow_open_invite && team.team_type == "O";
        let team_admin = db
            .team_members
            .get(&(team_id.clone(), caller.user.id.clone()))
            .is_some_and(|m| m.scheme_admin);
        if !(caller.is_admin() || team_admin || joining_open_team) {
            return Err(caller.denied("add_user_to_team"));
        }
        if team.group_constrained == Some(true) {
            return Err(group_denied());
        }
        let Some(user) = db.user(&body.user_id).cloned() else {
            return Err(AppError::new(
                404,
                "app.user.missing_account.const",
                "Unable to find the user.",
            ));
        };
        db.check_team_join(&team, &user)?;
        db.join_team(&team_id, &body.user_id, now_ms())
    };
    events::added_to_team(&state.hub, &team_id, &body.user_id);
    Ok(created(member))
}

/// `GET /teams/{team_id}/members/{user_id}`: one membership (404 when there is none).
pub(crate) async fn member(
    State(state): State<Shared>,
    caller: Caller,
    Path((team_id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<TeamMember>> {
    path_id("team_id", &team_id)?;
    let user_id = resolve_user_id(&caller, &user_id)?;
    let db = state.db();
    if !db.teams.contains_key(&team_id) {
        return Err(missing_team());
    }
    if !db.can_view_team(&caller.user, &team_id) {
        return Err(caller.denied("view_team"));
    }
    db.team_members
        .get(&(team_id, user_id))
        .filter(|m| m.delete_at == 0)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            AppError::new(
                404,
                "app.team.get_member.missing.app_error",
                "No team member found for that user ID and team ID.",
            )
        })
}

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    display_name: String,
    #[serde(default, rename = "type", deserialize_with = "null_as_default")]
    team_type: String,
}

/// `model.IsValidTeamName`: 2–64 characters of `a-z 0-9 -`, alphanumeric at both ends.
fn valid_team_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `POST /teams` `{name, display_name, type}`: 201 with the team; the creator joins it as a
/// team admin (`create_team`, which every user has by default).
pub(crate) async fn create(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = parse_body(&body, "team")?;
    if !valid_team_name(&body.name) {
        return Err(AppError::new(
            400,
            "model.team.is_valid.characters.app_error",
            "Name must be 2 or more lowercase alphanumeric characters.",
        ));
    }
    if body.display_name.trim().is_empty() || body.display_name.chars().count() > 64 {
        return Err(AppError::new(
            400,
            "model.team.is_valid.name.app_error",
            "Invalid name.",
        ));
    }
    if body.team_type != "O" && body.team_type != "I" {
        return Err(AppError::new(
            400,
            "model.team.is_valid.type.app_error",
            "Invalid type.",
        ));
    }
    let team = {
        let mut db = state.db();
        if db.team_by_name(&body.name).is_some() {
            return Err(AppError::new(
                400,
                "app.team.save.existing.app_error",
                "A team with that name already exists.",
            ));
        }
        let now = now_ms();
        let team_id = db.insert_team(&body.name, &body.display_name, body.team_type == "I", now);
        let key = (team_id.clone(), caller.user.id.clone());
        db.join_team(&team_id, &caller.user.id, now);
        if let Some(member) = db.team_members.get_mut(&key) {
            member.roles = "team_user team_admin".into();
            member.scheme_admin = true;
        }
        db.teams.get(&team_id).cloned().ok_or_else(missing_team)?
    };
    events::added_to_team(&state.hub, &team.id, &caller.user.id);
    Ok(created(visible(&caller, &team)))
}

/// `model.SchemeRoles`, the body of `PUT /teams/{team_id}/members/{user_id}/schemeRoles`.
#[derive(Deserialize)]
pub(crate) struct SchemeRoles {
    #[serde(default)]
    scheme_admin: bool,
    #[serde(default)]
    scheme_user: bool,
    #[serde(default)]
    scheme_guest: bool,
}

/// `PUT /teams/{team_id}/members/{user_id}/schemeRoles`
/// `{scheme_admin, scheme_user, scheme_guest}`: sets a member's scheme roles (a team admin is
/// `scheme_admin`); needs `manage_team_roles`, which system admins and the team's admins
/// hold. The member's `roles` follow, and they get `memberrole_updated`. Answers
/// `{"status": "OK"}`.
pub(crate) async fn update_scheme_roles(
    State(state): State<Shared>,
    caller: Caller,
    Path((team_id, user_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    path_id("team_id", &team_id)?;
    path_id("user_id", &user_id)?;
    let roles: SchemeRoles = parse_body(&body, "scheme_roles")?;
    if !can_manage(&state, &caller, &team_id) {
        return Err(caller.denied("manage_team_roles"));
    }
    let member = {
        let mut db = state.db();
        let member = db
            .team_members
            .get_mut(&(team_id, user_id))
            .filter(|m| m.delete_at == 0)
            .ok_or_else(|| {
                AppError::new(
                    404,
                    "app.team.get_member.missing.app_error",
                    "No team member found for that user ID and team ID.",
                )
            })?;
        if roles.scheme_user && roles.scheme_guest {
            return Err(AppError::new(
                400,
                "api.team.update_team_member_roles.guest_and_user.app_error",
                "Invalid team member update: A user must be a guest or a user but not both.",
            ));
        }
        member.scheme_admin = roles.scheme_admin;
        member.scheme_user = roles.scheme_user;
        member.scheme_guest = roles.scheme_guest;
        member.roles = member_roles(member);
        member.clone()
    };
    events::member_role_updated(&state.hub, &member);
    Ok(super::super::core::status_ok())
}

/// A member's `roles` as the server computes them: its scheme roles, then its explicit ones.
fn member_roles(member: &TeamMember) -> String {
    let mut roles: Vec<&str> = Vec::new();
    if member.scheme_guest {
        roles.push("team_guest");
    }
    if member.scheme_user {
        roles.push("team_user");
    }
    if member.scheme_admin {
        roles.push("team_admin");
    }
    roles.extend(member.explicit_roles.split_whitespace());
    roles.join(" ")
}

/// Whether the caller may manage `team_id` (`manage_team`: a system or team admin).
fn can_manage(state: &Shared, caller: &Caller, team_id: &str) -> bool {
    caller.is_admin()
        || state
            .db()
            .team_members
            .get(&(team_id.to_string(), caller.user.id.clone()))
            .is_some_and(|m| m.delete_at == 0 && m.scheme_admin)
}

/// `model.TeamPatch`: what `PUT /teams/{team_id}/patch` may change.
#[derive(Deserialize)]
pub(crate) struct TeamPatch {
    display_name: Option<String>,
    description: Option<String>,
    company_name: Option<String>,
    allowed_domains: Option<String>,
    allow_open_invite: Option<bool>,
    group_constrained: Option<bool>,
}

/// `PUT /teams/{team_id}/patch`: every allowed domain must be one of
/// `TeamSettings.RestrictCreationToDomains` when that is set (`checkValidDomains`).
pub(crate) async fn patch(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Team>> {
    path_id("team_id", &team_id)?;
    let patch: TeamPatch = parse_body(&body, "team")?;
    if !can_manage(&state, &caller, &team_id) {
        return Err(caller.denied("manage_team"));
    }
    let mut db = state.db();
    let mut team = db.teams.get(&team_id).cloned().ok_or_else(missing_team)?;
    if let Some(v) = patch.display_name {
        team.display_name = v;
    }
    if let Some(v) = patch.description {
        team.description = v;
    }
    if let Some(v) = patch.company_name {
        team.company_name = v;
    }
    if let Some(v) = patch.allowed_domains {
        team.allowed_domains = v;
    }
    if let Some(v) = patch.allow_open_invite {
        team.allow_open_invite = v;
        if !v {
            team.invite_id = crate::ids::new_id();
        }
    }
    if let Some(v) = patch.group_constrained {
        team.group_constrained = Some(v);
    }
    let valid = normalize_domains(&db.config.team_settings.restrict_creation_to_domains);
    if !valid.is_empty() {
        if let Some(domain) = normalize_domains(&team.allowed_domains)
            .into_iter()
            .find(|d| !valid.contains(d))
        {
            return Err(AppError::new(
                400,
                "api.team.update_restricted_domains.mismatch.app_error",
                format!("Restricting team to {domain} is not allowed by the system config. Please contact your system administrator."),
            ));
        }
    }
    team.update_at = now_ms();
    db.teams.insert(team_id, team.clone());
    Ok(Json(visible(&caller, &team)))
}

/// `DELETE /teams/{team_id}`: archives the team (a soft delete: `delete_at` set; it still
/// answers `GET /teams/{team_id}`, and leaves the team lists).
pub(crate) async fn archive(
    State(state): State<Shared>,
    caller: Caller,
    Path(team_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    path_id("team_id", &team_id)?;
    if !can_manage(&state, &caller, &team_id) {
        return Err(caller.denied("manage_team"));
    }
    {
        let mut db = state.db();
        let team = db.teams.get_mut(&team_id).ok_or_else(missing_team)?;
        let now = now_ms();
        team.delete_at = now;
        team.update_at = now;
    }
    Ok(super::super::core::status_ok())
}
