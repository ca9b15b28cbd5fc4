//! `/admin/groups`: the groups, made, renamed and deleted here. OpenID clients name them
//! in `allowed_groups` (by name: renaming one changes who those clients admit).

use leptos::prelude::*;

use super::{
    escape, failure,
    forms::{ActionForm, GroupNameForm},
    path, Console,
};
use crate::{api::admin_groups, i18n::use_locale};

#[component]
pub fn AdminGroupsPage() -> impl IntoView {
    let t = use_locale().admin();
    let groups = Resource::new(|| (), |_| admin_groups());
    let here = path();
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
                            <GroupNameForm
                                value=String::new()
                                label=t.create
                                field_label=t.new_group.to_owned()
                                back=here.clone()
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
                                            <td><a href=format!("/admin?group={}", escape(&g.name))>{g.name.clone()}</a></td>
                                            <td>{g.members}</td>
                                            <td>
                                                <GroupNameForm
                                                    group_id=g.id
                                                    value=g.name.clone()
                                                    label=t.rename
                                                    field_label=format!("{} {}", t.rename, g.name)
                                                    back=here.clone()
                                                    testid=format!("rename-group-{}", g.id)
                                                />
                                            </td>
                                            <td>
                                                <ActionForm
                                                    action="delete_group"
                                                    fields=vec![("group_id", g.id.to_string())]
                                                    label=t.delete
                                                    back=here.clone()
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
