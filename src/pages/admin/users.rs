//! `/admin`: the users, searched and filtered, a page at a time.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{escape, failure, Console};
use crate::{api::admin_users, i18n::use_locale, protocol::UserQuery};

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let t = use_locale().admin();
    let query = use_query_map();
    let asked = move || {
        query.with(|q| UserQuery {
            search: q.get("search").unwrap_or_default(),
            group: q.get("group").unwrap_or_default(),
            state: q.get("state").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    };
    let users = Resource::new(asked, admin_users);
    view! {
        <Console heading=t.users>
            <Suspense>
                {move || Suspend::new(async move {
                    let asked = asked();
                    match users.await {
                        Err(err) => failure(t, &err),
                        Ok(list) => {
                            let state_option = |value: &'static str, label: &'static str| {
                                view! { <option value=value selected=asked.state == value>{label}</option> }
                            };
                            let page_link = |page: i64| {
                                let mut q = asked.clone();
                                q.page = page;
                                format!(
                                    "/admin?search={}&group={}&state={}&page={page}",
                                    escape(&q.search),
                                    escape(&q.group),
                                    escape(&q.state)
                                )
                            };
                            view! {
                                <form method="get" action="/admin" class="admin-filter">
                                    <label>{t.search_label}" "<input type="search" name="search" value=asked.search.clone()/></label>
                                    <label>{t.group}" "<input type="text" name="group" value=asked.group.clone()/></label>
                                    <label>
                                        {t.state}" "
                                        <select name="state">
                                            {state_option("", t.any)}
                                            {state_option("enabled", t.enabled)}
                                            {state_option("disabled", t.disabled)}
                                            {state_option("admin", t.admin)}
                                        </select>
                                    </label>
                                    <button type="submit">{t.search}</button>
                                </form>
                                <table class="admin-table" data-testid="users">
                                    <thead>
                                        <tr>
                                            <th scope="col">{t.id}</th>
                                            <th scope="col">{t.name}</th>
                                            <th scope="col">{t.state}</th>
                                            <th scope="col">{t.groups}</th>
                                            <th scope="col">{t.created}</th>
                                            <th scope="col">{t.last_login}</th>
                                            <th scope="col">{t.identities}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.users.into_iter().map(|u| view! {
                                            <tr data-testid=format!("user-{}", u.id)>
                                                <td><a href=format!("/admin/users/{}", u.id)>{u.id}</a></td>
                                                <td><a href=format!("/admin/users/{}", u.id)>{u.nickname}</a></td>
                                                <td>
                                                    {if u.disabled { t.disabled } else { t.enabled }}
                                                    {u.admin.then(|| format!(" · {}", t.admin))}
                                                </td>
                                                <td>{u.groups.join(", ")}</td>
                                                <td>{u.created_at}</td>
                                                <td>{u.last_login_at.unwrap_or_else(|| t.never.to_owned())}</td>
                                                <td>{u.identities.join("; ")}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <p class="admin-pages">
                                    {(t.page_of)(list.page, list.pages.max(1), list.total)}" "
                                    {(list.page > 1).then(|| view! { <a href=page_link(list.page - 1)>{t.previous}</a> })}" "
                                    {(list.page < list.pages).then(|| view! { <a href=page_link(list.page + 1)>{t.next}</a> })}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </Console>
    }
}
