//! Which language a page is rendered in: the switch's `?lang=` (which is then
//! remembered in the `lang` cookie), the cookie, then the browser's `Accept-Language`.

use axum::http::{header, request::Parts, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

use crate::i18n::Locale;

/// The cookie that remembers the switch. A preference, not a secret: readable by the
/// page, a year long.
pub const COOKIE: &str = "lang";
const COOKIE_MAX_AGE_DAYS: i64 = 365;

/// The language of this request, and the `Set-Cookie` to send when the switch chose it.
pub fn negotiate(parts: &Parts) -> (Locale, Option<HeaderValue>) {
    let chosen = parts.uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "lang")
            .and_then(|(_, tag)| Locale::from_tag(&tag))
    });
    if let Some(locale) = chosen {
        let cookie = Cookie::build((COOKIE, locale.tag()))
            .path("/")
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::days(COOKIE_MAX_AGE_DAYS))
            .build();
        return (locale, HeaderValue::from_str(&cookie.to_string()).ok());
    }
    (of_headers(&parts.headers), None)
}

/// The language of a request without the switch: the `lang` cookie, then the browser's
/// `Accept-Language` (pages that have no switch: forward authentication's).
pub fn of_headers(headers: &HeaderMap) -> Locale {
    let remembered = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .and_then(|c| Locale::from_tag(c.value()));
    let accepted = || {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(from_accept_language)
    };
    remembered.or_else(accepted).unwrap_or_default()
}

/// The first language of ours in an OpenID `ui_locales` (space-separated BCP 47 tags, in
/// the application's order of preference): `zh`, `zh-CN` and `zh-Hans` are Chinese, `en`
/// and `en-US` English.
pub fn from_ui_locales(tags: &str) -> Option<Locale> {
    tags.split(' ').find_map(|tag| {
        Locale::from_tag(tag).or_else(|| {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "zh" => Some(Locale::ZhCn),
                "en" => Some(Locale::En),
                _ => None,
            }
        })
    })
}

/// The first language of ours in the browser's order; a browser that asks only for
/// others reads English more likely than Chinese.
fn from_accept_language(header: &str) -> Locale {
    accept_language::parse_with_quality(header)
        .into_iter()
        .filter(|(_, quality)| *quality > 0.0)
        .find_map(|(tag, _)| {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "zh" => Some(Locale::ZhCn),
                "en" => Some(Locale::En),
                _ => None,
            }
        })
        .unwrap_or(Locale::En)
}

/// This page's address in each language (the switch's links): the same path and query,
/// `lang` replaced.
pub fn switch_links(parts: &Parts) -> Vec<(Locale, String)> {
    let kept: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(name, _)| name != "lang")
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    Locale::ALL
        .into_iter()
        .map(|locale| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(kept.iter());
            query.append_pair("lang", locale.tag());
            (locale, format!("{}?{}", parts.uri.path(), query.finish()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_take_the_first_language_we_have() {
        assert_eq!(from_ui_locales("fr-CA en-US zh"), Some(Locale::En));
        assert_eq!(from_ui_locales("zh-Hans"), Some(Locale::ZhCn));
        assert_eq!(from_ui_locales("de fr"), None);
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = axum::http::Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_switch_wins_and_is_remembered() {
        let (locale, cookie) = negotiate(&parts(
            "/login?lang=en",
            &[("cookie", "lang=zh-CN"), ("accept-language", "zh-CN")],
        ));
        assert_eq!(locale, Locale::En);
        let cookie = cookie.unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("lang=en;"), "{cookie}");
        assert!(cookie.contains("Path=/") && cookie.contains("SameSite=Lax"));
    }

    #[test]
    fn the_cookie_beats_the_header_and_nonsense_is_ignored() {
        let header = [("cookie", "sid=x; lang=en"), ("accept-language", "zh-CN")];
        assert_eq!(negotiate(&parts("/login", &header)), (Locale::En, None));
        let (locale, cookie) = negotiate(&parts(
            "/login?lang=fr",
            &[
                ("cookie", "lang=<script>"),
                ("accept-language", "zh-TW,en;q=0.5"),
            ],
        ));
        assert_eq!((locale, cookie), (Locale::ZhCn, None));
    }

    #[test]
    fn accept_language_follows_the_browser_s_order_and_qualities() {
        assert_eq!(
            from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"),
            Locale::En
        );
        assert_eq!(
            from_accept_language("fr;q=1, zh-CN;q=0.4, en;q=0.3"),
            Locale::ZhCn
        );
        assert_eq!(from_accept_language("zh;q=0, en;q=0.1"), Locale::En);
        assert_eq!(from_accept_language("de-DE"), Locale::En);
        // No header: the default language.
        assert_eq!(negotiate(&parts("/login", &[])).0, Locale::ZhCn);
    }

    #[test]
    fn switch_links_keep_the_query() {
        let links = switch_links(&parts("/phone?scene=abc&lang=en", &[]));
        assert_eq!(
            links,
            vec![
                (Locale::ZhCn, "/phone?scene=abc&lang=zh-CN".to_owned()),
                (Locale::En, "/phone?scene=abc&lang=en".to_owned()),
            ]
        );
    }
}
