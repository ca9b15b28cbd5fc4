//! A person's sessions as a table: browser, place and address, logged in, last seen, and an action
//! per row (a form's button). The account page and the console's user page show it, each
//! in its own words and with its own action.

use leptos::prelude::*;

use super::place::place_cell;
use crate::protocol::SessionSummary;

/// The table's headings and the mark of the session making the request.
#[derive(Debug, Clone, Copy)]
pub struct SessionsWords {
    pub browser: &'static str,
    pub place: &'static str,
    pub created: &'static str,
    pub last_seen: &'static str,
    /// The action column's heading, for screen readers.
    pub action: &'static str,
    pub this_session: &'static str,
}

/// `action`: the last cell of a row (none for a row without one).
pub fn sessions_table<V: IntoView + 'static>(
    words: SessionsWords,
    sessions: Vec<SessionSummary>,
    testid: &'static str,
    action: impl Fn(&SessionSummary) -> Option<V>,
) -> impl IntoView {
    view! {
        <table class="admin-table" data-testid=testid>
            <thead><tr>
                <th scope="col">{words.browser}</th>
                <th scope="col">{words.place}</th>
                <th scope="col">{words.created}</th>
                <th scope="col">{words.last_seen}</th>
                <th scope="col"><span class="visually-hidden">{words.action}</span></th>
            </tr></thead>
            <tbody>
                {sessions.into_iter().map(|s| {
                    let cell = action(&s);
                    let row = if s.current { "session-current" } else { "session-other" };
                    view! {
                        <tr data-testid=row>
                            <td>{s.browser}{s.current.then_some(words.this_session)}</td>
                            {place_cell(s.place, s.ip)}
                            <td>{s.created_at}</td>
                            <td>{s.last_seen_at}</td>
                            <td>{cell}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
