// Form submission: one Idempotency-Key per submission (kept when a retry follows a network
// failure or timeout, renewed once the server has answered), a busy flag that disables the
// button, field errors from a 422 shown under their fields, and after a 409 (someone changed the
// object meanwhile) ``onConflict`` reloads it, so the page shows the state the message names.
import { reactive, ref } from "vue";
import { ElMessage } from "element-plus";
import "element-plus/es/components/message/style/css";
import { ApiError, newIdempotencyKey } from "./api.js";
import { fieldErrors } from "./errors.js";

export function useSubmit({ onConflict } = {}) {
  const busy = ref(false);
  const errors = reactive({});
  let key = newIdempotencyKey();

  function clearErrors() {
    for (const name of Object.keys(errors)) delete errors[name];
  }

  /** Run ``action(key)``; returns its result, or undefined when it failed (errors shown). */
  async function submit(action, { success } = {}) {
    if (busy.value) return undefined;
    busy.value = true;
    clearErrors();
    try {
      const result = await action(key);
      key = newIdempotencyKey();
      if (success) ElMessage.success(success);
      return result;
    } catch (error) {
      const answered = error instanceof ApiError && error.status > 0 && error.status !== 503;
      if (answered) key = newIdempotencyKey();
      if (error instanceof ApiError && error.status === 422) {
        Object.assign(errors, fieldErrors(error.details));
      }
      if (error instanceof ApiError && ["TOKEN_EXPIRED", "INVALID_TOKEN"].includes(error.code)) return undefined;
      ElMessage.error(error instanceof ApiError ? error.message : "操作未成功，请稍后重试");
      if (error instanceof ApiError && error.status === 409 && onConflict) onConflict();
      return undefined;
    } finally {
      busy.value = false;
    }
  }

  return { busy, errors, submit, clearErrors };
}
