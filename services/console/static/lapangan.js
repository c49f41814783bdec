// Field forms that never lose what was typed: every form[data-kirim] keeps a draft on the
// phone while it is typed, and on submit goes into the phone's queue with a key of its own.
// The queue is sent now and again whenever the connection returns; the key travels as
// Idempotency-Key, so a form sent twice (an answer lost on the way) is applied once.
(function () {
  "use strict";
  // Each user's own queue and drafts: on a phone two RTs share, one never sends the other's.
  var USER = document.body.dataset.pengguna || "";
  var QUEUE = "sinergi-antrean:" + USER;
  var status = document.getElementById("antrean-status");

  function load(name, fallback) {
    try { return JSON.parse(localStorage.getItem(name)) || fallback; } catch (e) { return fallback; }
  }
  function save(name, value) { localStorage.setItem(name, JSON.stringify(value)); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }
  function show() {
    var pending = load(QUEUE, []).length;
    if (status) {
      status.textContent = pending ? pending + " formulir tersimpan di ponsel, menunggu sinyal"
                                   : "Semua formulir terkirim";
      status.dataset.pending = String(pending);
    }
  }
  function result(formId, text, ok, link) {
    var box = document.querySelector('[data-hasil="' + formId + '"]');
    if (!box) { return; }
    box.textContent = text;
    box.className = ok ? "hasil ok" : "hasil error";
    if (link) {
      var a = document.createElement("a");
      a.href = link.href; a.textContent = link.text;
      box.appendChild(document.createTextNode(" ")); box.appendChild(a);
    }
  }
  function described(answer) {
    if (answer && answer.errors) {
      return answer.errors.map(function (e) { return e.pesan; }).join("; ");
    }
    return (answer && answer.pesan) || "ditolak";
  }
  function fields(form) {
    var body = {}, route = form.dataset.kirim;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "submit") { return; }
      if (route.indexOf("{" + el.name + "}") >= 0) {
        route = route.replace("{" + el.name + "}", el.value); return;
      }
      var dot = el.name.indexOf(".");
      if (dot > 0) {  // "answers.<id>": one object of answers
        var parent = el.name.slice(0, dot);
        body[parent] = body[parent] || {};
        body[parent][el.name.slice(dot + 1)] = el.type === "checkbox" ? el.checked : el.value;
        return;
      }
      if (el.type === "checkbox") { body[el.name] = el.checked; return; }
      if (el.value === "") { return; }
      if (el.dataset.type === "number") { body[el.name] = Number(el.value.replace(",", ".")); return; }
      if (el.dataset.type === "lines") {
        body[el.name] = el.value.split("\n").map(function (s) { return s.trim(); })
          .filter(function (s) { return s; });
        return;
      }
      body[el.name] = el.value;
    });
    return { route: route, body: body };
  }
  function draftName(form) {
    return "sinergi-draf:" + USER + ":" + location.pathname + ":" + form.id;
  }

  var sending = false;
  function sendAll() {
    if (sending) { return; }
    var queue = load(QUEUE, []);
    if (!queue.length) { show(); return; }
    sending = true;
    var entry = queue[0];
    fetch("/lapangan/kirim/" + entry.route, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Idempotency-Key": entry.key },
      body: JSON.stringify(entry.body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        var rest = load(QUEUE, []).filter(function (e) { return e.key !== entry.key; });
        if (response.ok) {
          save(QUEUE, rest);
          localStorage.removeItem(entry.draft);
          done(entry, answer);
          return true;
        }
        if (response.status >= 400 && response.status < 500 &&
            [401, 408, 409, 429].indexOf(response.status) < 0) {
          save(QUEUE, rest);  // refused as it is: the draft stays for correcting
          result(entry.form, "Ditolak: " + described(answer), false);
          return true;
        }
        return false;  // not now: it stays queued
      });
    }).catch(function () { return false; }).then(function (progressed) {
      sending = false;
      show();
      if (progressed && load(QUEUE, []).length) { sendAll(); }
    });
  }
  function done(entry, answer) {
    var form = document.getElementById(entry.form);
    if (form && location.pathname === entry.page) { form.reset(); }
    if (answer && answer.hfa_category !== undefined) {
      var z = answer.hfa_z === null ? "–" : answer.hfa_z.toFixed(2);
      result(entry.form, "Terkirim. TB/U z = " + z + ", kategori: " +
             String(answer.hfa_category || "tidak dinilai").replace("_", " "), true);
    } else if (answer && answer.criteria_met !== undefined) {
      result(entry.form, "Terkirim. Status: " + String(answer.status).replace("_", " ") +
             "; kriteria terpenuhi: " + answer.criteria_met.length, true);
    } else if (entry.route === "households" && answer && answer.id) {
      result(entry.form, "Terkirim.", true,
             { href: "/lapangan/rumah-tangga/" + answer.id, text: "Tambah anggota" });
    } else {
      result(entry.form, "Terkirim.", true);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-kirim]"), function (form) {
    var draft = load(draftName(form), null);
    if (draft) {
      Object.keys(draft).forEach(function (name) {
        var el = form.elements[name];
        if (el && el.type !== "checkbox") { el.value = draft[name]; }
        else if (el) { el.checked = draft[name]; }
      });
    }
    form.addEventListener("input", function () {
      var values = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name) { values[el.name] = el.type === "checkbox" ? el.checked : el.value; }
      });
      save(draftName(form), values);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var sent = fields(form);
      var queue = load(QUEUE, []);
      queue.push({ key: newKey(), route: sent.route, body: sent.body, form: form.id,
                   page: location.pathname, draft: draftName(form) });
      save(QUEUE, queue);
      result(form.id, "Tersimpan di ponsel, sedang dikirim…", true);
      show();
      sendAll();
    });
  });
  window.addEventListener("online", sendAll);
  setInterval(sendAll, 10000);
  show();
  sendAll();
}());
