//! The language switch: plain links to this page in each language (`?lang=`), which the
//! server remembers in a cookie. Works without JavaScript.

use leptos::prelude::*;

use crate::i18n::{use_locale, PageLanguage};

#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let current = use_locale();
    let links = use_context::<PageLanguage>()
        .map(|p| p.links)
        .unwrap_or_default();
    view! {
        <nav class="language-switch" aria-label=current.strings().language_switch_label>
            {links
                .into_iter()
                .map(|(locale, href)| {
                    let here = locale == current;
                    view! {
                        <a
                            href=href
                            hreflang=locale.tag()
                            lang=locale.tag()
                            data-testid=format!("lang-{}", locale.tag())
                            aria-current=here.then_some("true")
                        >
                            {locale.own_name()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}
