// 信息公开: what anybody may read without an account (purchase announcements, awards, the
// money paid, OCDS data). These routes need no session (meta.public), and have a layout of
// their own: no side menu, a link to log in.
const announcements = { title: "项目公告", to: "/public/projects" };

export default [
  {
    path: "/public",
    component: () => import("./PublicLayout.vue"),
    meta: { public: true },
    children: [
      { path: "", redirect: "/public/projects" },
      {
        path: "projects",
        component: () => import("./AnnouncementList.vue"),
        meta: { public: true, title: "项目公告 · 信息公开", crumbs: [announcements] },
      },
      {
        path: "projects/:id",
        component: () => import("./PublicProject.vue"),
        meta: { public: true, title: "项目公开信息 · 信息公开", crumbs: [announcements, { title: "项目公开信息" }] },
      },
      {
        path: "certificates/verify",
        component: () => import("./VerifyCertificate.vue"),
        meta: { public: true, title: "证明查验 · 信息公开", crumbs: [{ title: "志愿服务证明查验" }] },
      },
      {
        path: "awards",
        component: () => import("./AwardList.vue"),
        meta: { public: true, title: "立项签约公示 · 信息公开", crumbs: [{ title: "立项签约公示" }] },
      },
    ],
  },
];
