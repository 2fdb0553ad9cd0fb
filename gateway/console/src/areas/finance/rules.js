// The money rules in force (GET /funding-rules), asked once per page load: the amount from
// which a second finance officer is needed, as the screens say it.
import { computed, ref } from "vue";
import { get } from "../../lib/api.js";
import { formatFen } from "../../lib/money.js";

const threshold = ref(null);
let asked = null;

/** "¥100,000.00" once known (the service's FUNDING_DUAL_APPROVAL_THRESHOLD). */
export function useThresholdText() {
  if (!asked) {
    asked = get("/funding-rules")
      .then((rules) => (threshold.value = rules.dual_approval_threshold))
      .catch(() => (asked = null));
  }
  return computed(() => (threshold.value === null ? "复核标准金额" : formatFen(threshold.value)));
}
