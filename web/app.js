// The upload page: sends each PDF to the API (one request per file, a few at a time), shows the
// results as they arrive and offers downloads. Files, passwords and results live only in this
// script's memory: nothing is written to storage or cookies, so closing the tab forgets everything.
// Every value that comes from a document is put on the page with textContent, never as HTML.
"use strict";

(() => {
  const API = "/api/v1";
  const CONCURRENCY = 3;

  const $ = (id) => document.getElementById(id);
  const els = {
    password: $("password"),
    togglePassword: $("toggle-password"),
    dropzone: $("dropzone"),
    fileInput: $("file-input"),
    folderInput: $("folder-input"),
    progress: $("progress"),
    progressText: $("progress-text"),
    counts: $("counts"),
    body: $("results-body"),
    empty: $("results-empty"),
    clear: $("clear-all"),
    fullResid: $("full-resid"),
    apiKey: $("api-key"),
    apiKeyBox: $("api-key-box"),
    downloadStatus: $("download-status"),
    totalsSection: $("totals-section"),
    totalsWarning: $("totals-warning"),
    categoryTotals: $("category-totals"),
    employeeTotals: $("employee-totals"),
    totalsStatus: $("totals-status"),
    onlyProblems: $("only-problems"),
    problemCount: $("problem-count"),
    passwordFile: $("password-file"),
    passwordFileStatus: $("password-file-status"),
    passwordFileClear: $("password-file-clear"),
  };

  const won = new Intl.NumberFormat("ko-KR");

  // Every verdict sentence comes from the server (verification.label_ko, summary_ko, advice_ko,
  // reason_ko: the one verdict table, timestamp/verdicts.py). The page keeps only each status's
  // colour and, for the counts line, its label — held equal to the table's by
  // tests/unit/test_verdicts.py. A stamp nobody vouches for (untrusted_issuer) proves no more than
  // no stamp: the same red badge as unsigned (issue 22).
  const STATUS_LABELS = {
    authentic: "진본 확인",
    untrusted_issuer: "위변조 의심",
    tampered: "위변조 의심",
    unsigned: "위변조 의심",
  };
  const BADGE_CLASS = { authentic: "badge-ok", untrusted_issuer: "badge-bad", tampered: "badge-bad",
    unsigned: "badge-bad" };
  const NO_VERDICT = "진본 여부를 확인하지 못했습니다.";

  // Messages come from the server's one error table (GET /api/v1/messages; every error answer
  // carries its own message_ko too). Only "network" is the page's own: no server answered.
  const NETWORK_KO = "서버에 연결할 수 없습니다. 네트워크를 확인한 뒤 다시 시도하세요.";
  let MESSAGES = {};
  const messagesReady = fetch(`${API}/messages`, { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : { messages: {} }))
    .then((body) => { MESSAGES = body.messages || {}; })
    .catch(() => {});
  function messageKo(code) {
    if (code === "network") return NETWORK_KO;
    return MESSAGES[code] || MESSAGES.internal || NETWORK_KO;
  }
  function failure(code) {
    return { code, message_ko: messageKo(code) };
  }
  const PASSWORD_ERRORS = new Set(["password_required", "wrong_password"]);
  const RETRYABLE = new Set(["network", "internal", "unavailable", "rate_limited", "timeout",
    "unauthorized"]);

  const DOC_TYPES = { A: "전체", B: "기본", D: "상세" };
  // ---- state (memory only) ------------------------------------------------------------------
  let entries = [];
  const downloadButtons = [];  // filled from the server's format registry
  let formatsLoading = null;
  let nextId = 1;
  let active = 0;
  // The server's totals per person and tax year for the files now done (POST /api/v1/export, JSON):
  // the page adds up nothing itself.
  const totals = { key: "", data: null, state: "empty", pending: null };

  // ---- helpers ------------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "hidden") node.hidden = true;
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // Resident numbers arrive masked: the page asks the server for mask=true (masking is done once,
  // on the server).
  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function formatAmount(n) {
    return typeof n === "number" && Number.isFinite(n) ? won.format(n) : "";
  }

  function formatTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString("ko-KR", { timeZone: "Asia/Seoul", hour12: false }) + " (한국 시각)";
  }

  function baseName(name) {
    return name.replace(/\.pdf$/i, "");
  }

  function uniqueName(name) {
    const taken = new Set(entries.map((e) => e.name));
    if (!taken.has(name)) return name;
    const stem = baseName(name);
    const ext = name.slice(stem.length) || "";
    for (let i = 2; ; i += 1) {
      const candidate = `${stem} (${i})${ext}`;
      if (!taken.has(candidate)) return candidate;
    }
  }

  function isPdf(file) {
    return /\.pdf$/i.test(file.name) || file.type === "application/pdf";
  }

  function saveBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename, class: "visually-hidden" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }

  // An error object {code, message_ko} from any failed response: the API's and nginx's JSON errors,
  // or whatever else a proxy on the way might answer.
  async function errorFrom(response) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    const err = body && body.error ? body.error : {};
    let code = err.code;
    if (!code) {
      if (response.status === 413) code = "too_large";
      else if (response.status === 429) code = "rate_limited";
      else if (response.status === 503) code = "unavailable";
      else code = "internal";
    }
    await messagesReady;
    return { code, message_ko: err.message_ko || messageKo(code) };
  }

  // ---- the API ------------------------------------------------------------------------------
  function formFor(entry, extra) {
    const fd = new FormData();
    fd.append("file", entry.file, entry.name);
    const pw = entry.usedPassword;
    if (pw) fd.append("password", pw);
    for (const [k, v] of Object.entries(extra || {})) fd.append(k, v);
    return fd;
  }

  // POST to the API. The password travels in the form body, never in the URL; the API key (only
  // where the server asks for one) in a header.
  async function post(path, body, signal) {
    const headers = {};
    const key = els.apiKey.value.trim();
    if (key) headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(`${API}/${path}`, { method: "POST", body, signal, headers,
        credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      if (e && e.name === "AbortError") throw e;
      throw failure("network");
    }
    if (!response.ok) {
      const err = await errorFrom(response);
      if (err.code === "unauthorized") els.apiKeyBox.open = true;
      throw err;
    }
    return response;
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // A busy server (rate limit, instance restarting) is retried a few times before giving up.
  async function withRetry(send) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await send();
      } catch (err) {
        // nginx's rate limit answers 429 when many files go at once: wait and go on at its pace.
        const busy = err && (err.code === "rate_limited" || err.code === "unavailable");
        if (!busy || attempt >= 8) throw err;
        await sleep(Math.min(4000, 300 * 2 ** attempt) + Math.random() * 300);
      }
    }
  }

  async function fetchDocument(entry) {
    return withRetry(async () => {
      const response = await post("documents", formFor(entry, { format: "json", mask: "true" }),
        entry.abort.signal);
      return response.json();
    });
  }

  // The document's XML data part, for the combined downloads; kept with the entry (memory only).
  async function fetchXml(entry) {
    if (!entry.xml) {
      entry.xml = await withRetry(async () => {
        const response = await post("extract", formFor(entry, { part: "xml", encoding: "utf-8" }),
          entry.abort.signal);
        // the verification /extract made of this PDF: sent with the part to /export (exportForm)
        entry.xmlStatus = response.headers.get("X-Verification-Status");
        return response.blob();
      });
    }
    return entry.xml;
  }

  // The /export request of some files' data parts. The parts carry no proof of their own (the
  // server calls every one "unverified"), so with them goes, by place, the status /extract reported
  // for each file ("statuses"): the server ranks duplicates by it — a genuine document counts over
  // a copy that is not authentic, whatever its 발급번호 — and reports it only as this page's claim.
  function exportForm(parts, format, mask) {
    const fd = new FormData();
    for (const e of parts) fd.append("file", e.xml, `${baseName(e.name)}.xml`);
    fd.append("statuses", JSON.stringify(parts.map((e) => {
      const status = e.xmlStatus || (e.view && e.view.verification && e.view.verification.status);
      return BADGE_CLASS[status] ? status : null;
    })));
    fd.append("format", format);
    fd.append("mask", mask ? "true" : "false");
    return fd;
  }

  // Runs work(item) for every item, a few at a time.
  async function eachLimited(items, work) {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const item = items[next];
        next += 1;
        await work(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  }

  // ---- the model the page shows, from the API's JSON ----------------------------------------
  // /api/v1/documents answers {"format", "version", "documents": [Document.to_dict(mask=True)]}.
  function normalize(json) {
    const doc = (json.documents && json.documents[0]) || json;
    const info = doc.doc || {};
    const items = [];
    for (const form of doc.forms || []) {
      for (const man of form.people || []) {
        for (const item of man.items || []) items.push({ form, man, item });
      }
    }
    const owner = ownerOf(doc);
    const summary = [];
    const flags = [];
    for (const person of doc.summary || []) {
      for (const c of person.categories || []) {
        summary.push({ name: person.name || "", resid: text(person.resid), year: person.att_year || "",
          category: c.category, label: c.label || c.category, items: c.items || 0, amount: c.amount });
      }
      for (const f of person.dependant_flags || []) {
        flags.push({ who: person.name || "", ...f, resid: text(f.resid) });
      }
    }
    return {
      raw: doc,
      owner,
      name: owner.name,
      resid: owner.resid,
      year: info.att_year || "",
      seq: info.seq || "",
      docType: info.doc_type || "",
      docTypeLabel: info.doc_type_label || "",
      issueDate: info.issue_date || "",
      months: info.att_inqrMm || "",
      verification: doc.verification || null,
      kind: doc.kind || "",
      kindLabel: doc.kind_label || "",
      warnings: doc.warnings || [],
      summary,
      flags,
      items,
    };
  }

  // The employee the document belongs to. The server says so (documents[].owner = {resid, name,
  // rule}, and is_owner on each person); only an answer without it (an older server) falls back to
  // the rule the page used before: <doc> names the employee from 2022 on, before that the first
  // person listed. The rule is shown under 자료 보기, so HR can see why.
  // Only for an older server's answer without documents[].owner: the server sends rule_ko
  // (records/owner.py RULES_KO, the one source of these sentences).
  const OWNER_RULES = {
    doc: "문서 머리(<doc>)에 적힌 근로자입니다.",
    first_person: "문서에 근로자 정보가 따로 없어, 처음 나오는 사람을 근로자로 보았습니다.",
  };
  function ownerOf(doc) {
    const o = doc.owner;
    if (o && (o.name || o.resid)) {
      return { name: o.name || "", resid: text(o.resid), rule: o.rule || "",
        ruleKo: o.rule_ko || OWNER_RULES[o.rule] || text(o.rule), fromServer: true };
    }
    const info = doc.doc || {};
    const people = doc.people || [];
    const flagged = people.find((p) => p.is_owner);
    if (flagged) return { name: flagged.name || "", resid: text(flagged.resid), rule: "", ruleKo: "", fromServer: true };
    if (info.name || info.resid) {
      return { name: info.name || "", resid: text(info.resid), rule: "doc", ruleKo: OWNER_RULES.doc, fromServer: false };
    }
    const first = people[0] || {};
    return { name: first.name || "", resid: text(first.resid), rule: "first_person",
      ruleKo: OWNER_RULES.first_person, fromServer: false };
  }

  // A person of the totals as one key (resident numbers come masked: with the name, it tells two
  // people apart as well as the server's key does).
  function personKey(p) {
    return `${text(p.resid)}|${p.name || ""}`;
  }

  // ---- password list ------------------------------------------------------------------------
  // The same file as the CLI's --password-file: lines "file,password" (CSV, an optional
  // "file,password" header, UTF-8 or CP949 as Korean Excel saves it); a file is looked up by the name
  // the table shows (folder/kim.pdf), then by its base name (kim.pdf); an empty password means none.
  // Read in this tab only: the list never leaves it; each file's own password travels with that file,
  // as a typed one does. Errors name the line, never its content.
  let passwordList = null;  // Map name -> password, memory only
  const PASSWORD_LIST_MAX_BYTES = 8 * 1024 * 1024;

  function parseCsv(textIn) {
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false;
    let i = 0;
    const t = textIn;
    while (i < t.length) {
      const c = t[i];
      if (quoted) {
        if (c === '"') {
          if (t[i + 1] === '"') { field += '"'; i += 2; continue; }
          quoted = false; i += 1; continue;
        }
        field += c; i += 1; continue;
      }
      if (c === '"' && field === "") { quoted = true; i += 1; continue; }
      if (c === ",") { row.push(field); field = ""; i += 1; continue; }
      if (c === "\r" || c === "\n") {
        row.push(field); rows.push(row); row = []; field = "";
        i += c === "\r" && t[i + 1] === "\n" ? 2 : 1;
        continue;
      }
      field += c; i += 1;
    }
    if (quoted) throw new Error("unterminated quote");
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows;
  }

  // {map} or {error} (Korean, naming the line only).
  function readPasswordList(bytes) {
    if (bytes.byteLength > PASSWORD_LIST_MAX_BYTES) return { error: "비밀번호 목록 파일이 너무 큽니다." };
    let decoded = null;
    for (const enc of ["utf-8", "euc-kr"]) {  // WHATWG euc-kr is Windows' CP949
      try { decoded = new TextDecoder(enc, { fatal: true }).decode(bytes); break; } catch { decoded = null; }
    }
    if (decoded === null) return { error: "비밀번호 목록 파일이 UTF-8이나 CP949 글자가 아닙니다." };
    if (decoded.charCodeAt(0) === 0xfeff) decoded = decoded.slice(1);
    let rows;
    try { rows = parseCsv(decoded); } catch { return { error: "비밀번호 목록 파일이 올바른 CSV가 아닙니다." }; }
    const map = new Map();
    for (const [index, r] of rows.entries()) {
      const n = index + 1;
      if (!r.length || r.every((c) => !c.trim())) continue;
      if (n === 1 && r.length === 2 && r[0].trim().toLowerCase() === "file"
          && r[1].trim().toLowerCase() === "password") continue;
      if (r.length !== 2 || !r[0].trim()) return { error: `비밀번호 목록 ${n}번째 줄: '파일 이름,비밀번호' 형식이 아닙니다.` };
      const name = r[0].trim();
      if (map.has(name) && map.get(name) !== r[1]) {
        return { error: `비밀번호 목록 ${n}번째 줄: 같은 파일에 다른 비밀번호가 또 있습니다.` };
      }
      map.set(name, r[1]);
    }
    return { map };
  }

  function passwordFor(entry) {
    if (passwordList) {
      for (const name of [entry.source, entry.source.split("/").pop()]) {
        if (passwordList.has(name)) return passwordList.get(name) || "";
      }
    }
    return els.password.value;
  }

  function listed(entry) {
    return Boolean(passwordList) && (passwordList.has(entry.source) || passwordList.has(entry.source.split("/").pop()));
  }

  // ---- processing queue ---------------------------------------------------------------------
  function addFiles(files) {
    let skipped = 0;
    const added = [];
    for (const file of files) {
      if (!isPdf(file)) { skipped += 1; continue; }
      const shown = file.webkitRelativePath || file.relativePath || file.name;
      const entry = {
        id: nextId++,
        file,
        name: uniqueName(shown),
        source: shown,  // the name as chosen (the password list's key), before uniqueName
        override: null,
        usedPassword: null,
        status: "queued",
        view: null,
        error: null,
        expanded: false,
        abort: new AbortController(),
        row: null,
        detail: null,
        xml: null,
      };
      entries.push(entry);
      added.push(entry);
      render(entry);
    }
    if (skipped) {
      els.downloadStatus.textContent = `PDF가 아닌 파일 ${skipped}개는 건너뛰었습니다.`;
    }
    update();
    pump();
    return added;
  }

  function pump() {
    while (active < CONCURRENCY) {
      const next = entries.find((e) => e.status === "queued");
      if (!next) break;
      run(next);
    }
    update();
  }

  async function run(entry) {
    entry.status = "working";
    entry.usedPassword = entry.override !== null ? entry.override : passwordFor(entry);
    entry.abort = new AbortController();
    entry.xml = null;
    active += 1;
    render(entry);
    try {
      const json = await fetchDocument(entry);
      entry.view = normalize(json);
      entry.status = "done";
      entry.error = null;
    } catch (err) {
      if (err && err.name === "AbortError") {  // removed from the page meanwhile
        active -= 1;
        pump();
        return;
      }
      entry.status = "error";
      entry.view = null;
      entry.error = err && err.code ? err : failure("internal");
    }
    active -= 1;
    if (entries.includes(entry)) {
      render(entry);
      for (const twin of sameSeq(entry)) render(twin);  // they are twins now: both get the marker
    }
    pump();
  }

  function retry(entry, password) {
    if (password !== undefined) entry.override = password;
    entry.status = "queued";
    entry.error = null;
    render(entry);
    pump();
  }

  function remove(entry) {
    const twins = entry.status === "done" ? sameSeq(entry) : [];
    entry.abort.abort();
    entries = entries.filter((e) => e !== entry);
    if (entry.row) entry.row.remove();
    if (entry.detail) entry.detail.remove();
    for (const twin of twins) render(twin);
    update();
    pump();
  }

  // ---- rendering ----------------------------------------------------------------------------
  function badge(verification) {
    const status = verification && verification.status;
    if (!BADGE_CLASS[status]) return el("span", { class: "badge badge-unknown", text: "확인 불가" });
    return el("span", { class: `badge ${BADGE_CLASS[status]}`, "data-status": status,
      text: verification.label_ko || STATUS_LABELS[status] });
  }

  // What HR reads under the badge: the server's plain sentence and the next step (summary_ko,
  // advice_ko); the technical reason (reason_ko) is under 자료 보기. An older server without them:
  // its reason_ko.
  function verdictLines(verification) {
    if (!verification) return [el("span", { class: "verdict-summary", text: NO_VERDICT })];
    return [
      el("span", { class: "verdict-summary", text: verification.summary_ko || verification.reason_ko || NO_VERDICT }),
      verification.advice_ko ? el("span", { class: "verdict-advice", text: verification.advice_ko }) : null,
    ];
  }

  // Whether a file needs HR's attention: it failed (wrong password, damaged…), it is not 진본 확인,
  // it is not a 간소화 document, or its 발급번호 is on another file too (the same document twice).
  function isProblem(entry) {
    if (entry.status === "error") return true;
    if (entry.status !== "done") return false;
    const v = entry.view;
    return !v.verification || v.verification.status !== "authentic"
      || (v.kind && v.kind !== "simplified") || sameSeq(entry).length > 0;
  }

  // The other files (done) with the same 발급번호 and 귀속연도: the same document uploaded twice.
  function sameSeq(entry) {
    const v = entry.view;
    if (!v || !v.seq) return [];
    return entries.filter((e) => e !== entry && e.status === "done" && e.view.seq === v.seq && e.view.year === v.year);
  }

  function fileCell(entry) {
    return el("th", { scope: "row", class: "file", tabindex: "-1" },
      el("span", { class: "file-name", text: entry.name }));
  }

  function render(entry) {
    const row = el("tr", { "data-file": entry.name, "data-state": entry.status, class: `state-${entry.status}`,
      "data-problem": isProblem(entry) ? "true" : "false" });
    row.append(fileCell(entry));
    if (entry.status === "queued" || entry.status === "working") {
      row.append(el("td", { colspan: 6, class: "pending" },
        entry.status === "queued" ? "대기 중" : "처리 중…"));
      row.append(el("td", { class: "actions" },
        el("button", { type: "button", class: "button small secondary",
          "aria-label": `${entry.name} 목록에서 빼기`, onclick: () => remove(entry) }, "빼기")));
    } else if (entry.status === "error") {
      row.append(errorCell(entry));
      row.append(el("td", { class: "actions" },
        el("button", { type: "button", class: "button small secondary",
          "aria-label": `${entry.name} 목록에서 빼기`, onclick: () => remove(entry) }, "빼기")));
    } else {
      const v = entry.view;
      const detailId = `detail-${entry.id}`;
      const toggle = el("button", {
        type: "button", class: "button small secondary toggle", "aria-expanded": entry.expanded ? "true" : "false",
        "aria-controls": detailId, "aria-label": `${entry.name} 자료 보기`,
        onclick: () => {
          entry.expanded = !entry.expanded;
          toggle.setAttribute("aria-expanded", entry.expanded ? "true" : "false");
          toggle.textContent = entry.expanded ? "접기" : "자료 보기";
          entry.detail.hidden = !entry.expanded;
        },
      }, entry.expanded ? "접기" : "자료 보기");
      const verification = v.verification;
      // data-label: the column's name, shown before the value when the table is stacked (narrow/zoomed)
      row.append(
        el("td", { class: "person-name", "data-label": "성명", text: v.name }),
        el("td", { class: "resid", "data-label": "주민등록번호", text: v.resid }),
        el("td", { class: "year", "data-label": "귀속연도", text: v.year }),
        seqCell(entry),
        el("td", { class: "verification", "data-label": "진본 여부" }, badge(verification),
          ...verdictLines(verification),
          v.kind && v.kind !== "simplified"
            ? el("span", { class: "kind-note", "data-kind": v.kind, text: `주의: ${v.kindLabel}` }) : null),
        el("td", { class: "num item-count", "data-label": "자료", text: `${won.format(v.items.length)}건` }),
        el("td", { class: "actions" },
          toggle,
          el("button", { type: "button", class: "button small secondary pdf-button", "aria-expanded": "false",
            "aria-label": `${entry.name} 암호를 푼 PDF 내려받기`, onclick: (ev) => askPdf(entry, ev.currentTarget) },
          "암호 푼 PDF"),
          el("button", { type: "button", class: "button small secondary",
            "aria-label": `${entry.name} 목록에서 빼기`, onclick: () => remove(entry) }, "빼기")),
      );
    }
    const detail = entry.status === "done" ? detailRow(entry) : null;
    // Keyboard users stay on the file they were working with when its row is redrawn.
    const hadFocus = Boolean(entry.row && entry.row.contains(document.activeElement));
    if (entry.row && entry.row.parentNode) {
      entry.row.replaceWith(row);
    } else {
      els.body.append(row);
    }
    if (entry.detail) entry.detail.remove();
    if (detail) row.after(detail);
    entry.row = row;
    entry.detail = detail;
    applyFilter(entry);
    if (hadFocus) {
      const target = entry.status === "error" || entry.status === "done"
        ? row.querySelector("input, button") : row.querySelector("th.file");
      if (target) target.focus();
    }
  }

  function seqCell(entry) {
    const v = entry.view;
    const cell = el("td", { class: "seq", "data-label": "발급번호" }, el("span", { text: v.seq }));
    const twins = sameSeq(entry);
    if (twins.length) {
      cell.append(el("span", { class: "dup-seq", "data-count": twins.length + 1,
        title: twins.map((e) => e.name).join(", "),
        text: `같은 문서가 ${twins.length + 1}번 올라왔습니다 (${twins.map((e) => e.name).join(", ")}). 합계에는 한 번만 들어갑니다.` }));
    }
    return cell;
  }

  // "문제 있는 파일만 보기": the other rows (and their details) are hidden, not removed.
  function applyFilter(entry) {
    const hide = els.onlyProblems.checked && !isProblem(entry);
    if (entry.row) entry.row.classList.toggle("filtered", hide);
    if (entry.detail) entry.detail.classList.toggle("filtered", hide);
  }

  // The password-removed PDF is a copy the NTS timestamp no longer covers: verified again, it is
  // 위변조 의심. HR is told so before the download starts, in the row, and downloads with a second
  // click.
  function askPdf(entry, button) {
    const cell = button.closest("td");
    const open = cell.querySelector(".pdf-notice");
    if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); return; }
    const noticeId = `pdf-notice-${entry.id}`;
    const notice = el("div", { class: "pdf-notice", id: noticeId, role: "alert" },
      el("p", { text: "암호를 푼 PDF는 사본입니다. 국세청 원본임을 스스로 증명하지 못해, 진본 확인에서 "
        + "'위변조 의심'으로 나옵니다. 보관하거나 제출할 원본은 직원이 낸 파일입니다." }),
      el("button", { type: "button", class: "button small primary pdf-confirm",
        onclick: () => { notice.remove(); button.setAttribute("aria-expanded", "false"); downloadPdf(entry); } },
      "알겠습니다, 내려받기"),
      el("button", { type: "button", class: "button small secondary",
        onclick: () => { notice.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); } }, "취소"));
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-controls", noticeId);
    cell.append(notice);
    notice.querySelector(".pdf-confirm").focus();
  }

  function errorCell(entry) {
    const err = entry.error || {};
    const cell = el("td", { colspan: 6, class: "error" });
    const msgId = `error-${entry.id}`;
    cell.append(el("p", { class: "error-message", id: msgId, "data-code": err.code, role: "alert" },
      err.message_ko || messageKo("internal")));
    if (PASSWORD_ERRORS.has(err.code)) {
      const inputId = `pw-${entry.id}`;
      const input = el("input", { type: "password", id: inputId, class: "row-password", autocomplete: "off",
        spellcheck: "false", "aria-describedby": msgId });
      const form = el("form", { class: "row-retry", novalidate: true },
        el("label", { for: inputId }, "이 파일의 비밀번호"),
        input,
        el("button", { type: "submit", class: "button small primary" }, "이 비밀번호로 다시 시도"));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        retry(entry, input.value);
      });
      cell.append(form);
    } else if (RETRYABLE.has(err.code)) {
      cell.append(el("button", { type: "button", class: "button small primary", onclick: () => retry(entry) },
        "다시 시도"));
    }
    return cell;
  }

  function detailRow(entry) {
    const v = entry.view;
    const row = el("tr", { id: `detail-${entry.id}`, class: "detail", hidden: !entry.expanded });
    const cell = el("td", { colspan: 8 });
    row.append(cell);

    const ver = v.verification || {};
    const dl = el("dl", { class: "facts" });
    const fact = (k, val) => { if (val) dl.append(el("dt", { text: k }), el("dd", { text: val })); };
    fact("근로자", [v.owner.name, v.owner.resid].filter(Boolean).join(" "));
    fact("근로자 판단 근거", v.owner.ruleKo);
    fact("진본 여부", ver.label_ko || STATUS_LABELS[ver.status] || "확인 불가");
    fact("결과", ver.summary_ko);
    fact("할 일", ver.advice_ko);
    fact("판단 사유", ver.reason_ko || NO_VERDICT);
    fact("판단 코드", ver.reason_code);
    fact("타임스탬프 시각", formatTime(ver.gen_time));
    // the TSA's name only when an anchor vouches for it; else the name its certificate claims, said so
    if (ver.tsa) fact("타임스탬프 기관", ver.tsa);
    else if (ver.tsa_claimed) fact("타임스탬프 기관(확인 안 됨)", `${ver.tsa_claimed} — 인증서에 적힌 이름일 뿐입니다`);
    fact("문서 종류", v.docTypeLabel || DOC_TYPES[v.docType] || v.docType);
    fact("발급일자", v.issueDate);
    fact("조회 기간", v.months);
    fact("자료 구분", v.kindLabel);
    cell.append(el("h3", { text: `${entry.name} — 문서 정보` }), dl);
    if (v.warnings.length) {
      cell.append(el("ul", { class: "doc-warnings", role: "note" },
        ...v.warnings.map((w) => el("li", { class: "warning", "data-code": w.code, text: w.message }))));
    }

    if (v.summary.length) {
      const tbody = el("tbody");
      for (const s of v.summary) {
        const own = personKey(s) === personKey(v.owner);
        tbody.append(el("tr", { "data-category": s.category, class: REDUCES[s.category] ? "reduction" : null },
          el("td", { text: s.name }),
          el("td", { text: s.resid }),
          el("td", { class: "role", text: own ? "본인" : "부양가족" }),
          el("td", { text: s.year }),
          el("td", { text: REDUCES[s.category] ? `${s.label} (${REDUCES_NOTE[s.category]})` : s.label }),
          el("td", { class: "num", text: won.format(s.items) }),
          el("td", { class: "num", text: amountText(s.category, s.amount) })));
      }
      cell.append(el("div", { class: "table-wrap" },
        el("table", { class: "summary" },
          el("caption", { text: "사람별·항목별 합계 (국세청 간소화 자료의 금액, 공제액 아님)" }),
          el("thead", null, el("tr", null,
            el("th", { scope: "col", text: "성명" }), el("th", { scope: "col", text: "주민등록번호" }),
            el("th", { scope: "col", text: "구분" }), el("th", { scope: "col", text: "귀속연도" }),
            el("th", { scope: "col", text: "항목" }), el("th", { scope: "col", class: "num", text: "건수" }),
            el("th", { scope: "col", class: "num", text: "금액(원)" }))),
          tbody)));
    }
    if (v.flags.length) cell.append(flagsTable(v.flags, `${entry.name} 소득기준 초과 부양가족`));

    const tbody = el("tbody");
    for (const { form, man, item } of v.items) {
      tbody.append(el("tr", null,
        el("td", { text: [form.label, form.form_cd].filter(Boolean).join(" ") }),
        el("td", { text: `${man.name || ""} ${text(man.resid)}`.trim() }),
        el("td", { text: [item.label, item.dat_cd && `(${item.dat_cd})`].filter(Boolean).join(" ") }),
        el("td", { text: describe(item) }),
        el("td", { class: "num", text: formatAmount(item.amount) })));
    }
    cell.append(el("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-label": `${entry.name} 자료 목록` },
      el("table", { class: "items" },
        el("caption", { text: `자료 목록 (${won.format(v.items.length)}건)` }),
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: "서식" }), el("th", { scope: "col", text: "대상자" }),
          el("th", { scope: "col", text: "항목" }), el("th", { scope: "col", text: "내용" }),
          el("th", { scope: "col", class: "num", text: "금액(원)" }))),
        tbody)));
    return row;
  }

  // A one-line description of an item: its attributes and elements with their labels (code values
  // with their meaning); resident numbers come masked from the server.
  function describe(item) {
    const parts = [];
    const add = (label, value, key, codeLabel) => {
      if (value === null || value === undefined || value === "") return;
      let shown = String(value);
      if (codeLabel) shown += ` (${codeLabel})`;
      parts.push(label ? `${label}: ${shown}` : shown);
    };
    const labels = item.attribute_labels || {};
    const codes = item.code_labels || {};
    for (const [k, value] of Object.entries(item.attributes || {})) {
      add(labels[k] || k, value, k, codes[k]);
    }
    const walkNode = (n) => {
      if (n.children && n.children.length) {
        for (const c of n.children) walkNode(c);
      } else {
        add(n.label || n.tag, n.text, n.tag, n.code_label);
      }
    };
    for (const n of item.elements || []) walkNode(n);
    return parts.join(" · ");
  }

  // T101M: per employee, the dependants the NTS lists with their income test (never an amount).
  function flagsTable(flags, caption) {
    const tbody = el("tbody");
    for (const f of flags) {
      tbody.append(el("tr", { class: "dependant-flag", "data-over-income": f.over_income || "" },
        el("td", { text: f.who || "" }),
        el("td", { text: f.name || "" }),
        el("td", { text: f.resid || "" }),
        el("td", { text: f.relation || "" }),
        el("td", { class: "over-income", text: f.over_income_label || f.over_income || "—" })));
    }
    return el("div", { class: "table-wrap" },
      el("table", { class: "flags" },
        el("caption", { text: caption }),
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: "근로자" }), el("th", { scope: "col", text: "부양가족" }),
          el("th", { scope: "col", text: "주민등록번호" }), el("th", { scope: "col", text: "관계코드" }),
          el("th", { scope: "col", text: "소득기준" }))),
        tbody));
  }

  // Asks the server for the totals of the files now done (their XML data parts, as the downloads
  // send them) once nothing is being processed; a newer set of files replaces an older answer.
  async function refreshTotals() {
    const done = entries.filter((e) => e.status === "done");
    const busy = entries.some((e) => e.status === "queued" || e.status === "working");
    const key = done.map((e) => e.id).join(",");
    if (busy || key === totals.key) return;
    totals.key = key;
    if (!done.length) {
      totals.data = null;
      totals.state = "empty";
      renderTotals();
      return;
    }
    totals.state = "loading";
    renderTotals();
    try {
      await eachLimited(done, (e) => fetchXml(e).catch(() => null));
      const parts = done.filter((e) => e.xml && entries.includes(e));
      const fd = exportForm(parts, "json", true);
      const response = await withRetry(() => post("export", fd));
      const records = await response.json();
      if (totals.key !== key) return;  // the files changed meanwhile: a newer request follows
      totals.data = { people: records.totals || [], years: records.year_totals || [],
        missing: done.length - parts.length };
      totals.state = "ready";
    } catch (err) {
      if (totals.key !== key) return;
      totals.data = null;
      totals.state = "error";
      totals.error = (err && err.message_ko) || messageKo((err && err.code) || "internal");
    }
    renderTotals();
  }

  // The medical insurance payouts (실손의료보험금) are not a deduction of their own: they reduce the
  // 의료비 the NTS lists, so they are shown under 의료비 as what comes off it.
  const REDUCES = { medical_insurance_claims: "medical" };
  const REDUCES_NOTE = { medical_insurance_claims: "의료비에서 빼는 금액" };

  function amountText(category, amount) {
    if (amount === null || amount === undefined) return "—";
    return REDUCES[category] && amount ? `−${won.format(amount)}` : won.format(amount);
  }

  // The categories of some people, in the server's order, each reduction right after what it reduces.
  function categoryOrder(people) {
    const seen = new Map();
    for (const p of people) for (const c of p.categories) if (!seen.has(c.category)) seen.set(c.category, c.label);
    const keys = Array.from(seen.keys());
    const ordered = keys.filter((k) => !REDUCES[k]);
    for (const k of keys.filter((key) => REDUCES[key])) {
      const at = ordered.indexOf(REDUCES[k]);
      if (at === -1) ordered.push(k); else ordered.splice(at + 1, 0, k);
    }
    return ordered.map((k) => ({ key: k, label: seen.get(k) }));
  }

  // The server's totals per person and year, grouped per employee: the owner of the documents a
  // person's figures come from (documents[].owner, by 발급번호 and year), the employee first, then
  // the dependants. A person found in no document of this page forms a group of their own.
  function employeeGroups(people) {
    const ownerOfDoc = new Map();
    for (const e of entries) {
      if (e.status !== "done") continue;
      ownerOfDoc.set(`${e.view.year}|${e.view.seq}`, e.view.owner);
    }
    const groups = new Map();
    for (const p of people) {
      const owners = (p.documents || []).map((seq) => ownerOfDoc.get(`${p.att_year || ""}|${seq}`)).filter(Boolean);
      const self = owners.find((o) => personKey(o) === personKey(p));
      const owner = self || owners[0] || { name: p.name, resid: text(p.resid) };
      const key = `${personKey(owner)}|${p.att_year || ""}`;
      let g = groups.get(key);
      if (!g) {
        g = { owner, year: p.att_year || "", employee: null, dependants: [] };
        groups.set(key, g);
      }
      if (personKey(owner) === personKey(p)) g.employee = p; else g.dependants.push(p);
    }
    return Array.from(groups.values()).sort((x, y) => (x.owner.name || "").localeCompare(y.owner.name || "", "ko")
      || x.year.localeCompare(y.year));
  }

  // The documents of this page with a 귀속연도 and 발급번호 (files done). The totals come from
  // /api/v1/export, whose XML parts carry no verification of their own (the server says
  // "unverified"; it ranks duplicates by the statuses this page sends, exportForm): the 진본 여부
  // of a document of the totals is what its files said here.
  function filesOfDoc(year, seq) {
    return entries.filter((e) => e.status === "done" && e.view.seq === seq && String(e.view.year) === String(year || ""));
  }

  function docAuthentic(year, seq, serverStatus) {
    const files = filesOfDoc(year, seq);
    if (!files.length) return serverStatus === "authentic";
    return files.every((e) => e.view.verification && e.view.verification.status === "authentic");
  }

  // The documents not authentic whose amounts a person's totals count.
  function unverifiedOf(p, year) {
    return (p.unverified_documents || []).filter((d) => !docAuthentic(year, d.doc_seq, d.status));
  }

  function docStatusText(year, seq, serverStatus) {
    const files = filesOfDoc(year, seq);
    if (!files.length) return STATUS_LABELS[serverStatus] || "진본 확인 안 됨";
    const labels = files.map((e) => {
      const v = e.view.verification;
      return v ? v.label_ko || STATUS_LABELS[v.status] || "확인 불가" : "확인 불가";
    });
    return Array.from(new Set(labels)).join("/");
  }

  function employeeBlock(g) {
    const people = [g.employee, ...g.dependants].filter(Boolean);
    const head = el("tr", null, el("th", { scope: "col", text: "항목" }));
    for (const p of people) {
      head.append(el("th", { scope: "col", class: "num person", "data-role": p === g.employee ? "employee" : "dependant" },
        el("span", { text: p.name || "(이름 없음)" }),
        el("span", { class: "role", text: p === g.employee ? "본인" : "부양가족" })));
    }
    const tbody = el("tbody");
    for (const c of categoryOrder(people)) {
      const reduces = REDUCES[c.key];
      const label = reduces ? `└ ${c.label} (${REDUCES_NOTE[c.key]})` : c.label;
      const tr = el("tr", { "data-category": c.key, class: reduces ? "reduction" : null },
        el("th", { scope: "row", text: label }));
      for (const p of people) {
        const hit = p.categories.find((x) => x.category === c.key);
        // amounts that count items of a document not authentic carry a mark (the note below names it)
        const doubtful = hit && hit.unverified_items > 0 && unverifiedOf(p, g.year).length > 0;
        tr.append(el("td", { class: doubtful ? "num amount unverified" : "num amount", "data-person": personKey(p),
          text: hit ? amountText(c.key, hit.amount) : "" },
        hit ? el("span", { class: "count", text: ` (${won.format(hit.items)}건)` }) : null,
        doubtful ? el("span", { class: "unverified-mark", title: "진본으로 확인되지 않은 자료 포함", text: " ※" }) : null));
      }
      tbody.append(tr);
    }
    const notes = el("ul", { class: "employee-notes" });
    for (const p of people) {
      for (const f of p.dependant_flags || []) {
        notes.append(el("li", { class: "dependant-flag", "data-year": g.year,
          text: `소득기준 초과 여부: ${f.name || ""} ${text(f.resid)} (관계코드 ${f.relation || "?"}) — `
            + `${f.over_income_label || f.over_income || "?"}` }));
      }
      if ((p.duplicates || []).length) {
        const forms = Array.from(new Set(p.duplicates.map((d) => d.form_cd))).join(", ");
        // which document was left out and which one counted, each with its 진본 여부: a copy that
        // is not authentic never counts over an authentic one (the server's rule)
        const pairs = new Map();
        for (const d of p.duplicates) {
          const leftOut = `${d.doc_seq} (${docStatusText(g.year, d.doc_seq, d.doc_status)})`;
          const counted = `${d.counted_doc_seq} (${docStatusText(g.year, d.counted_doc_seq, d.counted_status)})`;
          pairs.set(`${leftOut}|${counted}`, `발급번호 ${leftOut} 대신 ${counted}`);
        }
        notes.append(el("li", { class: "duplicate", "data-year": g.year,
          text: `${p.name || ""}: 같은 귀속연도의 같은 자료(${forms})가 여러 파일에 있어 한 번만 더했습니다 — `
            + `${Array.from(pairs.values()).join("; ")}.` }));
      }
      const unverified = unverifiedOf(p, g.year);
      if (unverified.length) {
        const docs = unverified.map((d) => `발급번호 ${d.doc_seq} (${docStatusText(g.year, d.doc_seq, d.status)})`);
        notes.append(el("li", { class: "unverified", "data-year": g.year,
          text: `${p.name || ""}: 진본으로 확인되지 않은 자료의 금액이 합계에 들어 있습니다 — ${docs.join("; ")}.` }));
      }
    }
    const who = [g.owner.name || "(이름 없음)", g.owner.resid].filter(Boolean).join(" ");
    const summary = el("summary", null,
      el("span", { class: "employee-name", text: who }),
      el("span", { class: "employee-year", text: `${g.year || "미상"}년 귀속` }),
      el("span", { class: "employee-count", text: g.dependants.length ? `부양가족 ${g.dependants.length}명` : "본인 자료만" }));
    return el("details", { class: "employee", "data-employee": personKey(g.owner), "data-year": g.year,
      open: employeeCount <= 5 },
    summary,
    el("div", { class: "table-wrap" },
      el("table", { class: "employee-table" },
        el("caption", { class: "visually-hidden", text: `${who} ${g.year}년 귀속 항목별 금액` }),
        el("thead", null, head), tbody)),
    notes.childElementCount ? notes : null,
    deductionsSection(g, who));
  }

  // ---- 공제신고서 입력값 --------------------------------------------------------------------------
  // Per employee and year, the lines of the 소득·세액공제신고서 (column 국세청 자료) and, given 총급여,
  // the estimate: both are the server's (POST /api/v1/deductions, service.deductions), the page only
  // shows them. Sent: the PDFs of this employee and year that the page holds, each with the password
  // that opened it (a file name -> password map in the form body), and the salary as a form field —
  // never in a URL. Nothing is kept beyond this tab's memory.
  const ESTIMATE_NOTICE = "추정치입니다 — 연말정산 결과가 아닙니다.";
  const deductionAnswers = new Map();  // group key + salary -> the answer (memory only)
  let deductionSeq = 0;

  // The files of an employee's group: the documents its people's figures come from, one file per
  // 발급번호 (the same document twice is sent once).
  function groupEntries(g) {
    const seqs = new Set();
    for (const p of [g.employee, ...g.dependants].filter(Boolean)) for (const seq of p.documents || []) seqs.add(seq);
    const bySeq = new Map();
    for (const e of entries) {
      if (e.status !== "done" || String(e.view.year) !== String(g.year) || !seqs.has(e.view.seq)) continue;
      if (!bySeq.has(e.view.seq)) bySeq.set(e.view.seq, e);
    }
    return Array.from(bySeq.values());
  }

  async function fetchDeductions(files, salary) {
    const fd = new FormData();
    const passwords = {};
    for (const e of files) {
      fd.append("file", e.file, e.name);
      passwords[e.name] = e.usedPassword || "";
    }
    fd.append("passwords", JSON.stringify(passwords));
    fd.append("mask", "true");
    if (salary) fd.append("salary", salary);
    const response = await withRetry(() => post("deductions", fd));
    return response.json();
  }

  // The return of this employee and year among the answer's (one per taxpayer and year).
  function returnsFor(answer, g) {
    const ofYear = (answer.returns || []).filter((r) => String(r.att_year) === String(g.year));
    const own = ofYear.filter((r) => personKey(r.taxpayer || {}) === personKey(g.owner));
    return own.length ? own : ofYear;
  }

  function deductionsSection(g, who) {
    const id = `deductions-${(deductionSeq += 1)}`;
    const files = groupEntries(g);
    const key = files.map((e) => e.id).join(",");
    const out = el("div", { class: "deductions-body", "aria-live": "polite" });
    const status = el("p", { class: "deductions-status hint", role: "status" });
    const input = el("input", { id: `${id}-salary`, class: "salary", type: "text", inputmode: "numeric",
      autocomplete: "off", spellcheck: "false", placeholder: "예: 50,000,000", "aria-describedby": `${id}-hint` });
    const form = el("form", { class: "salary-form", novalidate: true },
      el("label", { for: `${id}-salary`, text: "총급여(원, 선택)" }), input,
      el("button", { type: "submit", class: "button small primary", text: "추정 계산" }),
      el("span", { id: `${id}-hint`, class: "hint",
        text: "총급여를 넣으면 항목별 공제 추정액을 보여 줍니다. 입력값은 이 화면에만 있고 저장하지 않습니다." }));
    const section = el("details", { class: "deductions", id, "data-year": g.year },
      el("summary", { text: "공제신고서 입력값" }),
      el("p", { class: "estimate-notice notice" }, el("strong", { text: ESTIMATE_NOTICE }),
        " 국세청 간소화 자료의 금액을 해당 연도 규정에 넣어 계산한 값이며, 산출세액 한도·표준세액공제 선택·"
        + "종합한도 등은 계산하지 않습니다."),
      form, status, out);

    async function show(salary) {
      const cacheKey = `${key}|${salary}`;
      status.textContent = salary ? "추정액을 계산하는 중…" : "공제신고서 입력값을 받는 중…";
      section.dataset.state = "loading";
      try {
        if (!files.length) throw failure("internal");
        let answer = deductionAnswers.get(cacheKey);
        if (!answer) {
          answer = await fetchDeductions(files, salary);
          deductionAnswers.set(cacheKey, answer);
        }
        out.replaceChildren(...returnsFor(answer, g).map((r) => returnBlock(r, who, answer.notice)));
        status.textContent = "";
        section.dataset.state = salary ? "estimated" : "ready";
      } catch (err) {
        section.dataset.state = "error";
        status.textContent = `공제신고서 입력값을 받지 못했습니다: ${(err && err.message_ko) || messageKo("internal")}`;
      }
    }

    section.addEventListener("toggle", () => {
      if (section.open && !section.dataset.state) show("");
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      show(input.value.trim());
    });
    return section;
  }

  function returnBlock(ret, who, notice) {
    const block = el("div", { class: "deduction-return", "data-year": ret.att_year || "" });
    const owner = personKey(ret.taxpayer || {});
    // the employee's lines first, then each dependant's under them, in the server's order
    const people = [];
    for (const line of ret.lines || []) {
      const k = line.person ? personKey(line.person) : owner;
      let p = people.find((x) => x.key === k);
      if (!p) {
        p = { key: k, person: line.person || ret.taxpayer || {}, lines: [] };
        people.push(p);
      }
      p.lines.push(line);
    }
    people.sort((a, b) => Number(b.key === owner) - Number(a.key === owner));
    const tbody = el("tbody");
    for (const p of people) {
      const own = p.key === owner;
      for (const line of p.lines) {
        tbody.append(el("tr", { class: own ? "own" : "dependant", "data-key": line.key,
          "data-period": line.period || "", "data-person": p.key },
        el("td", { text: `${p.person.name || "(이름 없음)"} (${own ? "본인" : "부양가족"})` }),
        el("td", { text: line.label || line.key }),
        el("td", { text: line.period || "—" }),
        el("td", { class: "num amount", text: formatAmount(line.amount) })));
      }
    }
    const linesTable = el("div", { class: "table-wrap", role: "region", tabindex: "0",
      "aria-label": `${who} ${ret.att_year}년 귀속 공제신고서 입력값` },
    el("table", { class: "deduction-lines" },
      el("caption", { text: `공제신고서 입력값 — 국세청 자료 (${won.format((ret.lines || []).length)}줄)` }),
      el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "대상자" }), el("th", { scope: "col", text: "항목" }),
        el("th", { scope: "col", text: "기간" }), el("th", { scope: "col", class: "num", text: "금액(원)" }))),
      tbody));

    // the estimate first when there is one (it answers the salary just typed), then the lines
    if (ret.salary !== null && ret.salary !== undefined) {
      const fBody = el("tbody");
      for (const f of ret.figures || []) {
        fBody.append(el("tr", { "data-key": f.key },
          el("th", { scope: "row", text: f.label || f.key, title: f.key }),
          el("td", { class: "num amount", text: formatAmount(f.amount) }),
          el("td", { class: "rule", text: f.rule || "" })));
      }
      block.append(el("p", { class: "estimate-notice notice" }, el("strong", { text: ESTIMATE_NOTICE }),
        ` 총급여 ${won.format(ret.salary)}원 기준.`));
      block.append(el("div", { class: "table-wrap", role: "region", tabindex: "0",
        "aria-label": `${who} ${ret.att_year}년 귀속 공제 추정액` },
      el("table", { class: "deduction-figures" },
        el("caption", { text: "공제 추정액 (추정치, 연말정산 결과 아님)" }),
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: "항목" }), el("th", { scope: "col", class: "num", text: "금액(원)" }),
          el("th", { scope: "col", text: "계산 근거" }))),
        fBody)));
    }
    if ((ret.not_computed || []).length) {
      block.append(el("h4", { text: "계산하지 않은 것과 이유" }),
        el("ul", { class: "not-computed" },
          ...ret.not_computed.map((n) => el("li", { "data-key": n.key, text: `${n.label || n.key}: ${n.reason}` }))));
    }
    if ((ret.warnings || []).length) {
      block.append(el("details", { class: "deduction-warnings" },
        el("summary", { text: `참고 사항 ${won.format(ret.warnings.length)}건` }),
        el("ul", null, ...ret.warnings.map((w) => el("li", { "data-code": w.code, text: w.message })))));
    }
    block.append(linesTable);
    if (notice && notice.ko) block.append(el("p", { class: "hint server-notice", text: notice.ko }));
    return block;
  }

  let employeeCount = 0;
  let renderedTotals = null;

  function renderTotals() {
    const done = entries.filter((e) => e.status === "done");
    els.totalsSection.hidden = done.length === 0;
    els.totalsSection.dataset.state = totals.state;
    const doubtful = done.filter((e) => !e.view.verification || e.view.verification.status !== "authentic").length;
    els.totalsWarning.hidden = doubtful === 0;
    els.totalsWarning.textContent = doubtful
      ? `진본으로 확인되지 않은 파일 ${doubtful}개의 자료도 합계와 내려받는 파일에 들어 있습니다. 결과 표의 진본 여부를 확인하세요.`
      : "";
    const data = totals.state === "ready" ? totals.data : null;
    els.totalsStatus.textContent = totals.state === "loading" ? "합계를 계산하는 중…"
      : totals.state === "error" ? `합계를 받지 못했습니다: ${totals.error}`
        : data && data.missing ? `파일 ${data.missing}개의 자료를 받지 못해 합계에서 빠졌습니다.` : "";
    // Rebuilt only for a new answer, so that the employees HR opened stay open.
    if (data === renderedTotals) return;
    renderedTotals = data;
    const cBody = els.categoryTotals.tBodies[0];
    cBody.replaceChildren();
    els.categoryTotals.tFoot.replaceChildren();
    els.employeeTotals.replaceChildren();
    if (!data) return;
    const groups = employeeGroups(data.people);
    employeeCount = groups.length;
    els.employeeTotals.append(...groups.map(employeeBlock));
    for (const y of data.years) {
      for (const c of y.categories) {
        const reduces = REDUCES[c.category];
        cBody.append(el("tr", { "data-category": c.category, "data-year": y.att_year || "", class: reduces ? "reduction" : null },
          el("td", { class: "year", text: y.att_year || "미상" }),
          el("th", { scope: "row", text: reduces ? `${c.label} (${REDUCES_NOTE[c.category]})` : c.label }),
          el("td", { class: "num count", text: won.format(c.items) }),
          el("td", { class: "num amount", text: amountText(c.category, c.amount) })));
      }
    }
  }

  function update() {
    const total = entries.length;
    const finished = entries.filter((e) => e.status === "done" || e.status === "error").length;
    const ok = entries.filter((e) => e.status === "done").length;
    const failed = entries.filter((e) => e.status === "error").length;
    els.progress.max = Math.max(total, 1);
    els.progress.value = finished;
    if (total === 0) {
      els.progressText.textContent = "아직 추가한 파일이 없습니다.";
    } else if (finished < total) {
      els.progressText.textContent = `${won.format(total)}개 중 ${won.format(finished)}개 처리함`;
    } else {
      els.progressText.textContent = `모두 처리함: ${won.format(total)}개 중 성공 ${won.format(ok)}개, 오류 ${won.format(failed)}개`;
    }
    const counts = { authentic: 0, suspect: 0 };
    for (const e of entries) {
      if (e.status !== "done") continue;
      const st = e.view.verification && e.view.verification.status;
      if (st === "authentic") counts.authentic += 1;
      else counts.suspect += 1; // tampered, unsigned, untrusted_issuer: one badge (STATUS_LABELS)
    }
    els.counts.textContent = ok
      ? `${STATUS_LABELS.authentic} ${counts.authentic}개 · ${STATUS_LABELS.unsigned} ${counts.suspect}개`
      : "";
    els.counts.hidden = !ok;
    const problems = entries.filter(isProblem).length;
    els.problemCount.textContent = finished ? `문제 있는 파일 ${won.format(problems)}개` : "";
    els.empty.hidden = total > 0;
    const busy = finished < total;
    for (const button of downloadButtons) button.disabled = ok === 0 || busy;
    if (!downloadButtons.length) loadFormats();
    els.clear.disabled = total === 0;
    renderTotals();
    refreshTotals();
  }

  // ---- downloads ----------------------------------------------------------------------------
  // The combined files come in two steps, so that any number of files fits the server's limits:
  // 1. each file's XML data part (POST /api/v1/extract, a few at a time, with the password that
  //    opened it; kept with the file, so the next download asks no more);
  // 2. one POST /api/v1/export with all the data parts (no PDF, no password), which writes the
  //    combined XLSX, CSV or JSON exactly as /batch would. A full-year data part is ~50 KB, a PDF
  //    ~800 KB: hundreds of documents fit in one request where /batch takes ~30.
  // JSON is shaped as /batch's answer: per file its name, verification (from this page's own check
  // of that file) and document. Resident numbers are masked unless the user asks otherwise.
  let downloading = false;

  async function downloadBatch(format) {
    if (downloading) return;
    const done = entries.filter((e) => e.status === "done");
    if (!done.length) return;
    downloading = true;
    const what = format.toUpperCase();
    const status = (text) => { els.downloadStatus.textContent = text; };
    try {
      let gathered = 0;
      const missed = [];
      status(`${what} 파일을 만드는 중… 자료 모으는 중 (${won.format(done.length)}개 중 0개)`);
      await eachLimited(done, async (e) => {
        try {
          await fetchXml(e);
        } catch (err) {
          if (err && err.name === "AbortError") return;  // removed from the page meanwhile
          missed.push({ entry: e, error: err && err.code ? err : failure("internal") });
        }
        gathered += 1;
        status(`${what} 파일을 만드는 중… 자료 모으는 중 (${won.format(done.length)}개 중 ${won.format(gathered)}개)`);
      });
      const parts = done.filter((e) => e.xml && entries.includes(e));
      if (!parts.length) throw failure("internal");
      status(`${what} 파일을 만드는 중… (문서 ${won.format(parts.length)}개)`);
      const fd = exportForm(parts, format, !els.fullResid.checked);
      const response = await withRetry(() => post("export", fd));
      let blob;
      if (format === "json") {
        const records = await response.json();
        const docs = records.documents || [];
        const files = parts.map((e, i) => ({
          file: e.name, ok: true, nts_code: 1, verification: e.view.verification,
          document: { ...docs[i], verification: e.view.verification },
        }));
        for (const m of missed) {
          files.push({ file: m.entry.name, ok: false, nts_code: null,
            error: { code: m.error.code, message_ko: m.error.message_ko } });
        }
        blob = new Blob([JSON.stringify({ files, ok: parts.length, failed: missed.length }, null, 1)],
          { type: "application/json" });
      } else {
        blob = await response.blob();
      }
      saveBlob(blob, `연말정산자료.${format}`);
      status(missed.length
        ? `${what} 파일을 내려받았습니다 (문서 ${won.format(parts.length)}개). 파일 ${won.format(missed.length)}개는 포함하지 못했습니다.`
        : `${what} 파일을 내려받았습니다 (문서 ${won.format(parts.length)}개).`);
    } catch (err) {
      status(`${what} 파일을 내려받지 못했습니다: ${(err && err.message_ko) || messageKo("internal")}`);
    } finally {
      downloading = false;
    }
  }

  async function downloadPdf(entry) {
    els.downloadStatus.textContent = `${entry.name}: 암호를 푼 PDF를 만드는 중…`;
    try {
      const response = await post("decrypt", formFor(entry));
      const blob = await response.blob();
      saveBlob(blob, `${baseName(entry.name.split("/").pop())}-암호해제.pdf`);
      els.downloadStatus.textContent = `${entry.name}: PDF를 내려받았습니다.`;
    } catch (err) {
      els.downloadStatus.textContent = `${entry.name}: 내려받지 못했습니다: ${(err && err.message_ko) || messageKo("network")}`;
    }
  }

  // ---- input: buttons, folder, drag and drop ------------------------------------------------
  els.togglePassword.addEventListener("click", () => {
    const show = els.password.type === "password";
    els.password.type = show ? "text" : "password";
    els.togglePassword.setAttribute("aria-pressed", show ? "true" : "false");
    els.togglePassword.textContent = show ? "비밀번호 숨기기" : "비밀번호 보기";
  });

  for (const input of [els.fileInput, els.folderInput]) {
    input.addEventListener("change", () => {
      addFiles(Array.from(input.files || []));
      input.value = "";
    });
  }

  els.onlyProblems.addEventListener("change", () => {
    for (const e of entries) applyFilter(e);
  });

  els.passwordFile.addEventListener("change", async () => {
    const file = els.passwordFile.files && els.passwordFile.files[0];
    els.passwordFile.value = "";
    if (!file) return;
    const got = readPasswordList(new Uint8Array(await file.arrayBuffer()));
    if (got.error) {
      els.passwordFileStatus.textContent = got.error;
      els.passwordFileStatus.dataset.state = "error";
      return;
    }
    passwordList = got.map;
    els.passwordFileStatus.dataset.state = "loaded";
    els.passwordFileStatus.textContent = `비밀번호 목록을 읽었습니다: 파일 ${won.format(got.map.size)}개. `
      + "목록에 없는 파일은 위의 비밀번호를 씁니다.";
    els.passwordFileClear.hidden = false;
    // Files that failed for a password and are in the list now: again, with the list's password.
    for (const e of entries) {
      if (e.status === "error" && PASSWORD_ERRORS.has(e.error && e.error.code) && listed(e)) {
        e.override = null;
        retry(e);
      }
    }
  });

  els.passwordFileClear.addEventListener("click", () => {
    passwordList = null;
    els.passwordFileStatus.textContent = "비밀번호 목록을 지웠습니다.";
    els.passwordFileStatus.dataset.state = "empty";
    els.passwordFileClear.hidden = true;
  });

  els.clear.addEventListener("click", () => {
    for (const e of entries) e.abort.abort();
    entries = [];
    deductionAnswers.clear();
    els.body.replaceChildren();
    els.downloadStatus.textContent = "모든 파일과 결과를 지웠습니다.";
    update();
  });

  // The download buttons: one per format of the server's registry (GET /api/v1/formats), the
  // first one primary, each with id "download-NAME", before "clear all".
  function loadFormats() {
    if (formatsLoading) return formatsLoading;
    formatsLoading = fetch(`${API}/formats`, { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("formats"))))
      .then((body) => {
        // XLSX is HR's file (the primary button); the others are for other programs.
        for (const f of body.formats || []) {
          const button = el("button", { type: "button", id: `download-${f.name}`, disabled: true,
            class: `button ${f.name === "xlsx" ? "primary" : "secondary"}`, text: `${f.label_ko} 내려받기`,
            onclick: () => downloadBatch(f.name) });
          els.clear.before(button);
          downloadButtons.push(button);
        }
        update();
      })
      .catch(() => { formatsLoading = null; });
    return formatsLoading;
  }
  loadFormats();

  // Files from a drop: plain files, and every PDF inside dropped folders.
  function readEntries(dirEntry) {
    const reader = dirEntry.createReader();
    return new Promise((resolve) => {
      const all = [];
      const next = () => reader.readEntries((batch) => {
        if (!batch.length) resolve(all);
        else { all.push(...batch); next(); }
      }, () => resolve(all));
      next();
    });
  }

  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      const file = await new Promise((resolve) => entry.file(resolve, () => resolve(null)));
      if (file) {
        if (prefix) file.relativePath = prefix + file.name;
        out.push(file);
      }
    } else if (entry.isDirectory) {
      for (const child of await readEntries(entry)) await walk(child, `${prefix}${entry.name}/`, out);
    }
  }

  async function filesFromDrop(dt) {
    const items = Array.from(dt.items || []);
    const fsEntries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (fsEntries.length && fsEntries.every(Boolean)) {
      const out = [];
      for (const e of fsEntries) await walk(e, "", out);
      return out;
    }
    return Array.from(dt.files || []);
  }

  let dragDepth = 0;
  document.addEventListener("dragenter", (ev) => {
    ev.preventDefault();
    dragDepth += 1;
    els.dropzone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) els.dropzone.classList.remove("dragging");
  });
  // A PDF dropped anywhere on the page is taken, so the browser never navigates away from the results.
  document.addEventListener("dragover", (ev) => { ev.preventDefault(); });
  document.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    dragDepth = 0;
    els.dropzone.classList.remove("dragging");
    if (ev.dataTransfer) addFiles(await filesFromDrop(ev.dataTransfer));
  });

  window.addEventListener("beforeunload", (ev) => {
    if (entries.length) { ev.preventDefault(); ev.returnValue = ""; }
  });

  update();
})();
