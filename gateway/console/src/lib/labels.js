// Chinese words for the API's codes (the glossary of shared/CONSOLE.md), and tag colours:
// grey draft, blue in progress, orange waiting for someone, green done, red refused/held.

export const ROLES = {
  admin: "系统管理员",
  federation_staff: "妇联工作人员",
  contractor: "承接机构",
  finance_officer: "财务人员",
  ops: "运维人员",
  team_leader: "志愿服务队队长",
  volunteer: "志愿者",
  auditor: "审计管理员",
};

export const PROJECT_STATUS = {
  draft: ["草稿", "info"],
  published: ["已发布", "primary"],
  awarded: ["已立项", "primary"],
  evaluated: ["已评估", "warning"],
  closed: ["已结项", "success"],
  cancelled: ["已撤销", "danger"],
};

export const CATEGORIES = {
  single_mother_family_services: "单亲母亲家庭服务",
  spring_bud_girls_schooling: "春蕾女童助学",
  womens_health_screening: "妇女健康筛查",
  domestic_service_childcare_training: "家政育婴培训",
  entrepreneurship_training: "创业就业培训",
  family_dispute_mediation: "婚姻家庭纠纷调解",
  legal_aid: "法律援助",
  family_education: "家庭教育",
  left_behind_children_elderly_women_care: "留守儿童与留守妇女关爱",
  other: "其他",
};

export const MODELS = { commissioned: "委托", self_run: "自办" };

export const APPLICATION_STATUS = {
  submitted: ["已申报", "warning"],
  awarded: ["已中标", "success"],
  accepted: ["已中标", "success"],
  rejected: ["未中标", "danger"],
  not_awarded: ["未中标", "info"],
  withdrawn: ["已撤回", "info"],
};

export const CONTRACT_STATUS = {
  active: ["履行中", "primary"],
  suspended: ["已暂停", "danger"],
  completed: ["已完成", "success"],
  cancelled: ["已撤销", "danger"],
};

export const MILESTONE_STATUS = {
  pending: ["待提交", "info"],
  reported: ["待验收", "warning"],
  rejected: ["已退回", "danger"],
  accepted: ["验收通过", "success"],
  cancelled: ["已撤销", "info"],
};

export const PAYMENT_STATUS = {
  not_due: ["未到拨付", "info"],
  none: ["未到拨付", "info"],
  pending: ["未到拨付", "info"],
  requested: ["待审批", "warning"],
  awaiting_approval: ["待审批", "warning"],
  approved: ["已审批待支付", "warning"],
  held: ["暂停拨付", "danger"],
  rejected: ["拨付被驳回", "danger"],
  paid: ["已支付", "success"],
};

export const REPORT_DECISION = {
  pending: ["待验收", "warning"],
  accepted: ["验收通过", "success"],
  rejected: ["已退回", "danger"],
};

export const ORG_KINDS = {
  federation: "妇联",
  womens_organization: "妇女组织",
  host_unit: "建会单位",
  service_provider: "社会服务机构",
};

export const ORG_LEVELS = {
  national: "全国",
  province: "省级",
  city: "市级",
  county: "县级",
  township: "乡镇（街道）",
  village: "村（社区）",
};

export const SECTORS = {
  government_agency: "机关",
  public_institution: "事业单位",
  non_public_enterprise: "非公有制企业",
  social_organization: "社会组织",
  village: "行政村",
  community: "城市社区",
};

export const ORG_STATUS = {
  registered: ["已登记", "info"],
  verified: ["已核验", "success"],
  suspended: ["已暂停", "danger"],
  reinstated: ["已恢复", "success"],
  deregistered: ["已注销", "info"],
};

export const ORG_ACTIONS = {
  register: "登记",
  verify: "核验",
  suspend: "暂停",
  reinstate: "恢复",
  deregister: "注销",
  move: "调整上级",
  update: "修改",
};

export const SOURCE_KINDS = {
  fiscal_special_fund: "财政专项",
  donation: "捐赠",
  interest_subsidy: "贴息",
  other: "其他",
};

// --- finance ---------------------------------------------------------------------------------

export const DISBURSEMENT_STATUS = {
  pending: ["待审批", "warning"],
  approved: ["已审批待支付", "warning"],
  paid: ["已支付", "success"],
  rejected: ["已驳回", "danger"],
  held: ["暂停拨付", "danger"],
};

export const ADJUSTMENT_STATUS = {
  pending: ["待复核", "warning"],
  confirmed: ["已确认", "success"],
  refused: ["已拒绝", "danger"],
};

export const COMMITMENT_STATUS = {
  active: ["占用中", "primary"],
  released: ["已释放", "info"],
  completed: ["已完成", "success"],
};

/** Kinds of journal transaction. */
export const JOURNAL_KINDS = {
  receipt: "资金入账",
  correction: "调减更正",
  commitment: "资金占用",
  release: "占用释放",
  approval: "拨付审批",
  payment: "支付",
};

/** Journal accounts by their prefix ("available:<source>" …). */
export const JOURNAL_ACCOUNTS = {
  income: "资金收入",
  available: "可用资金",
  committed: "已占用",
  approved: "已审批待支付",
  paid: "已支付",
};

export const THEMES = {
  low_carbon_living: "低碳生活",
  civilised_traffic: "文明交通",
  healthy_living: "健康生活",
  caring_for_the_vulnerable: "关爱弱势群体",
  rights_mutual_aid: "维权互助",
  legal_aid: "法律援助",
  family_education: "家庭教育",
  entrepreneurship_mentoring: "创业导师",
  other: "其他",
};

export const ENROLMENT_STATUS = {
  enrolled: ["已报名", "success"],
  waitlisted: ["候补", "warning"],
  cancelled: ["已取消", "info"],
};

export const CERTIFICATE_STATUS = {
  issued: ["有效", "success"],
  revoked: ["已撤销", "danger"],
};

export const HOURS_STATUS = {
  pending: ["待核验", "warning"],
  verified: ["已核验", "success"],
  rejected: ["已退回", "danger"],
};

export const REPORT_GROUPS = {
  volunteer: "按志愿者",
  team: "按服务队",
  theme: "按服务主题",
  project: "按项目",
  month: "按月份",
};

/** The Chinese word of a status, whatever table it is in (unknown codes say so, not the code). */
export function statusLabel(table, code) {
  const entry = table[code];
  if (!entry) return "未知状态";
  return Array.isArray(entry) ? entry[0] : entry;
}

export function statusType(table, code) {
  const entry = table[code];
  return Array.isArray(entry) ? entry[1] : "info";
}

const ENTITY = {
  project: ["项目", PROJECT_STATUS],
  milestone: ["里程碑", MILESTONE_STATUS],
  contract: ["合同", CONTRACT_STATUS],
  organization: ["组织", ORG_STATUS],
  application: ["申报", APPLICATION_STATUS],
  report: ["阶段报告", REPORT_DECISION],
  disbursement: ["拨付", DISBURSEMENT_STATUS],
  adjustment: ["资金调整", ADJUSTMENT_STATUS],
  enrolment: ["报名", ENROLMENT_STATUS],
  "service hours entry": ["服务时长记录", HOURS_STATUS],
  certificate: ["志愿服务证明", CERTIFICATE_STATUS],
};

/** "该项目当前为「已发布」" for a 409's details. */
export function currentStateText(details) {
  const [noun, table] = ENTITY[details?.entity] || ["该记录", { ...PROJECT_STATUS, ...MILESTONE_STATUS, ...ORG_STATUS, ...CONTRACT_STATUS }];
  const status = details?.current_status;
  if (!status) return null;
  return `该${noun === "该记录" ? "记录" : noun}当前状态为「${statusLabel(table, status)}」`;
}


// The audit trail (审计日志): its five logs, acts, object types and outcomes.
export const AUDIT_LOGS = {
  gateway: "网关（登录与账号）",
  registry: "组织管理",
  projects: "项目管理",
  funding: "资金管理",
  volunteers: "志愿服务",
};

export const AUDIT_OUTCOMES = {
  ok: ["成功", "success"],
  denied: ["拒绝", "danger"],
  failed: ["失败", "warning"],
};

export const AUDIT_ACTIONS = {
  login: "登录",
  login_locked: "登录锁定",
  password_changed: "修改密码",
  password_change: "修改密码（原密码错误）",
  password_reset: "重置密码",
  user_created: "新增用户",
  user_changed: "变更用户角色/组织/状态",
  request_refused: "请求被拒绝",
  audit_exported: "导出审计日志",
  audit_anchor: "链头锚定",
  register_organization: "登记组织",
  update_organization: "修改组织",
  change_status: "变更组织状态",
  change_assessment_weights: "修改考核权重",
  draft_project: "新建项目",
  edit_project: "修改项目",
  publish_project: "发布项目",
  cancel_project: "撤销项目",
  close_project: "项目结项",
  evaluate_project: "绩效评估",
  submit_application: "提交申报",
  award_contract: "立项签约",
  report_milestone: "提交阶段报告",
  accept_milestone: "验收通过",
  reject_milestone: "退回里程碑",
  register_file: "上传佐证材料",
  create_source: "新增资金来源",
  adjust_source: "资金调整",
  confirm_adjustment: "确认资金调整",
  refuse_adjustment: "拒绝资金调整",
  approve_disbursement: "审批拨付",
  reject_disbursement: "驳回拨付",
  pay_disbursement: "确认支付",
  create_team: "新建志愿服务队",
  edit_team: "修改志愿服务队",
  add_member: "添加队员",
  register_volunteer: "登记志愿者",
  import_batch: "批量导入志愿者",
  create_activity: "新建活动",
  enrol: "活动报名",
  cancel_enrolment: "取消报名",
  log_hours: "登记服务时长",
  verify_hours: "核验服务时长",
  reject_hours: "退回服务时长",
  read_personal_data: "查看个人信息（明文）",
  export_personal_data: "导出个人信息",
  reencrypt_personal_data: "个人信息重新加密",
};

export const AUDIT_OBJECTS = {
  user: "用户",
  username: "用户名",
  client_address: "客户端地址",
  request: "请求",
  audit_records: "审计日志",
  organization: "组织",
  project: "项目",
  application: "申报",
  contract: "合同",
  milestone: "里程碑",
  file: "佐证材料",
  funding_source: "资金来源",
  source: "资金来源",
  adjustment: "资金调整",
  commitment: "资金占用",
  disbursement: "拨付",
  team: "志愿服务队",
  volunteer: "志愿者",
  activity: "活动",
  enrolment: "报名",
  hours: "服务时长",
  service_hours: "服务时长",
  assessment: "目标考核",
  milestone_report: "阶段报告",
  hours_report: "服务时长报表",
  audit_log: "审计日志（链头）",
};

/** "登录" for a known act, else the code itself (a new act still shows). */
export function auditAction(code) {
  return AUDIT_ACTIONS[code] || code || "—";
}
export function auditObject(code) {
  return AUDIT_OBJECTS[code] || code || "—";
}

// the fields a record's changes name (a field not listed shows its code)
export const AUDIT_FIELDS = {
  role: "角色",
  organization_id: "所属组织",
  disabled: "已停用",
  token_version: "会话版本（变更即结束其登录）",
  password: "密码",
  username: "用户名",
  reason: "原因",
  status: "HTTP 状态",
  locked_seconds: "锁定时长（秒）",
  name: "名称",
  amount: "金额（分）",
  log: "日志",
  file: "文件",
  group_by: "分组",
  fields: "明文字段",
  seq: "序号",
  hash: "哈希",
};
export function auditField(code) {
  return AUDIT_FIELDS[code] ? `${AUDIT_FIELDS[code]}（${code}）` : code;
}
/** Why a disbursement is held (``hold_reasons``): each hold is lifted on its own. */
export const HOLD_REASONS = {
  milestone_overdue: "里程碑逾期",
  payee_suspended: "承接机构被暂停",
  provider_deregistered: "承接机构已注销",
  payee_deregistered: "收款单位已注销",
};
