//! The console's forms: plain HTML forms posted to `/admin/act` (post, then redirect back
//! to the page), so that the console needs no WebAssembly; a refused action comes back
//! as `?error=`, which [`super::Console`] words.

use leptos::prelude::*;

use crate::{i18n::AdminStrings, protocol::GroupSummary};

/// Where the forms post (the server's `admin::FORM_PATH`).
const ACTION: &str = "/admin/act";

/// A button that does one action: `action` with its `fields`, posted to `to` (the
/// console's by default), then back to `back`.
#[component]
pub fn ActionForm(
    action: &'static str,
    fields: Vec<(&'static str, String)>,
    label: &'static str,
    testid: String,
    back: String,
    #[prop(optional)] danger: bool,
    #[prop(optional)] to: Option<&'static str>,
) -> impl IntoView {
    view! {
        <form method="post" action=to.unwrap_or(ACTION) class="admin-inline">
            <input type="hidden" name="action" value=action/>
            {fields
                .into_iter()
                .map(|(name, value)| view! { <input type="hidden" name=name value=value/> })
                .collect_view()}
            <input type="hidden" name="back" value=back/>
            <button type="submit" class:danger=danger data-testid=testid>{label}</button>
        </form>
    }
}

/// A group's name and a button: makes a group, or renames `group_id`.
#[component]
pub fn GroupNameForm(
    #[prop(optional)] group_id: Option<i64>,
    value: String,
    label: &'static str,
    field_label: String,
    testid: String,
    back: String,
) -> impl IntoView {
    let action = if group_id.is_some() {
        "rename_group"
    } else {
        "create_group"
    };
    view! {
        <form method="post" action=ACTION class="admin-inline">
            <input type="hidden" name="action" value=action/>
            {group_id.map(|id| view! { <input type="hidden" name="group_id" value=id.to_string()/> })}
            <input type="hidden" name="back" value=back/>
            <label>
                <span class="visually-hidden">{field_label}</span>
                <input
                    type="text"
                    name="name"
                    maxlength="40"
                    required
                    value=value
                    data-testid=format!("{testid}-name")
                />
            </label>
            <button type="submit" data-testid=testid>{label}</button>
        </form>
    }
}

/// Adds `user_id` to a group chosen from `groups`.
#[component]
pub fn AddToGroupForm(
    t: &'static AdminStrings,
    user_id: i64,
    groups: Vec<GroupSummary>,
    back: String,
) -> impl IntoView {
    view! {
        <form method="post" action=ACTION class="admin-inline">
            <input type="hidden" name="action" value="set_member"/>
            <input type="hidden" name="member" value="true"/>
            <input type="hidden" name="user_id" value=user_id.to_string()/>
            <input type="hidden" name="back" value=back/>
            <label>
                {t.add_to_group}" "
                <select name="group_id" data-testid="add-to-group-select">
                    {groups
                        .into_iter()
                        .map(|g| view! { <option value=g.id.to_string()>{g.name}</option> })
                        .collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="add-to-group">{t.add}</button>
        </form>
    }
}

/// Makes an invitation; the page it comes back to shows its link, once.
#[component]
pub fn InvitationForm(t: &'static AdminStrings, groups: Vec<GroupSummary>) -> impl IntoView {
    view! {
        <form method="post" action=ACTION class="admin-form">
            <input type="hidden" name="action" value="invite"/>
            <input type="hidden" name="back" value="/admin/invitations"/>
            <label>
                {t.uses}
                <input type="number" name="max_uses" min="1" max="10000" value="1" required data-testid="invite-uses"/>
            </label>
            <label>
                {t.valid_days}
                <input type="number" name="valid_days" min="1" max="90" value="7" required data-testid="invite-days"/>
            </label>
            <label>{t.note}<input type="text" name="note" maxlength="200"/></label>
            <fieldset>
                <legend>{t.groups}</legend>
                {groups
                    .into_iter()
                    .map(|g| {
                        view! {
                            <label>
                                <input
                                    type="checkbox"
                                    name="group_id"
                                    value=g.id.to_string()
                                    data-testid=format!("invite-group-{}", g.name)
                                />
                                {g.name}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <label><input type="checkbox" name="admin" data-testid="invite-admin"/>{t.grants_admin}</label>
            <button type="submit" data-testid="invite-create">{t.create}</button>
        </form>
    }
}
