//! Where an address is, as the pages show it: the coarse place over the address itself,
//! and the attribution its database's licence asks for under any table of places.

use leptos::prelude::*;

use crate::protocol::PlacesCredit;

/// A table cell: "Shenyang, Liaoning, CN" above "203.0.113.9"; the address alone when no
/// place is known.
pub fn place_cell(place: String, ip: String) -> impl IntoView {
    view! {
        <td>
            {(!place.is_empty()).then(|| view! { <span class="place" data-testid="place">{place}</span><br/> })}
            <span class="address">{ip}</span>
        </td>
    }
}

/// "IP Geolocation by DB-IP", linked; nothing without places.
pub fn places_credit(credit: Option<PlacesCredit>) -> impl IntoView {
    credit.map(|PlacesCredit { words, link }| {
        let words = match link {
            Some(href) => view! { <a href=href>{words}</a> }.into_any(),
            None => words.into_any(),
        };
        view! { <p class="places-credit" data-testid="places-credit">{words}</p> }
    })
}
