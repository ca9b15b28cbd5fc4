//! `/admin/users/<id>`: one user's groups, sessions, applications and recent audit
//! entries, and what an administrator can do to them.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    failure,
    forms::{ActionForm, AddToGroupForm},
    path, Console,
};
use crate::{
    api::admin_user,
    components::{
        place::places_credit,
        sessions_table::{sessions_table, SessionsWords},
    },
    i18n::use_locale,
};

#[component]
pub fn AdminUserPage() -> impl IntoView {
    let t = use_locale().admin();
    let params = use_params_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or(0)
        })
    };
    let detail = Resource::new(id, admin_user);
    let here = path();
    view! {
        <Console heading=t.user>
            <Suspense>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        let d = match detail.await {
                            Err(err) => return failure(t, &err),
                            Ok(d) => d,
                        };
                        let user_id = d.user.id;
                        let back = here.clone();
                        let button = move |action: &'static str, mut fields: Vec<(&'static str, String)>, label: &'static str, testid: &str, danger: bool| {
                            fields.push(("user_id", user_id.to_string()));
                            view! {
                                <ActionForm
                                    action
                                    fields
                                    label
                                    back=here.clone()
                                    testid=testid.to_owned()
                                    danger
                                />
                            }
                        };
                        view! {
                            <h2 data-testid="user-name">{d.user.nickname.clone()}" (#"{user_id}")"</h2>
                            <dl class="admin-facts">
                                <dt>{t.state}</dt>
                                <dd data-testid="user-state">
                                    {if d.user.disabled { t.disabled } else { t.enabled }}
                                    {d.user.admin.then(|| format!(" · {}", t.admin))}
                                </dd>
                                <dt>{t.created}</dt><dd>{d.user.created_at.clone()}</dd>
                                <dt>{t.last_login}</dt>
                                <dd>{d.user.last_login_at.clone().unwrap_or_else(|| t.never.to_owned())}</dd>
                                <dt>{t.identities}</dt><dd>{d.user.identities.join("; ")}</dd>
                            </dl>
                            <p class="admin-buttons">
                                {if d.user.disabled {
                                    button("enable_user", vec![], t.enable, "enable", false)
                                } else {
                                    button("disable_user", vec![], t.disable, "disable", true)
                                }}
                                {if d.user.admin {
                                    button("set_admin", vec![("admin", "false".into())], t.remove_admin, "remove-admin", false)
                                } else {
                                    button("set_admin", vec![("admin", "true".into())], t.make_admin, "make-admin", false)
                                }}
                                {button("revoke_all_sessions", vec![], t.revoke_all, "revoke-all", true)}
                            </p>
                            <h2>{t.groups}</h2>
                            <ul data-testid="user-groups">
                                {d.user.groups.iter().map(|name| {
                                    let group = d.all_groups.iter().find(|g| &g.name == name).map(|g| g.id);
                                    view! {
                                        <li>
                                            {name.clone()}" "
                                            {group.map(|group_id| button(
                                                "set_member",
                                                vec![("group_id", group_id.to_string()), ("member", "false".into())],
                                                t.remove_from_group,
                                                &format!("remove-group-{name}"),
                                                false,
                                            ))}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {(!d.all_groups.is_empty()).then(|| view! {
                                <AddToGroupForm t user_id groups=d.all_groups.clone() back=back.clone()/>
                            })}
                            <h2>{t.sessions}</h2>
                            {if d.sessions.is_empty() {
                                view! { <p>{t.no_sessions}</p> }.into_any()
                            } else {
                                let words = SessionsWords {
                                    browser: t.browser,
                                    place: t.place,
                                    created: t.created,
                                    last_seen: t.last_seen,
                                    action: t.revoke,
                                    this_session: t.this_session,
                                };
                                sessions_table(words, d.sessions, "sessions", |s| {
                                    Some(button("revoke_session", vec![("session", s.id.clone())], t.revoke, "revoke-session", false))
                                }).into_any()
                            }}
                            {places_credit(d.places_credit.clone())}
                            <h2>{t.grants}</h2>
                            {if d.grants.is_empty() {
                                view! { <p>{t.no_grants}</p> }.into_any()
                            } else {
                                view! {
                                    <table class="admin-table">
                                        <thead><tr>
                                            <th scope="col">{t.client}</th>
                                            <th scope="col">{t.until}</th>
                                            <th scope="col">{t.refresh_tokens}</th>
                                        </tr></thead>
                                        <tbody>
                                            {d.grants.into_iter().map(|g| view! {
                                                <tr>
                                                    <td>{g.client_id}</td>
                                                    <td>{g.until}</td>
                                                    <td>{if g.refresh_tokens { "✓" } else { "" }}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                            <h2>{t.recent}</h2>
                            <super::audit::AuditTable entries=d.audit/>
                            <p><a href=format!("/admin/audit?user={user_id}")>{t.audit}</a></p>
                        }
                            .into_any()
                    })
                }}
            </Suspense>
        </Console>
    }
}
