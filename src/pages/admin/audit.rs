//! `/admin/audit`: the audit trail, filtered by user, event and age, and its CSV export.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{escape, failure, Console};
use crate::{
    api::admin_audit,
    i18n::use_locale,
    protocol::{AuditEntry, AuditQuery},
};

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let t = use_locale().admin();
    let query = use_query_map();
    let asked = move || {
        query.with(|q| AuditQuery {
            user: q.get("user").unwrap_or_default(),
            event: q.get("event").unwrap_or_default(),
            days: q.get("days").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    };
    let entries = Resource::new(asked, admin_audit);
    view! {
        <Console heading=t.audit>
            <Suspense>
                {move || Suspend::new(async move {
                    let asked = asked();
                    let entries = match entries.await {
                        Err(err) => return failure(t, &err),
                        Ok(entries) => entries,
                    };
                    let filter = format!(
                        "user={}&event={}&days={}",
                        escape(&asked.user),
                        escape(&asked.event),
                        escape(&asked.days)
                    );
                    let full = entries.len() as i64 == crate::protocol::AUDIT_PAGE;
                    view! {
                        <form method="get" action="/admin/audit" class="admin-filter">
                            <label>{t.user}" "<input type="text" name="user" inputmode="numeric" value=asked.user.clone()/></label>
                            <label>
                                {t.event}" "
                                <select name="event">
                                    <option value="">{t.any}</option>
                                    {crate::protocol::AUDIT_EVENTS.iter().map(|e| view! {
                                        <option value=*e selected=asked.event == *e>{*e}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>{t.days}" "<input type="number" min="1" name="days" value=asked.days.clone()/></label>
                            <button type="submit">{t.filter}</button>
                        </form>
                        <p>
                            <a class="button" data-testid="export-csv" href=format!("{}?{filter}", crate::protocol::AUDIT_CSV_PATH) download>
                                {t.export_csv}
                            </a>
                        </p>
                        <AuditTable entries/>
                        <p class="admin-pages">
                            {(asked.page > 1).then(|| view! {
                                <a href=format!("/admin/audit?{filter}&page={}", asked.page - 1)>{t.previous}</a>
                            })}" "
                            {full.then(|| view! {
                                <a href=format!("/admin/audit?{filter}&page={}", asked.page + 1)>{t.next}</a>
                            })}
                        </p>
                    }
                        .into_any()
                })}
            </Suspense>
        </Console>
    }
}

/// Audit entries as a table.
#[component]
pub fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    let t = use_locale().admin();
    let person = |id: Option<i64>| {
        id.map(|id| view! { <a href=format!("/admin/users/{id}")>{format!("#{id}")}</a> })
    };
    view! {
        <table class="admin-table" data-testid="audit">
            <thead><tr>
                <th scope="col">{t.time}</th>
                <th scope="col">{t.event}</th>
                <th scope="col">{t.result}</th>
                <th scope="col">{t.actor}</th>
                <th scope="col">{t.user}</th>
                <th scope="col">{t.client}</th>
                <th scope="col">{t.address}</th>
                <th scope="col">{t.browser}</th>
                <th scope="col">{t.request_id}</th>
                <th scope="col">{t.detail}</th>
            </tr></thead>
            <tbody>
                {entries.into_iter().map(|e| {
                    let (event, result) = (e.event.clone(), e.result.clone());
                    view! {
                    <tr data-testid="audit-entry" data-event=event data-result=result>
                        <td>{e.at}</td>
                        <td>{e.event}</td>
                        <td>{e.result}</td>
                        <td data-testid="audit-actor">{person(e.actor_id)}</td>
                        <td data-testid="audit-user">{person(e.user_id)}{e.subject}</td>
                        <td>{e.client_id}</td>
                        <td>{e.ip}</td>
                        <td>{e.user_agent}</td>
                        <td>{e.request_id}</td>
                        <td>{e.detail}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
