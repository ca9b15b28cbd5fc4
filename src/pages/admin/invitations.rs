//! `/admin/invitations`: make an invitation (its link shown once), see and revoke them.

use leptos::prelude::*;

use super::{failure, here, Console};
use crate::{
    api::{admin_groups, admin_invitations},
    components::admin_actions::{ActionButton, InvitationForm},
    i18n::use_locale,
    protocol::AdminAction,
};

#[component]
pub fn AdminInvitationsPage() -> impl IntoView {
    let locale = use_locale();
    let t = locale.admin();
    let data = Resource::new(
        || (),
        |_| async {
            Ok::<_, crate::api::ApiError>((admin_groups().await?, admin_invitations().await?))
        },
    );
    let here = here();
    view! {
        <Console heading=t.invitations>
            <Suspense>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        let (groups, invitations) = match data.await {
                            Err(err) => return failure(t, &err),
                            Ok(found) => found,
                        };
                        view! {
                            <h2>{t.new_invitation}</h2>
                            <InvitationForm locale groups here=here.clone()/>
                            <h2>{t.invitations}</h2>
                            <table class="admin-table" data-testid="invitations">
                                <thead><tr>
                                    <th scope="col">{t.id}</th>
                                    <th scope="col">{t.note}</th>
                                    <th scope="col">{t.uses}</th>
                                    <th scope="col">{t.groups}</th>
                                    <th scope="col">{t.expires}</th>
                                    <th scope="col">{t.state}</th>
                                </tr></thead>
                                <tbody>
                                    {invitations.into_iter().map(|i| view! {
                                        <tr data-testid=format!("invitation-{}", i.id)>
                                            <td>{i.id}</td>
                                            <td>{i.note}</td>
                                            <td>{format!("{} / {}", i.uses, i.max_uses)}</td>
                                            <td>{i.groups.join(", ")}{i.admin.then(|| format!(" · {}", t.admin))}</td>
                                            <td>{i.expires_at}</td>
                                            <td>
                                                {if i.revoked {
                                                    view! { {t.revoked} }.into_any()
                                                } else {
                                                    view! {
                                                        <ActionButton
                                                            locale
                                                            action=AdminAction::RevokeInvitation { invitation_id: i.id }
                                                            label=t.revoke.to_owned()
                                                            here=here.clone()
                                                            testid=format!("revoke-invitation-{}", i.id)
                                                            danger=false
                                                        />
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    })
                }}
            </Suspense>
        </Console>
    }
}
