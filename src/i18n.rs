//! The pages' words, one catalogue per language: no text lives in a component.
//!
//! The server picks the language of each render (`server::locale`: `?lang=`, then the
//! `lang` cookie, then `Accept-Language`), so the page arrives in it with no flash of
//! another; islands get it as a prop. A catalogue is a plain struct, so a missing text
//! is a compile error, not a blank on the page.

use leptos::prelude::use_context;
use serde::{Deserialize, Serialize};

/// The render's language and the switch's links, provided by the shell on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLanguage {
    pub locale: Locale,
    /// This page's address in each language.
    pub links: Vec<(Locale, String)>,
}

/// The language of the page being rendered (the default outside a render).
pub fn use_locale() -> Locale {
    use_context::<PageLanguage>().map_or_else(Locale::default, |p| p.locale)
}

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    /// Simplified Chinese: most people who log in with WeChat read it, so it is the
    /// language of a browser that says nothing.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// The BCP 47 tag: `<html lang>`, `?lang=` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// A tag as `?lang=` or the cookie carries it (exactly one of [`Locale::tag`]'s,
    /// ignoring case).
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// The language's name in itself, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Locale::ZhCn => "中文",
            Locale::En => "English",
        }
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Locale::ZhCn => &ZH_CN,
            Locale::En => &EN,
        }
    }

    /// The account page's texts.
    pub fn account(self) -> &'static AccountStrings {
        match self {
            Locale::ZhCn => &ACCOUNT_ZH_CN,
            Locale::En => &ACCOUNT_EN,
        }
    }

    /// The admin console's texts.
    pub fn admin(self) -> &'static AdminStrings {
        match self {
            Locale::ZhCn => &ADMIN_ZH_CN,
            Locale::En => &ADMIN_EN,
        }
    }
}

impl Strings {
    /// Why the access rules refuse a person, in words.
    pub fn refusal(&self, refusal: crate::protocol::Refusal) -> &'static str {
        use crate::protocol::Refusal as R;
        match refusal {
            R::NotInvited => self.refused_not_invited,
            R::Closed => self.refused_closed,
            R::Disabled => self.refused_disabled,
            R::NotAllowed => self.refused_not_allowed,
            R::InvitationInvalid => self.refused_invitation_invalid,
        }
    }
}

/// The account page's words.
pub struct AccountStrings {
    pub title: &'static str,
    pub heading: &'static str,
    pub link: &'static str,
    pub deleted: &'static str,
    pub sessions: &'static str,
    pub browser: &'static str,
    pub place: &'static str,
    pub created: &'static str,
    pub last_seen: &'static str,
    pub this_session: &'static str,
    pub end_session: &'static str,
    pub end_others: &'static str,
    pub applications: &'static str,
    pub no_applications: &'static str,
    pub application: &'static str,
    pub until: &'static str,
    pub revoke: &'static str,
    pub recent: &'static str,
    pub time: &'static str,
    pub event: &'static str,
    pub result: &'static str,
    pub none: &'static str,
    pub my_data: &'static str,
    pub data_intro: &'static str,
    pub download: &'static str,
    pub delete_heading: &'static str,
    pub delete_intro: &'static str,
    pub delete_fresh: &'static str,
    pub scan_again: &'static str,
    pub understood: &'static str,
    pub delete_button: &'static str,
    pub error_step_up: &'static str,
    pub error_not_found: &'static str,
    pub error_rate_limited: &'static str,
    pub error_malformed: &'static str,
    pub error_failed: &'static str,
}

pub static ACCOUNT_ZH_CN: AccountStrings = AccountStrings {
    title: "我的账号 · scanlogin",
    heading: "我的账号",
    link: "我的账号",
    deleted: "你的账号已注销，与它有关的数据已删除。",
    sessions: "登录的设备",
    browser: "浏览器",
    place: "位置",
    created: "登录于",
    last_seen: "最近使用",
    this_session: "（本设备）",
    end_session: "退出",
    end_others: "退出其他所有设备",
    applications: "我授权的应用",
    no_applications: "没有应用持有你的授权。",
    application: "应用",
    until: "有效至",
    revoke: "撤销授权",
    recent: "最近的登录与操作",
    time: "时间",
    event: "事件",
    result: "结果",
    none: "暂无记录。",
    my_data: "我的数据",
    data_intro: "下载一个 JSON 文件，包含我们保存的关于你的全部信息：资料、微信身份、登录的设备、授权的应用和最近的记录。其中没有任何令牌或密钥。",
    download: "下载我的数据",
    delete_heading: "注销账号",
    delete_intro: "注销后，你的资料、头像、微信身份、所有登录和应用授权都会被删除，已授权的应用会收到退出通知。审计记录只保留一个不再对应任何人的编号。之后再用同一个微信扫码，将是一个全新的账号。",
    delete_fresh: "为确认是你本人，请先用微信重新扫码（10 分钟内有效）。",
    scan_again: "重新扫码确认",
    understood: "我明白注销后无法恢复",
    delete_button: "注销我的账号",
    error_step_up: "这一步需要刚刚扫过码：请重新扫码确认。",
    error_not_found: "它已经不在了。",
    error_rate_limited: "请稍等一分钟再下载。",
    error_malformed: "请勾选确认后再提交。",
    error_failed: "操作没有完成，请再试一次。",
};

pub static ACCOUNT_EN: AccountStrings = AccountStrings {
    title: "My account · scanlogin",
    heading: "My account",
    link: "My account",
    deleted: "Your account is deleted, and what was stored about you with it.",
    sessions: "Where I am logged in",
    browser: "Browser",
    place: "Location",
    created: "Logged in",
    last_seen: "Last seen",
    this_session: " (this one)",
    end_session: "Log out",
    end_others: "Log out everywhere else",
    applications: "Applications I let in",
    no_applications: "No application holds a grant of yours.",
    application: "Application",
    until: "Until",
    revoke: "Revoke",
    recent: "Recent logins and changes",
    time: "Time",
    event: "Event",
    result: "Result",
    none: "Nothing yet.",
    my_data: "My data",
    data_intro: "Download a JSON file of everything stored about you: profile, WeChat identities, where you are logged in, applications you let in and recent activity. It holds no token or key.",
    download: "Download my data",
    delete_heading: "Delete my account",
    delete_intro: "Deleting removes your profile, avatar, WeChat identities, every login and every application's grant, and applications are told you logged out. The audit trail keeps only a number that no longer stands for anyone. Scanning with the same WeChat later makes a new account.",
    delete_fresh: "To make sure it is you, scan again with WeChat first (valid for 10 minutes).",
    scan_again: "Scan again to confirm",
    understood: "I understand this cannot be undone",
    delete_button: "Delete my account",
    error_step_up: "This needs a scan just now: scan again to confirm.",
    error_not_found: "It is no longer there.",
    error_rate_limited: "Please wait a minute before downloading again.",
    error_malformed: "Tick the confirmation first.",
    error_failed: "That did not work; please try again.",
};

/// Every text of the admin console.
pub struct AdminStrings {
    pub title: &'static str,
    pub nav_label: &'static str,
    pub users: &'static str,
    pub groups: &'static str,
    pub invitations: &'static str,
    pub audit: &'static str,
    pub not_admin: &'static str,
    pub failed: &'static str,
    pub step_up: &'static str,
    pub step_up_link: &'static str,
    pub search: &'static str,
    pub search_label: &'static str,
    pub group: &'static str,
    pub state: &'static str,
    pub any: &'static str,
    pub enabled: &'static str,
    pub disabled: &'static str,
    pub admin: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub created: &'static str,
    pub last_login: &'static str,
    pub identities: &'static str,
    pub never: &'static str,
    pub page_of: fn(i64, i64, i64) -> String,
    pub previous: &'static str,
    pub next: &'static str,
    pub sessions: &'static str,
    pub browser: &'static str,
    pub place: &'static str,
    pub last_seen: &'static str,
    pub this_session: &'static str,
    pub no_sessions: &'static str,
    pub grants: &'static str,
    pub client: &'static str,
    pub until: &'static str,
    pub refresh_tokens: &'static str,
    pub no_grants: &'static str,
    pub recent: &'static str,
    pub disable: &'static str,
    pub enable: &'static str,
    pub make_admin: &'static str,
    pub remove_admin: &'static str,
    pub revoke: &'static str,
    pub revoke_all: &'static str,
    pub add_to_group: &'static str,
    pub remove_from_group: &'static str,
    pub add: &'static str,
    pub members: &'static str,
    pub new_group: &'static str,
    pub create: &'static str,
    pub rename: &'static str,
    pub delete: &'static str,
    pub new_invitation: &'static str,
    pub uses: &'static str,
    pub valid_days: &'static str,
    pub grants_admin: &'static str,
    pub note: &'static str,
    pub invitation_link: &'static str,
    pub shown_once: &'static str,
    pub expires: &'static str,
    pub revoked: &'static str,
    pub time: &'static str,
    pub event: &'static str,
    pub result: &'static str,
    pub actor: &'static str,
    pub user: &'static str,
    pub address: &'static str,
    pub request_id: &'static str,
    pub detail: &'static str,
    pub days: &'static str,
    pub filter: &'static str,
    pub export_csv: &'static str,
    pub done: &'static str,
    pub none: &'static str,
    pub error_not_found: &'static str,
    pub error_conflict: &'static str,
    pub error_malformed: &'static str,
    pub error_failed: &'static str,
}

pub static ADMIN_ZH_CN: AdminStrings = AdminStrings {
    title: "管理控制台 · scanlogin",
    nav_label: "控制台导航",
    users: "用户",
    groups: "用户组",
    invitations: "邀请",
    audit: "审计日志",
    not_admin: "只有管理员可以使用控制台。",
    failed: "操作失败：",
    step_up: "这个操作需要最近 10 分钟内的登录。",
    step_up_link: "重新扫码登录",
    search: "搜索",
    search_label: "名字或用户 ID",
    group: "用户组",
    state: "状态",
    any: "全部",
    enabled: "正常",
    disabled: "已停用",
    admin: "管理员",
    id: "ID",
    name: "名字",
    created: "创建时间",
    last_login: "最近登录",
    identities: "微信身份",
    never: "从未",
    page_of: |page, pages, total| format!("第 {page} / {pages} 页，共 {total} 人"),
    previous: "上一页",
    next: "下一页",
    sessions: "登录会话",
    browser: "浏览器",
    place: "位置",
    last_seen: "最近活动",
    this_session: "（当前会话）",
    no_sessions: "没有登录中的会话。",
    grants: "已授权的应用",
    client: "应用",
    until: "有效至",
    refresh_tokens: "长期授权",
    no_grants: "没有已授权的应用。",
    recent: "最近的审计记录",
    disable: "停用账号",
    enable: "启用账号",
    make_admin: "设为管理员",
    remove_admin: "取消管理员",
    revoke: "结束",
    revoke_all: "结束全部会话",
    add_to_group: "加入用户组",
    remove_from_group: "移出",
    add: "加入",
    members: "成员数",
    new_group: "新用户组的名字",
    create: "创建",
    rename: "改名",
    delete: "删除",
    new_invitation: "新建邀请",
    uses: "可用次数",
    valid_days: "有效天数",
    grants_admin: "成为管理员",
    note: "备注",
    invitation_link: "邀请链接",
    shown_once: "链接只显示这一次，请现在复制或扫码。",
    expires: "过期时间",
    revoked: "已撤销",
    time: "时间",
    event: "事件",
    result: "结果",
    actor: "操作者",
    user: "用户",
    address: "地址",
    request_id: "请求 ID",
    detail: "详情",
    days: "最近天数",
    filter: "筛选",
    export_csv: "导出 CSV",
    done: "已完成",
    none: "无",
    error_not_found: "没有找到要操作的对象，可能已被删除。",
    error_conflict: "无法执行：同名的用户组已存在，或这是最后一位管理员（请先设置另一位）。",
    error_malformed: "填写的内容无效，请检查后重试。",
    error_failed: "操作失败，请稍后重试。",
};

pub static ADMIN_EN: AdminStrings = AdminStrings {
    title: "Admin console · scanlogin",
    nav_label: "Console",
    users: "Users",
    groups: "Groups",
    invitations: "Invitations",
    audit: "Audit log",
    not_admin: "Only administrators can use the console.",
    failed: "That did not work: ",
    step_up: "This action needs a login from the last 10 minutes.",
    step_up_link: "Scan again to log in",
    search: "Search",
    search_label: "Name or user id",
    group: "Group",
    state: "State",
    any: "Any",
    enabled: "Enabled",
    disabled: "Disabled",
    admin: "Administrator",
    id: "ID",
    name: "Name",
    created: "Created",
    last_login: "Last login",
    identities: "WeChat identities",
    never: "never",
    page_of: |page, pages, total| format!("Page {page} of {pages}, {total} users"),
    previous: "Previous",
    next: "Next",
    sessions: "Sessions",
    browser: "Browser",
    place: "Location",
    last_seen: "Last seen",
    this_session: " (this session)",
    no_sessions: "No live sessions.",
    grants: "Applications let in",
    client: "Application",
    until: "Until",
    refresh_tokens: "Long-lived",
    no_grants: "No applications.",
    recent: "Recent audit entries",
    disable: "Disable account",
    enable: "Enable account",
    make_admin: "Make administrator",
    remove_admin: "Remove administrator",
    revoke: "End",
    revoke_all: "End all sessions",
    add_to_group: "Add to group",
    remove_from_group: "Remove",
    add: "Add",
    members: "Members",
    new_group: "New group's name",
    create: "Create",
    rename: "Rename",
    delete: "Delete",
    new_invitation: "New invitation",
    uses: "Uses",
    valid_days: "Valid for (days)",
    grants_admin: "Makes an administrator",
    note: "Note",
    invitation_link: "Invitation link",
    shown_once: "The link is shown this once: copy it or scan it now.",
    expires: "Expires",
    revoked: "Revoked",
    time: "Time",
    event: "Event",
    result: "Result",
    actor: "By",
    user: "User",
    address: "Address",
    request_id: "Request id",
    detail: "Detail",
    days: "Last days",
    filter: "Filter",
    export_csv: "Export CSV",
    done: "Done",
    none: "none",
    error_not_found: "What you acted on was not found: it may have been deleted.",
    error_conflict: "That cannot be done: a group of that name exists, or this is the last administrator (make another one first).",
    error_malformed: "What was filled in is not valid: check it and try again.",
    error_failed: "That did not work: try again shortly.",
};

/// Every text of the pages and the QR component.
pub struct Strings {
    pub site_name: &'static str,
    pub language_switch_label: &'static str,
    pub not_found: &'static str,
    pub no_script: &'static str,
    pub no_wasm: &'static str,

    pub login_title: &'static str,
    pub login_heading: &'static str,
    pub login_hint: &'static str,

    /// The code image's text alternative: what to do with it.
    pub code_alt: &'static str,
    pub state_loading: &'static str,
    pub state_waiting: &'static str,
    pub state_scanned: &'static str,
    pub state_confirmed: &'static str,
    pub state_cancelled: &'static str,
    pub state_expired: &'static str,
    pub state_error: &'static str,
    pub state_refused: &'static str,
    /// Why the access rules refuse a person, and what they can do.
    pub refused_not_invited: &'static str,
    pub refused_closed: &'static str,
    pub refused_disabled: &'static str,
    pub refused_not_allowed: &'static str,
    pub refused_invitation_invalid: &'static str,
    /// The link back to the application that a refused login was for.
    pub back_to_application: &'static str,
    pub invite_title: &'static str,
    pub invite_heading: &'static str,
    pub invite_hint: &'static str,
    /// What to do next, per state (empty: nothing to add).
    pub next_waiting: &'static str,
    pub next_scanned: &'static str,
    pub next_cancelled: &'static str,
    pub next_expired: &'static str,
    pub next_exhausted: &'static str,
    pub expires_in: fn(u64) -> String,
    pub new_code: &'static str,
    pub unreachable: &'static str,
    pub retry_now: &'static str,
    pub error_limited: &'static str,
    pub error_busy: &'static str,
    pub error_wechat: &'static str,
    pub error_session: &'static str,
    pub error_other: &'static str,
    pub open_in_wechat: &'static str,
    pub open_in_wechat_hint: &'static str,
    pub link_refused: &'static str,
    pub in_wechat_hint: &'static str,

    pub home_title: &'static str,
    pub home_intro: &'static str,
    pub log_in: &'static str,
    pub logged_in_as: &'static str,
    pub log_out: &'static str,

    /// The OpenID provider's logout pages (RP-initiated logout).
    pub logout_title: &'static str,
    pub logout_question: &'static str,
    /// "<application> asks to log you out."
    pub logout_asked_by: fn(&str) -> String,
    pub logout_stay: &'static str,
    pub logged_out: &'static str,
    pub logout_refused_heading: &'static str,
    pub logout_refused: &'static str,

    pub phone_title: &'static str,
    pub phone_header: &'static str,
    pub phone_needs_scene: &'static str,
    pub phone_person: &'static str,
    pub phone_scan: &'static str,
    /// "<application> wants you to log in", above the browser that asks.
    pub phone_application_asks: fn(&str) -> String,
    pub phone_asking: &'static str,
    pub phone_browser: &'static str,
    pub phone_network: &'static str,
    pub phone_asked_at: &'static str,
    pub phone_warning: &'static str,
    pub phone_confirm: &'static str,
    pub phone_delete_account: &'static str,
    pub phone_confirm_delete: &'static str,
    /// The demo phone's stand-in for `wx.requestSubscribeMessage`'s "allow".
    pub phone_notify: &'static str,
    pub phone_messages: &'static str,
    pub phone_check_messages: &'static str,
    pub phone_no_messages: &'static str,
    pub phone_cancel: &'static str,
    pub phone_confirmed: &'static str,
    pub phone_cancelled: &'static str,
    pub phone_scan_first: &'static str,
    pub phone_error_expired: &'static str,
    pub phone_error_decided: &'static str,
    pub phone_error_again: &'static str,
}

pub static ZH_CN: Strings = Strings {
    site_name: "scanlogin",
    language_switch_label: "语言",
    not_found: "页面不存在。",
    no_script: "登录需要 JavaScript：请启用它，或换一个浏览器。",
    no_wasm: "这个浏览器无法运行登录（不支持 WebAssembly）。请使用新版的 Chrome、Edge、Firefox、Safari，或在微信中打开。",

    login_title: "微信扫码登录 · scanlogin",
    login_heading: "微信扫码登录",
    login_hint: "打开微信，点右上角 ＋ 选择「扫一扫」，然后在手机上确认。",

    code_alt: "微信小程序码：用手机微信扫一扫，即可登录本站",
    state_loading: "正在获取小程序码…",
    state_waiting: "请用微信扫码登录",
    state_scanned: "已扫码，请在手机上确认",
    state_confirmed: "已确认，正在登录…",
    state_cancelled: "已在手机上取消",
    state_expired: "小程序码已过期",
    state_error: "出错了",
    state_refused: "无法登录",
    refused_not_invited: "本站只接受受邀用户。请向网站管理员索取邀请链接。",
    refused_closed: "本站只接受已有用户登录。如需访问，请联系网站管理员。",
    refused_disabled: "你的账号已被停用。如有疑问，请联系网站管理员。",
    refused_not_allowed: "你没有使用这个应用的权限。如需访问，请联系网站管理员。",
    refused_invitation_invalid: "这个邀请链接已用完、已撤销或已过期。请向管理员索取新的邀请。",
    back_to_application: "返回应用",
    invite_title: "接受邀请 · scanlogin",
    invite_heading: "你收到了邀请",
    invite_hint: "用微信扫下面的小程序码并在手机上确认，即可接受邀请并登录。",
    next_waiting: "",
    next_scanned: "在手机微信里点「确认登录」。",
    next_cancelled: "马上换一个新码；想登录就再扫一次。",
    next_expired: "正在换一个新码…",
    next_exhausted: "小程序码已过期，请点下面的按钮换一个。",
    expires_in: |s| format!("{s} 秒后过期"),
    new_code: "换一个小程序码",
    unreachable: "无法连接服务器，正在重试…",
    retry_now: "立即重试",
    error_limited: "操作太频繁了，请稍等片刻再试。",
    error_busy: "服务正忙，稍后会自动重试。",
    error_wechat: "微信暂时没有响应，稍后会自动重试。",
    error_session: "登录没有完成，请换一个小程序码重新扫码。",
    error_other: "请换一个小程序码再试。",
    open_in_wechat: "在微信中打开",
    open_in_wechat_hint: "正在用手机浏览？在微信中打开并确认，然后回到这里，就会自动登录。",
    link_refused: "微信暂时无法生成打开链接。请用另一部手机的微信「扫一扫」扫描这个码。",
    in_wechat_hint: "在右上角「···」中选择「在默认浏览器中打开」，再点「在微信中打开」。（从图片识别的登录码会被小程序拒绝，以防有人转发登录码盗用账号。）",

    home_title: "scanlogin",
    home_intro: "用微信扫小程序码登录本站。",
    log_in: "登录",
    logged_in_as: "已登录：",
    log_out: "退出登录",

    logout_title: "退出登录 · scanlogin",
    logout_question: "要退出登录吗？",
    logout_asked_by: |app| format!("「{app}」请求让你退出登录。"),
    logout_stay: "保持登录",
    logged_out: "你已退出登录。",
    logout_refused_heading: "这个退出请求无效",
    logout_refused: "应用发来的退出请求无效，你仍处于登录状态。可以回到原来的网站重试，或在本站首页退出登录。",

    phone_title: "演示小程序 · scanlogin",
    phone_header: "scanlogin · 演示小程序",
    phone_needs_scene: "这个页面需要登录码里的 ?scene= 参数。",
    phone_person: "登录身份 ",
    phone_scan: "扫码",
    phone_application_asks: |app| format!("{app} 请求使用你的微信登录"),
    phone_asking: "有一个浏览器请求以你的身份登录：",
    phone_browser: "浏览器",
    phone_network: "网络",
    phone_asked_at: "请求时间",
    phone_warning: "只有当它是你面前的这台电脑时才确认。",
    phone_confirm: "确认登录",
    phone_delete_account: "这次扫码是为了注销你的账号：确认后，这个浏览器将可以删除你的账号和全部数据。",
    phone_confirm_delete: "确认注销账号",
    phone_notify: "登录后在微信里通知我（允许一次订阅消息）",
    phone_messages: "微信消息",
    phone_check_messages: "查看消息",
    phone_no_messages: "还没有消息。",
    phone_cancel: "取消",
    phone_confirmed: "已确认，可以放下手机了。",
    phone_cancelled: "已取消，没有人登录。",
    phone_scan_first: "请先扫码",
    phone_error_expired: "这个登录码已过期，请在电脑上换一个新码再扫。",
    phone_error_decided: "这次登录已经处理过了。",
    phone_error_again: "请重新扫码。",
};

pub static EN: Strings = Strings {
    site_name: "scanlogin",
    language_switch_label: "Language",
    not_found: "Page not found.",
    no_script: "The login needs JavaScript: turn it on, or use another browser.",
    no_wasm: "This browser cannot run the login (it has no WebAssembly). Use a current Chrome, Edge, Firefox or Safari, or open the page in WeChat.",

    login_title: "Log in with WeChat · scanlogin",
    login_heading: "Log in with WeChat",
    login_hint: "Open WeChat, tap + then Scan, and confirm on your phone.",

    code_alt: "WeChat mini-program code: scan it with WeChat on your phone to log in to this site",
    state_loading: "Getting a code…",
    state_waiting: "Scan with WeChat to log in",
    state_scanned: "Scanned: confirm on your phone",
    state_confirmed: "Confirmed: logging you in…",
    state_cancelled: "Cancelled on the phone",
    state_expired: "This code has expired",
    state_error: "Something went wrong",
    state_refused: "You cannot log in",
    refused_not_invited: "This site admits invited people only. Ask its administrator for an invitation link.",
    refused_closed: "This site admits its existing users only. Contact its administrator for access.",
    refused_disabled: "Your account has been disabled. Contact the site's administrator if you think this is a mistake.",
    refused_not_allowed: "You are not allowed to use this application. Contact the site's administrator for access.",
    refused_invitation_invalid: "This invitation is used up, revoked or expired. Ask the administrator for a new one.",
    back_to_application: "Back to the application",
    invite_title: "Accept an invitation · scanlogin",
    invite_heading: "You are invited",
    invite_hint: "Scan the code below with WeChat and confirm on your phone to accept the invitation and log in.",
    next_waiting: "",
    next_scanned: "Tap “Confirm” in WeChat on your phone.",
    next_cancelled: "A new code is coming; scan it to log in.",
    next_expired: "Getting a new code…",
    next_exhausted: "Code expired — get a new one with the button below.",
    expires_in: |s| format!("Expires in {s} s"),
    new_code: "Get a new code",
    unreachable: "Cannot reach the server: trying again…",
    retry_now: "Try again now",
    error_limited: "Too many attempts: wait a moment and try again.",
    error_busy: "The service is busy: it will try again shortly.",
    error_wechat: "WeChat is not answering: it will try again shortly.",
    error_session: "The login did not complete: get a new code and scan again.",
    error_other: "Get a new code and try again.",
    open_in_wechat: "Open in WeChat",
    open_in_wechat_hint: "On your phone? Open the login in WeChat, confirm, then come back here: this page logs you in.",
    link_refused: "WeChat cannot make a link to open right now. Scan the code with WeChat’s Scan on another phone.",
    in_wechat_hint: "Tap “···” at the top right, choose “Open in browser”, then tap “Open in WeChat”. (The mini program refuses a login code recognised in a picture, so that no one can forward you a code to take over your account.)",

    home_title: "scanlogin",
    home_intro: "Log in to this site by scanning a WeChat mini-program code.",
    log_in: "Log in",
    logged_in_as: "Logged in as ",
    log_out: "Log out",

    logout_title: "Log out · scanlogin",
    logout_question: "Log out?",
    logout_asked_by: |app| format!("“{app}” asks to log you out."),
    logout_stay: "Stay logged in",
    logged_out: "You have logged out.",
    logout_refused_heading: "This logout request cannot be used",
    logout_refused: "The application sent a logout request that is not valid, so you are still logged in. Go back to it and try again, or log out from this site's home page.",

    phone_title: "Demo mini program · scanlogin",
    phone_header: "scanlogin · demo mini program",
    phone_needs_scene: "This page needs a valid ?scene= from a login code.",
    phone_person: "Log in as ",
    phone_scan: "Scan the code",
    phone_application_asks: |app| format!("{app} wants you to log in"),
    phone_asking: "A browser asks to log in as you:",
    phone_browser: "Browser",
    phone_network: "Network",
    phone_asked_at: "Asked at",
    phone_warning: "Only confirm if this is the computer in front of you.",
    phone_confirm: "Confirm",
    phone_delete_account: "This scan is to delete your account: once you confirm, this browser can delete your account and all your data.",
    phone_confirm_delete: "Confirm deleting my account",
    phone_notify: "Tell me in WeChat after the login (allow one message)",
    phone_messages: "WeChat messages",
    phone_check_messages: "Check messages",
    phone_no_messages: "No messages yet.",
    phone_cancel: "Cancel",
    phone_confirmed: "Confirmed. You can put your phone away.",
    phone_cancelled: "Cancelled. Nobody was logged in.",
    phone_scan_first: "scan first",
    phone_error_expired: "This login code has expired: get a new one on the computer and scan again.",
    phone_error_decided: "This login was already decided.",
    phone_error_again: "Scan the code again.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_in_serde_and_ignore_case() {
        for locale in Locale::ALL {
            assert_eq!(Locale::from_tag(locale.tag()), Some(locale));
            let json = serde_json::to_string(&locale).unwrap();
            assert_eq!(json, format!("\"{}\"", locale.tag()));
        }
        assert_eq!(Locale::from_tag("ZH-cn"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("fr"), None);
    }

    #[test]
    fn every_catalogue_says_the_countdown() {
        assert_eq!((EN.expires_in)(7), "Expires in 7 s");
        assert_eq!((ZH_CN.expires_in)(7), "7 秒后过期");
    }
}
