// API errors in Chinese: a 422's field errors from the rule codes the services emit
// (kit.errors.InvalidInput(field=..., rule=...)) and from marshmallow's schema messages;
// a 409 naming the current state; never the server's English message.
import { currentStateText } from "./labels.js";
import { formatDateTime } from "./dates.js";

/** rule code → Chinese message (every rule= the services and gateway raise). */
export const RULES = {
  required: "必填",
  exists: "所选记录不存在或无权使用",
  team_leader: "须选择启用中的志愿服务队队长账号",
  one_of: "不是允许的选项",
  not_in_future: "不能晚于当前时间",
  max_length: "内容过长",
  min_length: "内容过短",
  within_budget: "金额不能超过项目预算",
  shape: "格式不正确",
  phone_format: "手机号格式不正确（11 位大陆手机号）",
  opaque: "格式不正确",
  min: "数值过小",
  max: "数值过大",
  range: "数值超出允许范围",
  length: "统一社会信用代码应为 18 位",
  charset: "统一社会信用代码含有不允许的字符（不使用 I、O、Z、S、V）",
  division_code: "统一社会信用代码中的行政区划码不正确",
  check_character: "统一社会信用代码校验位不正确",
  host_units_only: "只能选择建会单位",
  federation: "须选择妇联",
  federations_only: "只能选择妇联",
  csv: "文件格式不正确",
  aware: "时间须带时区",
  active: "该组织当前不可用（已暂停或已注销）",
  parent_active: "上级组织当前不可用（已暂停或已注销）",
  womens_organization_under_host_or_federation: "妇女组织须建在建会单位或妇联之下",
  service_provider_under_federation: "社会服务机构须登记在妇联之下",
  host_unit_under_federation: "建会单位须在妇联之下",
  federation_one_level_up: "上级妇联须恰好高一个层级",
  no_cycles: "不能移动到自己的下级组织之下",
  within_project_period: "须在项目周期之内",
  within_activity: "须在活动时间之内",
  whole_minutes: "须为整分钟",
  uuid: "编号格式不正确",
  unique_per_host: "同一建会单位下已有同名记录",
  unique_names: "名称不能重复",
  unique_indicators: "每个指标只能评分一次",
  unique: "已存在，不能重复",
  tranches_add_up: "各期拨付款项之和须等于合同金额",
  self_run_has_no_applications: "自办项目不接受申报",
  required_for_role: "该角色必须填写",
  project_indicator: "须为项目中设定的指标",
  positive_fen: "金额须大于 0",
  not_zero: "不能为 0",
  not_username: "密码不能与用户名相同",
  not_editable: "该字段不能修改",
  not_allowed_for_role: "该角色不能填写此项",
  no_overlap: "与已有记录的时间重叠",
  one_request_per_key: "同一提交编号已用于其他请求，请刷新后重试",
  number: "须为数字",
  max_items: "条目过多",
  line_length: "行过长",
  line: "行格式不正确",
  kind_for_role: "该角色不能选择此类组织",
  id_length: "身份证号应为 18 位",
  id_format: "身份证号格式不正确",
  id_check_character: "身份证号校验位不正确",
  id_birth_date: "身份证号中的出生日期不正确",
  host_kind: "须选择建会单位",
  format: "格式不正确",
  empty: "不能为空",
  duplicate_column: "列名重复",
  date_format: "日期格式不正确",
  commissioned_only: "仅委托项目可以申报",
  columns: "列不正确",
  missing_columns: "缺少必需的列",
  cell_type: "单元格类型不正确",
  after_starts_on: "结束日期须晚于开始日期",
  after_starts_at: "结束时间须晚于开始时间",
  after_started_at: "结束时间须晚于开始时间",
  after_since: "结束日期须晚于开始日期",
  after_period_from: "结束日期不能早于开始日期",
  no_verified_hours: "该期间没有经核验的服务时长，不能出具证明",
  after_project_start: "须晚于项目开始日期",
  common: "密码过于常见，请换一个",
  too_common: "密码过于常见，请换一个",
  too_short: "密码至少 10 位",
  project_not_available: "该项目不属于本服务队所在妇联系统，不能关联",
  ambiguous: "有多个同名服务队，请填写服务队编号",
};

// marshmallow's own messages (schema validation), English → Chinese
const MESSAGES = [
  [/^Missing data for required field/, "必填"],
  [/^Field may not be null/, "必填"],
  [/^Shorter than minimum length (\d+)/, (m) => `至少 ${m[1]} 个字符`],
  [/^Longer than maximum length (\d+)/, (m) => `不能超过 ${m[1]} 个字符`],
  [/^Length must be between (\d+) and (\d+)/, (m) => (m[1] === "1" ? `必填，且不能超过 ${m[2]} 个字符` : `长度须在 ${m[1]} 到 ${m[2]} 之间`)],
  [/^Must be one of/, "不是允许的选项"],
  [/^Must be greater than or equal to (\S+?)\.? and less than or equal to (\S+?)\.?$/, (m) => `须在 ${m[1]} 到 ${m[2]} 之间`],
  [/^Must be greater than or equal to (\S+?)\.?$/, (m) => `不能小于 ${m[1]}`],
  [/^Must be greater than (\S+?)\.?$/, (m) => `须大于 ${m[1]}`],
  [/^Must be less than or equal to (\S+?)\.?$/, (m) => `不能大于 ${m[1]}`],
  [/^Not a valid date/, "日期格式不正确"],
  [/^Not a valid (integer|number)/, "须为数字"],
  [/^Not a valid email/, "邮箱格式不正确"],
  [/^Not a valid URL/, "网址格式不正确"],
  [/^Not a valid UUID/, "编号格式不正确"],
  [/^Unknown field/, "不允许的字段"],
  [/^Must not be blank/, "不能为空"],
  [/administrative division code/, "行政区划代码应为 6、9 或 12 位数字"],
  [/^Name at least one field/, "请至少修改一项"],
  [/sha256, its url/, "请上传文件"],
];

export function chineseMessage(text) {
  for (const [pattern, chinese] of MESSAGES) {
    const m = pattern.exec(text);
    if (m) return typeof chinese === "function" ? chinese(m) : chinese;
  }
  return "填写不正确";
}

function flatten(prefix, value, out) {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "string")) {
      if (!(prefix in out)) out[prefix] = chineseMessage(value[0]);
      return;
    }
    value.forEach((v, i) => flatten(prefix ? `${prefix}.${i}` : String(i), v, out));
    return;
  }
  if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${key}` : key, v, out);
    return;
  }
  if (typeof value === "string") out[prefix] = chineseMessage(value);
}

/** {field path: Chinese message} from a 422's details ("milestones.0.amount" for nested). */
export function fieldErrors(details) {
  const out = {};
  if (!details) return out;
  if (details.field) {
    out[details.field] = RULES[details.rule] || "填写不正确";
  }
  if (details.fields) flatten("", details.fields, out);
  return out;
}

const CODES = {
  NO_VERIFIED_HOURS: "该期间没有经核验的服务时长，不能出具证明",
  VOLUNTEER_ACCOUNT_EXISTS: "该志愿者已开通账号",
  USERNAME_TAKEN: "该用户名已被使用，请换一个",
  CERTIFICATE_NOT_FOUND: "该证明不存在或无权查看",
  TOKEN_EXPIRED: "登录已过期，请重新登录",
  INVALID_TOKEN: "登录已过期，请重新登录",
  AUTHENTICATION_REQUIRED: "请先登录",
  INVALID_CREDENTIALS: "用户名或密码不正确",
  ROLE_NOT_ALLOWED: "您的角色无权进行此操作",
  SELF_VERIFICATION: "不能审核自己提交的记录",
  PAYLOAD_TOO_LARGE: "文件过大（不能超过 20 MB）",
  UNSUPPORTED_MEDIA_TYPE: "不支持的文件类型（请上传 PDF、JPG、PNG 或 Office 文档）",
  SERVICE_UNAVAILABLE: "服务暂时不可用，请稍后重试",
  SERVICE_TIMEOUT: "服务响应超时，请稍后刷新查看是否已完成",
  BROKER_UNAVAILABLE: "服务暂时不可用，请稍后重试",
  IDEMPOTENCY_KEY_IN_USE: "上一次提交仍在处理中，请稍候",
  IDEMPOTENCY_KEY_REUSED: "该表单已提交过，请刷新后重试",
  ACCOUNT_DISABLED: "该账号已停用，请联系管理员",
  RATE_LIMITED: "操作过于频繁，请稍后再试",
  TOO_MANY_REQUESTS: "访问过于频繁，请稍后再试",
  DUPLICATE_VOLUNTEER: "该手机号或身份证号的志愿者已登记，不能重复登记",
  DUPLICATE_TEAM: "该单位下已有同名服务队",
  DUPLICATE_ENROLMENT: "该志愿者已报名（或已在候补名单中）",
  ALREADY_MEMBER: "该志愿者已是本队队员",
  ACTIVITY_FULL: "活动名额已满",
  NOT_ENROLLED: "该志愿者未报名此活动（或仍在候补），不能登记服务时长",
  HOURS_OVERLAP: "与该志愿者已登记的服务时长时间重叠",
  UNMASKING_NOT_ALLOWED: "只有系统管理员可以查看完整的手机号和身份证号",
  OUT_OF_SCOPE: "无权进行此操作",
  CSV_INVALID: "文件无法读取：请使用 UTF-8 编码的 CSV，第 1 行为列名",
  XLSX_INVALID: "Excel 文件无法读取：请上传 .xlsx 格式，第一个工作表第 1 行为列名",
  NOTHING_PARKED: "该队列中已没有滞留消息，无需重放",
};

/** Why this person may not approve, pay or confirm (MAKER_CHECKER's details.reason). */
export const MAKER_CHECKER_REASONS = {
  accepted_milestone: "您验收了该合同的里程碑，按照“审批与经办分离”的规定，须由另一位财务人员审批这笔拨付",
  awarded_contract: "您参与了该合同的立项签约，须由另一位财务人员审批这笔拨付",
  verified_provider: "您核验过该承接机构，须由另一位财务人员审批它的拨付",
  already_approved: "您已审批过这笔拨付；大额拨付须由两位不同的财务人员审批，请等待第二位审批人",
  approved_disbursement: "您审批了这笔拨付，须由另一位财务人员登记支付（审批人与支付人不能为同一人）",
  requested_adjustment: "这笔调整由您本人提出，须由另一位财务人员确认",
};

const FINANCE_CODES = {
  DUPLICATE_PAYMENT_REFERENCE: "该支付凭证号已登记过，不能重复使用",
  INSUFFICIENT_FUNDS: "可用资金不足",
};

/** A 409 ACTIVITY_ENDED names when the activity ended. */
export function activityEndedMessage(details) {
  const end = details?.ends_at ? formatDateTime(details.ends_at) : "";
  return end ? `活动已于 ${end} 结束，不能再报名` : "活动已结束，不能再报名";
}

/** One Chinese sentence for any API error (status + body). */
export function errorMessage(status, error) {
  const code = error?.code;
  if (code === "ACTIVITY_ENDED") return activityEndedMessage(error?.details);
  if (code === "SELF_VERIFICATION" && error?.details?.entry_id) {
    return error.details.reason === "these are your own hours"
      ? "不能核验本人的服务时长，须由队长或妇联工作人员核验"
      : "这些服务时长是您登记的，须由另一位队长、妇联工作人员或管理员核验";
  }
  if (code && CODES[code]) return CODES[code];
  if (code === "MAKER_CHECKER") return MAKER_CHECKER_REASONS[error?.details?.reason] || "按照“审批与经办分离”的规定，您不能进行此操作，须由另一位财务人员办理";
  if (code && FINANCE_CODES[code]) return FINANCE_CODES[code];
  if (status === 409) {
    const state = currentStateText(error?.details);
    return state ? `${state}，不能进行此操作` : "当前状态下不能进行此操作，请刷新后查看";
  }
  if (status === 422) {
    const fields = fieldErrors(error?.details);
    const first = Object.values(fields)[0];
    return first ? `填写有误：${first}` : "填写有误，请检查后重新提交";
  }
  if (status === 404) return "不存在或无权查看";
  if (status === 403) return "无权进行此操作";
  if (status === 401) return "请先登录";
  if (status === 0) return "无法连接服务器，请检查网络后重试";
  if (status >= 500) return "服务暂时不可用，请稍后重试";
  return "操作未成功，请稍后重试";
}
