//! `/admin/groups`: the groups, made, renamed and deleted here. OpenID clients name them
//! in `allowed_groups` (by name: renaming one changes who those clients admit).

use leptos::prelude::*;

use super::{failure, here, Console};
use crate::{
    api::admin_groups,
    components::admin_actions::{ActionButton, TextAction},
    i18n::use_locale,
    protocol::AdminAction,
};

#[component]
pub fn AdminGroupsPage() -> impl IntoView {
    let locale = use_locale();
    let t = locale.admin();
    let groups = Resource::new(|| (), |_| admin_groups());
    let here = here();
    view! {
        <Console heading=t.groups>
            <Suspense>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        let groups = match groups.await {
                            Err(err) => return failure(t, &err),
                            Ok(groups) => groups,
                        };
                        view! {
                            <TextAction
                                locale
                                kind="create_group".to_owned()
                                group_id=0
                                value=String::new()
                                label=t.create.to_owned()
                                field_label=t.new_group.to_owned()
                                here=here.clone()
                                testid="create-group".to_owned()
                            />
                            <table class="admin-table" data-testid="groups">
                                <thead><tr>
                                    <th scope="col">{t.name}</th>
                                    <th scope="col">{t.members}</th>
                                    <th scope="col">{t.rename}</th>
                                    <th scope="col"><span class="visually-hidden">{t.delete}</span></th>
                                </tr></thead>
                                <tbody>
                                    {groups.into_iter().map(|g| view! {
                                        <tr data-testid=format!("group-{}", g.name)>
                                            <td><a href=format!("/admin?group={}", crate::components::admin_actions::escape(&g.name))>{g.name.clone()}</a></td>
                                            <td>{g.members}</td>
                                            <td>
                                                <TextAction
                                                    locale
                                                    kind="rename_group".to_owned()
                                                    group_id=g.id
                                                    value=g.name.clone()
                                                    label=t.rename.to_owned()
                                                    field_label=format!("{} {}", t.rename, g.name)
                                                    here=here.clone()
                                                    testid=format!("rename-group-{}", g.id)
                                                />
                                            </td>
                                            <td>
                                                <ActionButton
                                                    locale
                                                    action=AdminAction::DeleteGroup { group_id: g.id }
                                                    label=t.delete.to_owned()
                                                    here=here.clone()
                                                    testid=format!("delete-group-{}", g.id)
                                                    danger=true
                                                />
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
