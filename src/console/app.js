// The hotline console: a client of the public REST API only (docs/console.md). No framework and
// no build step: this file is the source, embedded in the binary and served under /console/.
// Only the session's tokens are kept in the browser (sessionStorage); no personal data goes
// into URLs or storage.
import { zh, en } from "/console/i18n.js";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
let lang = sessionStorage.getItem("lang") || "zh";
const t = (k) => (lang === "zh" ? zh : en)[k] || k;
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// --- session and API -------------------------------------------------------------------------
let session = JSON.parse(sessionStorage.getItem("session") || "null");
const save = () => sessionStorage.setItem("session", JSON.stringify(session));

async function refresh() {
  const res = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  });
  if (!res.ok) return false;
  const pair = await res.json();
  session.access = pair.access_token;
  session.refresh = pair.refresh_token;
  save();
  return true;
}

async function api(method, path, body, headers = {}) {
  const go = () =>
    fetch(path, {
      method,
      headers: {
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(session ? { Authorization: `Bearer ${session.access}` } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  let res = await go();
  if (res.status === 401 && session && (await refresh())) res = await go();
  if (res.status === 401) {
    session = null;
    sessionStorage.removeItem("session");
    location.hash = "#/login";
    throw new Error("signed out");
  }
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.blob();
  if (!res.ok) throw new Error(data.message || res.statusText);
  return data;
}

function toast(msg) {
  const el = $("#toast");
  el.textContent = msg;
  el.classList.add("show");
  setTimeout(() => el.classList.remove("show"), 2500);
}

const has = (...roles) => session?.me?.roles?.some((r) => roles.includes(r));
const isDept = () => has("department_staff", "department_admin");

// --- navigation ------------------------------------------------------------------------------
function nav() {
  const links = [];
  if (has("operator", "dispatcher", "admin")) links.push(["#/desk", t("desk")]);
  if (has("dispatcher", "admin")) links.push(["#/dispatch", t("dispatch")]);
  if (has("operator", "dispatcher", "supervisor", "admin")) links.push(["#/callbacks", t("callbacks")]);
  if (isDept()) links.push(["#/queue/to_sign", t("queue")]);
  if (has("supervisor", "admin")) links.push(["#/dashboard", t("dashboard")]);
  $("#nav").innerHTML = links
    .map(([h, l]) => `<a href="${h}" class="${location.hash.startsWith(h.split("/").slice(0, 2).join("/")) ? "on" : ""}">${esc(l)}</a>`)
    .join("");
  $("#who").textContent = session ? `${session.me.display_name} (${session.me.roles.join(", ")})` : "";
  $("#logout").hidden = !session;
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((el) => (el.textContent = t(el.dataset.t)));
}

$("#lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  sessionStorage.setItem("lang", lang);
  route();
});
$("#logout").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout", {}); } catch (_) { /* signed out anyway */ }
  session = null;
  sessionStorage.removeItem("session");
  location.hash = "#/login";
});

function home() {
  if (has("supervisor")) return "#/dashboard";
  if (isDept()) return "#/queue/to_sign";
  if (has("dispatcher")) return "#/dispatch";
  return "#/desk";
}

// --- pages -----------------------------------------------------------------------------------
async function loginPage() {
  main.innerHTML = `<div class="card narrow">
    <h1>${t("login")}</h1>
    <form id="login-form">
      <label for="u">${t("username")}</label><input id="u" name="username" autocomplete="username" required>
      <label for="p">${t("password")}</label><input id="p" name="password" type="password" autocomplete="current-password" required>
      <button class="primary" type="submit" id="login-submit">${t("login")}</button>
      <p class="err" id="login-error"></p>
    </form></div>`;
  $("#u").focus();
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("#u").value, password: $("#p").value }),
    });
    if (!res.ok) { $("#login-error").textContent = t("bad_login"); return; }
    const pair = await res.json();
    session = { access: pair.access_token, refresh: pair.refresh_token };
    session.me = await api("GET", "/api/v1/me");
    save();
    location.hash = home();
  });
}

function deadlineCell(ticket) {
  const open = (ticket.deadlines || []).filter((d) => !d.completed_at);
  if (!open.length) return `<span class="muted">—</span>`;
  const d = open[0];
  const mins = d.remaining_minutes;
  const left = mins == null ? "" : ` ${mins < 0 ? "-" : ""}${Math.floor(Math.abs(mins) / 60)}h${Math.abs(mins) % 60}${t("minutes")}`;
  return `<span class="state-${esc(d.state)}" data-state="${esc(d.state)}">${esc(t(d.state || "on_track"))}</span> ${esc(d.step)}${esc(left)}`;
}

function ticketTable(items, id = "tickets") {
  if (!items.length) return `<p class="muted" id="${id}-empty">${t("none")}</p>`;
  return `<table id="${id}"><thead><tr><th>${t("number")}</th><th>${t("title")}</th><th>${t("status")}</th><th>${t("department")}</th><th>${t("due")}</th></tr></thead><tbody>
    ${items.map((x) => `<tr data-number="${esc(x.number)}"><td><a href="#/ticket/${esc(x.id)}">${esc(x.number)}</a></td><td>${esc(x.title)}</td><td>${esc(x.status)}</td><td>${esc(x.lead_department_name || "")}</td><td>${deadlineCell(x)}</td></tr>`).join("")}
  </tbody></table>`;
}

async function deskPage() {
  const [regions, categories] = await Promise.all([
    api("GET", "/api/v1/regions?level=village&limit=500"),
    api("GET", "/api/v1/categories?limit=500&active=true"),
  ]);
  const leaves = categories.items.filter((c) => c.parent_id);
  main.innerHTML = `<h1>${t("desk")}</h1><div class="cols">
    <form class="card" id="intake">
      <label for="caller">${t("caller")}</label><input id="caller" inputmode="tel" autocomplete="off">
      <label for="region">${t("region")}</label><select id="region">${regions.items.map((r) => `<option value="${esc(r.id)}">${esc(r.name)}</option>`).join("")}</select>
      <label for="category">${t("category")}</label><select id="category">${leaves.map((c) => `<option value="${esc(c.id)}">${esc(c.name)}</option>`).join("")}</select>
      <div id="attributes"></div>
      <label for="title">${t("title")}</label><input id="title" required maxlength="200">
      <label for="description">${t("description")}</label><textarea id="description" required maxlength="4000"></textarea>
      <label for="cname">${t("citizen_name")}</label><input id="cname" autocomplete="off">
      <label for="cphone">${t("citizen_phone")}</label><input id="cphone" inputmode="tel" autocomplete="off">
      <button class="primary" type="submit" id="take-in">${t("take_in")}</button>
      <p class="err" id="intake-error"></p>
    </form>
    <div><div class="card"><h2>${t("routing")}</h2><div id="routing" class="muted">—</div></div>
      <div class="card"><h2>${t("similar")}</h2><div id="similar" class="muted">—</div></div>
      <div class="card" id="result" hidden></div></div></div>`;
  $("#caller").focus();
  $("#caller").addEventListener("change", () => { if (!$("#cphone").value) $("#cphone").value = $("#caller").value; });
  const preview = async () => {
    const body = { category_id: $("#category").value, region_id: $("#region").value, text: `${$("#title").value} ${$("#description").value}` };
    try {
      const r = await api("POST", "/api/v1/routing/preview", body);
      const c = r.candidates[0];
      $("#routing").innerHTML = c ? `<b id="routing-department">${esc(c.department?.name || "")}</b><br><span class="muted">${esc(c.reason || "")}</span>` : t("none");
      const s = await api("GET", `/api/v1/tickets/similar?category_id=${encodeURIComponent(body.category_id)}&region_id=${encodeURIComponent(body.region_id)}&limit=5`);
      $("#similar").innerHTML = s.items.length ? s.items.map((x) => `<div><a href="#/ticket/${esc(x.id)}">${esc(x.number)}</a> ${esc(x.title)}</div>`).join("") : t("none");
    } catch (e) { $("#routing").textContent = e.message; }
    const cat = leaves.find((c) => c.id === $("#category").value);
    $("#attributes").innerHTML = (cat?.attributes || []).filter((a) => a.variable !== false).map((a) =>
      `<label for="attr-${esc(a.code)}">${esc(a.description)}${a.required ? " *" : ""}</label>` +
      (a.values?.length ? `<select id="attr-${esc(a.code)}" data-code="${esc(a.code)}" data-type="${esc(a.datatype)}">${a.values.map((v) => `<option value="${esc(v.key)}">${esc(v.name)}</option>`).join("")}</select>`
        : `<input id="attr-${esc(a.code)}" data-code="${esc(a.code)}" data-type="${esc(a.datatype)}">`)).join("");
  };
  ["region", "category"].forEach((id) => $(`#${id}`).addEventListener("change", preview));
  $("#description").addEventListener("blur", preview);
  await preview();
  $("#intake").addEventListener("submit", async (e) => {
    e.preventDefault();
    const attributes = {};
    document.querySelectorAll("#attributes [data-code]").forEach((el) => {
      if (el.value) attributes[el.dataset.code] = el.dataset.type === "number" ? Number(el.value) : el.value;
    });
    const body = {
      category_id: $("#category").value, region_id: $("#region").value, title: $("#title").value,
      description: $("#description").value, attributes,
      citizen: { name: $("#cname").value || undefined, phone: $("#cphone").value || undefined },
      call: $("#caller").value ? { caller_number: $("#caller").value } : undefined,
    };
    try {
      const ticket = await api("POST", "/api/v1/tickets", body);
      const r = $("#result");
      r.hidden = false;
      r.innerHTML = `<h2>${t("created")}: <span id="created-number">${esc(ticket.number)}</span></h2>
        ${ticket.allowed_actions.includes("dispatch") ? `<button class="act" id="dispatch-now">${t("dispatch_now")} ${esc($("#routing-department")?.textContent || "")}</button>` : ""}
        <a href="#/ticket/${esc(ticket.id)}">${t("ticket")}</a>`;
      $("#dispatch-now")?.addEventListener("click", async () => {
        const done = await api("POST", `/api/v1/tickets/${ticket.id}/dispatch`, {}, { "If-Match": `"${ticket.version}"` });
        r.insertAdjacentHTML("beforeend", `<p id="dispatched">${esc(done.status)} → ${esc(done.lead_department_name)}</p>`);
      });
      toast(t("created"));
    } catch (err) { $("#intake-error").textContent = err.message; }
  });
}

async function listPage(title, path, id) {
  const page = await api("GET", path);
  main.innerHTML = `<h1>${esc(title)}</h1>${ticketTable(page.items, id)}`;
}

async function queuePage(which) {
  const tabs = ["to_sign", "in_progress", "returned"]
    .map((q) => `<a href="#/queue/${q}" class="${q === which ? "on" : ""}">${t(q)}</a>`).join("");
  const page = await api("GET", `/api/v1/tickets?queue=${which}&order=due&limit=100`).catch(() => api("GET", `/api/v1/tickets?queue=${which}&limit=100`));
  main.innerHTML = `<h1>${t("queue")}</h1><p class="tabs">${tabs}</p>${ticketTable(page.items, "queue")}`;
}

const ACTION_FIELDS = { reply: "reply", direct_answer: "reply", return: "reason", redo: "reason", cancel: "reason", close: "reason", note: "text", public_note: "text", contribute: "text" };

async function ticketPage(id) {
  const [ticket, events, files] = await Promise.all([
    api("GET", `/api/v1/tickets/${id}`),
    api("GET", `/api/v1/tickets/${id}/events`),
    api("GET", `/api/v1/tickets/${id}/attachments`).catch(() => []),
  ]);
  const actions = ticket.allowed_actions.filter((a) => a !== "dispatch" || has("dispatcher", "admin"));
  main.innerHTML = `<h1>${t("ticket")} <span id="ticket-number">${esc(ticket.number)}</span> · <span id="ticket-status">${esc(ticket.status)}</span></h1>
    <div class="cols"><div>
      <div class="card"><h2>${esc(ticket.title)}</h2><p>${esc(ticket.description)}</p>
        <p class="muted">${t("citizen_name")}: ${esc(ticket.citizen?.name || "—")} · ${t("citizen_phone")}: ${esc(ticket.citizen?.phone || "—")}</p>
        <p>${t("department")}: ${esc(ticket.lead_department_name || "—")} · ${t("due")}: ${deadlineCell(ticket)}</p>
        ${ticket.reply ? `<p><b>${t("reply_text")}:</b> <span id="ticket-reply">${esc(ticket.reply)}</span></p>` : ""}</div>
      <div class="card"><h2>${t("attachments")}</h2><div id="photos">${files.length ? "" : t("none")}</div></div>
      <div class="card"><h2>${t("events")}</h2><ol class="events">${events.items.map((e) => `<li>${esc(new Date(e.created_at).toLocaleString())} · <b>${esc(e.action)}</b> ${esc(e.actor_name || "")} → ${esc(e.to_status)}</li>`).join("")}</ol></div>
    </div><div class="card"><h2>${t("actions")}</h2><div id="actions">${actions.length ? actions.map((a) => {
      const field = ACTION_FIELDS[a];
      return `<form class="action" data-action="${esc(a)}">${field ? `<label for="f-${esc(a)}">${t(field === "reply" ? "reply_text" : "reason")}</label><textarea id="f-${esc(a)}" required></textarea>` : ""}<button class="act" type="submit" id="do-${esc(a)}">${esc(a)}</button></form>`;
    }).join("") : t("none")}</div>
    <button class="act secondary" id="reveal" type="button">${t("reveal")}</button><p id="revealed"></p></div></div>`;
  for (const f of files) {
    if (!f.content_type.startsWith("image/")) { $("#photos").insertAdjacentHTML("beforeend", `<div>${esc(f.filename)}</div>`); continue; }
    const blob = await api("GET", `/api/v1/tickets/${id}/attachments/${f.id}`);
    const img = document.createElement("img");
    img.className = "photo"; img.alt = f.filename; img.src = URL.createObjectURL(blob);
    $("#photos").append(img);
  }
  document.querySelectorAll("form.action").forEach((form) => form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = form.dataset.action;
    const field = ACTION_FIELDS[action];
    const body = field ? { [field]: form.querySelector("textarea").value } : {};
    try {
      await api("POST", `/api/v1/tickets/${id}/${action}`, body, { "If-Match": `"${ticket.version}"` });
      toast(t("saved"));
      await ticketPage(id);
    } catch (err) { toast(err.message); }
  }));
  $("#reveal").addEventListener("click", async () => {
    const reason = prompt(t("reason"));
    if (!reason) return;
    try {
      const c = await api("POST", `/api/v1/tickets/${id}/reveal`, { reason });
      $("#revealed").textContent = `${c.citizen_name || ""} ${c.citizen_phone || ""}`;
    } catch (err) { toast(err.message); }
  });
}

async function callbacksPage() {
  const page = await api("GET", "/api/v1/callbacks?limit=100");
  main.innerHTML = `<h1>${t("callbacks")}</h1>${page.items.length ? `<table id="callbacks"><thead><tr><th>${t("number")}</th><th>${t("title")}</th><th>${t("due")}</th><th></th></tr></thead><tbody>
    ${page.items.map((c) => `<tr data-number="${esc(c.number)}"><td><a href="#/ticket/${esc(c.ticket_id)}">${esc(c.number)}</a></td><td>${esc(c.title)}</td>
      <td><span class="state-${esc(c.due_state)}">${esc(t(c.due_state || "on_track"))}</span></td>
      <td><form class="cb" data-id="${esc(c.id)}">
        <button class="act" type="button" data-claim="${esc(c.id)}">${t("claim")}</button>
        <label>${t("outcome")}<select name="outcome"><option value="reached">reached</option><option value="no_answer">no_answer</option><option value="busy">busy</option><option value="wrong_number">wrong_number</option><option value="refused">refused</option></select></label>
        <label>${t("satisfaction")}<select name="satisfaction"><option value="satisfied">满意 satisfied</option><option value="basically_satisfied">基本满意 basically</option><option value="dissatisfied">不满意 dissatisfied</option></select></label>
        <label>${t("resolved")}<select name="resolved"><option value="true">${t("yes")}</option><option value="false">${t("no")}</option></select></label>
        <button class="act" type="submit">${t("record")}</button></form></td></tr>`).join("")}</tbody></table>` : `<p class="muted" id="callbacks-empty">${t("none")}</p>`}`;
  document.querySelectorAll("[data-claim]").forEach((b) => b.addEventListener("click", async () => {
    try { await api("POST", `/api/v1/callbacks/${b.dataset.claim}/claim`, {}); toast(t("saved")); } catch (e) { toast(e.message); }
  }));
  document.querySelectorAll("form.cb").forEach((f) => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const outcome = f.outcome.value;
    const body = { channel: "phone", outcome };
    if (outcome === "reached") { body.satisfaction = f.satisfaction.value; body.resolved = f.resolved.value === "true"; }
    try {
      await api("POST", `/api/v1/callbacks/${f.dataset.id}/claim`, {}).catch(() => null);
      await api("POST", `/api/v1/callbacks/${f.dataset.id}/attempts`, body);
      toast(t("saved"));
      await callbacksPage();
    } catch (err) { toast(err.message); }
  }));
}

// a bar chart drawn as SVG: no chart library
function bars(points) {
  const w = 640, h = 160, max = Math.max(1, ...points.map((p) => p.created));
  const bw = Math.max(2, Math.floor(w / Math.max(1, points.length)) - 2);
  return `<svg width="${w}" height="${h + 20}" role="img" aria-label="${t("indicators")}">${points.map((p, i) => {
    const bh = Math.round((p.created / max) * h);
    return `<rect x="${i * (bw + 2)}" y="${h - bh}" width="${bw}" height="${bh}" fill="#1c6fb8"><title>${esc(p.bucket)}: ${p.created}</title></rect>`;
  }).join("")}<text x="0" y="${h + 14}">${esc(points[0]?.bucket || "")}</text><text x="${w - 80}" y="${h + 14}">${esc(points.at(-1)?.bucket || "")}</text></svg>`;
}

const pct = (r) => (r && r.denominator ? `${((100 * r.numerator) / r.denominator).toFixed(1)}%` : "—");

async function dashboardPage() {
  // periods are calendar dates where the hotline works: the browser's own date (en-CA writes
  // YYYY-MM-DD), not UTC's, which is a day behind in China from 00:00 to 08:00
  const localDate = (d) => d.toLocaleDateString("en-CA");
  const today = new Date();
  const from = sessionStorage.getItem("from") || localDate(new Date(today.getTime() - 29 * 864e5));
  const to = sessionStorage.getItem("to") || localDate(today);
  const [overdue, ind, audit, hot, flags] = await Promise.all([
    api("GET", "/api/v1/tickets/overdue-summary"),
    api("GET", `/api/v1/stats/indicators?from=${from}&to=${to}`),
    api("GET", `/api/v1/stats/callback-audit?from=${from}&to=${to}`),
    api("GET", "/api/v1/hotspots"),
    api("GET", "/api/v1/supervision"),
  ]);
  const r = ind.rates;
  main.innerHTML = `<h1>${t("dashboard")}</h1>
    <form class="card" id="period"><label for="from">${t("period_from")}</label><input id="from" type="date" value="${from}">
      <label for="to">${t("period_to")}</label><input id="to" type="date" value="${to}"><button class="primary">${t("refresh")}</button></form>
    <div class="card" id="kpis">
      <span class="kpi">${t("total")}<b id="kpi-total">${ind.volume.total}</b></span>
      <span class="kpi">${t("sign_on_time")}<b>${pct(r.sign_on_time)}</b></span>
      <span class="kpi">${t("on_time_completion")}<b>${pct(r.on_time_completion)}</b></span>
      <span class="kpi">${t("satisfaction_rate")}<b id="kpi-satisfaction">${pct(r.satisfaction)}</b></span>
      <span class="kpi">${t("resolution")}<b>${pct(r.resolution)}</b></span>
      ${bars(ind.series)}</div>
    <div class="cols"><div class="card"><h2>${t("overdue")} / ${t("soon")}</h2><table id="overdue"><tbody>${(overdue.items || overdue).map((o) => `<tr><td>${esc(o.department_name || o.department_id || "")}</td><td class="state-red">${o.overdue ?? ""}</td><td class="state-yellow">${o.due_soon ?? ""}</td></tr>`).join("") || `<tr><td>${t("none")}</td></tr>`}</tbody></table></div>
      <div class="card"><h2>${t("audit")}</h2><table><thead><tr><th>${t("operator")}</th><th>${t("due_callbacks")}</th><th>${t("done_in_time")}</th><th>${t("late")}</th></tr></thead><tbody>${(audit.operators || []).map((o) => `<tr><td>${esc(o.name || o.key || "")}</td><td>${o.due}</td><td>${o.in_time}</td><td>${o.late}</td></tr>`).join("")}</tbody></table></div></div>
    <div class="cols"><div class="card"><h2>${t("hotspots")}</h2>${(hot.items || hot).map((h) => `<div>${esc(h.category_name || h.category_id)} · ${esc(h.region_name || h.region_id)} · ${h.ticket_count}</div>`).join("") || t("none")}</div>
      <div class="card"><h2>${t("flags")}</h2>${(flags.items || flags).map((f) => `<div>${esc(f.level)} · ${esc(f.instruction)}</div>`).join("") || t("none")}</div></div>
    <div class="card"><h2>${t("export")}</h2><button class="act" id="export" type="button">${t("export")} ${to.slice(0, 7)}</button> <span id="export-progress"></span></div>`;
  $("#period").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("from", $("#from").value);
    sessionStorage.setItem("to", $("#to").value);
    dashboardPage();
  });
  $("#export").addEventListener("click", async () => {
    let job = await api("POST", "/api/v1/stats/exports", { period: to.slice(0, 7), format: "xlsx" });
    while (job.state === "queued" || job.state === "running") {
      $("#export-progress").textContent = `${t("progress")} ${Math.round(job.progress * 100)}%`;
      await new Promise((r) => setTimeout(r, 500));
      job = await api("GET", `/api/v1/stats/exports/${job.id}`);
    }
    if (job.state !== "done") { $("#export-progress").textContent = job.error || job.state; return; }
    const blob = await api("GET", job.download);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = job.file_name; a.textContent = `${t("download")} ${job.file_name}`; a.id = "export-link";
    $("#export-progress").replaceChildren(a);
  });
}

// --- router ----------------------------------------------------------------------------------
async function route() {
  const hash = location.hash || "#/";
  if (!session && hash !== "#/login") { location.hash = "#/login"; return; }
  nav();
  main.innerHTML = `<p class="muted">${t("loading")}</p>`;
  const [, page, arg] = hash.split("/");
  try {
    if (page === "login") await loginPage();
    else if (page === "desk") await deskPage();
    else if (page === "dispatch") await listPage(t("dispatch"), "/api/v1/tickets?queue=dispatch&limit=100", "dispatch-queue");
    else if (page === "queue") await queuePage(arg || "to_sign");
    else if (page === "ticket") await ticketPage(arg);
    else if (page === "callbacks") await callbacksPage();
    else if (page === "dashboard") await dashboardPage();
    else location.hash = home();
  } catch (err) {
    if (err.message !== "signed out") main.innerHTML = `<p class="err">${esc(err.message)}</p>`;
  }
  main.focus();
}
addEventListener("hashchange", route);
route();
