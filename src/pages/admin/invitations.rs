//! `/admin/invitations`: make an invitation (its link shown once), see and revoke them.

use leptos::prelude::*;

use super::{
    failure,
    forms::{ActionForm, InvitationForm},
    path, Console,
};
use crate::{
    api::{admin_groups, admin_invitations, admin_new_invitation},
    i18n::use_locale,
};

#[component]
pub fn AdminInvitationsPage() -> impl IntoView {
    let t = use_locale().admin();
    let data = Resource::new(
        || (),
        |_| async {
            Ok::<_, crate::api::ApiError>((
                admin_new_invitation().await?,
                admin_groups().await?,
                admin_invitations().await?,
            ))
        },
    );
    let here = path();
    view! {
        <Console heading=t.invitations>
            <Suspense>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        let (made, groups, invitations) = match data.await {
                            Err(err) => return failure(t, &err),
                            Ok(found) => found,
                        };
                        view! {
                            {made.map(|link| view! {
                                <section class="invitation-made" data-testid="invitation-made">
                                    <h2>{t.invitation_link}</h2>
                                    <p>{t.shown_once}</p>
                                    <p><a data-testid="invitation-url" href=link.url.clone()>{link.url.clone()}</a></p>
                                    <div class="invitation-qr" inner_html=link.qr_svg></div>
                                </section>
                            })}
                            <h2>{t.new_invitation}</h2>
                            <InvitationForm t groups/>
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
                                                        <ActionForm
                                                            action="revoke_invitation"
                                                            fields=vec![("invitation_id", i.id.to_string())]
                                                            label=t.revoke
                                                            back=here.clone()
                                                            testid=format!("revoke-invitation-{}", i.id)
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
