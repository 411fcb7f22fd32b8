// Word-level difference of two texts (longest common subsequence), for the revision history.
import { h } from "./dom.js";

export function diffWords(a, b) {
  const x = (a || "").split(/\s+/).filter(Boolean);
  const y = (b || "").split(/\s+/).filter(Boolean);
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push(["same", x[i]]); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push(["del", x[i++]]);
    else out.push(["ins", y[j++]]);
  }
  while (i < n) out.push(["del", x[i++]]);
  while (j < m) out.push(["ins", y[j++]]);
  return out;
}

export function renderDiff(a, b) {
  const p = h("p", { class: "diff" });
  for (const [op, w] of diffWords(a, b)) {
    p.append(op === "same" ? document.createTextNode(w) : h(op, {}, w), " ");
  }
  return p;
}
