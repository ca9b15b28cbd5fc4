//! `/phone?scene=S` (demo mode): plays the mini program on a phone-sized page, with the
//! same `/api/mp/*` calls. The `wx.login` code comes from the instance's WeChat simulator
//! (`/api/demo/login_code`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{
        demo_accept_message, demo_login_code, demo_messages, mp_cancel, mp_confirm, mp_scan,
        ApiError,
    },
    i18n::{use_locale, Locale, Strings},
    protocol::{
        is_valid_id, Application, BrowserInfo, InvalidValue, PhoneMessage, Profile, Purpose,
        ScanToken, SceneId,
    },
};

/// Demo people: (nickname, openid).
const PEOPLE: &[(&str, &str)] = &[
    ("Alice 爱丽丝", "demo-alice"),
    ("Bob 鲍勃", "demo-bob"),
    ("Carol 卡罗尔", "demo-carol"),
];

// One step per phone page, held in one signal: its size costs nothing, a box would cost
// code in the WASM.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Start,
    Working,
    Asking(BrowserInfo, Option<Application>, Purpose),
    Confirmed,
    Cancelled,
    Failed(String),
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Start => "start",
            Step::Working => "working",
            Step::Asking(..) => "asking",
            Step::Confirmed => "confirmed",
            Step::Cancelled => "cancelled",
            Step::Failed(_) => "failed",
        }
    }
}

/// A failed call in the page's words, by its status.
fn failed(t: &Strings, err: &ApiError) -> String {
    if let Some(refusal) = err.data.as_ref().and_then(|d| d.refusal) {
        return t.refusal(refusal).to_owned();
    }
    match err.status {
        404 => t.phone_error_expired,
        409 => t.phone_error_decided,
        401 => t.phone_error_again,
        429 => t.error_limited,
        _ => t.error_other,
    }
    .to_owned()
}

#[component]
pub fn PhonePage() -> impl IntoView {
    let query = use_query_map();
    let scene = query.read_untracked().get("scene").unwrap_or_default();
    let locale = use_locale();
    view! {
        <Title text=locale.strings().phone_title/>
        <PhoneFlow scene locale/>
        // Outside the island: a plain link costs the WebAssembly nothing.
        <p class="phone-links">
            <a data-testid="phone-check-messages" href="/phone/messages">
                {locale.strings().phone_check_messages}
            </a>
        </p>
    }
}

/// An island: the demo phone's whole flow runs in the browser; the scene comes from the
/// page's address, read on the server.
#[island]
fn PhoneFlow(scene: String, locale: Locale) -> impl IntoView {
    let t = locale.strings();
    let scene = StoredValue::new(scene);
    let scene = move || scene.get_value();
    let person = RwSignal::new(0usize);
    let step = RwSignal::new(Step::Start);
    let scan_token = StoredValue::new(None::<ScanToken>);
    // The person allows a message after the login (`wx.requestSubscribeMessage`).
    let notify = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let scan = Action::new_local(move |_: &()| {
        let scene = scene();
        let (_, openid) = PEOPLE[person.get_untracked()];
        async move {
            step.set(Step::Working);
            let result = async {
                let scene: SceneId = scene
                    .parse()
                    .map_err(|_: InvalidValue| t.phone_needs_scene.to_owned())?;
                // What `wx.login` would give this person's phone, from the simulator.
                let code = demo_login_code(openid.to_owned())
                    .await
                    .map_err(|e| failed(t, &e))?;
                mp_scan(scene, code).await.map_err(|e| failed(t, &e))
            }
            .await;
            match result {
                Ok(answer) => {
                    scan_token.set_value(Some(answer.data.scan_token));
                    step.set(Step::Asking(
                        answer.data.browser,
                        answer.data.application,
                        answer.data.purpose,
                    ));
                }
                Err(msg) => step.set(Step::Failed(msg)),
            }
        }
    });
    let decide = Action::new_local(move |confirm: &bool| {
        let confirm = *confirm;
        let scene = scene();
        let token = scan_token.get_value();
        let (nickname, openid) = PEOPLE[person.get_untracked()];
        let notify = notify.get_untracked();
        async move {
            step.set(Step::Working);
            let (Ok(scene), Some(token)) = (scene.parse::<SceneId>(), token) else {
                step.set(Step::Failed(t.phone_scan_first.into()));
                return;
            };
            let result = if confirm {
                let profile = Profile {
                    nickname: nickname.to_owned(),
                    avatar_url: String::new(),
                };
                // As WeChat's dialog: the answer is WeChat's to keep; the confirm only
                // says the person was asked.
                if notify {
                    let _ = demo_accept_message(openid.to_owned()).await;
                }
                mp_confirm(scene, token, Some(profile), Some(notify)).await
            } else {
                mp_cancel(scene, token).await
            };
            step.set(match (result, confirm) {
                (Ok(_), true) => Step::Confirmed,
                (Ok(_), false) => Step::Cancelled,
                (Err(e), _) => Step::Failed(failed(t, &e)),
            });
        }
    });

    view! {
        <section
            class="phone"
            data-testid="phone"
            data-step=move || step.with(Step::name)
            data-hydrated=move || hydrated.get().to_string()
        >
            <header><h1>{t.phone_header}</h1></header>
            <Show
                when=move || is_valid_id(&scene())
                fallback=move || view! { <p class="error">{t.phone_needs_scene}</p> }
            >
                {move || match step.get() {
                    Step::Start | Step::Failed(_) => view! {
                        <label>
                            {t.phone_person}
                            <select
                                data-testid="phone-person"
                                on:change=move |ev| person.set(event_target_value(&ev).parse().unwrap_or(0))
                            >
                                {PEOPLE
                                    .iter()
                                    .enumerate()
                                    .map(|(i, (name, _))| view! { <option value=i.to_string() selected=move || person.get() == i>{*name}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <p class="error" data-testid="phone-error">
                            {move || match step.get() { Step::Failed(msg) => msg, _ => String::new() }}
                        </p>
                        <button data-testid="phone-scan" on:click=move |_| { scan.dispatch(()); }>
                            {t.phone_scan}
                        </button>
                    }.into_any(),
                    Step::Working => view! { <p>"…"</p> }.into_any(),
                    Step::Asking(browser, application, purpose) => view! {
                        {application.map(|app| view! {
                            <p class="application" data-testid="phone-application">
                                {(t.phone_application_asks)(&app.name)}
                            </p>
                        })}
                        {(purpose == Purpose::DeleteAccount).then(|| view! {
                            <p class="error" data-testid="phone-delete">{t.phone_delete_account}</p>
                        })}
                        <p>{t.phone_asking}</p>
                        <dl class="browser" data-testid="phone-browser">
                            <dt>{t.phone_browser}</dt><dd data-testid="phone-browser-agent">{browser.user_agent}</dd>
                            <dt>{t.phone_network}</dt><dd data-testid="phone-browser-ip">{browser.ip}</dd>
                            <dt>{t.phone_asked_at}</dt>
                            <dd data-testid="phone-browser-time">{local_time(&browser.requested_at, locale)}</dd>
                        </dl>
                        <p class="warn">{t.phone_warning}</p>
                        <label class="check">
                            <input
                                type="checkbox"
                                data-testid="phone-notify"
                                on:change=move |ev| notify.set(event_target_checked(&ev))
                            />
                            {t.phone_notify}
                        </label>
                        <div class="buttons">
                            <button
                                data-testid="phone-confirm"
                                class:danger=purpose == Purpose::DeleteAccount
                                on:click=move |_| { decide.dispatch(true); }
                            >
                                {if purpose == Purpose::DeleteAccount { t.phone_confirm_delete } else { t.phone_confirm }}
                            </button>
                            <button class="secondary" data-testid="phone-cancel" on:click=move |_| { decide.dispatch(false); }>{t.phone_cancel}</button>
                        </div>
                    }.into_any(),
                    Step::Confirmed => view! { <p data-testid="phone-done">{t.phone_confirmed}</p> }.into_any(),
                    Step::Cancelled => view! { <p data-testid="phone-done">{t.phone_cancelled}</p> }.into_any(),
                }}
            </Show>
        </section>
    }
}

/// An RFC 3339 time as the person reads it: in their language and their phone's time zone
/// (the browser's `Intl`), as the mini program shows it; as it is where there is no
/// browser.
fn local_time(rfc3339: &str, locale: Locale) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
        if !date.get_time().is_nan() {
            return String::from(
                date.to_locale_string(locale.tag(), &wasm_bindgen::JsValue::UNDEFINED),
            );
        }
    }
    let _ = locale;
    rfc3339.to_owned()
}

/// `/phone/messages` (demo mode): the WeChat messages that reached each demo person's
/// phone, newest first. Rendered on the server alone: a reload is its refresh.
#[component]
pub fn PhoneMessagesPage() -> impl IntoView {
    let t = use_locale().strings();
    let messages = Resource::new(
        || (),
        |_| async {
            let mut all = Vec::new();
            for (name, openid) in PEOPLE {
                all.push((name.to_string(), demo_messages(openid.to_string()).await));
            }
            all
        },
    );
    view! {
        <Title text=t.phone_messages/>
        <section class="phone">
            <header><h1>{t.phone_messages}</h1></header>
            <Suspense>
                {move || Suspend::new(async move {
                    messages.await.into_iter().enumerate().map(|(i, (name, list))| view! {
                        <h2>{name}</h2>
                        {match list {
                            Ok(list) if list.is_empty() => view! { <p>{t.phone_no_messages}</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="messages" data-testid=format!("phone-messages-{i}")>
                                    {list.into_iter().map(message).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <p class="error" role="alert">{err.msg}</p> }.into_any(),
                        }}
                    }).collect_view()
                })}
            </Suspense>
        </section>
    }
}

/// One message: its fields as WeChat shows them, and the page a tap opens.
fn message(m: PhoneMessage) -> impl IntoView {
    view! {
        <li data-testid="phone-message" data-page=m.page>
            {m.fields.into_iter().map(|(name, value)| view! { <span data-field=name>{value}</span>" " }).collect_view()}
        </li>
    }
}
