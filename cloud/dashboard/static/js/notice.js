// One place for errors the operator should see (a refused action, an unreachable aggregator).

import { $ } from "./dom.js";

let timer = null;

export function showError(error) {
  const box = $("#notice");
  box.textContent = error && error.message ? error.message : String(error);
  box.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => (box.hidden = true), 8000);
}

export function clearError() {
  $("#notice").hidden = true;
}
