//! The admin console's interactive parts (islands): buttons and small forms that call the
//! console's server functions, then reload the page (which the server renders again
//! with the change), or say what went wrong, with the way to a fresh login when a
//! sensitive action needs one. Each sets `data-hydrated` once it runs, for tests.

use leptos::prelude::*;

use crate::{
    api::{admin_act, admin_invite, ApiError},
    i18n::{AdminStrings, Locale},
    protocol::{AdminAction, GroupSummary, InvitationLink, InvitationRequest},
};

/// Reloads the page after a change.
fn reload() {
    #[cfg(feature = "hydrate")]
    let _ = window().location().reload();
}

/// The hydration flag every island sets.
fn hydrated() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated
}

/// What went wrong, and for a sensitive action the way to a fresh scan that comes back
/// to `here`.
#[component]
fn Failure(
    t: &'static AdminStrings,
    error: ReadSignal<Option<ApiError>>,
    here: String,
) -> impl IntoView {
    let again = format!("/login?again=1&next={}", escape(&here));
    move || {
        error.get().map(|err| {
            let step_up = err.data.as_ref().is_some_and(|d| d.step_up);
            view! {
                <p class="error" role="alert" data-testid="admin-error">
                    {if step_up {
                        view! {
                            {t.step_up}" "
                            <a href=again.clone() data-testid="step-up">{t.step_up_link}</a>
                        }
                            .into_any()
                    } else {
                        view! { {t.failed}{err.msg.clone()} }.into_any()
                    }}
                </p>
            }
        })
    }
}

/// `value` for a URL's query.
pub fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `action`, then reloads, or shows the failure.
fn act(error: WriteSignal<Option<ApiError>>) -> Action<AdminAction, ()> {
    Action::new(move |action: &AdminAction| {
        let action = action.clone();
        async move {
            match admin_act(action).await {
                Ok(()) => reload(),
                Err(err) => error.set(Some(err)),
            }
        }
    })
}

/// A button that does one action.
#[island]
pub fn ActionButton(
    locale: Locale,
    action: AdminAction,
    label: String,
    /// Where the console is, for the way back after a fresh scan.
    here: String,
    testid: String,
    danger: bool,
) -> impl IntoView {
    let t = locale.admin();
    let hydrated = hydrated();
    let (error, set_error) = signal(None::<ApiError>);
    let run = act(set_error);
    view! {
        <span class="admin-action">
            <button
                type="button"
                class:danger=danger
                data-testid=testid
                data-hydrated=move || hydrated.get().to_string()
                on:click=move |_| {
                    run.dispatch(action.clone());
                }
            >
                {label}
            </button>
            <Failure t error here/>
        </span>
    }
}

/// A text field and a button: the action is made from the text.
#[island]
pub fn TextAction(
    locale: Locale,
    /// What the action does with the text: `create_group`, or `rename_group`.
    kind: String,
    /// The group to rename (0 to create one).
    group_id: i64,
    /// The field's text at first.
    value: String,
    label: String,
    field_label: String,
    here: String,
    testid: String,
) -> impl IntoView {
    let t = locale.admin();
    let hydrated = hydrated();
    let text = RwSignal::new(value);
    let (error, set_error) = signal(None::<ApiError>);
    let run = act(set_error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = text.get_untracked();
        let action = if kind == "rename_group" {
            AdminAction::RenameGroup { group_id, name }
        } else {
            AdminAction::CreateGroup { name }
        };
        run.dispatch(action);
    };
    view! {
        <form class="admin-inline" on:submit=submit data-hydrated=move || hydrated.get().to_string()>
            <label>
                <span class="visually-hidden">{field_label}</span>
                <input type="text" maxlength="40" required bind:value=text data-testid=format!("{testid}-name")/>
            </label>
            <button type="submit" data-testid=testid>{label}</button>
            <Failure t error here/>
        </form>
    }
}

/// Adds a user to a group chosen from a list.
#[island]
pub fn AddToGroup(
    locale: Locale,
    user_id: i64,
    groups: Vec<GroupSummary>,
    here: String,
) -> impl IntoView {
    let t = locale.admin();
    let hydrated = hydrated();
    let chosen = RwSignal::new(groups.first().map(|g| g.id.to_string()).unwrap_or_default());
    let (error, set_error) = signal(None::<ApiError>);
    let run = act(set_error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Ok(group_id) = chosen.get_untracked().parse() {
            run.dispatch(AdminAction::SetMember {
                group_id,
                user_id,
                member: true,
            });
        }
    };
    view! {
        <form class="admin-inline" on:submit=submit data-hydrated=move || hydrated.get().to_string()>
            <label>
                {t.add_to_group}" "
                <select data-testid="add-to-group-select" on:change=move |ev| chosen.set(event_target_value(&ev))>
                    {groups
                        .into_iter()
                        .map(|g| view! { <option value=g.id.to_string()>{g.name}</option> })
                        .collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="add-to-group">{t.add}</button>
            <Failure t error here/>
        </form>
    }
}

/// Makes an invitation and shows its link and QR code, once.
#[island]
pub fn InvitationForm(locale: Locale, groups: Vec<GroupSummary>, here: String) -> impl IntoView {
    let t = locale.admin();
    let hydrated = hydrated();
    let uses = RwSignal::new("1".to_owned());
    let days = RwSignal::new("7".to_owned());
    let admin = RwSignal::new(false);
    let note = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<i64>::new());
    let (error, set_error) = signal(None::<ApiError>);
    let made = RwSignal::new(None::<InvitationLink>);
    let create = Action::new(move |request: &InvitationRequest| {
        let request = request.clone();
        async move {
            match admin_invite(request).await {
                Ok(link) => {
                    set_error.set(None);
                    made.set(Some(link));
                }
                Err(err) => set_error.set(Some(err)),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(InvitationRequest {
            max_uses: uses.get_untracked().trim().parse().unwrap_or(0),
            valid_days: days.get_untracked().trim().parse().unwrap_or(0),
            admin: admin.get_untracked(),
            group_ids: chosen.get_untracked(),
            note: note.get_untracked(),
        });
    };
    view! {
        <form class="admin-form" on:submit=submit data-hydrated=move || hydrated.get().to_string()>
            <label>{t.uses}<input type="number" min="1" max="10000" required bind:value=uses data-testid="invite-uses"/></label>
            <label>{t.valid_days}<input type="number" min="1" max="90" required bind:value=days data-testid="invite-days"/></label>
            <label>{t.note}<input type="text" maxlength="200" bind:value=note/></label>
            <fieldset>
                <legend>{t.groups}</legend>
                {groups
                    .into_iter()
                    .map(|g| {
                        let id = g.id;
                        view! {
                            <label>
                                <input
                                    type="checkbox"
                                    data-testid=format!("invite-group-{}", g.name)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|c| {
                                            c.retain(|x| *x != id);
                                            if on {
                                                c.push(id);
                                            }
                                        });
                                    }
                                />
                                {g.name}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <label><input type="checkbox" bind:checked=admin data-testid="invite-admin"/>{t.grants_admin}</label>
            <button type="submit" data-testid="invite-create">{t.create}</button>
            <Failure t error here/>
        </form>
        {move || made.get().map(|link| view! {
            <section class="invitation-made" data-testid="invitation-made">
                <h3>{t.invitation_link}</h3>
                <p>{t.shown_once}</p>
                <p><a data-testid="invitation-url" href=link.url.clone()>{link.url.clone()}</a></p>
                <div class="invitation-qr" inner_html=link.qr_svg></div>
            </section>
        })}
    }
}
