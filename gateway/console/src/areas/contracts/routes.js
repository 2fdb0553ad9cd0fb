import { Document } from "@element-plus/icons-vue";

const WHO = ["federation_staff", "admin", "contractor"];

export default [
  {
    path: "contracts",
    name: "contracts",
    component: () => import("./ContractList.vue"),
    meta: { title: "合同与里程碑", roles: [...WHO, "finance_officer"], menu: { icon: Document, roles: WHO, titles: { contractor: "我的合同" } }, crumbs: [{ title: "合同与里程碑", titles: { contractor: "我的合同" } }] },
  },
  {
    path: "contracts/:id",
    component: () => import("./ContractDetail.vue"),
    // finance officers open it from the approval queue: the milestone reports and evidence
    meta: { title: "合同详情", roles: [...WHO, "finance_officer"], crumbs: [{ title: "合同与里程碑", titles: { contractor: "我的合同" }, to: "/contracts" }, { title: "合同详情" }] },
  },
];
